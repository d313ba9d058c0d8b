//! Basins of attraction: the smallest initial overlap `rho` from which
//! `xi^1` is retrieved, and the inverse temperature needed at fixed
//! overlap.
//!
//! # One step
//! An initial state with `|x0|^2 = N` and overlap `rho` with `xi^1` sees the
//! other patterns as the same REM as `xi^1` itself does (same overlap law),
//! and a signal `lambda rho`. One step retrieves iff
//! `lambda rho > phi(lambda; alpha)`, so
//! `rho_min(alpha, lambda) = phi(lambda; alpha) / lambda`, which reaches 1 at
//! `alpha_1`. In the frozen phase `rho_min = u_max(alpha)`, independent of
//! `lambda`.
//!
//! # Several steps
//! When the first step fails in the paramagnetic phase, the new state is
//! the tilted mean of exponentially many patterns. Their components
//! orthogonal to `x` average out (their sum has norm `~ e^{-N(...)/2}`), so
//! `x'` points along `x` with `|x'| = sqrt(N) Lambda'(L)`: the direction,
//! hence `rho`, is unchanged and only the effective inverse temperature
//! moves, `L_{k+1} = lambda Lambda'(L_k)` from `L_0 = lambda`. The overlaps of
//! the other patterns with `x'` are those with `x`, rescaled, so step `k`
//! retrieves iff `L_k rho > phi(L_k)`, i.e. iff `rho > r(L_k)` with
//! `r(L) = phi(L) / L`.
//!
//! Two facts settle whether later steps help:
//! 1. `r` never increases: `r'(L) = [I(Lambda'(L)) - alpha] / L^2 <= 0` in
//!    the paramagnetic phase, and `r = u_max` is constant when frozen.
//! 2. If the first step is paramagnetic and `alpha < alpha_1`, then
//!    `Lambda'(lambda) <= u_max(alpha) < 1` (because `I(u_max) = alpha <
//!    alpha_1 <= I(1)`), so `L_1 = lambda Lambda'(lambda) < lambda = L_0`; as
//!    `Lambda'` increases, `L_k` keeps decreasing.
//!
//! The effective temperature only falls, `r(L_k)` only rises: a step that
//! does not retrieve is never followed by one that does. **The multi-step
//! basin equals the one-step basin.** [`multistep`] runs the recursion
//! without assuming this, and the tests check the equality.

use crate::ensemble::Ensemble;
use crate::numeric::positive_root;
use crate::rem::{check_alpha, Phase, Rem};
use crate::thresholds::{alpha_1, check_lambda};
use crate::TheoryError;

/// Checks that `rho` is an overlap in `(0, 1]`.
fn check_rho(rho: f64) -> Result<(), TheoryError> {
    if rho > 0.0 && rho <= 1.0 {
        Ok(())
    } else {
        Err(TheoryError::InvalidRho(rho))
    }
}

/// One-step basin edge and the REM phase seen from the initial state.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Basin {
    /// `rho_min(alpha, lambda)`, or `None` when `alpha >= alpha_1` so that
    /// not even `xi^1` itself is stable.
    pub rho_min: Option<f64>,
    /// REM phase at inverse temperature `lambda`.
    pub phase: Phase,
}

/// `rho_min(alpha, lambda) = phi(lambda; alpha) / lambda`, `None` when
/// `alpha >= alpha_1(lambda)` (the same `alpha_1` that
/// [`crate::thresholds::alpha_1`] reports, so the two never disagree).
/// In the paramagnetic phase `phi = alpha + Lambda(lambda)`, so
/// `rho_min = 1 - (m(lambda) - alpha) / lambda` with the margin
/// `m = t - Lambda(t)` of [`Ensemble::signal_margin`], which keeps its
/// digits at any `lambda`; frozen, `rho_min = u_max(alpha)`.
///
/// # Errors
/// [`TheoryError::InvalidLambda`] or [`TheoryError::InvalidAlpha`] for parameters out of range; [`TheoryError::Solver`] if the REM free energy cannot be found.
pub fn rho_min<E: Ensemble + ?Sized>(
    ensemble: &E,
    alpha: f64,
    lambda: f64,
) -> Result<Basin, TheoryError> {
    check_lambda(lambda)?;
    check_alpha(ensemble, alpha)?;
    if alpha >= alpha_1(ensemble, lambda)? {
        return Ok(Basin {
            rho_min: None,
            phase: Rem::phase_at(ensemble, alpha, lambda)?,
        });
    }
    let rem = Rem::new(ensemble, alpha)?;
    let phase = rem.phase(lambda);
    let rho = match phase {
        Phase::Paramagnetic => 1.0 - (ensemble.signal_margin(lambda) - alpha) / lambda,
        Phase::Frozen => rem.u_max(),
    };
    Ok(Basin {
        rho_min: Some(rho),
        phase,
    })
}

