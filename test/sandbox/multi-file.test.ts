/**
 * Multi-file submissions, build() once and run many times, and extra read-only files, in every
 * engine available here, with the real toolchains: a Python package imported by the entry point,
 * a C++ program of a header and two .cpp files, Go and Java (packages too) of several files; a
 * program built once runs three times without compiling again; extra files are readable and
 * cannot be written or replaced; nested directories are placed as given; paths that could leave
 * the work dir are refused by the engine itself (RangeError) before anything runs.
 */
import { computeVerdict } from '../../src/domain/verdict';
import type { Language } from '../../src/domain/evaluation';
import type { BuildRequest, BuiltProgram, RunRequest, SourceFile, StageName } from '../../src/sandbox/engine';
import type { PipelineEngine } from '../../src/sandbox/engines/common';
import { createLanguageRegistry } from '../../src/sandbox/languages';
import { runStage } from '../../src/sandbox/run/stage';
import { FAST_LIMITS, describeEachEngine, limiter, text } from './engines';
import { defaultLimitsOf } from './language-programs';

const TIMEOUT = 180_000;

const file = (path: string, content: string): SourceFile => ({ path, content: Buffer.from(content) });

describeEachEngine('multi-file submissions', (subject) => {
  const slot = limiter(2);
  const it = (name: string, body: () => Promise<void>) => test.concurrent(name, body, TIMEOUT);
  const limitsOf = (language: Language) => (language === 'java' || language === 'go' ? defaultLimitsOf(language) : FAST_LIMITS);
  const run = (request: Omit<RunRequest, 'code' | 'limits'> & { code?: Buffer }) =>
    slot(() => subject.engine().run({ code: Buffer.alloc(0), limits: limitsOf(request.language), ...request }));
  const build = (request: Omit<BuildRequest, 'code'> & { code?: Buffer }) =>
    slot(() => subject.engine().build({ code: Buffer.alloc(0), ...request }));

  // The placed files' directories are closed to the program: a mount point in bwrap and gVisor;
  // in the process engine, root's directories, which only a service running as root can make.
  const directoriesClosed = subject.isolated || process.getuid?.() === 0;

  afterAll(() => {
    expect(subject.leftovers()).toEqual([]);
  });

  it('python: the entry point imports a package and a sibling module beside it', async () => {
    const result = await run({
      language: 'python',
      files: [
        file(
          'main.py',
          'import sys\nfrom geometry import shapes\nimport helpers\nprint(shapes.area(int(sys.stdin.read())), helpers.NAME)\n',
        ),
        file('geometry/__init__.py', ''),
        file('geometry/shapes.py', 'from .units import SCALE\ndef area(side):\n    return side * side * SCALE\n'),
        file('geometry/units.py', 'SCALE = 2\n'),
        file('helpers.py', 'NAME = "helpers"\n'),
      ],
      stdin: Buffer.from('3'),
    });
    expect(text(result)).toEqual({ stdout: '18 helpers\n', stderr: '' });
    expect(result).toMatchObject({ exitCode: 0, limitHit: null, engine: subject.name });
    expect(result.compilation).toBeUndefined();
  });

  it('javascript: require of a relative file, entry point in a directory', async () => {
    const result = await run({
      language: 'javascript',
      entryPoint: 'src/index.js',
      files: [
        file('src/index.js', "console.log(require('./lib/add').add(2, 40));\n"),
        file('src/lib/add.js', 'exports.add = (a, b) => a + b;\n'),
      ],
    });
    expect(text(result)).toEqual({ stdout: '42\n', stderr: '' });
  });

  it('bash: the entry point sources a file beside it; code is the entry point when files lacks it', async () => {
    const result = await run({
      language: 'bash',
      entryPoint: 'run.sh',
      code: Buffer.from('. lib/greet.sh\ngreet world\n'),
      files: [file('lib/greet.sh', 'greet() { echo "hello $1"; }\n')],
    });
    expect(text(result)).toEqual({ stdout: 'hello world\n', stderr: '' });
  });

  it('cpp: a header and two .cpp files (one in a directory) are compiled and linked', async () => {
    const result = await run({
      language: 'cpp',
      files: [
        file('include/geo.hpp', '#pragma once\nlong area(long w, long h);\n'),
        file(
          'main.cpp',
          '#include <iostream>\n#include "include/geo.hpp"\nint main() { long w, h; std::cin >> w >> h; std::cout << area(w, h) << "\\n"; }\n',
        ),
        // Found relative to the work dir (-iquote .), not only to the including file.
        file('src/geo.cpp', '#include "include/geo.hpp"\nlong area(long w, long h) { return w * h; }\n'),
      ],
      stdin: Buffer.from('6 7\n'),
    });
    expect(text(result)).toEqual({ stdout: '42\n', stderr: '' });
    expect(result.compilation).toMatchObject({ ok: true, exitCode: 0 });
    expect(computeVerdict(result, '42')).toBe('accepted');
  });

  it('c: every .c file, headers beside them', async () => {
    const result = await run({
      language: 'c',
      files: [
        file('main.c', '#include <stdio.h>\n#include "twice.h"\nint main(void) { printf("%d\\n", twice(21)); return 0; }\n'),
        file('twice.h', 'int twice(int x);\n'),
        file('twice.c', '#include "twice.h"\nint twice(int x) { return 2 * x; }\n'),
      ],
    });
    expect(text(result)).toEqual({ stdout: '42\n', stderr: '' });
  });

  it('go: every .go file as package main', async () => {
    const result = await run({
      language: 'go',
      files: [
        file('main.go', 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(answer()) }\n'),
        file('answer.go', 'package main\n\nfunc answer() int { return twice(21) }\n'),
        file('twice.go', 'package main\n\nfunc twice(x int) int { return 2 * x }\n'),
      ],
    });
    expect(text(result)).toEqual({ stdout: '42\n', stderr: '' });
    expect(result.compilation).toMatchObject({ ok: true });
  });

  it('java: classes in packages; the entry point app/Main.java runs app.Main', async () => {
    const result = await run({
      language: 'java',
      entryPoint: 'app/Main.java',
      files: [
        file(
          'app/Main.java',
          'package app;\n\nimport lib.Util;\n\npublic class Main {\n  public static void main(String[] args) { System.out.println(Util.twice(21) + " " + new Helper().name()); }\n}\n',
        ),
        file('app/Helper.java', 'package app;\n\nclass Helper {\n  String name() { return "helper"; }\n}\n'),
        file('lib/Util.java', 'package lib;\n\npublic class Util {\n  public static int twice(int x) { return 2 * x; }\n}\n'),
      ],
    });
    expect(text(result)).toEqual({ stdout: '42 helper\n', stderr: '' });
    expect(result.compilation).toMatchObject({ ok: true });
  });

  it('java: several classes of the default package, in a directory whose name is no package name', async () => {
    const outcome = await build({
      language: 'java',
      entryPoint: 'my-app/Main.java',
      files: [
        file(
          'my-app/Main.java',
          'public class Main {\n  public static void main(String[] args) { System.out.println(Twice.of(21)); }\n}\n',
        ),
        file('my-app/Twice.java', 'public class Twice {\n  static int of(int x) { return 2 * x; }\n}\n'),
      ],
    });
    if (!outcome.ok) throw new Error(`build failed: ${text(outcome.result).stderr}`);
    expect(outcome.program.files.map((built) => built.path).sort()).toEqual(['Main.class', 'Twice.class']);
    const result = await run({ language: 'java', built: outcome.program });
    expect(text(result)).toEqual({ stdout: '42\n', stderr: '' });
  });

  it('build once, then run three times with different stdin: no compile stage after the build', async () => {
    const stages: StageName[] = [];
    const onStageStart = (stage: StageName) => stages.push(stage);
    const outcome = await build({
      language: 'cpp',
      code: Buffer.from('#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a * b << "\\n"; }\n'),
      onStageStart,
    });
    if (!outcome.ok) throw new Error(`build failed: ${text(outcome.result).stderr}`);
    const { program } = outcome;
    expect(stages).toEqual(['compile']);
    expect(program).toMatchObject({ language: 'cpp', entryPoint: 'main.cpp', compilation: { ok: true, exitCode: 0 } });
    expect(program.files).toEqual([{ path: 'main', content: expect.any(Buffer), executable: true }]);

    for (const [stdin, product] of [
      ['6 7', '42'],
      ['3 5', '15'],
      ['11 11', '121'],
    ]) {
      const result = await run({ language: 'cpp', built: program, stdin: Buffer.from(stdin), onStageStart });
      expect(text(result)).toEqual({ stdout: `${product}\n`, stderr: '' });
      // The build's own compile figures, not a new compile's.
      expect(result.compilation).toBe(program.compilation);
    }
    expect(stages).toEqual(['compile', 'run', 'run', 'run']);
  });

  it('run() without built still compiles, then runs: two stages', async () => {
    const stages: StageName[] = [];
    const result = await run({
      language: 'c',
      code: Buffer.from('#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n'),
      onStageStart: (stage) => stages.push(stage),
    });
    expect(text(result).stdout).toBe('ok\n');
    expect(stages).toEqual(['compile', 'run']);
  });

  it('build() of an interpreted language runs nothing and returns the source files', async () => {
    const stages: StageName[] = [];
    const outcome = await build({
      language: 'python',
      files: [file('main.py', 'import lib\nprint(lib.X)\n'), file('lib.py', 'X = 7\n')],
      onStageStart: (stage) => stages.push(stage),
    });
    expect(outcome).toEqual({
      ok: true,
      program: {
        language: 'python',
        entryPoint: 'main.py',
        files: [
          { path: 'main.py', content: Buffer.from('import lib\nprint(lib.X)\n'), executable: false },
          { path: 'lib.py', content: Buffer.from('X = 7\n'), executable: false },
        ],
      },
    });
    expect(stages).toEqual([]);
    const result = await run({ language: 'python', built: (outcome as { program: BuiltProgram }).program });
    expect(text(result)).toEqual({ stdout: '7\n', stderr: '' });
    expect(result.compilation).toBeUndefined();
  });

  it("a compile failure from build() is ok: false with the compiler's message in stderr", async () => {
    const outcome = await build({
      language: 'cpp',
      files: [
        file('main.cpp', '#include "util.hpp"\nint main() { return helper(); }\n'),
        file('util.hpp', 'int helper() { return undefined_name; }\n'),
      ],
    });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.result.compilation).toMatchObject({ ok: false, limitHit: null });
    expect(outcome.result.compilation!.exitCode).not.toBe(0);
    expect(text(outcome.result).stderr).toMatch(/util\.hpp.*undefined_name/s);
    expect(computeVerdict(outcome.result)).toBe('compilation_error');
  });

  it('extra files are readable beside the program, and it can neither write nor replace them', async () => {
    const outcome = await build({
      language: 'c',
      code: Buffer.from(`#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
static void report(const char *what, int ok) { printf("%s %s\\n", what, ok ? "done" : strerror(errno)); }
int main(void) {
  char buffer[64] = {0};
  FILE *input = fopen("case/input", "r");
  if (!input || !fgets(buffer, sizeof buffer, input)) return 2;
  printf("read %s", buffer);
  report("write", open("case/input", O_WRONLY) >= 0);
  report("truncate", truncate("case/expected", 0) == 0);
  report("chmod", chmod("case/expected", 0666) == 0);
  report("unlink", unlink("case/expected") == 0);
  report("rename-file", rename("case/expected", "elsewhere") == 0);
  report("create-beside", open("case/new", O_WRONLY | O_CREAT, 0644) >= 0);
  report("rename-dir", rename("case", "moved") == 0);
  report("work-dir-writable", open("scratch", O_WRONLY | O_CREAT, 0644) >= 0);
  return 0;
}
`),
    });
    if (!outcome.ok) throw new Error(`build failed: ${text(outcome.result).stderr}`);
    const result = await run({
      language: 'c',
      built: outcome.program,
      extraFiles: [file('case/input', 'the input\n'), file('case/expected', 'the answer\n')],
    });
    const lines = text(result).stdout.trim().split('\n');
    const outcomeOf = (what: string) => lines.find((line) => line.startsWith(`${what} `))?.slice(what.length + 1);
    expect(lines[0]).toBe('read the input');
    for (const what of ['write', 'truncate', 'chmod']) expect(outcomeOf(what)).not.toBe('done');
    if (directoriesClosed) {
      for (const what of ['unlink', 'rename-file', 'create-beside']) expect(outcomeOf(what)).not.toBe('done');
    }
    // The process engine isolates nothing: its program owns the work dir and may rename a directory in it.
    if (subject.isolated) expect(outcomeOf('rename-dir')).not.toBe('done');
    expect(outcomeOf('work-dir-writable')).toBe('done');
    expect(result.exitCode).toBe(0);
  });

  it('nested directories are placed as given, read-only, with the files at their paths', async () => {
    const result = await run({
      language: 'python',
      entryPoint: 'bin/main.py',
      code: Buffer.from(`import os
for root, dirs, files in sorted(os.walk('.')):
    for name in sorted(files):
        path = os.path.join(root, name)[2:]
        print(path, open(path).read().splitlines()[0], oct(os.stat(path).st_mode & 0o777))
try:
    open('a/b/c/new', 'w')
    print('created')
except OSError:
    print('directory read-only')
`),
      files: [file('a/b/c/deep.txt', 'deep'), file('a/top.txt', 'top')],
      extraFiles: [file('data/x/y/z.txt', 'z')],
    });
    expect(text(result)).toEqual({
      stdout: [
        'a/top.txt top 0o444',
        'a/b/c/deep.txt deep 0o444',
        'bin/main.py import os 0o444',
        'data/x/y/z.txt z 0o444',
        directoriesClosed ? 'directory read-only' : 'created',
        '',
      ].join('\n'),
      stderr: '',
    });
  });

  describe("paths that could leave the work dir are the caller's error (RangeError), before anything runs", () => {
    const evil = ['../x', '/etc/passwd', 'a/../../b', 'a//b', './x'];
    const limits = FAST_LIMITS;
    const code = Buffer.from('print(1)\n');

    test.each(evil)('run() refuses %j in files, entryPoint and extraFiles', async (path) => {
      const stages: StageName[] = [];
      const onStageStart = (stage: StageName) => stages.push(stage);
      const engine = subject.engine();
      await expect(engine.run({ language: 'python', code, limits, files: [file(path, 'x')], onStageStart })).rejects.toThrow(RangeError);
      await expect(engine.run({ language: 'python', code, limits, entryPoint: path, onStageStart })).rejects.toThrow(RangeError);
      await expect(engine.run({ language: 'python', code, limits, extraFiles: [file(path, 'x')], onStageStart })).rejects.toThrow(
        RangeError,
      );
      await expect(engine.build({ language: 'c', code, files: [file(path, 'x')], onStageStart })).rejects.toThrow(RangeError);
      const built = { language: 'python' as const, entryPoint: path, files: [{ path, content: code, executable: false }] };
      await expect(engine.run({ language: 'python', code, limits, built, onStageStart })).rejects.toThrow(RangeError);
      expect(stages).toEqual([]);
    });

    test.each(evil)("the engine's own placement refuses %j", async (path) => {
      const engine = subject.engine() as PipelineEngine;
      const registry = createLanguageRegistry();
      const stage = runStage({ language: 'python', code, limits }, registry.python, {
        entryPoint: 'main.py',
        files: [{ name: 'main.py', content: code, executable: false }],
      });
      const context = {
        cgroup: null,
        tmpfs: { workDirBytes: 1 << 20, sharedMemoryBytes: 1 << 20 },
        init: ['/init'],
        initBinary: null,
        rlimits: [],
      };
      const files = [...stage.files, { name: path, content: code, executable: false }];
      // bwrap's prepare throws at once, the others reject: either way, nothing is placed.
      await expect((async () => engine.prepare({ ...context, stage: { ...stage, files } }))()).rejects.toThrow(RangeError);
    });

    test('two files at one path, or a file where another needs a directory', async () => {
      const engine = subject.engine();
      await expect(engine.run({ language: 'python', code, limits, files: [file('a', '1'), file('a/b', '2')] })).rejects.toThrow(
        /directory/,
      );
      await expect(engine.run({ language: 'python', code, limits, extraFiles: [file('main.py', 'x')] })).rejects.toThrow(/two files/);
      await expect(engine.run({ language: 'python', code, limits, files: [file('x.py', '1'), file('x.py', '2')] })).rejects.toThrow(
        RangeError,
      );
    });

    test('a program built for another language', async () => {
      const built: BuiltProgram = {
        language: 'python',
        entryPoint: 'main.py',
        files: [{ path: 'main.py', content: code, executable: false }],
      };
      await expect(subject.engine().run({ language: 'bash', code, limits, built })).rejects.toThrow(/built for python/);
    });
  });
});
