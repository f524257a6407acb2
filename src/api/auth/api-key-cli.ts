/**
 * The `npm run apikey` command line, as pure functions: parsing arguments into a command and
 * formatting listings. src/main/apikey.ts runs the commands against the database.
 */
import { parseArgs } from 'node:util';
import { checkName, checkTenant, InvalidApiKeyInputError, isApiKeyId, type ApiKeySummary } from './api-keys';
import { SCOPES, type Scope } from './principal';
import { InvalidScopeError, parseScopeList } from './scopes';

export const API_KEY_CLI_USAGE = `Usage:
  npm run apikey -- create --tenant <name> --scopes <scope,...> [--name <label>]
  npm run apikey -- list [--tenant <name>]
  npm run apikey -- revoke <id>

Scopes: ${SCOPES.join(', ')} (admin implies all). Reads DATABASE_URL.`;

export type ApiKeyCommand =
  | { command: 'create'; tenant: string; scopes: Scope[]; name?: string }
  | { command: 'list'; tenant?: string }
  | { command: 'revoke'; id: string }
  | { command: 'help' };

/** Misuse of the command line: the message says what is wrong; the caller exits non-zero. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const OPTIONS = {
  tenant: { type: 'string' },
  scopes: { type: 'string' },
  name: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;
const ALLOWED: Record<Exclude<ApiKeyCommand['command'], 'help'>, OptionName[]> = {
  create: ['tenant', 'scopes', 'name'],
  list: ['tenant'],
  revoke: [],
};

export function parseApiKeyCommand(args: readonly string[]): ApiKeyCommand {
  const { values, positionals } = parseStrict(args);
  const [command, ...operands] = positionals;
  if (values.help || command === 'help') return { command: 'help' };
  if (command === undefined) throw new UsageError('a command is required: create, list or revoke');
  if (command !== 'create' && command !== 'list' && command !== 'revoke') {
    throw new UsageError(`unknown command "${command}": use create, list or revoke`);
  }
  for (const option of Object.keys(values) as OptionName[]) {
    if (option !== 'help' && !ALLOWED[command].includes(option)) throw new UsageError(`${command} does not take --${option}`);
  }
  if (command !== 'revoke' && operands.length > 0) throw new UsageError(`${command} takes no arguments, got "${operands.join(' ')}"`);

  switch (command) {
    case 'create': {
      if (values.tenant === undefined) throw new UsageError('create needs --tenant <name>');
      if (values.scopes === undefined) throw new UsageError(`create needs --scopes, a comma-separated list of ${SCOPES.join(', ')}`);
      return {
        command,
        tenant: asUsage(() => checkTenant(values.tenant!)),
        scopes: asUsage(() => parseScopeList(values.scopes!)),
        ...(values.name === undefined ? {} : { name: asUsage(() => checkName(values.name!)) }),
      };
    }
    case 'list':
      return { command, ...(values.tenant === undefined ? {} : { tenant: asUsage(() => checkTenant(values.tenant!)) }) };
    case 'revoke': {
      if (operands.length !== 1) throw new UsageError('revoke needs exactly one argument: the id of the key (see list)');
      const id = operands[0]!;
      if (!isApiKeyId(id)) throw new UsageError(`"${id}" is not an API key id (a UUID, as shown by list)`);
      return { command, id };
    }
  }
}

/** A fixed-width table, one key per row; never the secret. */
export function formatApiKeyTable(keys: readonly ApiKeySummary[]): string {
  const header = ['id', 'tenant', 'name', 'prefix', 'scopes', 'created', 'revoked', 'last used'];
  const rows = keys.map((k) => [
    k.id,
    k.tenant,
    k.name === '' ? '-' : k.name,
    k.prefix,
    k.scopes.join(','),
    formatTime(k.createdAt),
    formatTime(k.revokedAt),
    formatTime(k.lastUsedAt),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function formatTime(time: Date | null): string {
  return time === null ? '-' : time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseStrict(args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // node:util reports misuse (unknown option, missing value) as errors with ERR_PARSE_ARGS_* codes.
    if (typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).code!.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError((err as Error).message, { cause: err });
    }
    throw err;
  }
}

function asUsage<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InvalidApiKeyInputError || err instanceof InvalidScopeError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}
