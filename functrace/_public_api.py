"""functrace's public namespace: every name ``import functrace as ft`` offers.

The package ``__init__`` loads this module on the first use of one of its attributes (PEP 562),
so that importing a submodule such as ``functrace.errors`` does not import all of functrace.
Importing it loads the NumPy frontend, which gives tracers their array operators.
"""

# ruff: noqa: F401 - this module is made of re-exports
from __future__ import annotations

from . import errors, export, flatten_util, lax, nn, optim, random, scipy, tree, tree_util, viz
from . import numpy as numpy  # noqa: PLC0414 - installs the tracer's operators
from .autodiff import (
    grad,
    hessian,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    saved_residuals,
    value_and_grad,
    vjp,
)
from .backend import wait_for_compilation
from .batching import vmap
from .callbacks import pure_callback
from .checking import check_grads, numerical_jacobian
from .config import config
from .core import ClosedJaxpr, Jaxpr, ShapedArray, check_jaxpr, eval_jaxpr
from .custom_derivatives import closure_convert, custom_jvp, custom_vjp
from .devices import block_until_ready, device_get, device_put, devices
from .jit import disable_jit, jit
from .lax import default_matmul_precision
from .numpy._array import Array
from .remat import checkpoint, checkpoint_policies, remat
from .shape_eval import ShapeDtypeStruct, eval_shape
from .tracing import make_jaxpr
from .viz import draw, to_dot
