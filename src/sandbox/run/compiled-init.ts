/**
 * Which init runs inside the sandboxes: the compiled one (init.c) when a C compiler can build it,
 * else the Python one (init.py), which needs nothing but the interpreter. Both speak the same
 * protocol (init.ts); the compiled one saves a second Python start-up (20-30 ms) in every run.
 *
 * Where the binary comes from, first found wins (decided once per process and settings):
 * 1. a prebuilt `init-<hash>.static|.dynamic` next to init.c (the production build makes it,
 *    scripts/build.ts), when its hash matches init.c's;
 * 2. a cache dir of the service's own (default <os tmp>/crucible-init-<uid>, created 0700 and
 *    owned by the service; a dir there that is a link, or someone else's, or open to others is
 *    not used), holding the binary under the same name;
 * 3. compiling it there: `cc -O2 -static` when the static C library is installed, else dynamic
 *    against the host's C library, which every sandbox binds read-only.
 * The binary's bytes are read once and handed to each engine, which puts them into the sandbox
 * itself (bwrap: --ro-bind-data from an fd; gVisor: the bundle; process: a root-owned file in the
 * run dir), so no path the sandbox could see or race is shared with the host.
 *
 * Nothing here rejects: a missing compiler or a failed compile is the Python init, with the reason
 * in `describe` (check() and /readyz show it).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errorMessage } from '../engine';
import { isErrno } from '../host/fs';

export type SandboxInit = { kind: 'compiled'; binary: Buffer; describe: string } | { kind: 'python'; describe: string };

/** 'auto': the compiled init when it can be built; 'python': always init.py. */
export type InitMode = 'auto' | 'python';

export interface InitSettings {
  mode?: InitMode;
  /** C compiler; default the first of DEFAULT_COMPILERS that exists. */
  compilerPath?: string;
  /** Where compiled inits are kept; default <os tmp>/crucible-init-<uid>. */
  cacheDir?: string;
}

export const DEFAULT_COMPILERS = ['/usr/bin/cc', '/usr/bin/gcc'] as const;
const COMPILE_TIMEOUT_MS = 60_000;
/** -s: no symbols (a smaller binary to copy into every sandbox). */
const BASE_FLAGS = ['-O2', '-s', '-std=c99', '-Wall'];

export const INIT_C_PATH = path.join(__dirname, 'init.c');

export class InitCompileError extends Error {
  override readonly name = 'InitCompileError';
}

/** How the binary is linked, part of its file name. */
type Linkage = 'static' | 'dynamic';

/** The cache key: init.c's text, the machine's architecture (a cache dir may be shared by arches). */
export function initSourceHash(source: string = readFileSync(INIT_C_PATH, 'utf8')): string {
  return createHash('sha256').update(source).update(`\0${process.arch}`).digest('hex').slice(0, 24);
}

export function compiledInitFileName(hash: string, linkage: Linkage): string {
  return `init-${hash}.${linkage}`;
}

const resolved = new Map<string, Promise<SandboxInit>>();

/** The init for these settings: resolved once per process (engines with equal settings share it). */
export function sandboxInit(settings: InitSettings = {}): Promise<SandboxInit> {
  const key = JSON.stringify([settings.mode ?? 'auto', settings.compilerPath ?? '', settings.cacheDir ?? '']);
  let found = resolved.get(key);
  if (found === undefined) {
    found = resolveInit(settings);
    resolved.set(key, found);
  }
  return found;
}

async function resolveInit(settings: InitSettings): Promise<SandboxInit> {
  if (settings.mode === 'python') return { kind: 'python', describe: 'init=python (configured)' };
  try {
    const source = await fs.readFile(INIT_C_PATH, 'utf8');
    const hash = initSourceHash(source);
    const prebuilt = await readCompiled(path.dirname(INIT_C_PATH), hash, { ownedByMe: false });
    if (prebuilt !== null) return compiled(prebuilt, 'prebuilt');
    const cacheDir = await usableCacheDir(settings.cacheDir ?? defaultCacheDir());
    const cached = await readCompiled(cacheDir, hash, { ownedByMe: true });
    if (cached !== null) return compiled(cached, 'cached');
    const compiler = settings.compilerPath ?? (await firstExecutable(DEFAULT_COMPILERS));
    if (compiler === null) {
      return { kind: 'python', describe: `init=python (no C compiler: ${DEFAULT_COMPILERS.join(', ')} missing)` };
    }
    const made = await compileInit(compiler, INIT_C_PATH, cacheDir, hash);
    return compiled(made, `compiled by ${compiler}`);
  } catch (error) {
    return { kind: 'python', describe: `init=python (the C init could not be built: ${errorMessage(error).slice(0, 300)})` };
  }
}

/**
 * The production build's step: init.c compiled into `dir` (where init.c is copied) under the name
 * resolveInit looks for first. Returns what it did, for the build's summary; never fails the build.
 */
