"""Gradient-based optimisers as pure functions over pytrees, in the style of optax.

An optimiser is a ``GradientTransformation``: a pair of pure functions

* ``init(params) -> state``
* ``update(grads, state, params=None) -> (updates, new_state)``

and ``apply_updates(params, updates)`` adds the updates to the parameters. Nothing is mutated, so
a whole training step (loss, ``grad``, ``update``, ``apply_updates``) can be traced and compiled
with ``jit``. The step count lives in the state as an int32 array, not a Python int, so a jitted
step is traced once. Every formula is written with ``functrace.numpy`` and keeps the dtype of the
parameters (float32 stays float32): Python-float hyperparameters are weakly typed and array-valued
quantities (bias corrections, learning-rate schedules, norms) are cast to each leaf's dtype.

Optimisers are chains of small transformations, which can be combined freely with ``chain``::

    opt = chain(clip_by_global_norm(1.0), adam(warmup_cosine_decay_schedule(0.0, 1e-3, 100, 1000)))
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import numpy as fnp
from .tree_util import tree_leaves, tree_map

PyTree = Any
Schedule = Callable[[Any], Any]
ScalarOrSchedule = float | Schedule

__all__ = [
    "GradientTransformation", "EmptyState", "TraceState", "ScaleByAdamState", "ScaleByRmsState",
    "ScaleByRStdDevState", "ScaleByScheduleState",
    "identity", "chain", "scale", "scale_by_schedule", "scale_by_learning_rate", "trace",
    "scale_by_adam", "scale_by_rms", "scale_by_stddev", "add_decayed_weights",
    "clip_by_global_norm", "global_norm",
    "sgd", "adam", "adamw", "rmsprop", "apply_updates",
    "constant_schedule", "exponential_decay", "linear_schedule", "cosine_decay_schedule",
    "join_schedules", "warmup_cosine_decay_schedule",
]


class GradientTransformation(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable[[PyTree], Any]
    update: Callable[..., tuple[PyTree, Any]]


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none."""


class TraceState(NamedTuple):
    trace: PyTree


class ScaleByAdamState(NamedTuple):
    count: Any
    mu: PyTree
    nu: PyTree


class ScaleByRmsState(NamedTuple):
    nu: PyTree


class ScaleByRStdDevState(NamedTuple):
    mu: PyTree
    nu: PyTree


class ScaleByScheduleState(NamedTuple):
    count: Any


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _zero_count():
    return np.zeros((), np.int32)


def _dtype(x) -> np.dtype:
    dt = getattr(x, "dtype", None)
    return np.dtype(dt) if dt is not None else np.asarray(x).dtype


def _cast(x, dtype):
    """``x`` as an array of ``dtype`` (Python scalars stay weakly typed, so they pass as is)."""
    if type(x) in (int, float):  # not np.float64, which is a float subclass but not weak
        return x
    if _dtype(x) == np.dtype(dtype):
        return x
    return fnp.asarray(x, dtype=dtype)


def _zeros_like(tree: PyTree) -> PyTree:
    return tree_map(fnp.zeros_like, tree)


def _moment(updates: PyTree, moments: PyTree, decay: float, square: bool) -> PyTree:
    """The exponential moving average ``decay * m + (1 - decay) * g`` (of ``g * g``)."""
    return tree_map(lambda g, m: decay * m + (1 - decay) * (g * g if square else g),
                    updates, moments)


def _bias_correction(decay: float, count, dtype):
    """``1 - decay ** count`` in ``dtype`` (the integer count is cast first, so the power does
    not promote float32 moments to float64)."""
    return 1 - decay ** _cast(count, dtype)


def _check_params(name: str, params) -> None:
    if params is None:
        raise ValueError(f"{name} needs the current parameters: call "
                         "update(grads, state, params).")


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


