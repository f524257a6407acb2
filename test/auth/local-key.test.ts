/** ensureLocalApiKey with the real key store and a temporary data directory. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiKeyStore } from '../../src/api/auth/api-keys';
import { ensureLocalApiKey, LOCAL_TENANT } from '../../src/api/auth/local-key';
import { SCOPES } from '../../src/api/auth/principal';
import { createDb, type Db } from '../../src/db/client';
import { databaseUrl } from '../support/harness';

let db: Db;
let keys: ApiKeyStore;
let dataDir: string;

beforeAll(() => {
  db = createDb(databaseUrl(), { maxConnections: 2 });
  keys = new ApiKeyStore(db);
});
afterAll(() => db.$disconnect());
beforeEach(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'crucible-local-key-'));
});
afterEach(() => fs.rm(dataDir, { recursive: true, force: true }));

const modeOf = async (file: string) => (await fs.stat(file)).mode & 0o777;

it('creates a key for tenant local with every scope on first start, in an owner-only file', async () => {
  const local = await ensureLocalApiKey({ keys, dataDir });

  expect(local.created).toBe(true);
  expect(local.file).toBe(path.join(dataDir, 'api-key'));
  expect((await fs.readFile(local.file, 'utf8')).trim()).toBe(local.key);
  expect(await modeOf(local.file)).toBe(0o600);
  const principal = await keys.verify(local.key);
  expect(principal).toMatchObject({ tenant: LOCAL_TENANT, scopes: [...SCOPES] });
});

it('creates the data directory when it does not exist yet', async () => {
  const nested = path.join(dataDir, 'not', 'yet');
  const local = await ensureLocalApiKey({ keys, dataDir: nested });
  expect(local.created).toBe(true);
  expect(await keys.verify(local.key)).not.toBeNull();
});

it('reuses the key on later starts', async () => {
  const first = await ensureLocalApiKey({ keys, dataDir });
  const second = await ensureLocalApiKey({ keys, dataDir });
  expect(second).toEqual({ key: first.key, created: false, file: first.file });
});

it('replaces a revoked key and rewrites the file', async () => {
  const first = await ensureLocalApiKey({ keys, dataDir });
  await keys.revoke((await keys.verify(first.key))!.keyId!);

  const second = await ensureLocalApiKey({ keys, dataDir });
  expect(second.created).toBe(true);
  expect(second.key).not.toBe(first.key);
  expect((await fs.readFile(second.file, 'utf8')).trim()).toBe(second.key);
  expect(await modeOf(second.file)).toBe(0o600);
  expect(await keys.verify(second.key)).not.toBeNull();
});

it('replaces a file whose key the database does not know (e.g. a new database)', async () => {
  await fs.writeFile(path.join(dataDir, 'api-key'), `crk_${'x'.repeat(43)}\n`, { mode: 0o600 });
  const local = await ensureLocalApiKey({ keys, dataDir });
  expect(local.created).toBe(true);
  expect(await keys.verify(local.key)).not.toBeNull();
});

it('tightens the permissions of a key file that became readable by others', async () => {
  const first = await ensureLocalApiKey({ keys, dataDir });
  await fs.chmod(first.file, 0o644);
  await ensureLocalApiKey({ keys, dataDir });
  expect(await modeOf(first.file)).toBe(0o600);
});

it('reports a key file it cannot read instead of silently replacing it', async () => {
  await fs.mkdir(path.join(dataDir, 'api-key'));
  await expect(ensureLocalApiKey({ keys, dataDir })).rejects.toThrow(/EISDIR/);
});
