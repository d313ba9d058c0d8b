//! The random energy model formed by the non-retrieved patterns.
//!
//! At a state with `|x|^2 = N`, the `e^{alpha N}` other patterns contribute
//! `Z = sum_mu exp(N L u_mu)` to the softmax normaliser, with i.i.d.
//! overlaps `u_mu` of cgf `Lambda`. Its free energy
//! `phi(L) = lim (1/N) ln Z` is
//! - paramagnetic, `phi = alpha + Lambda(L)`, while the tilted mean overlap
//!   `Lambda'(L)` is below the largest overlap present, `u_max(alpha)`
//!   (`I(u_max) = alpha`); exponentially many patterns share the weight;
//! - frozen, `phi = L u_max(alpha)`, above; a few patterns carry it.
//!
//! Writing `u = Lambda'(t)` turns `I(u_max) = alpha` into
//! `t Lambda'(t) - Lambda(t) = alpha`, whose root `t_alpha` is the freezing
//! inverse temperature: one root per load, after which the free energy at
//! any `L` costs two cgf evaluations.

use crate::ensemble::Ensemble;
use crate::numeric::{expand_bracket, positive_root};
use crate::TheoryError;

/// Phase of the random energy model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Exponentially many patterns share the softmax weight.
    Paramagnetic,
    /// A sub-exponential number of patterns carries the weight.
    Frozen,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Paramagnetic => "paramagnetic",
            Phase::Frozen => "frozen",
        })
    }
}

/// The REM of `e^{alpha N}` patterns of one ensemble.
#[derive(Clone, Copy, Debug)]
pub struct Rem<'a, E: Ensemble + ?Sized> {
    ensemble: &'a E,
    alpha: f64,
    freezing: f64,
    u_max: f64,
}

/// Checks that `alpha` is a load of `ensemble`: in `(0, alpha_max)` (NaN
/// is not).
///
/// # Errors
/// [`TheoryError::InvalidAlpha`] unless `0 < alpha < alpha_max`.
pub fn check_alpha<E: Ensemble + ?Sized>(ensemble: &E, alpha: f64) -> Result<(), TheoryError> {
    let alpha_max = ensemble.alpha_max();
    if alpha > 0.0 && alpha < alpha_max {
        Ok(())
    } else {
        Err(TheoryError::InvalidAlpha { alpha, alpha_max })
    }
}

impl<'a, E: Ensemble + ?Sized> Rem<'a, E> {
    /// The REM at load `alpha`, which must lie in `(0, alpha_max)`.
    ///
    /// # Errors
    /// [`TheoryError::InvalidAlpha`] unless `0 < alpha < alpha_max`;
    /// [`TheoryError::LoadTooLarge`] when the REM would freeze only beyond
    /// the largest double.
    pub fn new(ensemble: &'a E, alpha: f64) -> Result<Self, TheoryError> {
        check_alpha(ensemble, alpha)?;
        let entropy_gap = |t: f64| ensemble.tilted_entropy(t) - alpha;
        let what = "REM freezing point";
        let upper =
            expand_bracket(entropy_gap, 1.0, what).map_err(|_| TheoryError::LoadTooLarge {
                alpha,
                ensemble: ensemble.name().to_string(),
            })?;
        // In ln t: a load of 1e-300 freezes near 1e-150, still resolved.
        let freezing = positive_root(entropy_gap, upper, what)?;
        Ok(Rem {
            ensemble,
            alpha,
            freezing,
            u_max: ensemble.cgf_slope(freezing),
        })
    }

    /// The phase at effective inverse temperature `l` for any load: the
    /// REM's own phase when it freezes at a finite inverse temperature,
    /// else paramagnetic (the entropy of the tilted overlap stays below
    /// `alpha` for every finite `t`, e.g. a spherical load above 355).
    ///
    /// # Errors
    /// [`TheoryError::InvalidAlpha`] unless `0 < alpha < alpha_max`, and
    /// the solver errors of [`Rem::new`].
    pub fn phase_at(ensemble: &'a E, alpha: f64, l: f64) -> Result<Phase, TheoryError> {
        match Rem::new(ensemble, alpha) {
            Ok(rem) => Ok(rem.phase(l)),
            Err(TheoryError::LoadTooLarge { .. }) => Ok(Phase::Paramagnetic),
            Err(e) => Err(e),
        }
    }

    /// The load `alpha`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Freezing inverse temperature `t_alpha`.
    pub fn freezing_point(&self) -> f64 {
        self.freezing
    }

    /// Largest overlap among the patterns, `u_max(alpha)`, `I(u_max) = alpha`.
    pub fn u_max(&self) -> f64 {
        self.u_max
    }

    /// Phase at effective inverse temperature `l > 0`.
    pub fn phase(&self, l: f64) -> Phase {
        if l <= self.freezing {
            Phase::Paramagnetic
        } else {
            Phase::Frozen
        }
    }

