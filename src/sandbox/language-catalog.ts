/**
 * What the registry's languages look like to a client, and whether each one works on this host:
 * every toolchain is probed once, when the catalog is made (its binaries present and executable,
 * its version command run), so `GET /v1/languages` lists a language whose toolchain is missing as
 * unavailable, with the reason, and a submission in it is refused up front instead of failing in
 * the worker. The data is the registry's (languages.ts): there is no second table.
 */
import { execFile } from 'node:child_process';
import { promises as fs, constants as fsConstants } from 'node:fs';
import type { Language, Limits } from '../domain/evaluation';
import { errorMessage } from './engine';
import { createLanguageRegistry, type LanguageRegistry, type LanguageRuntime } from './languages';
import { SANDBOX_PATH } from './layout';

/** One language as `GET /v1/languages` shows it. */
export interface LanguageDescription {
  id: Language;
  name: string;
  /** First line of the toolchain's version output; null when it could not be run. */
  version: string | null;
  fileName: string;
  /** The compiler's argv (with the compile limits), or null for an interpreted language. */
  compileCommand: string[] | null;
  /** The program's argv with the default limits (the JVM's heap flag follows memoryMb). */
  runCommand: string[];
  /** The program's limits where a submission gives none. */
  defaultLimits: Limits;
  /** The compile stage's own limits (not settable by a submission), or null. */
  compileLimits: Limits | null;
  available: boolean;
  /** Why the language cannot be used here (only when unavailable). */
  unavailableReason?: string;
}

/** How long a toolchain's version command may take (javac starts a JVM: ~0.5 s, more on a busy host). */
const PROBE_TIMEOUT_MS = 15_000;
const PROBE_OUTPUT_BYTES = 64 * 1024;

export class LanguageCatalog {
  private readonly descriptions: Promise<readonly LanguageDescription[]>;

  /** Starts probing every language at once; the answers wait for the probes. */
  constructor(readonly registry: LanguageRegistry) {
    this.descriptions = Promise.all(Object.values(registry).map(describe));
  }

  /** Every language, in the registry's order. */
  list(): Promise<readonly LanguageDescription[]> {
    return this.descriptions;
  }

  async describe(language: Language): Promise<LanguageDescription> {
    const found = (await this.descriptions).find((description) => description.id === language);
    if (found === undefined) throw new Error(`no language ${JSON.stringify(language)} in the registry`);
    return found;
  }
}

let defaultCatalog: LanguageCatalog | undefined;

/** The catalog of the default registry (Debian's toolchains), probed once per process. */
export function defaultLanguageCatalog(): LanguageCatalog {
  return (defaultCatalog ??= new LanguageCatalog(createLanguageRegistry()));
}

async function describe(runtime: LanguageRuntime): Promise<LanguageDescription> {
  const probe = await probeToolchain(runtime);
  return {
    id: runtime.language,
    name: runtime.name,
    version: probe.version,
    fileName: runtime.fileName,
    compileCommand: runtime.compile === null ? null : runtime.compile.command(runtime.compile.limits),
    runCommand: runtime.command(runtime.defaultLimits),
    defaultLimits: runtime.defaultLimits,
    compileLimits: runtime.compile?.limits ?? null,
    available: probe.problem === null,
    ...(probe.problem === null ? {} : { unavailableReason: probe.problem }),
  };
}

/** The toolchain's binaries exist and are executable, and its version command runs and succeeds. */
export async function probeToolchain(runtime: LanguageRuntime): Promise<{ version: string | null; problem: string | null }> {
  for (const binary of runtime.binaries) {
    try {
      await fs.access(binary, fsConstants.X_OK);
    } catch (error) {
      return { version: null, problem: `${binary} is not an executable file here: ${errorMessage(error)}` };
    }
  }
  const [executable, ...args] = runtime.versionCommand;
  return new Promise((resolve) => {
    execFile(
      executable!,
      args,
      { env: { PATH: SANDBOX_PATH, LANG: 'C.UTF-8' }, timeout: PROBE_TIMEOUT_MS, maxBuffer: PROBE_OUTPUT_BYTES, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const version = firstLine(stdout) ?? firstLine(stderr);
        if (error) {
          resolve({ version, problem: `${runtime.versionCommand.join(' ')} failed: ${errorMessage(error).split('\n')[0]}` });
        } else {
          resolve({ version, problem: null });
        }
      },
    );
  });
}

function firstLine(text: string): string | null {
  const line = text
    .split('\n')
    .map((candidate) => candidate.trim())
    .find((candidate) => candidate !== '');
  return line === undefined ? null : line.slice(0, 200);
}
