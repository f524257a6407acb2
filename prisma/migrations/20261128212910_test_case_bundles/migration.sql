-- AlterTable
ALTER TABLE "evaluations" ADD COLUMN     "bundle_mode" TEXT,
ADD COLUMN     "case_count" INTEGER,
ADD COLUMN     "case_counts" JSONB,
ADD COLUMN     "case_parallelism" INTEGER,
ADD COLUMN     "deciding_case" INTEGER,
ADD COLUMN     "entry_point" TEXT,
ADD COLUMN     "files" JSONB,
ADD COLUMN     "score" DOUBLE PRECISION,
ADD COLUMN     "test_set_id" UUID;

-- AlterTable
ALTER TABLE "test_sets" ADD COLUMN     "inline" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "evaluation_case_results" (
    "evaluation_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "name" TEXT,
    "status" TEXT NOT NULL,
    "verdict" TEXT,
    "score" DOUBLE PRECISION NOT NULL,
    "weight" DOUBLE PRECISION NOT NULL,
    "time_ms" INTEGER NOT NULL,
    "cpu_time_ms" INTEGER NOT NULL,
    "memory_kb" INTEGER NOT NULL,
    "exit_code" INTEGER,
    "signal" TEXT,
    "stdout" BYTEA NOT NULL,
    "stderr" BYTEA NOT NULL,
    "stdout_bytes" INTEGER NOT NULL,
    "stderr_bytes" INTEGER NOT NULL,
    "difference" JSONB,
    "checker_message" TEXT,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "evaluation_case_results_pkey" PRIMARY KEY ("evaluation_id","position")
);

-- CreateTable
CREATE TABLE "evaluation_builds" (
    "evaluation_id" UUID NOT NULL,
    "role" TEXT NOT NULL,
    "entry_point" TEXT NOT NULL,
    "manifest" JSONB NOT NULL,
    "content" BYTEA NOT NULL,
    "compilation" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "evaluation_builds_pkey" PRIMARY KEY ("evaluation_id","role")
);

-- AddForeignKey
ALTER TABLE "evaluations" ADD CONSTRAINT "evaluations_test_set_id_fkey" FOREIGN KEY ("test_set_id") REFERENCES "test_sets"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evaluation_case_results" ADD CONSTRAINT "evaluation_case_results_evaluation_id_fkey" FOREIGN KEY ("evaluation_id") REFERENCES "evaluations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evaluation_builds" ADD CONSTRAINT "evaluation_builds_evaluation_id_fkey" FOREIGN KEY ("evaluation_id") REFERENCES "evaluations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written CHECK constraints (see 20261128163500_vocabulary_checks), each list exactly its
-- constant: EVENT_TYPES and CASE_STATUSES of src/domain/evaluation.ts, BUNDLE_MODES of
-- src/domain/test-cases.ts, VERDICTS, and BUILD_ROLES of src/db/builds.ts (test/db/vocabulary.test.ts).

-- AlterCheckConstraint
ALTER TABLE "evaluation_events"
    DROP CONSTRAINT "evaluation_events_type_check",
    ADD CONSTRAINT "evaluation_events_type_check" CHECK ("type" IN ('EVALUATION_QUEUED', 'SCAN_COMPLETED', 'SECURITY_VIOLATION', 'REVIEW_REQUESTED', 'REVIEW_APPROVED', 'REVIEW_REJECTED', 'EXECUTION_STARTED', 'CASE_COMPLETED', 'EVALUATION_COMPLETED', 'EVALUATION_FAILED', 'EVALUATION_CANCELLED'));

-- AddCheckConstraint
ALTER TABLE "evaluations"
    ADD CONSTRAINT "evaluations_bundle_mode_check" CHECK ("bundle_mode" IN ('all', 'first_failure')),
    ADD CONSTRAINT "evaluations_case_parallelism_check" CHECK ("case_parallelism" BETWEEN 1 AND 8);

-- AddCheckConstraint
ALTER TABLE "evaluation_case_results"
    ADD CONSTRAINT "evaluation_case_results_status_check" CHECK ("status" IN ('completed', 'failed')),
    ADD CONSTRAINT "evaluation_case_results_verdict_check" CHECK ("verdict" IN ('accepted', 'wrong_answer', 'runtime_error', 'time_limit_exceeded', 'memory_limit_exceeded', 'output_limit_exceeded', 'compilation_error'));

-- AddCheckConstraint
ALTER TABLE "evaluation_builds"
    ADD CONSTRAINT "evaluation_builds_role_check" CHECK ("role" IN ('program', 'checker'));
