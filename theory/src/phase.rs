//! The phase diagram: both thresholds at one inverse temperature, and a
//! scan of them over a grid of `lambda` (docs/theory.md §3 and §4).
//!
//! ```
//! use damcap_theory::{phase, ensemble};
//!
//! let gaussian = ensemble::by_name("gaussian")?;
//! let t = phase::thresholds(gaussian.as_ref(), 0.5)?;
//! // alpha_1 = lambda - lambda^2 / 2 for gaussian patterns below lambda = 1.
//! assert!((t.alpha_1 - 0.375).abs() < 1e-9);
//! assert!(t.alpha_c_lower <= t.alpha_1);
//! # Ok::<(), damcap_theory::TheoryError>(())
//! ```

use rayon::prelude::*;

use crate::ensemble::Ensemble;
use crate::thresholds::{alpha_1, alpha_c_lower_given_alpha_1, FailureRoute};
use crate::TheoryError;

/// Both thresholds of one ensemble at one inverse temperature.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Thresholds {
    /// Ensemble name.
    pub ensemble: String,
    /// Inverse temperature `lambda`.
    pub lambda: f64,
    /// Typical-pattern threshold `alpha_1(lambda)`.
    pub alpha_1: f64,
    /// Union-bound lower bound on the all-patterns threshold `alpha_c`.
    pub alpha_c_lower: f64,
    /// The failure route that sets the bound.
    pub alpha_c_route: FailureRoute,
}

/// `alpha_1` and the `alpha_c` bound of `ensemble` at `lambda`.
///
/// # Errors
/// [`TheoryError::InvalidLambda`] unless `lambda` is finite and positive;
/// [`TheoryError::Solver`] if a root or extremum cannot be found.
pub fn thresholds<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
) -> Result<Thresholds, TheoryError> {
    let a1 = alpha_1(ensemble, lambda)?;
    let bound = alpha_c_lower_given_alpha_1(ensemble, lambda, a1)?;
    Ok(Thresholds {
        ensemble: ensemble.name().to_string(),
        lambda,
        alpha_1: a1,
        alpha_c_lower: bound.alpha_c_lower,
        alpha_c_route: bound.route,
    })
}

/// [`thresholds`] at every `lambda` of a grid, computed in parallel
/// (rayon) and returned in grid order. The values do not depend on the
/// number of threads: every point is computed on its own, from tables
/// that do not depend on `lambda` (for law files, filled first, in
/// parallel: [`crate::empirical::prepare`]).
///
/// ```
/// use damcap_theory::{phase, ensemble};
///
/// let binary = ensemble::by_name("binary")?;
/// let rows = phase::scan(binary.as_ref(), &[0.5, 1.0, 2.0])?;
/// assert_eq!(rows.len(), 3);
/// // alpha_1 grows with lambda and never exceeds ln 2.
/// assert!(rows.windows(2).all(|w| w[0].alpha_1 <= w[1].alpha_1));
/// assert!(rows.iter().all(|r| r.alpha_1 <= std::f64::consts::LN_2));
/// # Ok::<(), damcap_theory::TheoryError>(())
/// ```
///
/// # Errors
/// The first error of any point, as for [`thresholds`].
pub fn scan<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambdas: &[f64],
) -> Result<Vec<Thresholds>, TheoryError> {
    scan_with_progress(ensemble, lambdas, &|| {})
}

/// [`scan`], calling `done()` after each point (from any thread), for a
/// progress display.
///
/// # Errors
/// As for [`scan`].
pub fn scan_with_progress<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambdas: &[f64],
    done: &(dyn Fn() + Sync),
) -> Result<Vec<Thresholds>, TheoryError> {
    if let Some(law) = ensemble.entry_law() {
        crate::empirical::prepare(law)?;
    }
    lambdas
        .par_iter()
        .map(|&l| {
            let row = thresholds(ensemble, l);
            done();
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::by_name;

    /// The scan is the pointwise thresholds, in grid order.
    #[test]
    fn scan_equals_pointwise() {
        let e = by_name("gaussian").unwrap();
        let grid = [0.3, 0.9, 1.7, 4.0];
        let rows = scan(e.as_ref(), &grid).unwrap();
        for (row, &l) in rows.iter().zip(&grid) {
            assert_eq!(*row, thresholds(e.as_ref(), l).unwrap());
        }
    }

    /// The progress callback runs once per point.
    #[test]
    fn scan_reports_every_point() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let e = by_name("spherical").unwrap();
        let count = AtomicUsize::new(0);
        let rows = scan_with_progress(e.as_ref(), &[0.5, 1.0, 2.0], &|| {
            count.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(rows, scan(e.as_ref(), &[0.5, 1.0, 2.0]).unwrap());
        assert_eq!(count.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn scan_refuses_a_bad_lambda() {
        let e = by_name("binary").unwrap();
        let err = scan(e.as_ref(), &[1.0, -1.0]).unwrap_err();
        assert_eq!(err, TheoryError::InvalidLambda(-1.0));
    }
}
