/**
 * Replays every committed history (test/replay/histories/<label>/<path>.json) against the
 * current workflow code. A change to src/workflows/ that would make a stored run take another
 * path on replay (a reordered activity, a removed timer, a new command without `patched()`)
 * fails here before it can break runs that are still open in a deployment.
 * Needs no Temporal server, PostgreSQL or sandbox. See docs/workflow-changes.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../support/workflow-bundle';

const root = path.join(__dirname, 'histories');
const files = fs.readdirSync(root).flatMap((label) =>
  fs
    .readdirSync(path.join(root, label))
    .filter((f) => f.endsWith('.json'))
    .map((f) => path.join(label, f)),
);

/** Histories as written by record-histories.ts (protobufjs JSON) or by `temporal workflow show -o json`. */
function loadHistory(file: string): temporal.api.history.v1.IHistory {
  const json = JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));
  try {
    return historyFromJSON(json);
  } catch {
    return temporal.api.history.v1.History.fromObject(json);
  }
}

test('there are histories of every path to replay', () => {
  const paths = new Set(files.map((f) => path.basename(f, '.json')));
  for (const p of [
    'accepted',
    'blocked',
    'review-approved',
    'review-rejected',
    'review-timed-out',
    'cancelled',
    'failed',
    'bundle',
    'bundle-compile-error',
    'bundle-checker-failed',
    'bundle-cancelled',
  ]) {
    expect(paths).toContain(p);
  }
});

test.each(files)('%s replays against the current workflow code', async (file) => {
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), replayName: file }, loadHistory(file));
});
