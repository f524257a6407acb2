import { createLanguageRegistry, installPrefix, interpreterHostPaths, nodeHeapMb } from '../../src/sandbox/languages';
import { LIMIT_DEFAULTS, LANGUAGES } from '../../src/domain/evaluation';

describe('language registry', () => {
  test('has an entry for every language of the API', () => {
    const registry = createLanguageRegistry();
    for (const language of LANGUAGES) expect(registry[language].language).toBe(language);
  });

  test('python runs main.py with an isolated Debian python', () => {
    const python = createLanguageRegistry().python;
    expect(python.fileName).toBe('main.py');
    expect(python.command(LIMIT_DEFAULTS)).toEqual([expect.stringMatching(/^\/usr\/bin\/python3/), '-I', '-B', 'main.py']);
  });

  test('javascript runs main.js with a heap limit derived from the memory limit', () => {
    const javascript = createLanguageRegistry({ nodePath: process.execPath }).javascript;
    expect(javascript.fileName).toBe('main.js');
    expect(javascript.command({ ...LIMIT_DEFAULTS, memoryMb: 256 })).toEqual([expect.any(String), '--max-old-space-size=192', 'main.js']);
  });

  test('heap size: three quarters of the memory limit, at least 16 MB', () => {
    expect(nodeHeapMb(2048)).toBe(1536);
    expect(nodeHeapMb(8)).toBe(16);
  });
});

describe('what of the host an interpreter needs', () => {
  test.each([
    ['/usr/bin/python3.11', 'prefix', []],
    ['/usr/local/bin/node', 'binary', []],
    ['/bin/node', 'binary', []],
    ['/root/.nvm/versions/node/v20.11.0/bin/node', 'binary', ['/root/.nvm/versions/node/v20.11.0/bin/node']],
    ['/opt/python3.12/bin/python3.12', 'prefix', ['/opt/python3.12']],
    ['/custom-bin/python3', 'prefix', ['/custom-bin']],
  ] as const)('%s (%s)', (binary, scope, expected) => {
    expect(interpreterHostPaths(binary, scope)).toEqual(expected);
  });

  test('install prefix', () => {
    expect(installPrefix('/home/u/.nvm/versions/node/v20/bin/node')).toBe('/home/u/.nvm/versions/node/v20');
    expect(installPrefix('/opt/tool/node')).toBe('/opt/tool');
  });
});
