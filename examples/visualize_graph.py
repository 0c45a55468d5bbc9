"""Draw the program of a small MLP loss, and what reverse mode runs for its gradient.

Writes, into the current directory (or --out):

* ``mlp.dot``           the forward program as Graphviz text (always)
* ``mlp_backward.dot``  forward and backward passes side by side, residuals in red (always)
* ``mlp.svg`` and ``mlp_backward.svg`` rendered with Graphviz's ``dot``, when it is installed

    python examples/visualize_graph.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import viz


def init_params(sizes, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [{"w": (rng.normal(size=(m, n)) / np.sqrt(m)).astype(np.float32),
             "b": np.zeros(n, np.float32)} for m, n in zip(sizes[:-1], sizes[1:])]


def mlp_loss(params, x, y):
    h = x
    for layer in params[:-1]:
        h = fnp.tanh(h @ layer["w"] + layer["b"])
    out = h @ params[-1]["w"] + params[-1]["b"]
    return fnp.mean((out - y) ** 2)


def main(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    params = init_params([8, 16, 16, 1])
    x = np.random.default_rng(1).normal(size=(32, 8)).astype(np.float32)
    y = np.sum(x, axis=1, keepdims=True).astype(np.float32)

    print(ft.make_jaxpr(mlp_loss)(params, x, y))
    print()
    written = []
    dot_path = viz.draw(mlp_loss, params, x, y, path=os.path.join(out_dir, "mlp.dot"))
    written.append(dot_path)
    bwd_dot = viz.draw(mlp_loss, params, x, y, path=os.path.join(out_dir, "mlp_backward.dot"),
                       backward=True, collapse_elementwise=True)
    written.append(bwd_dot)
    text = open(bwd_dot).read()
    n_res = len(re.findall(r'^\s*n\d+ \[.*class="residual"', text, re.MULTILINE))
    saved = ft.saved_residuals(mlp_loss, params, x, y)
    print(f"The backward graph shows {len(saved)} residuals stored between the passes "
          f"({sum(r['bytes'] for r in saved) / 1024:.1f} KiB):")
    for r in saved:
        what = "an input" if r["is_input"] else "an intermediate"
        prim, _, where = str(r["source"]).partition(" at ")
        print(f"  {str(r['shape']):<10} {r['dtype'].name:<8} {r['bytes']:>6} bytes  {what}, "
              f"read by {prim} at {os.path.basename(where)}")
    assert n_res == len(saved), (n_res, len(saved))
    if shutil.which("dot"):
        written.append(viz.draw(mlp_loss, params, x, y, path=os.path.join(out_dir, "mlp.svg")))
        written.append(viz.draw(mlp_loss, params, x, y,
                                path=os.path.join(out_dir, "mlp_backward.svg"), backward=True,
                                collapse_elementwise=True))
    else:
        print("\nGraphviz's `dot` is not installed, so no SVG was rendered "
              "(apt-get install graphviz / conda install graphviz / brew install graphviz).")
    print("\nWrote:")
    for p in written:
        print(f"  {os.path.abspath(p)}  ({os.path.getsize(p)} bytes)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="directory for the files (default: .)")
    main(parser.parse_args().out)
