"""functrace.export: programs serialised to bytes and loaded back.

The round trip is checked to be the identity (same structure, types, weak types, literal and
constant bits, parameters, sub-program sharing) on a corpus of traced programs and on random
programs of the fuzzer; loaded programs evaluate, differentiate, batch and compile like the
originals; bad payloads (truncated, garbled, hand-made malicious ones) raise ValueError.
"""

from __future__ import annotations

import collections
import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, note, settings
from program_strategies import F32, F64, default_op_kinds, programs_with_inputs

import functrace as ft
import functrace.numpy as fnp
from functrace import export, lax, nn
from functrace.core import ClosedJaxpr, Jaxpr, Literal

# ---------------------------------------------------------------------------------------------
# Structural equality of programs (alpha-equivalence: variables matched by position)
# ---------------------------------------------------------------------------------------------


def assert_same_program(a, b, seen=None):
    seen = {} if seen is None else seen
    if isinstance(a, ClosedJaxpr):
        assert type(b) is ClosedJaxpr
        assert len(a.consts) == len(b.consts)
        for x, y in zip(a.consts, b.consts):
            x, y = np.asarray(x), np.asarray(y)
            assert (x.dtype, x.shape) == (y.dtype, y.shape) and x.tobytes() == y.tobytes()
        assert_same_program(a.jaxpr, b.jaxpr, seen)
        return
    assert type(a) is Jaxpr and type(b) is Jaxpr
    env = {}

    def bind(xs, ys):
        assert len(xs) == len(ys)
        for x, y in zip(xs, ys):
            assert x.aval == y.aval and x.aval.weak_type == y.aval.weak_type
            env[x] = y

    def same_atom(x, y):
        if isinstance(x, Literal):
            assert isinstance(y, Literal)
            assert x.aval == y.aval and x.aval.weak_type == y.aval.weak_type
            assert np.asarray(x.val).tobytes() == np.asarray(y.val).tobytes()
        else:
            assert env[x] is y

    bind(a.constvars, b.constvars)
    bind(a.invars, b.invars)
    assert len(a.eqns) == len(b.eqns)
    for e, f in zip(a.eqns, b.eqns):
        assert e.primitive is f.primitive and e.source_info == f.source_info
        assert len(e.invars) == len(f.invars)
        for x, y in zip(e.invars, f.invars):
            same_atom(x, y)
        assert sorted(e.params) == sorted(f.params)
        for k in e.params:
            assert_same_param(e.params[k], f.params[k], seen)
        bind(e.outvars, f.outvars)
    assert len(a.outvars) == len(b.outvars)
    for x, y in zip(a.outvars, b.outvars):
        same_atom(x, y)


def assert_same_param(p, q, seen):
    assert type(p) is type(q), (p, q)
    if isinstance(p, (ClosedJaxpr, Jaxpr)):
        # a sub-program shared by two equations is shared after loading too
        if id(p) in seen:
            assert seen[id(p)] is q
        else:
            seen[id(p)] = q
            assert_same_program(p, q, seen)
    elif isinstance(p, (tuple, list)):
        assert len(p) == len(q)
        for x, y in zip(p, q):
            assert_same_param(x, y, seen)
    elif isinstance(p, dict):
        assert list(p) == list(q)
        for k in p:
            assert_same_param(p[k], q[k], seen)
    elif isinstance(p, (np.ndarray, np.generic)):
        assert p.dtype == q.dtype and p.shape == q.shape and p.tobytes() == q.tobytes()
    elif isinstance(p, float) and p != p:
        assert q != q
    else:
        assert p == q, (p, q)


def roundtrip(closed: ClosedJaxpr) -> ClosedJaxpr:
    loaded = export.deserialize(export.serialize(closed))
    assert_same_program(closed, loaded)
    assert str(loaded) == str(closed)
    return loaded


# ---------------------------------------------------------------------------------------------
# The corpus: make_jaxpr outputs across the transformations and primitives
# ---------------------------------------------------------------------------------------------

R = np.random.RandomState(0)
X3, X23 = R.randn(3), R.randn(2, 3)
W32 = R.randn(3, 2).astype(np.float32)
IMG, KER = R.randn(1, 2, 6, 6), R.randn(3, 2, 3, 3)
NOISE = R.randn(3, 3)


def mlp(w, x):
    return fnp.sum(fnp.tanh(x @ w) ** 2)


