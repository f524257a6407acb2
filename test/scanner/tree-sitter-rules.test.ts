/**
 * The tree-sitter scanner over real code in each language it covers: ordinary judge programs get
 * no finding, and what a submission should not do (start programs, open sockets, call native code,
 * hide calls) is found where it is written.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { closeTreeSitterScanner, scanWithTreeSitter } from '../../src/scanner/tree-sitter/scan';
import { RULES_BY_GRAMMAR } from '../../src/scanner/tree-sitter/rules';
import type { GrammarName } from '../../src/scanner/tree-sitter/grammars';

afterAll(() => closeTreeSitterScanner());

const scan = (grammar: GrammarName, code: string) => scanWithTreeSitter(grammar, Buffer.from(code));
const ruleIds = async (grammar: GrammarName, code: string) =>
  [...new Set((await scan(grammar, code)).findings.map((f) => f.ruleId))].sort();

describe('ordinary programs have no findings', () => {
  test.each<[GrammarName, string]>([
    ['c', '#include <stdio.h>\nint main(void) { int a, b; scanf("%d %d", &a, &b); printf("%d\\n", a + b); return 0; }\n'],
    [
      'cpp',
      '#include <iostream>\n#include <vector>\nint main() { std::vector<int> v{1,2,3}; long s = 0; for (int x : v) s += x; std::cout << s << "\\n"; }\n',
    ],
    [
      'go',
      'package main\n\nimport (\n\t"bufio"\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tr := bufio.NewReader(os.Stdin)\n\tvar a, b int\n\tfmt.Fscan(r, &a, &b)\n\tfmt.Println(a + b)\n}\n',
    ],
    [
      'java',
      'import java.util.Scanner;\nimport java.io.*;\npublic class Main { public static void main(String[] args) { Scanner in = new Scanner(System.in); System.out.println(in.nextInt() + in.nextInt()); } }\n',
    ],
    ['bash', 'read a b\necho $((a + b))\nfor i in 1 2 3; do echo "$i"; done | sort -n\n'],
  ])('%s', async (grammar, code) => {
    expect((await scan(grammar, code)).findings).toEqual([]);
  });
});

describe('C and C++', () => {
  test('starting programs, forking, raw syscalls and sockets, also without calling the name directly', async () => {
    const code = [
      '#include <stdlib.h>',
      '#include <sys/socket.h>',
      'int main() {',
      '  system("id");',
      '  int (*run)(const char*) = &system;',
      '  fork();',
      '  syscall(59, 0, 0, 0);',
      '  int s = socket(2, 1, 0);',
      '  return getenv("HOME") != 0;',
      '}',
    ].join('\n');
    expect(await ruleIds('c', code)).toEqual([
      'c.env.access',
      'c.include.network',
      'c.native.syscall',
      'c.network.socket',
      'c.process.fork',
      'c.process.spawn',
    ]);
    const spawns = (await scan('c', code)).findings.filter((f) => f.ruleId === 'c.process.spawn');
    expect(spawns.map((f) => [f.line, f.column])).toEqual([
      [4, 3],
      [5, 30],
    ]);
    expect(spawns[0]!.severity).toBe('critical');
  });

  test('calls hidden in macros, token pasting and inline assembly', async () => {
    const code = '#define RUN(x) system(x)\n#define CAT(a, b) a##b\nint main() { RUN("id"); CAT(sys, tem)("id"); __asm__("syscall"); }\n';
    expect(await ruleIds('c', code)).toEqual(
      expect.arrayContaining(['c.preprocessor.hidden_call', 'c.preprocessor.token_paste', 'c.native.inline_assembly']),
    );
  });

  test("C++'s qualified names and <filesystem>", async () => {
    expect(
      await ruleIds('cpp', '#include <filesystem>\n#include <cstdlib>\nint main() { std::system("id"); ::execvp("sh", nullptr); }\n'),
    ).toEqual(['cpp.include.filesystem', 'cpp.process.spawn']);
  });
});

describe('Go', () => {
  test('imports that start programs, open sockets or call native code', async () => {
    const code =
      'package main\n\nimport (\n\t"net"\n\t"os/exec"\n\t`syscall`\n\t"C"\n\t"unsafe"\n)\n\nfunc main() { exec.Command("id").Run(); net.Dial("tcp", "x:1"); }\n';
    expect(await ruleIds('go', code)).toEqual(['go.import.native', 'go.import.network.socket', 'go.import.process', 'go.import.unsafe']);
  });

  test('os calls that reach the environment, other processes or the file system, and //go:linkname', async () => {
    const code =
      'package main\n\nimport "os"\n\n//go:linkname nanotime runtime.nanotime\nfunc nanotime() int64\n\nfunc main() { _ = os.Getenv("HOME"); os.StartProcess("/bin/sh", nil, nil); os.RemoveAll("/work") }\n';
    expect(await ruleIds('go', code)).toEqual(['go.call.os.env', 'go.call.os.file_modify', 'go.call.os.process', 'go.directive.linkname']);
  });
});

describe('Java', () => {
  test('processes, native code, sockets and reflection, imported or fully qualified', async () => {
    const code = [
      'import java.net.URL;',
      'import java.lang.reflect.Method;',
      'public class Main {',
      '  public static void main(String[] a) throws Exception {',
      '    Runtime.getRuntime().exec("id");',
      '    new ProcessBuilder("sh").start();',
      '    new java.net.Socket("x", 1);',
      '    System.loadLibrary("evil");',
      '    Class.forName("sun.misc.Unsafe");',
      '    System.getenv("HOME");',
      '  }',
      '}',
    ].join('\n');
    expect(await ruleIds('java', code)).toEqual([
      'java.env.access',
      'java.import.network',
      'java.import.reflection',
      'java.native.load',
      'java.network.socket',
      'java.process.builder',
      'java.process.runtime',
      'java.reflect.call',
    ]);
  });
});

describe('Bash', () => {
  test('the classic fork bomb, /dev/tcp, network tools, eval and computed commands', async () => {
    const code = ':(){ :|:& };:\ncurl -s http://example.com\ncat < /dev/tcp/10.0.0.1/80\neval "$x"\n$cmd --flag\n';
    expect(await ruleIds('bash', code)).toEqual([
      'bash.command.computed',
      'bash.command.eval',
      'bash.command.network',
      'bash.network.dev_tcp',
      'bash.process.fork_bomb',
    ]);
  });
});

describe('positions and partial parses', () => {
  test('columns count characters, not bytes or UTF-16 units', async () => {
    const { findings } = await scan('c', '/* ééé 😀 */ int main() { system("x"); }\n');
    expect(findings).toEqual([expect.objectContaining({ ruleId: 'c.process.spawn', line: 1, column: 26 })]);
  });

  test('code that does not parse is flagged where it stops parsing, and what parses is still scanned', async () => {
    const { findings, syntaxError } = await scan('c', 'int main() {\n  system("x");\n  int = = ;\n}\n');
    expect(syntaxError).toBeNull();
    expect(findings.map((f) => [f.ruleId, f.line])).toEqual([
      ['c.process.spawn', 2],
      ['c.parse.partial', 3],
    ]);
    expect(findings[1]!.severity).toBe('high');
  });

  test('the largest accepted input scans off the event loop, which keeps turning meanwhile', async () => {
    const line = 'int f(int x) { return x * 2 + 1; }\n';
    const code = line.repeat(Math.floor((256 * 1024) / line.length));
    await scan('c', 'int x;'); // the thread and grammar are loaded
    let longestPause = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longestPause = Math.max(longestPause, now - last);
      last = now;
    }, 10);
    try {
      const started = performance.now();
      const report = await scan('c', code);
      expect(report.findings).toEqual([]);
      expect(performance.now() - started).toBeGreaterThan(50); // long enough that blocking would show
    } finally {
      clearInterval(ticker);
    }
    expect(longestPause).toBeLessThan(250);
  });

  test('a scan that passes its deadline ends as an unparseable finding, and the next scan works', async () => {
    const code = 'int f(int x) { return x * 2 + 1; }\n'.repeat(7000);
    const report = await scanWithTreeSitter('c', Buffer.from(code), { timeoutMs: 1 });
    expect(report.findings).toEqual([expect.objectContaining({ ruleId: 'scan.unparseable', severity: 'critical' })]);
    expect((await scan('c', 'int main() { fork(); }')).findings.map((f) => f.ruleId)).toEqual(['c.process.fork']);
  });
});

test('an idle scan thread does not keep the process alive', () => {
  const script =
    "require('./src/scanner/tree-sitter/scan').scanWithTreeSitter('c', Buffer.from('int main() { fork(); }')).then((r) => console.log(r.findings[0].ruleId))";
  const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: path.join(__dirname, '../..'),
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(child.signal).toBeNull(); // not killed at the timeout: it ended by itself
  expect(child.stdout.trim()).toBe('c.process.fork');
});

test('every rule query compiles and every rule id is unique', async () => {
  const ids = Object.values(RULES_BY_GRAMMAR).flatMap((rules) => rules.map((rule) => rule.ruleId));
  expect(new Set(ids).size).toBe(ids.length);
  for (const grammar of Object.keys(RULES_BY_GRAMMAR) as GrammarName[]) {
    await expect(scan(grammar, '')).resolves.toEqual({ findings: [], syntaxError: null });
  }
});
