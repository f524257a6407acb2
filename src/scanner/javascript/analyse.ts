/**
 * Walks a parsed JavaScript program and reports what it tries to do. Names are resolved just
 * enough to see through the usual disguises: aliases (`const cp = require('child_process')`,
 * `const {runInNewContext: r} = require('vm')`), the global object (`globalThis['ev' + 'al']`),
 * and string building from literals. Anything computed that cannot be resolved statically is
 * itself a finding where it matters (computed require, computed global access).
 */
import type { AnyNode, CallExpression, MemberExpression, NewExpression, Program } from 'acorn';
import type { Finding } from '../../domain/evaluation';
import { descriptionOf, MODULE_RULES, RULE, severityOf } from './rules';
import { SourcePositions } from './positions';
import { flatten, someNode, type VisitContext, type VisitedNode } from './walk';

const GLOBAL_OBJECTS = new Set(['globalThis', 'global', 'window', 'self']);
const MAX_PATH_PARTS = 16;
const MAX_REQUIRE_NESTING = 4;
const MAX_FOLD_DEPTH = 32;
const MAX_TAINT_ROUNDS = 8;
const MAX_QUOTED_CHARS = 60;
/** Buffer encodings that turn innocent-looking text into other text. */
const DECODING_ENCODINGS = new Set(['base64', 'base64url', 'hex', 'latin1', 'binary', 'ucs2', 'ucs-2', 'utf16le', 'utf-16le']);
const DECODER_FUNCTIONS = new Set(['atob', 'decodeURIComponent', 'decodeURI', 'unescape', 'String.fromCharCode', 'String.fromCodePoint']);
const DECODER_METHODS = new Set(['decode', 'reverse', 'inflateSync', 'inflateRawSync', 'gunzipSync', 'unzipSync', 'brotliDecompressSync']);
const REQUIRE_LIKE = new Set(['require', '_load']);

type CallLike = CallExpression | NewExpression;

function quote(text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text);
}

/** `node:fs/promises` -> `fs`. */
export function moduleBaseName(specifier: string): string {
  const withoutScheme = specifier.startsWith('node:') ? specifier.slice('node:'.length) : specifier;
  return withoutScheme.split('/')[0] ?? withoutScheme;
}

/** The string an expression evaluates to when it is built only from literals, else null. */
export function staticString(node: AnyNode, depth = 0): string | null {
  if (depth > MAX_FOLD_DEPTH) return null;
  switch (node.type) {
    case 'Literal':
      return typeof node.value === 'string' ? node.value : null;
    case 'TemplateLiteral':
      return node.expressions.length === 0 ? (node.quasis[0]?.value.cooked ?? null) : null;
    case 'BinaryExpression': {
      if (node.operator !== '+' || node.left.type === 'PrivateIdentifier') return null;
      const left = staticString(node.left, depth + 1);
      const right = left === null ? null : staticString(node.right, depth + 1);
      return left === null || right === null ? null : left + right;
    }
    case 'CallExpression':
      return staticCallString(node, depth);
    default:
      return null;
  }
}

function staticCallString(node: CallExpression, depth: number): string | null {
  const callee = node.callee;
  if (callee.type !== 'MemberExpression' || callee.computed || callee.property.type !== 'Identifier') return null;
  const method = callee.property.name;
  // ['ev', 'al'].join('')
  if (method === 'join' && callee.object.type === 'ArrayExpression') {
    const separatorNode = node.arguments[0];
    const separator =
      separatorNode === undefined ? ',' : separatorNode.type === 'SpreadElement' ? null : staticString(separatorNode, depth + 1);
    if (separator === null) return null;
    const pieces: string[] = [];
    for (const element of callee.object.elements) {
      if (element === null || element.type === 'SpreadElement') return null;
      const piece = staticString(element, depth + 1);
      if (piece === null) return null;
      pieces.push(piece);
    }
    return pieces.join(separator);
  }
  // String.fromCharCode(101, 118, 97, 108)
  if ((method === 'fromCharCode' || method === 'fromCodePoint') && callee.object.type === 'Identifier' && callee.object.name === 'String') {
    const codes: number[] = [];
    for (const argument of node.arguments) {
      if (argument.type !== 'Literal' || typeof argument.value !== 'number') return null;
      if (!Number.isInteger(argument.value) || argument.value < 0 || argument.value > 0x10ffff) return null;
      codes.push(argument.value);
    }
    return method === 'fromCharCode' ? String.fromCharCode(...codes.map((code) => code & 0xffff)) : String.fromCodePoint(...codes);
  }
  return null;
}