export async function prebuildInit(dir: string): Promise<string> {
  const compiler = await firstExecutable(DEFAULT_COMPILERS);
  if (compiler === null) return `sandbox init not prebuilt (no C compiler: ${DEFAULT_COMPILERS.join(', ')}; compiled at start or init.py)`;
  try {
    const made = await compileInit(compiler, INIT_C_PATH, dir, initSourceHash());
    return `sandbox init prebuilt (${made.linkage}, ${Math.round(made.binary.length / 1024)} KiB)`;
  } catch (error) {
    return `sandbox init not prebuilt (${errorMessage(error).slice(0, 300)}; compiled at start or init.py)`;
  }
}

function compiled(found: { binary: Buffer; linkage: Linkage }, origin: string): SandboxInit {
  return { kind: 'compiled', binary: found.binary, describe: `init=C (${found.linkage}, ${origin})` };
}

function defaultCacheDir(): string {
  return path.join(tmpdir(), `crucible-init-${process.getuid?.() ?? 'user'}`);
}

/**
 * The cache dir, or, when someone else holds its name (a link, another owner), a fresh private
 * temp dir of this process: the compile then happens once per start instead of once per machine.
 */
async function usableCacheDir(dir: string): Promise<string> {
  try {
    return await privateCacheDir(dir);
  } catch (error) {
    if (!(error instanceof InitCompileError)) throw error;
    return fs.mkdtemp(path.join(tmpdir(), 'crucible-init-'));
  }
}

/**
 * `dir`, created 0700 if missing; an existing one must be a real directory (not a link), owned by
 * this process's uid and closed to everyone else, or nobody could trust what is in it.
 */
export async function privateCacheDir(dir: string): Promise<string> {
  try {
    await fs.mkdir(dir, { mode: 0o700 });
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
  }
  const stats = await fs.lstat(dir);
  const uid = process.getuid?.();
  if (!stats.isDirectory()) throw new InitCompileError(`init cache ${dir} is not a directory (a link?)`);
  if (uid !== undefined && stats.uid !== uid) throw new InitCompileError(`init cache ${dir} is owned by uid ${stats.uid}, not ${uid}`);
  if ((stats.mode & 0o077) !== 0)
    throw new InitCompileError(`init cache ${dir} is open to others (mode ${(stats.mode & 0o777).toString(8)})`);
  return dir;
}

/** The binary for `hash` in `dir`, if there is one: a regular file (never a link). */
async function readCompiled(
  dir: string,
  hash: string,
  { ownedByMe }: { ownedByMe: boolean },
): Promise<{ binary: Buffer; linkage: Linkage } | null> {
  for (const linkage of ['static', 'dynamic'] as const) {
    const file = path.join(dir, compiledInitFileName(hash, linkage));
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ELOOP')) continue;
      throw error;
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) continue;
      if (ownedByMe && stats.uid !== process.getuid?.()) continue;
      return { binary: await handle.readFile(), linkage };
    } finally {
      await handle.close();
    }
  }
  return null;
}

/**
 * Compiles init.c into `dir` as init-<hash>.<linkage>: statically where the static C library is
 * installed, else dynamically. Written under a temporary name and renamed, so a reader never
 * sees half a binary. Returns the bytes.
 */
export async function compileInit(
  compiler: string,
  sourcePath: string,
  dir: string,
  hash: string,
): Promise<{ binary: Buffer; linkage: Linkage }> {
  const failures: string[] = [];
  for (const linkage of ['static', 'dynamic'] as const) {
    const temporary = path.join(dir, `.init-${randomBytes(6).toString('hex')}`);
    const flags = linkage === 'static' ? [...BASE_FLAGS, '-static'] : BASE_FLAGS;
    try {
      await run(compiler, [...flags, '-o', temporary, sourcePath]);
      const target = path.join(dir, compiledInitFileName(hash, linkage));
      await fs.chmod(temporary, 0o555);
      await fs.rename(temporary, target);
      const binary = await fs.readFile(target);
      return { binary, linkage };
    } catch (error) {
      failures.push(`${linkage}: ${errorMessage(error)}`);
      await fs.rm(temporary, { force: true });
    }
  }
  throw new InitCompileError(`${compiler} could not build ${path.basename(sourcePath)}: ${failures.join('; ')}`);
}

function run(executable: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // A minimal environment: the compiler needs PATH for its own helpers (as, ld), nothing else of ours.
    execFile(executable, args, { env: { PATH: '/usr/bin:/bin', LANG: 'C' }, timeout: COMPILE_TIMEOUT_MS }, (error, _stdout, stderr) => {
      if (error)
        reject(
          new InitCompileError(`${error.message.split('\n')[0]} ${stderr.trim().split('\n').slice(-3).join(' | ')}`, { cause: error }),
        );
      else resolve();
    });
  });
}

async function firstExecutable(candidates: readonly string[]): Promise<string | null> {
  for (const candidate of candidates) {
    try {
      await fs.access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}
