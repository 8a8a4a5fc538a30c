(define (problem features-1) (:domain features)
  (:objects kitchen - room box1 - box ball1 - ball r1 - robot)
  (:init (at r1 hall) (free r1) (in box1 hall) (in ball1 hall) (door hall kitchen) (lit kitchen))
  (:goal (and (in ball1 kitchen) (in box1 hall) (at r1 kitchen) (not (holding r1 ball1)))))