/// `lambda_*(alpha, rho)`: the inverse temperature above which one step
/// from overlap `rho` retrieves, or `None` if no `lambda` does (when
/// `rho <= u_max(alpha)`, i.e. `I(rho) <= alpha`, compared as entropies
/// because `u_max` rounds to 1 at large spherical loads). It is the root
/// of `lambda rho = phi(lambda)` in the paramagnetic range `(0, t_alpha]`,
/// where `lambda rho - phi` is concave, negative at 0 and positive at
/// `t_alpha`. There `phi = alpha + Lambda(lambda)`, so the gap is written
/// `m(lambda) - alpha - lambda (1 - rho)` with the margin
/// `m = t - Lambda(t)` ([`Ensemble::signal_margin`]), which keeps its
/// digits at a `lambda` of `1e260` (a spherical load of 300).
///
/// # Errors
/// [`TheoryError::InvalidAlpha`] or [`TheoryError::InvalidRho`] for parameters out of range; [`TheoryError::Solver`] if a root cannot be found.
pub fn lambda_star<E: Ensemble + ?Sized>(
    ensemble: &E,
    alpha: f64,
    rho: f64,
) -> Result<Option<f64>, TheoryError> {
    check_rho(rho)?;
    check_alpha(ensemble, alpha)?;
    if ensemble.rate(rho) <= alpha {
        return Ok(None);
    }
    let rem = Rem::new(ensemble, alpha)?;
    let gap = |l: f64| ensemble.signal_margin(l) - alpha - l * (1.0 - rho);
    positive_root(gap, rem.freezing_point(), "lambda_*").map(Some)
}

/// How the multi-step dynamics ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// `xi^1` wins the softmax at some step and is stable.
    Retrieved,
    /// A frozen step lands on another pattern.
    OtherPattern,
    /// The state settles on a paramagnetic fixed point (a mixture).
    Mixture,
}

/// The effective inverse temperatures visited and the final outcome.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Trajectory {
    /// `L_0 = lambda, L_1, ...` up to the deciding step.
    pub inverse_temperatures: Vec<f64>,
    /// What happened.
    pub outcome: Outcome,
}

/// Runs the large-`N` multi-step recursion from overlap `rho`. Refuses
/// law-file ensembles whose tilted mean leaves the state's direction
/// ([`crate::law::EntryLaw::tilted_mean_along_state`]).
///
/// # Errors
/// [`TheoryError::InvalidLambda`], [`TheoryError::InvalidAlpha`] or [`TheoryError::InvalidRho`] for parameters out of range; [`TheoryError::InvalidLaw`] for law files whose tilted mean does not point along the state (docs/theory.md §6).
pub fn multistep<E: Ensemble + ?Sized>(
    ensemble: &E,
    alpha: f64,
    lambda: f64,
    rho: f64,
    max_steps: usize,
) -> Result<Trajectory, TheoryError> {
    check_lambda(lambda)?;
    check_rho(rho)?;
    if ensemble
        .entry_law()
        .is_some_and(|l| !l.tilted_mean_along_state())
    {
        return Err(TheoryError::InvalidLaw(format!(
            "the multi-step recursion assumes that the tilted mean of the patterns points \
             along the state, which holds for gaussian and +-1 entries only; for '{}' entries \
             a paramagnetic step changes the state's empirical law. Use the one-step basin \
             (damcap basin) or simulate the dynamics (damcap validate)",
            ensemble.name()
        )));
    }
    let rem = Rem::new(ensemble, alpha)?;
    let stable = lambda > rem.free_energy(lambda);
    let mut visited = Vec::new();
    let mut l = lambda;
    for _ in 0..max_steps {
        visited.push(l);
        if l * rho > rem.free_energy(l) {
            let outcome = if stable {
                Outcome::Retrieved
            } else {
                Outcome::OtherPattern
            };
            return Ok(Trajectory {
                inverse_temperatures: visited,
                outcome,
            });
        }
        if rem.phase(l) == Phase::Frozen {
            return Ok(Trajectory {
                inverse_temperatures: visited,
                outcome: Outcome::OtherPattern,
            });
        }
        let next = lambda * ensemble.cgf_slope(l);
        if (next - l).abs() <= 1e-14 * l {
            break;
        }
        l = next;
    }
    Ok(Trajectory {
        inverse_temperatures: visited,
        outcome: Outcome::Mixture,
    })
}

