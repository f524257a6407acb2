/**
 * Engine choice is configuration: the caller names an engine and gets a SandboxEngine.
 */
import { BwrapEngine, type BwrapEngineOptions } from './bwrap';
import type { EngineName, SandboxEngine } from './engine';
import { GvisorEngine, type GvisorEngineOptions } from './gvisor';
import { ProcessEngine, type ProcessEngineOptions } from './process-engine';

export interface CreateEngineOptions {
  engine: EngineName;
  /** The `process` engine has no isolation at all; it is refused unless this is true. */
  allowProcessEngine?: boolean;
  bwrap?: BwrapEngineOptions;
  gvisor?: GvisorEngineOptions;
  process?: ProcessEngineOptions;
}

export class EngineNotAvailableError extends Error {
  override readonly name = 'EngineNotAvailableError';
}

export function createEngine(options: CreateEngineOptions): SandboxEngine {
  switch (options.engine) {
    case 'bwrap':
      return new BwrapEngine(options.bwrap);
    case 'process':
      if (!options.allowProcessEngine) {
        throw new EngineNotAvailableError(
          "the 'process' engine runs code without any isolation; it must be explicitly allowed (development only)",
        );
      }
      return new ProcessEngine(options.process);
    case 'gvisor':
      return new GvisorEngine(options.gvisor);
    default:
      throw new EngineNotAvailableError(`unknown sandbox engine ${JSON.stringify(options.engine)}`);
  }
}

export { BwrapEngine } from './bwrap';
export type { BwrapEngineOptions } from './bwrap';
export { GvisorEngine } from './gvisor';
export type { GvisorEngineOptions } from './gvisor';
export { ProcessEngine } from './process-engine';
export type { ProcessEngineOptions } from './process-engine';
export { createLanguageRegistry } from './languages';
export type { LanguageRuntime, LanguageRegistry } from './languages';
export * from './engine';
