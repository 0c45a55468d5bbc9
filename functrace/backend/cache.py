"""Loading generated programs: an in-memory table and an on-disk cache shared by processes.

Numba caches compiled code only for functions defined in a real file of an importable module,
so each program's source is written to ``<cache_dir>/ft_<hash>.py`` (hash of the source and of
the functrace, Numba and NumPy versions and backend sources) and imported under a unique module
name; its functions are ``njit(cache=True)`` and Numba keeps their machine code next to it.

Robustness rules: files are written to a temporary name and renamed into place (two processes
compiling the same program both succeed), with a modification time derived from the hash
(Numba's cache checks the source's mtime and size, so concurrent writers agree); an entry whose
source does not match, or whose compiled code fails to load, is rebuilt; an unwritable cache
directory gives one warning and compilation in memory only.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
import types
import warnings

import numba
import numpy as np

from ..config import config

_lock = threading.RLock()
_modules: dict[str, types.ModuleType] = {}
_warned_dirs: set[str] = set()
stats = {"disk_hits": 0, "disk_misses": 0, "memory_hits": 0, "in_memory_compiles": 0,
         "rebuilt": 0}


def _backend_fingerprint() -> str:
    h = hashlib.sha256()
    here = os.path.dirname(os.path.abspath(__file__))
    for fn in sorted(os.listdir(here)):
        if fn.endswith(".py"):
            with open(os.path.join(here, fn), "rb") as f:
                h.update(fn.encode() + f.read())
    from .. import __version__ as ft_version
    h.update(f"{ft_version}|{numba.__version__}|{np.__version__}|{sys.version_info[:2]}"
             .encode())
    return h.hexdigest()


_FINGERPRINT: str | None = None


def source_key(source: str) -> str:
    """The cache key of a program: its source plus everything that may change its meaning."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        _FINGERPRINT = _backend_fingerprint()
    return hashlib.sha256((_FINGERPRINT + "\n" + source).encode()).hexdigest()[:40]


def _usable_dir(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe", delete=True)
        probe.close()
        return True
    except OSError:
        return False


def _write_atomic(path: str, data: bytes, mtime: float) -> None:
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _exec_in_memory(source: str, key: str) -> types.ModuleType:
    src = source.replace("cache=True", "cache=False")
    mod = types.ModuleType(f"functrace_generated_{key}")
    code = compile(src, f"<functrace program {key[:12]}>", "exec")
    exec(code, mod.__dict__)
    return mod


def import_file(path: str, modname: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return mod


def _remove_compiled(cache_dir: str, modname: str) -> None:
    for p in glob.glob(os.path.join(cache_dir, "__pycache__", f"{modname}*")):
        try:
            os.unlink(p)
        except OSError:
            pass


def _hits(mod: types.ModuleType) -> tuple[int, int]:
    hits = misses = 0
    for name, v in vars(mod).items():
        if name != "main" and not name.startswith("seg"):
            continue  # helpers imported from _support are not this program's code
        st = getattr(v, "stats", None)
        if st is not None and hasattr(st, "cache_hits"):
            hits += sum(st.cache_hits.values())
            misses += sum(st.cache_misses.values())
    return hits, misses


def load(source: str) -> tuple[types.ModuleType, str]:
    """Import the module for ``source``; returns it and where it came from: ``"memory"``,
    ``"disk"`` (compiled code loaded from the disk cache) or ``"compiled"``."""
    key = source_key(source)
    with _lock:
        mod = _modules.get(key)
        if mod is not None:
            stats["memory_hits"] += 1
            return mod, "memory"
        mod, origin = _load_uncached(source, key)
        _modules[key] = mod
        return mod, origin


def _in_memory_instead(source: str, key: str, cache_dir: str) -> tuple[types.ModuleType, str]:
    """Compile without the disk cache, after one warning per directory."""
    if cache_dir not in _warned_dirs:
        _warned_dirs.add(cache_dir)
        warnings.warn(f"functrace: the compilation cache directory {cache_dir!r} is not "
                      "writable; compiled programs are kept in memory only (set "
                      "FUNCTRACE_CACHE_DIR or config.update('cache_dir', ...)).",
                      RuntimeWarning, stacklevel=5)
    stats["in_memory_compiles"] += 1
    return _exec_in_memory(source, key), "compiled"


def in_memory(source: str) -> types.ModuleType | None:
    """The module of ``source`` if this process has loaded it already."""
    return _modules.get(source_key(source))


def _entry(source: str, key: str) -> tuple[str, str, str] | None:
    """``(cache_dir, module name, path)`` of the disk entry of ``source``; None when the disk
    cache is off or unusable."""
    cache_dir = config.cache_dir
    if not config.enable_disk_cache or not _usable_dir(cache_dir):
        return None
    modname = f"ft_{key}"
    return cache_dir, modname, os.path.join(cache_dir, modname + ".py")


def _write_source(cache_dir: str, modname: str, path: str, source: str, key: str) -> None:
    """Put the program's source file in place (rewritten if it differs, e.g. damaged)."""
    data = source.encode()
    mtime = 1_000_000_000 + int(key[:7], 16)
    current = None
    try:
        with open(path, "rb") as f:
            current = f.read()
    except OSError:
        pass
    if current != data:
        if current is not None:
            stats["rebuilt"] += 1
            _remove_compiled(cache_dir, modname)
        _write_atomic(path, data, mtime)
    elif os.stat(path).st_mtime != mtime:
        os.utime(path, (mtime, mtime))


def stage(source: str) -> tuple[str, str, bool] | None:
    """Write the source file of a program into the disk cache without compiling it, for the
    background compiler: ``(path, module name, already compiled on disk)``, or None when the
    disk cache is off or unusable (the program must then be compiled in this process)."""
    key = source_key(source)
    entry = _entry(source, key)
    if entry is None:
        return None
    cache_dir, modname, path = entry
    try:
        _write_source(cache_dir, modname, path, source, key)
    except OSError:
        return None
    compiled = bool(glob.glob(os.path.join(cache_dir, "__pycache__", f"{modname}.*.nbi")))
    return path, modname, compiled


def _load_uncached(source: str, key: str) -> tuple[types.ModuleType, str]:
    entry = _entry(source, key)
    if entry is None:
        if not config.enable_disk_cache:
            stats["in_memory_compiles"] += 1
            return _exec_in_memory(source, key), "compiled"
        return _in_memory_instead(source, key, config.cache_dir)
    cache_dir, modname, path = entry
    for attempt in range(2):
        try:
            _write_source(cache_dir, modname, path, source, key)
            mod = import_file(path, modname)
        except Exception as e:
            # a damaged entry (e.g. truncated compiled code): rebuild it once from scratch
            if attempt:
                if isinstance(e, OSError):  # e.g. the disk is full: compile in memory
                    return _in_memory_instead(source, key, cache_dir)
                raise
            stats["rebuilt"] += 1
            _remove_compiled(cache_dir, modname)
            try:
                os.unlink(path)
            except OSError:
                pass
            continue
        hits, misses = _hits(mod)
        if hits and not misses:
            stats["disk_hits"] += 1
            return mod, "disk"
        stats["disk_misses"] += 1
        return mod, "compiled"
    raise AssertionError("unreachable")
