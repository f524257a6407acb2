/**
 * The folders of src/ form layers, and imports only run downwards: the workflow code is a leaf
 * that the Temporal bundler can take alone, shared modules never reach into a process's own
 * code, and there is no cycle between folders. Adding an upward import fails here; if a new
 * folder is needed, give it a layer below.
 */
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(__dirname, '../../src');

/** Lower numbers are more basic; a folder may import only from folders with a lower number. */
const LAYER: Record<string, number> = {
  generated: 0, // the Prisma client
  domain: 0, // the product's vocabulary, pure
  workflows: 1, // deterministic workflow code and its contracts (bundle-safe)
  config: 1,
  logging: 2,
  metrics: 2,
  tracing: 3, // request context, metrics and traces through Temporal's interceptors
  db: 3,
  contract: 4, // the public JSON representation (API answers and webhook bodies)
  sandbox: 4,
  temporal: 4, // client-side Temporal plumbing
  scanner: 5,
  webhooks: 5,
  reconciler: 5,
  activities: 6,
  api: 6,
  embedded: 6, // dev-only: embedded PostgreSQL and Temporal for `npm start`
  main: 7, // process entry points
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const IMPORT = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]*)['"]/g;
const folderOf = (file: string) => path.relative(SRC, file).split(path.sep)[0]!;

function folderImports(): Array<{ from: string; to: string; file: string }> {
  return sourceFiles(SRC).flatMap((file) =>
    [...fs.readFileSync(file, 'utf8').matchAll(IMPORT)]
      .map((m) => ({ from: folderOf(file), to: folderOf(path.resolve(path.dirname(file), m[1]!)), file: path.relative(SRC, file) }))
      .filter((edge) => edge.from !== edge.to),
  );
}

test('every folder of src/ has a layer', () => {
  const folders = fs
    .readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  expect(folders.filter((f) => !(f in LAYER))).toEqual([]);
});

test('imports run only downwards (so there is no cycle between folders)', () => {
  const upward = folderImports()
    .filter((edge) => (LAYER[edge.to] ?? Infinity) >= (LAYER[edge.from] ?? -Infinity))
    .map((edge) => `${edge.file} imports ${edge.to}/ (layer ${LAYER[edge.to]} >= ${LAYER[edge.from]})`);
  expect(upward).toEqual([]);
});

test('the check notices an upward import', () => {
  const edge = { from: 'domain', to: 'sandbox' };
  expect(LAYER[edge.to]! >= LAYER[edge.from]!).toBe(true);
});

test('workflow code imports nothing but the Temporal workflow SDK, the domain and its own folder', () => {
  const foreign = sourceFiles(path.join(SRC, 'workflows')).flatMap((file) =>
    [...fs.readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]/gm)]
      .map((m) => m[1]!)
      .filter((spec) => !spec.startsWith('./') && !spec.startsWith('../domain/') && !/^@temporalio\/(workflow|common)(\/|$)/.test(spec))
      .map((spec) => `${path.relative(SRC, file)}: ${spec}`),
  );
  expect(foreign).toEqual([]);
});
