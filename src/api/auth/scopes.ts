/** Checking and parsing scopes. `admin` implies every other scope. */
import { SCOPES, type Principal, type Scope } from './principal';

export class InvalidScopeError extends Error {
  override readonly name = 'InvalidScopeError';
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** Whether the principal may do what `scope` guards. */
export function grants(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes('admin') || principal.scopes.includes(scope);
}

/**
 * Validates a scope list (duplicates removed, order of SCOPES kept) and throws naming the first
 * unknown scope, so a typo never silently creates a key with fewer rights than intended.
 */
export function normaliseScopes(scopes: readonly string[]): Scope[] {
  if (scopes.length === 0) throw new InvalidScopeError(`at least one scope is required; choose from ${SCOPES.join(', ')}`);
  for (const scope of scopes) {
    if (!isScope(scope)) throw new InvalidScopeError(`unknown scope "${scope}"; choose from ${SCOPES.join(', ')}`);
  }
  return SCOPES.filter((scope) => scopes.includes(scope));
}

/** Parses a comma-separated list such as "submit,read". */
export function parseScopeList(text: string): Scope[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.some((part) => part === ''))
    throw new InvalidScopeError(`"${text}" is not a comma-separated list of scopes such as submit,read`);
  return normaliseScopes(parts);
}
