"""Floats in, floats out; arrays in, arrays of the same (broadcast) shape
out, element by element equal to the scalar calls."""

import numpy as np
import pytest

import damcap


@pytest.mark.parametrize("lam", [1.5, 2, np.float64(1.5), np.int64(2)])
def test_a_number_gives_a_float(lam):
    value = damcap.alpha_1("spherical", lam)
    assert type(value) is float
    assert value == damcap.alpha_1("spherical", float(lam))


def test_arrays_keep_their_shape_and_order():
    lams = np.linspace(0.2, 4.0, 12).reshape(3, 4)
    expected = np.array([[damcap.alpha_c_lower("binary", l) for l in row] for row in lams])
    for layout in (lams, np.asfortranarray(lams), lams.T.copy().T, lams[:, ::-1][:, ::-1]):
        got = damcap.alpha_c_lower("binary", layout)
        assert isinstance(got, np.ndarray) and got.dtype == np.float64
        assert got.shape == (3, 4)
        np.testing.assert_array_equal(got, expected)
    # A transposed view is evaluated in its own (logical) order.
    np.testing.assert_array_equal(damcap.alpha_c_lower("binary", lams.T), expected.T)


def test_misaligned_and_strided_inputs():
    lams = np.linspace(0.2, 4.0, 5)
    expected = damcap.alpha_1("binary", lams)
    # A float field after a 7-character string field is misaligned.
    table = np.zeros(5, dtype=[("name", "U7"), ("lambda", "f8")])
    table["lambda"] = lams
    assert not table["lambda"].flags.aligned
    np.testing.assert_array_equal(damcap.alpha_1("binary", table["lambda"]), expected)
    # Contiguous but misaligned: floats one byte into a buffer.
    buffer = bytearray(8 * 5 + 1)
    shifted = np.frombuffer(buffer, dtype=np.float64, count=5, offset=1)
    shifted[:] = lams
    np.testing.assert_array_equal(damcap.alpha_1("binary", shifted), expected)
    np.testing.assert_array_equal(damcap.alpha_1("binary", np.repeat(lams, 2)[::2]), expected)


def test_other_array_likes():
    assert damcap.alpha_1("gaussian", [0.5, 1.0]).shape == (2,)
    assert damcap.alpha_1("gaussian", np.array([1, 2], dtype=np.int32)).shape == (2,)
    zero_d = damcap.alpha_1("gaussian", np.array(0.5))
    assert isinstance(zero_d, np.ndarray) and zero_d.shape == ()
    assert damcap.alpha_1("gaussian", np.empty((0, 3))).shape == (0, 3)


def test_two_arguments_broadcast():
    lams = np.array([[0.5], [1.0], [2.0]])
    alphas = np.array([0.05, 0.1])
    got = damcap.rho_min("gaussian", lams, alphas)
    assert got.shape == (3, 2)
    for i, lam in enumerate(lams[:, 0]):
        for j, alpha in enumerate(alphas):
            assert got[i, j] == damcap.rho_min("gaussian", lam, alpha)
    assert damcap.lambda_star("binary", 0.1, [0.8, 0.9, 1.0]).shape == (3,)
    assert type(damcap.lambda_star("binary", 0.1, 0.9)) is float


def test_scan_columns():
    lams = np.linspace(0.5, 3.0, 6).reshape(2, 3)
    table = damcap.scan("gaussian", lams)
    assert type(table["ensemble"]) is str
    for key in ["lambda", "alpha_1", "alpha_c_lower", "alpha_c_route"]:
        assert table[key].shape == (2, 3), key
    assert table["alpha_c_route"].dtype.kind == "U"
    np.testing.assert_array_equal(table["lambda"], lams)
    np.testing.assert_array_equal(table["alpha_1"], damcap.alpha_1("gaussian", lams))
    one = damcap.scan("gaussian", 1.0)
    assert type(one["alpha_1"]) is float and type(one["alpha_c_route"]) is str


def test_attention_columns():
    table = damcap.attention("binary", [[0.5, 1.0]], n=[[100.0], [400.0], [1600.0]])
    for key in ["beta", "n", "a_1", "a_c", "a_1_expansion", "a_c_expansion", "route"]:
        assert table[key].shape == (3, 2), key
    limit = damcap.attention("binary", 1.0)
    assert limit["n"] is None and type(limit["a_1"]) is float and type(limit["route"]) is str
    assert damcap.attention("binary", [1.0, 2.0])["a_c"].shape == (2,)