function isFunctionLiteral(node: AnyNode): boolean {
  return node.type === 'FunctionExpression' || node.type === 'ArrowFunctionExpression' || node.type === 'ClassExpression';
}

export class JavaScriptAnalysis {
  private readonly findings: Finding[] = [];
  /** Local name -> what it was loaded as: 'vm', 'vm.runInNewContext', 'child_process.exec'. */
  private readonly bindings = new Map<string, string>();
  private readonly codeSinkCalls: CallLike[] = [];
  /** The tree, walked once; every pass reuses it. */
  private readonly nodes: VisitedNode[];
  private readonly positions: SourcePositions;

  constructor(
    private readonly source: string,
    program: Program,
  ) {
    this.nodes = flatten(program);
    this.positions = new SourcePositions(source);
  }

  run(): Finding[] {
    this.collectBindings();
    for (const { node, parent, key } of this.nodes) this.visit(node, { parent, key });
    if (this.codeSinkCalls.length > 0) this.checkDecodedPayloads();
    return this.findings;
  }

  private report(ruleId: string, message: string, node: AnyNode): void {
    const { line, column } = this.positions.at(node.start);
    this.findings.push({ ruleId, severity: severityOf(ruleId), message, line, column });
  }

  // -- name resolution ---------------------------------------------------------------------

  /** The module a `require('x')`-like call loads, when its name is a literal. */
  private requiredModule(node: AnyNode, depth = 0): string | null {
    if (node.type !== 'CallExpression' || node.callee.type === 'Super') return null;
    const callee = this.path(node.callee, depth + 1);
    if (callee === null || !REQUIRE_LIKE.has(callee[callee.length - 1]!)) return null;
    const first = node.arguments[0];
    if (first === undefined || first.type === 'SpreadElement') return null;
    const name = staticString(first);
    return name === null ? null : moduleBaseName(name);
  }

  private collectBindings(): void {
    // In source order, so that a binding built from an earlier one (`const load = createRequire(...)`
    // after `const { createRequire } = require('module')`) resolves.
    const declarations = this.nodes
      .map(({ node }) => node)
      .filter((node) => node.type === 'VariableDeclarator' || node.type === 'ImportDeclaration')
      .sort((a, b) => a.start - b.start);
    for (const node of declarations) {
      if (node.type === 'VariableDeclarator' && node.init) {
        const loaded = this.loadedValue(node.init);
        if (loaded === null) continue;
        if (node.id.type === 'Identifier') {
          this.bindings.set(node.id.name, loaded);
        } else if (node.id.type === 'ObjectPattern') {
          for (const property of node.id.properties) {
            if (property.type !== 'Property') continue;
            const key = this.propertyKeyName(property.key, property.computed);
            const target = property.value.type === 'AssignmentPattern' ? property.value.left : property.value;
            if (key !== null && target.type === 'Identifier') this.bindings.set(target.name, `${loaded}.${key}`);
          }
        }
      } else if (node.type === 'ImportDeclaration' && typeof node.source.value === 'string') {
        const module = moduleBaseName(node.source.value);
        for (const specifier of node.specifiers) {
          if (specifier.type === 'ImportSpecifier') {
            const imported = specifier.imported.type === 'Identifier' ? specifier.imported.name : String(specifier.imported.value);
            this.bindings.set(specifier.local.name, imported === 'default' ? module : `${module}.${imported}`);
          } else {
            this.bindings.set(specifier.local.name, module);
          }
        }
      }
    }
  }

  /** 'vm' for `require('vm')`, 'vm.Script' for `require('vm').Script`, 'require' for `createRequire(...)`. */
  private loadedValue(node: AnyNode): string | null {
    const module = this.requiredModule(node);
    if (module !== null) return module;
    if (node.type === 'CallExpression' && node.callee.type !== 'Super') {
      const callee = this.path(node.callee);
      if (callee !== null && callee.join('.') === 'module.createRequire') return 'require';
    }
    if (node.type === 'MemberExpression') {
      const base = this.requiredModule(node.object);
      const key = this.propertyKeyName(node.property, node.computed);
      if (base !== null && key !== null) return `${base}.${key}`;
    }
    return null;
  }

