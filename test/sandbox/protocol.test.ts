/**
 * The init's reporting protocol, as the supervisor reads it: status lines, and the frames of the
 * 'framed' channel (gVisor), split however the pipe happens to deliver them.
 */
import {
  ArtefactAssembler,
  FrameDecoder,
  FRAME_ARTEFACT_DATA,
  FRAME_ARTEFACT_NAME,
  FRAME_REPORT,
  FRAME_STDERR,
  FRAME_STDOUT,
  StatusLines,
} from '../../src/sandbox/run/channel';
import { initArgv, parseInitLine, parseInitReport } from '../../src/sandbox/run/init';

function frame(type: number, payload: Buffer | string): Buffer {
  const body = Buffer.from(payload);
  const header = Buffer.alloc(5);
  header[0] = type;
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
}

describe('FrameDecoder', () => {
  const stream = Buffer.concat([
    frame(FRAME_STDOUT, 'hello '),
    frame(FRAME_STDERR, Buffer.from([0, 255, 10])),
    frame(FRAME_STDOUT, ''),
    frame(FRAME_STDOUT, 'world\n'),
    frame(FRAME_REPORT, '{"event":"started"}\n'),
  ]);

  function decode(chunks: Buffer[]) {
    const out: Record<number, Buffer[]> = { [FRAME_STDOUT]: [], [FRAME_STDERR]: [], [FRAME_REPORT]: [] };
    const decoder = new FrameDecoder((type, payload) => out[type].push(Buffer.from(payload)));
    for (const chunk of chunks) decoder.push(chunk);
    return Object.fromEntries(Object.entries(out).map(([type, parts]) => [type, Buffer.concat(parts).toString('latin1')]));
  }

  const expected = {
    [FRAME_STDOUT]: 'hello world\n',
    [FRAME_STDERR]: Buffer.from([0, 255, 10]).toString('latin1'),
    [FRAME_REPORT]: '{"event":"started"}\n',
  };

  test('in one chunk', () => {
    expect(decode([stream])).toEqual(expected);
  });

  test('byte by byte (headers and payloads split anywhere)', () => {
    expect(decode([...stream].map((byte) => Buffer.from([byte])))).toEqual(expected);
  });

  test('in chunks of every size', () => {
    for (let size = 2; size < stream.length; size += 3) {
      const chunks: Buffer[] = [];
      for (let offset = 0; offset < stream.length; offset += size) chunks.push(stream.subarray(offset, offset + size));
      expect(decode(chunks)).toEqual(expected);
    }
  });
});

describe('StatusLines', () => {
  test('a started event, then the final report', () => {
    const seen: string[] = [];
    const lines = new StatusLines(16_384, (line) => seen.push(line.kind));
    lines.append(Buffer.from('{"event":"sta'));
    lines.append(Buffer.from('rted"}\n{"exitCode":0,"signal":null,"userUs":1,"systemUs":2,"maxRssKb":3,"wallUs":4000}\n'));
    expect(seen).toEqual(['started', 'final']);
    expect(lines.error).toBeNull();
    expect(parseInitReport(lines.finalLine)).toEqual({
      kind: 'finished',
      exitCode: 0,
      signalNumber: null,
      cpuTimeMs: 0,
      maxRssKb: 3,
      wallTimeMs: 4,
      leftovers: 0,
      collected: null,
      collectError: null,
    });
  });

  test('garbage is an error, not a report', () => {
    const lines = new StatusLines(16_384, () => {});
    lines.append(Buffer.from('not json\n'));
    expect(lines.error?.message).toMatch(/unparseable/);
    expect(lines.finalLine).toBe('');
  });

  test('more than the cap is an error', () => {
    const lines = new StatusLines(10, () => {});
    lines.append(Buffer.from('{"event":"started"}\n'));
    expect(lines.error?.message).toMatch(/more than 10 bytes/);
  });
});

