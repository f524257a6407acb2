-- DropIndex
DROP INDEX "evaluations_idempotency_key_key";

-- AlterTable
ALTER TABLE "evaluations" ADD COLUMN     "callback_url" TEXT,
ADD COLUMN     "tenant" TEXT NOT NULL DEFAULT 'default';

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "tenant" TEXT NOT NULL,
    "name" TEXT NOT NULL DEFAULT '',
    "key_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "scopes" TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" BIGSERIAL NOT NULL,
    "evaluation_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "url" TEXT NOT NULL,
    "status_code" INTEGER,
    "error" TEXT,
    "succeeded" BOOLEAN NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");

-- CreateIndex
CREATE INDEX "api_keys_tenant_idx" ON "api_keys"("tenant");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_deliveries_evaluation_id_attempt_key" ON "webhook_deliveries"("evaluation_id", "attempt");

-- CreateIndex
CREATE INDEX "evaluations_tenant_created_at_id_idx" ON "evaluations"("tenant", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "evaluations_tenant_idempotency_key_key" ON "evaluations"("tenant", "idempotency_key");

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_evaluation_id_fkey" FOREIGN KEY ("evaluation_id") REFERENCES "evaluations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
