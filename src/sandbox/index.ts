/**
 * Engine choice is configuration: the caller names an engine and its settings (binaries, gVisor's
 * platform; see config.ts) and gets a SandboxEngine.
 */
import type { GvisorPlatform } from '../config/defaults';
import type { EngineName, SandboxEngine } from './engine';
import { BwrapEngine, type BwrapEngineOptions } from './engines/bwrap';
import { GvisorEngine, type GvisorEngineOptions } from './engines/gvisor';
import { ProcessEngine, type ProcessEngineOptions } from './engines/process';
import { createLanguageRegistry, type LanguageRegistryOptions } from './languages';
import type { InitSettings } from './run/compiled-init';

/**
 * What configuration says about the engines and the languages' toolchains (every field optional:
 * the defaults suit Debian). `pythonPath` runs init.py (the fallback init) and Python submissions;
 * `nodePath` (default the node running this service) JavaScript ones.
 */
export interface SandboxSettings extends LanguageRegistryOptions {
  /** The compiled init: 'auto' (default) or 'python', and the C compiler (run/compiled-init.ts). */
  init?: InitSettings;
  bwrapPath?: string;
  runscPath?: string;
  gvisorPlatform?: GvisorPlatform;
}

export interface CreateEngineOptions {
  engine: EngineName;
  /** The `process` engine has no isolation at all; it is refused unless this is true. */
  allowProcessEngine?: boolean;
  settings?: SandboxSettings;
  bwrap?: BwrapEngineOptions;
  gvisor?: GvisorEngineOptions;
  process?: ProcessEngineOptions;
}

export class EngineNotAvailableError extends Error {
  override readonly name = 'EngineNotAvailableError';
}

export function createEngine(options: CreateEngineOptions): SandboxEngine {
  const settings = options.settings ?? {};
  const common = {
    initPythonPath: settings.pythonPath,
    init: settings.init,
    languages: createLanguageRegistry(settings),
  };
  switch (options.engine) {
    case 'bwrap':
      return new BwrapEngine({ ...common, bwrapPath: settings.bwrapPath, ...options.bwrap });
    case 'process':
      if (!options.allowProcessEngine) {
        throw new EngineNotAvailableError(
          "the 'process' engine runs code without any isolation; it must be explicitly allowed (development only)",
        );
      }
      return new ProcessEngine({ ...common, ...options.process });
    case 'gvisor':
      return new GvisorEngine({ ...common, runscPath: settings.runscPath, platform: settings.gvisorPlatform, ...options.gvisor });
    default:
      throw new EngineNotAvailableError(`unknown sandbox engine ${JSON.stringify(options.engine)}`);
  }
}

export { BwrapEngine } from './engines/bwrap';
export type { BwrapEngineOptions } from './engines/bwrap';
export { GvisorEngine } from './engines/gvisor';
export type { GvisorEngineOptions } from './engines/gvisor';
export { ProcessEngine } from './engines/process';
export type { ProcessEngineOptions } from './engines/process';
export { createLanguageRegistry } from './languages';
export type { LanguageRuntime, LanguageRegistry } from './languages';
export { LanguageCatalog, defaultLanguageCatalog } from './language-catalog';
export type { LanguageDescription } from './language-catalog';
export * from './engine';
