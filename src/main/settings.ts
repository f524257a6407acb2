import { loadConfig } from '../config/config';
import { loadPolicy } from '../scanner/policy';
import type { Settings } from './runtime';

/** Reads environment and scan policy once; a bad value stops the process before it connects anywhere. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const config = loadConfig(env);
  return { config, policy: loadPolicy(config.scanPolicyPath) };
}
