/**
 * Authentication and authorisation for the API. Secure by default: a request without a valid,
 * unrevoked API key is refused unless configuration explicitly disables authentication.
 * Failures are answered here (not thrown) so they carry the documented error body and headers
 * whichever app or sub-app the middleware is mounted on.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import { ApiError, renderError } from '../errors';
import type { ApiKeyStore } from './api-keys';
import { ANONYMOUS_PRINCIPAL, type AuthVariables, type Principal, type Scope } from './principal';
import { grants } from './scopes';

type AuthEnv = { Variables: AuthVariables };

export interface AuthenticateOptions {
  keys: Pick<ApiKeyStore, 'verify'>;
  /** Local development only: every request is ANONYMOUS_PRINCIPAL and no key is checked. */
  disabled: boolean;
}

/**
 * Hono's bearerAuth parses the header (scheme case-insensitive, RFC 6750 token syntax) and looks
 * the key up through verifyToken; the refusals are ours. They are given as Responses because
 * bearerAuth would otherwise answer a malformed header with 400 and plain text, where RFC 6750
 * and this API's documentation say 401 with the JSON error body.
 */
export function authenticate(options: AuthenticateOptions): MiddlewareHandler<AuthEnv> {
  const refusal = (message: string, challenge: string) => ({
    wwwAuthenticateHeader: challenge,
    message: (c: Context) => renderError(unauthorized(message, challenge), c),
  });
  const bearer = bearerAuth<AuthEnv>({
    noAuthenticationHeader: refusal('an API key is required: send it as "Authorization: Bearer <key>"', 'Bearer'),
    invalidAuthenticationHeader: refusal('the Authorization header must be "Bearer <key>"', 'Bearer error="invalid_request"'),
    // One answer for unknown and revoked keys, so the response does not tell which keys once existed.
    invalidToken: refusal('the API key is not valid or has been revoked', 'Bearer error="invalid_token"'),
    verifyToken: async (token, c) => {
      const principal = await options.keys.verify(token);
      if (principal === null) return false;
      c.set('principal', principal);
      return true;
    },
  });
  return async (c, next) => {
    if (options.disabled) {
      c.set('principal', ANONYMOUS_PRINCIPAL);
      return next();
    }
    try {
      return await bearer(c, next);
    } catch (err) {
      // bearerAuth throws its refusals. Answered here, not left to an app's onError (which would
      // render an HTTPException its own way), so they keep their body and headers whichever app
      // mounts this. A failing key lookup is no refusal and goes on. Errors of later handlers
      // never arrive here: Hono hands them to onError where they are thrown.
      if (err instanceof HTTPException) return err.getResponse();
      throw err;
    }
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

function unauthorized(message: string, challenge: string): ApiError {
  // RFC 6750: a 401 names the scheme the client should use, plus the reason when a token was sent.
  return new ApiError(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': challenge });
}
