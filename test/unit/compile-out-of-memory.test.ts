/**
 * gcc's driver reports a pass that died of SIGKILL; inside the sandbox, with the CPU limit and the
 * supervisor's own kills ruled out first (src/sandbox/run/verdict.ts), that is the OOM killer, so
 * the compile stage names the memory limit even when the cgroup has not recorded the kill yet.
 */
import { createLanguageRegistry } from '../../src/sandbox/languages';

const registry = createLanguageRegistry();

test.each([
  ['c', 'gcc: fatal error: Killed signal terminated program cc1\ncompilation terminated.\n'],
  ['cpp', 'g++: fatal error: Killed signal terminated program cc1plus\ncompilation terminated.\n'],
] as const)('%s: a compiler pass killed by SIGKILL reads as out of memory', (language, stderr) => {
  const patterns = registry[language].compile!.outOfMemoryPatterns;
  expect(patterns.some((pattern) => pattern.test(stderr))).toBe(true);
});

test('a compile error does not read as out of memory', () => {
  const stderr = "main.cpp:1:1: error: 'x' does not name a type\n";
  expect(registry.cpp.compile!.outOfMemoryPatterns.some((pattern) => pattern.test(stderr))).toBe(false);
});
