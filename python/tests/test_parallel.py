"""Arrays are evaluated by several threads with the GIL released, and the
numbers do not depend on the thread count."""

import os
import subprocess
import sys
import threading
import time

import numpy as np

import damcap

# 10^5 points: alpha_c_lower of the binary ensemble over a lambda grid,
# in a fresh process whose thread pool has the given size.
CHILD = """
import sys, numpy as np, damcap
out = damcap.alpha_c_lower("binary", np.linspace(0.05, 8.0, 100_000))
np.save(sys.argv[1], out)
print(damcap.thread_count(), damcap.threads_used())
"""


def evaluate_in_child(threads: int, out) -> tuple:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(out)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    pool, used = map(int, done.stdout.split())
    return pool, used, np.load(out)


def test_a_large_array_is_shared_among_threads(tmp_path):
    pool, used, parallel = evaluate_in_child(4, tmp_path / "four.npy")
    assert pool == 4
    # Rayon splits 10^5 points into many tasks; idle workers steal them.
    assert used >= 2, f"only {used} of 4 threads evaluated points"
    pool, used, serial = evaluate_in_child(1, tmp_path / "one.npy")
    assert (pool, used) == (1, 1)
    np.testing.assert_array_equal(parallel, serial)


def test_the_gil_is_released_during_evaluation():
    # Gaussian alpha_c (a root per point, tens of microseconds) keeps the
    # call long enough to count ticks in it.
    lams = np.linspace(0.05, 8.0, 40_000)
    window = {}

    def work():
        window["start"] = time.perf_counter()
        damcap.alpha_c_lower("gaussian", lams)
        window["end"] = time.perf_counter()

    worker = threading.Thread(target=work)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    start, end = window["start"], window["end"]
    # Away from the call's edges, where the worker holds the GIL to convert
    # arguments and results, this thread keeps running only if the
    # evaluation has let the GIL go.
    margin = 0.1 * (end - start)
    inside = [t for t in ticks if start + margin < t < end - margin]
    assert len(inside) >= 10, f"{len(inside)} ticks in a {end - start:.3f} s call"
