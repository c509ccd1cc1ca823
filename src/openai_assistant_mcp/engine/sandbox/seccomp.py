"""A seccomp filter for the sandbox: no new user namespaces, no kernel keyrings, no io_uring,
no netlink sockets (and no x32 syscalls).

Under a root server the sandbox has no user namespace of its own (so the kernel's process limit
applies to the session's uid), which leaves the code free to create one with `unshare -U`; that
holds nothing of the host but widens the kernel's attack surface. Keyrings (`add_key`, `keyctl`,
`request_key`) are kernel state kept per uid beyond the session's processes: a key one session
stored was readable by the next session given that uid, even after a server restart. io_uring
is a large kernel surface Docker's default profile also refuses (answered ENOSYS, so libraries
fall back to ordinary syscalls). Netlink sockets (`socket(AF_NETLINK, ...)`: EAFNOSUPPORT) show
only the session's own network namespace (its loopback), and nothing the code may run needs
them (glibc's getaddrinfo falls back without them; `if_nameindex`/`getifaddrs` fail), so they
are one kernel surface fewer. Hand-written classic BPF (the one alternative, libseccomp, is
a system library the server's Python may not have).
"""

from __future__ import annotations

import errno
import platform
import struct

# Architecture: (AUDIT_ARCH value, syscall numbers of unshare, clone, clone3, socket).
ARCHES = {
    "x86_64": (0xC000003E, 272, 56, 435, 41),
    "aarch64": (0xC00000B7, 97, 220, 435, 198),
}
AF_NETLINK = 16
# Refused outright, per architecture: syscall number -> errno.
KEYRING = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}  # add_key, request_key, keyctl
IO_URING = (425, 426, 427)  # io_uring_setup, io_uring_enter, io_uring_register (both arches)
CLONE_NEWUSER = 0x10000000
X32_SYSCALL_BIT = 0x40000000

LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
RET = 0x06  # BPF_RET | BPF_K
ALLOW = 0x7FFF0000
ERRNO = 0x00050000
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low half, little-endian)


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def sandbox_filter(machine: str | None = None) -> bytes | None:
    """The compiled filter for this machine, or None where the architecture is not known."""
    arch = ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit_arch, unshare, clone, clone3, socket = arch
    refused = {nr: errno.EPERM for nr in KEYRING[machine or platform.machine()]}
    refused.update({nr: errno.ENOSYS for nr in IO_URING})
    denials = []
    for nr, code in refused.items():
        denials += [_op(JEQ, nr, 0, 1), _op(RET, ERRNO | code)]
    program = [
        _op(LD_ABS, ARCH),
        _op(JEQ, audit_arch, 1, 0),
        _op(RET, ERRNO | errno.EPERM),  # another ABI (e.g. i386 on x86_64): refused
        _op(LD_ABS, NR),
        _op(JGE, X32_SYSCALL_BIT, 0, 1),
        _op(RET, ERRNO | errno.EPERM),
        *denials,
        _op(JEQ, socket, 0, 4),
        _op(LD_ABS, ARG0),  # the address family
        _op(JEQ, AF_NETLINK, 0, 1),
        _op(RET, ERRNO | errno.EAFNOSUPPORT),
        _op(RET, ALLOW),
        _op(JEQ, clone3, 0, 1),
        _op(RET, ERRNO | errno.ENOSYS),  # flags are in memory BPF cannot read: libc uses clone
        _op(JEQ, unshare, 1, 0),
        _op(JEQ, clone, 0, 3),
        _op(LD_ABS, ARG0),
        _op(JSET, CLONE_NEWUSER, 0, 1),
        _op(RET, ERRNO | errno.EPERM),
        _op(RET, ALLOW),
    ]
    return b"".join(program)
