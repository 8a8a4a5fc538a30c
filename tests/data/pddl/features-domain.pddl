; A small domain exercising every supported PDDL feature (used by tests/test_plan_catalogue.py).
(define (domain Features)
  (:requirements :strips :typing :negative-preconditions :equality :disjunctive-preconditions
                 :existential-preconditions :universal-preconditions :conditional-effects)
  (:types room item robot - object
          box ball - item)
  (:constants Hall - room)
  (:predicates (at ?r - robot ?x - room) (in ?i - item ?x - room) (holding ?r - robot ?i - item)
               (free ?r - robot) (lit ?x - room) (door ?x ?y - room))
  ; held items move with the robot: a conditional effect under forall
  (:action MOVE
    :parameters (?r - robot ?from ?to - room)
    :precondition (and (at ?r ?from) (not (= ?from ?to)) (or (door ?from ?to) (door ?to ?from)))
    :effect (and (not (at ?r ?from)) (at ?r ?to)
                 (forall (?i - item)
                   (when (holding ?r ?i) (and (not (in ?i ?from)) (in ?i ?to))))))
  (:action pick
    :parameters (?r - robot ?i - (either box ball) ?x - room)
    :precondition (and (at ?r ?x) (in ?i ?x) (free ?r) (lit ?x))
    :effect (and (holding ?r ?i) (not (free ?r))))
  (:action drop
    :parameters (?r - robot ?i - item ?x - room)
    :precondition (and (at ?r ?x) (holding ?r ?i))
    :effect (and (not (holding ?r ?i)) (free ?r)))
  ; quantified preconditions and a constant
  (:action light-all
    :parameters (?r - robot)
    :precondition (and (at ?r hall) (exists (?x - room) (not (lit ?x)))
                       (forall (?i - item) (not (holding ?r ?i))))
    :effect (forall (?x - room) (lit ?x)))
  ; conditions are read in the state before the step: this toggles the light
  (:action flip
    :parameters (?r - robot ?x - room)
    :precondition (at ?r ?x)
    :effect (and (when (lit ?x) (not (lit ?x))) (when (not (lit ?x)) (lit ?x))))
  ; deletes before adds: (free ?r) stays true
  (:action touch
    :parameters (?r - robot)
    :precondition (imply (at ?r hall) (free ?r))
    :effect (and (not (free ?r)) (free ?r))))
