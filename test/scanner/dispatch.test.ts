/** scanCode sends every language to its scanner: the tree-sitter rules for C, C++, Go, Java and Bash. */
import { scanCode } from '../../src/scanner';

test.each([
  ['c', '#include <stdlib.h>\nint main(void) { return system("id"); }\n', 'c.process.spawn'],
  ['cpp', '#include <cstdlib>\nint main() { return std::system("id"); }\n', 'cpp.process.spawn'],
  ['go', 'package main\n\nimport "os/exec"\n\nfunc main() { exec.Command("id").Run() }\n', 'go.import.process'],
  [
    'java',
    'public class Main { public static void main(String[] a) throws Exception { new ProcessBuilder("id").start(); } }\n',
    'java.process.builder',
  ],
  ['bash', 'eval "$1"\n', 'bash.command.eval'],
] as const)('%s goes to the tree-sitter rules', async (language, code, ruleId) => {
  const report = await scanCode(language, Buffer.from(code));
  expect(report.findings.map((finding) => finding.ruleId)).toContain(ruleId);
  expect(report.syntaxError).toBeNull();
});

test.each(['c', 'cpp', 'go', 'java', 'bash'] as const)('%s: a harmless program has no findings', async (language) => {
  const harmless = {
    c: '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n',
    cpp: '#include <iostream>\nint main() { std::cout << "hi\\n"; }\n',
    go: 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n',
    java: 'public class Main { public static void main(String[] a) { System.out.println("hi"); } }\n',
    bash: 'read -r a b\necho $((a + b))\n',
  }[language];
  expect((await scanCode(language, Buffer.from(harmless))).findings).toEqual([]);
});
