-- CreateIndex
CREATE INDEX "evaluations_unfinished_tenant_idx" ON "evaluations"("tenant") WHERE (status NOT IN ('completed', 'blocked', 'rejected', 'cancelled', 'failed'));
