//! Patterns with i.i.d. entries of any standardised law (a law file).

use std::sync::Arc;

use super::{Ensemble, PatternLaw};
use crate::law::{EntryLaw, Family, Integral};
use crate::TheoryError;

/// Patterns whose entries are i.i.d. draws of an [`EntryLaw`].
///
/// For the retrieved pattern `xi^1` with entries `a_i` and another pattern
/// with entries `b_i`, `E_b exp(t sum_i a_i b_i) = prod_i exp(kappa(t a_i))`,
/// so at a typical `xi^1` the overlap cgf is the saddle point of
/// docs/theory.md §5:
/// `Lambda(t) = E_a kappa(t a) = E_a ln E_b exp(t a b)`, a sum over atoms
/// or a quadrature. The rate `I(u)` is its numerical Legendre transform,
/// and the all-patterns bound uses the empirical law of `xi^1`
/// ([`crate::empirical`]).
#[derive(Clone, Debug)]
pub struct Iid {
    name: String,
    law: Arc<EntryLaw>,
}

impl Iid {
    /// The ensemble of i.i.d. entries drawn from `family`, called `name`.
    /// Refuses laws that cannot be standardised and laws whose overlap cgf
    /// is infinite (tails not lighter than exponential).
    ///
    /// # Errors
    /// [`TheoryError::InvalidLaw`] for a law that cannot be standardised (a point mass, probabilities that do not sum to 1, ...) or whose tails are not lighter than exponential.
    pub fn new(name: &str, family: Family) -> Result<Self, TheoryError> {
        let law = EntryLaw::new(family)?;
        if let Some(problem) = law.tail_problem() {
            return Err(TheoryError::InvalidLaw(format!("'{name}': {problem}")));
        }
        Ok(Iid {
            name: name.to_string(),
            law: Arc::new(law),
        })
    }

    /// The standardised entry law.
    pub fn law(&self) -> &EntryLaw {
        &self.law
    }

    /// `Lambda(t)` with the quadrature's error estimate (exact for
    /// discrete laws).
    pub fn cgf_with_error(&self, t: f64) -> Integral {
        self.law.expect(|a| self.law.ln_mgf(t * a).0)
    }
}

impl Ensemble for Iid {
    fn name(&self) -> &str {
        &self.name
    }

    fn cgf_with_slope(&self, t: f64) -> (f64, f64) {
        (self.cgf_with_error(t).value, self.cgf_slope(t))
    }

    /// `Lambda'(t) = E_a a kappa'(t a)` alone (one expectation instead of
    /// two: the `alpha_1` root needs only the slope).
    fn cgf_slope(&self, t: f64) -> f64 {
        self.law.expect(|a| a * self.law.ln_mgf(t * a).1).value
    }

    /// The numerical Legendre transform, except at the end of the support,
    /// where it is [`Ensemble::alpha_max`] in closed form (the limit
    /// `t -> inf` of `t u - Lambda(t)` cancels too many digits).
    fn rate(&self, u: f64) -> f64 {
        let end = self.overlap_max();
        match u.abs() {
            x if x > end * (1.0 + 1e-12) => f64::INFINITY,
            x if x >= end * (1.0 - 1e-12) => self.alpha_max(),
            _ => crate::legendre::rate_from_cgf(self, u),
        }
    }

