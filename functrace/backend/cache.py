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

A read-only cache (e.g. pre-filled and shipped in a container image: this process cannot
create files in it) is used for reading if no one else could have written it either: its
directories and files belong to this user or to root and are writable by neither group nor
others. Its entries are loaded only if their digest verifies (``_ReadOnlyLocator`` lets Numba
read them without its write probe, and Numba's save of anything it compiles is skipped); a
missing or damaged entry is compiled in memory, after one warning naming the directory. For
the background compiler, which needs a file to compile, such programs are staged in a private
temporary directory of this process (``_overlay_dir``, removed at exit) and loaded from there.

Robustness: files are written to a temporary name and renamed into place (two processes
compiling the same program both succeed), with a modification time derived from the hash
(Numba's cache checks the source's mtime and size, so concurrent writers agree).
"""

from __future__ import annotations

import atexit
import errno
import glob
import hashlib
import os
import shutil
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
from numba.core.caching import Cache, CacheImpl, InTreeCacheLocator

from ..config import config

_lock = threading.RLock()
# Loaded programs by cache key, least recently used first; beyond MAX_MODULES the oldest are
# forgotten (their native code is freed once no executable refers to it any more).
MAX_MODULES = 256
_modules: OrderedDict[str, types.ModuleType] = OrderedDict()
_warned_dirs: set[str] = set()
stats = {"disk_hits": 0, "disk_misses": 0, "memory_hits": 0, "in_memory_compiles": 0,
         "rebuilt": 0, "refused_dirs": 0, "evicted": 0, "read_only_rejected": 0}
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# Besides this process's user, the owner a read-only cache may have (a system image's files).
SYSTEM_UID = 0
# Errors of the write probe meaning "read-only" (permissions, read-only mount), not a failure.
_READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


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


def _write_probe(path: str) -> OSError | None:
    """The error creating a file in directory ``path`` gives, None if it can be done (tests
    replace this to simulate read-only directories: root writes through mode bits)."""
    try:
        tempfile.TemporaryFile(dir=path, prefix=".probe").close()
    except OSError as e:
        return e
    return None


def _euid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _owner_fault(st: os.stat_result, read_only: bool) -> str | None:
    """Why a directory or file with status ``st`` may have been written by someone else."""
    me = _euid()
    if me is not None and st.st_uid != me and not (read_only and st.st_uid == SYSTEM_UID):
        return f"belongs to another user (uid {st.st_uid}; you are {me})"
    if st.st_mode & 0o022:
        return (f"can be written by other users (mode {stat.S_IMODE(st.st_mode):o}; "
                f"chmod {'go-w' if read_only else '700'} it)")
    return None


def _private_dir_fault(path: str, create: bool = True) -> tuple[str | None, OSError | None]:
    """Why ``path`` cannot hold a trusted cache (None if it can), creating it (0700) if
    missing and ``create``; and, if it can only be read, the error writing there gives."""
    try:
        if not os.path.lexists(path):
            if not create:
                return "does not exist (a read-only cache needs it)", None
            os.makedirs(path, mode=PRIVATE_DIR, exist_ok=True)
        st = os.lstat(path)
    except OSError as e:
        return f"cannot be created or read ({e.strerror})", None
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link", None
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory", None
    err = None if st.st_mode & 0o022 else _write_probe(path)  # a shared one is refused anyway
    if err is not None and err.errno not in _READ_ONLY_ERRNOS:
        return f"cannot be written to (creating a file there failed: {err.strerror})", None
    # a read-only directory may also belong to root (a system or container image)
    fault = _owner_fault(st, err is not None)
    return fault, (err if fault is None else None)


def _cache_dir_fault(cache_dir: str) -> tuple[str | None, OSError | None]:
    """Why ``cache_dir`` cannot be used (None if it can); and if only for reading, why not
    for writing."""
    read_only = None
    for path in (cache_dir, os.path.join(cache_dir, "__pycache__"),
                 os.path.join(cache_dir, "integrity")):
        # nothing is created inside a read-only directory (root could, through its mode)
        fault, err = _private_dir_fault(path, create=read_only is None)
        if fault is not None:
            return f"{path!r} {fault}", None
        read_only = read_only or err
    return None, read_only


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


# Cache directories (absolute paths) in use for reading only: see ``_ReadOnlyLocator``.
_read_only_dirs: set[str] = set()


def _entry(source: str, key: str) -> tuple[str, str, str, OSError | None] | str | None:
    """``(cache_dir, module name, path, why the directory is read-only or None)`` of the disk
    entry of ``source``; None when the disk cache is off, or why the cache directory cannot
    be trusted."""
    cache_dir = config.cache_dir
    if not config.enable_disk_cache:
        return None
    fault, read_only = _cache_dir_fault(cache_dir)
    if fault is not None:
        return fault
    with _lock:
        (_read_only_dirs.add if read_only else _read_only_dirs.discard)(
            os.path.abspath(cache_dir))
    modname = f"ft_{key}"
    return cache_dir, modname, os.path.join(cache_dir, modname + ".py"), read_only


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
    None when the disk cache is off or refused (the program must then be compiled here). A
    read-only cache stages what it lacks in this process's private overlay directory."""
    key = source_key(source)
    entry = _entry(source, key)
    if not isinstance(entry, tuple):
        return None
    cache_dir, modname, path, read_only = entry
    if read_only is not None:
        fault = _read_only_fault(cache_dir, modname, path, source)
        if fault is None:
            return path, modname, True
        _read_only_miss(cache_dir, modname, fault, read_only)
        try:
            cache_dir = _overlay_dir()
        except OSError:
            return None
        path = os.path.join(cache_dir, modname + ".py")
    with _lock:
        try:
            _write_source(cache_dir, modname, path, source, key)
        except OSError:
            return None
        return path, modname, verified(cache_dir, modname, path)


class _ReadOnlyLocator(InTreeCacheLocator):
    """Numba's in-tree locator for a module of a read-only cache directory: it reads the
    entry's files (verified beforehand) without requiring a writable directory, and Numba's
    save of what it compiles anyway (e.g. for another CPU) is skipped."""

    read_only = True

    def ensure_cache_path(self) -> None:
        if not os.path.isdir(self.get_cache_path()):
            raise FileNotFoundError(errno.ENOENT, "no compiled code", self.get_cache_path())


class FunctraceCacheLocator(InTreeCacheLocator):
    """Numba's in-tree locator, for functrace's generated modules only."""

    @classmethod
    def from_function(cls, py_func, py_file):
        name = os.path.basename(py_file)
        if not (name.startswith("ft_") and name.endswith(".py") and len(name) == 46):
            return None
        if os.path.dirname(os.path.abspath(py_file)) in _read_only_dirs:
            return _ReadOnlyLocator(py_func, py_file)
        return super().from_function(py_func, py_file)


def _save_overload(self, sig, data, _numba_save=Cache.save_overload):
    if getattr(self._impl.locator, "read_only", False):
        return  # a read-only cache: what was compiled stays in memory
    _numba_save(self, sig, data)


_save_overload.functrace = True
if not getattr(Cache.save_overload, "functrace", False):
    Cache.save_overload = _save_overload
for _old in [c for c in CacheImpl._locator_classes if c.__name__ == "FunctraceCacheLocator"]:
    CacheImpl._locator_classes.remove(_old)  # an earlier import of this module (reloaded)
CacheImpl._locator_classes.insert(0, FunctraceCacheLocator)


_overlay: str | None = None


def _overlay_dir() -> str:
    """This process's private writable cache directory (0700, an unpredictable name, removed
    at exit), where the background compiler puts what a read-only cache lacks."""
    global _overlay
    with _lock:
        if _overlay is None or not os.path.isdir(_overlay):
            _overlay = tempfile.mkdtemp(prefix="functrace-overlay-")
            for sub in ("__pycache__", "integrity"):
                os.mkdir(os.path.join(_overlay, sub), PRIVATE_DIR)
            atexit.register(shutil.rmtree, _overlay, True)
        return _overlay


def _warn_read_only(cache_dir: str, why: OSError) -> None:
    key = ("read-only", cache_dir)
    if key not in _warned_dirs:
        _warned_dirs.add(key)
        warnings.warn(f"functrace: the compilation cache directory {cache_dir!r} is read-only "
                      f"({why.strerror}): using its verified entries; new programs are "
                      "compiled without writing there (in memory, or for the background "
                      "compiler in a private temporary directory removed at exit).",
                      RuntimeWarning, stacklevel=6)


def _read_only_miss(cache_dir: str, modname: str, fault: str, why: OSError) -> None:
    """One warning per directory for programs missing from a read-only cache, one per entry
    for an entry refused (``fault``)."""
    if fault == "missing":
        _warn_read_only(cache_dir, why)
        return
    stats["read_only_rejected"] += 1
    key = ("read-only entry", cache_dir, modname)
    if key not in _warned_dirs:
        _warned_dirs.add(key)
        warnings.warn(f"functrace: not loading {modname} from the read-only compilation cache "
                      f"directory {cache_dir!r}: {fault}. It is compiled again without "
                      "writing there (a read-only entry cannot be rebuilt).",
                      RuntimeWarning, stacklevel=6)


def _read_only_fault(cache_dir: str, modname: str, path: str, source: str) -> str | None:
    """Why the entry of ``source`` in a read-only cache directory cannot be loaded (None if it
    can): ``"missing"``, or what is wrong with it."""
    compiled = _compiled_files(cache_dir, modname)
    digest = _digest_path(cache_dir, modname)
    if not os.path.lexists(path) or not compiled:
        return "missing"
    for p in [path, digest, *compiled]:
        try:
            st = os.lstat(p)
        except OSError as e:
            return f"{os.path.basename(p)} cannot be read ({e.strerror})"
        if not stat.S_ISREG(st.st_mode):
            return f"{os.path.basename(p)} is not a regular file"
        fault = _owner_fault(st, True)
        if fault is not None:
            return f"{os.path.basename(p)} {fault}"
    try:
        with open(path, "rb") as f:
            if f.read() != source.encode():
                return "its source differs from the program's"
    except OSError as e:
        return f"its source cannot be read ({e.strerror})"
    if not verified(cache_dir, modname, path):
        return "its files do not match their recorded digest"
    return None


def _load_read_only(source: str, key: str, cache_dir: str, modname: str, path: str,
                    why: OSError) -> tuple[types.ModuleType, str]:
    """Load the entry of ``source`` from a read-only cache if it verifies, else from this
    process's overlay if the background compiler put it there, else compile it in memory."""
    if "@njit(" not in source:  # no native code (a pieced program's driver): nothing to load
        return _exec_in_memory(source, key), "disk"
    fault = _read_only_fault(cache_dir, modname, path, source)
    if fault is None:
        mod = import_file(path, modname, source)
        hits, misses = _hits(mod)
        if not misses:
            stats["disk_hits"] += 1
            return mod, "disk"
        stats["in_memory_compiles"] += 1  # e.g. compiled for another CPU: not saved
        _warn_read_only(cache_dir, why)
        return mod, "compiled"
    overlay = _overlay
    if overlay is not None and verified(overlay, modname, os.path.join(overlay, modname + ".py")):
        with config.override(cache_dir=overlay):
            return _load_uncached(source, key)
    _read_only_miss(cache_dir, modname, fault, why)
    stats["in_memory_compiles"] += 1
    return _exec_in_memory(source, key), "compiled"


def _load_uncached(source: str, key: str) -> tuple[types.ModuleType, str]:
    entry = _entry(source, key)
    if entry is None:
        stats["in_memory_compiles"] += 1
        return _exec_in_memory(source, key), "compiled"
    if isinstance(entry, str):
        return _in_memory_instead(source, key, config.cache_dir, entry)
    cache_dir, modname, path, read_only = entry
    if read_only is not None:
        return _load_read_only(source, key, cache_dir, modname, path, read_only)
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
                    return _in_memory_instead(
                        source, key, cache_dir,
                        f"writing to {cache_dir!r} failed ({e.strerror or e})")
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