def scanf(c, xs):
    return lax.scan(lambda c, x: (c * x + 1, fnp.sin(c)), c, xs)


def conv_loss(a, k):
    return fnp.sum(lax.conv_general_dilated(a, k, (1, 1), "SAME") ** 2)


@ft.custom_jvp
def softplus(x):
    return fnp.log1p(fnp.exp(x))


softplus.defjvp(lambda p, t: (softplus(p[0]), t[0] * nn.sigmoid(p[0])))


@ft.custom_vjp
def cube(x):
    return x ** 3


cube.defvjp(lambda x: (x ** 3, x), lambda res, g: (3 * res ** 2 * g,))
jitted_sin = ft.jit(lambda x: fnp.sin(x) * 2)

CORPUS = {
    "mlp": (mlp, (W32.T.copy(), W32)),
    "grad_mlp": (ft.grad(mlp), (W32.T.copy(), W32)),
    "hessian": (ft.hessian(lambda x: fnp.sum(fnp.sin(x) * x ** 3)), (X3,)),
    "vmap": (ft.vmap(lambda a, b: fnp.dot(a, b), in_axes=(0, None)), (X23, X3)),
    "jvp": (lambda x, t: ft.jvp(fnp.exp, (x,), (t,)), (X3, X3)),
    "consts_weak": (lambda x: fnp.where(x > 0, x + np.arange(3.0), -x) * 2,
                    (X3.astype(np.float32),)),
    "cond": (lambda x: lax.cond(x > 0, fnp.sin, fnp.cos, x), (1.0,)),
    "grad_cond": (ft.grad(lambda x: lax.cond(x > 0, fnp.sin, fnp.cos, x)), (1.0,)),
    "switch": (lambda i, x: lax.switch(i, [fnp.sin, fnp.cos, fnp.tanh], x), (1, X3)),
    "while": (lambda x: lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 1.5),
                                       (0, x)), (X3,)),
    "fori": (lambda x: lax.fori_loop(0, 4, lambda i, c: c * fnp.cos(c) + i, x), (X3,)),
    "scan": (scanf, (1.0, X3)),
    "grad_scan": (ft.grad(lambda c, xs: fnp.sum(scanf(c, xs)[1])), (1.0, X3)),
    "scan_reverse": (lambda xs: lax.scan(lambda c, x: (c + x, c), 0.0, xs, reverse=True),
                     (X3,)),
    "vmap_scan": (ft.vmap(lambda c, xs: scanf(c, xs)[0], in_axes=(0, None)), (X3, X3)),
    "conv": (conv_loss, (IMG, KER)),
    "grad_conv": (ft.grad(conv_loss, argnums=(0, 1)), (IMG, KER)),
    "max_pool": (lambda a: lax.reduce_window(a, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2),
                                             "VALID"), (IMG,)),
    "grad_custom_jvp": (ft.grad(lambda x: fnp.sum(softplus(x))), (X3,)),
    "grad_custom_vjp": (ft.grad(lambda x: fnp.sum(cube(x))), (X3,)),
    "grad_checkpoint": (ft.grad(lambda x: fnp.sum(ft.checkpoint(
        lambda y: fnp.sin(fnp.sin(y)))(x))), (X3,)),
    "checkpoint_policy": (lambda x: ft.checkpoint(
        fnp.sin, policy=ft.checkpoint_policies.dots_saveable)(x), (X3,)),
    "jit": (lambda x: jitted_sin(x) + 1, (X3,)),
    "grad_jit": (ft.grad(lambda x: fnp.sum(jitted_sin(x))), (X3,)),
    "vmap_jit": (ft.vmap(jitted_sin), (X23,)),
    "indexing": (lambda x, i: x[i] + x[1:, ::2].sum() + x.at[0].add(1.0)[1], (X23, 1)),
    "grad_gather": (ft.grad(lambda x: fnp.sum(x[np.array([0, 1, 1])] ** 2)), (X3,)),
    "sort": (lambda x: fnp.sort(x) + fnp.argsort(x), (X3,)),
    "linalg": (lambda a: fnp.linalg.solve(a @ a.T + fnp.eye(2), fnp.ones(2)).sum()
               + fnp.linalg.det(a @ a.T), (X23,)),
    "grad_slogdet": (ft.grad(lambda a: fnp.linalg.slogdet(a @ a.T + fnp.eye(2))[1]), (X23,)),
    "cumulative": (lambda x: fnp.cumsum(x) * fnp.cumprod(x), (X3,)),
    "reductions": (lambda x: (fnp.max(x, 0), fnp.argmin(x, 1), fnp.prod(x), fnp.any(x > 0)),
                   (X23,)),
    "dtypes": (lambda x: (x.astype(np.int32) + 1, x.astype(np.complex128) * 1j,
                          x.astype(np.float16)), (X3,)),
    "integer_pow": (lambda x, n: x ** 3 + n, (X3, 2)),
    "special": (lambda x: lax.lgamma(x * x + 1) + lax.erf(x), (X3,)),
    "nn": (lambda x: nn.softmax(x) + nn.relu(x) + nn.gelu(x), (X23,)),
    "jacobians": (lambda x: (ft.jacfwd(fnp.sin)(x), ft.jacrev(fnp.cos)(x)), (X3,)),
    "nan_inf_literals": (lambda x: fnp.where(fnp.isnan(x), fnp.nan, x) + fnp.inf, (X3,)),
    "array_const": (lambda x: NOISE @ x, (X3,)),
    "concat_pad_flip": (lambda x: fnp.concatenate([fnp.pad(x, 1), fnp.flip(x)]), (X3,)),
}


