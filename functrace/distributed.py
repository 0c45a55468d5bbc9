"""Data-parallel training and sharded maps on Dask's distributed scheduler (optional extra).

Install with ``pip install "functrace[distributed]"``; ``import functrace`` never imports
Dask, only ``import functrace.distributed`` does.

Programs travel as data, not as pickled Python functions: the client traces the function once
per argument signature, serialises the program with ``functrace.export``, and sends the bytes
to the cluster once, as the result of a small task the compute tasks depend on (a worker
fetches it from a peer the first time it needs it, and if every holder dies the scheduler
recomputes it). Each task names the program by the hash of its bytes; a worker deserialises
and compiles a program the first time it meets it (Numba, with the worker's on-disk cache)
and keeps it for later tasks. Tasks are pure functions of their
arguments (program, parameters, data shard), so the scheduler may re-run them on another
worker when one dies; results are combined on the client only once every shard has returned,
so a lost worker delays a step but never changes its result.

- ``data_parallel(step_fn)``: ``step_fn(params, batch)`` returns batch means (a loss, its
  gradients, metrics); the batch is split along axis 0 across the workers and the shards'
  results are combined by their mean weighted by shard size, which is exactly the full batch's
  mean. ``value_and_grad(loss_fn)`` is ``data_parallel(functrace.value_and_grad(loss_fn))``.
  The optimiser update runs on the client (see docs/distributed.md).
- ``map(f, xs)``: ``f`` over the shards of a large array (split along axis 0, results
  concatenated), or over a list of inputs (a hyper-parameter sweep), one task per item.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

try:
    from dask.distributed import Client, default_client
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "functrace.distributed needs Dask's distributed scheduler: "
        'pip install "functrace[distributed]" (or "dask[distributed]")') from e

from . import core, export
from .jit import Jitted, jit
from .tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["DataParallel", "ShardedProgram", "data_parallel", "map", "value_and_grad",
           "worker_environ"]

# glibc allocator settings for worker processes (see worker_environ)
_ALLOCATOR_ENVIRON = {"MALLOC_ARENA_MAX": "1", "MALLOC_TRIM_THRESHOLD_": str(2 ** 30),
                      "MALLOC_MMAP_THRESHOLD_": str(32 * 2 ** 20)}


def worker_environ() -> dict[str, str]:
    """Environment for Dask worker processes running functrace programs: Dask's own
    (``distributed.nanny.pre-spawn-environ``) with glibc's allocator told to keep freed
    memory for reuse.

    A compiled program allocates its intermediates on every call. Dask's nanny sets
    ``MALLOC_TRIM_THRESHOLD_=65536``, which (with the per-thread arena of the thread that
    runs tasks) hands those megabytes back to the OS after each call, so the next call takes
    a page fault per 4 KB: a step ran about 1.7x slower than in a plain process on the
    development machine. Use it before starting workers::

        dask.config.set({"distributed.nanny.pre-spawn-environ": ftd.worker_environ()})

    (or the same variables in the environment of ``dask worker`` processes).
    """
    import dask
    env = {k: str(v) for k, v in
           (dask.config.get("distributed.nanny.pre-spawn-environ", None) or {}).items()}
    env.update(_ALLOCATOR_ENVIRON)
    return env

# ---------------------------------------------------------------------------------------------
# Worker side: programs by hash, deserialised and compiled once per process
# ---------------------------------------------------------------------------------------------

_worker_programs: dict[str, export.Exported] = {}
_worker_lock = threading.Lock()
_MAX_WORKER_PROGRAMS = 64


def _load_program(key: str, payload: bytes) -> export.Exported:
    """The program ``key``: deserialised and compiled the first time this process sees it."""
    exe = _worker_programs.get(key)
    if exe is None:
        with _worker_lock:
            exe = _worker_programs.get(key)
            if exe is None:
                if hashlib.sha256(payload).hexdigest() != key:
                    raise ValueError(f"program {key[:12]}: the shipped bytes do not match "
                                     "their hash")
                exe = export.deserialize(payload)
                _compile_now(exe)
                if len(_worker_programs) >= _MAX_WORKER_PROGRAMS:
                    _worker_programs.pop(next(iter(_worker_programs)))
                _worker_programs[key] = exe
    return exe


def _compile_now(exe: export.Exported) -> None:
    # native code before the first shard runs (not a first tier interpreting the program
    # while it compiles): workers exist to run the program many times
    from . import backend
    backend.executable_for(exe._hoisted, exe.fun_name, wait=True)


def _run_program(key: str, payload: bytes, flat_args: Sequence[Any]) -> list[np.ndarray]:
    """The task every worker runs: the program ``key`` on flat NumPy arguments."""
    exe = _load_program(key, payload)
    return [np.asarray(o) for o in exe.call_flat(list(flat_args))]


def _ship(payload: bytes) -> bytes:
    """The task that holds a program's bytes on the workers (they fetch it from each other)."""
    return payload


