/**
 * The init's reporting protocol, as the supervisor reads it: status lines, and the frames of the
 * 'framed' channel (gVisor), split however the pipe happens to deliver them; and both inits
 * (compiled init.c, init.py) run directly, outside any sandbox, on both channels, held to the
 * same behaviour: exact exit status, rusage, rlimits and signals of the program, exec errors,
 * fds the program must not hold, leftovers killed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
import { sandboxInit } from '../../src/sandbox/run/compiled-init';
import {
  initArgv,
  parseInitLine,
  parseInitReport,
  SANDBOX_INIT_SOURCE,
  type InitChannel,
  type InitProgram,
  type ProgramRlimit,
} from '../../src/sandbox/run/init';
import { waitUntil } from './engines';

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
      program: { kind: 'python', python: '/usr/bin/python3' },
      channel: { kind: 'fds', statusFd: 3, stdoutFd: 4, stderrFd: 5, artefactFd: 6 },
      rlimits: [],
      collect: { patterns: ['main', '*.class'], maxBytes: 1000, maxFiles: 5 },
      command: ['./main'],
    });
    expect(argv.slice(5)).toEqual(['--report=fds:3,4,5,6', '--rlimits=', '--collect=main,*.class', '--collect-max=1000:5', '--', './main']);
    // Deeper than the top level (Java's package directories): one more option, only then.
    const deep = initArgv({
      program: { kind: 'python', python: '/usr/bin/python3' },
      channel: { kind: 'framed', fd: 1 },
      rlimits: [],
      collect: { patterns: ['*.class'], maxBytes: 1000, maxFiles: 5, depth: 8 },
      command: ['x'],
    });
    expect(deep.slice(5)).toEqual([
      '--report=framed:1',
      '--rlimits=',
      '--collect=*.class',
      '--collect-max=1000:5',
      '--collect-depth=8',
      '--',
      'x',
    ]);
    expect(() =>
      initArgv({
        program: { kind: 'python', python: 'p' },
        channel: { kind: 'framed', fd: 1 },
        rlimits: [],
        collect: { patterns: ['a/b'], maxBytes: 1, maxFiles: 1 },
        command: ['x'],
      }),
    ).toThrow(RangeError);
  });

  test('initArgv', () => {
    const argv = initArgv({
      program: { kind: 'python', python: '/usr/bin/python3' },
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

describe('initArgv of the compiled init', () => {
  test('the binary itself, then the same options', () => {
    const argv = initArgv({
      program: { kind: 'compiled', path: '/init' },
      channel: { kind: 'fds', statusFd: 3, stdoutFd: 4, stderrFd: 5 },
      rlimits: [],
      command: ['/bin/true'],
    });
    expect(argv).toEqual(['/init', '--report=fds:3,4,5', '--rlimits=', '--', '/bin/true']);
  });
});

interface InitOutput {
  /** The status lines, in order. */
  lines: string[];
  stdout: string;
  stderr: string;
  /** The init's own exit code. */
  code: number | null;
}

/** Runs an init directly with `channel` ('fds': 3, 4, 5; 'framed': 1) and collects what it wrote. */
function runInit(
  program: InitProgram,
  channelKind: 'fds' | 'framed',
  command: string[],
  options: { rlimits?: ProgramRlimit[]; subreaper?: boolean; user?: { uid: number; gid: number } } = {},
): Promise<InitOutput> {
  const channel: InitChannel = channelKind === 'fds' ? { kind: 'fds', statusFd: 3, stdoutFd: 4, stderrFd: 5 } : { kind: 'framed', fd: 1 };
  const argv = initArgv({ program, channel, rlimits: options.rlimits ?? [], subreaper: options.subreaper, user: options.user, command });
  const stdio =
    channelKind === 'fds' ? (['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'] as const) : (['ignore', 'pipe', 'pipe'] as const);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: [...stdio], env: { PATH: '/usr/bin:/bin' } });
    const collected = { status: '', stdout: '', stderr: '', diagnostics: '' };
    const collect = (fd: number, into: keyof typeof collected) =>
      child.stdio[fd]?.on('data', (chunk: Buffer) => (collected[into] += chunk.toString('utf8')));
    collect(2, 'diagnostics');
    if (channelKind === 'fds') {
      collect(3, 'status');
      collect(4, 'stdout');
      collect(5, 'stderr');
    } else {
      const decoder = new FrameDecoder((type, payload) => {
        const into = type === FRAME_STDOUT ? 'stdout' : type === FRAME_STDERR ? 'stderr' : 'status';
        collected[into] += payload.toString('utf8');
      });
      child.stdio[1]?.on('data', (chunk: Buffer) => decoder.push(chunk));
    }
    child.once('error', reject);
    child.once('close', (code) => {
      if (collected.diagnostics !== '') collected.stderr += `[init diagnostics] ${collected.diagnostics}`;
      resolve({
        lines: collected.status.split('\n').filter((line) => line !== ''),
        stdout: collected.stdout,
        stderr: collected.stderr,
        code,
      });
    });
  });
}

