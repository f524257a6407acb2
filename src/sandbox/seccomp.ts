/**
 * A seccomp filter for sandboxed programs (bwrap's --seccomp fd takes the raw BPF program).
 *
 * Namespaces and dropped capabilities already make most of these calls fail; the filter is there
 * to shrink the kernel's attack surface, which is what a sandbox escape would go through: io_uring,
 * bpf, userfaultfd, perf events and keyrings have a history of privilege-escalation bugs, and
 * ptrace/process_vm_* would let the program tamper with its supervising init. A denied call fails
 * with EPERM, which programs handle like any missing permission; a syscall from a foreign ABI
 * (32-bit int 0x80, x32) kills the process, as those paths bypass the number checks below.
 *
 * Numbers come from the kernel's uapi headers (asm/unistd_64.h for x86_64, asm-generic/unistd.h
 * for aarch64). On other architectures no filter is installed (see seccompFilterForThisMachine).
 */

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const X32_SYSCALL_BIT = 0x40000000;

const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const EPERM = 1;

// Classic BPF opcodes.
const LOAD_WORD_ABSOLUTE = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JUMP_IF_EQUAL = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JUMP_IF_GREATER_OR_EQUAL = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const RETURN = 0x06; // BPF_RET | BPF_K
// Offsets in struct seccomp_data.
const SYSCALL_NUMBER_OFFSET = 0;
const ARCH_OFFSET = 4;

type DeniedSyscall =
  | 'ptrace'
  | 'process_vm_readv'
  | 'process_vm_writev'
  | 'keyctl'
  | 'add_key'
  | 'request_key'
  | 'bpf'
  | 'perf_event_open'
  | 'userfaultfd'
  | 'io_uring_setup'
  | 'io_uring_enter'
  | 'io_uring_register'
  | 'mount'
  | 'umount2'
  | 'pivot_root'
  | 'open_tree'
  | 'move_mount'
  | 'fsopen'
  | 'fsconfig'
  | 'fsmount'
  | 'fspick'
  | 'mount_setattr'
  | 'unshare'
  | 'setns'
  | 'swapon'
  | 'swapoff'
  | 'reboot'
  | 'sethostname'
  | 'setdomainname'
  | 'init_module'
  | 'finit_module'
  | 'delete_module'
  | 'kexec_load'
  | 'kexec_file_load'
  | 'acct'
  | 'quotactl'
  | 'quotactl_fd'
  | 'open_by_handle_at'
  | 'name_to_handle_at'
  | 'syslog'
  | 'lookup_dcookie';

const COMMON_NUMBERS: Record<'x64' | 'arm64', Record<DeniedSyscall, number>> = {
  x64: {
    ptrace: 101,
    process_vm_readv: 310,
    process_vm_writev: 311,
    keyctl: 250,
    add_key: 248,
    request_key: 249,
    bpf: 321,
    perf_event_open: 298,
    userfaultfd: 323,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    mount: 165,
    umount2: 166,
    pivot_root: 155,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    mount_setattr: 442,
    unshare: 272,
    setns: 308,
    swapon: 167,
    swapoff: 168,
    reboot: 169,
    sethostname: 170,
    setdomainname: 171,
    init_module: 175,
    finit_module: 313,
    delete_module: 176,
    kexec_load: 246,
    kexec_file_load: 320,
    acct: 163,
    quotactl: 179,
    quotactl_fd: 443,
    open_by_handle_at: 304,
    name_to_handle_at: 303,
    syslog: 103,
    lookup_dcookie: 212,
  },
  arm64: {
    ptrace: 117,
    process_vm_readv: 270,
    process_vm_writev: 271,
    keyctl: 219,
    add_key: 217,
    request_key: 218,
    bpf: 280,
    perf_event_open: 241,
    userfaultfd: 282,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    mount: 40,
    umount2: 39,
    pivot_root: 41,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    mount_setattr: 442,
    unshare: 97,
    setns: 268,
    swapon: 224,
    swapoff: 225,
    reboot: 142,
    sethostname: 161,
    setdomainname: 162,
    init_module: 105,
    finit_module: 273,
    delete_module: 106,
    kexec_load: 104,
    kexec_file_load: 294,
    acct: 89,
    quotactl: 60,
    quotactl_fd: 443,
    open_by_handle_at: 265,
    name_to_handle_at: 264,
    syslog: 116,
    lookup_dcookie: 18,
  },
};

/** x86-only calls that reach legacy hardware and segment interfaces: iopl, ioperm, modify_ldt, uselib. */
const X64_ONLY_NUMBERS = [172, 173, 154, 134];

export interface SeccompTarget {
  arch: 'x64' | 'arm64';
}

/** The filter as bytes (an array of struct sock_filter), or null on an unsupported architecture. */
export function seccompFilterForThisMachine(): Buffer | null {
  const arch = process.arch;
  if (arch !== 'x64' && arch !== 'arm64') return null;
  return buildSeccompFilter({ arch });
}

export function buildSeccompFilter({ arch }: SeccompTarget): Buffer {
  const denied = [...Object.values(COMMON_NUMBERS[arch]), ...(arch === 'x64' ? X64_ONLY_NUMBERS : [])];
  const program: Instruction[] = [
    [LOAD_WORD_ABSOLUTE, 0, 0, ARCH_OFFSET],
    [JUMP_IF_EQUAL, 1, 0, arch === 'x64' ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_AARCH64],
    [RETURN, 0, 0, SECCOMP_RET_KILL_PROCESS],
    [LOAD_WORD_ABSOLUTE, 0, 0, SYSCALL_NUMBER_OFFSET],
  ];
  if (arch === 'x64') {
    program.push([JUMP_IF_GREATER_OR_EQUAL, 0, 1, X32_SYSCALL_BIT], [RETURN, 0, 0, SECCOMP_RET_KILL_PROCESS]);
  }
  // Each comparison jumps over the remaining comparisons and the ALLOW to the final EPERM.
  denied.forEach((number, index) => program.push([JUMP_IF_EQUAL, denied.length - index, 0, number]));
  program.push([RETURN, 0, 0, SECCOMP_RET_ALLOW], [RETURN, 0, 0, SECCOMP_RET_ERRNO | EPERM]);
  return encode(program);
}

/** [code, jump if true, jump if false, constant] */
type Instruction = [number, number, number, number];

function encode(program: Instruction[]): Buffer {
  const bytes = Buffer.alloc(program.length * 8);
  program.forEach(([code, jumpTrue, jumpFalse, constant], index) => {
    if (jumpTrue > 255 || jumpFalse > 255) throw new Error('seccomp filter too long for 8-bit jumps');
    // struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } in the machine's (little-endian) order.
    bytes.writeUInt16LE(code, index * 8);
    bytes.writeUInt8(jumpTrue, index * 8 + 2);
    bytes.writeUInt8(jumpFalse, index * 8 + 3);
    bytes.writeUInt32LE(constant >>> 0, index * 8 + 4);
  });
  return bytes;
}