def _compile_program(key: str, payload: bytes) -> float:
    """Load and compile ``key`` without running it (warm-up); the seconds it took."""
    import time
    t0 = time.perf_counter()
    _load_program(key, payload)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Client side
# ---------------------------------------------------------------------------------------------


def _client(client: Client | None) -> Client:
    if client is not None:
        return client
    try:
        return default_client()
    except ValueError:
        raise ValueError("functrace.distributed needs a Dask client: pass client=..., or "
                         "create one first (dask.distributed.Client(...)), which becomes "
                         "the default") from None


def _workers(client: Client) -> list[str]:
    """The addresses of the cluster's workers (asked each call: workers come and go)."""
    try:
        info = client.scheduler_info(n_workers=-1)  # newer Dask lists 5 workers by default
    except TypeError:
        info = client.scheduler_info()
    return sorted(info["workers"])


def _signature(flat: Sequence[Any]) -> tuple:
    avals = [core.get_aval(x) for x in flat]
    return tuple(avals), tuple(a.weak_type for a in avals)


class ShardedProgram:
    """A function traced per argument signature, shipped to a Dask cluster as serialised IR.

    ``submit(args)`` runs one call as a task and returns a ``Future`` of the flat outputs;
    ``tree_unflatten(out_tree(args), future.result())`` rebuilds the function's output
    structure. Used by ``data_parallel`` and ``map``; public for custom schedules (e.g. one
    task per worker with your own sharding).
    """

    def __init__(self, fun: Callable, client: Client | None = None, *, retries: int = 3):
        self.client = _client(client)
        self.fun = fun if isinstance(fun, Jitted) else jit(fun)
        self.retries = int(retries)
        self.name = getattr(fun, "__name__", "program")
        self._programs: dict = {}  # (in_tree, signature) -> (key, Future of bytes, Exported)
        self._lock = threading.Lock()

    def program(self, args: Sequence[Any]):
        """``(key, future of the payload, Exported)`` for arguments like ``args``: traced,
        serialised and sent to the cluster the first time a signature is seen."""
        flat, in_tree = tree_flatten((tuple(args), {}))
        sig = (in_tree, _signature(flat))
        hit = self._programs.get(sig)
        if hit is None:
            with self._lock:
                hit = self._programs.get(sig)
                if hit is None:
                    exe = export.export(self.fun)(*args)
                    payload = exe.serialize()
                    key = hashlib.sha256(payload).hexdigest()
                    # a task whose result is the program (not scattered data): if every
                    # worker holding it dies, the scheduler recomputes it from the task
                    future = self.client.submit(_ship, payload, key=f"ft-program-{key}",
                                                pure=False, retries=self.retries)
                    hit = self._programs[sig] = (key, future, exe)
        return hit

    def compile(self, *args) -> dict[str, float]:
        """Ship and compile the program for ``args``' signature on every worker now (instead
        of inside the first call); the seconds each worker took, by address.

        Workers on one host share the disk cache of compiled code (same user, same
        ``FUNCTRACE_CACHE_DIR``): one of them compiles first and the others load its result,
        while different hosts compile in parallel.
        """
        key, future, _ = self.program(args)
        by_host: dict[str, list[str]] = {}
        for w in _workers(self.client):
            by_host.setdefault(w.rsplit(":", 1)[0], []).append(w)

        def submit(ws):
            return [self.client.submit(_compile_program, key, future, workers=[w], pure=False,
                                       key=f"ft-compile-{self.name}-{uuid.uuid4().hex}")
                    for w in ws]

        firsts = {ws[0]: f for ws in by_host.values() for f in submit(ws[:1])}
        times = dict(zip(firsts, self.client.gather(list(firsts.values()))))
        rest = [w for ws in by_host.values() for w in ws[1:]]
        times.update(zip(rest, self.client.gather(submit(rest))))
        return times

    def submit(self, args: Sequence[Any], worker: str | None = None):
        """Run ``fun(*args)`` as a task (preferably on ``worker``); a Future of flat outputs."""
        key, future, _ = self.program(args)
        flat, _ = tree_flatten((tuple(args), {}))
        flat = [np.asarray(x) if not isinstance(x, (int, float, bool, complex)) else x
                for x in flat]
        return self.client.submit(
            _run_program, key, future, flat, pure=False, retries=self.retries,
            workers=[worker] if worker else None, allow_other_workers=bool(worker),
            key=f"ft-{self.name}-{uuid.uuid4().hex}")

    def out_tree(self, args: Sequence[Any]):
        """The output structure of ``fun(*args)`` (a ``PyTreeDef``)."""
        return self.program(args)[2].out_tree

    def __repr__(self):
        return f"ShardedProgram({self.name}, {len(self._programs)} signatures)"


