/**
 * The libseccomp-generated filter (src/sandbox/host/seccomp-filter.ts): the committed programs
 * are what the generator makes from policy.json (whose numbers matched the hand-assembled filter
 * it replaced, for every syscall number), and loaded by real bwrap they make the denied calls
 * fail with EPERM while Python runs, and kill a process that uses a foreign ABI.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  SECCOMP_FILTER_DIR,
  deniedSyscalls,
  seccompArchitectureOf,
  seccompFilterFor,
  seccompFilterForThisMachine,
  seccompManifest,
  seccompPolicy,
  type SeccompArchitecture,
} from '../../src/sandbox/host/seccomp-filter';

jest.setTimeout(30_000);

const PYTHON = '/usr/bin/python3';
const ARCHITECTURES: SeccompArchitecture[] = ['x86_64', 'aarch64'];
const AUDIT_ARCH: Record<SeccompArchitecture | 'i386', number> = { x86_64: 0xc000003e, aarch64: 0xc00000b7, i386: 0x40000003 };
const X32_SYSCALL_BIT = 0x40000000;
const ALLOW = 0x7fff0000;
const EPERM_ACTION = 0x00050001;
const KILL_PROCESS = 0x80000000;

describe('generated seccomp filters', () => {
  test('the committed .bpf files and manifest are what scripts/seccomp/generate.py makes from policy.json', () => {
    const probe = spawnSync(PYTHON, ['-c', 'import seccomp'], { encoding: 'utf8' });
    if (probe.status !== 0) throw new Error(`${PYTHON} cannot import seccomp: apt-get install python3-seccomp (${probe.stderr.trim()})`);
    const out = mkdtempSync(path.join(tmpdir(), 'crucible-seccomp-'));
    try {
      const generated = spawnSync(PYTHON, [path.join(__dirname, '../../scripts/seccomp/generate.py'), '--out', out], { encoding: 'utf8' });
      expect(generated.stderr).toBe('');
      expect(generated.status).toBe(0);
      for (const file of ['manifest.json', ...ARCHITECTURES.map((arch) => `${arch}.bpf`)]) {
        const committed = readFileSync(path.join(SECCOMP_FILTER_DIR, file));
        // A difference: policy.json changed without regenerating, or another libseccomp version.
        expect({ file, same: readFileSync(path.join(out, file)).equals(committed) }).toEqual({ file, same: true });
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test('every denied name of the policy resolved on each architecture, and only those', () => {
    const manifest = seccompManifest();
    for (const arch of ARCHITECTURES) {
      expect(Object.keys(manifest.architectures[arch].denied).sort()).toEqual(deniedSyscalls(arch).sort());
    }
    expect(deniedSyscalls('aarch64')).not.toContain('iopl'); // x86 only
    expect(seccompPolicy().denied.every((group) => group.why.length > 20)).toBe(true);
  });

  test('this machine gets its own architecture’s filter', () => {
    const arch = seccompArchitectureOf(process.arch);
    expect(seccompFilterForThisMachine()).toEqual(arch === null ? null : seccompFilterFor(arch));
    expect(seccompArchitectureOf('s390x')).toBeNull();
  });

  describe.each(ARCHITECTURES)('%s: decisions for every syscall number', (arch) => {
    const program = seccompFilterFor(arch);
    const denied = new Set(Object.values(seccompManifest().architectures[arch].denied));
    const numbers = Array.from({ length: 1024 }, (_, index) => index);

    test('denied numbers get EPERM, every other number is allowed', () => {
      const wrong = numbers.filter((nr) => runFilter(program, AUDIT_ARCH[arch], nr) !== (denied.has(nr) ? EPERM_ACTION : ALLOW));
      expect(wrong).toEqual([]);
      expect(denied.size).toBeGreaterThanOrEqual(41);
    });

    test('a foreign ABI is killed, whatever the number', () => {
      const foreign = arch === 'x86_64' ? [AUDIT_ARCH.i386, AUDIT_ARCH.aarch64] : [AUDIT_ARCH.x86_64, 0x40000028 /* arm */];
      for (const auditArch of foreign) expect(runFilter(program, auditArch, 39)).toBe(KILL_PROCESS);
      if (arch === 'x86_64') {
        // x32 uses the x86_64 arch value with bit 30 set in the number.
        const x32 = numbers.filter((nr) => runFilter(program, AUDIT_ARCH.x86_64, nr | X32_SYSCALL_BIT) !== KILL_PROCESS);
        expect(x32).toEqual([]);
      }
    });
  });
});

const bwrapMissing = !executable('/usr/bin/bwrap') ? 'bwrap is not installed (apt-get install bubblewrap)' : null;
const archMissing = seccompArchitectureOf(process.arch) === null ? `no filter is generated for ${process.arch}` : null;
const bwrapSkip = bwrapMissing ?? archMissing;

/** Prints "name result errno" per call; refuses to call anything while it holds a capability. */
function probeProgram(calls: Array<[string, number]>): string {
  return [
    'import ctypes, sys',
    'cap_eff = [line for line in open("/proc/self/status") if line.startswith("CapEff:")][0].split()[1]',
    'if int(cap_eff, 16) != 0: sys.exit("refusing: capabilities " + cap_eff)',
    'libc = ctypes.CDLL(None, use_errno=True)',
    `for name, number in ${JSON.stringify(calls)}:`,
    '    ctypes.set_errno(0)',
    '    result = libc.syscall(number, 0, 0, 0, 0, 0)',
    '    print(name, result, ctypes.get_errno())',
  ].join('\n');
}