/// Multi-step basin edge by bisection on the outcome of [`multistep`]: an
/// independent route to [`rho_min`] that makes no use of the monotonicity
/// argument.
///
/// # Errors
/// As [`multistep`].
pub fn rho_min_multistep<E: Ensemble + ?Sized>(
    ensemble: &E,
    alpha: f64,
    lambda: f64,
    max_steps: usize,
) -> Result<Option<f64>, TheoryError> {
    let retrieves = |rho: f64| -> Result<bool, TheoryError> {
        Ok(multistep(ensemble, alpha, lambda, rho, max_steps)?.outcome == Outcome::Retrieved)
    };
    if !retrieves(1.0)? {
        return Ok(None);
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if retrieves(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(Some(hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::{Binary, Gaussian, Spherical};

    /// Law files: the recursion runs for +-1 entries (and agrees with the
    /// one-step basin) and is refused, with the reason, for ternary ones.
    #[test]
    fn multistep_needs_a_tilted_mean_along_the_state() {
        use crate::ensemble::Iid;
        use crate::law::Family;
        let pm = Family::Discrete {
            values: vec![-1.0, 1.0],
            probabilities: vec![0.5, 0.5],
        };
        let pm = Iid::new("pm", pm).unwrap();
        let one_step = rho_min(&pm, 0.2, 0.8).unwrap().rho_min.unwrap();
        let several = rho_min_multistep(&pm, 0.2, 0.8, 200).unwrap().unwrap();
        assert!((one_step - several).abs() < 1e-9, "{one_step} {several}");
        let ternary = Iid::new(
            "tern",
            Family::Ternary {
                zero_probability: 0.5,
            },
        )
        .unwrap();
        let err = multistep(&ternary, 0.2, 0.8, 0.9, 10)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'tern'") && err.contains("tilted mean"),
            "{err}"
        );
    }

    fn ensembles() -> [&'static dyn Ensemble; 3] {
        [&Gaussian, &Spherical, &Binary]
    }

    #[test]
    fn rho_min_reaches_one_at_alpha_1() {
        for e in ensembles() {
            for l in [0.4, 1.0, 3.0] {
                let a1 = alpha_1(e, l).unwrap();
                let at = rho_min(e, a1 * (1.0 - 1e-12), l).unwrap().rho_min.unwrap();
                assert!((at - 1.0).abs() < 1e-9, "{} {l}: {at}", e.name());
                assert!(rho_min(e, a1 * 1.001, l).unwrap().rho_min.is_none());
            }
        }
    }

    #[test]
    fn rho_min_in_unit_interval_and_increasing_in_alpha() {
        for e in ensembles() {
            for l in [0.4, 1.0, 3.0] {
                let a1 = alpha_1(e, l).unwrap();
                let rhos: Vec<f64> = (1..50)
                    .map(|k| {
                        rho_min(e, a1 * k as f64 / 50.0, l)
                            .unwrap()
                            .rho_min
                            .unwrap()
                    })
                    .collect();
                assert!(rhos.iter().all(|&r| r > 0.0 && r <= 1.0));
                assert!(rhos.windows(2).all(|w| w[1] > w[0]), "{} {l}", e.name());
            }
        }
    }

    /// Gaussian closed forms: frozen rho_min = sqrt(2 alpha); paramagnetic
    /// rho_min = alpha / lambda + lambda / 2.
    #[test]
    fn gaussian_rho_min_closed_form() {
        let frozen = rho_min(&Gaussian, 0.2, 2.0).unwrap();
        assert_eq!(frozen.phase, Phase::Frozen);
        assert!((frozen.rho_min.unwrap() - 0.4f64.sqrt()).abs() < 1e-12);
        let para = rho_min(&Gaussian, 0.3, 0.5).unwrap();
        assert_eq!(para.phase, Phase::Paramagnetic);
        assert!((para.rho_min.unwrap() - (0.3 / 0.5 + 0.25)).abs() < 1e-12);
    }

    /// lambda_* inverts rho_min: rho_min(alpha, lambda_*(alpha, rho)) = rho.
    #[test]
    fn lambda_star_inverts_rho_min() {
        for e in ensembles() {
            for (alpha, rho) in [(0.1, 0.9), (0.2, 0.7), (0.05, 0.5)] {
                let l = lambda_star(e, alpha, rho).unwrap().unwrap();
                let back = rho_min(e, alpha, l).unwrap().rho_min.unwrap();
                assert!((back - rho).abs() < 1e-9, "{} {alpha} {rho}", e.name());
            }
        }
        // Gaussian, rho = 1: lambda = 1 - sqrt(1 - 2 alpha).
        let l = lambda_star(&Gaussian, 0.3, 1.0).unwrap().unwrap();
        assert!((l - (1.0 - 0.4f64.sqrt())).abs() < 1e-12);
        assert!(lambda_star(&Gaussian, 0.3, 0.5).unwrap().is_none());
    }

    /// The derivation in the module docs: several steps never enlarge the
    /// basin. Checked by bisection on the simulated recursion.
    #[test]
    fn multistep_basin_equals_one_step_basin() {
        for e in ensembles() {
            for l in [0.3, 0.8, 1.0, 1.5, 4.0] {
                let a1 = alpha_1(e, l).unwrap();
                for k in 1..10 {
                    let alpha = a1 * k as f64 / 10.0;
                    let one = rho_min(e, alpha, l).unwrap().rho_min.unwrap();
                    let many = rho_min_multistep(e, alpha, l, 1000).unwrap().unwrap();
                    assert!(
                        (one - many).abs() < 1e-12,
                        "{} l={l} a={alpha}: {one} {many}",
                        e.name()
                    );
                }
            }
        }
    }

    /// Below the basin in the paramagnetic phase the effective temperature
    /// decreases step after step.
    #[test]
    fn paramagnetic_steps_cool_down() {
        let t = multistep(&Gaussian, 0.3, 0.5, 0.5, 100).unwrap();
        assert_eq!(t.outcome, Outcome::Mixture);
        assert!(t.inverse_temperatures.windows(2).all(|w| w[1] < w[0]));
    }

    #[test]
    fn bad_rho_is_rejected() {
        assert!(lambda_star(&Gaussian, 0.1, 1.5).is_err());
        assert!(multistep(&Gaussian, 0.1, 1.0, 0.0, 10).is_err());
    }

    /// A mixture stops at the fixed point of the cooling map
    /// `l -> lambda Lambda'(l)`, at the first step within 1e-14 of it
    /// relative: for binary patterns `l* = lambda tanh(l*)`, 0.79 at
    /// lambda = 1.2 and 1.29 at 1.5 (nonzero, so the relative test can be
    /// met; the REM at alpha = 0.6 freezes only at 1.98), reached well
    /// before the step limit. (Below 1, a test of 1e-14 / l would stop
    /// earlier: the steps shrink by 0.69 each, less than the factor 1.6
    /// between the two tolerances.)
    #[test]
    fn mixtures_stop_at_the_fixed_point() {
        for lambda in [1.2, 1.5] {
            let t = multistep(&Binary, 0.6, lambda, 0.05, 1000).unwrap();
            assert_eq!(t.outcome, Outcome::Mixture, "{t:?}");
            let steps = t.inverse_temperatures.len();
            assert!((3..1000).contains(&steps), "{steps} steps");
            let last = t.inverse_temperatures[steps - 1];
            let next = lambda * last.tanh();
            assert!((next - last).abs() <= 1e-14 * last, "{last} -> {next}");
        }
    }

    /// Loads outside (0, ln 2) for binary patterns are refused by name by
    /// both basin functions (lambda_star would otherwise answer "no
    /// lambda" at alpha_max, where every overlap's rate is below alpha).
    #[test]
    fn bad_alpha_is_rejected() {
        let invalid = |e: TheoryError| matches!(e, TheoryError::InvalidAlpha { .. });
        for alpha in [0.0, -0.1, std::f64::consts::LN_2, 0.8, f64::NAN] {
            assert!(
                invalid(rho_min(&Binary, alpha, 1.0).unwrap_err()),
                "{alpha}"
            );
            assert!(
                invalid(lambda_star(&Binary, alpha, 0.5).unwrap_err()),
                "{alpha}"
            );
        }
    }

    /// At huge lambda the basin agrees with alpha_1 (the old code printed
    /// alpha_1 = 0 next to rho_min = 0.733 for binary at 1e16), and a load
    /// far beyond alpha_1 is "no basin", not a solver failure.
    #[test]
    fn basins_at_extreme_lambda_and_alpha() {
        for l in [1e16, 1e100, 1e300] {
            let a1 = alpha_1(&Binary, l).unwrap();
            let basin = rho_min(&Binary, 0.3, l).unwrap();
            assert!(0.3 < a1);
            // Frozen: rho_min = u_max(0.3), the root of the binary entropy.
            let u = basin.rho_min.unwrap();
            assert!((Binary.rate(u) - 0.3).abs() < 1e-12, "{l}: {u}");
            let spherical = rho_min(&Spherical, 10.0, l).unwrap().rho_min.unwrap();
            // u_max(alpha) = sqrt(1 - e^{-2 alpha}) on the sphere.
            assert!((spherical - (1.0 - (-20f64).exp()).sqrt()).abs() < 1e-12);
        }
        for e in ensembles() {
            if e.alpha_max() > 1e300 {
                let basin = rho_min(e, 1e300, 1.0).unwrap();
                assert_eq!(basin.rho_min, None, "{}", e.name());
                assert_eq!(basin.phase, Phase::Paramagnetic, "{}", e.name());
            }
        }
        assert_eq!(lambda_star(&Gaussian, 1e300, 0.5).unwrap(), None);
    }

    /// Tiny loads and inverse temperatures: the paramagnetic closed forms
    /// `rho_min = alpha / lambda + lambda / 2` (gaussian) and
    /// `lambda_* = rho - sqrt(rho^2 - 2 alpha)` hold at 1e-300.
    #[test]
    fn basins_at_tiny_loads() {
        let basin = rho_min(&Gaussian, 2e-301, 1e-300).unwrap();
        assert_eq!(basin.phase, Phase::Paramagnetic);
        assert!((basin.rho_min.unwrap() - 0.2).abs() < 1e-12);
        for e in ensembles() {
            let r = rho_min(e, 4e-301, 1e-300).unwrap().rho_min.unwrap();
            assert!((r - 0.4).abs() < 1e-12, "{}: {r}", e.name());
        }
        let l = lambda_star(&Gaussian, 1e-302, 0.5).unwrap().unwrap();
        assert!((l - 2e-302).abs() < 1e-12 * 2e-302, "{l}");
    }

    /// A spherical load of 300 is retrieved from rho = 1 above the lambda
    /// where alpha_1 reaches 300, near e^599 (old: u_max rounded to 1 and
    /// the answer was "none").
    #[test]
    fn lambda_star_at_a_huge_spherical_load() {
        let l = lambda_star(&Spherical, 300.0, 1.0).unwrap().unwrap();
        assert!(
            (alpha_1(&Spherical, l).unwrap() - 300.0).abs() < 1e-9,
            "{l}"
        );
        assert!((l.ln() - 599.0).abs() < 1e-6, "{}", l.ln());
    }
}