    /// Free energy `phi(l) = lim (1/N) ln Z` at effective inverse temperature `l`.
    pub fn free_energy(&self, l: f64) -> f64 {
        match self.phase(l) {
            Phase::Paramagnetic => self.alpha + self.ensemble.cgf(l),
            Phase::Frozen => l * self.u_max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::{Binary, Gaussian, Spherical};
    use crate::numeric::minimise;

    /// A load lies in (0, alpha_max): ln 2 for binary patterns, unbounded
    /// for gaussian ones; its ends, NaN and beyond are refused.
    #[test]
    fn loads_lie_strictly_inside_their_range() {
        let below_ln2 = std::f64::consts::LN_2 * (1.0 - f64::EPSILON);
        for alpha in [f64::MIN_POSITIVE, 0.3, below_ln2] {
            assert!(check_alpha(&Binary, alpha).is_ok(), "{alpha}");
        }
        for alpha in [0.0, -0.1, std::f64::consts::LN_2, 1.0, f64::NAN] {
            let error = check_alpha(&Binary, alpha).unwrap_err();
            assert!(matches!(error, TheoryError::InvalidAlpha { .. }), "{alpha}");
        }
        assert!(check_alpha(&Gaussian, 1e300).is_ok());
        assert!(check_alpha(&Gaussian, f64::INFINITY).is_err());
    }

    /// phi is the constrained maximum of alpha - I(u) + L u over I(u) <= alpha
    /// (docs/theory.md §2), computed here by direct 1-D maximisation.
    fn phi_by_maximisation<E: Ensemble>(e: &E, alpha: f64, l: f64) -> f64 {
        let u_max = Rem::new(e, alpha).unwrap().u_max();
        -minimise(|u| e.rate(u) - alpha - l * u, 0.0, u_max, "phi")
            .unwrap()
            .1
    }

    #[test]
    fn free_energy_equals_constrained_maximum() {
        for alpha in [0.05, 0.3, 0.6] {
            for l in [0.2, 0.8, 1.5, 4.0] {
                let g = phi_by_maximisation(&Gaussian, alpha, l);
                let s = phi_by_maximisation(&Spherical, alpha, l);
                let b = phi_by_maximisation(&Binary, alpha, l);
                assert!((Rem::new(&Gaussian, alpha).unwrap().free_energy(l) - g).abs() < 1e-9);
                assert!((Rem::new(&Spherical, alpha).unwrap().free_energy(l) - s).abs() < 1e-9);
                assert!((Rem::new(&Binary, alpha).unwrap().free_energy(l) - b).abs() < 1e-9);
            }
        }
    }

    /// Gaussian closed forms: u_max = sqrt(2 alpha) = t_alpha.
    #[test]
    fn gaussian_freezing_point() {
        let rem = Rem::new(&Gaussian, 0.3).unwrap();
        assert!((rem.u_max() - 0.6f64.sqrt()).abs() < 1e-14);
        assert!((rem.freezing_point() - 0.6f64.sqrt()).abs() < 1e-14);
        assert_eq!(rem.phase(0.5), Phase::Paramagnetic);
        assert_eq!(rem.phase(1.0), Phase::Frozen);
    }

    /// The free energy is continuous across the freezing point.
    #[test]
    fn free_energy_is_continuous() {
        let rem = Rem::new(&Spherical, 0.4).unwrap();
        let t = rem.freezing_point();
        let jump = rem.free_energy(t * (1.0 + 1e-12)) - rem.free_energy(t);
        assert!(jump.abs() < 1e-10);
    }

    #[test]
    fn load_out_of_range_is_rejected() {
        assert!(Rem::new(&Binary, 0.7).is_err());
        assert!(Rem::new(&Gaussian, 0.0).is_err());
        assert!(Rem::new(&Gaussian, f64::NAN).is_err());
    }

    /// Extreme loads keep their digits: a gaussian load of 1e-300 freezes
    /// at `sqrt(2 alpha)` (not at the root finder's absolute tolerance), a
    /// spherical load of 300 at `u / (1 - u^2) ~ e^{600}` (beyond the old
    /// bracket cap of 2^200 and beyond `u* < 1` in floating point).
    #[test]
    fn freezing_point_at_extreme_loads() {
        let rem = Rem::new(&Gaussian, 1e-300).unwrap();
        let exact = (2e-300f64).sqrt();
        assert!((rem.freezing_point() - exact).abs() < 1e-12 * exact);
        let rem = Rem::new(&Spherical, 300.0).unwrap();
        let ln_t = rem.freezing_point().ln();
        // 1 - u^2 = e^{-600}: t = u e^{600} with u = 1 to double precision.
        assert!((ln_t - 600.0).abs() < 1e-9, "{ln_t}");
        assert_eq!(
            Rem::phase_at(&Spherical, 1e300, 1e300).unwrap(),
            Phase::Paramagnetic
        );
    }

    /// The phase names, as the CLI writes them.
    #[test]
    fn phases_read_as_words() {
        assert_eq!(Phase::Paramagnetic.to_string(), "paramagnetic");
        assert_eq!(Phase::Frozen.to_string(), "frozen");
    }
}