@pytest.fixture(scope="module")
def corpus():
    return {name: ft.make_jaxpr(f)(*args) for name, (f, args) in CORPUS.items()}


def test_round_trip_is_identity_on_the_corpus(corpus):
    for name, closed in corpus.items():
        loaded = roundtrip(closed)
        f, args = CORPUS[name]
        want = ft.eval_jaxpr(closed.jaxpr, closed.consts, *args)
        got = ft.eval_jaxpr(loaded.jaxpr, loaded.consts, *args)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w, err_msg=name)


def test_shared_sub_programs_stay_shared():
    branch = ft.make_jaxpr(fnp.sin)(1.0)
    closed = ft.make_jaxpr(lambda i, x: lax.switch(i, [fnp.sin, fnp.sin], x))(0, 1.0)
    # build an equation whose two branches are the very same object
    eqn = closed.eqns[-1]
    shared = eqn.replace(params={**eqn.params, "branches": (branch, branch)})
    j = closed.jaxpr
    prog = ClosedJaxpr(Jaxpr(j.constvars, j.invars, j.outvars, j.eqns[:-1] + (shared,)),
                       closed.consts)
    loaded = export.deserialize(export.serialize(prog))
    b0, b1 = loaded.eqns[-1].params["branches"]
    assert b0 is b1
    assert_same_program(prog, loaded)


# A primitive registered outside functrace is found by name too (while its module is imported).
identity_p = ft.core.Primitive("export_test_identity")
ft.core.shape_rules[identity_p] = lambda x, **params: x
ft.core.impl_rules[identity_p] = lambda x, **params: x


def test_params_of_every_kind_round_trip():
    """The type-tagged schema, through a (user-registered) primitive that ignores its params."""
    from functrace.remat import optimization_barrier_p
    params = dict(i=-(2 ** 70), f=0.1, nan=float("nan"), c=1 - 2.5j, b=True, s="name", n=None,
                  t=(1, (2, 3.0)), lst=[1, "a"], d={"k": 1, 2: (3,)},
                  dt=np.dtype(np.float32), ng=np.int16(7), nd=np.arange(6.0).reshape(2, 3),
                  av=ft.ShapedArray((2, 3), np.float32, weak_type=True),
                  prim=optimization_barrier_p, enum=lax.Precision.HIGH,
                  nt=lax.ConvDimensionNumbers((0, 1), (1, 0), (0, 1)),
                  fn=ft.checkpoint_policies.dots_saveable,
                  sub=ft.make_jaxpr(fnp.cos)(1.0), raw=ft.make_jaxpr(fnp.cos)(1.0).jaxpr)
    x = ft.core.Var(ft.ShapedArray((3,), np.float64))
    y = ft.core.Var(ft.ShapedArray((3,), np.float64))
    eqn = ft.core.Eqn(identity_p, [x], [y], params)
    prog = ClosedJaxpr(Jaxpr([], [x], [y], [eqn]), [])
    loaded = export.deserialize(export.serialize(prog))
    assert_same_program(prog, loaded)
    got = loaded.eqns[0].params
    assert got["enum"] is lax.Precision.HIGH and got["fn"] is ft.checkpoint_policies.dots_saveable
    assert type(got["nt"]) is lax.ConvDimensionNumbers and got["av"].weak_type


