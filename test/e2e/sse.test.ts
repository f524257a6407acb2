/**
 * GET /v1/evaluations/:id/events as Server-Sent Events, against the real pipeline: each lifecycle
 * event arrives as it is stored, the stream closes after the terminal one, and a client that
 * drops the connection and reconnects with Last-Event-ID gets the rest, nothing lost or repeated.
 */
import { useTestService, waitFor, waitForTerminal, type TestApi } from '../support/harness';

let api: TestApi;
useTestService('sse', (s) => {
  api = s.api;
});

// Runs about 1.5 s, so the later events are stored while the stream is open.
const SLOW = { language: 'python', code: 'import time\ntime.sleep(1.5)\nprint(1)' };
const TERMINAL_EVENTS = ['EVALUATION_COMPLETED', 'EVALUATION_FAILED', 'EVALUATION_CANCELLED', 'SECURITY_VIOLATION', 'REVIEW_REJECTED'];

interface SseFrame {
  id?: string;
  event?: string;
  data: string;
  receivedAt: number;
}

/** Reads SSE frames from a Response body; every read has a deadline so a stuck stream fails the test. */
class SseReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = '';
  ended = false;

  constructor(res: Response) {
    this.reader = res.body!.getReader();
  }

  /** The next frame, or null once the server has closed the stream. */
  async next(timeoutMs = 15000): Promise<SseFrame | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.takeFrame();
      if (frame) return frame;
      if (this.ended) return null;
      const { done, value } = await withDeadline(this.reader.read(), deadline - Date.now(), 'the next SSE chunk');
      if (done) {
        this.ended = true;
        this.buffer += this.decoder.decode();
      } else {
        this.buffer += this.decoder.decode(value, { stream: true });
      }
    }
  }

  /** Every remaining frame until the server closes the stream. */
  async rest(onFrame?: (frame: SseFrame) => Promise<void>): Promise<SseFrame[]> {
    const frames: SseFrame[] = [];
    for (let frame = await this.next(); frame; frame = await this.next()) {
      frames.push(frame);
      await onFrame?.(frame);
    }
    return frames;
  }

  /** Drops the connection, as a client going away does. */
  async cancel(): Promise<void> {
    await this.reader.cancel();
  }

  private takeFrame(): SseFrame | undefined {
    for (;;) {
      const match = /\r\n\r\n|\n\n|\r\r/.exec(this.buffer);
      if (!match) return undefined;
      const block = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const frame: SseFrame = { data: '', receivedAt: Date.now() };
      const data: string[] = [];
      for (const line of block.split(/\r\n|\n|\r/)) {
        if (line === '' || line.startsWith(':')) continue; // comments (keep-alives)
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0 && frame.id === undefined && frame.event === undefined) continue;
      frame.data = data.join('\n');
      return frame;
    }
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), Math.max(0, ms));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function submit(body: unknown): Promise<string> {
  const res = await api.post('/v1/evaluations', body);
  expect(res.status).toBe(202);
  return ((await res.json()) as any).id;
}

