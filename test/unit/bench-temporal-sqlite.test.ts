/** The benchmark's reading of the Temporal server's SQLite time (bench/temporal-sqlite.ts). */
import { describeSqliteTime, sqliteTotals } from '../../bench/temporal-sqlite';

/** As the dev server prints them: one sample per namespace and service, seconds. */
const exposition = (update: number, started: number) => `# HELP persistence_latency persistence_latency histogram
# TYPE persistence_latency histogram
persistence_latency_bucket{namespace="default",operation="UpdateWorkflowExecution",service_name="history",le="0.001"} 1
persistence_latency_sum{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} ${update}
persistence_latency_count{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} ${update * 1000}
persistence_latency_sum{namespace="temporal_system",operation="UpdateWorkflowExecution",service_name="history"} 1
persistence_latency_count{namespace="temporal_system",operation="UpdateWorkflowExecution",service_name="history"} 1
persistence_requests{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 999
visibility_persistence_latency_sum{namespace="default",operation="RecordWorkflowExecutionStarted",visibility_type="standard_visibility"} ${started}
visibility_persistence_latency_count{namespace="default",operation="RecordWorkflowExecutionStarted",visibility_type="standard_visibility"} ${started * 250}
semaphore_latency_sum{operation="ShardInfo",priority="0",service_name="history"} ${update * 2}
semaphore_latency_count{operation="ShardInfo",priority="0",service_name="history"} ${update * 100}
`;

test('sums the latency and calls of each persistence operation across namespaces and services', () => {
  expect(sqliteTotals(exposition(2, 4))).toEqual(
    new Map([
      ['history UpdateWorkflowExecution', { seconds: 3, calls: 2001 }],
      ['visibility RecordWorkflowExecutionStarted', { seconds: 4, calls: 1000 }],
      ['shard ShardInfo', { seconds: 4, calls: 200 }],
    ]),
  );
});

test('describes a phase: time per evaluation and per call, calls in flight, the largest operations', () => {
  const before = sqliteTotals(exposition(2, 4));
  const after = sqliteTotals(exposition(2.5, 4.25)); // 0.5 s in 500 calls, 0.25 s in 62.5 calls
  const line = describeSqliteTime(before, after, 0.5, 50);
  expect(line).toContain('15 ms per evaluation in 11.3 calls');
  expect(line).toContain('1.3 ms per call');
  expect(line).toContain('1.50 calls in flight on average');
  expect(line).toMatch(
    /most per evaluation: history UpdateWorkflowExecution 10 ms \(10\.0 calls\), visibility RecordWorkflowExecutionStarted 5\.0 ms/,
  );
  expect(describeSqliteTime(before, before, 1)).toBe('no persistence calls recorded');
});
