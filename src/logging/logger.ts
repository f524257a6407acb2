/** Structured JSON logs (pino): one line per event, machine-parseable, levels filterable. */
import pino, { type Logger } from 'pino';

export type { Logger };

/** `level` comes from configuration (LOG_LEVEL), which owns its default. */
export function createLogger(level: string, name = 'crucible'): Logger {
  return pino({ name, level, base: { pid: process.pid, service: name } });
}
