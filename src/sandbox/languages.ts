/**
 * Languages as data: what file a submission is written to, how it is started, and what of the
 * host its interpreter needs. Adding a language is adding one entry to `createLanguageRegistry`.
 *
 * Commands run inside the sandbox with the work dir as cwd, so they name the program file
 * relatively. Interpreters are named by absolute path: the sandbox has no shell and PATH lookup
 * would depend on what happens to be bound.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { Language, Limits } from '../domain/evaluation';
import { SandboxInfrastructureError } from './engine';
import { DEFAULT_PYTHON_PATH } from '../config/defaults';
import { SYSTEM_DIRECTORIES } from './layout';

export interface LanguageRuntime {
  readonly language: Language;
  /** Name of the program file inside the work dir. */
  readonly fileName: string;
  /** argv of the program, run with the work dir as cwd. */
  command(limits: Limits): string[];
  /**
   * Host paths (directories or files) the interpreter needs beyond the system directories
   * (/usr, /lib, ...), bound read-only at the same path. Computed once, with the registry.
   */
  readonly hostPaths: readonly string[];
  /**
   * Tasks (threads) the runtime starts by itself, which are not charged against the user's
   * maxProcesses: node starts ~11 threads (V8 platform workers, libuv pool) before running a line.
   */
  readonly runtimeTasks: number;
  /**
   * Whether RLIMIT_AS is a usable memory fence when no memory cgroup is available. V8 reserves
   * far more address space than it uses, so node cannot start under a realistic RLIMIT_AS; it is
   * fenced by its heap flag instead.
   */
  readonly addressSpaceLimitWorks: boolean;
  /** stderr text meaning the program ran out of memory (used when it exited abnormally). */
  readonly outOfMemoryPatterns: readonly RegExp[];
}

export type LanguageRegistry = Readonly<Record<Language, LanguageRuntime>>;

export interface LanguageRegistryOptions {
  /** Debian's python: fast to start, and inside /usr, which every sandbox binds. */
  pythonPath?: string;
  /** Defaults to the node running this service. */
  nodePath?: string;
}

export { DEFAULT_PYTHON_PATH };

export function createLanguageRegistry(options: LanguageRegistryOptions = {}): LanguageRegistry {
  const pythonPath = resolveBinary(options.pythonPath ?? DEFAULT_PYTHON_PATH);
  const nodePath = resolveBinary(options.nodePath ?? process.execPath);
  return {
    python: {
      language: 'python',
      fileName: 'main.py',
      // -I: ignore PYTHON* variables and the user site; -B: no .pyc writes.
      command: () => [pythonPath, '-I', '-B', 'main.py'],
      hostPaths: interpreterHostPaths(pythonPath, 'prefix'),
      runtimeTasks: 0,
      addressSpaceLimitWorks: true,
      outOfMemoryPatterns: [/^MemoryError\b/m],
    },
    javascript: {
      language: 'javascript',
      fileName: 'main.js',
      command: (limits) => [nodePath, `--max-old-space-size=${nodeHeapMb(limits.memoryMb)}`, 'main.js'],
      hostPaths: interpreterHostPaths(nodePath, 'binary'),
      runtimeTasks: 12,
      addressSpaceLimitWorks: false,
      outOfMemoryPatterns: [/JavaScript heap out of memory/, /^FATAL ERROR: .*Allocation failed/m],
    },
  };
}

/**
 * The binary's real path: what is bound into the sandbox must be the file itself, not a symlink
 * whose target might not be visible there. A missing binary is left as is: the engine then fails
 * the run with an infrastructure error that names it, rather than failing at start-up.
 */
function resolveBinary(binaryPath: string): string {
  try {
    return realpathSync(binaryPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return binaryPath;
    throw error;
  }
}

/**
 * V8's old-space limit: three quarters of the memory limit, so that V8 fails with its own
 * "heap out of memory" message before the cgroup's OOM killer strikes, leaving room for code,
 * stacks and buffers outside the heap.
 */
export function nodeHeapMb(memoryMb: number): number {
  return Math.max(16, Math.floor(memoryMb * 0.75));
}

/** `/x/y/bin/tool` -> `/x/y` (the install prefix); a binary not in a `bin` dir -> its own dir. */
export function installPrefix(binaryPath: string): string {
  const directory = path.dirname(binaryPath);
  return path.basename(directory) === 'bin' ? path.dirname(directory) : directory;
}

/**
 * What must be bound for an interpreter, given its binary's real path, when no system directory
 * that is always bound already contains it:
 * - 'binary': just the file. Right for node: official builds are self-contained, and the install
 *   prefix (e.g. ~/.nvm/versions/node/v20.x) also holds npm's global config (etc/npmrc, which can
 *   carry registry tokens) and globally installed packages, none of which a submission needs.
 * - 'prefix': the install prefix (`/opt/python3.12/bin/python3` -> `/opt/python3.12`), for an
 *   interpreter that loads its standard library from there.
 */
export function interpreterHostPaths(binaryPath: string, scope: 'binary' | 'prefix'): string[] {
  if (isInsideSystemDirectory(path.dirname(binaryPath))) return [];
  if (scope === 'binary') return [binaryPath];
  const prefix = installPrefix(binaryPath);
  // A binary in a top-level dir such as /custom-bin: bind that dir, never the host root.
  return [prefix === '/' ? path.dirname(binaryPath) : prefix];
}

function isInsideSystemDirectory(directory: string): boolean {
  return SYSTEM_DIRECTORIES.some((system) => directory === system || directory.startsWith(`${system}/`));
}

/** The runtime of a language; a language with no entry is a deployment error, not the user's. */
export function runtimeFor(registry: LanguageRegistry, language: Language): LanguageRuntime {
  const runtime = registry[language];
  if (runtime === undefined) {
    throw new SandboxInfrastructureError(`no runtime registered for language ${JSON.stringify(language)}`);
  }
  return runtime;
}
