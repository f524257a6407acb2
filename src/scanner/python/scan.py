"""Static security scanner for Python submissions.

Reads the submission's source bytes on stdin, parses them with Python's own `ast` module
(never executes them) and prints one JSON object on stdout:

    {"findings": [{"ruleId", "severity", "message", "line", "column"}, ...],
     "syntaxError": null | {"message", "line", "column"}}

Lines and columns are 1-based; columns count characters (not bytes).

Usage: scan.py [--serve] [--max-findings N] [--cpu-seconds S] [--memory-mb M] | --list-rules

With --serve it is a warm fork server (see `serve` below): started once, it forks a fresh child
per scan, and the child sets the same resource limits before it parses anything.

The Node side (python-scanner.ts) runs this file as `python3 -I -S -B scan.py` with an empty
environment and a wall-clock timeout. Everything the *input* can cause (syntax errors,
parser limits, analysis failures) is reported in the JSON on exit status 0, so that a hostile
submission becomes a policy decision instead of an infrastructure error. A non-zero exit
status therefore always means the scanner itself is broken or was misused.
"""

import sys

# Resource limits come first, before the input is read: a hostile input must not be able to
# make the parser use unbounded memory or CPU. Exceeding RLIMIT_CPU kills this process with
# SIGXCPU (then SIGKILL one second later), which the caller reports as `scan.unparseable`.
DEFAULT_CPU_SECONDS = 5
DEFAULT_MEMORY_MB = 512
DEFAULT_MAX_FINDINGS = 200
MAX_INPUT_BYTES = 1024 * 1024  # the caller enforces the product limit; this is a backstop


def parse_arguments(argv):
    options = {
        'max_findings': DEFAULT_MAX_FINDINGS,
        'cpu_seconds': DEFAULT_CPU_SECONDS,
        'memory_mb': DEFAULT_MEMORY_MB,
        'list_rules': False,
        'serve': False,
    }
    numeric = {'--max-findings': 'max_findings', '--cpu-seconds': 'cpu_seconds', '--memory-mb': 'memory_mb'}
    position = 0
    while position < len(argv):
        flag = argv[position]
        if flag in ('--list-rules', '--serve'):
            options[flag[2:].replace('-', '_')] = True
            position += 1
        elif flag in numeric and position + 1 < len(argv):
            value = int(argv[position + 1])
            if value <= 0:
                raise SystemExit('scan.py: %s must be positive' % flag)
            options[numeric[flag]] = value
            position += 2
        else:
            raise SystemExit('scan.py: unknown or incomplete argument %r' % flag)
    return options


def apply_resource_limits(cpu_seconds, memory_mb):
    import resource

    def lower(which, soft, hard):
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(which, (soft, hard))

    memory_bytes = memory_mb * 1024 * 1024
    lower(resource.RLIMIT_AS, memory_bytes, memory_bytes)
    lower(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)
    lower(resource.RLIMIT_CORE, 0, 0)


OPTIONS = parse_arguments(sys.argv[1:])
# The fork server reads inputs but never parses them: each of its children lowers the limits
# itself, first thing after the fork (a CPU limit here would count every scan's fork against it).
if not OPTIONS['serve']:
    apply_resource_limits(OPTIONS['cpu_seconds'], OPTIONS['memory_mb'])

# Startup time is most of a scan's cost, so only C modules are imported eagerly: `_ast` holds
# the same node classes as `ast` (which adds ~15 ms of pure-Python imports), `_json` the same
# string encoder as `json`. `re` and `tokenize` are imported only for inputs that need them.
import _ast as ast  # noqa: E402  (imported after the limits on purpose)
import codecs  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import unicodedata  # noqa: E402
from _json import encode_basestring_ascii  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Rule catalog. Every finding's severity comes from here, and `--list-rules` prints it so the
# TypeScript side can validate policy files against the same list.
# ---------------------------------------------------------------------------------------------

RULES = {}


def rule(rule_id, severity, description):
    RULES[rule_id] = {'ruleId': rule_id, 'severity': severity, 'description': description}
    return rule_id


UNPARSEABLE = rule('scan.unparseable', 'critical',
                   'the scanner could not analyse the input (parser or resource limit)')
TRUNCATED = rule('scan.findings_truncated', 'info', 'more findings than the report keeps')

