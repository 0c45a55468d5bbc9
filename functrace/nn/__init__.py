"""Neural-network activation functions and friends (``jax.nn``'s names and conventions).

Written with ``functrace.numpy``, so every function traces, differentiates, batches and compiles.
Derivatives at kinks follow JAX: ``relu``'s is 0 at 0 and ``relu6``'s 0 at 0 and 6 (each
function picks the branch JAX's custom rule picks); ``softmax``, ``log_softmax`` and
``logsumexp`` subtract a stopped-gradient maximum, so they neither overflow nor change their
derivatives.
"""

from __future__ import annotations

import math

import numpy as np

from .. import lax
from .. import numpy as fnp
from ..numpy._base import asarray, dtype_of
from . import initializers

__all__ = ["initializers", "relu", "relu6", "sigmoid", "log_sigmoid", "softplus", "soft_sign",
           "silu", "swish",
           "gelu", "elu", "celu", "selu", "leaky_relu", "hard_tanh", "hard_sigmoid",
           "hard_silu", "hard_swish", "mish", "tanh", "softmax", "log_softmax", "logsumexp",
           "one_hot", "standardize", "glu", "identity", "squareplus", "sparse_plus",
           "sparse_sigmoid", "log1mexp", "logmeanexp", "dot_product_attention"]


def _float(x):
    x = asarray(x)
    dt = dtype_of(x)
    return x if np.issubdtype(dt, np.inexact) else x.astype(np.float64)


def relu(x):
    """``max(x, 0)``, with derivative 0 at 0 (JAX's choice; ``maximum`` would split it)."""
    x = asarray(x)
    return fnp.where(x > 0, x, fnp.zeros_like(x))


def relu6(x):
    """``min(max(x, 0), 6)``, with derivative 0 at 0 and at 6."""
    x = asarray(x)
    return fnp.where(x > 0, fnp.where(x < 6, x, fnp.full_like(x, 6)), fnp.zeros_like(x))


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``."""
    return lax.logistic(_float(x))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, accurate for large ``|x|``."""
    return -softplus(-_float(x))


def softplus(x):
    """``log(1 + exp(x))`` without overflow."""
    return fnp.logaddexp(_float(x), 0)


def soft_sign(x):
    """``x / (|x| + 1)``."""
    x = _float(x)
    return x / (fnp.abs(x) + 1)


def silu(x):
    """``x * sigmoid(x)`` (also called swish)."""
    x = _float(x)
    return x * sigmoid(x)


swish = silu


def gelu(x, approximate: bool = True):
    """The Gaussian error linear unit; ``approximate=True`` (JAX's default) uses the tanh form."""
    x = _float(x)
    if approximate:
        c = math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + fnp.tanh(c * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + lax.erf(x / math.sqrt(2)))


def elu(x, alpha: float = 1.0):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    x = _float(x)
    safe = fnp.where(x > 0, fnp.zeros_like(x), x)  # exp of large x never reaches the result
    return fnp.where(x > 0, x, alpha * fnp.expm1(safe))