async function openStream(id: string, lastEventId?: string): Promise<SseReader> {
  const res = await api.request(`/v1/evaluations/${id}/events`, {
    headers: { accept: 'text/event-stream', ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  return new SseReader(res);
}

async function jsonEvents(id: string): Promise<any[]> {
  const res = await api.request(`/v1/evaluations/${id}/events`);
  expect(res.status).toBe(200);
  return ((await res.json()) as any).items;
}

/** What a frame says, in the shape of the JSON list: SSE id and event must agree with the data. */
function asEvent(frame: SseFrame): any {
  const body = JSON.parse(frame.data);
  expect(frame.id).toBe(body.id);
  expect(frame.event).toBe(body.type);
  return body;
}

test('each lifecycle event is streamed as it is stored, and the stream closes after the terminal one', async () => {
  const id = await submit(SLOW);
  const stream = await openStream(id);

  let statusWhenStarted: string | undefined;
  const frames = await stream.rest(async (frame) => {
    if (frame.event === 'EXECUTION_STARTED')
      statusWhenStarted = ((await (await api.request(`/v1/evaluations/${id}`)).json()) as any).status;
  });
  expect(stream.ended).toBe(true);

  const streamed = frames.map(asEvent);
  expect(streamed.map((e) => e.type)).toEqual(['EVALUATION_QUEUED', 'SCAN_COMPLETED', 'EXECUTION_STARTED', 'EVALUATION_COMPLETED']);
  // Exactly the stored events, same ids, same order, same content.
  expect(streamed).toEqual(await jsonEvents(id));
  expect(TERMINAL_EVENTS).toContain(streamed[streamed.length - 1].type);
  expect(new Set(streamed.map((e) => e.id)).size).toBe(streamed.length);

  // Delivered live: EXECUTION_STARTED reached us while the program was still running, and the
  // terminal event only after the program's 1.5 s sleep (not all at once at the end).
  expect(statusWhenStarted).toBe('running');
  const started = frames.find((f) => f.event === 'EXECUTION_STARTED')!;
  const completed = frames.find((f) => f.event === 'EVALUATION_COMPLETED')!;
  expect(completed.receivedAt - started.receivedAt).toBeGreaterThanOrEqual(1000);
  expect((await waitForTerminal(api, id)).status).toBe('completed');
});

test('dropped after two events and resumed with Last-Event-ID: the two streams together are the event list exactly', async () => {
  const id = await submit(SLOW);
  const first = await openStream(id);
  const head = [(await first.next())!, (await first.next())!];
  expect(head.every(Boolean)).toBe(true);
  await first.cancel();

  const lastSeen = head[1]!.id!;
  expect(lastSeen).toMatch(/^\d+$/);
  // Resumed while the program is still running, so the rest arrives on the second connection live.
  const statusAtReconnect = ((await (await api.request(`/v1/evaluations/${id}`)).json()) as any).status;
  expect(['queued', 'scanning', 'running']).toContain(statusAtReconnect);

  const second = await openStream(id, lastSeen);
  const tail = await second.rest();
  expect(second.ended).toBe(true);
  expect(tail.length).toBeGreaterThan(0);
  expect(BigInt(tail[0]!.id!)).toBeGreaterThan(BigInt(lastSeen));

  const union = [...head, ...tail].map(asEvent);
  const stored = await jsonEvents(id);
  expect(stored.map((e) => e.type)).toEqual(['EVALUATION_QUEUED', 'SCAN_COMPLETED', 'EXECUTION_STARTED', 'EVALUATION_COMPLETED']);
  expect(union).toEqual(stored);
});

test('Last-Event-ID on a finished evaluation: only the later events, then close; after the last one, nothing; malformed -> 400', async () => {
  const id = await submit({ language: 'python', code: 'print(2)' });
  await waitForTerminal(api, id);
  const stored = await jsonEvents(id);
  expect(stored.length).toBeGreaterThanOrEqual(3);

  const fromSecond = await (await openStream(id, stored[1].id)).rest();
  expect(fromSecond.map(asEvent)).toEqual(stored.slice(2));

  const afterLast = await openStream(id, stored[stored.length - 1].id);
  expect(await afterLast.rest()).toEqual([]);

  const everything = await (await openStream(id)).rest();
  expect(everything.map(asEvent)).toEqual(stored);

  const bad = await api.request(`/v1/evaluations/${id}/events`, { headers: { accept: 'text/event-stream', 'last-event-id': 'abc' } });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as any).error.code).toBe('invalid_request');
});

test('a client that drops the connection stops the server polling for it', async () => {
  // Held for review (the default policy holds `import os`): its stream would stay open indefinitely.
  const id = await submit({ language: 'python', code: 'import os\nprint(os.getcwd() != "")' });
  await waitFor(async () => ((await api.store.get(id))?.status === 'awaiting_review' ? true : undefined), 'the evaluation to await review');

  const spy = jest.spyOn(api.store, 'events');
  try {
    const pollsFor = () => spy.mock.calls.filter(([evaluationId]) => evaluationId === id).length;
    const stream = await openStream(id);
    const frames = [(await stream.next())!, (await stream.next())!, (await stream.next())!];
    expect(frames.map((f) => f.event)).toEqual(['EVALUATION_QUEUED', 'SCAN_COMPLETED', 'REVIEW_REQUESTED']);
    // While connected, the server keeps polling for new events.
    const connectedPolls = pollsFor();
    await waitFor(async () => (pollsFor() >= connectedPolls + 2 ? true : undefined), 'the open stream to poll again', 5000);

    await stream.cancel();
    // After the drop the count stops moving: it must stay the same across 1 s (five poll intervals).
    let last = { count: pollsFor(), since: Date.now() };
    await waitFor(
      async () => {
        const count = pollsFor();
        if (count !== last.count) last = { count, since: Date.now() };
        return Date.now() - last.since >= 1000 ? true : undefined;
      },
      'the server to stop polling for the dropped stream',
      5000,
    );
  } finally {
    spy.mockRestore();
  }

  expect((await api.request(`/v1/evaluations/${id}/cancel`, { method: 'POST' })).status).toBe(202);
  expect((await waitForTerminal(api, id)).status).toBe('cancelled');
});

test("a bundle streams one CASE_COMPLETED per case as each case finishes, before the evaluation's terminal event", async () => {
  // Each case sleeps a little, so the cases finish while the stream is open.
  const id = await submit({
    language: 'python',
    code: 'import time\nn = int(input())\ntime.sleep(0.3)\nprint(n)',
    testCases: [1, 2, 3].map((n) => ({ stdin: `${n}\n`, expectedOutput: `${n}\n` })),
    caseParallelism: 1,
  });
  const stream = await openStream(id);
  const frames = (await stream.rest()).map(asEvent);

  const types = frames.map((e) => e.type);
  expect(types).toEqual([
    'EVALUATION_QUEUED',
    'SCAN_COMPLETED',
    'EXECUTION_STARTED',
    'CASE_COMPLETED',
    'CASE_COMPLETED',
    'CASE_COMPLETED',
    'EVALUATION_COMPLETED',
  ]);
  expect(frames.filter((e) => e.type === 'CASE_COMPLETED').map((e) => [e.data.position, e.data.verdict])).toEqual([
    [1, 'accepted'],
    [2, 'accepted'],
    [3, 'accepted'],
  ]);
  expect(frames.at(-1).data).toMatchObject({ verdict: 'accepted', score: 1 });
});
