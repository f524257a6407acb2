/**
 * The Temporal SDK's process-wide runtime: its log lines go through our structured logger, and
 * it installs no signal handlers of its own, so our shutdown stops the worker exactly once.
 */
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logging/logger';

let installed = false;

export function installTemporalRuntime(log: Logger, level: LogLevel = 'WARN'): void {
  if (installed) return;
  installed = true;
  const sdkLog = log.child({ component: 'temporal-sdk' });
  Runtime.install({
    shutdownSignals: [],
    logger: new DefaultLogger(level, (entry) => {
      const meta = entry.meta ?? {};
      if (entry.level === 'ERROR') sdkLog.error(meta, entry.message);
      else if (entry.level === 'WARN') sdkLog.warn(meta, entry.message);
      else sdkLog.debug(meta, entry.message);
    }),
  });
}
