"""Derive the polynomial coefficients used by ``functrace/backend/vecmath.py``.

Every approximation in vecmath is a polynomial in a reduced argument, fitted here with the Remez
exchange algorithm in 60-digit mpmath arithmetic, minimising the *weighted* error that matters
for the final result (usually relative error of the function, see each ``Fit``), then rounded
to the target dtype. Run ``python benchmarks/fit_vecmath.py`` to print the coefficient tables
(as hex floats, which vecmath pastes verbatim) and each fit's minimax error in ulps of the target
precision. Needs mpmath (a test/dev-only dependency).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import mpmath as mp
import numpy as np

mp.mp.dps = 60


@dataclass
class Fit:
    """Approximate ``target(t) ~ sum_j c_j * t**(first + j)`` for t in [a, b] (j < n).

    The quantity minimised is ``max |weight(t) * (target(t) - poly(t))|``: weight converts the
    polynomial's error into the relative error of the function being approximated.
    """

    name: str
    target: Callable
    weight: Callable
    a: float
    b: float
    n: int
    first: int = 0
    dtype: str = "float64"  # precision of the result (ulps are reported in it)
    coef_dtype: str = ""  # precision the coefficients are rounded to (default: dtype)
    shift: float = 0.0  # the polynomial variable is t - shift


def _away_from_zero(t):
    # targets like (exp(r) - 1 - r) / r^2 cancel catastrophically at tiny r even in 60 digits
    tiny = mp.mpf(10) ** -12
    return t if abs(t) >= tiny else (tiny if t >= 0 else -tiny)


def remez(fit: Fit, grid_size: int = 3000, iters: int = 40):
    """Weighted minimax polynomial by the Remez exchange algorithm; returns (coeffs, max error)."""
    a, b, n = mp.mpf(fit.a), mp.mpf(fit.b), fit.n
    # Chebyshev-clustered grid; endpoints included, exact zero avoided (targets are removable
    # singularities there and are evaluated through mpmath at high precision instead).
    grid = [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * (i + mp.mpf(0.5) * (i == 0)) / grid_size)
            for i in range(grid_size + 1)]
    grid = [_away_from_zero(g) for g in grid]
    fv = [fit.target(g) for g in grid]
    wv = [fit.weight(g) for g in grid]
    powers = [[(g - fit.shift) ** (fit.first + j) for j in range(n)] for g in grid]
    ref = [int(round(grid_size * i / n)) for i in range(n + 1)]
    best = None
    for _ in range(iters):
        m = mp.matrix(n + 1, n + 1)
        rhs = mp.matrix(n + 1, 1)
        for i, gi in enumerate(ref):
            for j in range(n):
                m[i, j] = powers[gi][j]
            m[i, n] = (-1) ** i / wv[gi]
            rhs[i] = fv[gi]
        sol = mp.lu_solve(m, rhs)
        c = [sol[j] for j in range(n)]
        err = [wv[i] * (fv[i] - mp.fsum(cj * pj for cj, pj in zip(c, powers[i])))
               for i in range(len(grid))]
        emax = max(abs(e) for e in err)
        if best is None or emax < best[1]:
            best = (c, emax)
        # new reference: the extremum of each run of equal sign, trimmed to n + 1 points
        runs, start = [], 0
        for i in range(1, len(err) + 1):
            if i == len(err) or (err[i] >= 0) != (err[start] >= 0):
                runs.append(max(range(start, i), key=lambda k: abs(err[k])))
                start = i
        while len(runs) > n + 1:
            runs.pop(0 if abs(err[runs[0]]) < abs(err[runs[-1]]) else -1)
        if len(runs) < n + 1:
            break
        if abs(emax - abs(sol[n])) < emax * mp.mpf(1e-6):
            break
        ref = runs
    return best


def rounded_error(fit: Fit, coeffs: list[float], samples: int = 2000) -> float:
    """Max weighted error with coefficients rounded to the target dtype, in its ulps."""
    a, b = mp.mpf(fit.a), mp.mpf(fit.b)
    worst = mp.mpf(0)
    for i in range(samples + 1):
        t = a + (b - a) * i / samples
        t = _away_from_zero(t)
        p = mp.fsum(mp.mpf(c) * (t - fit.shift) ** (fit.first + j) for j, c in enumerate(coeffs))
        worst = max(worst, abs(fit.weight(t) * (fit.target(t) - p)))
    eps = 2.0 ** -53 if fit.dtype == "float64" else 2.0 ** -24
    return float(worst) / eps


def _sqrt(z):
    return mp.sqrt(z)


def fits() -> list[Fit]:
    ln2h = float(mp.log(2)) / 2 * (1 + 2 ** -20)
    pio4 = float(mp.pi / 4) * (1 + 2 ** -20)
    smax2 = float(((mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)) ** 2) * (1 + 2 ** -20)

    def exp_t(r):
        return (mp.exp(r) - 1 - r) / r ** 2

    def rel(target):
        # relative error of the fitted part: it enters the function multiplied by a factor
        # below 1 (r^2, r^3/sin r, ...), so this bounds the function's relative error too
        return lambda t: 1 / abs(target(t))

    def log_t(z):  # log(1+f) = 2s + s*R(s^2) with s = f/(2+f)
        s = mp.sqrt(z)
        return 2 * mp.atanh(s) / s - 2

    def tanh_t(z):
        x = mp.sqrt(z)
        return (mp.tanh(x) - x) / x ** 3

    def tanh_w(z):  # error of q enters tanh as |x|^3 q_err: relative to tanh itself
        x = mp.sqrt(z)
        return x ** 3 / mp.tanh(x)

    def log2_t(z):  # log2(1+f) = s * q(s^2) (pow float32)
        s = mp.sqrt(z)
        return 2 * mp.atanh(s) / s / mp.log(2)

    def exp2_t(r):
        return mp.power(2, r)

    def log2q_t(r):
        return (mp.log(1 + r, 2) - r / mp.log(2)) / r ** 2

    def exp2m1r_t(r):
        return (mp.power(2, r) - 1) / r

    l32 = float(mp.log(2)) / 32 * (1 + 2 ** -20)

    def ln1p_t(r):
        return (mp.log1p(r) - r + r * r / 2) / r ** 3

    def sin_t(z):
        r = mp.sqrt(z)
        return (mp.sin(r) - r) / r ** 3

    def cos_t(z):
        return (mp.cos(mp.sqrt(z)) - 1 + z / 2) / z ** 2

    def erf_t(z):
        x = mp.sqrt(z)
        return mp.erf(x) / x

    def erfcx_t(x):
        return mp.erfc(x) * mp.exp(x * x)

    def erfcx_w(x):  # error of exp(-x^2) * p(x) measured relative to erf(x)
        return mp.exp(-x * x) / mp.erf(x)

    f64, f32 = "float64", "float32"
    return [
        # exp(r) = 1 + r + r^2 * q(r), |r| <= ln2/2 (also expm1's kernel)
        Fit("EXP_F64", exp_t, rel(exp_t), -ln2h, ln2h, 11, 0, f64),
        Fit("EXP_F32", exp_t, rel(exp_t), -ln2h, ln2h, 5, 0, f32),
        # log(1+f) = 2s + s*R(s^2), s = f/(2+f), f in [sqrt(1/2)-1, sqrt(2)-1]
        Fit("LOG_F64", log_t, lambda z: mp.mpf(0.5), 0, smax2, 7, 1, f64),
        Fit("LOG_F32", log_t, lambda z: mp.mpf(0.5), 0, smax2, 3, 1, f32),
        # pow needs log to ~2^-64: a longer R whose leading coefficient is kept double-double
        Fit("LOGPOW_F64", log_t, lambda z: mp.mpf(0.5) * 2 ** 11, 0, smax2, 10, 1, f64),
        # pow float32 = 2^(y log2|x|) in float64: |y log2 x| <= 150 before float32 over/underflow,
        # so log2's relative error is weighted by 128 (errors in float32 ulps of the result)
        Fit("LOG2POW_F32", log2_t, lambda z: 128 / log2_t(z), 0, smax2, 5, 0, f32, f64),
        Fit("EXP2POW_F32", exp2_t, lambda r: 1 / exp2_t(r), -0.5 * (1 + 2 ** -20),
            0.5 * (1 + 2 ** -20), 7, 0, f32, f64),
        # the table-driven float32 pow of vecblocks.py, in float32: log2(1+r) = r/ln2 + r^2 q(r)
        # on the reduced range of its 16-entry 1/c table, weighted by 64 ln2 r^2 (the result's
        # error at its largest fast-path exponent, |y| = 64); 2^r = 1 + r e(r), |r| < 0.08
        # (1/32 from the rounding of w, plus y times the low part of log2 x)
        Fit("LOG2Q_F32", log2q_t, lambda r: 64 * r * r * mp.log(2), *_pow_table_range(), 4, 0,
            f32),
        Fit("EXP2E_F32", exp2m1r_t, lambda r: abs(r) / mp.power(2, r), -0.08, 0.08, 4, 0, f32),
        # the float64 pow of vecblocks.py: ln(1+r) = r - r^2/2 + r^3 p(r) on the same reduced
        # range, weighted by |w| <= 745 (relative error of ln x near 1 times the largest
        # finite y ln x); e^r = 1 + r + r^2 e(r), |r| <= ln2/32
        Fit("LN1P_F64", ln1p_t, lambda r: 745 * abs(r) ** 3 / abs(mp.log1p(r)),
            *_pow_table_range(64), 9, 0, f64),
        Fit("EXPM1_F64", exp_t, lambda r: r * r / mp.exp(r), -l32, l32, 5, 0, f64),
        # tanh(x) = x + x^3 q(x^2), |x| < TANH_SPLIT (float32: TANH_SPLIT_F32)
        Fit("TANH_F64", tanh_t, rel(tanh_t), 0, TANH_SPLIT ** 2, 12, 0, f64),
        Fit("TANH_F32", tanh_t, tanh_w, 0, TANH_SPLIT_F32 ** 2, 7, 0, f32),
        # sin(r) = r + r^3 q(r^2), cos(r) = 1 - r^2/2 + r^4 q(r^2), |r| <= pi/4; the float32
        # versions are evaluated in float64 (their argument reduction is done there)
        Fit("SIN_F64", sin_t, rel(sin_t), 0, pio4 ** 2, 7, 0, f64),
        Fit("COS_F64", cos_t, rel(cos_t), 0, pio4 ** 2, 7, 0, f64),
        Fit("SIN_F32", sin_t, rel(sin_t), 0, pio4 ** 2, 4, 0, f32, f64),
        Fit("COS_F32", cos_t, rel(cos_t), 0, pio4 ** 2, 4, 0, f32, f64),
        # float32 sin/cos block kernel (vecmath.trig_block_f32), evaluated in float32:
        # sin r = r + r^3 q(r^2), cos r = 1 + r^2 (-1/2 + r^2 q(r^2))
        Fit("SINK_F32", sin_t, rel(sin_t), 0, pio4 ** 2, 4, 0, f32),
        Fit("COSK_F32", cos_t, rel(cos_t), 0, pio4 ** 2, 3, 0, f32),
        # erf(x) = x * q(x^2) for |x| < ERF_SPLIT (float32 erf is evaluated in float64)
        Fit("ERF_F64", erf_t, rel(erf_t), 0, ERF_SPLIT ** 2, 12, 0, f64),
        # erf(x) = 1 - exp(-x^2) * p(x - shift) for ERF_SPLIT <= x <= ERF_MAX
        Fit("ERFC_F64", erfcx_t, erfcx_w, ERF_SPLIT, ERF_MAX, 23, 0, f64, shift=ERFC_SHIFT),
    ]


def _pow_table_range(bits: int = 32) -> tuple[float, float]:
    """The range of r = z/c - 1 over vecblocks' float32 or float64 pow table (widened)."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    from functrace.backend import vecblocks

    table = vecblocks.pow_table_f32() if bits == 32 else vecblocks.pow_table_f64()
    lo, hi = table[-1]
    return lo * (1 + 2 ** -20), hi * (1 + 2 ** -20)


