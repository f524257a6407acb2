/**
 * Loads PGlite (the embedded PostgreSQL of `npm start`) on first use, so processes that never
 * start it (the API and worker of a deployment, most tests) do not pay for its WebAssembly.
 *
 * PGlite's CommonJS build reads its files with `await import('fs/promises')`. Under jest that
 * dynamic import works only with Node's --experimental-vm-modules, which `npm test` passes.
 */
import type * as PgliteModule from '@electric-sql/pglite';

let loaded: typeof PgliteModule | undefined;

export function loadPglite(): typeof PgliteModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('@electric-sql/pglite') as typeof PgliteModule;
  return loaded;
}
