//! Numbers in, numbers out. A float or an array-like of floats becomes a
//! flat list of points with the shape to give the results; the points are
//! evaluated in parallel (rayon) with the GIL released; the results go
//! back as a float, or as an array of the input's shape.

use std::sync::atomic::{AtomicUsize, Ordering};

use damcap_theory::TheoryError;
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyReadonlyArrayDyn, PyUntypedArray};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyString};
use rayon::prelude::*;

use crate::ensemble::value_error;

/// Points at which to evaluate, in C order, and the shape of the results.
pub struct Points<T> {
    /// One entry per point.
    pub values: Vec<T>,
    /// The (broadcast) shape of the inputs.
    pub shape: Vec<usize>,
    /// Whether every input was a plain number: the results are then plain
    /// numbers too. A 0-d numpy array stays an array.
    pub scalar: bool,
}

/// An argument as an array of floats, and whether it was a plain number.
/// Only integer and float inputs are taken: numpy would turn `None` into
/// NaN and `True` into 1. The values are read through an aligned
/// C-contiguous float64 copy where the input is not one already (a field
/// of a structured array, say, can be misaligned).
fn array<'py>(arg: &Bound<'py, PyAny>, name: &str) -> PyResult<(ArrayD<f64>, bool)> {
    let not_numbers = |detail: String| {
        PyTypeError::new_err(format!(
            "{name} must be a float or an array of floats, not {detail}"
        ))
    };
    let numpy = arg.py().import("numpy")?;
    let raw = numpy
        .call_method1("asarray", (arg,))
        .map_err(|e| not_numbers(e.to_string()))?;
    let kind: String = raw.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "i" | "u" | "f") {
        return Err(not_numbers(format!("{}", arg.get_type().name()?)));
    }
    let floats: PyReadonlyArrayDyn<'py, f64> = numpy
        .call_method1("require", (raw, "float64", "CA"))?
        .extract()?;
    let values = floats.as_array().to_owned();
    let scalar = values.ndim() == 0 && arg.cast::<PyUntypedArray>().is_err();
    Ok((values, scalar))
}

/// One numeric argument as points.
pub fn one(arg: &Bound<'_, PyAny>, name: &str) -> PyResult<Points<f64>> {
    let (values, scalar) = array(arg, name)?;
    Ok(Points {
        shape: values.shape().to_vec(),
        values: values.iter().copied().collect(),
        scalar,
    })
}

/// Two numeric arguments broadcast against each other (numpy's rules) as
/// points `(a, b)`.
pub fn two(
    a: &Bound<'_, PyAny>,
    a_name: &str,
    b: &Bound<'_, PyAny>,
    b_name: &str,
) -> PyResult<Points<(f64, f64)>> {
    let (a_values, a_scalar) = array(a, a_name)?;
    let (b_values, b_scalar) = array(b, b_name)?;
    let shape: Vec<usize> = a
        .py()
        .import("numpy")?
        .call_method1("broadcast_shapes", (a_values.shape(), b_values.shape()))
        .and_then(|s| s.extract())
        .map_err(|_| {
            PyValueError::new_err(format!(
                "{a_name} and {b_name} have shapes {:?} and {:?}, which do not broadcast: \
                 give arrays of the same shape, or a float for one of them",
                a_values.shape(),
                b_values.shape()
            ))
        })?;
    let a_view = a_values
        .broadcast(IxDyn(&shape))
        .expect("numpy's broadcast shape");
    let b_view = b_values
        .broadcast(IxDyn(&shape))
        .expect("numpy's broadcast shape");
    Ok(Points {
        shape: a_view.shape().to_vec(),
        values: a_view.iter().copied().zip(b_view.iter().copied()).collect(),
        scalar: a_scalar && b_scalar,
    })
}

/// Worker threads that evaluated points in the latest [`evaluate`] call.
static THREADS_USED: AtomicUsize = AtomicUsize::new(0);

/// The number of distinct threads that evaluated points in the latest
/// call, process-wide.
pub fn threads_used() -> usize {
    THREADS_USED.load(Ordering::Relaxed)
}

/// `f` at every point, in parallel with the GIL released, in point order.
/// The error, if any, is that of the first failing point in order, so the
/// message does not depend on the thread count.
pub fn evaluate<T, R, F>(py: Python<'_>, points: &[T], f: F) -> PyResult<Vec<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> Result<R, TheoryError> + Sync,
{
    let (results, threads) = py.detach(|| {
        let tagged: Vec<(Option<usize>, Result<R, TheoryError>)> = points
            .par_iter()
            .map(|p| (rayon::current_thread_index(), f(p)))
            .collect();
        let mut threads: Vec<Option<usize>> = tagged.iter().map(|(t, _)| *t).collect();
        threads.sort_unstable();
        threads.dedup();
        let results: Vec<Result<R, TheoryError>> = tagged.into_iter().map(|(_, r)| r).collect();
        (results, threads.len())
    });
    THREADS_USED.store(threads, Ordering::Relaxed);
    results
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(value_error)
}

/// Floats as a float (scalar input) or an array of `shape`.
pub fn floats<'py>(
    py: Python<'py>,
    values: Vec<f64>,
    shape: &[usize],
    scalar: bool,
) -> Bound<'py, PyAny> {
    if scalar {
        return PyFloat::new(py, values[0]).into_any();
    }
    ArrayD::from_shape_vec(IxDyn(shape), values)
        .expect("one value per point")
        .into_pyarray(py)
        .into_any()
}

/// Labels as a `str` (scalar input) or a numpy array of `str` of `shape`.
pub fn labels<'py>(
    py: Python<'py>,
    values: Vec<String>,
    shape: &[usize],
    scalar: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if scalar {
        return Ok(PyString::new(py, &values[0]).into_any());
    }
    py.import("numpy")?
        .call_method1("array", (values, "str"))?
        .call_method1("reshape", (shape.to_vec(),))
}
