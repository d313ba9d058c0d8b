//! Thin wrappers around argmin's Brent solvers.
//!
//! Every threshold in this crate is a root or an extremum of a scalar
//! function on a bracket. These helpers run argmin's `BrentRoot` and
//! `BrentOpt` with the tolerances the crate promises (roots to about
//! 1e-14 absolute, extrema to the same in the argument where the slope
//! allows), so the physics modules read as "the root of ... on [a, b]".

use argmin::core::{CostFunction, Error, Executor, State};
use argmin::solver::brent::{BrentOpt, BrentRoot};

use crate::TheoryError;

/// Absolute tolerance handed to the root finder.
const ROOT_TOL: f64 = 1e-15;
/// Relative and absolute argument tolerances of the 1-D minimiser.
const OPT_REL_TOL: f64 = 1e-10;
const OPT_ABS_TOL: f64 = 1e-14;
/// Iteration cap; Brent converges in a few dozen steps on smooth input.
const MAX_ITERS: u64 = 200;

/// A scalar function seen by argmin as a cost function.
struct Scalar<F>(F);

impl<F: Fn(f64) -> f64> CostFunction for Scalar<F> {
    type Param = f64;
    type Output = f64;
    fn cost(&self, x: &f64) -> Result<f64, Error> {
        Ok((self.0)(*x))
    }
}

/// The root of `f` in `[a, b]`, where `f(a)` and `f(b)` have opposite signs
/// (or one of them is zero).
pub fn root<F: Fn(f64) -> f64>(f: F, a: f64, b: f64, what: &str) -> Result<f64, TheoryError> {
    let (fa, fb) = (f(a), f(b));
    if fa == 0.0 {
        return Ok(a);
    }
    if fb == 0.0 {
        return Ok(b);
    }
    // Signs, not the product fa * fb, which underflows to 0 for tiny values
    // of one sign and would pass them as a sign change.
    if fa.is_nan() || fb.is_nan() || fa.signum() == fb.signum() {
        return Err(TheoryError::NoSignChange {
            what: what.to_string(),
            interval: (a, b),
        });
    }
    let result = Executor::new(Scalar(f), BrentRoot::new(a, b, ROOT_TOL))
        .configure(|state| state.max_iters(MAX_ITERS))
        .timer(false)
        .run()
        .map_err(|e| TheoryError::Solver(format!("{what}: {e}")))?;
    // The last iterate, not the "best" one: argmin ranks iterates by |f|,
    // which is meaningless where f jumps across zero.
    result
        .state()
        .get_param()
        .copied()
        .ok_or_else(|| TheoryError::Solver(format!("{what}: root finder returned nothing")))
}

/// The minimiser and minimum of `f` on `[a, b]`. Brent's method never
/// evaluates the end points, so both are compared with the interior result.
pub fn minimise<F: Fn(f64) -> f64>(
    f: F,
    a: f64,
    b: f64,
    what: &str,
) -> Result<(f64, f64), TheoryError> {
    let solver = BrentOpt::new(a, b).set_tolerance(OPT_REL_TOL, OPT_ABS_TOL);
    let result = Executor::new(Scalar(&f), solver)
        .configure(|state| state.max_iters(MAX_ITERS))
        .timer(false)
        .run()
        .map_err(|e| TheoryError::Solver(format!("{what}: {e}")))?;
    let state = result.state();
    let x = state
        .get_best_param()
        .copied()
        .ok_or_else(|| TheoryError::Solver(format!("{what}: minimiser returned nothing")))?;
    let candidates = [(x, state.get_best_cost()), (a, f(a)), (b, f(b))];
    Ok(candidates
        .into_iter()
        .filter(|(_, v)| !v.is_nan())
        .fold(
            (x, f64::INFINITY),
            |best, c| if c.1 < best.1 { c } else { best },
        ))
}

/// The root of an increasing `f` in `(0, upper]`, where `f(upper) >= 0`,
/// solved in `x = ln t`: the lower end halves from `upper` until `f < 0`,
/// and the root keeps its relative precision however small it is (the
/// absolute tolerance of [`root`] would return 0 for a root at 1e-150).
/// Returns the smallest normal double if `f` stays non-negative down to it.
pub fn positive_root<F: Fn(f64) -> f64>(f: F, upper: f64, what: &str) -> Result<f64, TheoryError> {
    let g = |x: f64| f(x.exp());
    let (top, floor) = (upper.ln(), f64::MIN_POSITIVE.ln());
    let mut bottom = top;
    while g(bottom) >= 0.0 {
        if bottom <= floor {
            return Ok(bottom.exp());
        }
        bottom -= std::f64::consts::LN_2;
    }
    Ok(root(g, bottom, top, what)?.exp())
}

/// An upper end `b >= start` of a bracket on which the increasing function
/// `f` changes sign from negative to non-negative, found by doubling, as
/// far as `f64` goes (a spherical REM at load 300 freezes near `e^600`).
pub fn expand_bracket<F: Fn(f64) -> f64>(f: F, start: f64, what: &str) -> Result<f64, TheoryError> {
    let mut b = start;
    while b.is_finite() {
        if f(b) >= 0.0 {
            return Ok(b);
        }
        b *= 2.0;
    }
    Err(TheoryError::NoBracket {
        what: what.to_string(),
        limit: b,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_of_cubic_matches_closed_form() {
        let x = root(|x| x * x * x - 2.0, 0.0, 2.0, "cube root").unwrap();
        assert!((x - 2f64.cbrt()).abs() < 1e-14);
    }

    #[test]
    fn root_without_sign_change_is_an_error() {
        assert!(matches!(
            root(|x| x * x + 1.0, -1.0, 1.0, "none"),
            Err(TheoryError::NoSignChange {
                interval: (-1.0, 1.0),
                ..
            })
        ));
    }

    /// Ends of one sign are refused however small they are (their product
    /// underflows to 0), and so is a NaN at either end.
    #[test]
    fn tiny_or_nan_ends_are_no_sign_change() {
        let refused = |f: &dyn Fn(f64) -> f64| {
            matches!(
                root(f, 1.0, 2.0, "ends"),
                Err(TheoryError::NoSignChange { .. })
            )
        };
        assert!(refused(&|x| 1e-200 * x));
        assert!(refused(&|x| -1e-200 * x));
        assert!(refused(&|x| if x < 1.5 { f64::NAN } else { 1.0 }));
        assert!(refused(&|x| if x < 1.5 { -1.0 } else { f64::NAN }));
        let x = root(|x| 1e-200 * (x - 1.25), 1.0, 2.0, "tiny").unwrap();
        assert!((x - 1.25).abs() < 1e-15, "{x}");
    }

    #[test]
    fn minimum_inside_and_on_the_boundary() {
        let (x, v) = minimise(|x| (x - 0.3).powi(2) + 1.0, 0.0, 1.0, "inner").unwrap();
        assert!((x - 0.3).abs() < 1e-7 && (v - 1.0).abs() < 1e-14);
        let (x, v) = minimise(|x| x, 0.25, 1.0, "edge").unwrap();
        assert!(x == 0.25 && v == 0.25);
    }

    #[test]
    fn doubling_bracket_reaches_sign_change() {
        let b = expand_bracket(|x| x - 100.0, 1.0, "linear").unwrap();
        assert_eq!(b, 128.0);
    }
}
