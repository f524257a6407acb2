/** Structured JSON logs (pino): one line per event, machine-parseable, levels filterable. */
import pino, { type DestinationStream, type Logger } from 'pino';
import { currentLogContext } from './log-context';

export type { Logger };

/**
 * `level` comes from configuration (LOG_LEVEL), which owns its default. Every line carries the
 * fields of the current log context (see ./log-context.ts), such as the request id. Lines go to
 * stdout unless a destination is given (tests read them from one).
 */
export function createLogger(level: string, name = 'crucible', destination?: DestinationStream): Logger {
  const options = { name, level, base: { pid: process.pid, service: name }, mixin: () => ({ ...currentLogContext() }) };
  return destination ? pino(options, destination) : pino(options);
}
