/**
 * A bundle's built programs: the submission's ('program') and its custom checker's ('checker'),
 * built once by the run that owns the evaluation and read back by every case, on any worker. The
 * files are stored as one byte string with a manifest, so a compiled program of many files (Java
 * classes) is one row.
 */
import type { Db } from './client';
import type { Prisma } from '../generated/prisma/client';
import { bytes, claimOrVerify, type RunRef } from './evaluations';

export const BUILD_ROLES = ['program', 'checker'] as const;
export type BuildRole = (typeof BUILD_ROLES)[number];

export interface StoredBuildFile {
  path: string;
  content: Buffer;
  executable: boolean;
}

export interface StoredBuild {
  entryPoint: string;
  files: StoredBuildFile[];
  /** The compile stage's figures; null for an interpreted language. */
  compilation: Record<string, unknown> | null;
}

interface ManifestEntry {
  path: string;
  executable: boolean;
  offset: number;
  length: number;
}

export class BuildStore {
  constructor(private readonly db: Db) {}

  /** Stores the build once: a retry (or a second worker) that built again keeps the first. */
  async save(evaluationId: string, run: RunRef, role: BuildRole, build: StoredBuild): Promise<void> {
    const manifest: ManifestEntry[] = [];
    let offset = 0;
    for (const file of build.files) {
      manifest.push({ path: file.path, executable: file.executable, offset, length: file.content.length });
      offset += file.content.length;
    }
    await this.db.$transaction(async (tx) => {
      await claimOrVerify(tx, evaluationId, run);
      await tx.evaluationBuild.createMany({
        data: [
          {
            evaluationId,
            role,
            entryPoint: build.entryPoint,
            manifest: manifest as unknown as Prisma.InputJsonValue,
            content: bytes(Buffer.concat(build.files.map((file) => file.content))),
            compilation: (build.compilation ?? undefined) as Prisma.InputJsonValue | undefined,
          },
        ],
        skipDuplicates: true,
      });
    });
  }

  async load(evaluationId: string, role: BuildRole): Promise<StoredBuild | null> {
    const row = await this.db.evaluationBuild.findUnique({ where: { evaluationId_role: { evaluationId, role } } });
    if (row === null) return null;
    const content = Buffer.from(row.content);
    const manifest = parseManifest(row.manifest, content.length, `${evaluationId}/${role}`);
    return {
      entryPoint: row.entryPoint,
      files: manifest.map((entry) => ({
        path: entry.path,
        executable: entry.executable,
        content: content.subarray(entry.offset, entry.offset + entry.length),
      })),
      compilation: (row.compilation as Record<string, unknown> | null) ?? null,
    };
  }
}

function parseManifest(value: unknown, size: number, name: string): ManifestEntry[] {
  const ok =
    Array.isArray(value) &&
    value.every((entry: Partial<ManifestEntry>) => {
      return (
        typeof entry.path === 'string' &&
        typeof entry.executable === 'boolean' &&
        Number.isInteger(entry.offset) &&
        Number.isInteger(entry.length) &&
        entry.offset! >= 0 &&
        entry.length! >= 0 &&
        entry.offset! + entry.length! <= size
      );
    });
  if (!ok) throw new Error(`the stored build ${name} has a malformed manifest`);
  return value as ManifestEntry[];
}
