"""The arima model's Kalman step, compiled: one numba call per run.

With the fitted, time-invariant state-space matrices (m states) a step is the conventional
filter update of statsmodels' SARIMAX (README §4: the forecast of row j reads rows < j):

    f = Z a + d,  F = Z P Z' + H,  K = P Z' / F
    a <- T (a + K (y - f)) + c,  P <- T (P - K F K') T' + R Q R'

and the next forecast `Z a + d`, back-transformed (log1p: exp(f) * smearing - 1) and clipped
at 0. `pack` lays the matrices, the state and scratch in one float64 array; `meta` holds m and
the transform. A few m x m products in plain loops: m is p + q + 1 at most 8 or so.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# the float64 array: scalars, then the vectors and matrices (offsets from m)
D, H, SMEARING = range(3)
SCALARS = 3


def pack(
    *,
    Z: np.ndarray,
    d: float,
    H: float,
    T: np.ndarray,
    c: np.ndarray,
    RQR: np.ndarray,
    a: np.ndarray,
    P: np.ndarray,
    smearing: float,
    log1p: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(meta, weights) for `kalman_step` / `kalman_forecast`: meta = [m, log1p]."""
    m = len(a)
    scratch = np.zeros(3 * m + m * m)  # PZ, K, a_f; P_f (then T P_f)
    weights = np.concatenate(
        [[d, H, smearing], Z, T.ravel(), c, RQR.ravel(), a, P.ravel(), scratch]
    ).astype(np.float64)
    return np.array([m, int(log1p)], dtype=np.int64), weights


@njit(cache=True, error_model="numpy")
def kalman_forecast(meta, w):
    """The next run's delta: the forecast Z a + d, back-transformed and clipped at 0."""
    m = meta[0]
    z, a = w[SCALARS : SCALARS + m], _vectors(w, m)[0]
    f = w[D]
    for i in range(m):
        f += z[i] * a[i]
    if meta[1]:
        f = math.exp(f) * w[SMEARING] - 1.0
    return max(f, 0.0)


@njit(inline="always")
def _vectors(w, m):
    """Views of a, P, PZ, K, a_f, P_f in the weights (after Z, T, c, RQR)."""
    at = SCALARS + m + m * m + m + m * m
    a = w[at : at + m]
    p = w[at + m : at + m + m * m].reshape((m, m))
    at += m + m * m
    return (
        a,
        p,
        w[at : at + m],
        w[at + m : at + 2 * m],
        w[at + 2 * m : at + 3 * m],
        (w[at + 3 * m : at + 3 * m + m * m].reshape((m, m))),
    )


@njit(cache=True, error_model="numpy")
def kalman_step(meta, w, delta_us):
    """Filter the run that ended (its delta, log1p'd where the model is) and return the next
    forecast."""
    m = meta[0]
    y = math.log1p(delta_us) if meta[1] else delta_us
    z = w[SCALARS : SCALARS + m]
    t = w[SCALARS + m : SCALARS + m + m * m].reshape((m, m))
    c = w[SCALARS + m + m * m : SCALARS + 2 * m + m * m]
    rqr = w[SCALARS + 2 * m + m * m : SCALARS + 2 * m + 2 * m * m].reshape((m, m))
    a, p, pz, k, a_f, p_f = _vectors(w, m)
    f = w[D]
    big_f = w[H]
    for i in range(m):
        f += z[i] * a[i]
    for i in range(m):
        s = 0.0
        for j in range(m):
            s += p[i, j] * z[j]
        pz[i] = s
    for i in range(m):
        big_f += z[i] * pz[i]
    for i in range(m):
        k[i] = pz[i] / big_f
        a_f[i] = a[i] + k[i] * (y - f)
    for i in range(m):
        for j in range(m):
            p_f[i, j] = p[i, j] - k[i] * pz[j]
    for i in range(m):  # a = T a_f + c
        s = c[i]
        for j in range(m):
            s += t[i, j] * a_f[j]
        a[i] = s
    for i in range(m):  # P = T P_f T' + RQR, T P_f first (into P)
        for j in range(m):
            s = 0.0
            for q in range(m):
                s += t[i, q] * p_f[q, j]
            p[i, j] = s
    for i in range(m):  # (T P_f) T' into P_f, then P_f + RQR into P
        for j in range(m):
            s = 0.0
            for q in range(m):
                s += p[i, q] * t[j, q]
            p_f[i, j] = s
    for i in range(m):
        for j in range(m):
            p[i, j] = p_f[i, j] + rqr[i, j]
    return kalman_forecast(meta, w)
