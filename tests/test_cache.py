"""Tests of the compilation caches: in memory per program, and on disk across processes
(including damaged entries, unwritable directories, concurrent compilation, opting out)."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import numpy as np
import pytest

import functrace.numpy as fnp
from functrace.backend import cache
from functrace.config import config
from functrace.jit import jit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """
import logging
import numpy as np
import functrace.numpy as fnp
from functrace.jit import jit
from functrace.config import config
config.update("log_compiles", True)
logging.basicConfig(format="LOG %(message)s")
f = jit(lambda x: fnp.sum(fnp.tanh(x) * 3.0 + x * x, axis=0))
print("RESULT", f(np.arange(12.0).reshape(3, 4)).tolist())
"""

EXPECTED = np.sum(np.tanh(np.arange(12.0).reshape(3, 4)) * 3 + np.arange(12.0).reshape(3, 4)
                  ** 2, axis=0)


def _run(cache_dir, extra_env=None, background=False):
    env = dict(os.environ, FUNCTRACE_CACHE_DIR=str(cache_dir), PYTHONPATH=ROOT)
    env.pop("FUNCTRACE_DISABLE_CACHE", None)
    env.pop("NUMBA_CACHE_DIR", None)  # these tests inspect Numba's files next to the source
    env.update(extra_env or {})
    args = [sys.executable, "-c", SCRIPT]
    if background:
        return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True)


def _check(proc) -> str:
    """The origin of the compiled program in a finished run; asserts its result."""
    out, err = proc.stdout, proc.stderr
    line = [ln for ln in out.splitlines() if ln.startswith("RESULT")][0]
    np.testing.assert_allclose(eval(line.split(" ", 1)[1]), EXPECTED, rtol=1e-12)
    if "loaded from the disk cache" in err:
        return "disk"
    assert "native code generated" in err, err
    return "compiled"


def test_new_process_loads_from_disk(tmp_path):
    assert _check(_run(tmp_path)) == "compiled"
    assert glob.glob(str(tmp_path / "ft_*.py"))
    assert glob.glob(str(tmp_path / "__pycache__" / "*.nbi"))
    assert _check(_run(tmp_path)) == "disk"


def test_corrupted_source_is_rebuilt(tmp_path):
    _check(_run(tmp_path))
    (path,) = glob.glob(str(tmp_path / "ft_*.py"))
    good = open(path).read()
    with open(path, "w") as f:
        f.write("this is not python (")
    assert _check(_run(tmp_path)) == "compiled"
    assert open(path).read() == good
    assert _check(_run(tmp_path)) == "disk"


def test_corrupted_compiled_code_is_rebuilt(tmp_path):
    _check(_run(tmp_path))
    files = glob.glob(str(tmp_path / "__pycache__" / "ft_*.nb*"))
    assert files
    for p in files:
        with open(p, "r+b") as f:
            f.truncate(max(os.path.getsize(p) // 3, 1))
    assert _check(_run(tmp_path)) == "compiled"
    assert _check(_run(tmp_path)) == "disk"


def test_concurrent_processes_compiling_the_same_program(tmp_path):
    procs = [_run(tmp_path, background=True) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        _check(subprocess.CompletedProcess(p.args, 0, out, err))
    assert _check(_run(tmp_path)) == "disk"


def test_disk_cache_can_be_disabled(tmp_path):
    assert _check(_run(tmp_path, {"FUNCTRACE_DISABLE_CACHE": "1"})) == "compiled"
    assert not glob.glob(str(tmp_path / "ft_*.py"))


def test_unwritable_cache_directory_warns_once_and_works(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with config.override(cache_dir=str(blocker / "cache")):
        g = jit(lambda x: fnp.cos(x) * 1.23456789 - 0.5)
        # the warning names the actual fault
        with pytest.warns(RuntimeWarning, match="cannot be created or read .Not a directory"):
            got = g(np.arange(4.0))
        np.testing.assert_allclose(got, np.cos(np.arange(4.0)) * 1.23456789 - 0.5)
        h = jit(lambda x: fnp.sin(x) * 9.87654321)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_allclose(h(np.arange(3.0)), np.sin(np.arange(3.0)) * 9.87654321)


def test_same_source_shares_compiled_code_in_memory():
    a = jit(lambda x: fnp.exp(x) * 4.4321 + 1.0)
    b = jit(lambda x: fnp.exp(x) * 4.4321 + 1.0)  # another function, same program
    hits = cache.stats["memory_hits"]
    a(np.ones(3))
    b(np.ones(3))
    assert cache.stats["memory_hits"] == hits + 1


def test_cache_key_covers_the_source():
    assert cache.source_key("x = 1\n") == cache.source_key("x = 1\n")
    assert cache.source_key("x = 1\n") != cache.source_key("x = 2\n")
