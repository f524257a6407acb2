/**
 * API keys: random bearer tokens of the form `crk_<43 base64url chars>`. Only their SHA-256 hash
 * is stored, so a leaked database does not leak usable keys; the key itself is shown once, when
 * created. A plain (unsalted, fast) hash is enough because the key carries 256 random bits: there
 * is nothing to guess or precompute. Looking a key up by its hash also means no secret is ever
 * compared byte by byte, so response timing reveals nothing about valid keys.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { validate as isUuid } from 'uuid';
import type { Db } from '../../db/client';
import type { Principal, Scope } from './principal';
import { InvalidScopeError, isScope, normaliseScopes } from './scopes';

export const API_KEY_PREFIX = 'crk_';
const SECRET_BYTES = 32;
const API_KEY_PATTERN = /^crk_[A-Za-z0-9_-]{43}$/;
/** Enough of the key to tell keys apart in listings (48 of its 256 bits), too little to matter if seen. */
const LISTED_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;
const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_NAME_LENGTH = 200;
/** lastUsedAt is for operators ("is this key still in use?"), not an audit log: once a minute is plenty. */
export const LAST_USED_RESOLUTION_MS = 60_000;

export class InvalidApiKeyInputError extends Error {
  override readonly name = 'InvalidApiKeyInputError';
}

export interface CreateApiKeyInput {
  tenant: string;
  scopes: readonly string[];
  name?: string;
}

/** The only value that ever carries the secret `key`. */
export interface CreatedApiKey {
  id: string;
  key: string;
  prefix: string;
  tenant: string;
  name: string;
  scopes: Scope[];
}

/** What listings show: never the key or its hash. */
export interface ApiKeySummary {
  id: string;
  tenant: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface ApiKeyStoreOptions {
  /** The clock, injectable so tests can check the lastUsedAt throttle without waiting. */
  now?: () => Date;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function isWellFormedApiKey(key: string): boolean {
  return API_KEY_PATTERN.test(key);
}

export function isApiKeyId(id: string): boolean {
  return isUuid(id);
}

export class ApiKeyStore {
  private readonly now: () => Date;

  constructor(
    private readonly db: Db,
    options: ApiKeyStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async create(input: CreateApiKeyInput): Promise<CreatedApiKey> {
    const tenant = checkTenant(input.tenant);
    const name = checkName(input.name ?? '');
    const scopes = normaliseScopesOrThrow(input.scopes);
    const key = API_KEY_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
    const prefix = key.slice(0, LISTED_PREFIX_LENGTH);
    const id = randomUUID();
    await this.db.apiKey.create({ data: { id, tenant, name, scopes, prefix, keyHash: hashApiKey(key), createdAt: this.now() } });
    return { id, key, prefix, tenant, name, scopes };
  }

  /** All keys, or one tenant's, oldest first. */
  async list(tenant?: string): Promise<ApiKeySummary[]> {
    const rows = await this.db.apiKey.findMany({
      where: tenant === undefined ? {} : { tenant },
      // Explicit select: the hash never leaves this module.
      select: { id: true, tenant: true, name: true, prefix: true, scopes: true, createdAt: true, revokedAt: true, lastUsedAt: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return rows.map((row) => ({ ...row, scopes: knownScopes(row.scopes) }));
  }

  /** Revokes the key for good. Idempotent; returns whether a key with this id exists. */
  async revoke(id: string): Promise<boolean> {
    if (!isApiKeyId(id)) return false;
    const { count } = await this.db.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: this.now() } });
    if (count > 0) return true;
    return (await this.db.apiKey.count({ where: { id } })) > 0;
  }

  /**
   * The principal a key stands for, or null when it is malformed, unknown or revoked. Nothing is
   * cached, so a revocation takes effect on the very next request (one indexed lookup per request).
   */
  async verify(key: string): Promise<Principal | null> {
    if (!isWellFormedApiKey(key)) return null;
    const row = await this.db.apiKey.findUnique({
      where: { keyHash: hashApiKey(key) },
      select: { id: true, tenant: true, scopes: true, revokedAt: true, lastUsedAt: true },
    });
    if (row === null || row.revokedAt !== null) return null;
    await this.touch(row.id, row.lastUsedAt);
    return { tenant: row.tenant, scopes: knownScopes(row.scopes), keyId: row.id };
  }

  /**
   * Records use at most once per LAST_USED_RESOLUTION_MS per key. The condition is repeated in
   * the UPDATE so concurrent requests (or several API processes) write once, not once each.
   */
  private async touch(id: string, lastUsedAt: Date | null): Promise<void> {
    const now = this.now();
    const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
    if (lastUsedAt !== null && lastUsedAt > staleBefore) return;
    await this.db.apiKey.updateMany({
      where: { id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lte: staleBefore } }] },
      data: { lastUsedAt: now },
    });
  }
}

/** Returns the tenant name unchanged, or throws InvalidApiKeyInputError saying what a tenant name may contain. */
export function checkTenant(tenant: string): string {
  if (!TENANT_PATTERN.test(tenant)) {
    throw new InvalidApiKeyInputError(
      `tenant "${tenant}" is not valid: use 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
  return tenant;
}

/** Returns the key's label unchanged, or throws InvalidApiKeyInputError when it is too long. */
export function checkName(name: string): string {
  if (name.length > MAX_NAME_LENGTH) throw new InvalidApiKeyInputError(`name is longer than ${MAX_NAME_LENGTH} characters`);
  return name;
}

function normaliseScopesOrThrow(scopes: readonly string[]): Scope[] {
  try {
    return normaliseScopes(scopes);
  } catch (err) {
    if (err instanceof InvalidScopeError) throw new InvalidApiKeyInputError(err.message, { cause: err });
    throw err;
  }
}

/**
 * Scopes as stored. A value this version does not know (written by a newer one, or by hand) is
 * dropped rather than trusted: the key then grants less, never more.
 */
function knownScopes(stored: readonly string[] | null): Scope[] {
  return (stored ?? []).filter(isScope);
}
