/**
 * The life of one supervised run as an explicit state machine, free of I/O so that it can be
 * tested without spawning anything. The supervisor (supervisor.ts) feeds it what it observes
 * (the init's lines, timers, output caps, the launcher's exit) and carries out the effects it
 * returns (start the program's clocks, stop the sandbox in order or kill it, settle the result).
 *
 *   launching ──program_started──> started ──reported──> reported
 *       │                             │                      │
 *       └───────── limit / failure: stop (orderly first when the engine has a way, then kill) ───┘
 *                                    every path ends with closed (all pipes shut) -> settle
 *
 * Rules that decide verdicts:
 * - the first limit (wall time, CPU, output, cancellation, start-up) is the one reported, and a
 *   program that already reported its exit is not cut short by a late timer or abort, while
 *   output past the cap is a limit hit whenever it is noticed;
 * - the first infrastructure failure is the one reported, and it stops the run too;
 * - once the launcher exited, its pid (= the process group) may be reused, so only the cgroup is
 *   killed from then on, except for the one sweep of the group an engine without a PID namespace
 *   asks for.
 */

export type KillReason = 'wall_time' | 'cpu_time' | 'output' | 'cancelled' | 'startup';

export type RunPhase = 'launching' | 'started' | 'reported' | 'closed';

export interface RunState {
  phase: RunPhase;
  /** The limit that stopped the run (the first one that counted), or null. */
  killReason: KillReason | null;
  /** How far stopping the run has gone: not at all, the engine's orderly stop pending, killed. */
  stop: 'none' | 'orderly' | 'killed';
  launcherExited: boolean;
  /** The first infrastructure failure; the run then rejects instead of resolving. */
  failure: Error | null;
}

export type RunEvent =
  | { type: 'program_started' }
  | { type: 'reported' }
  | { type: 'limit'; reason: KillReason }
  | { type: 'failure'; error: Error }
  /** The engine's orderly stop finished, or took too long. */
  | { type: 'orderly_stop_over' }
  | { type: 'launcher_exited' }
  /** The launcher could not be spawned at all: nothing will close. */
  | { type: 'spawn_failed'; error: Error }
  /** Every pipe of the launcher is closed: nothing more will be observed. */
  | { type: 'closed' };

export type RunEffect =
  /** The program started: start the wall timer and CPU polling, tell the caller. */
  | { type: 'start_program_clocks' }
  /** Ask the engine to stop the sandbox its own way (`runsc kill`); report orderly_stop_over. */
  | { type: 'stop_orderly' }
  /** SIGKILL the run's cgroup, and the launcher's process group when `processGroup`. */
  | { type: 'kill'; processGroup: boolean }
  /** Clear every timer and listener; resolve (or reject with `failure`). */
  | { type: 'settle' };

export interface RunMachineOptions {
  /** The engine has an orderly way to stop its sandbox (gVisor's `runsc kill`). */
  orderlyStop: boolean;
  /** Kill the launcher's process group once more when it exits (no PID namespace holds the run). */
  sweepProcessGroupAfterExit: boolean;
}

export const INITIAL_RUN_STATE: RunState = { phase: 'launching', killReason: null, stop: 'none', launcherExited: false, failure: null };

/** One transition: the next state and what to do about it. Never mutates `state`. */
export function runTransition(state: RunState, event: RunEvent, options: RunMachineOptions): { state: RunState; effects: RunEffect[] } {
  if (state.phase === 'closed') return { state, effects: [] };
  switch (event.type) {
    case 'program_started':
      if (state.phase !== 'launching') return { state, effects: [] };
      return { state: { ...state, phase: 'started' }, effects: [{ type: 'start_program_clocks' }] };
    case 'reported':
      return { state: { ...state, phase: 'reported' }, effects: [] };
    case 'limit': {
      if (event.reason === 'startup' && state.phase !== 'launching') return { state, effects: [] };
      const counts = state.killReason === null && (event.reason === 'output' || state.phase !== 'reported');
      return stop({ ...state, killReason: counts ? event.reason : state.killReason }, options);
    }
    case 'failure':
      return stop({ ...state, failure: state.failure ?? event.error }, options);
    case 'orderly_stop_over':
      if (state.stop !== 'orderly') return { state, effects: [] };
      return { state: { ...state, stop: 'killed' }, effects: [kill(state)] };
    case 'launcher_exited':
      return {
        state: { ...state, launcherExited: true },
        effects: [{ type: 'kill', processGroup: options.sweepProcessGroupAfterExit }],
      };
    case 'spawn_failed':
      return {
        state: { ...state, phase: 'closed', failure: state.failure ?? event.error, stop: 'killed' },
        effects: [kill(state), { type: 'settle' }],
      };
    case 'closed':
      return { state: { ...state, phase: 'closed' }, effects: [{ type: 'settle' }] };
  }
}

function kill(state: RunState): RunEffect {
  return { type: 'kill', processGroup: !state.launcherExited };
}

/** Stop the run: orderly first when the engine has a way (once), else (again) a kill. */
function stop(state: RunState, options: RunMachineOptions): { state: RunState; effects: RunEffect[] } {
  if (state.stop === 'orderly') return { state, effects: [] }; // the kill follows when it is over
  if (state.stop === 'none' && options.orderlyStop) return { state: { ...state, stop: 'orderly' }, effects: [{ type: 'stop_orderly' }] };
  return { state: { ...state, stop: 'killed' }, effects: [kill(state)] };
}
