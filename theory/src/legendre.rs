//! Numerical Legendre transforms between a cgf `Lambda(t)` and a rate
//! function `I(u)`, each a 1-D root of a stationarity condition.

use crate::ensemble::Ensemble;
use crate::numeric::{expand_bracket, root};

/// `I(u) = sup_t [t u - Lambda(t)]` for `u >= 0`, from the root of
/// `Lambda'(t) = u`. At the end of the support the supremum is the limit
/// `t -> inf`, reached by doubling `t` until the value stops changing.
pub fn rate_from_cgf<E: Ensemble + ?Sized>(ensemble: &E, u: f64) -> f64 {
    let u = u.abs();
    let u_end = ensemble.overlap_max();
    if u == 0.0 {
        return 0.0;
    }
    if u > u_end {
        return f64::INFINITY;
    }
    let objective = |t: f64| t * u - ensemble.cgf(t);
    if u == u_end {
        return limit_at_infinity(objective);
    }
    let slope_gap = |t: f64| ensemble.cgf_slope(t) - u;
    let t = expand_bracket(slope_gap, 1.0, "rate: conjugate inverse temperature")
        .and_then(|b| root(slope_gap, 0.0, b, "rate: conjugate inverse temperature"));
    match t {
        Ok(t) => objective(t),
        Err(_) => f64::NAN,
    }
}

/// `lim_{t -> inf} f(t)` for an increasing `f`: doubling until two values
/// agree to rounding, `+inf` if they never do.
fn limit_at_infinity<F: Fn(f64) -> f64>(f: F) -> f64 {
    let mut t = 1.0;
    let mut previous = f(t);
    for _ in 0..60 {
        t *= 2.0;
        let value = f(t);
        if (value - previous).abs() <= 1e-15 * value.abs().max(1.0) {
            return value;
        }
        previous = value;
    }
    f64::INFINITY
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// `f(t) = L - 1/t` with `L = 10^6`: successive doublings differ by
    /// `1/t`, which first falls within `10^-15 L` at `t = 2^30`, so the
    /// limit is returned after 31 evaluations (`t = 1, 2, ..., 2^30`),
    /// within `10^-15` relative of `L`; a divergent `ln t` gives `+inf`.
    #[test]
    fn limit_at_infinity_stops_at_rounding() {
        let calls = Cell::new(0);
        let limit = limit_at_infinity(|t| {
            calls.set(calls.get() + 1);
            1e6 - 1.0 / t
        });
        assert!((limit - 1e6).abs() <= 1e-9, "{limit}");
        assert_eq!(calls.get(), 31);
        assert_eq!(limit_at_infinity(f64::ln), f64::INFINITY);
    }
}
