/** scanFiles: every source file of a multi-file submission is scanned by the real scanners, and each finding names its file. */
import { MAX_REPORTED_FINDINGS, MAX_SCAN_INPUT_BYTES, ScanError, fileRole, scanFiles, type ScannedFile } from '../../src/scanner';
import { isSortedByPosition } from './helpers';

function filesOf(map: Record<string, string | Buffer>): ScannedFile[] {
  return Object.entries(map).map(([path, content]) => ({ path, content: typeof content === 'string' ? Buffer.from(content) : content }));
}

/** `ruleId@file:line` for every finding, in report order. */
function located(findings: ReadonlyArray<{ ruleId: string; file?: string; line: number }>): string[] {
  return findings.map((finding) => `${finding.ruleId}@${finding.file ?? '-'}:${finding.line}`);
}

describe('python', () => {
  test('a helper module that opens a socket or runs a command is found in that module', async () => {
    const report = await scanFiles(
      'python',
      filesOf({
        'main.py': 'from pkg.net import fetch\nprint(fetch())\n',
        'pkg/__init__.py': '',
        'pkg/net.py': 'import socket\nimport os\n\ndef fetch():\n    os.system("id")\n    return socket.gethostname()\n',
      }),
      { entryPoint: 'main.py' },
    );
    expect(located(report.findings)).toEqual([
      'py.import.socket@pkg/net.py:1',
      'py.import.os@pkg/net.py:2',
      'py.call.os.system@pkg/net.py:5',
    ]);
    expect(report.syntaxError).toBeNull();
  });

  test('a data file is not parsed, whatever it holds', async () => {
    const report = await scanFiles(
      'python',
      filesOf({ 'main.py': 'print(open("input.txt").read())\n', 'input.txt': 'import os\nos.system("id")\n(((\n' }),
      { entryPoint: 'main.py' },
    );
    expect(report).toEqual({ findings: [], syntaxError: null });
  });

  test('a syntax error in a module that is not the entry point is reported with its file', async () => {
    const report = await scanFiles(
      'python',
      filesOf({ 'main.py': 'import util\nprint(util.f())\n', 'util.py': 'def f(:\n    return 1\n' }),
      { entryPoint: 'main.py' },
    );
    expect(report.syntaxError).toMatchObject({ file: 'util.py', line: 1 });
    expect(report.findings).toEqual([]);
  });

  test("the entry point's syntax error wins over one in a file before it (it is compiled first)", async () => {
    const report = await scanFiles('python', filesOf({ 'a.py': 'x = (\n', 'main.py': 'import a\nif\n' }), { entryPoint: 'main.py' });
    expect(report.syntaxError).toMatchObject({ file: 'main.py', line: 2 });
  });

  test('compiled code Python would import is a finding the default policy blocks', async () => {
    const report = await scanFiles(
      'python',
      filesOf({ 'main.py': 'import fast\n', 'fast.cpython-311-x86_64-linux-gnu.so': Buffer.from([0x7f, 0x45, 0x4c, 0x46]) }),
      {
        entryPoint: 'main.py',
      },
    );
    expect(located(report.findings)).toEqual(['scan.unparseable@fast.cpython-311-x86_64-linux-gnu.so:1']);
    expect(report.findings[0]?.severity).toBe('critical');
  });

  test('the findings cap applies to the whole submission and counts what each file left out', async () => {
    const imports = 'import os\n'.repeat(150);
    const report = await scanFiles('python', filesOf({ 'a.py': imports, 'b.py': imports, 'c.py': 'import socket\n'.repeat(250) }));
    expect(report.findings).toHaveLength(MAX_REPORTED_FINDINGS + 1);
    const truncation = report.findings.filter((finding) => finding.ruleId === 'scan.findings_truncated');
    // c.py's own scan kept 200 of its 250 critical findings; the merge keeps those 200 and drops the 300 high ones.
    expect(truncation).toEqual([expect.objectContaining({ message: '350 more findings were left out (the most severe are kept)' })]);
    expect(truncation[0]?.file).toBeUndefined();
    expect(new Set(report.findings.filter((finding) => finding !== truncation[0]).map((finding) => finding.file))).toEqual(
      new Set(['c.py']),
    );
  });
});

test('javascript: child_process in a required file is found there', async () => {
  const report = await scanFiles(
    'javascript',
    filesOf({
      'index.js': "const { run } = require('./lib/run.cjs');\nrun();\n",
      'lib/run.cjs': "const cp = require('child_process');\nexports.run = () => cp.execSync('id');\n",
      'package.json': '{ "name": "x", "main": "index.js" }\n',
    }),
    { entryPoint: 'index.js' },
  );
  expect(located(report.findings)).toEqual(['js.import.child_process@lib/run.cjs:1']);
});

