//! A small phase diagram from the theory library: alpha_1 and the alpha_c
//! bound of three ensembles on a grid of lambda, printed as a table.
//!
//! Run with `cargo run --release --example phase_diagram`.

use damcap_theory::{by_name, from_toml, scan, Ensemble, TheoryError};

fn main() -> Result<(), TheoryError> {
    let ternary = from_toml(
        "[law]\nfamily = \"ternary\"\nzero_probability = 0.5",
        "ternary",
    )?;
    let ensembles: Vec<Box<dyn Ensemble>> =
        vec![by_name("gaussian")?, by_name("binary")?, Box::new(ternary)];
    let lambdas = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0];
    println!(
        "{:<10} {:>7} {:>9} {:>9}  route",
        "ensemble", "lambda", "alpha_1", "alpha_c"
    );
    for ensemble in &ensembles {
        for t in scan(ensemble.as_ref(), &lambdas)? {
            println!(
                "{:<10} {:>7} {:>9.5} {:>9.5}  {}",
                t.ensemble, t.lambda, t.alpha_1, t.alpha_c_lower, t.alpha_c_route
            );
        }
    }
    Ok(())
}
