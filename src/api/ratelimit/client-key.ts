/** Who a request counts against: its API key, or its client address when there is none. */
import type { Context } from 'hono';
import type { AuthVariables, Principal } from '../auth/principal';

export type RateLimitContext = Context<{ Variables: AuthVariables }>;

/**
 * `key:<id>` for requests authenticated with an API key; `ip:<address>` otherwise (authentication
 * disabled, or the limiter runs before authentication).
 */
export function keyByPrincipalOrAddress(c: RateLimitContext): string {
  const principal = c.get('principal') as Principal | undefined;
  if (principal?.keyId) return `key:${principal.keyId}`;
  return keyByClientAddress(c);
}

export function keyByClientAddress(c: RateLimitContext): string {
  return `ip:${clientAddress(c)}`;
}

interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
  server?: NodeBindings;
}

/**
 * The TCP peer's address from @hono/node-server's bindings (the same source as its getConnInfo,
 * which this tsconfig's module resolution cannot import). X-Forwarded-For is deliberately not
 * read: any client can set it and so choose its own budget. Behind a trusted proxy, pass a keyOf
 * that reads the proxy's header instead. "unknown" when not served by Node (e.g. app.request in tests).
 */
export function clientAddress(c: Context): string {
  const env = c.env as NodeBindings | undefined;
  const bindings = env?.server ?? env;
  return bindings?.incoming?.socket?.remoteAddress ?? 'unknown';
}
