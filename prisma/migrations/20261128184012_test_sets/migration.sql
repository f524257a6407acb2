-- CreateTable
CREATE TABLE "test_sets" (
    "id" UUID NOT NULL,
    "tenant" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "checker" JSONB NOT NULL,
    "case_count" INTEGER NOT NULL,
    "total_bytes" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(3),

    CONSTRAINT "test_sets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "test_set_cases" (
    "test_set_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "name" TEXT,
    "stdin" BYTEA NOT NULL,
    "expected_output" BYTEA NOT NULL,
    "weight" DOUBLE PRECISION NOT NULL DEFAULT 1,
    "limits" JSONB,

    CONSTRAINT "test_set_cases_pkey" PRIMARY KEY ("test_set_id","position")
);

-- CreateIndex
CREATE INDEX "test_sets_tenant_created_at_id_idx" ON "test_sets"("tenant", "created_at" DESC, "id" DESC);

-- AddForeignKey
ALTER TABLE "test_set_cases" ADD CONSTRAINT "test_set_cases_test_set_id_fkey" FOREIGN KEY ("test_set_id") REFERENCES "test_sets"("id") ON DELETE CASCADE ON UPDATE CASCADE;
