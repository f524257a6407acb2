/**
 * The scanner's rules for C, C++, Go, Java and Bash, as data: each rule is a tree-sitter query
 * (https://tree-sitter.github.io/tree-sitter/using-parsers/queries) whose first capture marks
 * where the finding points. Rule ids follow `<language>.<category>.<subject>` like the Python
 * (`py.`) and JavaScript (`js.`) rules, and severities follow theirs: starting programs, raw
 * sockets and native code are critical; network clients, signals, the environment and ways to
 * hide what is called are high; file-system changes are warnings.
 *
 * A query sees the code as written, not as the preprocessor, a build tag or an alias makes it:
 * the scanner is advice on top of the sandbox, which stays the boundary.
 */
import type { Severity } from '../../domain/evaluation';
import type { GrammarName } from './grammars';
import type { RuleDescriptor } from '../types';

export interface QueryRule {
  ruleId: string;
  severity: Severity;
  description: string;
  query: string;
}

/** A #any-of? list of names: "a" "b" "c". */
const anyOf = (names: readonly string[]) => names.map((name) => JSON.stringify(name)).join(' ');
/** An alternation for #match?: a|b|c. */
const oneOf = (names: readonly string[]) => names.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|');

const C_FUNCTIONS: ReadonlyArray<[string, Severity, string, readonly string[]]> = [
  [
    'process.spawn',
    'critical',
    'starts other programs',
    [
      'system',
      'popen',
      'execl',
      'execlp',
      'execle',
      'execv',
      'execvp',
      'execvpe',
      'execve',
      'execveat',
      'fexecve',
      'posix_spawn',
      'posix_spawnp',
    ],
  ],
  ['process.fork', 'critical', 'creates processes', ['fork', 'vfork', 'clone', 'clone3']],
  ['native.syscall', 'critical', 'makes raw system calls', ['syscall']],
  ['native.dlopen', 'critical', 'loads native libraries at run time', ['dlopen', 'dlmopen', 'dlsym']],
  ['process.ptrace', 'critical', 'traces or controls other processes', ['ptrace', 'process_vm_readv', 'process_vm_writev']],
  [
    'network.socket',
    'critical',
    'opens network sockets',
    ['socket', 'socketpair', 'connect', 'bind', 'listen', 'accept', 'accept4', 'sendto', 'recvfrom', 'getaddrinfo', 'gethostbyname'],
  ],
  ['process.signal', 'high', 'sends signals to processes', ['kill', 'killpg', 'tgkill']],
  ['env.access', 'high', 'reads or changes environment variables', ['getenv', 'secure_getenv', 'setenv', 'putenv', 'unsetenv', 'clearenv']],
  [
    'file.modify',
    'warning',
    'changes the file system',
    [
      'unlink',
      'unlinkat',
      'remove',
      'rename',
      'renameat',
      'chmod',
      'fchmod',
      'chown',
      'mkdir',
      'rmdir',
      'symlink',
      'link',
      'truncate',
      'mknod',
      'mount',
    ],
  ],
];

const C_NETWORK_HEADERS = ['sys/socket.h', 'netinet/in.h', 'netinet/tcp.h', 'arpa/inet.h', 'netdb.h', 'sys/un.h', 'linux/netlink.h'];

function cFamilyRules(prefix: 'c' | 'cpp'): QueryRule[] {
  const rules: QueryRule[] = C_FUNCTIONS.map(([subject, severity, description, names]) => ({
    ruleId: `${prefix}.${subject}`,
    severity,
    description,
    // Any use of the name, not only a call: taking its address or passing it on calls it too.
    query: `((identifier) @name (#any-of? @name ${anyOf(names)}))`,
  }));
  const everyFunction = C_FUNCTIONS.filter(([, severity]) => severity === 'critical').flatMap(([, , , names]) => names);
  rules.push(
    {
      ruleId: `${prefix}.preprocessor.hidden_call`,
      severity: 'critical',
      description: 'names a process, network or native-code function inside a macro',
      query: `((preproc_arg) @macro (#match? @macro "(^|[^A-Za-z0-9_])(${oneOf(everyFunction)})([^A-Za-z0-9_]|$)"))`,
    },
    {
      ruleId: `${prefix}.preprocessor.token_paste`,
      severity: 'high',
      description: "builds identifiers with the preprocessor's ## (hides what the code calls)",
      query: '((preproc_arg) @macro (#match? @macro "##"))',
    },
    {
      ruleId: `${prefix}.include.network`,
      severity: 'high',
      description: 'includes a network header',
      query: `(preproc_include path: (_) @path (#match? @path "^[<\\"](${oneOf(C_NETWORK_HEADERS)})[>\\"]$"))`,
    },
    {
      ruleId: `${prefix}.native.inline_assembly`,
      severity: 'critical',
      description: 'contains inline assembly (raw system calls and memory access)',
      query: '(gnu_asm_expression) @asm',
    },
  );
  if (prefix === 'cpp') {
    rules.push({
      ruleId: 'cpp.include.filesystem',
      severity: 'warning',
      description: 'includes <filesystem> (changes the file system)',
      query: '(preproc_include path: (system_lib_string) @path (#eq? @path "<filesystem>"))',
    });
  }
  return rules;
}