def pow_constants_f64() -> dict[str, list[float]]:
    """The float64 pow's double-double constants: ln c for its 1/c table and 2^(j/16), each as
    (hi, lo), and ln2/16 split so that n * hi is exact for |n| < 2^15."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    from functrace.backend.vecblocks import pow_table_f64

    def split(v):
        hi = float(v)
        return hi, float(v - mp.mpf(hi))

    ln_c = [split(-mp.log(mp.mpf(ic))) for ic in pow_table_f64()[0]]
    exp2 = [split(mp.power(2, mp.mpf(j) / 16)) for j in range(16)]
    l16 = mp.log(2) / 16
    l16_hi = float(mp.mpf(int(l16 * 2 ** 42)) / 2 ** 42)
    return {"POW_LN_C_HI_F64": [h for h, _ in ln_c], "POW_LN_C_LO_F64": [lo for _, lo in ln_c],
            "POW_EXP2_HI_F64": [h for h, _ in exp2], "POW_EXP2_LO_F64": [lo for _, lo in exp2],
            "POW_LN2_16_F64": [l16_hi, float(l16 - mp.mpf(l16_hi))]}


TANH_SPLIT = 0.625  # |x| below: odd polynomial; above: 1 - 2/(exp(2|x|) + 1)
TANH_SPLIT_F32 = 1.0  # float32: a longer polynomial, and a cheaper exp above (its error damped)
ERF_SPLIT = 1.0  # |x| below: odd polynomial; above: 1 - exp(-x^2) * erfcx polynomial
ERF_MAX = 6.0  # erf rounds to 1 beyond (float32 erf is computed in float64)
ERFC_SHIFT = 3.5  # middle of [ERF_SPLIT, ERF_MAX]


def _round(c, dtype: str) -> float:
    return float(c) if dtype == "float64" else float(np.float32(float(c)))


def _tuple_source(name: str, values: list[float]) -> str:
    """``NAME = (v0, v1, ...)`` wrapped at 100 columns; repr round-trips floats exactly."""
    lines, line = [], "    "
    for v in values:
        item = repr(v) + ", "
        if len(line) + len(item) > 99:
            lines.append(line.rstrip())
            line = "    "
        line += item
    lines.append(line.rstrip())
    return f"{name} = (\n" + "\n".join(lines) + "\n)"


def _lawson(basis: np.ndarray, target: np.ndarray, weight: np.ndarray,
            iters: int = 60) -> np.ndarray:
    """Weighted minimax coefficients by Lawson's iteratively reweighted least squares (float64:
    ample for float32 targets, and fast enough for dozens of piecewise fits)."""
    lw = np.full(target.size, 1.0 / target.size)
    for _ in range(iters):
        sw = np.sqrt(lw)[:, None]
        c = np.linalg.lstsq(basis * weight[:, None] * sw, target * weight * sw[:, 0],
                            rcond=None)[0]
        err = np.abs((basis @ c - target) * weight)
        lw = lw * err
        lw /= lw.sum()
    return c


def tanh_table_f32() -> tuple[list[float], list[list[float]]]:
    """The piecewise float32 tanh of vecblocks: interval j >= 1 covers a quarter binade of |x|,
    [s_j, s_{j+1}) with s_j the float whose bits are (TANH_TABLE_BASE + j) << 21, interval 0 is
    [0, s_1). Returns (s_j, coefficient tables c_k[j]) for tanh |x| = sum_k c_k[j] (|x| - s_j)^k,
    k < 8.

    Interval 0 is odd, |x| + |x|^3 q(x^2) with c_0 = c_2 = ... = 0 and c_1 = 1 (exact for tiny
    x). The others minimise the relative error, rounding the coefficients to float32 one at a
    time from c_0 (which carries most of the value) and refitting the rest around each rounded
    one, so that rounding costs little accuracy.
    """
    import struct

    def f32_from_bits(b):
        return struct.unpack("<f", struct.pack("<i", b))[0]

    starts = [0.0] + [f32_from_bits((TANH_TABLE_BASE + j) << 21) for j in range(1, 33)]
    nodes = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, 2000))  # Chebyshev-clustered on [0, 1]
    shifts, coeffs = [], []
    for j in range(32):
        lo, hi = starts[j], starts[j + 1]
        if j == 0:
            x = hi * nodes[1:]
            basis = np.stack([x ** 3, x ** 5, x ** 7], axis=1)
            q = _lawson(basis, np.tanh(x) - x, 1 / np.tanh(x))
            c = [0.0, 1.0, 0.0, q[0], 0.0, q[1], 0.0, q[2]]
            c = [_round(v, "float32") for v in c]
        elif lo >= 10.0:  # tanh rounds to 1 beyond 9.01
            c = [1.0] + [0.0] * 7
        else:
            x = lo + (hi - lo) * nodes
            t = x - lo
            basis = np.stack([t ** k for k in range(8)], axis=1)
            target, weight = np.tanh(x), 1 / np.tanh(x)
            c = []
            for k in range(8):
                free = _lawson(basis[:, k:], target - basis[:, :k] @ np.array(c), weight)
                c.append(_round(free[0], "float32"))
        shifts.append(lo)
        coeffs.append(c)
    return shifts, [[coeffs[j][k] for j in range(32)] for k in range(8)]


TANH_TABLE_BASE = (123 << 23) >> 21  # interval 1 starts at 2^-4 * 1.25


def main(names: list[str]) -> None:
    for fit in fits():
        if names and not any(n in fit.name for n in names):
            continue
        coeffs, err = remez(fit)
        rc = [_round(c, fit.coef_dtype or fit.dtype) for c in coeffs]
        eps = 2.0 ** -53 if fit.dtype == "float64" else 2.0 ** -24
        print(f"# {fit.name}: {fit.n} coefficients on [{fit.a:.6g}, {fit.b:.6g}], minimax "
              f"{float(err) / eps:.3g} ulp, rounded {rounded_error(fit, rc, 400):.3g} ulp")
        print(_tuple_source(fit.name, rc))
        if fit.name == "LOGPOW_F64":
            lo = float(coeffs[0] - mp.mpf(rc[0]))
            print(f"{fit.name}_C1_LO = {lo!r}")
        sys.stdout.flush()
    if not names or "POW_CONST" in names:
        print("# pow_constants_f64(): double-double tables of the float64 pow (vecblocks.py)")
        for name, values in pow_constants_f64().items():
            print(_tuple_source(name, values))
    if not names or "TANH_TABLE" in names:
        shifts, tables = tanh_table_f32()
        print("# tanh_table_f32(): float32 piecewise tanh (vecblocks.py)")
        print(_tuple_source("TANH_SHIFTS_F32", shifts))
        for k, t in enumerate(tables):
            print(_tuple_source(f"TANH_C{k}_F32", t))

if __name__ == "__main__":
    main(sys.argv[1:])
