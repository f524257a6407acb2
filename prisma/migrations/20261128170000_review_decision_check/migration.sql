-- Hand-written, like the vocabulary checks before it: review_decision holds REVIEW_DECISIONS of
-- src/domain/evaluation.ts (test/db/vocabulary.test.ts keeps the two lists equal).
-- A missing decision (no review) stays allowed.

-- AddCheckConstraint
ALTER TABLE "evaluations"
    ADD CONSTRAINT "evaluations_review_decision_check" CHECK ("review_decision" IN ('approved', 'rejected', 'timed_out'));