@settings(max_examples=25)
@given(programs_with_inputs(dtypes=(F32, F64)))
def test_round_trip_on_fuzzer_programs(prog_args):
    prog, args = prog_args
    note(prog.source())
    closed = ft.make_jaxpr(prog.function(fnp))(*args)
    loaded = roundtrip(closed)
    want = ft.eval_jaxpr(closed.jaxpr, closed.consts, *args)
    got = ft.eval_jaxpr(loaded.jaxpr, loaded.consts, *args)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=15)
@given(programs_with_inputs(dtypes=(F32, F64), op_kinds=default_op_kinds(reverse_mode=True)))
def test_round_trip_on_gradients_of_fuzzer_programs(prog_args):
    prog, args = prog_args
    note(prog.source())
    f = prog.function(fnp)

    def total(*xs):
        return sum(fnp.sum(o.astype(np.float64)) for o in f(*xs))

    closed = ft.make_jaxpr(ft.grad(total, argnums=tuple(range(len(args)))))(*args)
    loaded = roundtrip(closed)
    want = ft.eval_jaxpr(closed.jaxpr, closed.consts, *args)
    got = ft.eval_jaxpr(loaded.jaxpr, loaded.consts, *args)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# ---------------------------------------------------------------------------------------------
# Loaded programs are programs: grad, vmap and jit of them
# ---------------------------------------------------------------------------------------------


def loss(params, x):
    return fnp.mean(fnp.tanh(x @ params["w"] + params["b"]) ** 2)


PARAMS = {"w": R.randn(3, 2), "b": R.randn(2)}
XS = R.randn(5, 3)


def test_grad_vmap_and_jit_of_a_loaded_program(corpus):
    loaded = roundtrip(ft.make_jaxpr(loss)(PARAMS, XS))

    def f(w, b, x):
        return ft.eval_jaxpr(loaded.jaxpr, loaded.consts, b, w, x)[0]  # leaves: b, w, x

    want = loss(PARAMS, XS)
    np.testing.assert_allclose(f(PARAMS["w"], PARAMS["b"], XS), want, rtol=1e-14)
    ft.check_grads(f, (PARAMS["w"], PARAMS["b"], XS), order=2)
    np.testing.assert_allclose(ft.grad(f)(PARAMS["w"], PARAMS["b"], XS),
                               ft.grad(loss)(PARAMS, XS)["w"], rtol=1e-12)
    np.testing.assert_allclose(ft.jit(f)(PARAMS["w"], PARAMS["b"], XS), want, rtol=1e-12)
    batched = ft.vmap(f, in_axes=(None, None, 0))(PARAMS["w"], PARAMS["b"], np.stack([XS, XS]))
    np.testing.assert_allclose(batched, [want, want], rtol=1e-12)
    # control flow survives too: grad of a loaded scan program
    scan_prog = roundtrip(corpus["scan"])
    g = ft.grad(lambda c: fnp.sum(ft.eval_jaxpr(scan_prog.jaxpr, scan_prog.consts, c, X3)[1]))
    ft.check_grads(lambda c: fnp.sum(ft.eval_jaxpr(scan_prog.jaxpr, scan_prog.consts, c,
                                                   X3)[1]), (0.7,), order=1)
    np.testing.assert_allclose(g(0.7), ft.grad(lambda c: fnp.sum(scanf(c, X3)[1]))(0.7))


def test_exported_function_round_trip_and_call():
    exp = export.export(ft.jit(ft.value_and_grad(loss)))(PARAMS, XS)
    assert [a.str_short() for a in exp.in_avals] == ["f64[2]", "f64[3,2]", "f64[5,3]"]
    assert [a.str_short() for a in exp.out_avals] == ["f64[]", "f64[2]", "f64[3,2]"]
    loaded = export.deserialize(exp.serialize())
    assert isinstance(loaded, export.Exported)
    assert loaded.fun_name == exp.fun_name and loaded.in_tree == exp.in_tree
    assert loaded.out_tree == exp.out_tree
    assert_same_program(exp.jaxpr, loaded.jaxpr)
    val, grads = loaded.call(PARAMS, XS)
    want_val, want_grads = ft.value_and_grad(loss)(PARAMS, XS)
    np.testing.assert_allclose(val, want_val, rtol=1e-13)
    for k in PARAMS:
        np.testing.assert_allclose(grads[k], want_grads[k], rtol=1e-13)
    # differentiate through the loaded (compiled) function: the Hessian-vector product
    hv = ft.grad(lambda w: fnp.sum(loaded.call({"w": w, "b": PARAMS["b"]}, XS)[1]["w"]))(
        PARAMS["w"])
    want_hv = ft.grad(lambda w: fnp.sum(ft.grad(loss)({"w": w, "b": PARAMS["b"]}, XS)["w"]))(
        PARAMS["w"])
    np.testing.assert_allclose(hv, want_hv, rtol=1e-10)


