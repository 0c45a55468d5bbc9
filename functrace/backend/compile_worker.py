"""The background compiler: a process that compiles generated programs into the disk cache.

Run as ``python -m functrace.backend.compile_worker``; ``tiered.py`` starts it. It reads one
JSON request per line on stdin (``{"id": n, "path": ..., "module": ...}``: a generated module
already written into the disk cache), imports that module, which makes Numba compile its
functions and store their machine code next to it, and answers one JSON line on stdout
(``{"id": n, "ok": true, "seconds": s}`` or ``{"id": n, "ok": false, "error": ...}``). The
requesting process then loads the compiled code from the disk cache.

Why a process: Numba's compiler is Python code holding the GIL, so in a thread it would stall
the caller's interpreted calls; a process has its own GIL and can run on another core. It
ignores SIGINT (a Ctrl-C in the terminal reaches the whole process group: the compile under
way still finishes, so the cache entry is complete) and exits when its stdin closes.
"""

from __future__ import annotations

import json
import signal
import sys
import time


def serve(stdin=None, stdout=None) -> None:
    """Answer compile requests until ``stdin`` closes."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    from . import _support, cache, vecblocks  # noqa: F401 - what every generated module imports
    for line in stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            ident = req["id"]
        except (ValueError, KeyError, TypeError):
            continue  # not a request of ours
        t0 = time.perf_counter()
        try:
            cache.compile_entry(req["path"], req["module"])
            reply = {"id": ident, "ok": True, "seconds": time.perf_counter() - t0}
        except Exception as e:  # noqa: BLE001 - reported to the requester, which recompiles
            reply = {"id": ident, "ok": False, "error": f"{type(e).__name__}: {e}"[:2000]}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve()
