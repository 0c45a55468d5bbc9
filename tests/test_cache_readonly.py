"""A read-only pre-filled disk cache (e.g. shipped in a container image) is used for reading.

Its verified entries are loaded without compiling, missing programs are compiled without
writing anything there (one warning per directory), an entry that does not verify is never
loaded, and a directory someone else could have written is still refused. CI runs as root,
which writes through mode bits: the directories are chmod-ed read-only *and* cache.py's write
probe is made to fail as it would for another user (as test_cache_trust.py simulates owners).
"""

from __future__ import annotations

import errno
import glob
import itertools
import os
import pickle
import warnings

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import backend
from functrace.backend import cache
from functrace.config import config
from functrace.jit import jit

X = np.linspace(-1.0, 1.0, 5)
_consts = itertools.count()


def _program():
    """A program of its own (not in memory from another test), as a maker of new functions
    computing it (each traced anew, as in a new process), and its expected value."""
    c = 1.0 + next(_consts) / 16

    def make():
        return lambda x: fnp.tanh(x) * c + fnp.exp(x * 0.5)

    return make, np.tanh(X) * c + np.exp(X * 0.5)


def _fill(d, f):
    """Compile ``f`` into the cache at ``d``, then forget it in memory (as a new process)."""
    with config.override(cache_dir=str(d), tiered_compile=False):
        g = jit(f())
        g(X)
        src = g.lower(X).as_text()
    assert cache._modules.pop(cache.source_key(src), None) is not None


def _make_read_only(monkeypatch, d, dir_mode=0o555):
    for root, _, files in os.walk(d):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
    for sub in (d / "__pycache__", d / "integrity", d):
        sub.mkdir(mode=0o700, exist_ok=True)
        os.chmod(sub, dir_mode)
    real, ro = cache._write_probe, str(d)

    def probe(path):
        if os.path.abspath(path).startswith(ro):
            return PermissionError(errno.EACCES, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(cache, "_write_probe", probe)
    for key in [k for k in cache._warned_dirs if ro in str(k)]:
        cache._warned_dirs.discard(key)


def _snapshot(d) -> dict:
    out = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def _run(d, f):
    """Call a new ``jit`` of ``f`` with the cache at ``d``; returns its result and origin."""
    with config.override(cache_dir=str(d), tiered_compile=False):
        g = jit(f())
        got = g(X)
        return got, backend.executable_for(g.lower(X)._traced.jaxpr).origin


@pytest.fixture
def filled(tmp_path, monkeypatch):
    """A cache holding one program, made read-only: ``(dir, program, expected value)``."""
    d = tmp_path / "image_cache"
    f, want = _program()
    _fill(d, f)
    yield d, f, want
    for root, dirs, _ in os.walk(d):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700)
    os.chmod(d, 0o700)


