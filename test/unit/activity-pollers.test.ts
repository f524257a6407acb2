/** Activity pollers leave slots free for eager activities (see src/temporal/worker.ts). */
import { activityPollers } from '../../src/temporal/worker';

test('fewer pollers than slots, so eager activities find a free slot; at least one poller', () => {
  expect(activityPollers(8)).toBe(2);
  expect(activityPollers(3)).toBe(2);
  expect(activityPollers(2)).toBe(1);
  expect(activityPollers(1)).toBe(1);
  for (let slots = 2; slots <= 256; slots++) expect(activityPollers(slots)).toBeLessThan(slots);
});