const GO_IMPORTS: ReadonlyArray<[string, Severity, string, readonly string[]]> = [
  ['process', 'critical', 'starts other programs', ['os/exec']],
  ['native', 'critical', 'makes raw system calls or calls native code', ['syscall', 'golang.org/x/sys/unix', 'C', 'plugin']],
  ['network.socket', 'critical', 'opens network sockets', ['net']],
  ['network', 'high', 'network access', ['net/http', 'net/rpc', 'net/smtp', 'net/textproto', 'crypto/tls']],
  ['unsafe', 'high', 'reads or writes raw memory', ['unsafe']],
  ['signal', 'warning', 'handles or sends signals', ['os/signal']],
];

function goRules(): QueryRule[] {
  const rules: QueryRule[] = GO_IMPORTS.map(([subject, severity, description, paths]) => ({
    ruleId: `go.import.${subject}`,
    severity,
    description: `imports ${paths.join(' or ')}: ${description}`,
    query: `(import_spec path: (_) @path (#match? @path "^[\\"\`](${oneOf(paths)})[\\"\`]$"))`,
  }));
  const osCall = (subject: string, severity: Severity, description: string, names: readonly string[]): QueryRule => ({
    ruleId: `go.call.os.${subject}`,
    severity,
    description,
    query: `(selector_expression operand: (identifier) @package field: (field_identifier) @name (#eq? @package "os") (#any-of? @name ${anyOf(names)}))`,
  });
  rules.push(
    osCall('process', 'critical', 'starts other programs', ['StartProcess']),
    osCall('env', 'high', 'reads or changes environment variables', ['Getenv', 'LookupEnv', 'Setenv', 'Unsetenv', 'Environ', 'Clearenv']),
    osCall('file_modify', 'warning', 'changes the file system', [
      'Remove',
      'RemoveAll',
      'Rename',
      'Chmod',
      'Chown',
      'Mkdir',
      'MkdirAll',
      'Symlink',
      'Link',
      'Truncate',
      'Create',
      'OpenFile',
      'WriteFile',
    ]),
    {
      ruleId: 'go.directive.linkname',
      severity: 'critical',
      description: 'reaches runtime internals with //go:linkname',
      query: '((comment) @directive (#match? @directive "^//go:linkname"))',
    },
  );
  return rules;
}

function javaRules(): QueryRule[] {
  const call = (ruleId: string, severity: Severity, description: string, names: readonly string[]): QueryRule => ({
    ruleId,
    severity,
    description,
    query: `(method_invocation name: (identifier) @name (#any-of? @name ${anyOf(names)}))`,
  });
  const creates = (ruleId: string, severity: Severity, description: string, types: readonly string[]): QueryRule => ({
    ruleId,
    severity,
    description,
    query: `(object_creation_expression type: (_) @type (#match? @type "(^|\\\\.)(${oneOf(types)})$"))`,
  });
  const imports = (ruleId: string, severity: Severity, description: string, pattern: string): QueryRule => ({
    ruleId,
    severity,
    description,
    query: `(import_declaration (scoped_identifier) @import (#match? @import "${pattern}"))`,
  });
  return [
    creates('java.process.builder', 'critical', 'starts other programs', ['ProcessBuilder']),
    call('java.process.runtime', 'critical', 'reaches the Runtime (starts programs, loads native code)', ['getRuntime']),
    call('java.native.load', 'critical', 'loads native libraries', ['loadLibrary', 'load']),
    creates('java.network.socket', 'critical', 'opens network sockets', ['Socket', 'ServerSocket', 'DatagramSocket', 'MulticastSocket']),
    imports('java.import.network', 'high', 'imports java.net or java.net.http: network access', '^java\\\\.net(\\\\.|$)'),
    imports('java.import.unsafe', 'critical', 'imports JDK internals (raw memory access)', '^(sun\\\\.misc|jdk\\\\.internal)(\\\\.|$)'),
    imports(
      'java.import.reflection',
      'high',
      'imports java.lang.reflect or java.lang.invoke (calls code by computed name)',
      '^java\\\\.lang\\\\.(reflect|invoke)(\\\\.|$)',
    ),
    call('java.reflect.call', 'high', 'calls or opens code by computed name (reflection)', [
      'forName',
      'getDeclaredMethod',
      'getDeclaredField',
      'getDeclaredConstructor',
      'setAccessible',
      'getMethod',
      'invoke',
    ]),
    call('java.env.access', 'high', 'reads environment variables', ['getenv']),
    call('java.process.handle', 'high', 'inspects or signals other processes', ['allProcesses', 'destroyForcibly']),
    call('java.file.modify', 'warning', 'changes the file system', [
      'delete',
      'deleteIfExists',
      'createFile',
      'createDirectories',
      'createSymbolicLink',
      'setExecutable',
      'setWritable',
      'renameTo',
    ]),
  ];
}