# Imported modules. Keys are module names; a dotted key matches that submodule (and deeper).
# Severity reflects what the module is for in a code-evaluation submission:
#   critical: starts processes, opens raw sockets, or calls native code;
#   high: operating-system, network-client, dynamic-import or interpreter-internals access;
#   warning: deserialisation modules whose `loads` is flagged separately.
IMPORT_RULES = {}


def import_rule(module, severity, purpose):
    IMPORT_RULES[module] = rule('py.import.' + module, severity, 'imports %s: %s' % (module, purpose))


for _module in ('subprocess', '_posixsubprocess', 'pty'):
    import_rule(_module, 'critical', 'starts other programs')
for _module in ('socket', '_socket'):
    import_rule(_module, 'critical', 'opens raw network sockets')
for _module in ('ctypes', '_ctypes', 'cffi'):
    import_rule(_module, 'critical', 'calls native code and reads or writes raw memory')
import_rule('asyncio.subprocess', 'critical', 'starts other programs')
for _module in ('os', 'posix', 'nt'):
    import_rule(_module, 'high', 'operating-system access (processes, files, environment)')
import_rule('multiprocessing', 'high', 'starts worker processes')
for _module in ('http', 'urllib', 'urllib3', 'requests', 'httpx', 'aiohttp', 'ftplib', 'smtplib',
                'telnetlib', 'poplib', 'imaplib', 'xmlrpc', 'socketserver', 'ssl', 'webbrowser'):
    import_rule(_module, 'high', 'network access')
import_rule('importlib', 'high', 'imports modules by computed name')
import_rule('builtins', 'high', 'reaches the interpreter builtins (eval, exec, __import__) by name')
for _module in ('code', 'codeop'):
    import_rule(_module, 'high', 'compiles and runs code at runtime')
import_rule('gc', 'high', 'walks every live object (a sandbox-escape technique)')
for _module in ('pickle', '_pickle', 'cPickle', 'marshal', 'shelve', 'dill'):
    import_rule(_module, 'warning', 'deserialises objects or code')

# References to dangerous names, by canonical qualified name ("eval", "os.system").
# Referencing is enough (`e = eval` hides the later call), so uses that are not calls count.
REFERENCE_RULES = {}


def reference_rule(rule_id, severity, description, qualified_names):
    rule(rule_id, severity, description)
    for name in qualified_names:
        REFERENCE_RULES[name] = rule_id


for _builtin in ('eval', 'exec', 'compile'):
    reference_rule('py.call.' + _builtin, 'critical', 'runs or compiles code built at runtime', [_builtin])
reference_rule('py.call.__import__', 'critical', 'imports a module by computed name', ['__import__'])
reference_rule('py.call.os.system', 'critical', 'runs a shell command', ['os.system'])
reference_rule('py.call.os.popen', 'critical', 'runs a shell command', ['os.popen'])
reference_rule('py.call.os.exec', 'critical', 'replaces the process with another program',
               ['os.' + name for name in ('execl', 'execle', 'execlp', 'execlpe', 'execv', 'execve',
                                          'execvp', 'execvpe')])
reference_rule('py.call.os.spawn', 'critical', 'starts another program',
               ['os.' + name for name in ('spawnl', 'spawnle', 'spawnlp', 'spawnlpe', 'spawnv',
                                          'spawnve', 'spawnvp', 'spawnvpe', 'posix_spawn',
                                          'posix_spawnp')])
reference_rule('py.call.os.fork', 'critical', 'forks the process', ['os.fork', 'os.forkpty', 'pty.fork'])
reference_rule('py.call.os.kill', 'high', 'sends signals to processes', ['os.kill', 'os.killpg'])
reference_rule('py.env.access', 'high', 'reads or changes environment variables',
               ['os.environ', 'os.environb', 'os.getenv', 'os.getenvb', 'os.putenv', 'os.unsetenv'])
reference_rule('py.sys.modules', 'critical',
               'reaches already-imported modules without importing them', ['sys.modules'])
reference_rule('py.frame.access', 'critical', 'inspects interpreter stack frames (their globals and builtins)',
               ['sys._getframe', 'sys._current_frames', 'sys.settrace', 'sys.setprofile',
                'inspect.currentframe', 'inspect.stack', 'inspect.trace', 'inspect.getouterframes',
                'inspect.getinnerframes', 'traceback.walk_stack', 'traceback.walk_tb'])
