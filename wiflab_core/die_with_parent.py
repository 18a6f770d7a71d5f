"""``python -m wiflab_core.die_with_parent PARENT_PID MODULE [ARG ...]``: run ``python -m MODULE
ARG ...`` in this process, after asking the kernel to SIGTERM it when its parent dies
(PR_SET_PDEATHSIG, Linux; elsewhere it just runs the module).

Set here, after exec, rather than in a ``preexec_fn``: a preexec_fn makes subprocess fork and
run Python in the child before exec, and a parent with gRPC's threads running (a threads-mode
stack's gRPC server) can abort in gRPC's fork handlers (SIGABRT before exec).
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, module, *args = argv
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    else:
        if os.getppid() != int(parent):  # the parent died before prctl took effect
            sys.exit(f"{module}: its parent {parent} is gone")
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