describe('init lines and arguments', () => {
  test('parseInitLine', () => {
    expect(parseInitLine('{"event":"started"}')).toEqual({ kind: 'started' });
    expect(parseInitLine('{"execError":"x: ENOENT"}')).toEqual({ kind: 'exec_failed', message: 'x: ENOENT' });
    expect(parseInitLine('{"exitCode":null,"signal":11,"userUs":1500,"systemUs":500,"maxRssKb":9000,"wallUs":1,"leftovers":2}')).toEqual({
      kind: 'finished',
      exitCode: null,
      signalNumber: 11,
      cpuTimeMs: 2,
      maxRssKb: 9000,
      wallTimeMs: 0,
      leftovers: 2,
      collected: null,
      collectError: null,
    });
    expect(
      parseInitLine(
        '{"exitCode":0,"signal":null,"userUs":1,"systemUs":1,"maxRssKb":1,"wallUs":1,"leftovers":0,"collected":0,"collectError":"none"}',
      ),
    ).toMatchObject({ collected: 0, collectError: 'none' });
    expect(() => parseInitLine('{"exitCode":"0"}')).toThrow(/invalid status/);
    expect(() => parseInitReport('{"event":"started"}')).toThrow(/not a final status line/);
  });

  test('initArgv with artefacts to collect, on the fds channel', () => {
    const argv = initArgv({
      python: '/usr/bin/python3',
      channel: { kind: 'fds', statusFd: 3, stdoutFd: 4, stderrFd: 5, artefactFd: 6 },
      rlimits: [],
      collect: { patterns: ['main', '*.class'], maxBytes: 1000, maxFiles: 5 },
      command: ['./main'],
    });
    expect(argv.slice(5)).toEqual(['--report=fds:3,4,5,6', '--rlimits=', '--collect=main,*.class', '--collect-max=1000:5', '--', './main']);
    expect(() =>
      initArgv({
        python: 'p',
        channel: { kind: 'framed', fd: 1 },
        rlimits: [],
        collect: { patterns: ['a/b'], maxBytes: 1, maxFiles: 1 },
        command: ['x'],
      }),
    ).toThrow(RangeError);
  });

  test('initArgv', () => {
    const argv = initArgv({
      python: '/usr/bin/python3',
      channel: { kind: 'framed', fd: 1 },
      rlimits: [{ name: 'NOFILE', soft: 512, hard: 512 }],
      user: { uid: 65534, gid: 65534 },
      subreaper: true,
      command: ['/usr/bin/python3', 'main.py'],
    });
    expect(argv.slice(0, 4)).toEqual(['/usr/bin/python3', '-I', '-S', '-c']);
    expect(argv.slice(5)).toEqual([
      '--report=framed:1',
      '--rlimits=NOFILE:512:512',
      '--user=65534:65534',
      '--subreaper',
      '--',
      '/usr/bin/python3',
      'main.py',
    ]);
  });
});

describe('ArtefactAssembler', () => {
  test('files from name and data frames, split however the pipe delivers them', () => {
    const assembler = new ArtefactAssembler(1000);
    const stream = Buffer.concat([
      frame(FRAME_ARTEFACT_NAME, 'xmain'),
      frame(FRAME_ARTEFACT_DATA, Buffer.from([0x7f, 0x45])),
      frame(FRAME_ARTEFACT_DATA, 'LF'),
      frame(FRAME_ARTEFACT_NAME, '-Main$1.class'),
      frame(FRAME_ARTEFACT_NAME, '-empty'),
    ]);
    const decoder = new FrameDecoder((type, payload, first) => assembler.push(type, payload, first));
    for (let offset = 0; offset < stream.length; offset += 3) decoder.push(stream.subarray(offset, offset + 3));
    expect(assembler.artefacts()).toEqual([
      { name: 'main', executable: true, content: Buffer.from([0x7f, 0x45, 0x4c, 0x46]) },
      { name: 'Main$1.class', executable: false, content: Buffer.alloc(0) },
      { name: 'empty', executable: false, content: Buffer.alloc(0) },
    ]);
  });

  test.each(['x../etc', 'x..', 'x.', '-a/b', 'x'])('refuses the name frame %j', (header) => {
    const assembler = new ArtefactAssembler(1000);
    assembler.push(FRAME_ARTEFACT_NAME, Buffer.from(header), true);
    expect(() => assembler.artefacts()).toThrow(/invalid artefact name/);
  });

  test('more than the cap, or data before a name, is an error', () => {
    const big = new ArtefactAssembler(3);
    big.push(FRAME_ARTEFACT_NAME, Buffer.from('xmain'), true);
    big.push(FRAME_ARTEFACT_DATA, Buffer.from('four'), true);
    expect(() => big.artefacts()).toThrow(/larger than 3 bytes/);
    const headless = new ArtefactAssembler(100);
    headless.push(FRAME_ARTEFACT_DATA, Buffer.from('data'), true);
    expect(() => headless.artefacts()).toThrow(/before its name/);
  });
});
