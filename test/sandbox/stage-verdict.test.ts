/**
 * Which limit a stage's ending names (src/sandbox/run/verdict.ts), from the init's report and the
 * stage's own words, without spawning anything: the cases a loaded machine produces and a test
 * against the real sandbox cannot make on purpose.
 */
import { createLanguageRegistry } from '../../src/sandbox/languages';
import { CappedOutput } from '../../src/sandbox/run/capped-output';
import { ArtefactAssembler } from '../../src/sandbox/run/channel';
import { compileStage, programSources, type Stage } from '../../src/sandbox/run/stage';
import type { Ending } from '../../src/sandbox/run/supervisor';
import { verdict } from '../../src/sandbox/run/verdict';

const registry = createLanguageRegistry();

function cppCompileStage(): Stage {
  const cpp = registry.cpp;
  if (cpp.compile === null) throw new Error('C++ has a compile stage');
  return compileStage(programSources({ code: Buffer.from('int main() {}\n') }, cpp), cpp, cpp.compile, {});
}

/** The init reported that the program (here gcc's driver) exited by itself after `cpuTimeMs`. */
function endingOf(exitCode: number, cpuTimeMs: number, stderr: string): Ending {
  const output = (text: string) => {
    const capped = new CappedOutput(1 << 20);
    capped.append(Buffer.from(text));
    return capped;
  };
  const report = { exitCode, signal: null, userUs: cpuTimeMs * 1000, systemUs: 0, maxRssKb: 90_000, wallUs: 19_000_000 };
  return {
    exitCode: 0,
    exitSignal: null,
    killReason: null,
    stdout: output(''),
    stderr: output(stderr),
    diagnostics: '',
    statusLine: JSON.stringify(report),
    statusError: null,
    elapsedMs: 19_000,
    cpuBaselineMs: 0,
    artefacts: new ArtefactAssembler(1 << 20),
  };
}

const judge = (ending: Ending) =>
  verdict({ engine: 'bwrap', stage: cppCompileStage(), startupTimeoutMs: 5000, programCanKillInit: false }, ending, null).result;

test("gcc's driver reporting cc1plus stopped by the CPU rlimit names cpu_time, with at least the limit as CPU time", () => {
  // What a full CI run printed: the driver outlived cc1plus's SIGXCPU, and its rusage said 9,070 ms.
  const stderr =
    'x86_64-linux-gnu-g++-12: internal compiler error: CPU time limit exceeded signal terminated program cc1plus\n' +
    'Please submit a full bug report, with preprocessed source (by using -freport-bug).\n';
  const result = judge(endingOf(4, 9070, stderr));
  expect(result.limitHit).toBe('cpu_time');
  expect(result.exitCode).toBe(4);
  expect(result.cpuTimeMs).toBeGreaterThanOrEqual(cppCompileStage().limits.cpuTimeMs);
});

test('an ordinary compile error under the CPU limit names no limit', () => {
  const result = judge(endingOf(1, 300, "main.cpp:1:1: error: 'x' does not name a type\n"));
  expect(result.limitHit).toBeNull();
  expect(result.cpuTimeMs).toBe(300);
});

test('a compiler that ran out of memory still names memory', () => {
  const result = judge(endingOf(1, 2000, 'cc1plus: out of memory allocating 65536 bytes\n'));
  expect(result.limitHit).toBe('memory');
});
