//! From a user's [`Family`] to a standardised [`Shape`] (mean 0,
//! variance 1), with one clear error for each way a description can fail
//! to be a law or to have a standardisation.

use super::{Atom, Component, Family, Shape};
use crate::TheoryError;

/// How far probabilities or weights may sum from 1 (rounding in a file).
const SUM_TOLERANCE: f64 = 1e-9;

/// The standardised shape of `family`.
pub fn shape(family: &Family) -> Result<Shape, TheoryError> {
    match family {
        Family::Gaussian => Ok(Shape::Mixture(vec![Component {
            weight: 1.0,
            mean: 0.0,
            sd: 1.0,
        }])),
        Family::Uniform => Ok(Shape::Uniform),
        Family::Laplace => Ok(Shape::Laplace),
        Family::SparseBinary { density } => {
            let f = *density;
            if !(f > 0.0 && f < 1.0) {
                return Err(invalid(format!(
                    "sparse-binary density = {f} must lie strictly between 0 and 1 \
                     (at 0 or 1 every entry is the same: a point mass)"
                )));
            }
            atoms(&[0.0, 1.0], &[1.0 - f, f])
        }
        Family::Ternary { zero_probability } => {
            let p0 = *zero_probability;
            if !(0.0..1.0).contains(&p0) {
                return Err(invalid(format!(
                    "ternary zero_probability = {p0} must lie in [0, 1) \
                     (at 1 every entry is 0: a point mass)"
                )));
            }
            let side = 0.5 * (1.0 - p0);
            atoms(&[-1.0, 0.0, 1.0], &[side, p0, side])
        }
        Family::GaussianMixture {
            weights,
            means,
            sds,
        } => mixture(weights, means, sds),
        Family::Discrete {
            values,
            probabilities,
        } => atoms(values, probabilities),
    }
}

fn invalid(message: String) -> TheoryError {
    TheoryError::InvalidLaw(message)
}

/// Checks that `weights` are a probability vector as long as `len`.
fn check_probabilities(what: &str, weights: &[f64], len: usize) -> Result<(), TheoryError> {
    if weights.is_empty() || weights.len() != len {
        return Err(invalid(format!(
            "{what} has {} entries for {len} values: give one per value",
            weights.len()
        )));
    }
    if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
        return Err(invalid(format!(
            "{what} contains {w}: each must be a number >= 0"
        )));
    }
    let total: f64 = weights.iter().sum();
    if (total - 1.0).abs() > SUM_TOLERANCE {
        return Err(invalid(format!(
            "{what} sum to {total}: they must sum to 1"
        )));
    }
    Ok(())
}

/// The standardised atoms of a discrete law: repeated values merged,
/// zero-probability values dropped, sorted.
fn atoms(values: &[f64], probabilities: &[f64]) -> Result<Shape, TheoryError> {
    check_probabilities("probabilities", probabilities, values.len())?;
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(invalid(format!(
            "values contains {v}: each must be a finite number"
        )));
    }
    let mut merged: Vec<Atom> = Vec::new();
    let mut pairs: Vec<(f64, f64)> = values
        .iter()
        .copied()
        .zip(probabilities.iter().copied())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (value, probability) in pairs.into_iter().filter(|(_, p)| *p > 0.0) {
        match merged.last_mut() {
            Some(last) if last.value == value => last.probability += probability,
            _ => merged.push(Atom { value, probability }),
        }
    }
    let total: f64 = merged.iter().map(|a| a.probability).sum();
    let mean = merged.iter().map(|a| a.probability * a.value).sum::<f64>() / total;
    let variance = merged
        .iter()
        .map(|a| a.probability * (a.value - mean).powi(2))
        .sum::<f64>()
        / total;
    if merged.len() < 2 || variance <= 0.0 {
        return Err(invalid(format!(
            "the law is a point mass at {mean}: it cannot be standardised to variance 1; \
             give at least two values with positive probability"
        )));
    }
    let sd = variance.sqrt();
    Ok(Shape::Atoms(
        merged
            .into_iter()
            .map(|a| Atom {
                value: (a.value - mean) / sd,
                probability: a.probability / total,
            })
            .collect(),
    ))
}

/// The standardised components of a Gaussian mixture.
fn mixture(weights: &[f64], means: &[f64], sds: &[f64]) -> Result<Shape, TheoryError> {
    check_probabilities("weights", weights, means.len())?;
    if sds.len() != means.len() {
        return Err(invalid(format!(
            "sds has {} entries for {} means: give one per component",
            sds.len(),
            means.len()
        )));
    }
    if let Some(m) = means.iter().find(|m| !m.is_finite()) {
        return Err(invalid(format!(
            "means contains {m}: each must be a finite number"
        )));
    }
    if let Some(s) = sds.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(invalid(format!(
            "sds contains {s}: each must be a number > 0 (for point masses use family = \"discrete\")"
        )));
    }
    let parts = weights
        .iter()
        .zip(means)
        .zip(sds)
        .filter(|((w, _), _)| **w > 0.0);
    let mean: f64 = parts.clone().map(|((w, m), _)| w * m).sum();
    let variance: f64 = parts
        .clone()
        .map(|((w, m), s)| w * (s * s + (m - mean).powi(2)))
        .sum();
    let sd = variance.sqrt();
    Ok(Shape::Mixture(
        parts
            .map(|((w, m), s)| Component {
                weight: *w,
                mean: (m - mean) / sd,
                sd: s / sd,
            })
            .collect(),
    ))
}
