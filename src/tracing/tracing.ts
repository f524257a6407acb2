/**
 * OpenTelemetry tracing, off by default (OTEL_TRACES_EXPORTER=none). When on, the process
 * registers a global tracer provider, so the API's request spans, the Temporal client's
 * StartWorkflow span, the workflow's spans (exported through the worker's sink) and the
 * activities' spans share one trace, propagated in Temporal headers (W3C trace context).
 * `otlp` sends them over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (the exporter reads the standard
 * OTEL_EXPORTER_OTLP_* variables itself); `console` prints them; tests pass an in-memory exporter.
 */
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as Resources from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type * as TraceBase from '@opentelemetry/sdk-trace-base';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type * as TraceNode from '@opentelemetry/sdk-trace-node';
import type * as SemanticConventions from '@opentelemetry/semantic-conventions';
import type * as TemporalOpenTelemetry from '@temporalio/interceptors-opentelemetry';

export type TracesExporter = 'none' | 'otlp' | 'console';

export interface Tracing {
  /** Where spans go; the worker's workflow sink hands the workflow's spans to it too. */
  processor: SpanProcessor;
  resource: Resource;
  /** The Temporal SDK's OpenTelemetry interceptors, loaded with the rest of OpenTelemetry. */
  temporal: typeof TemporalOpenTelemetry;
  /** Exports what is buffered and stops; call before the process exits. */
  shutdown(): Promise<void>;
}

/**
 * undefined when tracing is off. OpenTelemetry's SDK and the Temporal interceptors are loaded
 * only when it is on: about 13 MB of RSS in each process that does not trace (the default).
 */
export function startTracing(serviceName: string, exporter: TracesExporter | SpanExporter): Tracing | undefined {
  if (exporter === 'none') return undefined;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const base = require('@opentelemetry/sdk-trace-base') as typeof TraceBase;
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttp;
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node') as typeof TraceNode;
  const { ATTR_SERVICE_NAME } = require('@opentelemetry/semantic-conventions') as typeof SemanticConventions;
  const resources = require('@opentelemetry/resources') as typeof Resources;
  const temporal = require('@temporalio/interceptors-opentelemetry') as typeof TemporalOpenTelemetry;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const processor =
    exporter === 'otlp'
      ? new base.BatchSpanProcessor(new OTLPTraceExporter())
      : new base.SimpleSpanProcessor(exporter === 'console' ? new base.ConsoleSpanExporter() : exporter);
  const resource = new resources.Resource({ [ATTR_SERVICE_NAME]: serviceName });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // Global tracer provider, AsyncLocalStorage context and W3C propagation, which the Temporal
  // interceptors and the API's request spans use.
  provider.register();
  return { processor, resource, temporal, shutdown: () => provider.shutdown() };
}
