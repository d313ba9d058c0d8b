//! The `damcap` Python module: the theory crate's thresholds, basins and
//! scans on floats and numpy arrays. Nothing is computed here: every
//! number comes from `damcap_theory`, point by point, in parallel.

mod ensemble;
mod points;

use damcap_theory::attention::{attention_thresholds, AttentionThresholds};
use damcap_theory::finite_n::{attention_finite_n, AttentionFiniteN};
use damcap_theory::law::LawSummary;
use damcap_theory::{basins, phase, thresholds};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

use crate::ensemble::value_error;
use crate::points::Points;

/// Typical-pattern retrieval threshold alpha_1(lambda).
///
/// Below the load alpha = ln(P) / N = alpha_1, a typical stored pattern is
/// a fixed point of one softmax update at inverse temperature lambda
/// (`damcap thresholds`).
///
/// Parameters
/// ----------
/// ensemble : str or os.PathLike
///     "gaussian", "spherical", "binary", or the path of a law file
///     (a str ending in .toml or containing "/", or any os.PathLike).
/// lam : float or array_like
///     Inverse temperature lambda > 0.
///
/// Returns
/// -------
/// float or numpy.ndarray
///     alpha_1 at each lambda: a float for a float, else an array of the
///     shape of `lam`.
///
/// Raises
/// ------
/// ValueError
///     Unknown ensemble, bad law file, or a lambda that is not a finite
///     number > 0, with the CLI's one-line message.
#[pyfunction]
#[pyo3(signature = (ensemble, lam))]
fn alpha_1<'py>(
    py: Python<'py>,
    ensemble: &Bound<'py, PyAny>,
    lam: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let e = ensemble::resolve(ensemble)?;
    let p = points::one(lam, "lam")?;
    let values = points::evaluate(py, &p.values, |&l| thresholds::alpha_1(e.as_ref(), l))?;
    Ok(points::floats(py, values, &p.shape, p.scalar))
}

/// Union-bound lower bound on the all-patterns threshold alpha_c(lambda).
///
/// Below this load every stored pattern is retrieved with high
/// probability (`damcap thresholds`); `scan` also gives the failure route
/// that sets the bound.
///
/// Parameters
/// ----------
/// ensemble : str or os.PathLike
///     "gaussian", "spherical", "binary", or the path of a law file.
/// lam : float or array_like
///     Inverse temperature lambda > 0.
///
/// Returns
/// -------
/// float or numpy.ndarray
///     The bound at each lambda, with the shape of `lam`.
///
/// Raises
/// ------
/// ValueError
///     Unknown ensemble, bad law file or bad lambda (the CLI's message).
#[pyfunction]
#[pyo3(signature = (ensemble, lam))]
fn alpha_c_lower<'py>(
    py: Python<'py>,
    ensemble: &Bound<'py, PyAny>,
    lam: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let e = ensemble::resolve(ensemble)?;
    let p = points::one(lam, "lam")?;
    let values = points::evaluate(py, &p.values, |&l| {
        thresholds::alpha_c_lower(e.as_ref(), l).map(|b| b.alpha_c_lower)
    })?;
    Ok(points::floats(py, values, &p.shape, p.scalar))
}

/// One-step basin of attraction rho_min(alpha, lambda).
///
/// One softmax update from a state of overlap rho > rho_min with a stored
/// pattern retrieves it (`damcap basin`).
///
/// Parameters
/// ----------
/// ensemble : str or os.PathLike
///     "gaussian", "spherical", "binary", or the path of a law file.
/// lam : float or array_like
///     Inverse temperature lambda > 0.
/// alpha : float or array_like
///     Load alpha = ln(P) / N in (0, alpha_max); broadcast against `lam`.
///
/// Returns
/// -------
/// float or numpy.ndarray
///     rho_min with the broadcast shape of `lam` and `alpha`; NaN where
///     alpha >= alpha_1(lambda), where not even the pattern itself is
///     stable (the CLI's `null`).
///
/// Raises
/// ------
/// ValueError
///     Unknown ensemble, bad law file, bad lambda or alpha (the CLI's
///     message), or shapes that do not broadcast.
#[pyfunction]
#[pyo3(signature = (ensemble, lam, alpha))]
fn rho_min<'py>(
    py: Python<'py>,
    ensemble: &Bound<'py, PyAny>,
    lam: &Bound<'py, PyAny>,
    alpha: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let e = ensemble::resolve(ensemble)?;
    let p = points::two(lam, "lam", alpha, "alpha")?;
    let values = points::evaluate(py, &p.values, |&(l, a)| {
        basins::rho_min(e.as_ref(), a, l).map(|b| b.rho_min.unwrap_or(f64::NAN))
    })?;
    Ok(points::floats(py, values, &p.shape, p.scalar))
}

