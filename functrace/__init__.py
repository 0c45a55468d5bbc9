"""functrace: trace NumPy-style functions into a typed IR and transform them.

``grad``, ``vjp``, ``jvp``, ``jacfwd``/``jacrev``/``hessian`` and ``vmap`` rewrite the IR;
``jit`` compiles whole programs (forward and backward passes alike) with Numba.

The namespace is filled on first use (PEP 562 ``__getattr__``): ``import functrace.errors``
imports only what ``errors`` needs, while the first attribute of the package itself
(``ft.grad``, ``ft.numpy``, ``from functrace import numpy``) loads the whole public API of
``functrace._public_api``, including the NumPy frontend.
"""

import importlib as _importlib
import sys as _sys
import types as _types

__version__ = "0.1.0"

# Submodules that ``from functrace import <name>`` gives without loading the whole API.
_LIGHT_SUBMODULES = frozenset({"errors"})
_loading = False


def _load_api() -> None:
    """Import the public API and copy its names into this namespace."""
    global _loading
    _loading = True
    try:
        api = _importlib.import_module("._public_api", __name__)
    finally:
        _loading = False
    for name, value in vars(api).items():
        if not name.startswith("_") and name != "annotations":
            globals()[name] = value  # e.g. ``jit`` the function, not the submodule


def _importing_submodule() -> bool:
    """Whether a functrace module is being imported right now (its ``from . import x`` asks
    for ``x`` here before importing it)."""
    prefix = __name__ + "."
    return any(getattr(getattr(m, "__spec__", None), "_initializing", False)
               for n, m in list(_sys.modules.items()) if n.startswith(prefix))


def __getattr__(name: str):
    if name in _LIGHT_SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    # Inside functrace's own imports, an AttributeError makes ``from . import x`` import just
    # the submodule ``x``; a user's first use of the package loads the whole API.
    if not _loading and not name.startswith("__") and not _importing_submodule():
        _load_api()
        if name in globals():
            return globals()[name]
    raise AttributeError(f"module 'functrace' has no attribute {name!r}")


def __dir__() -> list[str]:
    _load_api()
    return sorted(globals())


# Public names that are not the submodule of the same name: ``ft.config`` is the Config
# object, ``ft.jit``/``ft.remat``/``ft.devices`` functions. Importing such a submodule (as
# ``import functrace.numpy`` does on its way) binds it as a package attribute, which would
# hide the public name from ``__getattr__`` (``ft.config.update`` on a module).
_NOT_SUBMODULES = frozenset({"config", "devices", "jit", "remat"})


class _Package(_types.ModuleType):
    """The package module: the import system may not bind the submodules named in
    ``_NOT_SUBMODULES`` over (or before) the public names (``from . import jit`` still
    finds the submodule in ``sys.modules``)."""

    def __setattr__(self, name, value):
        if name in _NOT_SUBMODULES and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
