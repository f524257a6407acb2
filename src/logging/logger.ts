/** Structured JSON logs (pino): one line per event, machine-parseable, levels filterable. */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'crucible'): Logger {
  return pino({ name, level, base: { pid: process.pid, service: name } });
}