    /// For discrete laws, `t - Lambda(t) = -E_a ln E_b exp(x_b)` with
    /// `x_b = t a (b - a)` (since `E_a t a^2 = t`): the exponent is formed
    /// from differences of atoms, so nothing of size `t` cancels. Per atom:
    /// - while every `x_b >= -1` (small `t`), `-ln_1p(E_b expm1(x_b))`,
    ///   which keeps the relative precision of a margin of order `t`;
    /// - beyond, `ln(1 / E_b exp(x_b - x_max)) - x_max` with
    ///   `x_max = max(0, max_b x_b)`. For an atom that is its own best
    ///   partner (`x_b <= 0`, ties exactly 0) the sum is of terms in
    ///   `(0, 1]`, ties contributing their probability exactly, so in
    ///   rounding too it is at least `P(tie)`, and the term never exceeds
    ///   that of [`Ensemble::alpha_max`], `ln(1 / P(tie))`.
    ///
    /// Continuous laws subtract: their `Lambda'(t) = 1` has a root, and
    /// `alpha_1` only evaluates the margin below it.
    fn signal_margin(&self, t: f64) -> f64 {
        let Some(atoms) = self.law.atoms() else {
            return t - self.cgf(t);
        };
        let term = |a: f64| {
            let exponents = atoms
                .iter()
                .map(|b| (b.probability, t * (a * (b.value - a))));
            if exponents.clone().all(|(_, x)| x >= -1.0) {
                let s: f64 = exponents.map(|(p, x)| p * x.exp_m1()).sum();
                return -s.ln_1p();
            }
            let shift = exponents.clone().map(|(_, x)| x).fold(0.0, f64::max);
            let sum: f64 = exponents.map(|(p, x)| p * (x - shift).exp()).sum();
            sum.recip().ln() - shift
        };
        self.law.expect(term).value
    }

    /// Discrete laws reach beyond 1 when some atom's best partner is
    /// another atom (`max_b a b > a^2`), decided on the atoms themselves
    /// rather than on a rounded `overlap_max`; continuous laws always do.
    fn overlap_exceeds_one(&self) -> bool {
        match self.law.atoms() {
            Some(atoms) => atoms
                .iter()
                .any(|a| self.law.best_product(a.value) > a.value * a.value),
            None => true,
        }
    }

    /// `E_a max_b a b` over the support: the overlap of the best-aligned
    /// pattern, infinite for unbounded laws.
    fn overlap_max(&self) -> f64 {
        let (lo, hi) = self.law.support();
        if !(lo.is_finite() && hi.is_finite()) {
            return f64::INFINITY;
        }
        self.law.expect(|a| self.law.best_product(a)).value
    }

    /// For atoms, `-E_a ln P_b(a b = max)`: the entropy cost of a pattern
    /// aligned with `xi^1` on every entry. Infinite for continuous laws,
    /// where perfect alignment has probability 0.
    fn alpha_max(&self) -> f64 {
        if self.law.atoms().is_none() {
            return f64::INFINITY;
        }
        self.law
            .expect(|a| {
                let tied = self.law.best_product_probability(a).unwrap_or(1.0);
                tied.recip().ln()
            })
            .value
    }

    fn pattern_law(&self) -> PatternLaw {
        PatternLaw::Iid(Arc::clone(&self.law))
    }

    fn entry_law(&self) -> Option<&EntryLaw> {
        Some(&self.law)
    }

