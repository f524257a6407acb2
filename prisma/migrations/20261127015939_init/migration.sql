-- CreateTable
CREATE TABLE "evaluations" (
    "id" UUID NOT NULL,
    "workflow_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "language" TEXT NOT NULL,
    "code" BYTEA NOT NULL,
    "stdin" BYTEA,
    "expected_output" BYTEA,
    "limits" JSONB NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "findings" JSONB NOT NULL DEFAULT '[]',
    "verdict" TEXT,
    "stdout" BYTEA,
    "stderr" BYTEA,
    "exit_code" INTEGER,
    "signal" TEXT,
    "time_ms" INTEGER,
    "cpu_time_ms" INTEGER,
    "memory_kb" INTEGER,
    "stdout_truncated" BOOLEAN,
    "stderr_truncated" BOOLEAN,
    "engine" TEXT,
    "error" TEXT,
    "idempotency_key" TEXT,
    "request_hash" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "evaluations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "evaluation_events" (
    "id" BIGSERIAL NOT NULL,
    "evaluation_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "dedupe_key" TEXT NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "evaluation_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "execution_outputs" (
    "id" UUID NOT NULL,
    "evaluation_id" UUID NOT NULL,
    "stdout" BYTEA NOT NULL,
    "stderr" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "execution_outputs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "evaluations_workflow_id_key" ON "evaluations"("workflow_id");

-- CreateIndex
CREATE UNIQUE INDEX "evaluations_idempotency_key_key" ON "evaluations"("idempotency_key");

-- CreateIndex
CREATE INDEX "evaluations_created_at_id_idx" ON "evaluations"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "evaluations_status_created_at_idx" ON "evaluations"("status", "created_at" DESC);

-- CreateIndex
CREATE INDEX "evaluation_events_evaluation_id_id_idx" ON "evaluation_events"("evaluation_id", "id");

-- CreateIndex
CREATE UNIQUE INDEX "evaluation_events_evaluation_id_dedupe_key_key" ON "evaluation_events"("evaluation_id", "dedupe_key");

-- CreateIndex
CREATE INDEX "execution_outputs_evaluation_id_idx" ON "execution_outputs"("evaluation_id");

-- AddForeignKey
ALTER TABLE "evaluation_events" ADD CONSTRAINT "evaluation_events_evaluation_id_fkey" FOREIGN KEY ("evaluation_id") REFERENCES "evaluations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "execution_outputs" ADD CONSTRAINT "execution_outputs_evaluation_id_fkey" FOREIGN KEY ("evaluation_id") REFERENCES "evaluations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
