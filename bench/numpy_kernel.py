#!/usr/bin/env python3
"""The score kernel as a numpy user would write it, for timing.

Scores s = A x of P patterns of dimension N against one state, with A in
float32 (the storage damcap uses) and x in float32 (numpy's matvec then
accumulates in float32 through OpenBLAS sgemv; damcap accumulates in
float64), one thread. Prints the best of 5 passes in GB/s of matrix read,
to compare with the "score kernel" lines of `damcap bench` (same N and P
defaults, N = 64, P = 2^20).

Run from the repository root (numpy needed, not part of CI):

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python3 bench/numpy_kernel.py [--n 64] [--patterns 1048576]
"""

import argparse
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--patterns", type=int, default=1 << 20)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    a = rng.standard_normal((args.patterns, args.n), dtype=np.float32)
    x = a[0].copy()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        s = a @ x
        best = min(best, time.perf_counter() - start)
    assert s.shape == (args.patterns,)
    gbs = a.nbytes / best / 1e9
    print(f"numpy f32 matvec: N = {args.n}, P = {args.patterns}: {best * 1e3:.1f} ms, {gbs:.2f} GB/s")


if __name__ == "__main__":
    main()