reference_rule('py.call.pickle.loads', 'high', 'deserialises objects (can call arbitrary functions)',
               ['pickle.loads', 'pickle.load', 'pickle.Unpickler', 'dill.loads', 'dill.load', 'shelve.open'])
reference_rule('py.call.marshal.loads', 'critical', 'loads compiled code objects',
               ['marshal.loads', 'marshal.load'])
reference_rule('py.call.importlib', 'critical', 'imports a module by computed name',
               ['importlib.import_module', 'importlib.__import__', 'importlib.reload',
                'importlib.util.spec_from_file_location', 'importlib.util.module_from_spec',
                'importlib.machinery.SourceFileLoader'])
reference_rule('py.call.asyncio.subprocess', 'critical', 'starts other programs',
               ['asyncio.create_subprocess_exec', 'asyncio.create_subprocess_shell'])
reference_rule('py.call.gc', 'high', 'walks live objects (a sandbox-escape technique)',
               ['gc.get_objects', 'gc.get_referrers', 'gc.get_referents'])
reference_rule('py.call.types', 'high', 'builds code or function objects by hand',
               ['types.CodeType', 'types.FunctionType'])

# Attribute names that are dangerous whatever object they are read from.
SUBPROCESS_ATTRIBUTES = {'create_subprocess_exec', 'create_subprocess_shell', 'subprocess_exec',
                         'subprocess_shell'}
FRAME_ATTRIBUTES = {'f_globals', 'f_locals', 'f_builtins', 'f_back', 'gi_frame', 'cr_frame',
                    'ag_frame', 'tb_frame'}

# Dunder names used to climb from any object to the interpreter's internals ("pyjail" escapes).
# `__class__` and `__dict__` are not here: ordinary code uses them, and every escape chain also
# needs one of these.
ESCAPE_DUNDERS = ('__subclasses__', '__globals__', '__builtins__', '__code__', '__mro__',
                  '__bases__', '__base__', '__self__', '__loader__')
for _dunder in ESCAPE_DUNDERS:
    rule('py.dunder.' + _dunder, 'critical', 'uses %s, a way out of the language sandbox' % _dunder)

GETATTR_DUNDER = rule('py.reflect.getattr_dunder', 'warning', 'reads a dunder attribute by name')
SETATTR_DUNDER = rule('py.reflect.setattr_dunder', 'high', 'changes or deletes a dunder attribute by name')
DECODED_EXEC = rule('py.payload.decoded_exec', 'critical', 'runs code decoded at runtime (hidden payload)')
ENCODING_COOKIE = rule('py.encoding.cookie', 'critical',
                       'declares a source encoding other than UTF-8/ASCII (text reviewers see differs)')
FOLDED_IDENTIFIER = rule('py.identifier.nfkc', 'critical',
                         'spells an ASCII identifier with look-alike Unicode characters')

# Module names that are other spellings of the same thing.
CANONICAL_MODULES = {'posix': 'os', 'nt': 'os', '_pickle': 'pickle', 'cPickle': 'pickle',
                     '_socket': 'socket', '__builtins__': 'builtins'}
# Calls whose callee name ends in one of these turn data into (possibly code) text.
DECODER_NAMES = {'b64decode', 'b32decode', 'b16decode', 'b85decode', 'a85decode', 'decodebytes',
                 'decodestring', 'standard_b64decode', 'urlsafe_b64decode', 'decode', 'fromhex',
                 'unhexlify', 'a2b_base64', 'a2b_hex', 'a2b_uu', 'decompress', 'loads', 'chr',
                 'bytes', 'bytearray'}
DECODER_QUALIFIED_NAMES = {'codecs.encode'}  # rot13 is an "encode"
CODE_SINKS = {'eval', 'exec', 'compile'}
DYNAMIC_IMPORTERS = {'__import__', 'importlib.import_module'}
REFLECTIVE_READERS = {'getattr', 'hasattr'}
REFLECTIVE_WRITERS = {'setattr', 'delattr'}
SEVERITY_RANK = {'info': 0, 'warning': 1, 'high': 2, 'critical': 3}
MAX_QUALIFIED_PARTS = 16
MAX_IMPORT_NESTING = 4  # __import__(__import__('x').y)... deeper is not worth following
MAX_FOLD_DEPTH = 32
MAX_TAINT_ROUNDS = 8
MAX_MESSAGE_CHARS = 300


