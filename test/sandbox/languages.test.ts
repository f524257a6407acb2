import { existsSync } from 'node:fs';
import {
  createLanguageRegistry,
  fileArgument,
  installPrefix,
  interpreterHostPaths,
  javaMainClass,
  jdkConfigPaths,
  nodeHeapMb,
} from '../../src/sandbox/languages';
import { LanguageCatalog } from '../../src/sandbox/language-catalog';
import { matchesArtefact } from '../../src/sandbox/run/stage';
import { LIMIT_DEFAULTS, LIMIT_MAXIMA, LANGUAGES, type Limits } from '../../src/domain/evaluation';

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

  test('compiled languages have a compile step whose artefacts the run uses; interpreted ones none', () => {
    const registry = createLanguageRegistry();
    expect(LANGUAGES.filter((language) => registry[language].compile !== null)).toEqual(['c', 'cpp', 'go', 'java']);
    expect(registry.c.compile!.command(registry.c.compile!.limits)).toEqual(expect.arrayContaining(['-o', 'main', 'main.c']));
    expect(registry.c.command(LIMIT_DEFAULTS)).toEqual(['./main']);
    expect(registry.java.compile!.artefacts).toEqual(['*.class']);
    expect(registry.java.command({ ...LIMIT_DEFAULTS, memoryMb: 512 })).toEqual(expect.arrayContaining(['-Xmx384m', '-cp', '.', 'Main']));
    expect(registry.go.compile!.environment(LIMIT_DEFAULTS, { home: '/work', tmp: '/tmp' })).toMatchObject({
      GOCACHE: '/tmp/go-cache',
      GOPROXY: 'off',
      GOFLAGS: '-mod=mod',
      CGO_ENABLED: '0',
    });
    expect(registry.bash.command(LIMIT_DEFAULTS)).toEqual([expect.stringMatching(/bash$/), '--norc', '--noprofile', 'main.sh']);
  });

  test('every default and compile limit is within the maxima; the JVM and Go get more memory than Python', () => {
    const registry = createLanguageRegistry();
    const within = (limits: Limits) =>
      (Object.keys(LIMIT_MAXIMA) as Array<keyof Limits>).every((key) => limits[key] > 0 && limits[key] <= LIMIT_MAXIMA[key]);
    for (const language of LANGUAGES) {
      expect([language, within(registry[language].defaultLimits)]).toEqual([language, true]);
      if (registry[language].compile) expect([language, within(registry[language].compile!.limits)]).toEqual([language, true]);
    }
    expect(registry.java.defaultLimits.memoryMb).toBeGreaterThan(registry.python.defaultLimits.memoryMb);
    expect(registry.go.defaultLimits.memoryMb).toBeGreaterThan(registry.python.defaultLimits.memoryMb);
    expect(registry.java.runtimeTasks).toBeGreaterThanOrEqual(20);
  });

  test("Debian's JDK configuration under /etc is bound for java and javac", () => {
    const java = createLanguageRegistry().java;
    if (!existsSync('/etc/java-17-openjdk')) return; // another JDK layout: nothing outside /usr to find here
    expect(java.hostPaths).toContain('/etc/java-17-openjdk');
    expect(jdkConfigPaths('/nonexistent/bin/java')).toEqual([]);
  });

  test('several files: how each language is given them (single-file commands stay as they were)', () => {
    const registry = createLanguageRegistry();
    const program = (entryPoint: string, ...others: string[]) => ({ entryPoint, paths: [entryPoint, ...others] });
    // Python: -I would keep the entry point's directory out of sys.path, so -E -s; one file keeps -I.
    expect(registry.python.command(LIMIT_DEFAULTS, program('app/run.py', 'app/lib.py'))).toEqual([
      expect.any(String),
      '-E',
      '-s',
      '-B',
      'app/run.py',
    ]);
    expect(registry.python.command(LIMIT_DEFAULTS, program('solution.py'))).toEqual([expect.any(String), '-I', '-B', 'solution.py']);
    expect(registry.javascript.command(LIMIT_DEFAULTS, program('src/index.js', 'src/a.js')).at(-1)).toBe('src/index.js');
    expect(registry.bash.command(LIMIT_DEFAULTS, program('-run.sh')).at(-1)).toBe('./-run.sh');
    // C and C++: every source of the language, the entry point first, headers never; -iquote . for "dir/x.h".
    const cpp = registry.cpp.compile!.command(
      registry.cpp.compile!.limits,
      program('main.cpp', 'include/geo.hpp', 'src/b.cxx', 'a.cc', 'notes.txt', 'x.c'),
    );
    expect(cpp.slice(cpp.indexOf('-iquote'))).toEqual(['-iquote', '.', '-o', 'main', 'main.cpp', 'a.cc', 'src/b.cxx']);
    const c = registry.c.compile!.command(registry.c.compile!.limits, program('main.c', 'util.c', 'util.h', 'other.cpp'));
    expect(c.slice(c.indexOf('-o'))).toEqual(['-o', 'main', 'main.c', 'util.c', '-lm']);
    expect(registry.c.compile!.command(registry.c.compile!.limits)).toEqual([
      expect.any(String),
      '-std=gnu17',
      '-O2',
      '-pipe',
      '-o',
      'main',
      'main.c',
      '-lm',
    ]);
    // Go: every .go file but tests; Java: every .java file, the main class from the class files.
    expect(registry.go.compile!.command(registry.go.compile!.limits, program('main.go', 'b.go', 'b_test.go', 'README.md'))).toEqual([
      expect.any(String),
      'build',
      '-o',
      'main',
      'main.go',
      'b.go',
    ]);
    const javac = registry.java.compile!.command(registry.java.compile!.limits, program('app/Main.java', 'lib/Util.java'));
    expect(javac.slice(javac.indexOf('-d'))).toEqual(['-d', '.', 'app/Main.java', 'lib/Util.java']);
    expect(registry.java.compile!.artefactDepth).toBeGreaterThan(1);
    expect(registry.java.command(LIMIT_DEFAULTS, { entryPoint: 'app/Main.java', paths: ['app/Main.class', 'lib/Util.class'] }).at(-1)).toBe(
      'app.Main',
    );
  });

  test('the Java main class: found among the class files, else from the path; never something that passes for an option', () => {
    expect(javaMainClass('Main.java', [])).toBe('Main');
    expect(javaMainClass('Main.java', ['Main.class', 'Main$1.class'])).toBe('Main');
    // `package app;` in a top-level Main.java, and the other way round.
    expect(javaMainClass('Main.java', ['app/Main.class'])).toBe('app.Main');
    expect(javaMainClass('app/Main.java', ['Main.class'])).toBe('Main');
    expect(javaMainClass('app/Main.java', [])).toBe('app.Main');
    // Several classes of that name: the entry point's directory, else the top level.
    expect(javaMainClass('app/Main.java', ['lib/Main.class', 'app/Main.class', 'Main.class'])).toBe('app.Main');
    expect(javaMainClass('src/Main.java', ['lib/Main.class', 'Main.class'])).toBe('Main');
    expect(() => javaMainClass('-XX:+Crash.java', [])).toThrow(RangeError);
    expect(() => javaMainClass('my-app/Main.java', [])).toThrow(RangeError);
  });

  test('a file argument that starts with - is written ./-x', () => {
    expect(fileArgument('-c.py')).toBe('./-c.py');
    expect(fileArgument('a/-b.py')).toBe('a/-b.py');
  });

  test('artefact patterns: exact names and *.suffix', () => {
    expect(matchesArtefact('main', ['main'])).toBe(true);
    expect(matchesArtefact('main.c', ['main'])).toBe(false);
    expect(matchesArtefact('Main$1.class', ['*.class'])).toBe(true);
    expect(matchesArtefact('.class', ['*.class'])).toBe(false);
    expect(matchesArtefact('Main.java', ['*.class'])).toBe(false);
  });

  test('a toolchain that is missing makes its language unavailable, with the reason; the others are probed for real', async () => {
    const catalog = new LanguageCatalog(createLanguageRegistry({ goPath: '/nonexistent/go' }));
    const go = await catalog.describe('go');
    expect(go).toMatchObject({ available: false, version: null });
    expect(go.unavailableReason).toMatch(/\/nonexistent\/go is not an executable file here/);
    const python = await catalog.describe('python');
    expect(python).toMatchObject({ available: true, compileCommand: null });
    expect(python.version).toMatch(/^Python 3\./);
    expect((await catalog.list()).map((language) => language.id)).toEqual([...LANGUAGES]);
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
