/**
 * Which init the engines run (run/compiled-init.ts): the C init compiled once into a private
 * cache, or init.py with the reason when it cannot be built. (What the two inits do is
 * protocol.test.ts; the engines' suites run with whichever this machine builds: the C one here.)
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compiledInitFileName, initSourceHash, privateCacheDir, sandboxInit } from '../../src/sandbox/run/compiled-init';

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'crucible-test-cinit-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test("'python' is the Python init, whatever compiler there is", async () => {
  expect(await sandboxInit({ mode: 'python' })).toEqual({ kind: 'python', describe: 'init=python (configured)' });
});

test('compiled once into a fresh cache dir (0700, the binary 0555), then read from it', async () => {
  const cacheDir = path.join(scratch, 'cache');
  const first = await sandboxInit({ cacheDir });
  expect(first.kind).toBe('compiled');
  expect(first.describe).toMatch(/^init=C \((static|dynamic), compiled by \/usr\/bin\/(cc|gcc)\)$/);
  expect(lstatSync(cacheDir).mode & 0o777).toBe(0o700);
  const linkage = first.describe.includes('static') ? 'static' : 'dynamic';
  const binary = lstatSync(path.join(cacheDir, compiledInitFileName(initSourceHash(), linkage)));
  expect(binary.isFile() && binary.mode & 0o777).toBe(0o555);

  // Other settings, same cache: no second compile.
  const again = await sandboxInit({ cacheDir, compilerPath: '/nonexistent/cc' });
  expect(again).toMatchObject({ kind: 'compiled', describe: `init=C (${linkage}, cached)` });
  expect(again.kind === 'compiled' && first.kind === 'compiled' && again.binary.equals(first.binary)).toBe(true);
});

test.each([
  ['a missing compiler', '/nonexistent/cc', /^init=python \(the C init could not be built: .*\/nonexistent\/cc.*ENOENT/],
  ['a compiler that fails', '/bin/false', /^init=python \(the C init could not be built: \/bin\/false could not build init\.c/],
])('%s is the Python init, saying why', async (_what, compilerPath, reason) => {
  const cacheDir = path.join(scratch, `cache-${path.basename(compilerPath)}`);
  const init = await sandboxInit({ cacheDir, compilerPath });
  expect(init.kind).toBe('python');
  expect(init.describe).toMatch(reason);
});

describe('the cache dir must be private', () => {
  test('a link is refused, not followed', async () => {
    const target = path.join(scratch, 'elsewhere');
    mkdirSync(target, { mode: 0o700 });
    const link = path.join(scratch, 'link');
    symlinkSync(target, link);
    await expect(privateCacheDir(link)).rejects.toThrow(/not a directory \(a link\?\)/);
  });

  test('a dir open to others is refused', async () => {
    const open = path.join(scratch, 'open');
    mkdirSync(open);
    chmodSync(open, 0o755);
    await expect(privateCacheDir(open)).rejects.toThrow(/open to others \(mode 755\)/);
  });

  (process.getuid?.() === 0 ? test : test.skip)("another user's dir is refused", async () => {
    const foreign = path.join(scratch, 'foreign');
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    await expect(privateCacheDir(foreign)).rejects.toThrow(/owned by uid 65534/);
  });
});
