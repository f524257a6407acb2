-- AlterTable
ALTER TABLE "evaluations" ADD COLUMN     "review_decision" TEXT,
ADD COLUMN     "review_reason" TEXT,
ADD COLUMN     "reviewed_at" TIMESTAMPTZ(3),
ADD COLUMN     "reviewed_by" TEXT,
ADD COLUMN     "run_id" TEXT;

-- CreateIndex
CREATE INDEX "evaluations_status_updated_at_idx" ON "evaluations"("status", "updated_at");
