/**
 * The supervised run's state machine (src/sandbox/run/run-state.ts), without spawning anything:
 * started, limit hit, killed, reported, and the rules that decide which limit is the verdict.
 */
import {
  INITIAL_RUN_STATE,
  runTransition,
  type RunEffect,
  type RunEvent,
  type RunMachineOptions,
  type RunState,
} from '../../src/sandbox/run/run-state';

const plain: RunMachineOptions = { orderlyStop: false, sweepProcessGroupAfterExit: false };
const gvisorLike: RunMachineOptions = { orderlyStop: true, sweepProcessGroupAfterExit: false };

/** Feeds events in order; returns the final state and every effect, in order. */
function drive(events: RunEvent[], options: RunMachineOptions = plain): { state: RunState; effects: RunEffect[] } {
  let state = INITIAL_RUN_STATE;
  const effects: RunEffect[] = [];
  for (const event of events) {
    const next = runTransition(state, event, options);
    state = next.state;
    effects.push(...next.effects);
  }
  return { state, effects };
}

const failure = new Error('cannot read fd 4');

test('a program that starts, reports and closes: clocks started once, no kill, settled', () => {
  const { state, effects } = drive([{ type: 'program_started' }, { type: 'program_started' }, { type: 'reported' }, { type: 'closed' }]);
  expect(state).toMatchObject({ phase: 'closed', killReason: null, stop: 'none', failure: null });
  expect(effects).toEqual([{ type: 'start_program_clocks' }, { type: 'settle' }]);
});

test('a limit while running is the verdict and kills the process group and the cgroup', () => {
  const { state, effects } = drive([{ type: 'program_started' }, { type: 'limit', reason: 'wall_time' }]);
  expect(state).toMatchObject({ phase: 'started', killReason: 'wall_time', stop: 'killed' });
  expect(effects).toEqual([{ type: 'start_program_clocks' }, { type: 'kill', processGroup: true }]);
});

test('the first limit wins; a later one kills again but does not change the verdict', () => {
  const { state, effects } = drive([
    { type: 'program_started' },
    { type: 'limit', reason: 'cpu_time' },
    { type: 'limit', reason: 'cancelled' },
  ]);
  expect(state.killReason).toBe('cpu_time');
  expect(effects.filter((effect) => effect.type === 'kill')).toHaveLength(2);
});

test('after the program reported its exit, a late timer or abort is not a limit hit, but output past the cap is', () => {
  const late = drive([{ type: 'program_started' }, { type: 'reported' }, { type: 'limit', reason: 'wall_time' }]);
  expect(late.state.killReason).toBeNull();
  const output = drive([{ type: 'program_started' }, { type: 'reported' }, { type: 'limit', reason: 'output' }]);
  expect(output.state.killReason).toBe('output');
});

test('the start-up deadline counts only before the program started', () => {
  expect(drive([{ type: 'limit', reason: 'startup' }]).state.killReason).toBe('startup');
  const started = drive([{ type: 'program_started' }, { type: 'limit', reason: 'startup' }]);
  expect(started.state.killReason).toBeNull();
  expect(started.effects).toEqual([{ type: 'start_program_clocks' }]);
});

test('an engine with an orderly stop gets it first, once; the kill follows when it is over', () => {
  const { state, effects } = drive(
    [
      { type: 'program_started' },
      { type: 'limit', reason: 'cancelled' },
      { type: 'limit', reason: 'output' },
      { type: 'orderly_stop_over' },
      { type: 'orderly_stop_over' },
    ],
    gvisorLike,
  );
  expect(state).toMatchObject({ killReason: 'cancelled', stop: 'killed' });
  expect(effects).toEqual([{ type: 'start_program_clocks' }, { type: 'stop_orderly' }, { type: 'kill', processGroup: true }]);
});

test('once the launcher exited its process group is never signalled again, except for the one sweep asked for', () => {
  const without = drive([{ type: 'launcher_exited' }, { type: 'limit', reason: 'cancelled' }]);
  expect(without.effects).toEqual([
    { type: 'kill', processGroup: false },
    { type: 'kill', processGroup: false },
  ]);
  const sweep = drive([{ type: 'launcher_exited' }], { orderlyStop: false, sweepProcessGroupAfterExit: true });
  expect(sweep.effects).toEqual([{ type: 'kill', processGroup: true }]);
});

test('the first infrastructure failure is kept and stops the run; the run still settles on close', () => {
  const { state, effects } = drive([
    { type: 'program_started' },
    { type: 'failure', error: failure },
    { type: 'failure', error: new Error('second') },
    { type: 'closed' },
  ]);
  expect(state.failure).toBe(failure);
  expect(state.killReason).toBeNull();
  expect(effects.at(-1)).toEqual({ type: 'settle' });
  expect(effects.filter((effect) => effect.type === 'kill')).toHaveLength(2);
});

test('a launcher that cannot be spawned settles at once, and nothing after that has an effect', () => {
  const { state, effects } = drive([{ type: 'spawn_failed', error: failure }, { type: 'closed' }, { type: 'program_started' }]);
  expect(state).toMatchObject({ phase: 'closed', failure });
  expect(effects).toEqual([{ type: 'kill', processGroup: true }, { type: 'settle' }]);
});

test('transitions never mutate the state they are given', () => {
  const frozen = Object.freeze({ ...INITIAL_RUN_STATE });
  expect(() => runTransition(frozen, { type: 'limit', reason: 'output' }, plain)).not.toThrow();
  expect(frozen.killReason).toBeNull();
});