def walk(root):
    """Every node under `root`, parents before children (like ast.walk, without importing ast)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, ast.AST):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(item for item in value if isinstance(item, ast.AST))


def is_dunder(name):
    return len(name) > 4 and name.startswith('__') and name.endswith('__')


def canonical_name(qualified):
    head, dot, rest = qualified.partition('.')
    head = CANONICAL_MODULES.get(head, head)
    if head == 'builtins':
        return rest
    return head + dot + rest


def member_name(owner, member):
    """Canonical name of `owner.member`; an empty owner is the builtins module."""
    return canonical_name(owner + '.' + member) if owner else member


def import_rule_for(module):
    """The rule of the longest table entry that is `module` or a package containing it."""
    parts = module.split('.')
    for length in range(len(parts), 0, -1):
        rule_id = IMPORT_RULES.get('.'.join(parts[:length]))
        if rule_id:
            return rule_id
    return None


def fold_string(node, depth=0):
    """The string an expression evaluates to, when it is built only from literals."""
    if depth > MAX_FOLD_DEPTH:
        return None
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = fold_string(node.left, depth + 1)
        right = fold_string(node.right, depth + 1) if left is not None else None
        return left + right if right is not None else None
    if isinstance(node, ast.JoinedStr):
        pieces = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.conversion != -1 or value.format_spec is not None:
                    return None
                value = value.value
            piece = fold_string(value, depth + 1)
            if piece is None:
                return None
            pieces.append(piece)
        return ''.join(pieces)
    if isinstance(node, ast.Subscript) and is_reversing_slice(node.slice):
        folded = fold_string(node.value, depth + 1)
        return folded[::-1] if folded is not None else None
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if isinstance(func, ast.Name) and func.id == 'chr' and len(node.args) == 1:
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and type(argument.value) is int and 0 <= argument.value < 0x110000:
                return chr(argument.value)
        if (isinstance(func, ast.Attribute) and func.attr == 'join' and len(node.args) == 1
                and isinstance(node.args[0], (ast.List, ast.Tuple))):
            separator = fold_string(func.value, depth + 1)
            if separator is None:
                return None
            pieces = [fold_string(element, depth + 1) for element in node.args[0].elts]
            return None if None in pieces else separator.join(pieces)
    return None


def is_reversing_slice(node):
    if not isinstance(node, ast.Slice) or node.lower is not None or node.upper is not None:
        return False
    step = node.step
    if isinstance(step, ast.UnaryOp) and isinstance(step.op, ast.USub):
        return isinstance(step.operand, ast.Constant) and step.operand.value == 1
    return isinstance(step, ast.Constant) and step.value == -1


class SourcePositions:
    """Turns the AST's UTF-8 byte columns into 1-based character columns."""

    def __init__(self, text):
        self.ascii = text.isascii()
        if not self.ascii:
            import re
            self.lines = re.split(r'\r\n|\r|\n', text)

    def column(self, line, byte_offset):
        if self.ascii or not 1 <= line <= len(self.lines):
            return byte_offset + 1
        prefix = self.lines[line - 1].encode('utf-8')[:byte_offset]
        return len(prefix.decode('utf-8', 'replace')) + 1


