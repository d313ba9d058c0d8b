#!/usr/bin/env python3
"""The uniform-law thresholds of damcap, written with scipy, for timing.

Computes alpha_1(lambda) and the alpha_c(lambda) lower bound of patterns
with i.i.d. uniform entries (standardised to [-sqrt 3, sqrt 3]) on the
200-point log grid lambda in [0.05, 20], with the same method as damcap
(theory/src/empirical.rs): quadrature (scipy.integrate.quad), roots
(scipy.optimize.brentq) and 1-D maxima (scipy.optimize.minimize_scalar),
reusing the lambda-independent table of G(t) = sup_theta Psi(t, theta)
across the scan as damcap does.

Run from the repository root (numpy and scipy needed, not part of CI):

    python3 bench/scipy_uniform.py [--check plots/laws.csv]

and compare with

    time damcap scan --ensemble configs/ensembles/uniform.toml \
        --lambda-min 0.05 --lambda-max 20 --points 200 --log

It prints wall and CPU seconds, and with --check the largest difference
from damcap's uniform rows of a CSV on the same grid.
"""

import argparse
import csv
import math
import time
import warnings

import numpy as np
from scipy.integrate import IntegrationWarning, quad
from scipy.optimize import brentq, minimize_scalar

C = math.sqrt(3.0)  # half-width of the standardised uniform law
LOG_T_STEP = 0.125
LOG_T_SPAN = 9.0
ROUTE_B_LOG_T = (-6.0, 9.0)
W_MAX = 1.0 - 1e-9
W_ROUTE_B = 0.5
XTOL = 1e-10


def kappa(s):
    """ln E exp(s b) = ln(sinh(C s) / (C s)) and its derivative in s."""
    x = abs(C * s)
    if x < 1e-2:
        x2 = x * x
        value = x2 / 6 - x2 * x2 / 180 + x2**3 / 2835
        slope = C * (C * s / 3 - C * s * x2 / 45)
        return value, slope
    value = x + math.log1p(-math.exp(-2 * x)) - math.log(2 * x)
    return value, C * (1 / math.tanh(C * s) - 1 / (C * s))


def expect(f, breaks=(0.0,)):
    """E_a f(a) over the uniform law, by quad between break points."""
    points = sorted({-C, C, *(b for b in breaks if -C < b < C)})
    total = sum(quad(f, a, b, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
                for a, b in zip(points, points[1:]))
    return total / (2 * C)


def cgf(t):
    return expect(lambda a: kappa(t * a)[0])


def cgf_slope(t):
    return expect(lambda a: a * kappa(t * a)[1])


def alpha_1(lam):
    t = lam if cgf_slope(lam) <= 1 else brentq(lambda t: cgf_slope(t) - 1, 0.0, lam, xtol=1e-15)
    return t - cgf(t)


def h(t, a):
    return kappa(t * a)[0] - t * a * a


def ln_expect_exp(g):
    """ln E exp(g(a)) for a possibly sharply peaked g: the peak is found on
    a grid and refined, and quad gets break points at the peak and 40 peak
    widths either side, as damcap does."""
    grid = np.linspace(-C, C, 257)
    k = int(np.argmax([g(a) for a in grid]))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    res = minimize_scalar(lambda a: -g(a), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-12})
    peak = res.x if -res.fun >= g(grid[k]) else grid[k]
    shift = g(peak)
    step = 1e-4 * (1 + abs(peak))
    curvature = (g(peak + step) - 2 * shift + g(peak - step)) / step**2
    breaks = [0.0, peak]
    if curvature < 0:
        reach = 40 / math.sqrt(-curvature)
        breaks += [peak - reach, peak + reach]
    return shift + math.log(expect(lambda a: math.exp(g(a) - shift), breaks))