def _split_sizes(n: int, k: int) -> list[int]:
    k = max(1, min(k, n))
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _leading_dim(tree: Any, what: str) -> int:
    leaves = tree_flatten(tree)[0]
    if not leaves:
        raise ValueError(f"{what} has no arrays to split")
    dims = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if None in dims or len(dims) != 1:
        raise ValueError(f"{what} must be arrays with one common leading dimension (the axis "
                         f"that is split across workers); got shapes "
                         f"{[np.shape(x) for x in leaves]}")
    n = dims.pop()
    if n == 0:
        raise ValueError(f"{what} is empty (leading dimension 0)")
    return n


def _shards(tree: Any, sizes: Sequence[int]) -> list:
    bounds = np.cumsum([0, *sizes])
    return [tree_map(lambda x, a=a, b=b: np.asarray(x)[a:b], tree)
            for a, b in zip(bounds[:-1], bounds[1:])]


class DataParallel:
    """``step_fn(params, batch)`` with the batch split across a Dask cluster's workers.

    Calling it returns what ``step_fn(params, batch)`` returns, each array being the mean of
    the shards' results weighted by shard size: for outputs that are means over the batch (a
    loss, its gradients, an accuracy) that equals the single-process result up to rounding.
    """

    def __init__(self, step_fn: Callable, client: Client | None = None, *,
                 num_shards: int | None = None, retries: int = 3):
        self.program = ShardedProgram(step_fn, client, retries=retries)
        self.client = self.program.client
        self.num_shards = num_shards

    def _plan(self, batch) -> tuple[list[int], list[str | None]]:
        n = _leading_dim(batch, "the batch")
        workers = _workers(self.client)
        k = self.num_shards or max(1, len(workers))
        sizes = _split_sizes(n, k)
        placement = [workers[i % len(workers)] if workers else None for i in range(len(sizes))]
        return sizes, placement

    def compile(self, params: Any, batch: Any) -> dict[str, float]:
        """Ship and compile the programs this batch's shards need on every worker."""
        sizes, _ = self._plan(batch)
        times: dict[str, float] = {}
        for shard in _shards(batch, sorted(set(sizes))):  # one shard of each distinct size
            for w, t in self.program.compile(params, shard).items():
                times[w] = times.get(w, 0.0) + t
        return times

    def __call__(self, params: Any, batch: Any) -> Any:
        sizes, placement = self._plan(batch)
        shards = _shards(batch, sizes)
        futures = [self.program.submit((params, shard), worker)
                   for shard, worker in zip(shards, placement)]
        results = self.client.gather(futures)
        exe = self.program.program((params, shards[0]))[2]
        return tree_unflatten(exe.out_tree, _weighted_mean(results, sizes, exe.out_avals))


