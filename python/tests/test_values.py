"""Values against the CLI's JSON: the module wraps the same theory, so
every number agrees to rounding (rel 1e-12, room for a dependency version
that differs between the two lockfiles) and every label exactly."""

import math

import numpy as np
import pytest

import damcap
from conftest import ENSEMBLES, REPO, TERNARY, cli_json

# Each of the three failure routes sets alpha_c somewhere on this grid
# (self-overlap: gaussian at 0.3, ternary at 1; single-pattern; typical).
LAMBDAS = [0.3, 1.0, 2.5, 6.0]


def close(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_thresholds_and_scan_match_the_cli(ensemble):
    rows = [cli_json("thresholds", "--ensemble", ensemble, "--lambda", l) for l in LAMBDAS]
    table = damcap.scan(ensemble, np.array(LAMBDAS))
    assert set(table) == set(rows[0])
    assert table["ensemble"] == rows[0]["ensemble"]
    for k, (lam, row) in enumerate(zip(LAMBDAS, rows)):
        assert close(damcap.alpha_1(ensemble, lam), row["alpha_1"])
        assert close(damcap.alpha_c_lower(ensemble, lam), row["alpha_c_lower"])
        assert table["lambda"][k] == lam
        assert close(table["alpha_1"][k], row["alpha_1"])
        assert close(table["alpha_c_lower"][k], row["alpha_c_lower"])
        assert table["alpha_c_route"][k] == row["alpha_c_route"]


# (lambda, alpha): paramagnetic, frozen, and alpha above alpha_1 (no basin).
BASIN_POINTS = [(0.5, 0.1), (3.0, 0.2), (0.3, 0.28)]


@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_rho_min_matches_the_cli(ensemble):
    lams, alphas = (np.array(v) for v in zip(*BASIN_POINTS))
    got = damcap.rho_min(ensemble, lams, alphas)
    for k, (lam, alpha) in enumerate(BASIN_POINTS):
        row = cli_json("basin", "--ensemble", ensemble, "--lambda", lam, "--alpha", alpha)
        if row["rho_min"] is None:
            assert math.isnan(got[k]), (lam, alpha)
        else:
            assert close(got[k], row["rho_min"])
            assert close(damcap.rho_min(ensemble, lam, alpha), row["rho_min"])
    # The third point has no basin for every ensemble: NaN is tested above.
    assert math.isnan(got[2])


# (alpha, rho): retrieves from rho = 1, from a partial overlap, and never.
STAR_POINTS = [(0.1, 1.0), (0.05, 0.6), (0.2, 0.3)]


@pytest.mark.parametrize("ensemble", ENSEMBLES)
def test_lambda_star_matches_the_cli(ensemble):
    alphas, rhos = (np.array(v) for v in zip(*STAR_POINTS))
    got = damcap.lambda_star(ensemble, alphas, rhos)
    for k, (alpha, rho) in enumerate(STAR_POINTS):
        row = cli_json("lambda-star", "--ensemble", ensemble, "--alpha", alpha, "--rho", rho)
        if row["lambda_star"] is None:
            assert math.isnan(got[k])
        else:
            assert close(got[k], row["lambda_star"])
    assert not math.isnan(got[0]) and math.isnan(got[2])


@pytest.mark.parametrize("ensemble", ENSEMBLES)
@pytest.mark.parametrize("n", [None, 64.0, 1e6])
def test_attention_matches_the_cli(ensemble, n):
    betas = [0.5, 2.0]
    got = damcap.attention(ensemble, betas, n)
    for k, beta in enumerate(betas):
        extra = [] if n is None else ["--n", n]
        row = cli_json(
            "thresholds", "--ensemble", ensemble, "--scaling", "attention", "--beta", beta, *extra
        )
        assert set(got) == set(row) - {"scaling"}
        assert got["ensemble"] == row["ensemble"]
        if n is None:
            assert got["n"] is None and row["n"] is None
        else:
            assert got["n"][k] == row["n"] == n
        for key in ["beta", "a_1", "a_c", "a_1_expansion", "a_c_expansion"]:
            assert close(got[key][k], row[key]), key
        if n is not None:
            for key in ["a_1_first_step_n", "a_1_dynamics_n", "a_c_n"]:
                if row[key] is None:
                    assert math.isnan(got[key][k]), key
                else:
                    assert close(got[key][k], row[key]), key
        assert got["route"][k] == row["route"]


@pytest.mark.parametrize("lam", [None, 0.4, 3.0])
@pytest.mark.parametrize("path", [TERNARY, REPO / "configs" / "ensembles" / "gaussian.toml"])
def test_law_matches_the_cli(path, lam):
    got = damcap.law(path) if lam is None else damcap.law(str(path), lam)
    row = cli_json("law", path, *([] if lam is None else ["--lambda", lam]))
    assert set(got) == set(row)
    for key, expected in row.items():
        value = got[key]
        if isinstance(expected, float):
            assert close(value, expected), key
        elif expected is None and isinstance(value, float):
            # JSON has no infinity: unbounded overlaps and loads are null there.
            assert value == math.inf, key
        else:
            assert value == expected, key


def test_missing_finite_n_crossing_is_nan():
    """At beta = 4 and N = 4 (lambda = 2, gaussian keys) the several-step
    crossing does not exist at this N: NaN, where the CLI gives null, while
    the first step's crossing is still given and matches."""
    got = damcap.attention("gaussian", [4.0], 4.0)
    row = cli_json(
        "thresholds", "--ensemble", "gaussian", "--scaling", "attention", "--beta", 4.0, "--n", 4.0
    )
    assert row["a_1_dynamics_n"] is None and math.isnan(got["a_1_dynamics_n"][0])
    assert close(got["a_1_first_step_n"][0], row["a_1_first_step_n"])