  private propertyKeyName(key: AnyNode, computed: boolean): string | null {
    if (!computed && key.type === 'Identifier') return key.name;
    if (!computed && key.type === 'Literal') return String(key.value);
    return computed ? staticString(key) : null;
  }

  /**
   * `['process', 'env']` for `globalThis.process['e' + 'nv']`; `['vm', 'Script']` for
   * `vm.Script` when `vm` was loaded from 'vm'. Null when any part is computed at runtime.
   */
  private path(node: AnyNode, depth = 0): string[] | null {
    // require('a')('b')... nests calls; nobody needs more than a few levels resolved.
    if (depth > MAX_REQUIRE_NESTING) return null;
    const parts: string[] = [];
    let current: AnyNode = node;
    for (;;) {
      if (current.type === 'ChainExpression') {
        current = current.expression;
      } else if (current.type === 'MemberExpression') {
        const name = this.propertyKeyName(current.property, current.computed);
        if (name === null || parts.length >= MAX_PATH_PARTS) return null;
        parts.push(name);
        current = current.object;
      } else {
        break;
      }
    }
    let base: string[];
    if (current.type === 'Identifier') {
      base = (this.bindings.get(current.name) ?? current.name).split('.');
    } else {
      const module = this.requiredModule(current, depth);
      if (module === null) return null;
      base = [module];
    }
    const full = [...base, ...parts.reverse()];
    while (full.length > 1 && GLOBAL_OBJECTS.has(full[0]!)) full.shift();
    return full;
  }

  // -- the walk ----------------------------------------------------------------------------

  private visit(node: AnyNode, context: VisitContext): void {
    switch (node.type) {
      case 'Identifier':
        this.visitIdentifier(node.name, node, context);
        break;
      case 'MemberExpression':
        this.visitMember(node, context);
        break;
      case 'CallExpression':
      case 'NewExpression':
        this.visitCall(node);
        break;
      case 'ImportExpression':
        this.visitDynamicImport(node.source, node);
        break;
      case 'ImportDeclaration':
      case 'ExportAllDeclaration':
      case 'ExportNamedDeclaration':
        if (node.source && typeof node.source.value === 'string') this.reportModule(node.source.value, node);
        break;
      default:
        break;
    }
  }

  private reportModule(specifier: string, node: AnyNode): void {
    const ruleId = MODULE_RULES.get(moduleBaseName(specifier));
    if (ruleId !== undefined) this.report(ruleId, descriptionOf(ruleId), node);
  }

  private visitIdentifier(name: string, node: AnyNode, context: VisitContext): void {
    // An escape (\u0065) always makes the source text longer than the name it spells.
    if (node.end - node.start !== name.length) {
      this.report(
        RULE.escapedIdentifier,
        `identifier ${quote(this.source.slice(node.start, node.end))} is ${quote(name)} in disguise`,
        node,
      );
    }
    if (!isReference(context)) return;
    const parent = context.parent;
    const called = (parent?.type === 'CallExpression' || parent?.type === 'NewExpression') && context.key === 'callee';
    if (name === 'eval') {
      this.report(RULE.eval, `${called ? 'calls' : 'references'} eval: ${descriptionOf(RULE.eval)}`, node);
    } else if (name === 'Function' && !isHarmlessFunctionUse(context)) {
      this.report(
        RULE.functionConstructor,
        `${called ? 'calls' : 'references'} Function: ${descriptionOf(RULE.functionConstructor)}`,
        node,
      );
    } else if (name === 'require' && !called) {
      this.checkIndirectRequire(node, context);
    } else if (GLOBAL_OBJECTS.has(name) && context.key === 'arguments') {
      this.report(RULE.globalComputed, `passes ${name} to a function (indirect access to any global)`, node);
    }
  }

  private checkIndirectRequire(node: AnyNode, context: VisitContext): void {
    const parent = context.parent;
    if (parent?.type === 'UnaryExpression' && parent.operator === 'typeof') return;
    if (parent?.type === 'MemberExpression' && context.key === 'object') {
      const member = this.propertyKeyName(parent.property, parent.computed);
      if (member !== 'call' && member !== 'apply' && member !== 'bind') return; // require.resolve, require.main
    }
    this.report(RULE.requireComputed, 'uses require as a value (the module it loads is not visible)', node);
  }

