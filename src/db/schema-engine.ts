/**
 * Prisma's schema engine (the part behind `prisma migrate`) compiled to WebAssembly, so migrations
 * run without the native `schema-engine` binary, which cannot be downloaded on offline machines.
 *
 * Why the loading is done by hand: `@prisma/schema-engine-wasm` is an ES module whose entry does
 * `import * as wasm from "./schema_engine_bg.wasm"`, which Node 20 only accepts behind
 * `--experimental-wasm-modules`. This project is CommonJS, and under jest (ts-jest, CJS) even a
 * hidden dynamic `import()` needs `--experimental-vm-modules`. So we read the wasm-bindgen glue
 * (`schema_engine_bg.js`, plain functions and one class, no imports), turn its `export`
 * declarations into a function that returns them, instantiate the `.wasm` with that glue as its
 * import object, and hand the instance back to the glue (`__wbg_set_wasm`, `__wbindgen_start`),
 * which is exactly what the package's own ESM entry does. Works the same under tsx, jest and
 * compiled JavaScript, with no Node flags.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';

type WasmExports = Record<string, unknown>;

type SchemaEngineGlue = typeof import('@prisma/schema-engine-wasm/schema_engine_bg') & {
  __wbg_set_wasm(exports: WasmExports): void;
};

/** The slice of the WebAssembly global we use (this project's `lib` setting has no DOM types). */
interface WebAssemblyApi {
  instantiate(bytes: Uint8Array, imports: Record<string, unknown>): Promise<{ instance: { exports: WasmExports } }>;
}
const { WebAssembly: webAssembly } = globalThis as unknown as { WebAssembly: WebAssemblyApi };

export type { SchemaEngine };

/** The wasm engine could not be loaded (package missing, or a version whose layout we do not know). */
export class SchemaEngineLoadError extends Error {
  override readonly name = 'SchemaEngineLoadError';
}

/** The schema engine rejected a command (bad migration SQL, unreachable database, ...). */
export class SchemaEngineCommandError extends Error {
  override readonly name = 'SchemaEngineCommandError';
  constructor(
    readonly command: string,
    message: string,
    readonly engineError: unknown,
  ) {
    super(`schema engine ${command} failed: ${message}`);
  }
}

/** The import namespace the wasm module expects its glue under (wasm-bindgen's bundler target). */
const GLUE_IMPORT_MODULE = './schema_engine_bg.js';

let gluePromise: Promise<SchemaEngineGlue> | undefined;

/**
 * The glue reports a Rust panic by calling `global.PRISMA_WASM_PANIC_REGISTRY.set_message()` and
 * then traps with an opaque "unreachable" RuntimeError; without the registry that call itself
 * throws a TypeError that hides the panic. The Prisma CLI installs the same object. A panic inside
 * an engine callback surfaces as an uncaught exception rather than as the command's rejection, so
 * the message is also emitted as a process warning (stderr) where it cannot be lost.
 */
interface PanicRegistry {
  get(): string;
  set_message(message: string): void;
}

function panicRegistry(): PanicRegistry {
  const holder = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: PanicRegistry };
  holder.PRISMA_WASM_PANIC_REGISTRY ??= {
    message: '',
    get() {
      return this.message;
    },
    set_message(message: string) {
      this.message = message;
      process.emitWarning(message, 'SchemaEnginePanic');
    },
  } as PanicRegistry & { message: string };
  return holder.PRISMA_WASM_PANIC_REGISTRY;
}

/** Loads and instantiates the wasm engine once per process (about 50 ms, 5 MB). */
function loadSchemaEngineGlue(): Promise<SchemaEngineGlue> {
  gluePromise ??= instantiateGlue().catch((error: unknown) => {
    gluePromise = undefined; // let a later call retry instead of caching the failure forever
    throw error;
  });
  return gluePromise;
}

async function instantiateGlue(): Promise<SchemaEngineGlue> {
  panicRegistry();
  const gluePath = resolveGluePath();
  const [glueSource, wasmBytes] = await Promise.all([
    readFile(gluePath, 'utf8'),
    readFile(path.join(path.dirname(gluePath), 'schema_engine_bg.wasm')),
  ]);
  const glue = evaluateGlue(glueSource, gluePath);
  const { instance } = await webAssembly.instantiate(wasmBytes, { [GLUE_IMPORT_MODULE]: glue });
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return glue;
}

function resolveGluePath(): string {
  try {
    // Resolving (not requiring) the subpath export is fine from CommonJS: it maps to the .js file.
    return require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  } catch (error) {
    throw new SchemaEngineLoadError('@prisma/schema-engine-wasm is not installed (it is a dependency: run npm ci)', {
      cause: error,
    });
  }
}

const EXPORT_DECLARATION = /^export (function|class|const|let|var) ([A-Za-z0-9_$]+)/gm;

