/**
 * Authentication and authorisation for the API. Secure by default: a request without a valid,
 * unrevoked API key is refused unless configuration explicitly disables authentication.
 * Failures are answered here (not thrown) so they carry the documented error body and headers
 * whichever app or sub-app the middleware is mounted on.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError, renderError } from '../api/errors';
import type { ApiKeyStore } from './api-keys';
import { ANONYMOUS_PRINCIPAL, type AuthVariables, type Principal, type Scope } from './principal';
import { grants } from './scopes';

type AuthEnv = { Variables: AuthVariables };

export interface AuthenticateOptions {
  keys: Pick<ApiKeyStore, 'verify'>;
  /** Local development only: every request is ANONYMOUS_PRINCIPAL and no key is checked. */
  disabled: boolean;
}

export function authenticate(options: AuthenticateOptions): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (options.disabled) {
      c.set('principal', ANONYMOUS_PRINCIPAL);
      return next();
    }
    const presented = bearerToken(c.req.header('authorization'));
    if (presented.kind === 'missing') {
      return renderError(unauthorized('an API key is required: send it as "Authorization: Bearer <key>"', 'Bearer'), c);
    }
    if (presented.kind === 'malformed') {
      return renderError(unauthorized('the Authorization header must be "Bearer <key>"', 'Bearer error="invalid_request"'), c);
    }
    const principal = await options.keys.verify(presented.token);
    if (principal === null) {
      // One answer for unknown and revoked keys, so the response does not tell which keys once existed.
      return renderError(unauthorized('the API key is not valid or has been revoked', 'Bearer error="invalid_token"'), c);
    }
    c.set('principal', principal);
    return next();
  };
}

/** Refuses with 403 unless the principal holds `scope` (or `admin`). Mount after `authenticate`. */
export function requireScope(scope: Scope): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const principal = principalOf(c);
    if (!grants(principal, scope)) {
      const error = new ApiError(403, 'forbidden', `this API key lacks the "${scope}" scope`, {
        requiredScope: scope,
        grantedScopes: principal.scopes,
      });
      return renderError(error, c);
    }
    return next();
  };
}

/**
 * The authenticated principal. Throws (a 500, never a silent pass) when `authenticate` did not
 * run first: a wiring mistake must not turn into access without a key.
 */
export function principalOf(c: Context<AuthEnv>): Principal {
  const principal = c.get('principal') as Principal | undefined;
  if (principal === undefined) throw new Error(`no principal for ${c.req.method} ${c.req.path}: mount authenticate() before this handler`);
  return principal;
}

type PresentedToken = { kind: 'missing' } | { kind: 'malformed' } | { kind: 'token'; token: string };

/** Parses `Authorization: Bearer <token>`; the scheme name is case-insensitive (RFC 7235). */
function bearerToken(header: string | undefined): PresentedToken {
  if (header === undefined || header.trim() === '') return { kind: 'missing' };
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match ? { kind: 'token', token: match[1]! } : { kind: 'malformed' };
}

function unauthorized(message: string, challenge: string): ApiError {
  // RFC 6750: a 401 names the scheme the client should use, plus the reason when a token was sent.
  return new ApiError(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': challenge });
}
