"""Phase diagrams of dense associative memories (modern Hopfield networks),
from damcap's REM theory, on floats and numpy arrays.

The theory's functions take an ``ensemble``: ``"gaussian"``,
``"spherical"``, ``"binary"``, or the path of a law file (a ``str`` ending
in ``.toml`` or containing ``/``, or any ``os.PathLike``). Numeric
arguments are floats (giving floats) or array-likes (giving arrays of the
same, broadcast, shape), evaluated in parallel with the GIL released. Invalid input raises
``ValueError`` with the message of the ``damcap`` command line.
"""

import os
from typing import Optional, TypedDict, Union, overload

import numpy as np
import numpy.typing as npt

__version__: str

# A built-in ensemble name or the path of a law file.
_Ensemble = Union[str, os.PathLike[str]]
# A numpy array, or anything numpy.asarray turns into floats.
_ArrayIn = npt.ArrayLike
_FloatArray = npt.NDArray[np.float64]
_StrArray = npt.NDArray[np.str_]
_FloatOrArray = Union[float, _FloatArray]
_StrOrArray = Union[str, _StrArray]

@overload
def alpha_1(ensemble: _Ensemble, lam: float) -> float:
    """Typical-pattern retrieval threshold alpha_1(lambda), with the shape
    of ``lam``. ValueError for an unknown ensemble, a bad law file or a
    lambda that is not a finite number > 0."""

@overload
def alpha_1(ensemble: _Ensemble, lam: _ArrayIn) -> _FloatArray: ...
@overload
def alpha_c_lower(ensemble: _Ensemble, lam: float) -> float:
    """Union-bound lower bound on the all-patterns threshold
    alpha_c(lambda), with the shape of ``lam``."""

@overload
def alpha_c_lower(ensemble: _Ensemble, lam: _ArrayIn) -> _FloatArray: ...
@overload
def rho_min(ensemble: _Ensemble, lam: float, alpha: float) -> float:
    """One-step basin rho_min(alpha, lambda), with the broadcast shape of
    ``lam`` and ``alpha``; NaN where alpha >= alpha_1(lambda)."""

@overload
def rho_min(ensemble: _Ensemble, lam: _ArrayIn, alpha: _ArrayIn) -> _FloatArray: ...
@overload
def lambda_star(ensemble: _Ensemble, alpha: float, rho: float) -> float:
    """Inverse temperature lambda_*(alpha, rho) above which one step from
    overlap rho retrieves, with the broadcast shape of ``alpha`` and
    ``rho``; NaN where no inverse temperature does."""

@overload
def lambda_star(ensemble: _Ensemble, alpha: _ArrayIn, rho: _ArrayIn) -> _FloatArray: ...

class _Attention(TypedDict):
    """Thresholds on the load a = ln(P) / sqrt(N) under attention scaling;
    the keys of ``damcap thresholds --scaling attention --json``."""

    ensemble: str
    beta: _FloatOrArray
    n: Optional[_FloatOrArray]
    a_1: _FloatOrArray
    a_c: _FloatOrArray
    a_1_expansion: _FloatOrArray
    a_c_expansion: _FloatOrArray
    route: _StrOrArray

class _AttentionFiniteN(_Attention, total=False):
    """With ``n``: the finite-N crossings (docs/theory.md §9), ``a_c_n``
    NaN where not derived (the CLI's null)."""

    a_1_first_step_n: _FloatOrArray
    a_1_dynamics_n: _FloatOrArray
    a_c_n: _FloatOrArray

def attention(
    ensemble: _Ensemble, beta: _ArrayIn, n: Optional[_ArrayIn] = None
) -> _AttentionFiniteN:
    """Thresholds under attention scaling (lambda = beta / sqrt(N),
    P = exp(a sqrt(N))) at dimension ``n`` (broadcast against ``beta``), or
    in the N -> infinity limit when ``n`` is None (then "n" is None). With
    ``n``, also the finite-N crossings ``a_1_first_step_n``,
    ``a_1_dynamics_n`` and ``a_c_n``."""

# Both thresholds and the failure route at each lambda: the columns of
# ``damcap scan``. ("lambda" is a keyword, hence the functional form.)
_Scan = TypedDict(
    "_Scan",
    {
        "ensemble": str,
        "lambda": _FloatOrArray,
        "alpha_1": _FloatOrArray,
        "alpha_c_lower": _FloatOrArray,
        "alpha_c_route": _StrOrArray,
    },
)

def scan(ensemble: _Ensemble, lam: _ArrayIn) -> _Scan:
    """Both thresholds and the route that sets the alpha_c bound
    ("typical", "self-overlap" or "single-pattern"), with the shape of
    ``lam``."""

# A law file standardised, with its thresholds at one lambda: the fields of
# ``damcap law PATH --json``.
_Law = TypedDict(
    "_Law",
    {
        "name": str,
        "description": Optional[str],
        "family": dict[str, object],
        "standardised": str,
        "fourth_moment": float,
        "overlap_max": float,
        "alpha_max": float,
        "lambda": float,
        "cgf": float | None,
        "cgf_error": float | None,
        "alpha_1": float,
        "alpha_c_lower": float,
        "alpha_c_route": str,
    },
)

def law(path: Union[str, os.PathLike[str]], lam: float = 1.0) -> _Law:
    """What damcap makes of a law file, as ``damcap law PATH --json``
    (``alpha_max`` is inf for continuous laws, where the JSON writes
    null)."""

def threads_used() -> int:
    """Number of worker threads that evaluated points during the latest
    call of this module (process-wide)."""

def thread_count() -> int:
    """Size of the thread pool that evaluates arrays (RAYON_NUM_THREADS,
    else the number of cores)."""
