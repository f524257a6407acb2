/**
 * The JavaScript rule catalog. Rule ids follow `js.<category>.<subject>`, mirroring the Python
 * scanner's `py.<category>.<subject>`; every finding takes its severity from here.
 */
import type { Severity } from '../../domain/evaluation';
import type { RuleDescriptor } from '../types';

const catalog = new Map<string, RuleDescriptor>();

function defineRule(ruleId: string, severity: Severity, description: string): string {
  catalog.set(ruleId, { ruleId, severity, description });
  return ruleId;
}

/**
 * Node built-in modules worth a finding, by what they let a submission do:
 * critical: start processes, open raw sockets, run code in new contexts, drive the debugger;
 * high: network clients, threads/processes running code, loader and engine internals;
 * warning: file system and OS information (`fs` is how many programs read stdin).
 */
const MODULE_PURPOSES: ReadonlyArray<[string, Severity, string]> = [
  ['child_process', 'critical', 'starts other programs'],
  ['vm', 'critical', 'compiles and runs code in new contexts'],
  ['inspector', 'critical', 'drives the V8 debugger (runs code anywhere in the process)'],
  ['net', 'critical', 'opens raw network sockets'],
  ['dgram', 'critical', 'opens UDP sockets'],
  ['http', 'high', 'network access'],
  ['https', 'high', 'network access'],
  ['http2', 'high', 'network access'],
  ['tls', 'high', 'network access'],
  ['dns', 'high', 'network access (DNS)'],
  ['worker_threads', 'high', 'starts threads that can run code given as text'],
  ['cluster', 'high', 'forks worker processes'],
  ['module', 'high', 'loads modules by computed path (createRequire, Module._load)'],
  ['v8', 'high', 'changes V8 engine flags and internals'],
  ['repl', 'high', 'runs an interactive interpreter'],
  ['fs', 'warning', 'file-system access (also the usual way to read stdin)'],
  ['os', 'warning', 'reads operating-system information'],
];

export const MODULE_RULES: ReadonlyMap<string, string> = new Map(
  MODULE_PURPOSES.map(([module, severity, purpose]) => [
    module,
    defineRule(`js.import.${module}`, severity, `loads ${module}: ${purpose}`),
  ]),
);

export const RULE = {
  requireComputed: defineRule('js.require.computed', 'critical', 'loads a module whose name is computed at runtime'),
  importComputed: defineRule('js.import.computed', 'critical', 'dynamic import() of a computed module name'),
  importDynamic: defineRule('js.import.dynamic', 'warning', 'dynamic import() of a literal module name'),
  eval: defineRule('js.call.eval', 'critical', 'runs code built at runtime'),
  functionConstructor: defineRule('js.call.Function', 'critical', 'compiles code built at runtime (Function constructor)'),
  vmCall: defineRule('js.call.vm', 'critical', 'compiles or runs code through the vm module'),
  processBinding: defineRule('js.process.binding', 'critical', "reaches Node's native bindings"),
  processDlopen: defineRule('js.process.dlopen', 'critical', 'loads a native shared library'),
  processEnv: defineRule('js.process.env', 'high', 'reads or changes environment variables'),
  globalComputed: defineRule('js.global.computed', 'critical', 'reaches global objects by computed name'),
  constructorChain: defineRule(
    'js.escape.constructor_chain',
    'critical',
    'reaches the Function constructor through .constructor (a sandbox-escape technique)',
  ),
  decodedEval: defineRule('js.payload.decoded_eval', 'critical', 'runs code decoded at runtime (hidden payload)'),
  frameAccess: defineRule('js.frame.access', 'high', 'inspects the call stack (callers, stack frames)'),
  escapedIdentifier: defineRule('js.identifier.escaped', 'critical', 'spells an identifier with \\u escapes, hiding it from text search'),
  unparseable: defineRule('scan.unparseable', 'critical', 'the scanner could not analyse the input (parser or resource limit)'),
  truncated: defineRule('scan.findings_truncated', 'info', 'more findings than the report keeps'),
} as const;

export const JAVASCRIPT_RULES: readonly RuleDescriptor[] = [...catalog.values()];

export function severityOf(ruleId: string): Severity {
  const descriptor = catalog.get(ruleId);
  if (!descriptor) throw new Error(`unknown JavaScript rule ${ruleId}`);
  return descriptor.severity;
}

export function descriptionOf(ruleId: string): string {
  return catalog.get(ruleId)?.description ?? ruleId;
}
