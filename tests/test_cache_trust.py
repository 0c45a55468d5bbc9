"""The disk cache's trust model: only our own, undamaged code from a private directory runs.

Each reproducer of a fault found by stress-testing (planted pickles and bytecode, flipped bytes
of machine code, shared or foreign directories, a planted symlink) is run here; CI runs as
root, so "another user" is simulated (a chown to another uid where allowed, else a patched
``geteuid``).
"""

from __future__ import annotations

import gc
import glob
import itertools
import os
import pickle
import stat
import sys
import weakref

import numpy as np
import pytest
from test_cache import EXPECTED, _check, _run

import functrace.numpy as fnp
from functrace import backend
from functrace.backend import cache
from functrace.config import config
from functrace.jit import jit


class _Planted:
    """Unpickling this writes a marker file: the attack a planted index would be."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _marker_absent(marker) -> bool:
    return not os.path.exists(marker)


def test_a_planted_numba_index_is_never_unpickled(tmp_path):
    _check(_run(tmp_path))
    marker = str(tmp_path / "owned")
    for p in glob.glob(str(tmp_path / "__pycache__" / "ft_*.nbi")):
        with open(p, "wb") as f:
            pickle.dump(_Planted(marker), f)
    assert _check(_run(tmp_path)) == "compiled"  # refused, rebuilt
    assert _marker_absent(marker)
    assert _check(_run(tmp_path)) == "disk"


def test_a_planted_bytecode_file_is_never_run(tmp_path):
    _check(_run(tmp_path))
    (src,) = glob.glob(str(tmp_path / "ft_*.py"))
    marker = str(tmp_path / "owned")
    name = os.path.basename(src)[:-3]
    tag = f"cpython-{sys.version_info[0]}{sys.version_info[1]}"
    pyc = tmp_path / "__pycache__" / f"{name}.{tag}.pyc"
    import importlib.util
    import marshal
    code = compile(f"open({marker!r}, 'w')", src, "exec")
    st = os.stat(src)
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little") + \
        int(st.st_mtime).to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    pyc.write_bytes(header + marshal.dumps(code))
    assert _check(_run(tmp_path)) == "disk"
    assert _marker_absent(marker)


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_flipped_bytes_of_machine_code_rebuild_the_entry(tmp_path, where):
    _check(_run(tmp_path))
    (nbc,) = glob.glob(str(tmp_path / "__pycache__" / "ft_*.nbc"))
    data = bytearray(open(nbc, "rb").read())
    data[int(len(data) * where)] ^= 0xFF
    open(nbc, "wb").write(bytes(data))
    assert _check(_run(tmp_path)) == "compiled"  # no crash, no wrong answer: rebuilt
    assert _check(_run(tmp_path)) == "disk"


_programs = itertools.count()


def _warns_and_compiles_in_memory(cache_dir, match):
    cache._warned_dirs.discard(str(cache_dir))
    before = cache.stats["in_memory_compiles"]
    c = 1.0 + next(_programs) / 8  # a program of its own: not in memory from another test
    with config.override(cache_dir=str(cache_dir), tiered_compile=False):
        f = jit(lambda x: fnp.cos(x) * c - fnp.sin(x) * 0.75)
        with pytest.warns(RuntimeWarning, match=match):
            got = f(np.arange(4.0))
    np.testing.assert_allclose(got, np.cos(np.arange(4.0)) * c - np.sin(np.arange(4.0)) * 0.75)
    assert cache.stats["in_memory_compiles"] == before + 1
    assert not glob.glob(str(cache_dir / "ft_*.py"))


def test_a_directory_other_users_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    _warns_and_compiles_in_memory(shared, "can be written by other users .mode 777")


def test_a_pycache_created_by_someone_else_is_refused(tmp_path):
    d = tmp_path / "c"
    (d / "__pycache__").mkdir(parents=True)
    os.chmod(d, 0o700)
    os.chmod(d / "__pycache__", 0o777)
    _warns_and_compiles_in_memory(d, "__pycache__' can be written by other users")


def test_a_directory_of_another_owner_is_refused(tmp_path, monkeypatch):
    d = tmp_path / "theirs"
    d.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(d, 4242, 4242)
    else:
        monkeypatch.setattr(cache.os, "geteuid", lambda: os.getuid() + 1)
    _warns_and_compiles_in_memory(d, "belongs to another user")


def test_cache_files_are_private(tmp_path):
    _check(_run(tmp_path))
    assert stat.S_IMODE(os.stat(tmp_path / "__pycache__").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "integrity").st_mode) == 0o700
    files = [*glob.glob(str(tmp_path / "ft_*.py")), *glob.glob(str(tmp_path / "__pycache__/*")),
             *glob.glob(str(tmp_path / "integrity/*"))]
    assert len(files) >= 4
    for p in files:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p


def test_numba_cache_dir_does_not_move_our_entries(tmp_path):
    elsewhere = tmp_path / "numba_elsewhere"
    ours = tmp_path / "ours"
    _check(_run(ours, {"NUMBA_CACHE_DIR": str(elsewhere)}))
    assert glob.glob(str(ours / "__pycache__" / "ft_*.nbi"))
    assert not glob.glob(str(elsewhere / "**" / "ft_*"), recursive=True)
    assert _check(_run(ours, {"NUMBA_CACHE_DIR": str(elsewhere)})) == "disk"


def test_dumped_sources_go_to_a_private_directory_and_follow_no_symlink(tmp_path):
    path = backend.dump_source("x = 1\n", "prog")
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert open(path).read() == "x = 1\n"
    victim = tmp_path / "victim"
    victim.write_text("precious")
    planted = os.path.join(os.path.dirname(path), "functrace_other_" + "0" * 12 + ".py")
    os.symlink(victim, planted)
    import hashlib
    source = "y = 2\n"
    name = "other"
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    os.rename(planted, os.path.join(os.path.dirname(path), f"functrace_{name}_{digest}.py"))
    backend.dump_source(source, name)
    assert victim.read_text() == "precious"


def test_compiled_programs_are_released_least_recently_used_first(monkeypatch, tmp_path):
    monkeypatch.setattr(cache, "MAX_MODULES", 4)
    refs = []
    with config.override(cache_dir=str(tmp_path), tiered_compile=False):
        for k in range(10):
            f = jit(lambda x, k=k: x * float(k) + 0.125)
            np.testing.assert_allclose(f(np.ones(2)), np.ones(2) * k + 0.125)
            mod = cache.in_memory(f.lower(np.ones(2)).as_text())
            refs.append((weakref.ref(mod), mod.__name__))
            del f, mod
    gc.collect()
    assert len(cache._modules) <= 4
    assert sum(r() is not None for r, _ in refs) <= 4  # the others' code is freed
    assert all(r() is not None for r, _ in refs[-4:])
    assert not any(name in sys.modules for r, name in refs if r() is None)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_500_jitted_closures_over_new_arrays_share_one_program_and_bounded_memory(tmp_path):
    # a new closure over new weights jitted every iteration, as a script that rebuilds its
    # step function does: the weights are captured as inputs, so every closure runs the one
    # compiled program, and nothing per closure stays alive (distinct programs are bounded by
    # the LRU table: test_compiled_programs_are_released_least_recently_used_first)
    rng = np.random.default_rng(0)
    with config.override(cache_dir=str(tmp_path), tiered_compile=False):
        def one_closure():
            w = rng.normal(size=64)
            f = jit(lambda x: fnp.sin(x * w) + w)
            np.testing.assert_allclose(f(np.ones(64)), np.sin(w) + w, rtol=1e-12)

        programs = set(cache._modules)
        for _ in range(50):
            one_closure()
        gc.collect()
        modules, rss = len(sys.modules), _rss_mib()
        for _ in range(450):
            one_closure()
        gc.collect()
        assert len(set(cache._modules) - programs) <= 1  # one program for all closures
        assert len(sys.modules) <= modules
        assert _rss_mib() - rss < 16, "memory grew with the number of jitted closures"


def test_expected_is_what_the_script_computes():
    assert EXPECTED.shape == (4,)


def test_a_directory_that_cannot_be_written_for_another_reason_says_why(tmp_path, monkeypatch):
    import errno
    d = tmp_path / "full"
    monkeypatch.setattr(cache, "_write_probe",
                        lambda path: OSError(errno.ENOSPC, "No space left on device", path))
    _warns_and_compiles_in_memory(
        d, r"'.*full' cannot be written to \(creating a file there failed: No space left on "
           r"device\)")


def test_a_failed_write_names_the_error(tmp_path, monkeypatch):
    import errno

    def disk_full(path, data, mtime):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache, "_write_atomic", disk_full)
    _warns_and_compiles_in_memory(
        tmp_path / "c", r"writing to '.*c' failed \(No space left on device\).*in memory only")
