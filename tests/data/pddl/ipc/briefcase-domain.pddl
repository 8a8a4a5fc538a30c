; IPC-style briefcase world (ADL): conditional effects inside forall, equality, constants.
(define (domain briefcase)
  (:requirements :adl)
  (:types portable location)
  (:constants bc - portable)
  (:predicates (at ?y - portable ?x - location) (in ?x - portable) (is-at ?x - location))
  (:action move
    :parameters (?m ?l - location)
    :precondition (and (is-at ?m) (not (= ?m ?l)))
    :effect (and (is-at ?l) (not (is-at ?m))
                 (forall (?x - portable)
                   (when (or (= ?x bc) (in ?x))
                         (and (at ?x ?l) (not (at ?x ?m)))))))
  (:action take-out
    :parameters (?x - portable)
    :precondition (and (in ?x) (not (= ?x bc)))
    :effect (not (in ?x)))
  (:action put-in
    :parameters (?x - portable ?l - location)
    :precondition (and (not (in ?x)) (at ?x ?l) (is-at ?l) (not (= ?x bc)))
    :effect (in ?x)))