def test_verified_entries_are_loaded_and_nothing_is_written(filled, monkeypatch):
    d, f, want = filled
    _make_read_only(monkeypatch, d)
    before, hits, compiles = _snapshot(d), cache.stats["disk_hits"], \
        cache.stats["in_memory_compiles"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a hit says nothing
        got, origin = _run(d, f)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert origin == "disk"
    assert cache.stats["disk_hits"] == hits + 1
    assert cache.stats["in_memory_compiles"] == compiles
    assert _snapshot(d) == before


def test_misses_compile_in_memory_after_one_warning(filled, monkeypatch):
    d, _, _ = filled
    _make_read_only(monkeypatch, d)
    before, compiles = _snapshot(d), cache.stats["in_memory_compiles"]
    (f1, want1), (f2, want2) = _program(), _program()
    with pytest.warns(RuntimeWarning, match=rf"directory '{d}' is read-only \(Permission denied\)"
                      r": using its verified entries; new programs are compiled without "
                      r"writing there"):
        got1, origin1 = _run(d, f1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per directory
        got2, origin2 = _run(d, f2)
    np.testing.assert_allclose(got1, want1, rtol=1e-13)
    np.testing.assert_allclose(got2, want2, rtol=1e-13)
    assert origin1 == origin2 == "compiled"
    assert cache.stats["in_memory_compiles"] == compiles + 2
    assert _snapshot(d) == before


def _flip_machine_code(d, marker):
    (nbc,) = glob.glob(str(d / "__pycache__" / "ft_*.nbc"))
    data = bytearray(open(nbc, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(nbc, "wb").write(bytes(data))


class _Planted:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant_index(d, marker):
    for p in glob.glob(str(d / "__pycache__" / "ft_*.nbi")):
        with open(p, "wb") as f:
            pickle.dump(_Planted(marker), f)


def _share_a_file(d, marker):
    (nbc,) = glob.glob(str(d / "__pycache__" / "ft_*.nbc"))
    os.chmod(nbc, 0o666)  # after the image was made read-only: its files are 0444 otherwise


@pytest.mark.parametrize("damage, match", [
    (_flip_machine_code, "its files do not match their recorded digest"),
    (_plant_index, "its files do not match their recorded digest"),
    (_share_a_file, r"ft_\S+\.nbc can be written by other users \(mode 666; chmod go-w it\)"),
])
def test_an_entry_that_does_not_verify_is_never_loaded(filled, monkeypatch, tmp_path, damage,
                                                       match):
    d, f, want = filled
    marker = str(tmp_path / "owned")
    if damage is not _share_a_file:
        damage(d, marker)
    _make_read_only(monkeypatch, d)
    if damage is _share_a_file:
        damage(d, marker)
    before, rejected = _snapshot(d), cache.stats["read_only_rejected"]
    with pytest.warns(RuntimeWarning, match=rf"not loading ft_\w+ from the read-only "
                      rf"compilation cache directory '{d}': {match}\. It is compiled again "
                      "without writing there"):
        got, origin = _run(d, f)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert origin == "compiled"
    assert not os.path.exists(marker)  # the planted pickle was never loaded
    assert cache.stats["read_only_rejected"] == rejected + 1
    assert _snapshot(d) == before  # left as it is: it cannot be rebuilt there


@pytest.mark.parametrize("case, match", [
    ("group-writable", r"can be written by other users \(mode 575"),
    ("another user's", r"belongs to another user \(uid \d+; you are \d+\)"),
    ("root's, writable", r"belongs to another user \(uid \d+; you are \d+\)"),
])
def test_a_directory_others_could_have_written_is_refused(filled, monkeypatch, case, match):
    d, f, want = filled
    if case == "group-writable":
        _make_read_only(monkeypatch, d, dir_mode=0o575)
    elif case == "another user's":
        _make_read_only(monkeypatch, d)
        if os.geteuid() == 0:
            os.chown(d, 4242, 4242)
        else:
            monkeypatch.setattr(cache.os, "geteuid", lambda: os.getuid() + 1)
    else:  # root-owned (simulated: SYSTEM_UID is the real owner) but writable by us
        owner = os.stat(d).st_uid
        monkeypatch.setattr(cache, "SYSTEM_UID", owner)
        monkeypatch.setattr(cache.os, "geteuid", lambda: owner + 1)
    cache._warned_dirs.discard(str(d))
    compiles = cache.stats["in_memory_compiles"]
    with pytest.warns(RuntimeWarning, match=match):
        got, origin = _run(d, f)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert origin == "compiled"
    assert cache.stats["in_memory_compiles"] == compiles + 1  # not loaded from there


def test_a_read_only_cache_owned_by_root_is_used(filled, monkeypatch):
    d, f, want = filled
    _make_read_only(monkeypatch, d)
    owner = os.stat(d).st_uid  # root in CI; else ourselves, standing in for root
    monkeypatch.setattr(cache, "SYSTEM_UID", owner)
    monkeypatch.setattr(cache.os, "geteuid", lambda: owner + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, origin = _run(d, f)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert origin == "disk"


def test_background_compiles_go_to_a_private_overlay(filled, monkeypatch):
    d, _, _ = filled
    _make_read_only(monkeypatch, d)
    before = _snapshot(d)
    f, want = _program()
    with warnings.catch_warnings(record=True), \
            config.override(cache_dir=str(d), tiered_compile=True):
        warnings.simplefilter("always")
        g = jit(f())
        for _ in range(2):  # interpreted; the second call starts the background compile
            np.testing.assert_allclose(g(X), want, rtol=1e-13)
        assert ft.wait_for_compilation(timeout=120)
        exe = backend.executable_for(g.lower(X)._traced.jaxpr)
        np.testing.assert_allclose(g(X), want, rtol=1e-13)
    assert exe.mode != "interpreted" and exe.origin != "interpreted"
    overlay = cache._overlay
    assert overlay is not None and not overlay.startswith(str(d))
    assert os.stat(overlay).st_mode & 0o777 == 0o700
    assert glob.glob(os.path.join(overlay, "ft_*.py"))
    assert glob.glob(os.path.join(overlay, "integrity", "ft_*.sha256"))
    assert _snapshot(d) == before


def test_an_empty_read_only_directory_is_refused_and_left_alone(tmp_path, monkeypatch):
    d = tmp_path / "empty"
    d.mkdir(mode=0o700)
    real = cache._write_probe
    monkeypatch.setattr(cache, "_write_probe", lambda path: PermissionError(
        errno.EACCES, "Permission denied", path) if path == str(d) else real(path))
    os.chmod(d, 0o555)
    try:
        f, want = _program()
        cache._warned_dirs.discard(str(d))
        with pytest.warns(RuntimeWarning, match=r"__pycache__' does not exist \(a read-only "
                          r"cache needs it\)\. Compiled programs are kept in memory only"):
            got, origin = _run(d, f)
        np.testing.assert_allclose(got, want, rtol=1e-13)
        assert origin == "compiled" and os.listdir(d) == []
    finally:
        os.chmod(d, 0o700)


def test_an_entry_built_for_another_cpu_is_compiled_and_not_saved(filled, monkeypatch):
    from numba.core.codegen import JITCPUCodegen
    d, f, want = filled
    _make_read_only(monkeypatch, d)
    before, compiles = _snapshot(d), cache.stats["in_memory_compiles"]
    real = JITCPUCodegen.magic_tuple
    monkeypatch.setattr(JITCPUCodegen, "magic_tuple",
                        lambda self: (*real(self)[:1], "another-cpu", *real(self)[2:]))
    with pytest.warns(RuntimeWarning, match="is read-only"):
        got, origin = _run(d, f)  # the entry verifies, but Numba's index has no code for us
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert origin == "compiled"
    assert cache.stats["in_memory_compiles"] == compiles + 1
    assert _snapshot(d) == before  # Numba's save of the new code was skipped
