-- C, C++, Go, Java and Bash join the languages, compiled languages get a compile stage: its wall
-- time is a column of its own, and a failed compile is the verdict `compilation_error`.
--
-- The CHECK constraints are hand-written (see 20261128163500_vocabulary_checks): widened here by
-- dropping and re-adding each under the same name, in one statement per table, so the lists stay
-- exactly LANGUAGES and VERDICTS of src/domain/evaluation.ts (test/db/vocabulary.test.ts).

-- AlterTable
ALTER TABLE "evaluations" ADD COLUMN     "compile_time_ms" INTEGER;

-- AlterCheckConstraint
ALTER TABLE "evaluations"
    DROP CONSTRAINT "evaluations_language_check",
    ADD CONSTRAINT "evaluations_language_check" CHECK ("language" IN ('python', 'javascript', 'c', 'cpp', 'go', 'java', 'bash')),
    DROP CONSTRAINT "evaluations_verdict_check",
    ADD CONSTRAINT "evaluations_verdict_check" CHECK ("verdict" IN ('accepted', 'wrong_answer', 'runtime_error', 'time_limit_exceeded', 'memory_limit_exceeded', 'output_limit_exceeded', 'compilation_error'));
