#!/usr/bin/python3
"""Generates the sandbox's seccomp filters with libseccomp, one BPF program per architecture.

Input: src/sandbox/host/seccomp/policy.json (syscall names, grouped with the reason for denying
them). Output, next to it: <arch>.bpf (the raw classic-BPF program bwrap's --seccomp takes) and
manifest.json (the libseccomp version, each file's sha256, and the number every denied name
resolved to on each architecture, which the tests use).

Run with Debian's python3 and its python3-seccomp module (no npm needed):

    /usr/bin/python3 scripts/seccomp/generate.py            # rewrites the committed files
    /usr/bin/python3 scripts/seccomp/generate.py --out DIR  # writes them elsewhere (the staleness test)

Each filter serves exactly one architecture: libseccomp compares seccomp_data.arch first and
applies the "bad architecture" action (kill the process) to any other ABI (i386's int 0x80 on
x86_64, arm32 on aarch64), and on x86_64 it also kills x32 calls (numbers with bit 30 set), whose
numbers would otherwise bypass the checks.
"""
import argparse
import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import sys

import seccomp

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FILTER_DIR = os.path.join(ROOT, 'src', 'sandbox', 'host', 'seccomp')
ARCHES = {'x86_64': seccomp.Arch.X86_64, 'aarch64': seccomp.Arch.AARCH64}
ACTIONS = {'EPERM': seccomp.ERRNO(errno.EPERM), 'KILL_PROCESS': seccomp.KILL_PROCESS}


def libseccomp_version():
    """The C library's version (the BPF it emits may differ between versions)."""

    class Version(ctypes.Structure):
        _fields_ = [('major', ctypes.c_uint), ('minor', ctypes.c_uint), ('micro', ctypes.c_uint)]

    library = ctypes.CDLL(ctypes.util.find_library('seccomp') or 'libseccomp.so.2')
    library.seccomp_version.restype = ctypes.POINTER(Version)
    version = library.seccomp_version().contents
    return '%d.%d.%d' % (version.major, version.minor, version.micro)


def denied_names(policy, arch_name):
    names = []
    for group in policy['denied']:
        if arch_name in group.get('architectures', policy['architectures']):
            names.extend(group['syscalls'])
    if len(set(names)) != len(names):
        raise SystemExit('generate.py: a syscall is listed twice in policy.json')
    return names


def build(policy, arch_name):
    """Returns (bpf bytes, {name: number}) for one architecture."""
    arch = ARCHES[arch_name]
    denied = {}
    for name in denied_names(policy, arch_name):
        number = seccomp.resolve_syscall(arch, name)
        if number < 0:  # libseccomp's pseudo numbers: the call does not exist on this architecture
            raise SystemExit('generate.py: %s does not exist on %s (list it under "architectures")' % (name, arch_name))
        denied[name] = number
    syscall_filter = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    syscall_filter.remove_arch(seccomp.Arch.NATIVE)
    syscall_filter.add_arch(arch)
    syscall_filter.set_attr(seccomp.Attr.ACT_BADARCH, int(ACTIONS[policy['foreignAbiAction']]))
    for name in denied:
        syscall_filter.add_rule(ACTIONS[policy['deniedAction']], name)
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, 'wb') as sink:
        syscall_filter.export_bpf(sink)
    with os.fdopen(read_end, 'rb') as source:
        program = source.read()
    return program, denied


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=FILTER_DIR, help='directory for the .bpf files and manifest.json')
    args = parser.parse_args()
    with open(os.path.join(FILTER_DIR, 'policy.json')) as source:
        policy = json.load(source)
    os.makedirs(args.out, exist_ok=True)
    manifest = {
        'generatedBy': 'scripts/seccomp/generate.py from policy.json; do not edit',
        'libseccomp': libseccomp_version(),
        'architectures': {},
    }
    for arch_name in policy['architectures']:
        program, denied = build(policy, arch_name)
        file_name = arch_name + '.bpf'
        with open(os.path.join(args.out, file_name), 'wb') as sink:
            sink.write(program)
        manifest['architectures'][arch_name] = {
            'file': file_name,
            'sha256': hashlib.sha256(program).hexdigest(),
            'instructions': len(program) // 8,
            'denied': denied,
        }
    with open(os.path.join(args.out, 'manifest.json'), 'w') as sink:
        sink.write(json.dumps(manifest, indent=2) + '\n')


if __name__ == '__main__':
    sys.exit(main())