/// Inverse temperature lambda_*(alpha, rho) above which one step from
/// overlap rho retrieves (`damcap lambda-star`).
///
/// Parameters
/// ----------
/// ensemble : str or os.PathLike
///     "gaussian", "spherical", "binary", or the path of a law file.
/// alpha : float or array_like
///     Load alpha = ln(P) / N in (0, alpha_max).
/// rho : float or array_like
///     Initial overlap in (0, 1]; broadcast against `alpha`.
///
/// Returns
/// -------
/// float or numpy.ndarray
///     lambda_* with the broadcast shape of `alpha` and `rho`; NaN where no
///     inverse temperature retrieves (rho at or below the largest spurious
///     overlap; the CLI's `null`).
///
/// Raises
/// ------
/// ValueError
///     Unknown ensemble, bad law file, bad alpha or rho (the CLI's
///     message), or shapes that do not broadcast.
#[pyfunction]
#[pyo3(signature = (ensemble, alpha, rho))]
fn lambda_star<'py>(
    py: Python<'py>,
    ensemble: &Bound<'py, PyAny>,
    alpha: &Bound<'py, PyAny>,
    rho: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let e = ensemble::resolve(ensemble)?;
    let p = points::two(alpha, "alpha", rho, "rho")?;
    let values = points::evaluate(py, &p.values, |&(a, r)| {
        basins::lambda_star(e.as_ref(), a, r).map(|l| l.unwrap_or(f64::NAN))
    })?;
    Ok(points::floats(py, values, &p.shape, p.scalar))
}

/// Thresholds under attention scaling, lambda = beta / sqrt(N) and
/// P = exp(a sqrt(N)) (`damcap thresholds --scaling attention`).
///
/// Parameters
/// ----------
/// ensemble : str or os.PathLike
///     "gaussian", "spherical", "binary", or the path of a law file.
/// beta : float or array_like
///     Scaled inverse temperature beta > 0.
/// n : None, float or array_like
///     Dimension N (a whole number >= 2) for the finite-N thresholds,
///     broadcast against `beta`; None for the N -> infinity limit.
///
/// Returns
/// -------
/// dict
///     "ensemble" (str), "beta", "n" (None in the limit), "a_1", "a_c",
///     "a_1_expansion", "a_c_expansion" (floats or arrays of the broadcast
///     shape) and "route" (str or array of str: what sets a_c), the keys
///     of the CLI's JSON; with `n`, also the finite-N crossings
///     "a_1_first_step_n", "a_1_dynamics_n" and "a_c_n" (NaN where not
///     derived or where there is no crossing at this N, the CLI's null;
///     docs/theory.md §9).
///
/// Raises
/// ------
/// ValueError
///     Unknown ensemble, bad law file, bad beta or N (the CLI's message).
#[pyfunction]
#[pyo3(signature = (ensemble, beta, n = None))]
fn attention<'py>(
    py: Python<'py>,
    ensemble: &Bound<'py, PyAny>,
    beta: &Bound<'py, PyAny>,
    n: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let e = ensemble::resolve(ensemble)?;
    let p: Points<(f64, Option<f64>)> = match n {
        None => {
            let b = points::one(beta, "beta")?;
            Points {
                values: b.values.iter().map(|&b| (b, None)).collect(),
                shape: b.shape,
                scalar: b.scalar,
            }
        }
        Some(n) => {
            let bn = points::two(beta, "beta", n, "n")?;
            Points {
                values: bn.values.iter().map(|&(b, n)| (b, Some(n))).collect(),
                shape: bn.shape,
                scalar: bn.scalar,
            }
        }
    };
    let rows = points::evaluate(py, &p.values, |&(b, n)| {
        attention_thresholds(e.as_ref(), b, n)
    })?;
    let column = |f: fn(&AttentionThresholds) -> f64| {
        points::floats(py, rows.iter().map(f).collect(), &p.shape, p.scalar)
    };
    let dict = PyDict::new(py);
    dict.set_item("ensemble", e.name())?;
    dict.set_item("beta", column(|t| t.beta))?;
    match n {
        None => dict.set_item("n", py.None())?,
        Some(_) => dict.set_item("n", column(|t| t.n.unwrap_or(f64::NAN)))?,
    }
    dict.set_item("a_1", column(|t| t.a_1))?;
    dict.set_item("a_c", column(|t| t.a_c))?;
    dict.set_item("a_1_expansion", column(|t| t.a_1_expansion))?;
    dict.set_item("a_c_expansion", column(|t| t.a_c_expansion))?;
    let routes = rows.iter().map(|t| t.route.to_string()).collect();
    dict.set_item("route", points::labels(py, routes, &p.shape, p.scalar)?)?;
    if n.is_some() {
        let finite = points::evaluate(py, &p.values, |&(b, n)| {
            attention_finite_n(e.as_ref(), b, n.unwrap_or(f64::NAN))
        })?;
        let column = |f: fn(&AttentionFiniteN) -> f64| {
            points::floats(py, finite.iter().map(f).collect(), &p.shape, p.scalar)
        };
        dict.set_item(
            "a_1_first_step_n",
            column(|t| t.a_1_first_step_n.unwrap_or(f64::NAN)),
        )?;
        dict.set_item(
            "a_1_dynamics_n",
            column(|t| t.a_1_dynamics_n.unwrap_or(f64::NAN)),
        )?;
        dict.set_item("a_c_n", column(|t| t.a_c_n.unwrap_or(f64::NAN)))?;
    }
    Ok(dict)
}

