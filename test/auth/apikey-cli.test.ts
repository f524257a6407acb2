/** `npm run apikey` end to end: the real script in a child process against the test database. */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ApiKeyStore } from '../../src/api/auth/api-keys';
import { parseApiKeyCommand, UsageError } from '../../src/api/auth/api-key-cli';
import { createDb, type Db } from '../../src/db/client';
import { databaseUrl } from '../support/harness';

const repoRoot = path.resolve(__dirname, '../..');
const tenant = `cli-${randomUUID().slice(0, 8)}`;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function apikey(args: string[], env: Record<string, string | undefined> = { DATABASE_URL: databaseUrl() }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/apikey.ts', ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;

let db: Db;
let keys: ApiKeyStore;
beforeAll(() => {
  db = createDb(databaseUrl(), { maxConnections: 2 });
  keys = new ApiKeyStore(db);
});
afterAll(() => db.$disconnect());

describe('create, list, revoke', () => {
  let created: { key: string; id: string };

  it('create prints a notice and then the key on its last line; the key verifies', async () => {
    const result = await apikey(['create', '--tenant', tenant, '--scopes', 'submit,read', '--name', 'ci bot']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const key = lastLine(result.stdout);
    expect(key).toMatch(/^crk_[A-Za-z0-9_-]{43}$/);
    expect(result.stdout).toMatch(/shown only this once/);
    const principal = await keys.verify(key);
    expect(principal).toMatchObject({ tenant, scopes: ['submit', 'read'] });
    created = { key, id: principal!.keyId! };
  });

  it('list shows the key without its secret', async () => {
    const result = await apikey(['list', '--tenant', tenant]);
    expect(result.code).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['id', 'tenant', 'name', 'prefix', 'scopes', 'created', 'revoked', 'last used']);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain(created.id);
    expect(rows[0]).toContain('ci bot');
    expect(rows[0]).toContain('submit,read');
    expect(rows[0]).toContain(created.key.slice(0, 12));
    expect(result.stdout).not.toContain(created.key);
  });

  it('revoke makes the key fail verification, and list shows when', async () => {
    const result = await apikey(['revoke', created.id]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(created.id);
    await expect(keys.verify(created.key)).resolves.toBeNull();

    const listed = await apikey(['list', '--tenant', tenant]);
    const row = lastLine(listed.stdout).split(/\s{2,}/);
    expect(row[6]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('revoke of an id that does not exist fails with a message', async () => {
    const result = await apikey(['revoke', randomUUID()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no API key has id/);
  });

  it('list of a tenant without keys says so', async () => {
    const result = await apikey(['list', '--tenant', `${tenant}-none`]);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toMatch(/no API keys/);
  });
});

describe('misuse', () => {
  it.each([
    [[], /a command is required/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['create', '--scopes', 'read'], /create needs --tenant/],
    [['create', '--tenant', 'acme'], /create needs --scopes/],
    [['create', '--tenant', 'acme', '--scopes', 'read,sudo'], /unknown scope "sudo"/],
    [['create', '--tenant', 'acme', '--scopes', 'read,'], /comma-separated list/],
    [['create', '--tenant', 'not valid', '--scopes', 'read'], /tenant "not valid" is not valid/],
    [['create', '--tenant'], /argument missing/],
    [['create', '--tenant', 'acme', '--scopes', 'read', '--colour', 'red'], /Unknown option '--colour'/],
    [['list', '--scopes', 'read'], /list does not take --scopes/],
    [['revoke'], /revoke needs exactly one argument/],
    [['revoke', 'abc'], /"abc" is not an API key id/],
  ])('%p exits 2 with a message and the usage', async (args, message) => {
    const result = await apikey(args as string[]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/Usage:/);
    expect(result.stdout).toBe('');
  });

  it('without DATABASE_URL exits non-zero saying so', async () => {
    const result = await apikey(['list'], { DATABASE_URL: '' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/set DATABASE_URL/);
  });

  it('--help prints the usage and succeeds', async () => {
    const result = await apikey(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage:/);
  });
});

describe('parseApiKeyCommand', () => {
  it('parses each command', () => {
    expect(parseApiKeyCommand(['create', '--tenant', 'acme', '--scopes', 'read,submit,read'])).toEqual({
      command: 'create',
      tenant: 'acme',
      scopes: ['submit', 'read'],
    });
    expect(parseApiKeyCommand(['create', '--tenant=acme', '--scopes=admin', '--name', 'ops'])).toMatchObject({ name: 'ops' });
    expect(parseApiKeyCommand(['list'])).toEqual({ command: 'list' });
    expect(parseApiKeyCommand(['list', '--tenant', 'acme'])).toEqual({ command: 'list', tenant: 'acme' });
    const id = randomUUID();
    expect(parseApiKeyCommand(['revoke', id])).toEqual({ command: 'revoke', id });
  });

  it('reports misuse as UsageError', () => {
    expect(() => parseApiKeyCommand(['list', 'extra'])).toThrow(UsageError);
    expect(() => parseApiKeyCommand(['revoke', randomUUID(), randomUUID()])).toThrow(/exactly one argument/);
  });
});
