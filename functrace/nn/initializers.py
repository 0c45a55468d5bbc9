"""Weight initializers (``jax.nn.initializers``' names, signatures and formulas).

An initializer is a function ``init(key, shape, dtype=float64) -> array`` drawing with
``functrace.random`` from a key; the factories (``normal(stddev)``, ``variance_scaling(...)``,
``glorot_uniform()``...) build one. The default dtype is float64 (functrace's default float,
where JAX's is float32 unless x64 is on); pass ``dtype=np.float32`` for float32 weights.
Only real floating dtypes are supported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import numpy as fnp

__all__ = ["Initializer", "zeros", "ones", "constant", "uniform", "normal", "truncated_normal",
           "variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform",
           "xavier_normal", "lecun_uniform", "lecun_normal", "he_uniform", "he_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal", "delta_orthogonal"]

Initializer = Callable[..., Any]
"""``init(key, shape, dtype) -> array``."""

# the standard deviation of a standard normal truncated to (-2, 2): dividing by it makes the
# truncated draws have the requested variance
_TRUNC_STD = 0.87962566103423978


def _random():
    # looked up at call time: functrace.random is imported by the package after this module
    from .. import random
    return random


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"initializer: shape must be a tuple of ints, got {shape!r}") from None


def _float_dtype(dtype: Any, where: str) -> np.dtype:
    dt = np.dtype(np.float64 if dtype is None else dtype)
    if not np.issubdtype(dt, np.floating):
        raise TypeError(f"{where}: dtype must be a real floating dtype (float32, float64), "
                        f"got {dt.name}.")
    return dt


def zeros(key: Any, shape: Sequence[int], dtype: Any = np.float64) -> Any:
    """An array of zeros (``key`` is ignored)."""
    return fnp.zeros(_shape(shape), dtype)


def ones(key: Any, shape: Sequence[int], dtype: Any = np.float64) -> Any:
    """An array of ones (``key`` is ignored)."""
    return fnp.ones(_shape(shape), dtype)


def constant(value: Any, dtype: Any = np.float64) -> Initializer:
    """An initializer filling the array with ``value``."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        return fnp.full(_shape(shape), value, dtype)
    return init


def uniform(scale: float = 1e-2, dtype: Any = np.float64) -> Initializer:
    """An initializer drawing uniformly from ``[0, scale)``."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        dt = _float_dtype(dtype, "uniform initializer")
        return _random().uniform(key, _shape(shape), dt) * fnp.asarray(scale, dt)
    return init


def normal(stddev: float = 1e-2, dtype: Any = np.float64) -> Initializer:
    """An initializer drawing from a normal distribution of mean 0 and std ``stddev``."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        dt = _float_dtype(dtype, "normal initializer")
        return _random().normal(key, _shape(shape), dt) * fnp.asarray(stddev, dt)
    return init


def truncated_normal(stddev: float = 1e-2, dtype: Any = np.float64, lower: float = -2.0,
                     upper: float = 2.0) -> Initializer:
    """An initializer drawing ``stddev`` times a standard normal truncated to
    ``[lower, upper]`` (so the result's std is below ``stddev``, as in JAX)."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        dt = _float_dtype(dtype, "truncated_normal initializer")
        draws = _random().truncated_normal(key, lower, upper, _shape(shape), dt)
        return draws * fnp.asarray(stddev, dt)
    return init


def _axes_size(shape: tuple[int, ...], axes: int | Sequence[int]) -> int:
    if isinstance(axes, (int, np.integer)):
        return shape[axes]
    return math.prod(shape[a] for a in axes)


def _fans(shape: tuple[int, ...], in_axis, out_axis, batch_axis) -> tuple[float, float]:
    """(fan_in, fan_out): the input and output sizes times the receptive field (every axis
    that is not an input, output or batch axis, as a convolution's window)."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"variance_scaling: cannot tell the input and output sizes of a "
                         f"{len(shape)}-dimensional weight of shape {shape} with the default "
                         "in_axis=-2; give a shape of at least 2 dimensions or in_axis.")
    try:
        in_size = _axes_size(shape, in_axis)
        out_size = _axes_size(shape, out_axis)
        batch_size = _axes_size(shape, batch_axis)
    except IndexError:
        raise ValueError(f"variance_scaling: in_axis={in_axis}, out_axis={out_axis} or "
                         f"batch_axis={batch_axis} is out of range for shape {shape}.") from None
    receptive = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive, out_size * receptive


