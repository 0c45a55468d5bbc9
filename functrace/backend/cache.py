"""Loading generated programs: an in-memory table and an on-disk cache shared by processes.

Numba caches compiled code only for functions defined in a real file, so each program's source
is written to ``<cache_dir>/ft_<hash>.py`` (hash of the source and of the functrace, Numba and
NumPy versions and backend sources) and its functions are ``njit(cache=True)``: Numba keeps
their machine code in ``<cache_dir>/__pycache__`` (always there: ``FunctraceCacheLocator``
comes first in Numba's list of cache locators, before the one for ``NUMBA_CACHE_DIR``, and
takes our files only).

Trust model (docs/backend.md, "The disk cache"): loading a cache entry runs what is in it
(Numba's index is a pickle; the machine code is executed), so

- the cache directory and its ``__pycache__`` must belong to this user and be writable by no
  one else (created 0700, files 0600); any other directory is refused with a warning naming
  the fault, and programs are compiled in memory;
- every entry's source and compiled files are covered by a SHA-256 digest kept in
  ``<cache_dir>/integrity`` (out of Numba's reach), written after compiling and checked before
  loading: a damaged or foreign entry is deleted and rebuilt, never loaded;
- programs are imported from their source text by us (``compile`` + ``exec``), so no ``.pyc``
  file is read or written.

Robustness: files are written to a temporary name and renamed into place (two processes
compiling the same program both succeed), with a modification time derived from the hash
(Numba's cache checks the source's mtime and size, so concurrent writers agree).
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
import sys
import tempfile
import threading
import types
import warnings
import weakref
from collections import OrderedDict

import numba
import numpy as np
from numba.core.caching import CacheImpl

from ..config import config

_lock = threading.RLock()
# Loaded programs by cache key, least recently used first; beyond MAX_MODULES the oldest are
# forgotten (their native code is freed once no executable refers to it any more).
MAX_MODULES = 256
_modules: OrderedDict[str, types.ModuleType] = OrderedDict()
_warned_dirs: set[str] = set()
stats = {"disk_hits": 0, "disk_misses": 0, "memory_hits": 0, "in_memory_compiles": 0,
         "rebuilt": 0, "refused_dirs": 0, "evicted": 0}
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


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


def _private_dir_fault(path: str) -> str | None:
    """Why ``path`` cannot hold a trusted cache (None if it can), creating it (0700) if
    missing."""
    try:
        if not os.path.lexists(path):
            os.makedirs(path, mode=PRIVATE_DIR, exist_ok=True)
        st = os.lstat(path)
    except OSError as e:
        return f"cannot be created or read ({e.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return f"belongs to another user (uid {st.st_uid}; you are {os.geteuid()})"
    if st.st_mode & 0o022:
        return (f"can be written by other users (mode {stat.S_IMODE(st.st_mode):o}; "
                f"chmod 700 it)")
    try:
        tempfile.TemporaryFile(dir=path, prefix=".probe").close()
    except OSError as e:
        return f"is not writable ({e.strerror})"
    return None


def _cache_dir_fault(cache_dir: str) -> str | None:
    for path in (cache_dir, os.path.join(cache_dir, "__pycache__"),
                 os.path.join(cache_dir, "integrity")):
        fault = _private_dir_fault(path)
        if fault is not None:
            return f"{path!r} {fault}"
    return None


def _write_atomic(path: str, data: bytes, mtime: float) -> None:
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".py")  # 0600
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


def import_file(path: str, modname: str, source: str | None = None) -> types.ModuleType:
    """Run the generated module at ``path`` (its text, or ``source`` if given, which must be
    the file's content) as module ``modname``; its ``njit`` functions compile or load from
    Numba's cache. No bytecode file is read or written."""
    if source is None:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    mod = types.ModuleType(modname)
    mod.__file__ = path
    sys.modules[modname] = mod
    try:
        exec(compile(source, path, "exec", dont_inherit=True), mod.__dict__)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return mod


def _compiled_files(cache_dir: str, modname: str) -> list[str]:
    return sorted(glob.glob(os.path.join(cache_dir, "__pycache__", f"{modname}.*.nb[ic]")))


def _digest_path(cache_dir: str, modname: str) -> str:
    return os.path.join(cache_dir, "integrity", modname + ".sha256")


def _digest(path: str, compiled: list[str]) -> str:
    h = hashlib.sha256()
    for p in [path, *compiled]:
        with open(p, "rb") as f:
            data = f.read()
        h.update(f"{os.path.basename(p)}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def record_digest(cache_dir: str, modname: str, path: str) -> None:
    """After compiling: make the entry's files private and write their digest."""
    compiled = _compiled_files(cache_dir, modname)
    for p in compiled:
        os.chmod(p, PRIVATE_FILE)
    _write_atomic(_digest_path(cache_dir, modname), _digest(path, compiled).encode(), 0)


def verified(cache_dir: str, modname: str, path: str) -> bool:
    """Whether the entry has compiled code whose files match their recorded digest."""
    compiled = _compiled_files(cache_dir, modname)
    if not compiled:
        return False
    try:
        with open(_digest_path(cache_dir, modname), "rb") as f:
            want = f.read().decode()
        return _digest(path, compiled) == want
    except (OSError, UnicodeDecodeError):
        return False


def compile_entry(path: str, modname: str) -> None:
    """Compile the staged module at ``path`` into the cache and record its digest (what the
    background compiler runs)."""
    cache_dir = os.path.dirname(path)
    import_file(path, modname)
    sys.modules.pop(modname, None)
    record_digest(cache_dir, modname, path)


def _remove_compiled(cache_dir: str, modname: str) -> None:
    for p in [*glob.glob(os.path.join(cache_dir, "__pycache__", f"{modname}*")),
              _digest_path(cache_dir, modname)]:
        try:
            os.unlink(p)
        except OSError:
            pass


def _hits(mod: types.ModuleType) -> tuple[int, int]:
    hits = misses = 0
    for name, v in vars(mod).items():
        if name not in ("main", "piece") and not name.startswith("seg"):
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
            _modules.move_to_end(key)
            stats["memory_hits"] += 1
            return mod, "memory"
        mod, origin = _load_uncached(source, key)
        _modules[key] = mod
        while len(_modules) > MAX_MODULES:
            _, old = _modules.popitem(last=False)
            stats["evicted"] += 1
            if not _users.get(old.__name__):
                _free(old)
        return mod, origin


# How many live programs run each loaded module's code: a module forgotten by ``_modules``
# is freed when the last of them is.
_users: dict[str, int] = {}


def hold(mod: types.ModuleType, owner: object) -> None:
    """Keep ``mod``'s native code while ``owner`` (the program running it) is alive."""
    with _lock:
        _users[mod.__name__] = _users.get(mod.__name__, 0) + 1
    weakref.finalize(owner, _release, mod)


def _release(mod: types.ModuleType) -> None:
    with _lock:
        left = _users[mod.__name__] = _users.get(mod.__name__, 1) - 1
        if left <= 0:
            del _users[mod.__name__]
            if all(m is not mod for m in _modules.values()):
                _free(mod)


def _free(mod: types.ModuleType) -> None:
    """Release a module's native code. Numba keeps every dispatcher's compiled code alive
    through a ``weakref.finalize`` whose callback refers (through the code's globals) back to
    the dispatcher, so the dispatcher is never collected: run that finalizer ourselves."""
    sys.modules.pop(mod.__name__, None)
    ours = {id(v) for k, v in vars(mod).items() if k == "main" or k.startswith("seg")}
    for fin in list(weakref.finalize._registry):
        info = fin.peek()
        if info is not None and id(info[0]) in ours:
            fin()


def _in_memory_instead(source: str, key: str, cache_dir: str,
                       fault: str) -> tuple[types.ModuleType, str]:
    """Compile without the disk cache, after one warning per directory."""
    if cache_dir not in _warned_dirs:
        _warned_dirs.add(cache_dir)
        stats["refused_dirs"] += 1
        warnings.warn(f"functrace: not using the compilation cache directory: {fault}. "
                      "Compiled programs are kept in memory only; set FUNCTRACE_CACHE_DIR "
                      "(or config.update('cache_dir', ...)) to a private directory.",
                      RuntimeWarning, stacklevel=5)
    stats["in_memory_compiles"] += 1
    return _exec_in_memory(source, key), "compiled"


def in_memory(source: str) -> types.ModuleType | None:
    """The module of ``source`` if this process has loaded it already."""
    return _modules.get(source_key(source))


def _entry(source: str, key: str) -> tuple[str, str, str] | str | None:
    """``(cache_dir, module name, path)`` of the disk entry of ``source``; None when the disk
    cache is off, or why the cache directory cannot be trusted."""
    cache_dir = config.cache_dir
    if not config.enable_disk_cache:
        return None
    fault = _cache_dir_fault(cache_dir)
    if fault is not None:
        return fault
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
    background compiler: ``(path, module name, verified compiled code is there already)``, or
    None when the disk cache is off or refused (the program must then be compiled here)."""
    key = source_key(source)
    entry = _entry(source, key)
    if not isinstance(entry, tuple):
        return None
    cache_dir, modname, path = entry
    with _lock:
        try:
            _write_source(cache_dir, modname, path, source, key)
        except OSError:
            return None
        return path, modname, verified(cache_dir, modname, path)


def _make_locator():
    from numba.core.caching import InTreeCacheLocator

    class Locator(InTreeCacheLocator):
        """Numba's in-tree locator, for functrace's generated modules only."""

        @classmethod
        def from_function(cls, py_func, py_file):
            name = os.path.basename(py_file)
            if not (name.startswith("ft_") and name.endswith(".py") and len(name) == 46):
                return None
            return super().from_function(py_func, py_file)

    return Locator


FunctraceCacheLocator = _make_locator()
if FunctraceCacheLocator not in CacheImpl._locator_classes:
    CacheImpl._locator_classes.insert(0, FunctraceCacheLocator)


def _load_uncached(source: str, key: str) -> tuple[types.ModuleType, str]:
    entry = _entry(source, key)
    if entry is None:
        stats["in_memory_compiles"] += 1
        return _exec_in_memory(source, key), "compiled"
    if isinstance(entry, str):
        return _in_memory_instead(source, key, config.cache_dir, entry)
    cache_dir, modname, path = entry
    for attempt in range(2):
        try:
            _write_source(cache_dir, modname, path, source, key)
            if _compiled_files(cache_dir, modname) and not verified(cache_dir, modname, path):
                # damaged, planted or left half-written: never loaded, rebuilt
                stats["rebuilt"] += 1
                _remove_compiled(cache_dir, modname)
            mod = import_file(path, modname, source)
        except Exception as e:
            # a damaged entry that passed the digest (e.g. no digest support): rebuild it once
            if attempt:
                if isinstance(e, OSError):  # e.g. the disk is full: compile in memory
                    return _in_memory_instead(source, key, cache_dir,
                                              f"{cache_dir!r} failed: {e}")
                raise
            stats["rebuilt"] += 1
            _remove_compiled(cache_dir, modname)
            try:
                os.unlink(path)
            except OSError:
                pass
            continue
        hits, misses = _hits(mod)
        if not hits and not misses:
            return mod, "disk"  # no native code in it (a pieced program's Python driver)
        if hits and not misses:
            stats["disk_hits"] += 1
            return mod, "disk"
        stats["disk_misses"] += 1
        try:
            record_digest(cache_dir, modname, path)
        except OSError:
            pass  # not recorded: the entry is rebuilt next time instead of trusted
        return mod, "compiled"
    raise AssertionError("unreachable")
