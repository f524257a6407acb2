/**
 * `npm run apikey -- create|list|revoke` (from a production build: `node dist/main/apikey.js …`):
 * manages API keys in DATABASE_URL (migrations are applied first, so it works on a fresh
 * database). `create` prints the new key on its last line, so scripts can take it with
 * `tail -n 1`; the key is shown only this once.
 * Exit codes: 0 done, 1 failed (database, unknown id), 2 misuse of the command line.
 */
import { ApiKeyStore } from '../api/auth/api-keys';
import { API_KEY_CLI_USAGE, formatApiKeyTable, parseApiKeyCommand, UsageError, type ApiKeyCommand } from '../api/auth/api-key-cli';
import { createDb } from '../db/client';
import { applyMigrations } from '../db/migrate';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError';
}

async function main(): Promise<void> {
  const command = parseApiKeyCommand(process.argv.slice(2));
  if (command.command === 'help') {
    console.log(API_KEY_CLI_USAGE);
    return;
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new UsageError('set DATABASE_URL, e.g. DATABASE_URL=postgresql://postgres@127.0.0.1:5432/crucible npm run apikey -- list');
  }
  await applyMigrations(databaseUrl);
  const db = createDb(databaseUrl, { maxConnections: 1 });
  try {
    await run(command, new ApiKeyStore(db));
  } finally {
    await db.$disconnect();
  }
}

async function run(command: Exclude<ApiKeyCommand, { command: 'help' }>, keys: ApiKeyStore): Promise<void> {
  switch (command.command) {
    case 'create': {
      const created = await keys.create({ tenant: command.tenant, scopes: command.scopes, name: command.name });
      console.log(`Created API key ${created.id} for tenant "${created.tenant}" with scopes ${created.scopes.join(',')}.`);
      console.log('It is shown only this once and cannot be recovered; store it now:');
      console.log(created.key);
      return;
    }
    case 'list': {
      const listed = await keys.list(command.tenant);
      console.log(
        listed.length === 0
          ? `no API keys${command.tenant === undefined ? '' : ` for tenant "${command.tenant}"`}`
          : formatApiKeyTable(listed),
      );
      return;
    }
    case 'revoke': {
      if (!(await keys.revoke(command.id))) throw new CommandFailedError(`no API key has id ${command.id}`);
      console.log(`API key ${command.id} is revoked; requests using it are refused from now on.`);
      return;
    }
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`apikey: ${error.message}\n\n${API_KEY_CLI_USAGE}`);
    process.exit(EXIT_USAGE);
  }
  console.error(`apikey: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(EXIT_FAILED);
});