def test_export_from_shape_specs_and_argument_checks():
    exp = export.export(loss)(PARAMS, ft.ShapeDtypeStruct((5, 3), np.float32))
    assert exp.in_avals[-1] == ft.ShapedArray((5, 3), np.float32)
    with pytest.raises(TypeError, match=r"argument 2 has type f64\[5,3\] but it was exported "
                                        r"for f32\[5,3\]"):
        exp.call(PARAMS, XS)
    with pytest.raises(TypeError, match="expects arguments with structure"):
        exp.call(PARAMS, XS, XS)


def test_exported_optimizer_state_structures_round_trip():
    from functrace import optim
    opt = optim.adam(1e-3)
    state = opt.init(PARAMS)
    exp = export.export(lambda g, s, p: opt.update(g, s, p))(PARAMS, state, PARAMS)
    loaded = export.deserialize(exp.serialize())
    assert loaded.in_tree == exp.in_tree and loaded.out_tree == exp.out_tree
    updates, new_state = loaded.call(PARAMS, state, PARAMS)
    want_updates, want_state = opt.update(PARAMS, state, PARAMS)
    np.testing.assert_allclose(updates["w"], want_updates["w"], rtol=1e-13)
    assert type(new_state[0]) is type(want_state[0])


# ---------------------------------------------------------------------------------------------
# What cannot be exported, and bad payloads
# ---------------------------------------------------------------------------------------------


def test_custom_rules_cannot_be_exported_undifferentiated():
    closed = ft.make_jaxpr(softplus)(X3)
    with pytest.raises(ValueError, match=r"cannot export the program: equation 0 "
                                         r"\(custom_jvp_call\), parameter 'jvp' is the Python "
                                         r"function .*functions are code"):
        export.serialize(closed)
    with pytest.raises(TypeError, match="serialize expects a ClosedJaxpr"):
        export.serialize("not a program")


def test_user_containers_are_refused_with_the_reason():
    Box = collections.namedtuple("Box", ["a"])
    with pytest.raises(ValueError, match="structure contains a .*Box node"):
        export.export(lambda b: b[0] * 2)(Box((X3,))).serialize()


def _payload():
    return export.serialize(ft.make_jaxpr(loss)(PARAMS, XS))


def _repack(doc: dict | bytes, data: bytes = b"") -> bytes:
    text = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    crc = zlib.crc32(data, zlib.crc32(text))
    return struct.pack("<8sIQQI", b"FTEXPORT", 1, len(text), len(data), crc) + text + data


def _doc(payload: bytes) -> tuple[dict, bytes]:
    _, _, n_text, _, _ = struct.unpack_from("<8sIQQI", payload)
    head = struct.calcsize("<8sIQQI")
    return json.loads(payload[head:head + n_text]), payload[head + n_text:]


