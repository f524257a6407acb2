/** Who is calling: the tenant and scopes of the API key that authenticated the request. */
export const SCOPES = ['submit', 'read', 'review', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  tenant: string;
  scopes: readonly Scope[];
  /** The API key's id; null when authentication is disabled by configuration. */
  keyId: string | null;
}

/** The caller when configuration disables authentication (local development only). */
export const ANONYMOUS_PRINCIPAL: Principal = Object.freeze({ tenant: 'default', scopes: SCOPES, keyId: null });

/** Hono context variables set by the authentication middleware. */
export type AuthVariables = { principal: Principal };