    /// `Var(a^2) = E a^4 - 1`; `None` when every `|a|` is the same.
    fn norm_variance(&self) -> Option<f64> {
        let v = self.law.fourth_moment() - 1.0;
        (v > 1e-12).then_some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basins::rho_min;
    use crate::ensemble::{Binary, Gaussian};
    use crate::thresholds::{alpha_1, alpha_c_lower};
    use std::f64::consts::LN_2;

    fn gaussian_file() -> Iid {
        Iid::new("gaussian-file", Family::Gaussian {}).unwrap()
    }

    fn binary_file() -> Iid {
        let family = Family::Discrete {
            values: vec![-3.0, 3.0],
            probabilities: vec![0.5, 0.5],
        };
        Iid::new("binary-file", family).unwrap()
    }

    /// Every quantity of the engine, for a law file and the built-in
    /// ensemble it describes: agreement to 1e-9. The law-file route goes
    /// through quadrature (Gaussian) or atoms (binary), a Legendre root and,
    /// for alpha_c, the empirical-law optimisation instead of the norm
    /// routes, so the two sides share only the REM and threshold roots.
    fn assert_reproduces(file: &Iid, builtin: &dyn Ensemble) {
        let close = |a: f64, b: f64, what: &str| {
            assert!((a - b).abs() < 1e-9, "{}: {what}: {a} vs {b}", file.name());
        };
        for t in [0.2, 1.0, 1.7] {
            close(file.cgf(t), builtin.cgf(t), "Lambda");
            close(file.cgf_slope(t), builtin.cgf_slope(t), "Lambda'");
            close(
                file.rate(builtin.cgf_slope(t)),
                builtin.rate(builtin.cgf_slope(t)),
                "I",
            );
        }
        close(
            file.overlap_max().min(1e6),
            builtin.overlap_max().min(1e6),
            "u_end",
        );
        close(
            file.alpha_max().min(1e6),
            builtin.alpha_max().min(1e6),
            "alpha_max",
        );
        for lambda in [0.3, 0.9, 1.0, 2.0, 6.0] {
            close(
                alpha_1(file, lambda).unwrap(),
                alpha_1(builtin, lambda).unwrap(),
                "alpha_1",
            );
            let (ours, theirs) = (
                alpha_c_lower(file, lambda).unwrap(),
                alpha_c_lower(builtin, lambda).unwrap(),
            );
            close(
                ours.alpha_c_lower,
                theirs.alpha_c_lower,
                &format!("alpha_c at {lambda}"),
            );
            assert_eq!(
                ours.route,
                theirs.route,
                "{} route at {lambda}",
                file.name()
            );
            let alpha = 0.3 * alpha_1(builtin, lambda).unwrap();
            let (a, b) = (
                rho_min(file, alpha, lambda).unwrap(),
                rho_min(builtin, alpha, lambda).unwrap(),
            );
            close(a.rho_min.unwrap(), b.rho_min.unwrap(), "rho_min");
        }
    }

    #[test]
    fn gaussian_law_file_reproduces_the_builtin() {
        assert_reproduces(&gaussian_file(), &Gaussian);
        let cgf = gaussian_file().cgf_with_error(1.5);
        assert!(
            cgf.error < 1e-10 && (cgf.value - 1.125).abs() < 1e-12,
            "{cgf:?}"
        );
    }

    /// Atoms at `+-3` standardise to `+-1`: the binary ensemble, whose
    /// alpha_c is `min(alpha_1, ln 2 / 2)` (exact duplicates).
    #[test]
    fn plus_minus_one_law_is_binary() {
        let file = binary_file();
        assert_reproduces(&file, &Binary);
        for lambda in [0.5, 2.0, 5.0] {
            let expected = alpha_1(&Binary, lambda).unwrap().min(LN_2 / 2.0);
            let got = alpha_c_lower(&file, lambda).unwrap().alpha_c_lower;
            assert!((got - expected).abs() < 1e-12, "{lambda}: {got}");
        }
        assert!(file.norm_variance().is_none());
        assert_eq!(gaussian_file().norm_variance(), Some(2.0));
    }

    /// Every law's cgf is normalised (`Lambda(0) = Lambda'(0) = 0`,
    /// `Lambda''(0) = 1`) and convex.
    #[test]
    fn cgf_normalised_for_every_family() {
        let families = [
            Family::Uniform {},
            Family::SparseBinary { density: 0.2 },
            Family::Ternary {
                zero_probability: 0.4,
            },
            Family::GaussianMixture {
                weights: vec![0.5, 0.5],
                means: vec![-1.0, 1.0],
                sds: vec![0.3, 0.3],
            },
        ];
        for family in families {
            let e = Iid::new("law", family.clone()).unwrap();
            let (l0, s0) = e.cgf_with_slope(0.0);
            assert!(l0.abs() < 1e-15 && s0.abs() < 1e-14, "{family:?}");
            let h = 1e-4;
            let curvature = (e.cgf_slope(h) - e.cgf_slope(-h)) / (2.0 * h);
            assert!((curvature - 1.0).abs() < 1e-6, "{family:?}: {curvature}");
            let slopes: Vec<f64> = [0.5, 1.0, 2.0, 4.0]
                .iter()
                .map(|&t| e.cgf_slope(t))
                .collect();
            assert!(
                slopes.windows(2).all(|w| w[1] > w[0]),
                "{family:?}: {slopes:?}"
            );
        }
    }

    /// Ternary entries: a pattern aligned with `xi^1` must match its sign
    /// wherever `xi^1` is non-zero, so `alpha_max = -(1 - p0) ln((1 - p0) / 2)`,
    /// and the overlap reaches at most `u = 1`.
    #[test]
    fn ternary_support_end() {
        let p0: f64 = 0.5;
        let e = Iid::new(
            "ternary",
            Family::Ternary {
                zero_probability: p0,
            },
        )
        .unwrap();
        assert!((e.overlap_max() - 1.0).abs() < 1e-14);
        let expected = -(1.0 - p0) * ((1.0 - p0) / 2.0).ln();
        assert!((e.alpha_max() - expected).abs() < 1e-14);
        assert!((e.rate(1.0) - expected).abs() < 1e-9, "{}", e.rate(1.0));
        // The end counts within 1e-12 relative (rounding of overlap_max);
        // past it the rate is infinite.
        let end = e.overlap_max();
        assert_eq!(e.rate(end * (1.0 + 1e-12)), e.alpha_max());
        assert_eq!(e.rate(-end * (1.0 - 1e-12)), e.alpha_max());
        assert_eq!(e.rate(end * (1.0 + 3e-12)), f64::INFINITY);
        assert_eq!(e.rate(1.01 * end), f64::INFINITY);
    }

    /// `t - Lambda(t)` for atoms keeps its relative precision at small `t`,
    /// where it is `t^2 / 2`-small against `t`: `+-1` entries and ternary
    /// entries with `P(0) = 1/2` both have `Lambda(t) = ln cosh t`
    /// (for ternary, `E_b e^{t a b} = cosh^2 t` at `a = +-sqrt 2`), so
    /// their margin is the built-in binary one, to 1e-14 relative from
    /// `t = 1e-9` to `t = 30`.
    #[test]
    fn atom_margins_keep_their_precision() {
        let ternary = Iid::new(
            "ternary",
            Family::Ternary {
                zero_probability: 0.5,
            },
        )
        .unwrap();
        for e in [binary_file(), ternary] {
            for t in [1e-9, 1e-4, 0.3, 2.0, 30.0] {
                let (got, want) = (e.signal_margin(t), Binary.signal_margin(t));
                assert!(
                    (got - want).abs() <= 1e-14 * want,
                    "{}: t = {t}: {got} vs {want}",
                    e.name()
                );
            }
        }
    }

    /// Attention scaling: at small lambda the empirical-law bound sees only
    /// the squared entries, so `a_c = beta - beta sqrt(2 v beta) N^{-1/4}`
    /// with `v = E a^4 - 1` (1 for ternary entries with `P(0) = 1/2`, 2 for
    /// gaussian ones) holds for law files too.
    #[test]
    fn attention_a_c_follows_the_norm_variance() {
        let ternary = Iid::new(
            "t",
            Family::Ternary {
                zero_probability: 0.5,
            },
        )
        .unwrap();
        assert!((ternary.norm_variance().unwrap() - 1.0).abs() < 1e-12);
        let beta: f64 = 1.0;
        let coefficient = |n: f64| {
            let t = crate::attention::attention_thresholds(&ternary, beta, Some(n)).unwrap();
            (t.a_c - beta) * n.powf(0.25)
        };
        let expected = -(2.0 * beta).sqrt() * beta;
        let (c1, c2) = (coefficient(1e8), coefficient(1e12));
        assert!((c2 - expected).abs() < 2e-3, "{c1} {c2}");
        assert!(
            (c2 - expected).abs() < (c1 - expected).abs(),
            "converging: {c1} {c2}"
        );
    }

    #[test]
    fn laplace_is_refused_with_the_reason() {
        let err = Iid::new("lap", Family::Laplace {}).unwrap_err().to_string();
        assert!(
            err.contains("'lap'") && err.contains("exponential tails"),
            "{err}"
        );
    }
}
