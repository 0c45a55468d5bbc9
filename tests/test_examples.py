"""Smoke tests: every script in examples/ runs to completion and prints something.

Each runs in a fresh interpreter (in a temporary working directory, so files they write land
there) with a timeout; the examples check their own results with asserts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))
TIMEOUT = 300  # seconds; each example is meant to take a few

# Smaller problem sizes for scripts that take options, to keep the suite quick.
ARGS = {
    "numerical_vs_autodiff.py": ["--sizes", "10", "100", "400"],
    "checkpointing.py": ["--layers", "8", "--width", "128", "--batch", "32"],
    "per_example_gradients.py": ["--batch", "32"],
}


def test_examples_exist():
    names = {p.name for p in EXAMPLES}
    assert {"derivatives.py", "jacobians.py", "sensitivity.py", "numerical_vs_autodiff.py",
            "visualize_graph.py", "custom_rules.py", "checkpointing.py", "train_mlp.py",
            "rnn_scan.py", "per_example_gradients.py"} <= names


def test_every_example_is_smoke_tested():
    # test_example_runs is parametrised over every script in examples/ (nothing to register);
    # this guards against examples hiding in subdirectories, which the glob would miss, and
    # against ARGS entries for scripts that no longer exist.
    nested = [p for p in EXAMPLES_DIR.rglob("*.py") if p.parent != EXAMPLES_DIR]
    assert not nested, f"examples in subdirectories are not smoke-tested: {nested}"
    assert set(ARGS) <= {p.name for p in EXAMPLES}, set(ARGS) - {p.name for p in EXAMPLES}


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script: Path, tmp_path: Path):
    env = dict(os.environ)
    root = str(EXAMPLES_DIR.parent)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    proc = subprocess.run([sys.executable, str(script), *ARGS.get(script.name, [])],
                          cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, (f"{script.name} failed (exit {proc.returncode}):\n"
                                  f"--- stdout ---\n{proc.stdout[-3000:]}\n"
                                  f"--- stderr ---\n{proc.stderr[-3000:]}")
    assert len(proc.stdout.strip().splitlines()) >= 3, proc.stdout
    assert "Traceback" not in proc.stderr


def test_visualize_graph_writes_its_files(tmp_path: Path):
    script = EXAMPLES_DIR / "visualize_graph.py"
    env = dict(os.environ, PYTHONPATH=str(EXAMPLES_DIR.parent))
    proc = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "out")],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "out"
    assert (out / "mlp.dot").read_text().startswith('digraph "mlp_loss"')
    assert 'class="residual"' in (out / "mlp_backward.dot").read_text()
    assert str(out / "mlp.dot") in proc.stdout
    if shutil.which("dot"):
        assert "<svg" in (out / "mlp.svg").read_text()
        assert (out / "mlp_backward.svg").exists()