def variance_scaling(scale: float, mode: str, distribution: str,
                     in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                     batch_axis: int | Sequence[int] = (),
                     dtype: Any = np.float64) -> Initializer:
    """An initializer with variance ``scale / n``, ``n`` being the fan-in (``mode="fan_in"``),
    fan-out (``"fan_out"``), their mean (``"fan_avg"``) or geometric mean (``"fan_geo_avg"``).

    ``distribution``: ``"truncated_normal"`` (a normal truncated to two standard deviations,
    rescaled to the variance), ``"normal"`` or ``"uniform"`` (on ``[-sqrt(3 var), sqrt(3
    var))``). Fans count the receptive field: every axis other than ``in_axis``, ``out_axis``
    and ``batch_axis`` multiplies both.
    """
    modes = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
    dists = ("truncated_normal", "normal", "uniform")
    if mode not in modes:
        raise ValueError(f"variance_scaling: mode must be one of {', '.join(modes)}, "
                         f"got {mode!r}.")
    if distribution not in dists:
        raise ValueError(f"variance_scaling: distribution must be one of {', '.join(dists)}, "
                         f"got {distribution!r}.")

    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        shp = _shape(shape)
        dt = _float_dtype(dtype, "variance_scaling initializer")
        fan_in, fan_out = _fans(shp, in_axis, out_axis, batch_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
             "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
        variance = scale / n
        rnd = _random()
        if distribution == "truncated_normal":
            std = np.sqrt(np.asarray(variance, dt)) / np.asarray(_TRUNC_STD, dt)
            return rnd.truncated_normal(key, -2, 2, shp, dt) * std
        if distribution == "normal":
            return rnd.normal(key, shp, dt) * np.sqrt(np.asarray(variance, dt))
        return rnd.uniform(key, shp, dt, -1, 1) * np.sqrt(np.asarray(3 * variance, dt))

    return init


def _scaled(scale: float, mode: str, distribution: str, doc: str):
    def factory(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                batch_axis: int | Sequence[int] = (), dtype: Any = np.float64) -> Initializer:
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis,
                                dtype)
    factory.__doc__ = f"{doc}: ``variance_scaling({scale}, {mode!r}, {distribution!r})``."
    return factory


glorot_uniform = _scaled(1.0, "fan_avg", "uniform", "Glorot (Xavier) uniform")
glorot_normal = _scaled(1.0, "fan_avg", "truncated_normal", "Glorot (Xavier) normal")
lecun_uniform = _scaled(1.0, "fan_in", "uniform", "LeCun uniform")
lecun_normal = _scaled(1.0, "fan_in", "truncated_normal", "LeCun normal")
he_uniform = _scaled(2.0, "fan_in", "uniform", "He (Kaiming) uniform")
he_normal = _scaled(2.0, "fan_in", "truncated_normal", "He (Kaiming) normal")
for _name in ("glorot_uniform", "glorot_normal", "lecun_uniform", "lecun_normal", "he_uniform",
              "he_normal"):
    globals()[_name].__name__ = globals()[_name].__qualname__ = _name
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


def orthogonal(scale: float = 1.0, column_axis: int = -1, dtype: Any = np.float64) -> Initializer:
    """An initializer of (scaled) orthogonal matrices, uniformly distributed: with
    ``shape[column_axis]`` columns and the other axes flattened into rows, the rows are
    orthonormal if there are fewer rows than columns, else the columns are."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        shp = _shape(shape)
        dt = _float_dtype(dtype, "orthogonal initializer")
        if len(shp) < 2:
            raise ValueError(f"orthogonal initializer: needs a shape of at least 2 dimensions, "
                             f"got {shp}.")
        if 0 in shp:
            return fnp.zeros(shp, dt)
        n_cols = shp[column_axis]
        n_rows = math.prod(shp) // n_cols
        big, small = max(n_rows, n_cols), min(n_rows, n_cols)
        a = _random().normal(key, (big, small), dt)
        q, r = fnp.linalg.qr(a)
        # the signs of R's diagonal make Q's distribution uniform (Haar), not QR-biased
        q = q * fnp.sign(fnp.diagonal(r))[None, :]
        if n_rows < n_cols:
            q = q.T
        rest = tuple(d for i, d in enumerate(shp) if i != column_axis % len(shp))
        q = fnp.moveaxis(fnp.reshape(q, (*rest, n_cols)), -1, column_axis)
        return q * fnp.asarray(scale, dt)
    return init


def delta_orthogonal(scale: float = 1.0, column_axis: int = -1,
                     dtype: Any = np.float64) -> Initializer:
    """An initializer for 3-D to 5-D convolution kernels (spatial axes first): zeros except
    an orthogonal ``(in, out)`` matrix at the window's centre (the delta-orthogonal scheme)."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        shp = _shape(shape)
        dt = _float_dtype(dtype, "delta_orthogonal initializer")
        if len(shp) not in (3, 4, 5):
            raise ValueError(f"delta_orthogonal initializer: needs a 3-D, 4-D or 5-D shape, "
                             f"got {shp}.")
        if shp[-1] < shp[-2]:
            raise ValueError(f"delta_orthogonal initializer: the input size {shp[-2]} must not "
                             f"exceed the output size {shp[-1]}.")
        mat = orthogonal(scale, column_axis, dt)(key, shp[-2:])
        centre = tuple((k - 1) // 2 for k in shp[:-2])
        return fnp.zeros(shp, dt).at[centre].set(mat)
    return init
