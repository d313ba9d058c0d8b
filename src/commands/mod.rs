//! One module per subcommand.

pub mod basin;
pub mod bench;
pub mod figures;
pub mod thresholds;
pub mod validate;

use anyhow::Result;
use damcap_theory::ensemble::{self, Ensemble};

/// The ensemble called `name`, or an error listing the valid names.
pub fn ensemble(name: &str) -> Result<Box<dyn Ensemble>> {
    Ok(ensemble::by_name(name)?)
}
