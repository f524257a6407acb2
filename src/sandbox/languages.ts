/**
 * Languages as data: what file a submission is written to, how it is compiled (C, C++, Go, Java)
 * and started, what of the host its toolchain needs, how much its runtime costs, and its default
 * limits. Adding a language is adding one entry to `createLanguageRegistry`; the API's
 * `GET /v1/languages`, the submission check and the sandbox all read this one table.
 *
 * Commands run inside the sandbox with the work dir as cwd, so they name files relatively. A
 * command is given the stage's files (ProgramFiles): a multi-file submission's entry point and
 * every file placed with it; without them it is the single-file command (`fileName` alone).
 * Toolchains are named by absolute path: the sandbox has no shell and PATH lookup would depend on
 * what happens to be bound. A compiled program is started as `./main` (or by the JVM): the
 * compile stage leaves its artefacts in the work dir of a fresh sandbox for the run stage.
 */
import { lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { LIMIT_DEFAULTS, type Language, type Limits } from '../domain/evaluation';
import { MAX_DEPTH } from '../domain/submission-files';
import { SandboxInfrastructureError } from './engine';
import {
  DEFAULT_BASH_PATH,
  DEFAULT_GCC_PATH,
  DEFAULT_GO_PATH,
  DEFAULT_GXX_PATH,
  DEFAULT_JAVAC_PATH,
  DEFAULT_JAVA_PATH,
  DEFAULT_PYTHON_PATH,
} from '../config/defaults';
import { SYSTEM_DIRECTORIES } from './layout';

/** Where the program's home and temp dir are (inside the sandbox, or the process engine's host dir). */
export interface StageDirectories {
  home: string;
  tmp: string;
}

/** What the run pipeline needs to know about a program to fence and judge it (a stage's runtime). */
export interface StageRuntime {
  /**
   * Host paths (directories or files) the toolchain needs beyond the system directories
   * (/usr, /lib, ...), bound read-only at the same path. Computed once, with the registry.
   */
  readonly hostPaths: readonly string[];
  /**
   * Tasks (threads) the runtime starts by itself, which are not charged against the user's
   * maxProcesses: node starts ~11 threads (V8 platform workers, libuv pool) before running a
   * line, the JVM ~20, the Go runtime a few per GOMAXPROCS.
   */
  readonly runtimeTasks: number;
  /**
   * Whether RLIMIT_AS is a usable memory fence when no memory cgroup is available. V8, the JVM
   * and Go reserve far more address space than they use, so they cannot start under a realistic
   * RLIMIT_AS; they are fenced by their own heap flags instead.
   */
  readonly addressSpaceLimitWorks: boolean;
  /** stderr text meaning the program ran out of memory (used when it exited abnormally). */
  readonly outOfMemoryPatterns: readonly RegExp[];
  /**
   * stderr text meaning a process the program started was stopped by the CPU rlimit (used when
   * the program exited abnormally). RLIMIT_CPU is per process: gcc's driver survives the SIGXCPU
   * of cc1plus and exits with an error, and its tick-sampled rusage can stay under the limit.
   */
  readonly cpuLimitPatterns?: readonly RegExp[];
  /** Variables added to the sandbox's environment (PATH, HOME, TMPDIR, LANG) for this stage. */
  environment(limits: Limits, directories: StageDirectories): Record<string, string>;
}

/**
 * The files a command is about, as paths relative to the work dir: the entry point and every file
 * placed with it (a compile stage: the sources; a run stage: the sources of an interpreted
 * language, or the compile stage's artefacts). Without it, a command is the single-file one: the
 * language's `fileName` alone.
 */
export interface ProgramFiles {
  /** The submission's entry point (a source path, in the run stage of a compiled language too). */
  readonly entryPoint: string;
  /** Every file placed in the work dir for the stage, the entry point among them when it is a source. */
  readonly paths: readonly string[];
}

/**
 * The compile stage of a compiled language: run in the same engine as the program, in a sandbox
 * of its own, under these limits; its artefacts are carried to the run stage's fresh sandbox.
 */
export interface CompileStep extends StageRuntime {
  /** argv of the compiler, run with the work dir (holding the source files) as cwd. */
  command(limits: Limits, program?: ProgramFiles): string[];
  /**
   * The files the run needs: exact names, or `*.suffix` for every file with that suffix (Java's
   * classes, one per class). A compile that leaves none failed.
   */
  readonly artefacts: readonly string[];
  /**
   * How deep in the work dir artefacts are looked for: 1 (the default) is its top level only;
   * Java's classes of a package are in the package's directory (`app/Main.class`).
   */
  readonly artefactDepth?: number;
  /** The compile stage's own limits (the submission's limits are the program's). */
  readonly limits: Limits;
}

export interface LanguageRuntime extends StageRuntime {
  readonly language: Language;
  /** Human name, for `GET /v1/languages`. */
  readonly name: string;
  /** Name of the source file inside the work dir. */
  readonly fileName: string;
  /** The toolchain's binaries (absolute real paths): what must exist and run for the language to be available. */
  readonly binaries: readonly string[];
  /** argv run on the host at start-up: its first line of output is the version shown to clients. */
  readonly versionCommand: readonly string[];
  /** The compile stage, or null for an interpreted language. */
  readonly compile: CompileStep | null;
  /**
   * argv of the program (the compiled artefact, or the interpreter on the entry point), with the
   * work dir as cwd. `program`: the entry point and the files of the run stage (default: the
   * single file `fileName`).
   */
  command(limits: Limits, program?: ProgramFiles): string[];
  /** The program's limits where a submission gives none: LIMIT_DEFAULTS, raised where this runtime needs more. */
  readonly defaultLimits: Limits;
}

export type LanguageRegistry = Readonly<Record<Language, LanguageRuntime>>;

/** The toolchains' binaries; every field optional: the defaults are Debian's packages. */
export interface LanguageRegistryOptions {
  /** Debian's python: fast to start, and inside /usr, which every sandbox binds. */
  pythonPath?: string;
  /** Defaults to the node running this service. */
  nodePath?: string;
  gccPath?: string;
  gxxPath?: string;
  goPath?: string;
  javacPath?: string;
  javaPath?: string;
  bashPath?: string;
}

export { DEFAULT_PYTHON_PATH };

/** The compile stage's output cap: a compiler's messages, bounded (the first errors are the useful ones). */
const COMPILE_OUTPUT_BYTES = 64 * 1024;

/**
 * C and C++: gcc's passes (cc1/cc1plus, as, collect2, ld) are single-threaded processes; 10 s of
 * CPU and 512 MB are plenty for a judge's single file and stop a template or constexpr explosion.
 */
const GCC_COMPILE_LIMITS: Limits = {
  cpuTimeMs: 10_000,
  wallTimeMs: 20_000,
  memoryMb: 512,
  maxProcesses: 16,
  maxOutputBytes: COMPILE_OUTPUT_BYTES,
};
/** Go: `go build` runs compile and link, each a Go program with its own threads; ~1 s for hello world here. */
const GO_COMPILE_LIMITS: Limits = {
  cpuTimeMs: 20_000,
  wallTimeMs: 30_000,
  memoryMb: 1024,
  maxProcesses: 32,
  maxOutputBytes: COMPILE_OUTPUT_BYTES,
};
/** Java: javac is a JVM (~2 s for hello world on 2 busy cores), heap capped below the memory limit. */
const JAVAC_COMPILE_LIMITS: Limits = {
  cpuTimeMs: 20_000,
  wallTimeMs: 30_000,
  memoryMb: 1024,
  maxProcesses: 8,
  maxOutputBytes: COMPILE_OUTPUT_BYTES,
};

/**
 * The JVM and Go runtimes need more than LIMIT_DEFAULTS to run an ordinary program:
 * - Java: the JVM's heap, metaspace, code cache and thread stacks come to ~60 MB for hello world
 *   and its JIT compiler threads burn CPU beside the program, so 512 MB, twice the CPU time and
 *   1.5× the wall time (start-up ~0.5 s);
 * - Go: a static binary that starts fast, but its garbage collector lets the heap grow to twice
 *   the live data before collecting, so 512 MB (GOMEMLIMIT makes it collect harder near the limit).
 * Threads the runtimes start by themselves are not charged to maxProcesses (runtimeTasks).
 */
const JAVA_DEFAULT_LIMITS: Limits = { ...LIMIT_DEFAULTS, memoryMb: 512, cpuTimeMs: 10_000, wallTimeMs: 15_000 };
const GO_DEFAULT_LIMITS: Limits = { ...LIMIT_DEFAULTS, memoryMb: 512 };

/** GOMAXPROCS inside the sandbox: the Go runtime's thread count then does not depend on the host's cores. */
const GO_MAX_PROCS = 2;
/** The JVM sizes its GC and JIT thread pools by the processors it sees: fixed, for the same reason. */
const JVM_PROCESSORS = 2;

const noEnvironment = (): Record<string, string> => ({});

export function createLanguageRegistry(options: LanguageRegistryOptions = {}): LanguageRegistry {
  const pythonPath = resolveBinary(options.pythonPath ?? DEFAULT_PYTHON_PATH);
  const nodePath = resolveBinary(options.nodePath ?? process.execPath);
  const gccPath = resolveBinary(options.gccPath ?? DEFAULT_GCC_PATH);
  const gxxPath = resolveBinary(options.gxxPath ?? DEFAULT_GXX_PATH);
  const goPath = resolveBinary(options.goPath ?? DEFAULT_GO_PATH);
  const javacPath = resolveBinary(options.javacPath ?? DEFAULT_JAVAC_PATH);
  const javaPath = resolveBinary(options.javaPath ?? DEFAULT_JAVA_PATH);
  const bashPath = resolveBinary(options.bashPath ?? DEFAULT_BASH_PATH);
  const nativeProgram = {
    hostPaths: [],
    runtimeTasks: 0,
    addressSpaceLimitWorks: true,
    outOfMemoryPatterns: [/\bstd::bad_alloc\b/],
    environment: noEnvironment,
    command: () => ['./main'],
  };
  const gccCompile = (compiler: string, standard: string, fileName: string, suffixes: readonly string[], extra: string[]): CompileStep => ({
    // -pipe: no temp files between the passes; -lm last, after the objects that need it. Several
    // files: every source file of the language is compiled and linked into one program, and
    // `#include "dir/x.h"` also finds headers relative to the work dir (-iquote .), not only
    // relative to the including file.
    command: (_limits, program = singleFile(fileName)) => [
      compiler,
      `-std=${standard}`,
      '-O2',
      '-pipe',
      ...(program.paths.length > 1 ? ['-iquote', '.'] : []),
      '-o',
      'main',
      ...sourcesOf(program, suffixes),
      ...extra,
    ],
    artefacts: ['main'],
    limits: GCC_COMPILE_LIMITS,
    hostPaths: [],
    runtimeTasks: 0,
    addressSpaceLimitWorks: true,
    outOfMemoryPatterns: [/\bout of memory\b/i, /\bvirtual memory exhausted\b/],
    // strsignal(SIGXCPU) in the driver's "internal compiler error: ... signal terminated program cc1plus".
    cpuLimitPatterns: [/\bCPU time limit exceeded signal terminated program\b/],
    environment: noEnvironment,
  });
  const javaHostPaths = jdkConfigPaths(javaPath);
  const javacHostPaths = jdkConfigPaths(javacPath);
  return {
    python: {
      language: 'python',
      name: 'Python 3',
      fileName: 'main.py',
      binaries: [pythonPath],
      versionCommand: [pythonPath, '--version'],
      compile: null,
      // -I: ignore PYTHON* variables and the user site; -B: no .pyc writes. Several files: -I
      // would also leave the script's directory out of sys.path (-P), so -E -s (the rest of -I),
      // and the entry point's siblings and packages import.
      command: (_limits, program = singleFile('main.py')) => [
        pythonPath,
        ...(program.paths.length > 1 ? ['-E', '-s'] : ['-I']),
        '-B',
        fileArgument(program.entryPoint),
      ],
      hostPaths: interpreterHostPaths(pythonPath, 'prefix'),
      runtimeTasks: 0,
      addressSpaceLimitWorks: true,
      outOfMemoryPatterns: [/^MemoryError\b/m],
      environment: noEnvironment,
      defaultLimits: LIMIT_DEFAULTS,
    },
    javascript: {
      language: 'javascript',
      name: 'JavaScript (Node.js)',
      fileName: 'main.js',
      binaries: [nodePath],
      versionCommand: [nodePath, '--version'],
      compile: null,
      command: (limits, program = singleFile('main.js')) => [
        nodePath,
        `--max-old-space-size=${nodeHeapMb(limits.memoryMb)}`,
        fileArgument(program.entryPoint),
      ],
      hostPaths: interpreterHostPaths(nodePath, 'binary'),
      runtimeTasks: 12,
      addressSpaceLimitWorks: false,
      outOfMemoryPatterns: [/JavaScript heap out of memory/, /^FATAL ERROR: .*Allocation failed/m],
      environment: noEnvironment,
      defaultLimits: LIMIT_DEFAULTS,
    },
    c: {
      language: 'c',
      name: 'C (GCC, C17 with GNU extensions)',
      fileName: 'main.c',
      binaries: [gccPath],
      versionCommand: [gccPath, '--version'],
      compile: gccCompile(gccPath, 'gnu17', 'main.c', C_SOURCE_SUFFIXES, ['-lm']),
      ...nativeProgram,
      outOfMemoryPatterns: [],
      defaultLimits: LIMIT_DEFAULTS,
    },
    cpp: {
      language: 'cpp',
      name: 'C++ (G++, C++17 with GNU extensions)',
      fileName: 'main.cpp',
      binaries: [gxxPath],
      versionCommand: [gxxPath, '--version'],
      compile: gccCompile(gxxPath, 'gnu++17', 'main.cpp', CPP_SOURCE_SUFFIXES, []),
      ...nativeProgram,
      defaultLimits: LIMIT_DEFAULTS,
    },
    go: {
      language: 'go',
      name: 'Go',
      fileName: 'main.go',
      binaries: [goPath],
      versionCommand: [goPath, 'version'],
      compile: {
        // Every .go file of the submission (but tests) as one package main.
        command: (_limits, program = singleFile('main.go')) => [
          goPath,
          'build',
          '-o',
          'main',
          ...sourcesOf(program, ['.go']).filter((file) => !file.endsWith('_test.go')),
        ],
        artefacts: ['main'],
        limits: GO_COMPILE_LIMITS,
        hostPaths: goRootPaths(goPath),
        // go, compile and link: each a Go program with GOMAXPROCS + a few threads.
        runtimeTasks: 48,
        addressSpaceLimitWorks: false,
        outOfMemoryPatterns: [/\bout of memory\b/],
        // The build cache in the sandbox's temp dir (HOME is read-only in spirit); never the
        // network (GOPROXY=off, -mod=mod: no go.mod to resolve); a static binary (no cgo, so no C toolchain at run time).
        environment: (_limits, { tmp }) => ({
          GOCACHE: `${tmp}/go-cache`,
          GOPATH: `${tmp}/go`,
          GOFLAGS: '-mod=mod',
          GOPROXY: 'off',
          GOTOOLCHAIN: 'local',
          CGO_ENABLED: '0',
          GOMAXPROCS: String(GO_MAX_PROCS),
        }),
      },
      command: () => ['./main'],
      hostPaths: [],
      runtimeTasks: 8,
      addressSpaceLimitWorks: false,
      outOfMemoryPatterns: [/^fatal error: runtime: out of memory/m],
      environment: (limits) => ({ GOMAXPROCS: String(GO_MAX_PROCS), GOMEMLIMIT: `${jvmHeapMb(limits.memoryMb)}MiB` }),
      defaultLimits: GO_DEFAULT_LIMITS,
    },
    java: {
      language: 'java',
      name: 'Java (OpenJDK)',
      fileName: 'Main.java',
      binaries: [javacPath, javaPath],
      versionCommand: [javacPath, '-version'],
      compile: {
        command: (limits, program = singleFile('Main.java')) => [
          javacPath,
          ...jvmOptions(limits, '-J').concat('-J-XX:TieredStopAtLevel=1'),
          '-encoding',
          'UTF-8',
          '-d',
          '.',
          ...sourcesOf(program, ['.java']),
        ],
        // A class of `package app;` is app/Main.class.
        artefacts: ['*.class'],
        artefactDepth: MAX_DEPTH,
        limits: JAVAC_COMPILE_LIMITS,
        hostPaths: javacHostPaths,
        runtimeTasks: 32,
        addressSpaceLimitWorks: false,
        outOfMemoryPatterns: [/\bjava\.lang\.OutOfMemoryError\b/],
        environment: noEnvironment,
      },
      command: (limits, program = singleFile('Main.java')) => [
        javaPath,
        ...jvmOptions(limits, ''),
        '-cp',
        '.',
        javaMainClass(program.entryPoint, program.paths),
      ],
      hostPaths: javaHostPaths,
      runtimeTasks: 24,
      addressSpaceLimitWorks: false,
      outOfMemoryPatterns: [/\bjava\.lang\.OutOfMemoryError\b/],
      environment: noEnvironment,
      defaultLimits: JAVA_DEFAULT_LIMITS,
    },
    bash: {
      language: 'bash',
      name: 'Bash',
      fileName: 'main.sh',
      binaries: [bashPath],
      versionCommand: [bashPath, '--version'],
      compile: null,
      // Non-interactive: no rc files; BASH_ENV is not in the sandbox's environment.
      command: (_limits, program = singleFile('main.sh')) => [bashPath, '--norc', '--noprofile', fileArgument(program.entryPoint)],
      hostPaths: interpreterHostPaths(bashPath, 'binary'),
      runtimeTasks: 0,
      addressSpaceLimitWorks: true,
      outOfMemoryPatterns: [/\bcannot allocate\b/, /\bxmalloc\b/],
      environment: noEnvironment,
      defaultLimits: LIMIT_DEFAULTS,
    },
  };
}

/** C sources (gcc compiles a C submission's .c files); a C++ submission's are .cc, .cpp, .cxx. */
const C_SOURCE_SUFFIXES = ['.c'] as const;
const CPP_SOURCE_SUFFIXES = ['.cc', '.cpp', '.cxx'] as const;

function singleFile(fileName: string): ProgramFiles {
  return { entryPoint: fileName, paths: [fileName] };
}

/** A path as a command's argument: one starting with `-` is written `./-x` so that no tool takes it for an option. */
export function fileArgument(file: string): string {
  return file.startsWith('-') ? `./${file}` : file;
}

/**
 * The files a compiler is given: the entry point first (whatever its suffix), then every other
 * file with one of the suffixes, in path order.
 */
export function sourcesOf(program: ProgramFiles, suffixes: readonly string[]): string[] {
  const others = program.paths.filter((file) => file !== program.entryPoint && suffixes.some((suffix) => file.endsWith(suffix))).sort();
  return [program.entryPoint, ...others].map(fileArgument);
}

const JAVA_CLASS_NAME = /^[\p{L}_$][\p{L}\p{N}_$]*(?:\.[\p{L}_$][\p{L}\p{N}_$]*)*$/u;

/**
 * The class the JVM starts for an entry point, found among the compile stage's class files: the
 * entry point's `Main.java` compiled to `Main.class`, or to `app/Main.class` when it declares
 * `package app;`. Where several packages have a class of that name, the one in the entry point's
 * directory, else the top-level one; where none is found (no class files yet, as in the
 * catalog's command), the entry point's path (`app/Main.java` -> `app.Main`). A name that is not a
 * Java class name (it could pass for a JVM option) is the caller's error: RangeError.
 */
export function javaMainClass(entryPoint: string, paths: readonly string[]): string {
  const base = path.posix.basename(entryPoint).replace(/\.java$/, '');
  const candidates = paths.filter((file) => path.posix.basename(file) === `${base}.class`);
  const directory = path.posix.dirname(entryPoint);
  const chosen =
    candidates.length === 1
      ? candidates[0]
      : (candidates.find((file) => path.posix.dirname(file) === directory) ?? candidates.find((file) => !file.includes('/')));
  const className = (chosen ?? entryPoint)
    .replace(/\.(?:class|java)$/, '')
    .split('/')
    .join('.');
  if (!JAVA_CLASS_NAME.test(className)) {
    throw new RangeError(`the Java entry point ${JSON.stringify(entryPoint)} does not name a class (${JSON.stringify(className)})`);
  }
  return className;
}

/**
 * JVM flags for a memory limit: a heap of three quarters of it (the JVM then throws
 * OutOfMemoryError before the cgroup kills it), the serial collector (one GC thread, least
 * footprint), a fixed processor count (thread pools do not grow with the host), and no
 * hsperfdata file in /tmp.
 */
function jvmOptions(limits: Limits, prefix: '' | '-J'): string[] {
  return [`-Xmx${jvmHeapMb(limits.memoryMb)}m`, '-XX:+UseSerialGC', `-XX:ActiveProcessorCount=${JVM_PROCESSORS}`, '-XX:-UsePerfData'].map(
    (flag) => `${prefix}${flag}`,
  );
}

/** Three quarters of the memory limit, at least 16 MB: the heap of a JVM, the soft limit of Go's GC. */
export function jvmHeapMb(memoryMb: number): number {
  return Math.max(16, Math.floor(memoryMb * 0.75));
}

/**
 * The binary's real path: what is bound into the sandbox must be the file itself, not a symlink
 * whose target might not be visible there. A missing binary is left as is: the language is then
 * listed as unavailable (languages-probe.ts), rather than failing at start-up.
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
 * Debian's JDK keeps its configuration (conf/security/java.security and friends) in
 * /etc/java-<n>-openjdk, linked from <jdk>/conf: the JVM does not start without it. Returns the
 * directories outside the system directories that those links point into.
 */
export function jdkConfigPaths(javaBinary: string): string[] {
  const confDir = path.join(path.dirname(path.dirname(javaBinary)), 'conf');
  const found = new Set<string>();
  const visit = (directory: string, depth: number) => {
    let entries: string[];
    try {
      entries = readdirSync(directory);
    } catch {
      return; // no conf dir: nothing to bind (a missing JDK is reported by the probe)
    }
    for (const entry of entries) {
      const full = path.join(directory, entry);
      const stats = lstatSync(full);
      if (stats.isSymbolicLink()) {
        const target = path.resolve(directory, readlinkSync(full));
        if (!isInsideSystemDirectory(path.dirname(target))) found.add(topTwoComponents(target));
      } else if (stats.isDirectory() && depth < 3) {
        visit(full, depth + 1);
      }
    }
  };
  visit(confDir, 0);
  return [...found].sort();
}

/** `/etc/java-17-openjdk/security/java.security` -> `/etc/java-17-openjdk`. */
function topTwoComponents(target: string): string {
  return `/${target.split('/').filter(Boolean).slice(0, 2).join('/')}`;
}

/** A Go toolchain outside the system directories (e.g. /opt/go/bin/go) needs its GOROOT bound. */
function goRootPaths(goBinary: string): string[] {
  return interpreterHostPaths(goBinary, 'prefix');
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

/** Every host path a language's stages bind (for checks of what the sandbox user can read). */
export function hostPathsOf(runtime: LanguageRuntime): string[] {
  return [...runtime.binaries, ...runtime.hostPaths, ...(runtime.compile?.hostPaths ?? [])];
}