class Analysis:
    """One walk over the tree, collecting findings."""

    def __init__(self, tree, positions):
        self.nodes = list(walk(tree))  # walked once; every pass below reuses it
        self.positions = positions
        self.findings = []
        self.aliases = {}  # local name -> qualified name it was imported as
        self.star_modules = []
        self.called = set()  # id() of nodes that are the callee of a Call
        self.code_sink_calls = []
        self.tainted_names = None  # computed lazily: only files that call exec/eval need it

    def report(self, rule_id, message, node=None, line=None, column=None):
        if node is not None:
            line = node.lineno
            column = self.positions.column(line, node.col_offset)
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS - 1] + '\u2026'
        self.findings.append({'ruleId': rule_id, 'severity': RULES[rule_id]['severity'],
                              'message': message, 'line': line, 'column': column})

    # -- name resolution ---------------------------------------------------------------------

    def collect_imports(self):
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        top = alias.name.split('.')[0]
                        self.aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name == '*':
                        self.star_modules.append(node.module)
                    else:
                        self.aliases[alias.asname or alias.name] = node.module + '.' + alias.name

    def resolve_name(self, name):
        if name in self.aliases:
            return self.aliases[name]
        for module in self.star_modules:
            candidate = module + '.' + name
            if canonical_name(candidate) in REFERENCE_RULES:
                return candidate
        return name

    def qualified_name(self, node, depth=0):
        """`os.path.join` for an attribute chain rooted at an imported name, else None."""
        if depth > MAX_IMPORT_NESTING:
            return None
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            if len(parts) > MAX_QUALIFIED_PARTS:
                return None
            node = node.value
        if isinstance(node, ast.Name):
            base = self.resolve_name(node.id)
        elif isinstance(node, ast.Call):
            base = self.dynamically_imported_module(node, depth + 1)
            if base is None:
                return None
        else:
            return None
        parts.append(base)
        return canonical_name('.'.join(reversed(parts)))

    def dynamically_imported_module(self, call, depth=0):
        """'os' for `__import__('os')` or `importlib.import_module('o' + 's')`."""
        if not isinstance(call.func, (ast.Name, ast.Attribute)) or not call.args:
            return None
        if self.qualified_name(call.func, depth) not in DYNAMIC_IMPORTERS:
            return None
        return fold_string(call.args[0])

    # -- the walk ----------------------------------------------------------------------------

    def run(self):
        self.collect_imports()
        handlers = {
            ast.Import: self.visit_import,
            ast.ImportFrom: self.visit_import_from,
            ast.Call: self.visit_call,
            ast.Name: self.visit_name,
            ast.Attribute: self.visit_attribute,
            ast.Subscript: self.visit_subscript,
        }
        for node in self.nodes:
            handler = handlers.get(type(node))
            if handler is not None:
                handler(node)
            if isinstance(node, (ast.Constant, ast.BinOp, ast.JoinedStr, ast.Subscript, ast.Call)):
                self.check_dunder_string(node)
        for call in self.code_sink_calls:
            self.check_decoded_payload(call)
        return self.findings

    def visit_import(self, node):
        for alias in node.names:
            self.report_import(alias.name, node)

    def visit_import_from(self, node):
        if node.level or not node.module:
            return  # relative imports only reach the submission's own files
        reported = self.report_import(node.module, node)
        for alias in node.names:
            qualified = node.module + '.' + alias.name
            rule_id = import_rule_for(qualified)
            if rule_id is not None and rule_id != reported:
                self.report_import(qualified, node)
            self.report_reference(canonical_name(qualified), node, called=False)

    def report_import(self, module, node):
        rule_id = import_rule_for(module)
        if rule_id is not None:
            self.report(rule_id, RULES[rule_id]['description'], node)
        return rule_id

    def report_reference(self, qualified, node, called):
        rule_id = REFERENCE_RULES.get(qualified)
        if rule_id is None:
            return
        verb = 'calls' if called else 'references'
        self.report(rule_id, '%s %s: %s' % (verb, qualified, RULES[rule_id]['description']), node)

    def visit_call(self, node):
        self.called.add(id(node.func))
        callee = self.qualified_name(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else None
        if callee is None:
            return
        if callee in CODE_SINKS:
            self.code_sink_calls.append(node)
        if callee in DYNAMIC_IMPORTERS:
            module = fold_string(node.args[0]) if node.args else None
            if module is not None:
                self.report_import(module, node)
        if callee in REFLECTIVE_READERS or callee in REFLECTIVE_WRITERS:
            self.check_reflective_call(node, callee)

    def check_reflective_call(self, node, callee):
        if len(node.args) < 2:
            return
        attribute = fold_string(node.args[1])
        if attribute is None:
            return
        if is_dunder(attribute):
            rule_id = SETATTR_DUNDER if callee in REFLECTIVE_WRITERS else GETATTR_DUNDER
            self.report(rule_id, '%s(..., %r)' % (callee, attribute[:60]), node)
        # getattr(os, 'sys' + 'tem') is os.system; getattr(__builtins__, 'eval') is eval.
        target = self.qualified_name(node.args[0]) if isinstance(node.args[0], (ast.Name, ast.Attribute)) else None
        if target is not None:
            self.report_reference(member_name(target, attribute), node, called=False)

    def visit_name(self, node):
        if not isinstance(node.ctx, ast.Load):
            return
        if node.id in ESCAPE_DUNDERS:
            self.report('py.dunder.' + node.id, 'uses ' + node.id, node)
        self.report_reference(canonical_name(self.resolve_name(node.id)), node, id(node) in self.called)

    def visit_attribute(self, node):
        if node.attr in ESCAPE_DUNDERS:
            self.report('py.dunder.' + node.attr, 'uses .' + node.attr, node)
        if node.attr in FRAME_ATTRIBUTES:
            self.report('py.frame.access', 'uses .%s: %s' % (node.attr, RULES['py.frame.access']['description']), node)
        if node.attr in SUBPROCESS_ATTRIBUTES:
            self.report('py.call.asyncio.subprocess', 'uses .%s: starts other programs' % node.attr, node)
        qualified = self.qualified_name(node)
        if qualified is not None:
            self.report_reference(qualified, node, id(node) in self.called)

    def visit_subscript(self, node):
        # `os.__dict__['system']`, `vars(os)['system']` and `__builtins__['eval']` name os.system and eval.
        key = fold_string(node.slice)
        if key is None:
            return
        container = node.value
        owner = None
        if isinstance(container, ast.Attribute) and container.attr == '__dict__':
            owner = container.value
        elif (isinstance(container, ast.Call) and isinstance(container.func, ast.Name)
              and container.func.id == 'vars' and len(container.args) == 1):
            owner = container.args[0]
        elif isinstance(container, ast.Name) and container.id == '__builtins__':
            owner = container
        if isinstance(owner, (ast.Name, ast.Attribute)):
            target = self.qualified_name(owner)
            if target is not None:
                self.report_reference(member_name(target, key), node, called=False)

    def check_dunder_string(self, node):
        folded = fold_string(node)
        if folded is not None and folded in ESCAPE_DUNDERS:
            self.report('py.dunder.' + folded, 'string naming %s (reflective access)' % folded, node)

    # -- hidden payloads ---------------------------------------------------------------------

    def check_decoded_payload(self, call):
        if self.tainted_names is None:
            self.tainted_names = self.find_decoded_names()
        for argument in list(call.args) + [keyword.value for keyword in call.keywords]:
            if self.contains_decoded_data(argument, self.tainted_names):
                callee = self.qualified_name(call.func)
                self.report(DECODED_EXEC, '%s() runs text decoded at runtime (base64, hex, '
                                          'compression, codecs or character codes)' % callee, call)
                return

    def contains_decoded_data(self, expression, tainted_names):
        for node in walk(expression):
            if isinstance(node, ast.Call) and self.is_decoder_call(node):
                return True
            if isinstance(node, ast.Subscript) and is_reversing_slice(node.slice):
                return True
            if isinstance(node, ast.Name) and node.id in tainted_names:
                return True
        return False

    def is_decoder_call(self, call):
        func = call.func
        if isinstance(func, ast.Attribute):
            name = func.attr
        elif isinstance(func, ast.Name):
            name = self.resolve_name(func.id).rsplit('.', 1)[-1]
        else:
            return False
        if name in DECODER_NAMES:
            return True
        qualified = self.qualified_name(func)
        return qualified in DECODER_QUALIFIED_NAMES

    def find_decoded_names(self):
        """Variables assigned (anywhere, flow-insensitively) from decoded data."""
        assignments = []
        for node in self.nodes:
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [target.id for target in targets if isinstance(target, ast.Name)]
                if names:
                    assignments.append((names, node.value))
        tainted = set()
        for _ in range(MAX_TAINT_ROUNDS):
            grown = False
            for names, value in assignments:
                if not set(names) <= tainted and self.contains_decoded_data(value, tainted):
                    tainted.update(names)
                    grown = True
            if not grown:
                break
        return tainted


# ---------------------------------------------------------------------------------------------
# Source-text checks: what the AST cannot show because the parser already normalised it.
# ---------------------------------------------------------------------------------------------

COOKIE_PATTERN = r'^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)'
ALLOWED_SOURCE_ENCODINGS = {'utf-8', 'utf-8-sig', 'ascii'}


def decode_source(source):
    """(encoding, text) as Python decodes the file (PEP 263 cookie, BOM)."""
    first_lines = source.split(b'\n', 2)[:2]
    if source.isascii() and not any(b'coding' in line for line in first_lines):
        return 'utf-8', source.decode('ascii')
    import tokenize
    encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    return encoding, source.decode(encoding)


def check_encoding_cookie(encoding, source, analysis):
    if codecs.lookup(encoding).name in ALLOWED_SOURCE_ENCODINGS:
        return
    import re
    for line_number, line in enumerate(source.splitlines()[:2], start=1):
        match = re.match(COOKIE_PATTERN, line.decode('latin-1'))
        if match:
            analysis.report(ENCODING_COOKIE, 'source encoding %r: the code Python runs is not the text '
                                             'a reviewer sees' % match.group(1)[:40],
                            line=line_number, column=match.start(1) + 1)
            return


def check_folded_identifiers(text, analysis):
    """Python NFKC-normalises identifiers, so `ｅｖａｌ` *is* eval; flag the disguise itself."""
    if text.isascii():
        return
    import tokenize
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type != tokenize.NAME or token.string.isascii():
            continue
        folded = unicodedata.normalize('NFKC', token.string)
        if folded.isascii():
            line, column = token.start
            analysis.report(FOLDED_IDENTIFIER, 'identifier %r is %r in disguise' % (token.string[:40], folded[:40]),
                            line=line, column=column + 1)


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def syntax_error_report(message, line, column):
    return {'message': str(message)[:MAX_MESSAGE_CHARS], 'line': max(1, int(line or 1)),
            'column': max(1, int(column or 1))}


def nul_byte_error(source):
    first_nul = source.index(b'\0')
    line = source.count(b'\n', 0, first_nul) + 1
    column = first_nul - (source.rfind(b'\n', 0, first_nul) + 1) + 1
    return syntax_error_report('source code cannot contain null bytes', line, column)


def unparseable(reason):
    return {'findings': [{'ruleId': UNPARSEABLE, 'severity': RULES[UNPARSEABLE]['severity'],
                          'message': 'the scanner could not analyse this code: ' + reason,
                          'line': 1, 'column': 1}],
            'syntaxError': None}


def limit_findings(findings, maximum):
    """Deduplicate, keep the most severe `maximum`, and say how many were dropped."""
    unique = {}
    for finding in findings:
        unique.setdefault((finding['ruleId'], finding['line'], finding['column']), finding)
    kept = sorted(unique.values(), key=lambda f: (-SEVERITY_RANK[f['severity']], f['line'], f['column']))
    dropped = len(kept) - maximum
    if dropped > 0:
        kept = kept[:maximum]
        kept.append({'ruleId': TRUNCATED, 'severity': RULES[TRUNCATED]['severity'],
                     'message': '%d more findings were left out (the most severe are kept)' % dropped,
                     'line': 1, 'column': 1})
    return sorted(kept, key=lambda f: (f['line'], f['column'], f['ruleId']))


def scan(source, max_findings):
    try:
        # What ast.parse does; this only ever builds a tree, it never compiles or runs code.
        tree = compile(source, '<submission>', 'exec', ast.PyCF_ONLY_AST)
    except SyntaxError as error:
        return {'findings': [], 'syntaxError': syntax_error_report(error.msg, error.lineno, error.offset)}
    except ValueError:
        if b'\0' in source:  # Python 3.11 raises ValueError, 3.12 SyntaxError, for NUL bytes
            return {'findings': [], 'syntaxError': nul_byte_error(source)}
        raise
    encoding, text = decode_source(source)
    analysis = Analysis(tree, SourcePositions(text))
    analysis.run()
    check_encoding_cookie(encoding, source, analysis)
    check_folded_identifiers(text, analysis)
    return {'findings': limit_findings(analysis.findings, max_findings), 'syntaxError': None}


def scan_guarded(source, max_findings):
    """Anything the input provokes becomes a `scan.unparseable` finding, never a crash."""
    try:
        return scan(source, max_findings)
    except RecursionError:
        return unparseable('it is nested too deeply for the Python parser')
    except MemoryError:
        return unparseable('parsing it needs more memory than the scanner allows '
                           '(often: nesting too deep for the parser)')
    except Exception as error:  # a scanner bug this input triggers must still block, not retry
        return unparseable('internal scanner error %s: %s' % (type(error).__name__, str(error)[:200]))


def to_json(value):
    """JSON for the report's shapes (dict, list, str, int, None), ASCII-only."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return '{' + ', '.join(encode_basestring_ascii(key) + ': ' + to_json(item) for key, item in value.items()) + '}'
    if isinstance(value, list):
        return '[' + ', '.join(to_json(item) for item in value) + ']'
    raise TypeError('cannot encode %s as JSON' % type(value).__name__)


def main():
    if OPTIONS['list_rules']:
        sys.stdout.write(to_json(sorted(RULES.values(), key=lambda r: r['ruleId'])) + '\n')
        return
    source = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    if len(source) > MAX_INPUT_BYTES:
        raise SystemExit('scan.py: input larger than %d bytes' % MAX_INPUT_BYTES)
    report = scan_guarded(source, OPTIONS['max_findings'])
    sys.stdout.write(to_json(report) + '\n')
    sys.stdout.flush()


MAX_STDOUT_BYTES = 1024 * 1024
MAX_STDERR_BYTES = 16 * 1024


def serve():
    """Fork server: one scan per request, each in a fresh child, one at a time.

    Request on stdin:  b'<length>\\n' + <length> bytes of source.
    Answers on stdout: b'started <pid>\\n' as soon as the child exists (the caller kills that pid
    at its deadline), then b'done <status> <overflow> <stdout length> <stderr length>\\n' + the
    child's stdout + its stderr. <status> is the exit status, or minus the signal that killed it;
    <overflow> is 1 when stdout passed MAX_STDOUT_BYTES and the child was killed for it.
    The server exits when stdin closes (its parent went away).
    """
    import selectors
    import signal
    import tokenize  # noqa: F401  (warm: imported by inputs with a coding cookie)
    import re  # noqa: F401  (warm)

    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = requests.readline()
        if not header:
            os._exit(0)
        length = int(header)
        if length > MAX_INPUT_BYTES:
            raise SystemExit('scan.py: input larger than %d bytes' % MAX_INPUT_BYTES)
        source = requests.read(length)
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            scan_in_child(source, out_write, err_write)
        os.close(out_write)
        os.close(err_write)
        answers.write(b'started %d\n' % pid)
        answers.flush()
        out, err, overflow = collect(selectors, out_read, err_read)
        if overflow:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        answers.write(b'done %d %d %d %d\n' % (os.waitstatus_to_exitcode(status), overflow, len(out), len(err)) + out + err)
        answers.flush()


def scan_in_child(source, out_write, err_write):
    """In the forked child: no way back to the server's pipes, the limits, then the one scan."""
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_write, 1)
        os.dup2(err_write, 2)
        for fd in (null, out_write, err_write):
            os.close(fd)
        os.closerange(3, 256)
        apply_resource_limits(OPTIONS['cpu_seconds'], OPTIONS['memory_mb'])
        data = (to_json(scan_guarded(source, OPTIONS['max_findings'])) + '\n').encode('ascii')
        while data:
            data = data[os.write(1, data):]
        os._exit(0)
    except BaseException as error:  # noqa: B902  (a child must never return into the server's loop)
        try:
            os.write(2, ('scan child failed: %s: %s\n' % (type(error).__name__, error)).encode('utf-8', 'replace'))
        finally:
            os._exit(70)


