(define (problem log-1)
  (:domain logistics-typed)
  (:objects p1 - package t1 t2 - truck a1 - airplane
            c1 c2 - city l1 - location ap1 ap2 - airport)
  (:init (in-city l1 c1) (in-city ap1 c1) (in-city ap2 c2)
         (at p1 l1) (at t1 l1) (at t2 ap2) (at a1 ap1))
  (:goal (at p1 ap2)))