  private visitMember(node: MemberExpression, context: VisitContext): void {
    const path = this.path(node);
    if (path !== null) this.checkMemberPath(path, node, context);
    if (node.computed && path === null && node.object.type === 'Identifier') {
      const owner = node.object.name;
      if (GLOBAL_OBJECTS.has(owner) || owner === 'process') {
        this.report(RULE.globalComputed, `reads ${owner}[...] with a name computed at runtime`, node);
      }
    }
    const property = this.propertyKeyName(node.property, node.computed);
    if (property === 'constructor' && this.reachesFunctionConstructor(node.object)) {
      this.report(RULE.constructorChain, `.constructor of a function: ${descriptionOf(RULE.constructorChain)}`, node);
    }
    if (property === 'caller' && !node.computed) {
      this.report(RULE.frameAccess, `.caller: ${descriptionOf(RULE.frameAccess)}`, node);
    }
  }

  private checkMemberPath(path: string[], node: MemberExpression, context: VisitContext): void {
    const called = (context.parent?.type === 'CallExpression' || context.parent?.type === 'NewExpression') && context.key === 'callee';
    const verb = called ? 'calls' : 'references';
    const [head, second] = path;
    if (path.length === 1 && head === 'eval') {
      this.report(RULE.eval, `${verb} eval through the global object: ${descriptionOf(RULE.eval)}`, node);
    } else if (path.length === 1 && head === 'Function') {
      this.report(RULE.functionConstructor, `${verb} Function through the global object`, node);
    } else if (head === 'process' && path.length === 2) {
      if (second === 'binding' || second === '_linkedBinding') {
        this.report(RULE.processBinding, `${verb} process.${second}: ${descriptionOf(RULE.processBinding)}`, node);
      } else if (second === 'dlopen') {
        this.report(RULE.processDlopen, `${verb} process.dlopen: ${descriptionOf(RULE.processDlopen)}`, node);
      } else if (second === 'env') {
        this.report(RULE.processEnv, `process.env: ${descriptionOf(RULE.processEnv)}`, node);
      }
    } else if (head === 'Error' && second === 'prepareStackTrace' && path.length === 2) {
      this.report(RULE.frameAccess, `Error.prepareStackTrace: receives V8 call-site objects (callers' functions and receivers)`, node);
    }
  }

  /** Whether `object.constructor` is the Function constructor (or its async/generator kin). */
  private reachesFunctionConstructor(object: AnyNode): boolean {
    if (isFunctionLiteral(object)) return true;
    if (object.type === 'MemberExpression' && this.propertyKeyName(object.property, object.computed) === 'constructor') return true;
    const path = this.path(object);
    if (path !== null && path.length === 2 && path[0] === 'Function' && path[1] === 'prototype') return true;
    if (object.type === 'CallExpression' && object.callee.type !== 'Super') {
      const callee = this.path(object.callee);
      const first = object.arguments[0];
      const isGetPrototypeOf =
        callee !== null && callee.length === 2 && callee[1] === 'getPrototypeOf' && (callee[0] === 'Object' || callee[0] === 'Reflect');
      return isGetPrototypeOf && first !== undefined && isFunctionLiteral(first);
    }
    return false;
  }

  private visitCall(node: CallLike): void {
    if (node.callee.type === 'Super') return;
    const callee = this.path(node.callee);
    const last = callee?.[callee.length - 1];
    if (callee !== null && last !== undefined && REQUIRE_LIKE.has(last)) {
      this.visitRequire(node);
    }
    if (callee !== null && callee[0] === 'vm' && callee.length >= 2) {
      this.report(RULE.vmCall, `calls ${callee.join('.')}: ${descriptionOf(RULE.vmCall)}`, node);
    }
    const runsCode =
      (callee !== null && callee.length === 1 && (callee[0] === 'eval' || callee[0] === 'Function')) ||
      (callee !== null && callee[0] === 'vm' && callee.length >= 2) ||
      (node.callee.type === 'MemberExpression' && this.propertyKeyName(node.callee.property, node.callee.computed) === 'constructor');
    if (runsCode) this.codeSinkCalls.push(node);
  }

  private visitRequire(node: CallLike): void {
    const first = node.arguments[0];
    const name = first === undefined || first.type === 'SpreadElement' ? null : staticString(first);
    if (name === null) {
      this.report(RULE.requireComputed, descriptionOf(RULE.requireComputed), node);
    } else {
      this.reportModule(name, node);
    }
  }