def best_over_theta(t, w_max):
    """sup over theta = w / (1 - w), w in [0, w_max], of Psi(t, theta)."""

    def psi(w):
        theta = w / (1 - w)
        return -ln_expect_exp(lambda a: theta * h(t, a)) / (1 + theta)

    res = minimize_scalar(lambda w: -psi(w), bounds=(0.0, w_max), method="bounded",
                          options={"xatol": XTOL})
    return max(-res.fun, psi(0.0), psi(w_max))


def maximise_over_log_t(f, lo, hi):
    """Best grid point in ln t, refined over its two cells."""
    count = math.ceil((hi - lo) / LOG_T_STEP)
    grid = [lo + (hi - lo) * k / count for k in range(count + 1)]
    values = [f(x) for x in grid]
    k = int(np.argmax(values))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, count)]
    res = minimize_scalar(lambda x: -f(x), bounds=(a, b), method="bounded",
                          options={"xatol": XTOL})
    return max(values[k], -res.fun)


def route_a_table():
    """G(t) on the fixed ln t grid, with refined interior maxima."""
    lo = ROUTE_B_LOG_T[0] - LOG_T_SPAN
    count = round((ROUTE_B_LOG_T[1] - lo) / LOG_T_STEP)
    grid = [(lo + LOG_T_STEP * k, best_over_theta(math.exp(lo + LOG_T_STEP * k), W_MAX))
            for k in range(count + 1)]
    peaks = []
    for (x0, g0), (x1, g1), (x2, g2) in zip(grid, grid[1:], grid[2:]):
        if g1 >= g0 and g1 >= g2 and (g1 > g0 or g1 > g2):
            res = minimize_scalar(lambda x: -best_over_theta(math.exp(x), W_MAX),
                                  bounds=(x0, x2), method="bounded", options={"xatol": XTOL})
            peaks.append((res.x, max(-res.fun, g1)))
    return grid, peaks


def alpha_c(lam, a1, table, alpha_b):
    grid, peaks = table
    hi = min(math.log(lam), ROUTE_B_LOG_T[1])
    lo = min(hi - LOG_T_SPAN, ROUTE_B_LOG_T[0])
    inside = [g for x, g in grid + peaks if lo <= x <= hi]
    ends = [best_over_theta(math.exp(x), W_MAX) for x in (lo, hi)]
    alpha_a = max(inside + ends)
    return min(a1, alpha_a, alpha_b)


def main():
    # quad warns where 1e-14 is beyond rounding; the check against damcap
    # (--check) shows the values are right to about 1e-13.
    warnings.simplefilter("ignore", IntegrationWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", help="CSV with damcap's rows for ensemble 'uniform'")
    parser.add_argument("--points", type=int, default=200)
    args = parser.parse_args()
    lambdas = np.geomspace(0.05, 20.0, args.points)
    wall, cpu = time.perf_counter(), time.process_time()
    alpha_b = maximise_over_log_t(lambda x: best_over_theta(math.exp(x), W_ROUTE_B),
                                  *ROUTE_B_LOG_T)
    table = route_a_table()
    rows = []
    for lam in lambdas:
        a1 = alpha_1(lam)
        rows.append((lam, a1, alpha_c(lam, a1, table, alpha_b)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"scipy, uniform law: {len(lambdas)} lambda points in [0.05, 20]")
    print(f"  wall {wall:.2f} s, cpu {cpu:.2f} s, {1e6 * wall / len(lambdas):.0f} us/point")
    if args.check:
        with open(args.check) as f:
            theirs = [r for r in csv.DictReader(f) if r["ensemble"] == "uniform"]
        worst = 0.0
        for (lam, a1, ac), r in zip(rows, theirs):
            assert abs(float(r["lambda"]) - lam) < 1e-9 * lam, (r["lambda"], lam)
            worst = max(worst, abs(float(r["alpha_1"]) - a1), abs(float(r["alpha_c_lower"]) - ac))
        print(f"  largest difference from {args.check}: {worst:.1e} over {len(theirs)} rows")


if __name__ == "__main__":
    main()
