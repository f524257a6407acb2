/**
 * The sandbox host: a small process that holds the worker's sandbox engine, so that the fork
 * behind every sandbox's spawn copies this process's page tables, not the worker's (see
 * remote-engine.ts). Started by RemoteSandboxEngine with the engine's options (JSON, argv[2])
 * and an IPC channel (advanced serialisation, so Buffers cross as bytes); it serves check(),
 * run() and build() calls by id, reports each call's program and stage starts as events, and
 * aborts a call's AbortSignal when told to.
 *
 * Its life is the channel's: when the worker closes it (or dies), the host aborts every call in
 * flight, waits for the engines to kill their sandboxes, and exits. SIGINT and SIGTERM are
 * ignored: a terminal's Ctrl-C or a service manager's SIGTERM to the whole group is the worker's
 * cue to drain, and the host must keep serving the runs the worker still waits for.
 */
import { createEngine } from '../index';
import type { BuildRequest, RunRequest, SandboxEngine } from '../engine';
import { asBuffers, wireError, type FromHost, type HostEngineOptions, type ToHost } from './remote-engine';

/** After the channel closed: how long the runs in flight have to end (the engines kill within ~2 s). */
const DRAIN_TIMEOUT_MS = 15_000;

interface Call {
  controller: AbortController;
  done: Promise<void>;
}

function send(message: FromHost): void {
  if (!process.connected || process.send === undefined) return;
  // The worker is gone if this fails: nobody to tell.
  process.send(message, undefined, undefined, () => {});
}

function serve(engine: SandboxEngine): void {
  const calls = new Map<number, Call>();

  process.on('message', (message: ToHost) => {
    if (message.type === 'abort') {
      calls.get(message.id)?.controller.abort();
      return;
    }
    const { id, method } = message;
    const controller = new AbortController();
    if (message.aborted) controller.abort();
    const hooks = {
      signal: controller.signal,
      onStageStart: (stage: 'compile' | 'run') => send({ type: 'stage_start', id, stage }),
    };
    const request = asBuffers(message.request);
    const answer = (): Promise<unknown> => {
      switch (method) {
        case 'check':
          return engine.check();
        case 'run':
          return engine.run({ ...(request as RunRequest), ...hooks, onProgramStart: () => send({ type: 'program_start', id }) });
        case 'build':
          return engine.build({ ...(request as BuildRequest), ...hooks });
      }
    };
    const done = Promise.resolve()
      .then(answer)
      .then(
        (value) => send({ type: 'result', id, value }),
        (error: unknown) => send({ type: 'error', id, error: wireError(error) }),
      )
      .finally(() => calls.delete(id));
    calls.set(id, { controller, done });
  });

  process.once('disconnect', () => {
    for (const call of calls.values()) call.controller.abort();
    const drained = Promise.allSettled([...calls.values()].map((call) => call.done));
    const timeout = new Promise((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS).unref());
    void Promise.race([drained, timeout]).then(() => process.exit(0));
  });
}

function main(): void {
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  if (process.send === undefined) {
    console.error('the sandbox host runs only as a child of the worker, with an IPC channel');
    process.exit(2);
  }
  let engine: SandboxEngine;
  try {
    const options = JSON.parse(process.argv[2] ?? '') as HostEngineOptions;
    engine = createEngine(options);
  } catch (error) {
    send({ type: 'start_failed', error: wireError(error) });
    process.disconnect();
    return;
  }
  serve(engine);
  send({ type: 'ready', pid: process.pid });
}

main();
