"""Bad input raises ValueError with the CLI's one-line message (the CLI
prints it after 'error: '), and non-numbers raise TypeError."""

import math

import numpy as np
import pytest

import damcap
from conftest import TERNARY, cli_error


def raises_like_the_cli(call, *cli_args):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == cli_error(*cli_args)


@pytest.mark.parametrize("lam", [-1.0, 0.0, math.inf, math.nan])
def test_bad_lambda(lam):
    for fn in (damcap.alpha_1, damcap.alpha_c_lower, damcap.scan):
        raises_like_the_cli(
            lambda: fn("gaussian", lam), "thresholds", "--ensemble", "gaussian", "--lambda", lam
        )


def test_the_first_bad_lambda_of_an_array_is_named():
    lams = np.array([[1.0, 2.0], [-3.0, -4.0]])
    raises_like_the_cli(
        lambda: damcap.alpha_1("binary", lams), "thresholds", "--ensemble", "binary", "--lambda", -3
    )


def test_unknown_ensemble():
    raises_like_the_cli(
        lambda: damcap.alpha_1("gausian", 1.0), "thresholds", "--ensemble", "gausian", "--lambda", 1
    )


def test_missing_law_file(tmp_path):
    missing = str(tmp_path / "nowhere.toml")
    raises_like_the_cli(
        lambda: damcap.scan(missing, [1.0]), "thresholds", "--ensemble", missing, "--lambda", 1
    )
    raises_like_the_cli(lambda: damcap.law(missing), "law", missing)


BAD_LAWS = {
    "typo": '[law]\nfamily = "ternary"\nzero_prob = 0.5\n',
    "no-table": 'family = "gaussian"\n',
    "not-toml": "[law\n",
    "point-mass": '[law]\nfamily = "discrete"\nvalues = [1, 1]\nprobabilities = [0.5, 0.5]\n',
    "heavy-tails": '[law]\nfamily = "laplace"\n',
    "bad-name": 'name = "a,b"\n[law]\nfamily = "gaussian"\n',
}


@pytest.mark.parametrize("case", sorted(BAD_LAWS))
def test_bad_law_file(tmp_path, case):
    path = tmp_path / f"{case}.toml"
    path.write_text(BAD_LAWS[case])
    raises_like_the_cli(
        lambda: damcap.alpha_1(str(path), 1.0), "thresholds", "--ensemble", path, "--lambda", 1
    )
    # An os.PathLike is always a law file.
    raises_like_the_cli(lambda: damcap.alpha_1(path, 1.0), "thresholds", "--ensemble", path, "--lambda", 1)
    raises_like_the_cli(lambda: damcap.law(path), "law", path)


def test_bad_load_and_overlap():
    raises_like_the_cli(
        lambda: damcap.rho_min("binary", 1.0, [0.1, 0.9]),
        "basin", "--ensemble", "binary", "--lambda", 1, "--alpha", 0.9,
    )
    raises_like_the_cli(
        lambda: damcap.rho_min(TERNARY, -1.0, 0.1),
        "basin", "--ensemble", TERNARY, "--lambda", -1, "--alpha", 0.1,
    )
    raises_like_the_cli(
        lambda: damcap.lambda_star("spherical", 0.1, 1.5),
        "lambda-star", "--ensemble", "spherical", "--alpha", 0.1, "--rho", 1.5,
    )


def test_bad_attention_parameters():
    raises_like_the_cli(
        lambda: damcap.attention("gaussian", -1.0),
        "thresholds", "--ensemble", "gaussian", "--scaling", "attention", "--beta", -1,
    )
    raises_like_the_cli(
        lambda: damcap.attention("gaussian", 1.0, [100.0, 2.5]),
        "thresholds", "--ensemble", "gaussian", "--scaling", "attention", "--beta", 1, "--n", 2.5,
    )


def test_law_at_a_bad_lambda():
    raises_like_the_cli(lambda: damcap.law(TERNARY, -2.0), "law", TERNARY, "--lambda", -2)


def test_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"lam and alpha have shapes \[2\] and \[3\]"):
        damcap.rho_min("gaussian", [1.0, 2.0], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("bad", [None, "one", {"a": 1}, True, [1.0, None], [[1.0], [1.0, 2.0]]])
def test_non_numbers_are_type_errors(bad):
    with pytest.raises(TypeError, match="lam must be a float or an array of floats, not "):
        damcap.alpha_1("gaussian", bad)


def test_an_ensemble_that_is_neither_name_nor_path():
    with pytest.raises(TypeError, match="ensemble must be a built-in name"):
        damcap.alpha_1(3, 1.0)
