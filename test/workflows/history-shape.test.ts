/**
 * What an evaluation costs the Temporal server, counted in its history (real workflow code, stub
 * activities, time-skipping server). Every event is a write to the server's store, every search
 * attribute update a write to its visibility store, every workflow task a round trip through its
 * queue. Proves that:
 * - a run records one patch marker and one `TemporalChangeVersion` update, not one per patch
 *   (the `earlier-patches-folded` patch);
 * - an accepted trivial run takes two workflow tasks and one activity task, runs one local
 *   activity in each task (the scan, which writes the moves to `scanning` and `running` itself,
 *   then the result), and updates its own search attributes twice (running with the scan's
 *   result, then the outcome).
 */
import { temporal } from '@temporalio/proto';
import { Testbed, type EvaluationHandle } from './testbed';
import { FINDING, scanOutcome } from './stub-activities';

jest.setTimeout(30_000);

let bed: Testbed;
beforeAll(async () => {
  bed = await Testbed.create();
});
afterEach(() => bed.cleanUp());
afterAll(() => bed?.teardown());

const { EventType } = temporal.api.enums.v1;
const PATCH_MARKER = 'core_patch';
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';
const CHANGE_VERSION = 'TemporalChangeVersion';

interface Shape {
  types: string[];
  patchMarkers: number;
  changeVersionUpdates: number;
  ownUpdates: string[][];
  /** Activity types of the local activity markers, in order. */
  localActivities: string[];
}

async function shapeOf(handle: EvaluationHandle): Promise<Shape> {
  const events = (await handle.fetchHistory()).events ?? [];
  const upserts = events.flatMap((e) =>
    e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
      ? [Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}).sort()]
      : [],
  );
  return {
    types: events.map((e) => EventType[e.eventType ?? 0]!),
    patchMarkers: events.filter((e) => e.markerRecordedEventAttributes?.markerName === PATCH_MARKER).length,
    changeVersionUpdates: upserts.filter((keys) => keys.includes(CHANGE_VERSION)).length,
    ownUpdates: upserts.filter((keys) => !keys.includes(CHANGE_VERSION)),
    localActivities: events.flatMap((e) => {
      const marker = e.markerRecordedEventAttributes;
      if (marker?.markerName !== LOCAL_ACTIVITY_MARKER) return [];
      const data = marker.details?.data?.payloads?.[0]?.data;
      return [(JSON.parse(Buffer.from(data ?? []).toString()) as { activity_type: string }).activity_type];
    }),
  };
}

const count = (types: string[], type: string) => types.filter((t) => t === `EVENT_TYPE_${type}`).length;

test('an accepted run records one patch marker and one TemporalChangeVersion update, in two workflow tasks of one local activity each and one activity task', async () => {
  const { start } = await bed.worker();
  const handle = await start();
  expect(await handle.result()).toEqual({ status: 'completed', verdict: 'accepted' });

  const shape = await shapeOf(handle);
  expect(shape.patchMarkers).toBe(1);
  expect(shape.changeVersionUpdates).toBe(1);
  expect(count(shape.types, 'WORKFLOW_TASK_COMPLETED')).toBe(2);
  // The scan's local activity writes the moves to scanning and running: the first task runs one
  // local activity (three before the scan-in-one-local-activity patch), the second one (the result).
  expect(shape.localActivities).toEqual(['securityScan', 'persistResults']);
  expect(count(shape.types, 'ACTIVITY_TASK_SCHEDULED')).toBe(1);
  expect(shape.ownUpdates).toEqual([
    ['EvaluationRuleIds', 'EvaluationSeverity', 'EvaluationStatus'],
    ['EvaluationStatus', 'EvaluationVerdict'],
  ]);
  // Before the fold: 25 events, four patch markers and four TemporalChangeVersion updates; 19 after
  // it, 17 since the scan's activity writes its moves.
  expect(shape.types.length).toBeLessThanOrEqual(17);
});

test('a blocked run records one patch marker too, though its path passes other earlier patches', async () => {
  const { start } = await bed.worker({ securityScan: async () => scanOutcome('block', [FINDING]) });
  const handle = await start();
  expect(await handle.result()).toEqual({ status: 'blocked' });

  const shape = await shapeOf(handle);
  expect(shape.patchMarkers).toBe(1);
  expect(shape.changeVersionUpdates).toBe(1);
});