def collect(selectors, out_read, err_read):
    """Reads both pipes to EOF (both, so a child filling one cannot block on the other), capped."""
    chunks = {out_read: [], err_read: []}
    sizes = {out_read: 0, err_read: 0}
    caps = {out_read: MAX_STDOUT_BYTES, err_read: MAX_STDERR_BYTES}
    overflow = 0
    selector = selectors.DefaultSelector()
    for fd in chunks:
        selector.register(fd, selectors.EVENT_READ)
    open_fds = 2
    while open_fds:
        for key, _ in selector.select():
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fd)
                os.close(key.fd)
                open_fds -= 1
                continue
            room = caps[key.fd] - sizes[key.fd]
            if len(chunk) > room and key.fd == out_read:
                overflow = 1
            chunks[key.fd].append(chunk[:max(0, room)])
            sizes[key.fd] += min(len(chunk), max(0, room))
        if overflow:
            break
    selector.close()
    for fd in list(chunks):
        if overflow:
            try:
                os.close(fd)
            except OSError:
                pass
    return b''.join(chunks[out_read]), b''.join(chunks[err_read]), overflow


if __name__ == '__main__':
    if OPTIONS['serve']:
        serve()
    main()
    # Skip interpreter teardown: freeing a huge or deeply nested tree is slow and pointless.
    os._exit(0)
