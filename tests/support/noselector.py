"""Run ``python -m MODULE ARGS...`` where the kernel refuses a reuseport selector: a seccomp filter
(inherited by every child) answers ``setsockopt(..., SO_ATTACH_REUSEPORT_CBPF, ...)`` with
ENOPROTOOPT, as a kernel before 4.5 or a sandbox's filter would. Usage:
``python tests/support/noselector.py -m zeroserve up ...`` (as root: CAP_SYS_ADMIN installs it)."""

from __future__ import annotations

import ctypes
import errno
import platform
import runpy
import sys

from zeroserve.net.reuseport import SO_ATTACH_REUSEPORT_CBPF, sock_fprog

# (AUDIT_ARCH_*, __NR_setsockopt) by machine
ARCHES = {"x86_64": (0xC000003E, 54), "aarch64": (0xC00000B7, 208)}
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000


def install() -> None:
    arch, setsockopt = ARCHES[platform.machine()]
    program = [  # seccomp_data: nr at 0, arch at 4, args[2] (optname) at 32
        (0x20, 0, 0, 4),  # ld arch
        (0x15, 0, 5, arch),  # jeq arch, else allow
        (0x20, 0, 0, 0),  # ld nr
        (0x15, 0, 3, setsockopt),  # jeq setsockopt, else allow
        (0x20, 0, 0, 32),  # ld optname
        (0x15, 0, 1, SO_ATTACH_REUSEPORT_CBPF),  # jeq, else allow
        (0x06, 0, 0, RET_ERRNO | errno.ENOPROTOOPT),
        (0x06, 0, 0, RET_ALLOW),
    ]
    fprog, _code = sock_fprog(program)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


if __name__ == "__main__":
    if sys.argv[1:2] != ["-m"] or len(sys.argv) < 3:
        raise SystemExit(__doc__)
    install()
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