function finalReport(output: InitOutput) {
  expect(output.lines[0]).toBe('{"event":"started"}');
  expect(output.lines).toHaveLength(2);
  return parseInitReport(output.lines[1]);
}

const isRoot = process.getuid?.() === 0;
const inits: Array<[string, () => Promise<InitProgram>]> = [
  ['init.py', () => Promise.resolve({ kind: 'python', python: '/usr/bin/python3' })],
  [
    'compiled init.c',
    async () => {
      const init = await sandboxInit();
      if (init.kind !== 'compiled') throw new Error(`this machine must be able to build the compiled init: ${init.describe}`);
      const file = path.join(binaryDir, 'init');
      writeFileSync(file, init.binary, { mode: 0o555, flag: 'wx' });
      return { kind: 'compiled', path: file };
    },
  ],
];
let binaryDir: string;
beforeAll(() => {
  binaryDir = mkdtempSync(path.join(tmpdir(), 'crucible-test-init-'));
});
afterAll(() => rmSync(binaryDir, { recursive: true, force: true }));

describe.each(inits)('%s, run directly', (_name, makeProgram) => {
  let program: InitProgram;
  beforeAll(async () => {
    program = await makeProgram();
  });

  describe.each(['fds', 'framed'] as const)('channel %s', (channel) => {
    test('exit(139) is an exit code, SIGSEGV a signal; output goes where it belongs', async () => {
      const exited = await runInit(program, channel, ['/bin/sh', '-c', 'echo out; echo err >&2; exit 139']);
      expect(exited.code).toBe(0);
      expect(exited.stdout).toBe('out\n');
      expect(exited.stderr).toBe('err\n');
      expect(finalReport(exited)).toMatchObject({ kind: 'finished', exitCode: 139, signalNumber: null, leftovers: 0 });

      const killed = await runInit(program, channel, ['/bin/sh', '-c', 'kill -SEGV $$']);
      expect(finalReport(killed)).toMatchObject({ kind: 'finished', exitCode: null, signalNumber: 11 });
    });

    test('rusage and wall time of the program', async () => {
      const busy = await runInit(program, channel, [
        '/usr/bin/python3',
        '-c',
        'import time\nt=time.process_time()\nwhile time.process_time()-t<0.2: pass\nx=b"x"*(40*1024*1024)',
      ]);
      const report = finalReport(busy);
      if (report.kind !== 'finished') throw new Error('not finished');
      expect(report.cpuTimeMs).toBeGreaterThanOrEqual(150);
      expect(report.wallTimeMs).toBeGreaterThanOrEqual(150);
      expect(report.maxRssKb).toBeGreaterThan(40 * 1024);
    });

    test('a program that cannot start is an execError, with no started event', async () => {
      const output = await runInit(program, channel, ['/nonexistent/program']);
      expect(output.code).toBe(0);
      expect(output.lines).toHaveLength(1);
      const line = parseInitLine(output.lines[0]);
      expect(line.kind).toBe('exec_failed');
      expect(line.kind === 'exec_failed' && line.message).toMatch(/^\/nonexistent\/program: .*No such file or directory/);
    });

    test('the program gets its rlimits, no_new_privs, default signals, an empty mask and none of the init fds', async () => {
      const output = await runInit(
        program,
        channel,
        ['/bin/sh', '-c', 'ulimit -n; ulimit -c; grep -E "^(NoNewPrivs|SigBlk|SigIgn):" /proc/self/status; ls /proc/$$/fd'],
        {
          rlimits: [
            { name: 'NOFILE', soft: 100, hard: 100 },
            { name: 'CORE', soft: 0, hard: 0 },
          ],
        },
      );
      expect(finalReport(output)).toMatchObject({ exitCode: 0 });
      const [openFiles, core, ...rest] = output.stdout.trim().split('\n');
      expect([openFiles, core]).toEqual(['100', '0']);
      expect(rest.slice(0, 3)).toEqual(['SigBlk:\t0000000000000000', 'SigIgn:\t0000000000000000', 'NoNewPrivs:\t1']);
      // The shell's fds: 0, 1, 2 (and whatever the test runner itself leaked into its children,
      // always a high number), but no status fd and no pipe of the init, which would be low.
      expect(
        rest
          .slice(3)
          .map(Number)
          .filter((fd) => fd > 2 && fd < 10),
      ).toEqual([]);
    });

    test('as a subreaper, a daemonised leftover is killed before the report', async () => {
      const marker = path.join(binaryDir, `pidfile-${channel}-${Date.now()}`);
      // Double fork + setsid: the grandchild is reparented to the init (the subreaper).
      const output = await runInit(
        program,
        channel,
        [
          '/usr/bin/python3',
          '-c',
          `import os,time\nif os.fork()==0:\n  os.setsid()\n  if os.fork()==0:\n    open(${JSON.stringify(marker)},'w').write(str(os.getpid()))\n    time.sleep(60)\n  os._exit(0)\nos.wait()\nwhile not os.path.exists(${JSON.stringify(marker)}): time.sleep(0.01)\ntime.sleep(0.05)`,
        ],
        { subreaper: true },
      );
      const report = finalReport(output);
      expect(report).toMatchObject({ exitCode: 0 });
      expect(report.kind === 'finished' && report.leftovers).toBeGreaterThanOrEqual(1);
      const pid = Number(readFileSync(marker, 'utf8'));
      await waitUntil(() => !isAlive(pid), 2000, 'the daemon to be gone');
    });

    test('a large output arrives whole, in order', async () => {
      const output = await runInit(program, channel, [
        '/usr/bin/python3',
        '-c',
        'import sys\nfor i in range(20000): sys.stdout.write("%06d\\n" % i)',
      ]);
      expect(finalReport(output)).toMatchObject({ exitCode: 0 });
      const lines = output.stdout.split('\n');
      expect(lines).toHaveLength(20001);
      expect(lines[19999]).toBe('019999');
    });

    (isRoot ? test : test.skip)('with --user, the program runs as that user with an empty bounding set', async () => {
      const output = await runInit(program, channel, ['/bin/sh', '-c', 'id -u; id -g; id -G; grep ^CapBnd: /proc/self/status'], {
        user: { uid: 65534, gid: 65534 },
      });
      expect(finalReport(output)).toMatchObject({ exitCode: 0 });
      expect(output.stdout).toBe('65534\n65534\n65534\nCapBnd:\t0000000000000000\n');
    });
  });

  test('a malformed invocation fails with a non-zero exit and no report', async () => {
    const start = program.kind === 'compiled' ? [program.path] : [program.python, '-I', '-S', '-c', SANDBOX_INIT_SOURCE];
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(start[0], [...start.slice(1), '--report=fds:3,4,5', '--rlimits=BOGUS:1:1', '--', '/bin/true'], {
        stdio: 'ignore',
      });
      child.once('close', resolve);
    });
    expect(code).toBe(1);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

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

  test('a name may be a relative path (a class of a package)', () => {
    const assembler = new ArtefactAssembler(1000);
    assembler.push(FRAME_ARTEFACT_NAME, Buffer.from('-app/Main.class'), true);
    assembler.push(FRAME_ARTEFACT_DATA, Buffer.from('class'), true);
    expect(assembler.artefacts()).toEqual([{ name: 'app/Main.class', executable: false, content: Buffer.from('class') }]);
  });

  test.each(['x../etc', 'x..', 'x.', '-/etc/passwd', '-a/../../b', '-a//b', '-a/', 'x', 'xa\0b'])('refuses the name frame %j', (header) => {
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