(bwrapSkip === null ? describe : describe.skip)(`loaded by bwrap --seccomp${bwrapSkip === null ? '' : ` (skipped: ${bwrapSkip})`}`, () => {
  const arch = seccompArchitectureOf(process.arch) as SeccompArchitecture;
  const numbers = seccompManifest().architectures[arch].denied;
  const denied = Object.entries(numbers);
  const getppid = arch === 'x86_64' ? 110 : 173;

  test('every denied call fails with EPERM, ordinary calls work', async () => {
    const code = probeProgram([...denied, ['getppid', getppid]]);
    const generated = await inBwrap(seccompFilterForThisMachine(), ['-I', '-c', code]);
    expect(generated.stderr).toBe('');
    expect(generated.status).toBe(0);
    const expected = [...denied.map(([name]) => `${name} -1 1`), 'getppid 1 0'].join('\n') + '\n';
    expect(generated.stdout).toBe(expected);
  });

  test('without the filter the same calls behave differently (the probe can tell)', async () => {
    const harmless: Array<[string, number]> = [
      ['unshare', numbers.unshare], // unshare(0) changes nothing and succeeds
      ['io_uring_setup', numbers.io_uring_setup], // io_uring_setup(0, NULL): EINVAL or EFAULT
    ];
    const unfiltered = await inBwrap(null, ['-I', '-c', probeProgram(harmless)]);
    expect(unfiltered.stdout).toMatch(/^unshare 0 0\nio_uring_setup -1 (?!1\n)\d+\n$/);
  });

  test('normal Python runs under the filter', async () => {
    const result = await inBwrap(seccompFilterForThisMachine(), [
      '-I',
      '-c',
      'import json, subprocess, threading, hashlib; t = threading.Thread(target=print, args=("thread",)); t.start(); t.join(); print(subprocess.run(["/bin/echo", "child"], capture_output=True).stdout.decode().strip(), hashlib.sha256(b"x").hexdigest()[:8])',
    ]);
    expect(result).toMatchObject({ status: 0, stdout: 'thread\nchild 2d711642\n', stderr: '' });
  });

  (process.arch === 'x64' ? test : test.skip)('x32 and i386 calls kill the process (SIGSYS, bwrap exits 128 + 31)', async () => {
    const x32 = await inBwrap(seccompFilterForThisMachine(), ['-I', '-c', probeProgram([['x32 getpid', X32_SYSCALL_BIT | 39]])]);
    expect(x32).toMatchObject({ status: 159, stdout: '' });
    // int 0x80 with eax = 20 (i386 getpid), from an executable page.
    const i386 = [
      'import ctypes, mmap',
      'code = bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3])',
      'page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)',
      'page.write(code)',
      'address = ctypes.addressof(ctypes.c_char.from_buffer(page))',
      'print("i386 getpid", ctypes.CFUNCTYPE(ctypes.c_int)(address)())',
    ].join('\n');
    expect(await inBwrap(seccompFilterForThisMachine(), ['-I', '-c', i386])).toMatchObject({ status: 159, stdout: '' });
    // The same page without the filter runs (so the kill above is the filter's).
    expect(await inBwrap(null, ['-I', '-c', i386])).toMatchObject({ status: 0, stdout: expect.stringMatching(/^i386 getpid \d+\n$/) });
  });
});

/** Python in a bwrap sandbox (unprivileged, no capabilities, read-only host), with `filter` on fd 3. */
function inBwrap(filter: Buffer | null, pythonArgs: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const bwrapArgs = [
    '--unshare-all',
    '--unshare-user',
    '--uid',
    '65534',
    '--gid',
    '65534',
    '--cap-drop',
    'ALL',
    '--die-with-parent',
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    ...(filter === null ? [] : ['--seccomp', '3']),
    '--',
    PYTHON,
    ...pythonArgs,
  ];
  // As root, bwrap would keep capabilities (and a filter that failed would let the probe's calls
  // reach the host): drop to uid 65534 first, as the engine does.
  const [command, args] =
    process.getuid?.() === 0
      ? ['/usr/bin/setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', '--', '/usr/bin/bwrap', ...bwrapArgs]]
      : ['/usr/bin/bwrap', bwrapArgs];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: {} });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const filterPipe = child.stdio[3] as NodeJS.WritableStream;
    filterPipe.end(filter ?? Buffer.alloc(0));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A classic-BPF interpreter for seccomp programs: the subset libseccomp and seccomp.ts emit. */
function runFilter(program: Buffer, auditArch: number, nr: number): number {
  // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
  const data = Buffer.alloc(64);
  data.writeUInt32LE(nr >>> 0, 0);
  data.writeUInt32LE(auditArch >>> 0, 4);
  let accumulator = 0;
  for (let pc = 0, steps = 0; pc * 8 < program.length && steps < 10_000; pc++, steps++) {
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    const cls = code & 0x07;
    if (code === 0x20)
      accumulator = data.readUInt32LE(k); // ld [k]
    else if (code === 0x06)
      return k; // ret k
    else if (code === 0x05)
      pc += k; // ja
    else if (cls === 0x05) {
      const op = code & 0xf0;
      const taken =
        op === 0x10 ? accumulator === k : op === 0x20 ? accumulator > k : op === 0x30 ? accumulator >= k : (accumulator & k) !== 0;
      pc += taken ? jt : jf;
    } else if (code === 0x54)
      accumulator = (accumulator & k) >>> 0; // and k
    else throw new Error(`unsupported BPF instruction ${code.toString(16)} at ${pc}`);
  }
  throw new Error('BPF program ran off its end');
}

function executable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