def test_truncated_and_garbled_payloads_raise_value_error():
    good = _payload()
    for n in (0, 5, 20, 40, len(good) // 2, len(good) - 1):
        with pytest.raises(ValueError, match="not a functrace export|truncated"):
            export.deserialize(good[:n])
    rng = np.random.RandomState(0)
    for _ in range(50):
        bad = bytearray(good)
        for i in rng.randint(0, len(good), size=3):
            bad[i] ^= 1 + rng.randint(255)
        with pytest.raises(ValueError):
            export.deserialize(bytes(bad))
    with pytest.raises(ValueError, match="format version 7 is not supported"):
        export.deserialize(good[:8] + struct.pack("<I", 7) + good[12:])
    with pytest.raises(TypeError, match="deserialize expects bytes"):
        export.deserialize("text")


def test_malicious_payloads_with_valid_checksums_raise_value_error():
    doc, data = _doc(_payload())
    eqn = next(i for i, e in enumerate(doc["programs"][0]["eqns"]) if e[3])

    def variant(edit):
        d = json.loads(json.dumps(doc))
        edit(d)
        return _repack(d, data)

    def set_eqn(field, value):
        def edit(d):
            d["programs"][0]["eqns"][eqn][field] = value
        return edit

    cases = {
        "unknown primitive 'os.system'": set_eqn(0, "os.system"),
        "unknown parameter tag 'pickle'": set_eqn(3, {"x": ["pickle", "cos\nsystem"]}),
        "unknown dtype 'O'": lambda d: d["programs"][0]["invars"][0].__setitem__(0, "O"),
        "used before it is defined": set_eqn(1, [10 ** 6]),
        "not well typed": lambda d: d["programs"][0]["invars"][0].__setitem__(1, [7, 7]),
        "invalid shape": lambda d: d["programs"][0]["invars"][0].__setitem__(1, [-1]),
        "nested too deeply": set_eqn(3, {"x": json.loads("[\"t\", [" * 300 + "]]" * 300)}),
        "not defined before it": lambda d: d.__setitem__("root", 99),
        "unknown named function": set_eqn(3, {"x": ["fn", "os.system"]}),
        "unknown namedtuple": set_eqn(3, {"x": ["nt", "collections.OrderedDict", []]}),
    }
    for message, edit in cases.items():
        with pytest.raises(ValueError, match=message):
            export.deserialize(variant(edit))
    # an array whose bytes lie outside the data section
    cdoc, cdata = _doc(export.serialize(ft.make_jaxpr(lambda x: NOISE @ x)(X3)))
    closed_entry = next(e for e in cdoc["programs"] if "closed" in e)
    closed_entry["consts"][0][2] = 10 ** 9
    with pytest.raises(ValueError, match="outside the data section"):
        export.deserialize(_repack(cdoc, cdata))
    # deeply nested JSON is refused before it can exhaust the stack
    with pytest.raises(ValueError):
        export.deserialize(_repack(b"[" * 100000))


def test_mutated_descriptions_load_or_raise_value_error(corpus):
    """Random edits of the JSON (with a valid checksum): never an error other than ValueError."""
    rng = np.random.RandomState(1)
    alphabet = b'0123456789[]{}",:-tfnLaijdcplsx'
    for name in ("grad_mlp", "grad_scan", "switch", "array_const", "dtypes"):
        payload = export.serialize(corpus[name])
        head = struct.calcsize("<8sIQQI")
        n_text = struct.unpack_from("<8sIQQI", payload)[2]
        text, data = payload[head:head + n_text], payload[head + n_text:]
        digits = [i for i, ch in enumerate(text) if 48 <= ch <= 57]
        for k in range(60):
            bad = bytearray(text)
            for _ in range(rng.randint(1, 4)):
                if k % 2:  # a digit for a digit: still JSON, so the decoder's checks are hit
                    bad[digits[rng.randint(len(digits))]] = 48 + rng.randint(10)
                else:
                    bad[rng.randint(len(bad))] = alphabet[rng.randint(len(alphabet))]
            try:
                loaded = export.deserialize(_repack(bytes(bad), data))
            except ValueError:
                continue
            ft.check_jaxpr(loaded)  # whatever loads is a well-typed program


def _cond_chain(n: int) -> ClosedJaxpr:
    """n programs, each a cond whose two branches are the previous program (shared)."""
    from functrace.control_flow.cond import cond_p
    from functrace.core import Eqn, Var
    prog = ft.make_jaxpr(lambda i, x: fnp.sin(x))(np.int32(0), 1.0)
    for _ in range(n):
        i, x = Var(prog.in_avals[0]), Var(prog.in_avals[1])
        y = Var(prog.out_avals[0])
        prog = ClosedJaxpr(Jaxpr([], [i, x], [y], [Eqn(cond_p, [i, i, x], [y],
                                                        {"branches": (prog, prog)})]), [])
    return prog


def test_shared_sub_programs_load_in_linear_time_and_nesting_is_bounded():
    import time
    # 2**60 paths through the sub-programs, 61 programs in the payload
    payload = export.serialize(_cond_chain(60))
    t0 = time.perf_counter()
    loaded = export.deserialize(payload)
    assert time.perf_counter() - t0 < 5
    inner = loaded.eqns[0].params["branches"]
    assert inner[0] is inner[1]
    with pytest.raises(ValueError, match="nested more than 100 deep"):
        export.deserialize(export.serialize(_cond_chain(120)))
