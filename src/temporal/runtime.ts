/**
 * The Temporal SDK's process-wide runtime: its log lines go through our structured logger, and
 * it installs no signal handlers of its own, so our shutdown stops the worker exactly once.
 */
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logging/logger';

let installed = false;

/**
 * `metricsBindAddress` (TEMPORAL_METRICS_BIND_ADDRESS): where the SDK serves its own Prometheus
 * metrics (schedule-to-start latency, task slots, polls), in seconds and with `_total` counters
 * like the service's own. The first call decides: the runtime is installed once per process.
 */
export function installTemporalRuntime(log: Logger, level: LogLevel = 'WARN', metricsBindAddress?: string): void {
  if (installed) return;
  installed = true;
  const sdkLog = log.child({ component: 'temporal-sdk' });
  Runtime.install({
    shutdownSignals: [],
    ...(metricsBindAddress
      ? {
          telemetryOptions: {
            metrics: { prometheus: { bindAddress: metricsBindAddress, useSecondsForDurations: true, countersTotalSuffix: true } },
          },
        }
      : {}),
    logger: new DefaultLogger(level, (entry) => {
      const meta = entry.meta ?? {};
      if (entry.level === 'ERROR') sdkLog.error(meta, entry.message);
      else if (entry.level === 'WARN') sdkLog.warn(meta, entry.message);
      else sdkLog.debug(meta, entry.message);
    }),
  });
}
