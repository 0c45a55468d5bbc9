"""Imports inside functrace flow one way: from a layer to the layers below it.

``LAYERS`` (lowest first) assigns every module of the package to a layer by name pattern. The
tests read every module's source (no import), collect ALL its imports of functrace modules -
module level and inside functions, relative ones resolved - and fail naming each import of a
higher layer. Modules of one layer may import each other.
"""

from __future__ import annotations

import ast
import fnmatch
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "functrace"

# (layer name, module-name patterns), lowest layer first. A module belongs to the first layer
# with a matching pattern, so the catch-all ``functrace.backend.*`` comes after the backend's
# low-level modules.
LAYERS: list[tuple[str, list[str]]] = [
    # the IR, its types, pytrees and the exceptions; no primitives
    ("core", ["functrace.config", "functrace.dtypes", "functrace.pretty", "functrace.core",
              "functrace.errors", "functrace.tree_util", "functrace._tree_paths",
              "functrace.tree", "functrace._openblas"]),
    # the tables the backend lowers primitives with, filled by the primitive modules (no Numba)
    ("lowering tables", ["functrace.backend.rules"]),
    # staging functions into jaxprs and cleaning jaxprs up
    ("tracing", ["functrace.tracing", "functrace.simplify", "functrace.shape_eval"]),
    # the transformations' traces and rule tables; they bind only primitives defined here
    ("transformations", ["functrace.core_prims", "functrace.ad", "functrace.batching",
                         "functrace.partial_eval", "functrace.eager_vjp"]),
    # primitives with all their rules
    ("ops", ["functrace.ops", "functrace.ops.*"]),
    # primitives whose parameters are programs or functions
    ("structured primitives", ["functrace.control_flow", "functrace.control_flow.*",
                               "functrace.custom_derivatives", "functrace.remat"]),
    # the facade re-exporting the primitives' wrappers under JAX's ``lax`` names
    ("lax", ["functrace.lax", "functrace.windowed"]),
    # the user-facing transformations
    ("autodiff API", ["functrace.autodiff", "functrace.checking"]),
    # NumPy/SciPy-style frontends and libraries written with them
    ("frontends", ["functrace.numpy", "functrace.numpy.*", "functrace.scipy",
                   "functrace.scipy.*", "functrace.nn", "functrace.nn.*", "functrace.random",
                   "functrace.optim", "functrace.flatten_util", "functrace.devices"]),
    # compiling, exporting, drawing, Python callbacks (they need the backend and the NumPy
    # frontend), and the package's public namespace
    ("compiler and tools", ["functrace.jit", "functrace.backend", "functrace.backend.*",
                            "functrace.export", "functrace.distributed", "functrace.viz",
                            "functrace.callbacks", "functrace._public_api", "functrace"]),
]

# (importing module, imported module) -> why this upward import is accepted.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}


class Import(NamedTuple):
    module: str
    line: int
    target: str


def _module_files() -> dict[str, Path]:
    mods = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


MODULES = _module_files()


def _resolve(name: str) -> str:
    """The module ``name`` refers to: itself, or (``from pkg.mod import attr``) its longest
    prefix that is a module."""
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def _imports(module: str) -> list[Import]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one
            names = [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source
                     for a in node.names]
        else:
            continue
        for name in names:
            if name == "functrace" or name.startswith("functrace."):
                target = _resolve(name)
                if target != module:
                    found.append(Import(module, node.lineno, target))
    return found


def layer_of(module: str) -> int | None:
    """The index in ``LAYERS`` of ``module``'s layer (None: unassigned)."""
    for i, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(module, p) for p in patterns):
            return i
    return None


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if layer_of(m) is None)
    assert not missing, f"modules in no layer of LAYERS (add them to one): {missing}"


def test_imports_only_go_down():
    upward = []
    for module in MODULES:
        src = layer_of(module)
        for imp in _imports(module):
            dst = layer_of(imp.target)
            if src is None or dst is None or dst <= src:
                continue
            if (module, imp.target) in ALLOWED_UPWARD:
                continue
            upward.append(f"{module}:{imp.line} imports {imp.target} "
                          f"(layer {LAYERS[src][0]!r} imports layer {LAYERS[dst][0]!r})")
    assert not upward, "imports of a higher layer:\n" + "\n".join(upward)


def test_allow_list_entries_are_still_needed():
    used = {(m, imp.target) for m in MODULES for imp in _imports(m)}
    stale = [pair for pair in ALLOWED_UPWARD if pair not in used]
    assert not stale, f"ALLOWED_UPWARD entries for imports that no longer exist: {stale}"


def test_the_walk_sees_function_level_and_relative_imports():
    # ad.py imports tracing inside a function, relatively; the checker must see it
    targets = {imp.target for imp in _imports("functrace.ad")}
    assert "functrace.tracing" in targets and "functrace.core" in targets
    # ``from .. import core`` in a subpackage resolves to functrace.core
    assert "functrace.core" in {imp.target for imp in _imports("functrace.ops.shapes")}


def test_layer_of_reports_upward_imports_by_layer():
    assert layer_of("functrace.core") < layer_of("functrace.ops.shapes") < layer_of(
        "functrace.lax") < layer_of("functrace.numpy._base") < layer_of("functrace.jit")
    assert layer_of("functrace.not_a_module_pattern_x") is None


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PACKAGE_DIR.parent)
    return set(out.stdout.split())


def test_importing_errors_does_not_import_the_frontends():
    loaded = _modules_after("import functrace.errors")
    heavy = {"functrace.numpy", "functrace.lax", "functrace.scipy", "functrace.nn",
             "functrace.jit", "numba"}
    assert not loaded & heavy, f"import functrace.errors also imported {sorted(loaded & heavy)}"


@pytest.mark.parametrize("statement", [
    "import functrace as ft; ft.numpy.sin",
    "import functrace.numpy as fnp; fnp.sin",
    "from functrace import numpy; numpy.sin",
    "from functrace import grad",
])
def test_the_package_loads_its_api_on_first_use(statement):
    assert "functrace.numpy" in _modules_after(statement)


@pytest.mark.parametrize("statement", [
    "import functrace as ft, functrace.numpy as fnp; assert ft.config.read('debug_nans') is False",
    "import functrace.numpy as fnp; import functrace as ft; ft.config.update('debug_nans', False)",
    "import functrace.jit, functrace as ft; assert callable(ft.jit) and ft.jit.__module__ != None",
    "import functrace.remat, functrace.devices, functrace as ft; ft.remat(abs); ft.devices()",
])
def test_public_names_are_not_hidden_by_submodules_of_the_same_name(statement):
    # importing functrace.config / functrace.jit binds the submodule on the package; the
    # public Config object and functions must still be what ``ft.config`` and ``ft.jit`` give
    _modules_after(statement)
