/**
 * Loads PGlite through Node's own module loader.
 *
 * PGlite's CommonJS build reads its files with `await import('fs/promises')` (and a few other
 * built-ins the same way). Jest, which runs this project's tests as CommonJS without
 * --experimental-vm-modules, evaluates the modules it loads in a vm context where any import()
 * fails ("A dynamic import callback was invoked without --experimental-vm-modules"). Jest also
 * replaces require() and module.createRequire(), but not Module._load, the loader behind
 * require() itself: loading PGlite with it keeps PGlite outside the test sandbox. Under Node and
 * tsx this is exactly what `require('@electric-sql/pglite')` does.
 */
import nodeModule from 'node:module';
import type * as PgliteModule from '@electric-sql/pglite';

interface NodeModuleLoader {
  _load(request: string, parent: { id: string; filename: string; paths: string[] }, isMain: boolean): unknown;
  _nodeModulePaths(from: string): string[];
}

let loaded: typeof PgliteModule | undefined;

export function loadPglite(): typeof PgliteModule {
  if (!loaded) {
    const loader = nodeModule as unknown as NodeModuleLoader;
    if (typeof loader._load !== 'function' || typeof loader._nodeModulePaths !== 'function') {
      throw new Error('this Node.js has no Module._load; cannot load @electric-sql/pglite for the embedded PostgreSQL');
    }
    const parent = { id: __filename, filename: __filename, paths: loader._nodeModulePaths(__dirname) };
    loaded = loader._load('@electric-sql/pglite', parent, false) as typeof PgliteModule;
  }
  return loaded;
}
