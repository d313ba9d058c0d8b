//! Fixed trapezoidal rules for laws with Gaussian-base parts (the
//! standard normal and every mixture component): expectations, and
//! `ln E exp(theta g(a))` for one function `g` and many tilts `theta`.
//!
//! Route A of the all-patterns bound maximises over `theta` at fixed `t`
//! ([`crate::empirical`]), so `g = h_t` is evaluated once per node and
//! each tilt then costs one exponential per node, instead of an adaptive
//! quadrature that evaluates `g` afresh. The fixed rule exists for
//! Gaussian-base parts (the standard normal and every mixture component):
//! the trapezoidal rule in the standardised variable `z`, which converges
//! geometrically for smooth integrands decaying like `exp(-z^2 / 2)`:
//! for an integrand analytic in a strip `|Im z| < d`, the error is of
//! order `exp(-2 pi d / step)`, so halving the step squares it. The rule
//! at twice the step (every other node) therefore measures the error: a
//! relative gap `g` between the two leaves an error of order `g^2` in the
//! finer one. A gap above [`GAP`] (a peak too narrow for the step) gives
//! no value, and the caller falls back to adaptive quadrature
//! ([`super::EntryLaw::expect`], [`super::EntryLaw::ln_expect_exp`]).

use std::sync::LazyLock;

use super::{log_sum_exp, Component, Integral};

/// Node spacing in `z`; the check uses twice this step.
const STEP: f64 = 0.25;
/// The nodes cover `|z| <= REACH`, as the adaptive quadrature does
/// (`e^-722` of the peak of the base density beyond).
const REACH: f64 = 38.0;
/// Largest accepted gap between the two rules, relative to the value
/// (absolute below 1): the finer rule is then good to about `1e-16`.
const GAP: f64 = 1e-8;

/// The nodes `z` of the rule and their weights `step * phi(z)`, with
/// `phi` the standard normal density.
static NODES: LazyLock<Vec<(f64, f64)>> = LazyLock::new(|| {
    let count = (2.0 * REACH / STEP).round() as usize;
    let norm = STEP / (2.0 * std::f64::consts::PI).sqrt();
    (0..=count)
        .map(|k| {
            let z = -REACH + STEP * k as f64;
            (z, norm * (-0.5 * z * z).exp())
        })
        .collect()
});

/// `E_a f(a)` over a Gaussian mixture by the trapezoidal rule; `None`
/// when the gap to the rule at twice the step exceeds [`GAP`] or the
/// value is not finite, so that the caller integrates adaptively. The
/// error reported is the square of the relative gap, times the scale.
pub(crate) fn gaussian_expect<F: Fn(f64) -> f64>(
    components: &[Component],
    f: F,
) -> Option<Integral> {
    let (mut fine, mut coarse) = (0.0, 0.0);
    for c in components {
        let (mut all, mut even) = (0.0, 0.0);
        for (k, &(z, weight)) in NODES.iter().enumerate() {
            let term = weight * f(c.mean + c.sd * z);
            all += term;
            if k % 2 == 0 {
                even += term;
            }
        }
        fine += c.weight * all;
        coarse += c.weight * 2.0 * even;
    }
    let scale = fine.abs().max(1.0);
    let gap = (fine - coarse).abs() / scale;
    (fine.is_finite() && gap <= GAP).then_some(Integral {
        value: fine,
        error: gap * gap * scale,
    })
}

/// The nodes of one function `g` over the Gaussian-base parts of a law;
/// no parts when the law has no fixed rule.
#[derive(Clone, Debug)]
pub(crate) struct Tilts {
    parts: Vec<PartNodes>,
}

/// One part: its log weight and, per node, `(ln(base density * step), g)`.
#[derive(Clone, Debug)]
struct PartNodes {
    ln_weight: f64,
    nodes: Vec<(f64, f64)>,
}

impl Tilts {
    /// No fixed rule: every tilt falls back to adaptive quadrature.
    pub(crate) fn none() -> Self {
        Tilts { parts: Vec::new() }
    }

    /// `g` at the nodes of each component `w N(m, sd^2)`, `a = m + sd z`.
    pub(crate) fn gaussian_parts<G: Fn(f64) -> f64>(components: &[Component], g: G) -> Self {
        let count = (2.0 * REACH / STEP).round() as usize;
        let ln_norm = STEP.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
        let parts = components
            .iter()
            .map(|c| PartNodes {
                ln_weight: c.weight.ln(),
                nodes: (0..=count)
                    .map(|k| {
                        let z = -REACH + STEP * k as f64;
                        (ln_norm - 0.5 * z * z, g(c.mean + c.sd * z))
                    })
                    .collect(),
            })
            .collect();
        Tilts { parts }
    }

    /// `ln E exp(theta g(a))`, or `None` when there is no fixed rule, the
    /// value is not finite, or the step is too coarse for this tilt.
    pub(crate) fn ln_expect_exp(&self, theta: f64) -> Option<f64> {
        if self.parts.is_empty() {
            return None;
        }
        let mut fine = Vec::with_capacity(self.parts.len());
        let mut coarse = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            let (f, c) = part.ln_sums(theta);
            fine.push((part.ln_weight + f, 0.0));
            coarse.push((part.ln_weight + c + std::f64::consts::LN_2, 0.0));
        }
        let fine = log_sum_exp(fine.into_iter()).0;
        let coarse = log_sum_exp(coarse.into_iter()).0;
        let agree = (fine - coarse).abs() <= GAP * fine.abs().max(1.0);
        (fine.is_finite() && agree).then_some(fine)
    }
}

/// Terms this far below the largest are below rounding and skipped.
const NEGLIGIBLE: f64 = -50.0;

impl PartNodes {
    /// `ln sum_k exp(b_k + theta g_k)` over all nodes and over every other
    /// node, each shifted by its largest exponent.
    fn ln_sums(&self, theta: f64) -> (f64, f64) {
        let exponent = |&(b, g): &(f64, f64)| {
            let x = b + theta * g;
            if x.is_nan() {
                f64::NEG_INFINITY
            } else {
                x
            }
        };
        let shift = self
            .nodes
            .iter()
            .map(exponent)
            .fold(f64::NEG_INFINITY, f64::max);
        if !shift.is_finite() {
            return (shift, shift);
        }
        let (mut all, mut even) = (0.0, 0.0);
        for (k, node) in self.nodes.iter().enumerate() {
            let d = exponent(node) - shift;
            if d > NEGLIGIBLE {
                let term = d.exp();
                all += term;
                if k % 2 == 0 {
                    even += term;
                }
            }
        }
        (shift + all.ln(), shift + even.ln())
    }
}
