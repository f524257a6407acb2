/**
 * "Started" for a Temporal server means more than a listening port: the namespace answers, the
 * custom search attributes are registered (workflows fail to upsert them otherwise), and the
 * Web UI serves pages.
 */
import { Connection } from '@temporalio/client';

export interface TemporalReadinessTarget {
  address: string;
  namespace: string;
  searchAttributeNames: string[];
  /** Checked too when given. */
  uiUrl?: string;
}

export class TemporalNotReadyError extends Error {
  override readonly name = 'TemporalNotReadyError';
}

const POLL_INTERVAL_MS = 200;
const CONNECT_TIMEOUT_MS = 2_000;

/**
 * Polls until everything answers, or throws when timeoutMs passes or `abandon` settles first
 * (for example because the server process exited).
 */
export async function waitForTemporal(
  target: TemporalReadinessTarget,
  timeoutMs: number,
  abandon: Promise<unknown> = new Promise(() => undefined),
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let abandoned = false;
  void abandon.finally(() => {
    abandoned = true;
  });
  let connection: Connection | undefined;
  let lastProblem = 'no attempt finished';
  try {
    while (!abandoned && Date.now() < deadline) {
      try {
        connection ??= await Connection.connect({ address: target.address, connectTimeout: CONNECT_TIMEOUT_MS });
        lastProblem = await findReadinessProblem(connection, target);
        if (!lastProblem) return;
      } catch (error) {
        lastProblem = (error as Error).message;
      }
      await Promise.race([sleep(POLL_INTERVAL_MS), abandon]);
    }
  } finally {
    await connection?.close();
  }
  if (abandoned) throw new TemporalNotReadyError(`gave up waiting for Temporal at ${target.address}: ${lastProblem}`);
  throw new TemporalNotReadyError(`Temporal at ${target.address} was not ready after ${timeoutMs} ms: ${lastProblem}`);
}

/** '' when ready, otherwise what is still missing. */
async function findReadinessProblem(connection: Connection, target: TemporalReadinessTarget): Promise<string> {
  await connection.workflowService.describeNamespace({ namespace: target.namespace });
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: target.namespace });
  const missing = target.searchAttributeNames.filter((name) => !(name in (customAttributes ?? {})));
  if (missing.length > 0) return `search attributes not registered yet: ${missing.join(', ')}`;
  if (target.uiUrl) {
    const response = await fetch(target.uiUrl);
    await response.body?.cancel();
    if (!response.ok) return `Web UI at ${target.uiUrl} answered ${response.status}`;
  }
  return '';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
