-- Admission of a new evaluation in one statement (src/db/admission.ts).
--
-- Before, the API took the service-wide advisory lock, counted the unfinished evaluations and
-- inserted the row and its EVALUATION_QUEUED event in an interactive transaction: five round trips
-- to the API while holding the lock, so on a busy machine every submission queued behind another
-- one's trips. Here the lock is held only while PostgreSQL itself works.
--
-- candidate:  the new row, as jsonb keyed by column name (bytea as '\x' hex text).
-- tenant_cap, total_cap: the in-flight caps; NULL for none (then no lock is taken and nothing is counted).
-- wait_ms:    how long to wait for the lock before failing with lock_not_available (55P03).
--
-- Returns whether the row was admitted and the counts it was judged on (unfinished evaluations,
-- not counting this one). VOLATILE, so each statement below takes a fresh snapshot: the count
-- sees every admission committed before this one got the lock.
CREATE FUNCTION admit_evaluation(candidate JSONB, tenant_cap INTEGER, total_cap INTEGER, wait_ms INTEGER)
RETURNS TABLE (admitted BOOLEAN, tenant_in_flight INTEGER, total_in_flight INTEGER)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  mine INTEGER := 0;
  everyone INTEGER := 0;
BEGIN
  IF tenant_cap IS NOT NULL OR total_cap IS NOT NULL THEN
    PERFORM set_config('lock_timeout', wait_ms || 'ms', true);
    -- 0x6372756369626c65, "crucible" in ASCII: the key the interactive admission used.
    PERFORM pg_advisory_xact_lock(7165919026930150501);
    PERFORM set_config('lock_timeout', '0', true);
    -- Written to match evaluations_unfinished_tenant_idx's predicate, so the index serves it.
    SELECT count(*) FILTER (WHERE e.tenant = candidate->>'tenant')::int, count(*)::int
      INTO mine, everyone
      FROM evaluations e
     WHERE e.status NOT IN ('completed', 'blocked', 'rejected', 'cancelled', 'failed');
    IF mine >= tenant_cap OR everyone >= total_cap THEN
      RETURN QUERY SELECT false, mine, everyone;
      RETURN;
    END IF;
  END IF;
  INSERT INTO evaluations SELECT * FROM jsonb_populate_record(NULL::evaluations, candidate);
  INSERT INTO evaluation_events (evaluation_id, type, dedupe_key, data, created_at)
  VALUES ((candidate->>'id')::uuid, 'EVALUATION_QUEUED', 'queued', '{}', (candidate->>'created_at')::timestamptz);
  RETURN QUERY SELECT true, mine, everyone;
END
$$;
