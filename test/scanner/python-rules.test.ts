import { scanCode, ALL_RULES } from '../../src/scanner';
import { PYTHON_RULES } from '../../src/scanner/python/rule-catalog';
import { listPythonRules } from '../../src/scanner/python-scanner';
import { findingsOf, isSortedByPosition, ruleIdsOf } from './helpers';

const scan = (code: string | Buffer) => scanCode('python', typeof code === 'string' ? Buffer.from(code) : code);

describe('Python scanner rules', () => {
  it('rules.json is what scan.py --list-rules prints (regenerate with npm run scanner:rules)', async () => {
    const fromScript = (await listPythonRules()) as Array<{ ruleId: string; severity: string; description: string }>;
    const byId = (a: { ruleId: string }, b: { ruleId: string }) => a.ruleId.localeCompare(b.ruleId);
    expect([...PYTHON_RULES].sort(byId)).toEqual([...fromScript].sort(byId));
  });

  const cases: Array<[string, string, string[]]> = [
    ['import os (high)', 'import os\nprint(os.getcwd())\n', ['py.import.os']],
    ['import os.path binds os', 'import os.path\nprint(os.path.join("a", "b"))\n', ['py.import.os']],
    ['import subprocess', 'import subprocess\n', ['py.import.subprocess']],
    ['from subprocess import', 'from subprocess import Popen as P\n', ['py.import.subprocess']],
    ['import socket', 'import socket\n', ['py.import.socket']],
    ['import ctypes', 'import ctypes.util\n', ['py.import.ctypes']],
    ['import http.client', 'import http.client\n', ['py.import.http']],
    ['from urllib import request', 'from urllib import request\n', ['py.import.urllib']],
    ['import requests', 'import requests\n', ['py.import.requests']],
    ['asyncio subprocess module', 'from asyncio import subprocess\n', ['py.import.asyncio.subprocess']],
    ['import asyncio.subprocess', 'import asyncio.subprocess\n', ['py.import.asyncio.subprocess']],
    ['loop.subprocess_exec', 'async def f(loop):\n    await loop.subprocess_exec(None, "id")\n', ['py.call.asyncio.subprocess']],
    ['multiprocessing', 'import multiprocessing\n', ['py.import.multiprocessing']],
    ['os.fork', 'import os\nos.fork()\n', ['py.import.os', 'py.call.os.fork']],
    ['os.execv', 'import os\nos.execv("/bin/sh", ["sh"])\n', ['py.import.os', 'py.call.os.exec']],
    ['os.posix_spawn', 'import os\nos.posix_spawn("/bin/sh", [], {})\n', ['py.import.os', 'py.call.os.spawn']],
    ['os.popen', 'import os\nos.popen("id")\n', ['py.import.os', 'py.call.os.popen']],
    ['posix.system is os.system', 'import posix\nposix.system("id")\n', ['py.import.posix', 'py.call.os.system']],
    ['pty', 'import pty\npty.fork()\n', ['py.import.pty', 'py.call.os.fork']],
    ['pickle.loads', 'import pickle\npickle.loads(b"")\n', ['py.import.pickle', 'py.call.pickle.loads']],
    ['marshal.loads', 'import marshal\nmarshal.loads(b"")\n', ['py.import.marshal', 'py.call.marshal.loads']],
    ['importlib', 'import importlib\nimportlib.import_module("json")\n', ['py.import.importlib', 'py.call.importlib']],
    ['eval', 'eval("1")\n', ['py.call.eval']],
    ['exec', 'exec("x = 1")\n', ['py.call.exec']],
    ['compile builtin', 'code = compile("1", "f", "eval")\n', ['py.call.compile']],
    ['re.compile is not compile', 'import re\nre.compile("a+")\nfrom re import compile\ncompile("b")\n', []],
    ['__import__', '__import__("json")\n', ['py.call.__import__']],
    ['__import__ of a dangerous module', '__import__("o" + "s").getcwd()\n', ['py.call.__import__', 'py.import.os']],
    ['__subclasses__', 'object.__subclasses__()\n', ['py.dunder.__subclasses__']],
    ['__globals__', 'def f(): pass\nf.__globals__\n', ['py.dunder.__globals__']],
    ['__builtins__', 'print(__builtins__)\n', ['py.dunder.__builtins__']],
    ['__code__', 'def f(): pass\nf.__code__\n', ['py.dunder.__code__']],
    ['__mro__', 'int.__mro__\n', ['py.dunder.__mro__']],
    ['__bases__', 'int.__bases__\n', ['py.dunder.__bases__']],
    ['dunder in a string', 'x = {}["__subclasses__"]\n', ['py.dunder.__subclasses__']],
    ['dunder built from pieces', 'name = "__glo" + "bals__"\n', ['py.dunder.__globals__']],
    ['dunder from an f-string', 'name = f"{\'__code\'}__"\n', ['py.dunder.__code__']],
    ['dunder reversed', 'name = "__sesab__"[::-1]\n', ['py.dunder.__bases__']],
    ['dunder from chr codes', 'name = "".join([chr(95), chr(95), "mro", "__"])\n', ['py.dunder.__mro__']],
    ['getattr with a dunder', 'getattr(object, "__doc__")\n', ['py.reflect.getattr_dunder']],
    ['setattr with a dunder', 'class A: pass\nsetattr(A, "__doc__", "x")\n', ['py.reflect.setattr_dunder']],
    ['getattr reaching os.system', 'import os\ngetattr(os, "sys" + "tem")("id")\n', ['py.import.os', 'py.call.os.system']],
    ['sys alone is fine', 'import sys\ndata = sys.stdin.read()\nsys.stdout.write(data)\nsys.exit(0)\n', []],
    ['sys.modules', 'import sys\nsys.modules["os"]\n', ['py.sys.modules']],
    ['from sys import modules', 'from sys import modules\n', ['py.sys.modules']],
    ['sys._getframe', 'import sys\nsys._getframe()\n', ['py.frame.access']],
    ['f_globals', 'def f(frame):\n    return frame.f_globals\n', ['py.frame.access']],
    ['gi_frame', 'g = (i for i in [])\ng.gi_frame\n', ['py.frame.access']],
    ['tb_frame', 'def f(tb):\n    return tb.tb_frame\n', ['py.frame.access']],
    ['builtins module', 'import builtins\n', ['py.import.builtins']],
    ['builtins.eval is eval', 'import builtins\nbuiltins.eval("1")\n', ['py.import.builtins', 'py.call.eval']],
    ['os.environ', 'import os\nos.environ["HOME"]\n', ['py.import.os', 'py.env.access']],
    ['os.getenv', 'import os as o\no.getenv("HOME")\n', ['py.import.os', 'py.env.access']],
    ['base64 payload', 'import base64\nexec(base64.b64decode("cHJpbnQoMSk="))\n', ['py.call.exec', 'py.payload.decoded_exec']],
    ['codecs payload', 'import codecs\neval(codecs.encode("1", "rot13"))\n', ['py.call.eval', 'py.payload.decoded_exec']],
    ['bytes.fromhex payload', 'exec(bytes.fromhex("31"))\n', ['py.call.exec', 'py.payload.decoded_exec']],
    [
      'payload through variables',
      'import base64 as b\np = b.b64decode("MQ==")\nq = p\neval(q)\n',
      ['py.call.eval', 'py.payload.decoded_exec'],
    ],
    ['plain exec is not a payload', 'exec("x = 1")\n', ['py.call.exec']],
    ['utf-8 cookie is fine', '# -*- coding: utf-8 -*-\nx = 1\n', []],
    ['latin-1 cookie', '# coding: latin-1\nx = 1\n', ['py.encoding.cookie']],
    ['full-width eval', 'ｅｖａｌ("1")\n', ['py.identifier.nfkc', 'py.call.eval']],
    ['ligature identifier', 'ﬁle = 1\n', ['py.identifier.nfkc']],
    ['non-folding unicode identifier is fine', 'größe = 1\nπ = 3.14\n', []],
    ['full-width text in strings is fine', 's = "ｅｖａｌ ＡＢＣ"\n', []],
    ['relative import is ignored', 'from . import os\n', []],
  ];

  it.each(cases)('%s', async (_name, code, expected) => {
    const report = await scan(code);
    expect(report.syntaxError).toBeNull();
    expect(ruleIdsOf(report)).toEqual([...expected].sort());
  });

  it('takes every severity from the catalog', async () => {
    const report = await scan('import os, socket\neval("1")\nos.environ\n');
    for (const finding of report.findings) {
      expect(ALL_RULES.get(finding.ruleId)?.severity).toBe(finding.severity);
    }
    expect(findingsOf(report, 'py.import.socket')[0]?.severity).toBe('critical');
    expect(findingsOf(report, 'py.import.os')[0]?.severity).toBe('high');
  });

  it('reports 1-based lines and character (not byte) columns, sorted by position', async () => {
    const report = await scan('x = 1\ns = "é"; eval(s)\nimport os\n');
    expect(isSortedByPosition(report.findings)).toBe(true);
    expect(findingsOf(report, 'py.call.eval')[0]).toMatchObject({ line: 2, column: 10 });
    expect(findingsOf(report, 'py.import.os')[0]).toMatchObject({ line: 3, column: 1 });
  });

  it('points at the utf-7 cookie and still sees the code it hides', async () => {
    const code = '# -*- coding: utf-7 -*-\n# looks like a comment +AAo-import socket\n';
    const report = await scan(code);
    expect(findingsOf(report, 'py.encoding.cookie')[0]).toMatchObject({ line: 1, column: 15, severity: 'critical' });
    expect(ruleIdsOf(report)).toContain('py.import.socket');
  });

  it("reports a syntax error with Python's message instead of findings", async () => {
    const report = await scan('import os\ndef f(:\n    pass\n');
    expect(report.findings).toEqual([]);
    expect(report.syntaxError).toEqual({ message: 'invalid syntax', line: 2, column: 7 });
  });

  it('reports an unknown source encoding as a syntax error', async () => {
    const report = await scan('# coding: no-such-codec\nx = 1\n');
    expect(report.findings).toEqual([]);
    expect(report.syntaxError?.message).toMatch(/unknown encoding/);
  });
});
