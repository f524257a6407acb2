/**
 * Fields every log line carries while some work runs: the request id of an API request, and the
 * request id (and evaluation) of an activity started for it. Kept in AsyncLocalStorage, so code
 * deep inside a request or an activity logs them without being handed them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type LogContext = Readonly<Record<string, string>>;

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `fields` added to the current context (inner fields win). */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...fields }, fn);
}

export function currentLogContext(): LogContext {
  return storage.getStore() ?? {};
}
