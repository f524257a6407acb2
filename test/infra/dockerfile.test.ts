/**
 * The Dockerfile checked without a Docker engine: what it copies exists, its stages refer to
 * each other correctly, it builds with the same script the production-build test runs
 * (test/e2e/production-build.test.ts builds and starts it outside Docker), and the entry points
 * it and docker-compose start are ones the build emits.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const compose = fs.readFileSync(path.join(root, 'docker-compose.temporal.yml'), 'utf8');

/** Instructions with their continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

/** dist/main/x.js is what tsc emits for src/main/x.ts. */
const emittedFrom = (distPath: string) => path.join(root, 'src', distPath.replace(/^dist\//, '').replace(/\.js$/, '.ts'));

test('every file or folder it copies from the build context exists', () => {
  const copies = instructions.filter((i) => /^COPY\s/.test(i) && !i.includes('--from='));
  expect(copies.length).toBeGreaterThan(3);
  for (const copy of copies) {
    const sources = copy.split(/\s+/).slice(1, -1);
    for (const source of sources) expect([source, fs.existsSync(path.join(root, source))]).toEqual([source, true]);
  }
});

test('it is multi-stage: the runtime stage takes dist/ from the build stage and runs as a non-root user', () => {
  const stages = instructions.filter((i) => i.startsWith('FROM ')).map((i) => /\bAS\s+(\S+)/i.exec(i)?.[1]);
  expect(stages).toEqual(['build', 'runtime']);
  expect(instructions).toContain('COPY --from=build /app/dist ./dist');
  const runtime = instructions.slice(instructions.findIndex((i) => i.startsWith('FROM ') && i.endsWith('AS runtime')));
  expect(runtime).toContain('USER node');
  expect(runtime.some((i) => i.includes('npm ci --omit=dev'))).toBe(true);
});

test('it builds with scripts/build.ts and starts the compiled API; compose starts compiled api and worker', () => {
  expect(instructions.some((i) => /^RUN .*npx tsx scripts\/build\.ts/.test(i))).toBe(true);
  const cmd = JSON.parse(instructions.find((i) => i.startsWith('CMD '))!.slice(4)) as string[];
  expect(cmd[0]).toBe('node');
  const entries = [cmd.at(-1)!, ...[...compose.matchAll(/"(dist\/main\/[\w-]+\.js)"/g)].map((m) => m[1]!)];
  expect(entries).toEqual(['dist/main/api.js', 'dist/main/api.js', 'dist/main/worker.js']);
  for (const entry of entries) expect(fs.existsSync(emittedFrom(entry))).toBe(true);
  expect(compose).not.toMatch(/npm", "run|tsx/);
});