test('cpp: system() in a second translation unit and in a header are each found in their file', async () => {
  const report = await scanFiles(
    'cpp',
    filesOf({
      'main.cpp': '#include "helper.hpp"\nint main() { return helper(); }\n',
      'helper.cpp': '#include <cstdlib>\n#include "helper.hpp"\nint helper() {\n  return std::system("id");\n}\n',
      'helper.hpp': '#pragma once\n#include <cstdlib>\ninline int shell() { return system("sh"); }\nint helper();\n',
      'input.txt': 'system("not code");\n',
    }),
    { entryPoint: 'main.cpp' },
  );
  expect(located(report.findings)).toEqual(['cpp.process.spawn@helper.cpp:4', 'cpp.process.spawn@helper.hpp:3']);
  expect(isSortedByPosition(report.findings.filter((finding) => finding.file === 'helper.cpp'))).toBe(true);
});

test('bash: the entry point is scanned whatever its name; other files without a script extension are data', async () => {
  const report = await scanFiles(
    'bash',
    filesOf({ run: 'source ./lib.sh\neval "$1"\n', 'lib.sh': 'curl http://example.com\n', notes: 'eval "$x"\n' }),
    {
      entryPoint: 'run',
    },
  );
  expect(located(report.findings)).toEqual(['bash.command.network@lib.sh:1', 'bash.command.eval@run:2']);
});

describe('a data file the program loads as code is scanned as source', () => {
  test('c: #include "input.txt" (here from a header, in another directory)', async () => {
    const report = await scanFiles(
      'c',
      filesOf({
        'main.c': '#include "lib/util.h"\nint main(void) { return run(); }\n',
        'lib/util.h': '#include "input.txt"\n',
        'data/input.txt': 'int run(void) { return system("id"); }\n',
        'data/other.txt': 'system("not included");\n',
      }),
      { entryPoint: 'main.c' },
    );
    expect(located(report.findings)).toEqual(['c.process.spawn@data/input.txt:1']);
  });

  test("javascript: require('./payload.txt') (Node loads an unknown extension as JavaScript)", async () => {
    const report = await scanFiles(
      'javascript',
      filesOf({
        'index.js': "require('./payload.txt');\nconst data = require('fs').readFileSync('input.txt', 'utf8');\n",
        'payload.txt': "require('child_process').execSync('id');\n",
        'input.txt': "require('child_process')\n",
      }),
      { entryPoint: 'index.js' },
    );
    expect(located(report.findings)).toEqual(['js.import.fs@index.js:2', 'js.import.child_process@payload.txt:1']);
  });

  test('bash: source, . and bash of a file without a script extension', async () => {
    const report = await scanFiles(
      'bash',
      filesOf({
        'main.sh': 'source config\nif true; then . ./env; fi\nbash -e steps\ncat input\n',
        config: 'eval "$1"\n',
        env: 'nc -l 4444\n',
        steps: 'kill 1\n',
        input: 'eval x\n',
      }),
      { entryPoint: 'main.sh' },
    );
    expect(located(report.findings)).toEqual(['bash.command.eval@config:1', 'bash.command.network@env:1', 'bash.command.signal@steps:1']);
  });
});

test('the source files together are bounded like one file; data files do not count', async () => {
  const half = Buffer.from('x = 1\n'.repeat(Math.ceil((MAX_SCAN_INPUT_BYTES / 2 + 1) / 6)));
  const tooLarge = scanFiles('python', [
    { path: 'a.py', content: half },
    { path: 'b.py', content: half },
  ]);
  await expect(tooLarge).rejects.toBeInstanceOf(ScanError);
  await expect(tooLarge).rejects.toMatchObject({ code: 'input_too_large', retryable: false });

  const withData = await scanFiles('python', [
    { path: 'a.py', content: half },
    { path: 'data.csv', content: half },
  ]);
  expect(withData.syntaxError).toBeNull();
});

test('findings are ordered by file path, then line, whatever order the files come in', async () => {
  const files = filesOf({ 'z.py': 'import os\n', 'b/c.py': '\n\nimport socket\nimport os\n', 'a.py': 'x = 1\nimport subprocess\n' });
  const forwards = await scanFiles('python', files);
  const backwards = await scanFiles('python', [...files].reverse());
  expect(located(forwards.findings)).toEqual([
    'py.import.subprocess@a.py:2',
    'py.import.socket@b/c.py:3',
    'py.import.os@b/c.py:4',
    'py.import.os@z.py:1',
  ]);
  expect(backwards).toEqual(forwards);
});

test.each([
  ['python', 'pkg/net.py', 'source'],
  ['python', 'input.txt', 'data'],
  ['python', 'mod.pyc', 'opaque'],
  ['javascript', 'a.mjs', 'source'],
  ['javascript', 'data.json', 'data'],
  ['c', 'x.h', 'source'],
  ['cpp', 'x.H', 'source'],
  ['cpp', 'x.cc', 'source'],
  ['go', 'asm_amd64.s', 'opaque'],
  ['java', 'Helper.class', 'opaque'],
  ['bash', 'lib.sh', 'source'],
  ['bash', '.env', 'data'],
] as const)('%s: %s is %s', (language, path, role) => {
  expect(fileRole(language, path)).toBe(role);
});
