-- Hand-written: the Prisma schema language cannot express CHECK constraints, and its diff ignores
-- them, so `npm run migrate:new` neither writes nor drops these.
--
-- The product vocabulary (STATUSES, LANGUAGES, VERDICTS, EVENT_TYPES in src/domain/evaluation.ts)
-- enforced by PostgreSQL, so no writer (a script, a hand-run UPDATE, a future code path) can store
-- a value the service cannot read back. test/db/vocabulary.test.ts fails when a list here and its
-- constant differ.
--
-- CHECK constraints rather than enum types: the columns stay text, so the constants remain the one
-- list the code reads. Widening a list (a new language) is then one transactional statement in a
-- new migration, dropping and re-adding the constraint under the same name, as in
--   ALTER TABLE "evaluations" DROP CONSTRAINT "evaluations_language_check",
--     ADD CONSTRAINT "evaluations_language_check" CHECK ("language" IN (<every language>))
-- and removing or renaming a value is the same statement, where an enum type has to be rebuilt.
-- (No semicolons in these comments: the migration engine splits scripts on them.)

-- AddCheckConstraint
ALTER TABLE "evaluations"
    ADD CONSTRAINT "evaluations_status_check" CHECK ("status" IN ('queued', 'scanning', 'awaiting_review', 'running', 'completed', 'blocked', 'rejected', 'cancelled', 'failed')),
    ADD CONSTRAINT "evaluations_language_check" CHECK ("language" IN ('python', 'javascript')),
    ADD CONSTRAINT "evaluations_verdict_check" CHECK ("verdict" IN ('accepted', 'wrong_answer', 'runtime_error', 'time_limit_exceeded', 'memory_limit_exceeded', 'output_limit_exceeded'));

-- AddCheckConstraint
ALTER TABLE "evaluation_events"
    ADD CONSTRAINT "evaluation_events_type_check" CHECK ("type" IN ('EVALUATION_QUEUED', 'SCAN_COMPLETED', 'SECURITY_VIOLATION', 'REVIEW_REQUESTED', 'REVIEW_APPROVED', 'REVIEW_REJECTED', 'EXECUTION_STARTED', 'EVALUATION_COMPLETED', 'EVALUATION_FAILED', 'EVALUATION_CANCELLED'));