def celu(x, alpha: float = 1.0):
    """Continuously differentiable ELU: ``x`` for ``x > 0``, else ``alpha * expm1(x / alpha)``."""
    x = _float(x)
    # max + min (not a where): at 0 each side takes half the tangent, as in JAX, so the
    # second derivative there is 1/(4 alpha) like JAX's rather than the left limit 1/alpha
    return fnp.maximum(x, 0) + alpha * fnp.expm1(fnp.minimum(x, 0) / alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """Scaled ELU with the self-normalising constants."""
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def leaky_relu(x, negative_slope: float = 1e-2):
    """``x`` for ``x >= 0``, else ``negative_slope * x``."""
    x = _float(x)
    return fnp.where(x >= 0, x, negative_slope * x)


def hard_tanh(x):
    """``x`` clipped to ``[-1, 1]``."""
    x = _float(x)
    return fnp.where(x > 1, fnp.ones_like(x), fnp.where(x < -1, -fnp.ones_like(x), x))


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``."""
    return relu6(_float(x) + 3.0) / 6.0


def hard_silu(x):
    """``x * hard_sigmoid(x)``."""
    x = _float(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def mish(x):
    """``x * tanh(softplus(x))``."""
    x = _float(x)
    return x * fnp.tanh(softplus(x))


def tanh(x):
    """``numpy.tanh`` (re-exported, as ``jax.nn`` does)."""
    return fnp.tanh(x)


def _shifted(x, axis, where):
    """``x`` minus its (gradient-stopped) maximum along ``axis``; non-finite maxima give 0."""
    from ..scipy.special import _stopped_max
    return x - _stopped_max(x, axis, where)


def softmax(x, axis: int | tuple[int, ...] | None = -1, where=None):
    """``exp(x) / sum(exp(x))`` along ``axis``, without overflow."""
    x = _float(x)
    unnormalized = fnp.exp(_shifted(x, axis, where))
    if where is not None:
        unnormalized = fnp.where(where, unnormalized, fnp.zeros_like(unnormalized))
    out = unnormalized / fnp.sum(unnormalized, axis=axis, keepdims=True)
    return out if where is None else fnp.where(where, out, fnp.zeros_like(out))


def log_softmax(x, axis: int | tuple[int, ...] | None = -1, where=None):
    """``x - logsumexp(x)`` along ``axis``, accurate for large inputs."""
    x = _float(x)
    shifted = _shifted(x, axis, where)
    e = fnp.exp(shifted)
    if where is not None:
        e = fnp.where(where, e, fnp.zeros_like(e))
    out = shifted - fnp.log(fnp.sum(e, axis=axis, keepdims=True))
    return out if where is None else fnp.where(where, out, fnp.full_like(out, -np.inf))


def logsumexp(a, axis: int | tuple[int, ...] | None = None, b=None, keepdims: bool = False,
              return_sign: bool = False, where=None):
    """``log(sum(b * exp(a)))`` along ``axis``, without overflow (``jax.nn.logsumexp``).

    ``b`` scales each term; with ``return_sign`` the result is ``(log|s|, sign(s))``, so
    negative sums are allowed. All ``-inf`` inputs give ``-inf``."""
    from ..scipy.special import logsumexp as _logsumexp
    return _logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign,
                      where=where)


def one_hot(x, num_classes: int, *, dtype=np.float64, axis: int = -1):
    """``x``'s integer labels as one-hot vectors of length ``num_classes`` along ``axis``
    (labels outside ``[0, num_classes)`` give all-zero vectors, as in JAX)."""
    x = asarray(x)
    nd = fnp.ndim(x) + 1
    axis = axis % nd
    classes = fnp.arange(num_classes).reshape((1,) * axis + (num_classes,) +
                                              (1,) * (nd - axis - 1))
    return (fnp.expand_dims(x, axis) == classes).astype(dtype)


def standardize(x, axis: int | tuple[int, ...] | None = -1, mean=None, variance=None,
                epsilon: float = 1e-5, where=None):
    """``(x - mean) / sqrt(variance + epsilon)`` along ``axis`` (statistics computed when not
    given)."""
    x = _float(x)
    if mean is None:
        mean = fnp.mean(x, axis=axis, keepdims=True, where=where)
    if variance is None:
        variance = fnp.mean(fnp.square(x), axis=axis, keepdims=True, where=where) - \
            fnp.square(mean)
    return (x - mean) * lax.rsqrt(variance + epsilon)


def glu(x, axis: int = -1):
    """Gated linear unit: the first half of ``x`` along ``axis`` times ``sigmoid`` of the
    second."""
    x = _float(x)
    size = fnp.shape(x)[axis]
    if size % 2:
        raise ValueError(f"glu needs an even size along axis {axis}, got {size}")
    a, b = fnp.split(x, 2, axis=axis)
    return a * sigmoid(b)


def identity(x):
    """``x`` itself (an activation that does nothing)."""
    return asarray(x)


def squareplus(x, b: float = 4):
    """``(x + sqrt(x^2 + b)) / 2``, a smooth algebraic relative of ``softplus``."""
    x = _float(x)
    return (x + fnp.sqrt(fnp.square(x) + b)) / 2


def sparse_plus(x):
    """0 for ``x <= -1``, ``(x + 1)^2 / 4`` on ``(-1, 1)``, ``x`` for ``x >= 1``."""
    x = _float(x)
    return fnp.where(x <= -1, fnp.zeros_like(x), fnp.where(x >= 1, x, fnp.square(x + 1) / 4))


def sparse_sigmoid(x):
    """The derivative of ``sparse_plus``: ``clip((x + 1) / 2, 0, 1)``."""
    x = _float(x)
    return 0.5 * fnp.clip(x + 1, 0, 2)


def log1mexp(x):
    """``log(1 - exp(-x))`` for ``x > 0``, accurate for small and large ``x``."""
    x = _float(x)
    # below log(2), 1 - exp(-x) is better formed as -expm1(-x); above, via log1p(-exp(-x))
    small = x < math.log(2)
    return fnp.where(small, fnp.log(-fnp.expm1(-fnp.where(small, x, 1.0))),
                     fnp.log1p(-fnp.exp(-fnp.where(small, 1.0, x))))


def logmeanexp(x, axis: int | tuple[int, ...] | None = None, where=None,
               keepdims: bool = False):
    """``log(mean(exp(x)))`` along ``axis``, without overflow."""
    x = _float(x)
    n = fnp.sum(fnp.ones_like(x), axis=axis, keepdims=keepdims, where=where)
    return logsumexp(x, axis=axis, keepdims=keepdims, where=where) - fnp.log(n)


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None,
                          is_causal: bool = False, **unsupported):
    """Scaled dot-product attention (``jax.nn.dot_product_attention``, XLA path).

    ``query`` is ``(B, T, N, H)`` (or ``(T, N, H)``), ``key``/``value`` ``(B, S, K, H)`` with
    ``N`` a multiple of ``K`` (grouped-query attention); ``bias`` is added to and the boolean
    ``mask`` (True: keep) applied to the ``(B, N, T, S)`` logits, which are scaled by ``scale``
    (default ``1/sqrt(H)``); masked logits become ``-0.7 * finfo.max``, as in JAX."""
    if any(v is not None for v in unsupported.values()):
        raise NotImplementedError(f"dot_product_attention: {sorted(unsupported)} are not "
                                  "supported")
    query, key, value = asarray(query), asarray(key), asarray(value)
    batched = fnp.ndim(query) == 4
    if not batched:
        query, key, value = query[None], key[None], value[None]
    b, t, n, h = fnp.shape(query)
    s, k = fnp.shape(key)[1], fnp.shape(key)[2]
    if n % k:
        raise ValueError(f"dot_product_attention: {n} query heads are not a multiple of {k} "
                         "key/value heads")
    g = n // k
    scale = 1 / math.sqrt(h) if scale is None else scale
    q = query.reshape(b, t, k, g, h)
    logits = fnp.einsum("btkgh,bskh->bkgts", q, key).reshape(b, n, t, s)
    logits = logits * fnp.asarray(scale, dtype=dtype_of(logits))
    if bias is not None:
        logits = (logits + asarray(bias)).astype(dtype_of(logits))
    keep = None
    if mask is not None:
        keep = asarray(mask)
    if is_causal:
        causal = fnp.tril(fnp.ones((t, s), dtype=bool))
        keep = causal if keep is None else fnp.logical_and(keep, causal)
    if keep is not None:
        big_neg = -0.7 * float(np.finfo(dtype_of(logits)).max)
        logits = fnp.where(keep, logits, fnp.asarray(big_neg, dtype=dtype_of(logits)))
    probs = softmax(logits, axis=-1).astype(dtype_of(value))
    out = fnp.einsum("bkgts,bskh->btkgh", probs.reshape(b, k, g, t, s), value)
    out = out.reshape(b, t, n, fnp.shape(value)[-1])
    return out if batched else out[0]
