//! `gcnn compile`: the model's architecture to a circuit file.

use std::io::Write;
use std::path::Path;

use super::CliError;
use crate::circuit::Circuit;
use crate::circuit::stats::Stats;
use crate::compiler::network::{Arch, compile};
use crate::model::Model;

/// Compiles the model in `model_dir` and writes the circuit to `out`; reports per-layer
/// statistics to `log`.
pub fn run(model_dir: &Path, out: &Path, log: &mut impl Write) -> Result<Circuit, CliError> {
    let model = Model::load_architecture(model_dir)?;
    writeln!(log, "compiling {} …", model_dir.display()).map_err(CliError::Output)?;
    let circuit = compile(&Arch::of(&model), false);
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CliError::Write {
            path: dir.to_owned(),
            source: e,
        })?;
    }
    crate::circuit::file::save(&circuit, out)?;
    write!(log, "{}", Stats::of(&circuit)).map_err(CliError::Output)?;
    Ok(circuit)
}