/// Both thresholds and the failure route over a grid of lambda
/// (`damcap scan`, or `damcap thresholds` at one lambda).
///
/// Parameters
/// ----------
/// ensemble : str or os.PathLike
///     "gaussian", "spherical", "binary", or the path of a law file.
/// lam : float or array_like
///     Inverse temperatures lambda > 0, any shape.
///
/// Returns
/// -------
/// dict
///     "ensemble" (str), "lambda", "alpha_1", "alpha_c_lower" (floats or
///     arrays of the shape of `lam`) and "alpha_c_route" (str or array of
///     str: "typical", "self-overlap" or "single-pattern"), the columns of
///     the CLI's CSV.
///
/// Raises
/// ------
/// ValueError
///     Unknown ensemble, bad law file or bad lambda (the CLI's message).
#[pyfunction]
#[pyo3(signature = (ensemble, lam))]
fn scan<'py>(
    py: Python<'py>,
    ensemble: &Bound<'py, PyAny>,
    lam: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let e = ensemble::resolve(ensemble)?;
    let p = points::one(lam, "lam")?;
    let rows = points::evaluate(py, &p.values, |&l| phase::thresholds(e.as_ref(), l))?;
    let column = |f: fn(&phase::Thresholds) -> f64| {
        points::floats(py, rows.iter().map(f).collect(), &p.shape, p.scalar)
    };
    let dict = PyDict::new(py);
    dict.set_item("ensemble", e.name())?;
    dict.set_item("lambda", column(|t| t.lambda))?;
    dict.set_item("alpha_1", column(|t| t.alpha_1))?;
    dict.set_item("alpha_c_lower", column(|t| t.alpha_c_lower))?;
    let routes = rows.iter().map(|t| t.alpha_c_route.to_string()).collect();
    dict.set_item(
        "alpha_c_route",
        points::labels(py, routes, &p.shape, p.scalar)?,
    )?;
    Ok(dict)
}

/// What damcap makes of a law file (`damcap law PATH --json`).
///
/// Parameters
/// ----------
/// path : str or os.PathLike
///     The law file (TOML; see configs/ensembles/ and README.md).
/// lam : float
///     Inverse temperature lambda > 0 at which to report the thresholds.
///
/// Returns
/// -------
/// dict
///     "name", "description" (or None), "family" (the law as written, a
///     dict), "standardised" (the law with mean 0 and variance 1, in
///     words), "fourth_moment" (E a^4), "overlap_max", "alpha_max" (inf
///     for continuous laws; the CLI's JSON writes null), "lambda", "cgf"
///     and "cgf_error" (Lambda(lambda) and its quadrature error estimate;
///     None where the quadrature cannot resolve it, the CLI's null),
///     "alpha_1", "alpha_c_lower", "alpha_c_route".
///
/// Raises
/// ------
/// ValueError
///     Unreadable or invalid law file, or bad lambda (the CLI's message).
#[pyfunction]
#[pyo3(signature = (path, lam = 1.0))]
fn law(py: Python<'_>, path: PathBuf, lam: f64) -> PyResult<Bound<'_, PyAny>> {
    let loaded = ensemble::load(&path)?;
    let report = py
        .detach(|| LawSummary::new(&loaded.ensemble, loaded.description, lam))
        .map_err(value_error)?;
    Ok(pythonize::pythonize(py, &report)?)
}

/// Number of worker threads that evaluated points during the latest call
/// of this module (process-wide), for checking that arrays are evaluated
/// in parallel.
#[pyfunction]
fn threads_used() -> usize {
    points::threads_used()
}

/// Size of the thread pool that evaluates arrays: the RAYON_NUM_THREADS
/// environment variable read at the first evaluation, else the number of
/// cores.
#[pyfunction]
fn thread_count() -> usize {
    rayon::current_num_threads()
}

/// Phase diagrams of dense associative memories (modern Hopfield
/// networks), from damcap's REM theory, on floats and numpy arrays.
///
/// The theory's functions take an `ensemble`: "gaussian", "spherical",
/// "binary", or the path of a law file (`law` takes the path alone). Numeric arguments are floats (giving floats)
/// or array-likes (giving arrays of the same, broadcast, shape), evaluated
/// in parallel with the GIL released. Invalid input raises ValueError with
/// the message of the `damcap` command line.
#[pymodule]
fn damcap(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(alpha_1, m)?)?;
    m.add_function(wrap_pyfunction!(alpha_c_lower, m)?)?;
    m.add_function(wrap_pyfunction!(rho_min, m)?)?;
    m.add_function(wrap_pyfunction!(lambda_star, m)?)?;
    m.add_function(wrap_pyfunction!(attention, m)?)?;
    m.add_function(wrap_pyfunction!(scan, m)?)?;
    m.add_function(wrap_pyfunction!(law, m)?)?;
    m.add_function(wrap_pyfunction!(threads_used, m)?)?;
    m.add_function(wrap_pyfunction!(thread_count, m)?)?;
    Ok(())
}