  private visitDynamicImport(source: AnyNode, node: AnyNode): void {
    const name = staticString(source);
    if (name === null) {
      this.report(RULE.importComputed, descriptionOf(RULE.importComputed), node);
      return;
    }
    this.report(RULE.importDynamic, `import(${quote(name)})`, node);
    this.reportModule(name, node);
  }

  // -- hidden payloads ---------------------------------------------------------------------

  private checkDecodedPayloads(): void {
    const tainted = this.findDecodedNames();
    for (const call of this.codeSinkCalls) {
      const decoded = call.arguments.some((argument) => this.containsDecodedData(argument, tainted));
      if (decoded) {
        this.report(RULE.decodedEval, 'runs text decoded at runtime (base64/hex Buffer, atob, character codes, unescape, zlib)', call);
      }
    }
  }

  private isDecoderCall(node: AnyNode): boolean {
    if (node.type !== 'CallExpression' || node.callee.type === 'Super') return false;
    const callee = this.path(node.callee);
    if (callee !== null) {
      const joined = callee.join('.');
      if (DECODER_FUNCTIONS.has(joined)) return true;
      if (joined === 'Buffer.from') {
        const encoding = node.arguments[1];
        const name = encoding === undefined || encoding.type === 'SpreadElement' ? null : staticString(encoding);
        return name === null ? encoding !== undefined : DECODING_ENCODINGS.has(name.toLowerCase());
      }
    }
    if (node.callee.type === 'MemberExpression') {
      const method = this.propertyKeyName(node.callee.property, node.callee.computed);
      return method !== null && DECODER_METHODS.has(method);
    }
    return false;
  }

  private containsDecodedData(root: AnyNode, tainted: ReadonlySet<string>): boolean {
    return someNode(root, (node) => this.isDecoderCall(node) || (node.type === 'Identifier' && tainted.has(node.name)));
  }

  /** Variables assigned (anywhere, flow-insensitively) from decoded data. */
  private findDecodedNames(): Set<string> {
    const assignments: Array<{ name: string; value: AnyNode }> = [];
    for (const { node } of this.nodes) {
      if (node.type === 'VariableDeclarator' && node.id.type === 'Identifier' && node.init) {
        assignments.push({ name: node.id.name, value: node.init });
      } else if (node.type === 'AssignmentExpression' && node.left.type === 'Identifier') {
        assignments.push({ name: node.left.name, value: node.right });
      }
    }
    const tainted = new Set<string>();
    for (let round = 0; round < MAX_TAINT_ROUNDS; round += 1) {
      let grown = false;
      for (const { name, value } of assignments) {
        if (!tainted.has(name) && this.containsDecodedData(value, tainted)) {
          tainted.add(name);
          grown = true;
        }
      }
      if (!grown) break;
    }
    return tainted;
  }
}

/** Whether an Identifier in this position reads a variable (rather than naming a property, label or binding). */
function isReference({ parent, key }: VisitContext): boolean {
  if (parent === null) return true;
  switch (parent.type) {
    case 'MemberExpression':
      return key !== 'property' || parent.computed;
    case 'Property':
    case 'PropertyDefinition':
    case 'MethodDefinition':
      return key !== 'key' || parent.computed;
    case 'VariableDeclarator':
      return key !== 'id';
    case 'FunctionDeclaration':
    case 'FunctionExpression':
    case 'ArrowFunctionExpression':
    case 'ClassDeclaration':
    case 'ClassExpression':
      return key !== 'id' && key !== 'params';
    case 'CatchClause':
      return key !== 'param';
    case 'LabeledStatement':
    case 'BreakStatement':
    case 'ContinueStatement':
    case 'MetaProperty':
    case 'ImportSpecifier':
    case 'ImportDefaultSpecifier':
    case 'ImportNamespaceSpecifier':
      return false;
    case 'ExportSpecifier':
      return key === 'local';
    default:
      return true;
  }
}

/** `Function.prototype.x` and `x instanceof Function` do not reach the constructor. */
function isHarmlessFunctionUse({ parent, key }: VisitContext): boolean {
  if (parent?.type === 'BinaryExpression' && parent.operator === 'instanceof' && key === 'right') return true;
  if (parent?.type === 'UnaryExpression' && parent.operator === 'typeof') return true;
  return (
    parent?.type === 'MemberExpression' &&
    key === 'object' &&
    !parent.computed &&
    parent.property.type === 'Identifier' &&
    parent.property.name === 'prototype'
  );
}