const BASH_COMMANDS: ReadonlyArray<[string, Severity, string, readonly string[]]> = [
  ['eval', 'critical', 'runs code built at run time', ['eval']],
  [
    'network',
    'high',
    'network access',
    ['curl', 'wget', 'nc', 'ncat', 'netcat', 'socat', 'ssh', 'scp', 'sftp', 'telnet', 'ftp', 'rsync', 'nslookup', 'dig', 'host', 'ping'],
  ],
  [
    'interpreter',
    'high',
    "starts another language's interpreter or compiler",
    ['python', 'python3', 'perl', 'ruby', 'node', 'php', 'lua', 'gcc', 'cc', 'tclsh'],
  ],
  ['signal', 'high', 'sends signals to processes', ['kill', 'pkill', 'killall']],
  ['detach', 'high', 'keeps processes running after the program ends', ['nohup', 'disown', 'setsid']],
  ['file_modify', 'warning', 'changes the file system', ['rm', 'chmod', 'chown', 'mv', 'dd', 'ln', 'mkfs', 'mount', 'truncate']],
];

function bashRules(): QueryRule[] {
  const rules: QueryRule[] = BASH_COMMANDS.map(([subject, severity, description, names]) => ({
    ruleId: `bash.command.${subject}`,
    severity,
    description,
    query: `(command name: (command_name (word) @name (#any-of? @name ${anyOf(names)})))`,
  }));
  rules.push(
    {
      ruleId: 'bash.network.dev_tcp',
      severity: 'critical',
      description: "opens network connections through bash's /dev/tcp or /dev/udp",
      query: '((word) @path (#match? @path "^/dev/(tcp|udp)/"))',
    },
    {
      ruleId: 'bash.command.computed',
      severity: 'high',
      description: 'runs a command whose name is computed at run time',
      query: '(command name: (command_name [(simple_expansion) (expansion) (command_substitution)] @name))',
    },
    {
      ruleId: 'bash.process.fork_bomb',
      severity: 'critical',
      description: 'a function that pipes or backgrounds itself (a fork bomb)',
      query:
        '(function_definition name: (word) @function body: (compound_statement (pipeline (command name: (command_name (word) @call)))) (#eq? @function @call))',
    },
  );
  return rules;
}

export const RULES_BY_GRAMMAR: Readonly<Record<GrammarName, readonly QueryRule[]>> = {
  c: cFamilyRules('c'),
  cpp: cFamilyRules('cpp'),
  go: goRules(),
  java: javaRules(),
  bash: bashRules(),
};

/** The finding a tree with syntax errors gets: what does not parse was not scanned. */
export function partialParseRule(grammar: GrammarName): QueryRule {
  return {
    ruleId: `${grammar}.parse.partial`,
    severity: 'high',
    description: 'part of the code does not parse, so the scanner cannot say what it does',
    query: '',
  };
}

/** Every rule this scanner can report, for the rule catalogue (policy files name rules by id). */
export const TREE_SITTER_RULES: readonly RuleDescriptor[] = (Object.keys(RULES_BY_GRAMMAR) as GrammarName[]).flatMap((grammar) =>
  [...RULES_BY_GRAMMAR[grammar], partialParseRule(grammar)].map(({ ruleId, severity, description }) => ({ ruleId, severity, description })),
);
