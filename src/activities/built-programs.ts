/**
 * A bundle's built programs between its activities: `prepareBundle` builds each once and stores it
 * (src/db/builds.ts), and every `runCase` reads it back, from this worker's small cache when a
 * case of the same evaluation ran here before, else from PostgreSQL (any worker may run a case).
 */
import type { BuildRole, BuildStore, StoredBuild } from '../db/builds';
import type { Language } from '../domain/evaluation';
import type { BuiltProgram, CompilationResult } from '../sandbox/engine';

/** Enough for the bundles one worker runs at once; a compiled program is a few MB at most. */
const CACHED_BUILDS = 16;

export class BuiltPrograms {
  private readonly cache = new Map<string, BuiltProgram>();

  constructor(private readonly store: BuildStore) {}

  async save(evaluationId: string, run: { workflowId: string; runId: string }, role: BuildRole, program: BuiltProgram): Promise<void> {
    await this.store.save(evaluationId, run, role, toStored(program));
    this.remember(`${evaluationId}/${role}`, program);
  }

  /** The stored build, or null when none was stored (the evaluation was not prepared, or has no checker). */
  async load(evaluationId: string, role: BuildRole, language: Language): Promise<BuiltProgram | null> {
    const key = `${evaluationId}/${role}`;
    const cached = this.cache.get(key);
    if (cached) {
      // Most recently used last, so the oldest entry is the one dropped.
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    const stored = await this.store.load(evaluationId, role);
    if (stored === null) return null;
    const program = fromStored(stored, language);
    this.remember(key, program);
    return program;
  }

  private remember(key: string, program: BuiltProgram): void {
    this.cache.set(key, program);
    while (this.cache.size > CACHED_BUILDS) this.cache.delete(this.cache.keys().next().value!);
  }
}

function toStored(program: BuiltProgram): StoredBuild {
  return {
    entryPoint: program.entryPoint,
    files: program.files.map((file) => ({ path: file.path, content: file.content, executable: file.executable })),
    compilation: program.compilation ? { ...program.compilation } : null,
  };
}

function fromStored(stored: StoredBuild, language: Language): BuiltProgram {
  return {
    language,
    entryPoint: stored.entryPoint,
    files: stored.files,
    ...(stored.compilation ? { compilation: stored.compilation as unknown as CompilationResult } : {}),
  };
}
