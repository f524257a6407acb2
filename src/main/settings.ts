import { ConfigError, loadConfig } from '../config/config';
import { assertUsableSecret } from '../webhooks/signature';
import { loadPolicy } from '../scanner/policy';
import type { Settings } from './runtime';

/** Reads environment and scan policy once; a bad value stops the process before it connects anywhere. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const config = loadConfig(env);
  // The check the worker makes before it signs anything, so the API never accepts a callbackUrl
  // that the worker could not sign for.
  if (config.webhooks.secret !== undefined) {
    try {
      assertUsableSecret(config.webhooks.secret);
    } catch (err) {
      throw new ConfigError(`Invalid configuration:\n  WEBHOOK_SECRET: ${(err as Error).message}`);
    }
  }
  return { config, policy: loadPolicy(config.scanPolicyPath) };
}