def identity() -> GradientTransformation:
    """Leave the updates unchanged."""
    return GradientTransformation(lambda params: EmptyState(),
                                  lambda updates, state, params=None: (updates, state))


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` in order; the state is the tuple of their states."""

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(updates, state, params=None):
        if len(state) != len(transforms):
            raise ValueError(f"chain: got a state for {len(state)} transformations but the "
                             f"chain has {len(transforms)}; use the state its init returned.")
        new_state = []
        for t, s in zip(transforms, state):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformation(init, update)


def scale(step_size: float) -> GradientTransformation:
    """Multiply the updates by a constant."""

    def update(updates, state, params=None):
        return tree_map(lambda g: g * _cast(step_size, _dtype(g)), updates), state

    return GradientTransformation(lambda params: EmptyState(), update)


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
    """Multiply the updates by ``step_size_fn(count)``, ``count`` being the number of updates
    made so far (0 for the first)."""

    def init(params):
        return ScaleByScheduleState(_zero_count())

    def update(updates, state, params=None):
        step = step_size_fn(state.count)
        updates = tree_map(lambda g: g * _cast(step, _dtype(g)), updates)
        return updates, ScaleByScheduleState(state.count + 1)

    return GradientTransformation(init, update)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule) -> GradientTransformation:
    """Multiply by ``-learning_rate`` (a number or a schedule of the step count): descent."""
    if callable(learning_rate):
        return scale_by_schedule(lambda count: -learning_rate(count))
    return scale(-learning_rate)


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    """Momentum: ``t = g + decay * t``; the update is ``t`` (or ``g + decay * t`` with
    Nesterov's look-ahead)."""

    def init(params):
        return TraceState(_zeros_like(params))

    def update(updates, state, params=None):
        f = lambda g, t: g + decay * t
        new_trace = tree_map(f, updates, state.trace)
        out = tree_map(f, updates, new_trace) if nesterov else new_trace
        return out, TraceState(new_trace)

    return GradientTransformation(init, update)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                  eps_root: float = 0.0) -> GradientTransformation:
    """Adam's rescaling: bias-corrected first moment over the root of the second moment."""

    def init(params):
        return ScaleByAdamState(_zero_count(), _zeros_like(params), _zeros_like(params))

    def update(updates, state, params=None):
        mu = _moment(updates, state.mu, b1, square=False)
        nu = _moment(updates, state.nu, b2, square=True)
        count = state.count + 1

        def step(m, v):
            dt = _dtype(m)
            m_hat = m / _bias_correction(b1, count, dt)
            v_hat = v / _bias_correction(b2, count, dt)
            return m_hat / (fnp.sqrt(v_hat + eps_root) + eps)

        return tree_map(step, mu, nu), ScaleByAdamState(count, mu, nu)

    return GradientTransformation(init, update)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8) -> GradientTransformation:
    """RMSProp's rescaling: ``g / sqrt(nu + eps)`` with ``nu`` the mean square of gradients."""

    def init(params):
        return ScaleByRmsState(_zeros_like(params))

    def update(updates, state, params=None):
        nu = _moment(updates, state.nu, decay, square=True)
        out = tree_map(lambda g, n: g / fnp.sqrt(n + eps), updates, nu)
        return out, ScaleByRmsState(nu)

    return GradientTransformation(init, update)


def scale_by_stddev(decay: float = 0.9, eps: float = 1e-8) -> GradientTransformation:
    """Centred RMSProp: ``g / sqrt(nu - mu**2 + eps)`` (the gradients' running variance)."""

    def init(params):
        return ScaleByRStdDevState(_zeros_like(params), _zeros_like(params))

    def update(updates, state, params=None):
        mu = _moment(updates, state.mu, decay, square=False)
        nu = _moment(updates, state.nu, decay, square=True)
        out = tree_map(lambda g, m, n: g / fnp.sqrt(n - m * m + eps), updates, mu, nu)
        return out, ScaleByRStdDevState(mu, nu)

    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    """Add ``weight_decay * params`` to the updates (decoupled weight decay, as in AdamW)."""

    def update(updates, state, params=None):
        _check_params("add_decayed_weights", params)
        return tree_map(lambda g, p: g + weight_decay * p, updates, params), state

    return GradientTransformation(lambda params: EmptyState(), update)


def global_norm(tree: PyTree):
    """The Euclidean norm of all the leaves of ``tree`` taken together."""
    leaves = tree_leaves(tree)
    if not leaves:
        return np.zeros((), np.float64)
    total = fnp.sum(leaves[0] * leaves[0])
    for x in leaves[1:]:
        total = total + fnp.sum(x * x)
    return fnp.sqrt(total)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Rescale the updates so that their global norm is at most ``max_norm``."""

    def update(updates, state, params=None):
        g_norm = global_norm(updates)
        trigger = g_norm < max_norm

        def clip(g):
            n = _cast(g_norm, _dtype(g))
            return fnp.where(trigger, g, (g / n) * max_norm)

        return tree_map(clip, updates), state

    return GradientTransformation(lambda params: EmptyState(), update)


# ---------------------------------------------------------------------------------------------
# Optimisers
# ---------------------------------------------------------------------------------------------


def sgd(learning_rate: ScalarOrSchedule, momentum: float = 0.0, nesterov: bool = False
        ) -> GradientTransformation:
    """Stochastic gradient descent, with optional (Nesterov) momentum."""
    if nesterov and not momentum:
        raise ValueError("sgd: nesterov=True needs a nonzero momentum.")
    parts = [trace(momentum, nesterov)] if momentum else []
    return chain(*parts, scale_by_learning_rate(learning_rate))


def adam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-8, weight_decay: float = 0.0) -> GradientTransformation:
    """Adam; with ``weight_decay > 0`` it is AdamW (decay decoupled from the gradient step:
    ``update = -lr * (adam_step + weight_decay * params)``, as in ``optax.adamw``)."""
    parts = [scale_by_adam(b1, b2, eps)]
    if weight_decay:
        parts.append(add_decayed_weights(weight_decay))
    return chain(*parts, scale_by_learning_rate(learning_rate))


def adamw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
          eps: float = 1e-8, weight_decay: float = 1e-4) -> GradientTransformation:
    """Adam with decoupled weight decay (``optax.adamw``'s defaults)."""
    return adam(learning_rate, b1, b2, eps, weight_decay)


def rmsprop(learning_rate: ScalarOrSchedule, decay: float = 0.9, eps: float = 1e-8,
            momentum: float = 0.0, nesterov: bool = False, centered: bool = False
            ) -> GradientTransformation:
    """RMSProp (``eps`` inside the square root, as in optax), optionally centred and with
    momentum applied to the rescaled gradients."""
    parts = [scale_by_stddev(decay, eps) if centered else scale_by_rms(decay, eps)]
    if momentum:
        parts.append(trace(momentum, nesterov))
    return chain(*parts, scale_by_learning_rate(learning_rate))


def apply_updates(params: PyTree, updates: PyTree) -> PyTree:
    """``params + updates`` leaf by leaf, keeping each parameter's dtype."""
    return tree_map(lambda p, u: _cast(p + u, _dtype(p)), params, updates)


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules: functions of the step count (an int, an array, or a traced value)
# ---------------------------------------------------------------------------------------------


def constant_schedule(value: float) -> Schedule:
    """The same value at every step."""
    return lambda count: value


def exponential_decay(init_value: float, decay_rate: float, transition_steps: int,
                      transition_begin: int = 0, staircase: bool = False,
                      end_value: float | None = None) -> Schedule:
    """``init_value * decay_rate ** ((count - transition_begin) / transition_steps)``.

    Constant before ``transition_begin``; with ``staircase`` the exponent is floored; the value
    never passes ``end_value`` when given. (Note the argument order: ``decay_rate`` before
    ``transition_steps``; pass them by keyword to be safe.)
    """
    if transition_steps <= 0:
        raise ValueError(f"exponential_decay: transition_steps must be positive, got "
                         f"{transition_steps}.")

    def schedule(count):
        count = fnp.asarray(count)
        steps = count - transition_begin
        p = steps / transition_steps
        if staircase:
            p = fnp.floor(p)
        value = init_value * decay_rate ** p
        if transition_begin:
            value = fnp.where(steps <= 0, init_value * fnp.ones_like(value), value)
        if end_value is not None:
            value = (fnp.maximum(value, end_value) if decay_rate < 1
                     else fnp.minimum(value, end_value))
        return value

    return schedule


def linear_schedule(init_value: float, end_value: float, transition_steps: int,
                    transition_begin: int = 0) -> Schedule:
    """From ``init_value`` to ``end_value`` linearly over ``transition_steps`` steps."""
    if transition_steps <= 0:
        return constant_schedule(init_value)

    def schedule(count):
        count = fnp.asarray(count)
        if transition_begin:
            count = count - transition_begin
        steps = fnp.clip(count, 0, transition_steps)
        frac = 1 - steps / transition_steps
        return (init_value - end_value) * frac + end_value

    return schedule


def cosine_decay_schedule(init_value: float, decay_steps: int, alpha: float = 0.0,
                          exponent: float = 1.0) -> Schedule:
    """Half a cosine from ``init_value`` down to ``alpha * init_value`` over ``decay_steps``
    steps (Loshchilov & Hutter's SGDR without restarts), constant afterwards."""
    if decay_steps <= 0:
        raise ValueError(f"cosine_decay_schedule: decay_steps must be positive, got "
                         f"{decay_steps}.")

    def schedule(count):
        steps = fnp.minimum(fnp.asarray(count), decay_steps)
        cosine = 0.5 * (1 + fnp.cos(math.pi * steps / decay_steps))
        if exponent != 1:
            cosine = cosine ** exponent
        decayed = (1 - alpha) * cosine + alpha
        return init_value * decayed

    return schedule


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """``schedules[i]`` from ``boundaries[i - 1]`` on, each restarted at step 0 there."""
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(f"join_schedules: {len(schedules)} schedules need "
                         f"{len(schedules) - 1} boundaries, got {len(boundaries)}.")

    def schedule(count):
        count = fnp.asarray(count)
        out = schedules[0](count)
        for boundary, s in zip(boundaries, schedules[1:]):
            out = fnp.where(count < boundary, out, s(count - boundary))
        return out

    return schedule


def warmup_cosine_decay_schedule(init_value: float, peak_value: float, warmup_steps: int,
                                 decay_steps: int, end_value: float = 0.0,
                                 exponent: float = 1.0) -> Schedule:
    """Linear warm-up from ``init_value`` to ``peak_value`` over ``warmup_steps``, then cosine
    decay to ``end_value``; ``decay_steps`` counts the warm-up too (as in optax)."""
    if decay_steps <= warmup_steps:
        raise ValueError(f"warmup_cosine_decay_schedule: decay_steps ({decay_steps}) must "
                         f"exceed warmup_steps ({warmup_steps}).")
    alpha = 0.0 if peak_value == 0 else end_value / peak_value
    return join_schedules([linear_schedule(init_value, peak_value, warmup_steps),
                           cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha,
                                                 exponent)],
                          [warmup_steps])
