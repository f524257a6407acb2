/**
 * OpenTelemetry tracing, off by default (OTEL_TRACES_EXPORTER=none). When on, the process
 * registers a global tracer provider, so the API's request spans, the Temporal client's
 * StartWorkflow span, the workflow's spans (exported through the worker's sink) and the
 * activities' spans share one trace, propagated in Temporal headers (W3C trace context).
 * `otlp` sends them over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (the exporter reads the standard
 * OTEL_EXPORTER_OTLP_* variables itself); `console` prints them; tests pass an in-memory exporter.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export type TracesExporter = 'none' | 'otlp' | 'console';

export interface Tracing {
  /** Where spans go; the worker's workflow sink hands the workflow's spans to it too. */
  processor: SpanProcessor;
  resource: Resource;
  /** Exports what is buffered and stops; call before the process exits. */
  shutdown(): Promise<void>;
}

/** undefined when tracing is off. */
export function startTracing(serviceName: string, exporter: TracesExporter | SpanExporter): Tracing | undefined {
  if (exporter === 'none') return undefined;
  const processor =
    exporter === 'otlp'
      ? new BatchSpanProcessor(new OTLPTraceExporter())
      : new SimpleSpanProcessor(exporter === 'console' ? new ConsoleSpanExporter() : exporter);
  const resource = new Resource({ [ATTR_SERVICE_NAME]: serviceName });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // Global tracer provider, AsyncLocalStorage context and W3C propagation, which the Temporal
  // interceptors and the API's request spans use.
  provider.register();
  return { processor, resource, shutdown: () => provider.shutdown() };
}
