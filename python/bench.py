"""Time per point of `damcap.scan` on a 10^4-point lambda grid, against the
CLI's `damcap scan` of the same points (its own process, CSV to a file),
both measured in this run; the median of three alternating repetitions.
Also checks that both give the same numbers.

    python python/bench.py [path/to/damcap]   (default: target/release/damcap)
"""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import damcap

POINTS = 10_000
LAMBDA_MIN, LAMBDA_MAX = 0.05, 8.0
ENSEMBLES = ["gaussian", "spherical", "binary", "configs/ensembles/ternary.toml"]
REPEATS = 3


def cli_scan(cli: str, ensemble: str, out: Path) -> float:
    """Seconds for `damcap scan` of the grid, written to `out`."""
    args = [cli, "scan", "--ensemble", ensemble, "--points", str(POINTS)]
    args += ["--lambda-min", str(LAMBDA_MIN), "--lambda-max", str(LAMBDA_MAX)]
    start = time.perf_counter()
    subprocess.run([*args, "--out", str(out)], check=True)
    return time.perf_counter() - start


def python_scan(ensemble: str, lams: np.ndarray) -> tuple:
    """Seconds for `damcap.scan` of the same points, and its table."""
    start = time.perf_counter()
    table = damcap.scan(ensemble, lams)
    return time.perf_counter() - start, table


def main() -> None:
    cli = sys.argv[1] if len(sys.argv) > 1 else "target/release/damcap"
    print(f"{POINTS} points, lambda in [{LAMBDA_MIN}, {LAMBDA_MAX}], {damcap.thread_count()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scan.csv"
        for ensemble in ENSEMBLES:
            cli_times, py_times = [], []
            for _ in range(REPEATS):
                cli_times.append(cli_scan(cli, ensemble, out))
                csv = np.genfromtxt(out, delimiter=",", names=True, dtype=None, encoding=None)
                seconds, table = python_scan(ensemble, csv["lambda"])
                py_times.append(seconds)
            assert np.array_equal(table["alpha_1"], csv["alpha_1"]), ensemble
            assert np.array_equal(table["alpha_c_lower"], csv["alpha_c_lower"]), ensemble
            py, cl = statistics.median(py_times), statistics.median(cli_times)
            print(
                f"{ensemble}: Python {py / POINTS * 1e6:.1f} us/point, "
                f"CLI {cl / POINTS * 1e6:.1f} us/point, ratio {py / cl:.2f}"
            )


if __name__ == "__main__":
    main()
