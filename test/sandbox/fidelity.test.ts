/**
 * Limits and privileges mean the same in every isolating engine: the same program gets the same
 * verdict in bwrap and gVisor (issue 10's discrepancies). A gap an engine cannot close on this
 * machine is a skipped test that says why, never a pass.
 */
import { computeVerdict } from '../../src/domain/verdict';
import { engineDifference } from '../../src/sandbox/engine-differences';
import { describeEachEngine, limiter, runner, text } from './engines';

const TIMEOUT = 60_000;

describeEachEngine('fidelity', (subject) => {
  const run = runner(subject, limiter(1));
  /**
   * A test of an isolating engine, skipped only where the engine has a difference documented in
   * the API (src/sandbox/engine-differences.ts), with its text as the reason.
   */
  const isolatedTest = (gap: string, name: string, body: () => Promise<void>, timeout: number) => {
    const reason = engineDifference(subject.name, gap)?.description;
    if (!subject.isolated) test.skip(name, body, timeout);
    else if (reason !== undefined) test.skip(`${name} (skipped: ${reason})`, body, timeout);
    else test(name, body, timeout);
  };

  describe('privileges a process without capabilities must not have', () => {
    isolatedTest(
      'mknod',
      'creating character and block devices fails with EPERM (FIFOs still work)',
      async () => {
        const code = [
          'import os, stat',
          "for name, mode, dev in [('c', stat.S_IFCHR, os.makedev(1, 3)), ('b', stat.S_IFBLK, os.makedev(8, 0))]:",
          '    try:',
          "        os.mknod('/tmp/' + name, 0o600 | mode, dev)",
          "        print(name, 'created')",
          '    except OSError as error:',
          '        print(name, error.errno)',
          "os.mkfifo('/tmp/fifo')",
          "print('fifo', stat.S_ISFIFO(os.stat('/tmp/fifo').st_mode))",
        ].join('\n');
        expect(text(await run(code)).stdout).toBe('c 1\nb 1\nfifo True\n');
      },
      TIMEOUT,
    );

    isolatedTest(
      'userns',
      'nested user namespaces cannot be created',
      async () => {
        const code = [
          'import ctypes',
          'libc = ctypes.CDLL(None, use_errno=True)',
          'print(libc.unshare(0x10000000), ctypes.get_errno())  # CLONE_NEWUSER',
        ].join('\n');
        expect(text(await run(code)).stdout).toBe('-1 1\n');
      },
      TIMEOUT,
    );

    isolatedTest(
      'oom_score_adj',
      'lowering oom_score_adj fails',
      async () => {
        const code = [
          'try:',
          "    with open('/proc/self/oom_score_adj', 'w') as f:",
          "        f.write('-1000')",
          "    print('lowered')",
          'except OSError as error:',
          '    print(error.errno)',
        ].join('\n');
        expect(text(await run(code)).stdout).toBe('13\n');
      },
      TIMEOUT,
    );
  });

  describe('CPU time is the program’s', () => {
    isolatedTest(
      'worker_threads',
      '24 idle worker threads that exit after 1.5 s are accepted',
      async () => {
        const code = [
          "const { Worker } = require('node:worker_threads');",
          'for (let i = 0; i < 24; i++) {',
          "  new Worker('const t = setInterval(() => {}, 50); setTimeout(() => { clearInterval(t); }, 1500);', { eval: true });",
          '}',
        ].join('\n');
        const result = await run(code, { language: 'javascript', limits: { maxProcesses: 64, wallTimeMs: 10_000 } });
        expect(computeVerdict(result)).toBe('accepted');
      },
      TIMEOUT,
    );

    isolatedTest(
      'forks',
      '200 forks that exit at once are accepted',
      async () => {
        const code = [
          'import os',
          'for _ in range(200):',
          '    pid = os.fork()',
          '    if pid == 0:',
          '        os._exit(0)',
          '    os.waitpid(pid, 0)',
          "print('done')",
        ].join('\n');
        const result = await run(code, { limits: { wallTimeMs: 10_000 } });
        expect(text(result).stdout).toBe('done\n');
        expect(computeVerdict(result)).toBe('accepted');
      },
      TIMEOUT,
    );
  });

  describe('memory includes what the program writes to tmpfs', () => {
    isolatedTest(
      'tmpfs',
      '80 MiB written across /work, /tmp and /dev/shm with memoryMb 32 is memory_limit_exceeded',
      async () => {
        const code = [
          'chunk = b"x" * (1024 * 1024)',
          "for directory in ('/work', '/tmp', '/dev/shm'):",
          '    try:',
          "        with open(directory + '/fill', 'wb') as f:",
          '            for _ in range(27):',
          '                f.write(chunk)',
          '                f.flush()',
          '    except OSError as error:',
          '        print(directory, error.errno, flush=True)',
          "print('wrote everything')",
        ].join('\n');
        const result = await run(code, { limits: { memoryMb: 32, wallTimeMs: 10_000 } });
        expect(computeVerdict(result)).toBe('memory_limit_exceeded');
      },
      TIMEOUT,
    );
  });
});