/** Evaluates the ESM glue as a function body and returns its exports. */
function evaluateGlue(source: string, gluePath: string): SchemaEngineGlue {
  const exportedNames: string[] = [];
  const body = source.replace(EXPORT_DECLARATION, (_match, kind: string, name: string) => {
    exportedNames.push(name);
    return `${kind} ${name}`;
  });
  if (/^\s*(export|import)\b/m.test(body) || !exportedNames.includes('__wbg_set_wasm') || !exportedNames.includes('SchemaEngine')) {
    throw new SchemaEngineLoadError(
      `${gluePath} does not have the wasm-bindgen layout this loader knows (plain "export function/class" ` +
        'declarations, no imports); pin @prisma/schema-engine-wasm to the version in package-lock.json',
    );
  }
  // The glue reads `module.require` only as a last-resort source of randomness on old Node versions.
  const factory = new Function(
    'module',
    'setTimeout',
    `${body}\nreturn { ${exportedNames.join(', ')} };\n//# sourceURL=${gluePath}`,
  );
  return factory({ require }, engineSetTimeout) as SchemaEngineGlue;
}

/**
 * The engine arms a timer for every wait with a deadline (10 s for its advisory lock) and never
 * clears it: the glue has no clearTimeout. Left alone, such a timer keeps a finished `npm run
 * migrate` alive for 10 s. Timers stay referenced while a session is open and are unreferenced
 * once none is, so they can still fire but no longer hold the process.
 */
const pendingEngineTimers = new Set<NodeJS.Timeout>();
let openSessions = 0;

function engineSetTimeout(callback: () => void, delayMs: number): NodeJS.Timeout {
  const timer = setTimeout(() => {
    pendingEngineTimers.delete(timer);
    callback();
  }, delayMs);
  if (openSessions === 0) timer.unref();
  else pendingEngineTimers.add(timer);
  return timer;
}

function sessionClosed(): void {
  openSessions -= 1;
  if (openSessions > 0) return;
  for (const timer of pendingEngineTimers) timer.unref();
  pendingEngineTimers.clear();
}

export interface SchemaEngineSession {
  readonly engine: SchemaEngine;
  /** Runs one engine command, turning the engine's error values into a SchemaEngineCommandError. */
  run<T>(command: string, call: (engine: SchemaEngine) => Promise<T>): Promise<T>;
  /** Frees the engine and disposes every database connection it opened. */
  close(): Promise<void>;
}

/**
 * Starts a schema engine that talks to the database through a driver adapter (for PostgreSQL:
 * `new PrismaPg(pool)`). Every adapter the engine opens is disposed by close(), whether or not the
 * engine disposed it itself, so no pg pool is left keeping the process alive.
 */
export async function openSchemaEngine(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  log: (line: string) => void = () => undefined,
): Promise<SchemaEngineSession> {
  const glue = await loadSchemaEngineGlue();
  const tracked = trackAdapters(adapterFactory);
  const boundFactory = bindMigrationAwareSqlAdapterFactory(tracked.factory);
  const describe = (error: unknown) => describeEngineError(error, boundFactory.errorRegistry);
  let engine: SchemaEngine;
  openSessions += 1;
  try {
    engine = await glue.SchemaEngine.new({ datamodels: undefined }, (line: string) => log(line.trimEnd()), boundFactory);
  } catch (error) {
    sessionClosed();
    await tracked.disposeAll();
    throw new SchemaEngineCommandError('start', describe(error), error);
  }
  let closing: Promise<void> | undefined;
  return {
    engine,
    async run(command, call) {
      try {
        return await call(engine);
      } catch (error) {
        if (error instanceof Error && error.name === 'RuntimeError') {
          // A panic leaves the wasm instance in an undefined state: the next session gets a fresh one.
          gluePromise = undefined;
          throw new SchemaEngineCommandError(command, `the engine panicked: ${panicRegistry().get() || error.message}`, error);
        }
        throw new SchemaEngineCommandError(command, describe(error), error);
      }
    },
    close() {
      closing ??= (async () => {
        engine.free();
        sessionClosed();
        await tracked.disposeAll();
      })();
      return closing;
    },
  };
}

interface ErrorRegistryLike {
  consumeError(id: number): { error: unknown } | undefined;
}

/** Engine errors are plain objects or strings; driver errors are parked in the adapter's registry by id. */
function describeEngineError(error: unknown, registry: ErrorRegistryLike): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object') {
    const record = error as Record<string, unknown>;
    const parts: string[] = [];
    if (typeof record.message === 'string') parts.push(record.message);
    if (typeof record.error_code === 'string') parts.push(`(${record.error_code})`);
    const meta = record.meta as Record<string, unknown> | undefined;
    if (meta && typeof meta.id === 'number') {
      const driverError = registry.consumeError(meta.id);
      if (driverError) parts.push(`driver error: ${JSON.stringify(driverError.error)}`);
    }
    return parts.length > 0 ? parts.join(' ') : JSON.stringify(error);
  }
  return String(error);
}

function trackAdapters(inner: SqlMigrationAwareDriverAdapterFactory) {
  const open = new Set<SqlDriverAdapter>();
  const track = (adapter: SqlDriverAdapter): SqlDriverAdapter => {
    const dispose = adapter.dispose.bind(adapter);
    let disposing: Promise<void> | undefined;
    // Disposing twice would end a pg pool twice, which pg rejects; make it idempotent.
    adapter.dispose = () => {
      open.delete(adapter);
      disposing ??= dispose();
      return disposing;
    };
    open.add(adapter);
    return adapter;
  };
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => track(await inner.connect()),
    connectToShadowDb: async () => track(await inner.connectToShadowDb()),
  };
  return {
    factory,
    async disposeAll() {
      const results = await Promise.allSettled([...open].map((adapter) => adapter.dispose()));
      const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failure) throw failure.reason;
    },
  };
}
