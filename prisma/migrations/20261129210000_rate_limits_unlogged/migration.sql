-- The rate limiter's counters (src/api/ratelimit/postgres.ts) in an unlogged table.
--
-- Every request upserts two of these rows (its address's budget and its caller's), and requests
-- from one caller all update the same row, so each waits for the row lock of the one before it.
-- A logged table held that lock until the commit had flushed its WAL to disk; an unlogged table
-- writes no WAL, so its commit does not wait for a flush.
--
-- The trade: PostgreSQL empties an unlogged table after a crash, and a standby does not have it,
-- so a crash or a failover refills every budget at once. Counters are not data worth a flush.
ALTER TABLE rate_limits SET UNLOGGED;
