"""Shared helpers: the `damcap` command line, whose JSON and error lines
the Python module must reproduce."""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERNARY = REPO / "configs" / "ensembles" / "ternary.toml"
# Every built-in ensemble and one law file.
ENSEMBLES = ["gaussian", "spherical", "binary", str(TERNARY)]


def cli_path() -> Path:
    """The CLI binary: $DAMCAP_BIN, else the workspace's release build."""
    path = Path(os.environ.get("DAMCAP_BIN", REPO / "target" / "release" / "damcap"))
    if not path.is_file():
        pytest.fail(
            f"no damcap binary at {path}: run 'cargo build --release' in {REPO} "
            "or set DAMCAP_BIN"
        )
    return path


def run_cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(cli_path()), *map(str, args)], capture_output=True, text=True, check=False
    )


def cli_json(*args: object) -> dict:
    """The JSON object a successful `damcap ... --json` prints."""
    done = run_cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cli_error(*args: object) -> str:
    """The one-line error of a failing `damcap ...`, without 'error: '."""
    done = run_cli(*args)
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0][len("error: ") :]
