"""functrace: trace NumPy-style functions into a typed IR and transform them.

``grad``, ``vjp``, ``jvp``, ``jacfwd``/``jacrev``/``hessian`` and ``vmap`` rewrite the IR;
``jit`` compiles whole programs (forward and backward passes alike) with Numba.
"""

from . import lax, tree_util
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
from .batching import vmap
from .core import ClosedJaxpr, Jaxpr, ShapedArray, check_jaxpr, eval_jaxpr
from .tracing import make_jaxpr

__version__ = "0.1.0"
from .checking import check_grads, numerical_jacobian
from .custom_derivatives import custom_jvp, custom_vjp
from .remat import checkpoint, checkpoint_policies, remat
from . import optim, viz
from .viz import draw, to_dot