def _weighted_mean(results: Sequence[Sequence[np.ndarray]], sizes: Sequence[int],
                   out_avals) -> list[np.ndarray]:
    """Per output, sum_i (n_i / N) * result_i, accumulated in double precision (so float32
    outputs round once, like the single-process result) and returned in the output's dtype."""
    total = float(sum(sizes))
    out = []
    for j, aval in enumerate(out_avals):
        acc_dtype = np.complex128 if np.issubdtype(aval.dtype, np.complexfloating) \
            else np.float64
        acc = sum((n / total) * np.asarray(r[j], acc_dtype) for n, r in zip(sizes, results))
        out.append(np.asarray(acc, aval.dtype))
    return out


def data_parallel(step_fn: Callable, client: Client | None = None, *,
                  num_shards: int | None = None, retries: int = 3) -> DataParallel:
    """``step_fn(params, batch) -> outputs`` (batch means, e.g. ``(loss, grads)``) run
    data-parallel: the batch (a pytree of arrays) is split along axis 0 into one shard per
    worker (or ``num_shards``), each worker runs the compiled program on its shard, and the
    results are averaged weighted by shard size. ``client`` defaults to Dask's current client.
    """
    return DataParallel(step_fn, client, num_shards=num_shards, retries=retries)


def value_and_grad(loss_fn: Callable, client: Client | None = None, *,
                   num_shards: int | None = None, retries: int = 3) -> DataParallel:
    """Data-parallel ``functrace.value_and_grad(loss_fn)``: ``(params, batch) -> (loss,
    grads)`` for a ``loss_fn(params, batch)`` that is a mean over the batch's leading axis."""
    from .autodiff import value_and_grad as _vg
    vg = _vg(loss_fn)
    vg.__name__ = f"value_and_grad_{getattr(loss_fn, '__name__', 'loss')}"
    return DataParallel(vg, client, num_shards=num_shards, retries=retries)


def map(f: Callable, xs: Any, client: Client | None = None, *,  # noqa: A001 - like lax.map
        num_shards: int | None = None, retries: int = 3) -> Any:
    """``f`` run on a Dask cluster, over shards of an array or over a list of inputs.

    - ``xs`` a list: ``[f(x) for x in xs]``, one task per item (a sweep over hyper-parameters
      or datasets; items of the same shapes share one program).
    - otherwise ``xs`` is an array or a pytree of arrays with a common leading dimension: it is
      split along axis 0 into ``num_shards`` (default: one per worker) shards, ``f`` runs on
      each, and the outputs (which must keep the shard's leading dimension) are concatenated
      along axis 0, so the result is ``f(xs)`` for an ``f`` that treats rows independently.

    ``f`` is traced once per input signature and shipped as serialised IR; pass a
    ``ShardedProgram`` to reuse the shipped programs across calls.
    """
    prog = f if isinstance(f, ShardedProgram) else ShardedProgram(f, client, retries=retries)
    c = prog.client
    workers = _workers(c)
    if isinstance(xs, list):
        futures = [prog.submit((x,), workers[i % len(workers)] if workers else None)
                   for i, x in enumerate(xs)]
        results = c.gather(futures)
        return [tree_unflatten(prog.out_tree((x,)), r) for x, r in zip(xs, results)]
    n = _leading_dim(xs, "xs")
    sizes = _split_sizes(n, num_shards or max(1, len(workers)))
    shards = _shards(xs, sizes)
    futures = [prog.submit((s,), workers[i % len(workers)] if workers else None)
               for i, s in enumerate(shards)]
    results = c.gather(futures)
    for r, s in zip(results, sizes):
        for o in r:
            if np.ndim(o) == 0 or np.shape(o)[0] != s:
                raise ValueError(f"map over an array: f must keep the leading dimension of its "
                                 f"input shard (shard of {s} rows gave an output of shape "
                                 f"{np.shape(o)}); pass a list to map over items instead")
    outs = [np.concatenate([r[j] for r in results], axis=0) for j in range(len(results[0]))]
    return tree_unflatten(prog.out_tree((shards[0],)), outs)
