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
        Family::Gaussian {} => Ok(Shape::Mixture(vec![Component {
            weight: 1.0,
            mean: 0.0,
            sd: 1.0,
        }])),
        Family::Uniform {} => Ok(Shape::Uniform),
        Family::Laplace {} => Ok(Shape::Laplace),
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

/// Checks that `weights` are a probability vector, one per `item` (of
/// which there are `len`).
fn check_probabilities(
    what: &str,
    weights: &[f64],
    len: usize,
    item: &str,
) -> Result<(), TheoryError> {
    if len == 0 {
        return Err(invalid(format!(
            "the law has no {item}s: give at least two"
        )));
    }
    if weights.len() != len {
        return Err(invalid(format!(
            "{what} has {} entries for {len} {item}s: give one per {item}",
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
    check_probabilities("probabilities", probabilities, values.len(), "value")?;
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
    // Deviations are scaled by the largest one before squaring, so that
    // huge values do not overflow.
    let reach = merged
        .iter()
        .map(|a| (a.value - mean).abs())
        .fold(0.0, f64::max);
    let variance = merged
        .iter()
        .map(|a| a.probability * ((a.value - mean) / reach).powi(2))
        .sum::<f64>()
        / total;
    // One atom gives 0 / 0 (NaN) and equal atoms 0: a point mass either way.
    if variance.is_nan() || variance <= 0.0 {
        return Err(invalid(format!(
            "the law is a point mass at {mean}: it cannot be standardised to variance 1; \
             give at least two values with positive probability"
        )));
    }
    let sd = reach * variance.sqrt();
    let atoms: Vec<Atom> = merged
        .into_iter()
        .map(|a| Atom {
            value: (a.value - mean) / sd,
            probability: a.probability / total,
        })
        .collect();
    let moments = |k: i32| {
        atoms
            .iter()
            .map(|a| a.probability * a.value.powi(k))
            .sum::<f64>()
    };
    let largest = atoms.iter().map(|a| a.value.abs()).fold(0.0, f64::max);
    check_standardised(moments(1), moments(2), largest)?;
    Ok(Shape::Atoms(atoms))
}

/// Largest standardised entry accepted: beyond it (e.g. a sparse law with
/// density below about 1e-8) the theory's exponents lose their precision.
const LARGEST_ENTRY: f64 = 1e4;

/// Refuses a standardisation that rounding has spoiled (values too close
/// together for their size) or that leaves entries too large to handle.
fn check_standardised(mean: f64, second: f64, largest: f64) -> Result<(), TheoryError> {
    if !(mean.abs() <= 1e-9 && (second - 1.0).abs() <= 1e-9) {
        return Err(invalid(format!(
            "standardising gives mean {mean:e} and variance {second}, not 0 and 1: the values \
             are too close together for their size; shift them towards 0 or spread them out"
        )));
    }
    if largest.is_nan() || largest > LARGEST_ENTRY {
        return Err(invalid(format!(
            "the standardised law reaches |a| = {largest:e}, beyond the supported {LARGEST_ENTRY:e}: \
             the law is too sparse or too skewed (for sparse-binary, density >= 1e-8)"
        )));
    }
    Ok(())
}

/// The standardised components of a Gaussian mixture.
fn mixture(weights: &[f64], means: &[f64], sds: &[f64]) -> Result<Shape, TheoryError> {
    check_probabilities("weights", weights, means.len(), "component")?;
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
    // Scaled by the largest deviation or sd before squaring (no overflow).
    let reach = parts
        .clone()
        .map(|((_, m), s)| (m - mean).abs().max(*s))
        .fold(0.0, f64::max);
    let variance: f64 = parts
        .clone()
        .map(|((w, m), s)| w * ((s / reach).powi(2) + ((m - mean) / reach).powi(2)))
        .sum();
    let sd = reach * variance.sqrt();
    let components: Vec<Component> = parts
        .map(|((w, m), s)| Component {
            weight: *w,
            mean: (m - mean) / sd,
            sd: s / sd,
        })
        .collect();
    let first = components.iter().map(|c| c.weight * c.mean).sum();
    let second = components
        .iter()
        .map(|c| c.weight * (c.sd * c.sd + c.mean * c.mean))
        .sum();
    let largest = components
        .iter()
        .map(|c| c.mean.abs() + c.sd)
        .fold(0.0, f64::max);
    check_standardised(first, second, largest)?;
    Ok(Shape::Mixture(components))
}
