//! One module per subcommand.

pub mod basin;
pub mod bench;
pub mod figures;
pub mod law;
pub mod thresholds;
pub mod validate;

use anyhow::Result;
use damcap_theory::ensemble::{self, Ensemble};
use std::path::Path;

use crate::law_file;

/// The built-in ensemble called `name`, or the i.i.d. ensemble of the law
/// file at that path (any value ending in `.toml` or containing a path
/// separator); otherwise an error listing the valid names.
pub fn ensemble(name: &str) -> Result<Box<dyn Ensemble>> {
    if law_file::is_law_path(name) {
        return Ok(Box::new(law_file::load(Path::new(name))?.ensemble));
    }
    Ok(ensemble::by_name(name)?)
}

/// A count on the command line (`--points`, `--patterns`, ...): a whole
/// number >= 0, with a message that names the problem for a negative or
/// fractional value (clap alone reads `-1` as an unknown flag).
pub fn count(text: &str) -> Result<usize, String> {
    text.parse::<usize>().map_err(|_| {
        if text.parse::<f64>().is_ok() {
            format!("'{text}' is not a count: give a whole number >= 0")
        } else {
            format!("'{text}' is not a number: give a whole number >= 0")
        }
    })
}

/// Checks a run's outputs against its config, its law files and each
/// other ([`crate::output::plan_outputs`]) before any work; `ensembles` are the
/// config's ensemble names or law-file paths.
pub fn plan_run(config: &Path, ensembles: &[String], outputs: &[(&str, &Path)]) -> Result<()> {
    let mut inputs = vec![("config", config)];
    inputs.extend(
        ensembles
            .iter()
            .filter(|e| law_file::is_law_path(e) && Path::new(e).exists())
            .map(|e| ("law file", Path::new(e))),
    );
    crate::output::plan_outputs(&inputs, outputs)
}
