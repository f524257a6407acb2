import { ALL_RULES, scanCode } from '../../src/scanner';
import { JAVASCRIPT_RULES } from '../../src/scanner/javascript/rules';
import { findingsOf, isSortedByPosition, ruleIdsOf } from './helpers';

const scan = (code: string | Buffer) => scanCode('javascript', typeof code === 'string' ? Buffer.from(code) : code);

describe('JavaScript scanner rules', () => {
  const cases: Array<[string, string, string[]]> = [
    ['require child_process', "require('child_process')", ['js.import.child_process']],
    ['node: prefix', "require('node:child_process')", ['js.import.child_process']],
    ['import declaration', "import { spawn } from 'child_process';", ['js.import.child_process']],
    ['re-export', "export * from 'net';", ['js.import.net']],
    ['net', "require('net')", ['js.import.net']],
    ['dgram', "require('dgram')", ['js.import.dgram']],
    ['http', "require('http')", ['js.import.http']],
    ['https', "require('https')", ['js.import.https']],
    ['dns/promises', "require('dns/promises')", ['js.import.dns']],
    ['tls', "require('tls')", ['js.import.tls']],
    ['vm', "require('vm')", ['js.import.vm']],
    ['worker_threads', "require('worker_threads')", ['js.import.worker_threads']],
    ['cluster', "require('cluster')", ['js.import.cluster']],
    ['fs is a warning', "require('fs').readFileSync(0, 'utf8')", ['js.import.fs']],
    ['fs/promises', "require('fs/promises')", ['js.import.fs']],
    ['harmless modules', "require('readline'); require('crypto'); require('./local')", []],
    ['computed require', 'require(name)', ['js.require.computed']],
    ['require of folded literal', "require('child' + '_process')", ['js.import.child_process']],
    ['require of template literal', 'require(`net`)', ['js.import.net']],
    ['require as a value', 'const r = require; r("x")', ['js.require.computed']],
    ['require.resolve is fine', "require.resolve('./x'); typeof require", []],
    ['module.require', "module.require('child_process')", ['js.import.child_process']],
    ['dynamic import of a literal', "import('./x.js')", ['js.import.dynamic']],
    ['dynamic import of child_process', "import('child_process')", ['js.import.dynamic', 'js.import.child_process']],
    ['computed dynamic import', 'import(name)', ['js.import.computed']],
    ['eval', "eval('1')", ['js.call.eval']],
    ['indirect eval', "(0, eval)('1')", ['js.call.eval']],
    ['eval as a value', 'const e = eval', ['js.call.eval']],
    ['globalThis.eval', "globalThis.eval('1')", ['js.call.eval']],
    ['global computed eval', "global['ev' + 'al']('1')", ['js.call.eval']],
    ['property named eval is fine', 'const o = { eval: 1 }; o.eval; class A { eval() {} }', []],
    ['Function', "Function('return 1')", ['js.call.Function']],
    ['new Function', "new Function('a', 'return a')", ['js.call.Function']],
    ['Function harmless uses', 'f instanceof Function; Function.prototype.call; typeof Function', []],
    ['vm call', "const vm = require('vm'); vm.runInThisContext('1')", ['js.import.vm', 'js.call.vm']],
    ['vm destructured', "const { Script } = require('vm'); new Script('1')", ['js.import.vm', 'js.call.vm']],
    ['vm member of require', "require('vm').runInNewContext('1')", ['js.import.vm', 'js.call.vm']],
    ['vm ESM namespace', "import * as v from 'node:vm'; v.compileFunction('1')", ['js.import.vm', 'js.call.vm']],
    ['process.binding', "process.binding('fs')", ['js.process.binding']],
    ['process._linkedBinding', "process._linkedBinding('x')", ['js.process.binding']],
    ['process.dlopen', 'process.dlopen(m, "x.node")', ['js.process.dlopen']],
    ['process.env', 'process.env.HOME', ['js.process.env']],
    ['process.env through globalThis', "globalThis.process['env']", ['js.process.env']],
    ['harmless process members', 'process.stdin; process.stdout.write("x"); process.argv; process.exit(0)', []],
    ['globalThis computed', 'globalThis[name]', ['js.global.computed']],
    ['global computed', 'global[a + b]', ['js.global.computed']],
    ['process computed', 'process[key]', ['js.global.computed']],
    ['global object passed along', 'Reflect.get(globalThis, k)', ['js.global.computed']],
    ['constructor chain', "this.constructor.constructor('return process')()", ['js.escape.constructor_chain']],
    ['constructor chain computed', "x['constructor']['constructor']('1')", ['js.escape.constructor_chain']],
    ['function literal constructor', "(function () {}).constructor('1')", ['js.escape.constructor_chain']],
    ['async function constructor', "Object.getPrototypeOf(async () => {}).constructor('1')", ['js.escape.constructor_chain']],
    ['Function.prototype.constructor', 'Function.prototype.constructor', ['js.escape.constructor_chain']],
    ['ordinary constructor use', 'class A { constructor() { this.k = this.constructor.name; } } new A().constructor === A', []],
    ['base64 into eval', "eval(Buffer.from(s, 'base64').toString())", ['js.call.eval', 'js.payload.decoded_eval']],
    ['hex into Function', "Function(Buffer.from(s, 'hex').toString())()", ['js.call.Function', 'js.payload.decoded_eval']],
    ['atob into eval', 'eval(atob(s))', ['js.call.eval', 'js.payload.decoded_eval']],
    [
      'decoded through a variable',
      "let p = Buffer.from(s, 'base64'); const q = p.toString(); eval(q)",
      ['js.call.eval', 'js.payload.decoded_eval'],
    ],
    ['decoded into vm', "require('vm').runInThisContext(atob(s))", ['js.import.vm', 'js.call.vm', 'js.payload.decoded_eval']],
    ['utf8 Buffer is not decoding', "eval(Buffer.from(s, 'utf8').toString())", ['js.call.eval']],
    ['decoding without eval is fine', "console.log(Buffer.from(s, 'base64').toString())", []],
    ['Error.prepareStackTrace', 'Error.prepareStackTrace = (e, s) => s', ['js.frame.access']],
    ['caller', 'function f() { return f.caller }', ['js.frame.access']],
    ['escaped identifier', "\\u0065val('1')", ['js.identifier.escaped', 'js.call.eval']],
    ['escaped in a string is fine', "const s = '\\u0065val'", []],
    ['hashbang', '#!/usr/bin/env node\nconsole.log(1)', []],
    ['top-level return (CommonJS)', 'if (x) return;\nconsole.log(1)', []],
  ];

  it.each(cases)('%s', async (_name, code, expected) => {
    const report = await scan(code);
    expect(report.syntaxError).toBeNull();
    expect(ruleIdsOf(report)).toEqual([...expected].sort());
  });

  it('takes every severity from the catalog, and every rule id is known to the policy', async () => {
    const report = await scan("require('child_process'); require('http'); require('fs'); eval('x'); process.env.X");
    for (const finding of report.findings) {
      expect(ALL_RULES.get(finding.ruleId)?.severity).toBe(finding.severity);
    }
    for (const rule of JAVASCRIPT_RULES) expect(ALL_RULES.get(rule.ruleId)).toBeDefined();
    expect(findingsOf(report, 'js.import.http')[0]?.severity).toBe('high');
    expect(findingsOf(report, 'js.import.fs')[0]?.severity).toBe('warning');
  });

  it('reports 1-based lines and character columns (astral characters count once), sorted', async () => {
    const report = await scan("const s = '😀😀'; eval(s)\r\n\u2028require('net')\n");
    expect(isSortedByPosition(report.findings)).toBe(true);
    expect(findingsOf(report, 'js.call.eval')[0]).toMatchObject({ line: 1, column: 17 });
    expect(findingsOf(report, 'js.import.net')[0]).toMatchObject({ line: 3, column: 1 });
  });

  it('reports a syntax error instead of findings', async () => {
    const report = await scan("require('child_process')\nlet x = ;\n");
    expect(report.findings).toEqual([]);
    expect(report.syntaxError).toEqual({ message: 'Unexpected token', line: 2, column: 9 });
  });

  it('reports the real mistake in module code, not the import line', async () => {
    const report = await scan("import fs from 'fs';\nconst y = 1 +;\n");
    expect(report.syntaxError).toMatchObject({ line: 2 });
  });

  it('scans ES modules (import/export) after the CommonJS parse fails', async () => {
    const report = await scan("import { execSync } from 'child_process';\nexport const x = await 1;\n");
    expect(report.syntaxError).toBeNull();
    expect(ruleIdsOf(report)).toEqual(['js.import.child_process']);
  });

  it('treats code that Node compiles but acorn rejects as unparseable (no parser-differential bypass)', async () => {
    const report = await scan('console.log(new.target)\n');
    expect(report.syntaxError).toBeNull();
    expect(ruleIdsOf(report)).toEqual(['scan.unparseable']);
    expect(report.findings[0]?.severity).toBe('critical');
  });
});
