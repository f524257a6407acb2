/**
 * The API key for the one-command start: created on first start for tenant `local` with every
 * scope, kept in `<dataDir>/api-key` (readable by the owner only) and reused on later starts as
 * long as it still verifies. A revoked or deleted key is replaced, so revoking is how an operator
 * rotates it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ApiKeyStore } from './api-keys';
import { SCOPES } from './principal';

export const LOCAL_TENANT = 'local';
export const LOCAL_KEY_FILE = 'api-key';
const OWNER_ONLY = 0o600;

export interface EnsureLocalApiKeyOptions {
  keys: Pick<ApiKeyStore, 'create' | 'verify'>;
  dataDir: string;
}

export interface LocalApiKey {
  key: string;
  /** True when this call created the key (first start, or the previous one no longer verifies). */
  created: boolean;
  file: string;
}

export async function ensureLocalApiKey(options: EnsureLocalApiKeyOptions): Promise<LocalApiKey> {
  const file = path.join(options.dataDir, LOCAL_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing !== null && (await options.keys.verify(existing)) !== null) {
    await restrictToOwner(file);
    return { key: existing, created: false, file };
  }
  const { key } = await options.keys.create({ tenant: LOCAL_TENANT, scopes: SCOPES, name: 'local (created at start-up)' });
  await writeKeyFile(file, key);
  return { key, created: true, file };
}

/** The key in the file, or null when there is no file yet. Any other read error is a real problem and propagates. */
async function readKeyFile(file: string): Promise<string | null> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Writes a temporary file with owner-only permissions and renames it, so no reader ever sees a partial or world-readable key. */
async function writeKeyFile(file: string, key: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temporary, `${key}\n`, { mode: OWNER_ONLY, flag: 'w' });
  // writeFile's mode only applies when it creates the file; chmod covers a leftover temporary file.
  await fs.chmod(temporary, OWNER_ONLY);
  await fs.rename(temporary, file);
}

/** A key file someone copied or edited with looser permissions is tightened again. */
async function restrictToOwner(file: string): Promise<void> {
  const { mode } = await fs.stat(file);
  if ((mode & 0o077) !== 0) await fs.chmod(file, OWNER_ONLY);
}
