//! `gcnn compile`: the model's architecture to a circuit file — the mixed circuit file
//! private inference runs, or (`--pure`) the whole network as one circuit.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use super::{CliError, human_bytes};
use crate::circuit::Circuit;
use crate::circuit::stats::Stats;
use crate::compiler::mixed::{MAGIC, MixedCircuit, write_file};
use crate::compiler::network::{Arch, compile};
use crate::garble::GateScheme;
use crate::inference::{Flow, InferenceError, LayerCost, Pipeline};
use crate::model::{Model, ModelSource};

/// Creates the directory `out` is written to.
fn make_parent(out: &Path) -> Result<(), CliError> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CliError::Write {
            path: dir.to_owned(),
            source: e,
        })?;
    }
    Ok(())
}

/// Compiles the model (only its `model.json` is read) for `flow` to the mixed circuit
/// file `out`; reports what each layer costs to `log`.
pub fn run(
    model: &ModelSource,
    flow: Flow,
    out: &Path,
    log: &mut impl Write,
) -> Result<Pipeline, CliError> {
    let model = Model::load_architecture_from(model)?;
    let mixed = MixedCircuit::compile(&Arch::of(&model), flow).map_err(InferenceError::from)?;
    let bytes = mixed.to_bytes();
    let hash: [u8; 32] = bytes[bytes.len() - 32..].try_into().expect("32 bytes");
    // Planned first: a network the protocol cannot run is refused before anything is
    // written.
    let pipeline = Pipeline::from_circuit(mixed, hash)?;
    make_parent(out)?;
    write_file(out, &bytes).map_err(InferenceError::from)?;
    write!(log, "{}", Costs(&pipeline)).map_err(CliError::Output)?;
    Ok(pipeline)
}

/// Compiles the model to one pure circuit of the whole network and writes it to `out`;
/// reports per-layer statistics to `log`.
pub fn run_pure(
    model: &ModelSource,
    out: &Path,
    log: &mut impl Write,
) -> Result<Circuit, CliError> {
    writeln!(log, "compiling {model} …").map_err(CliError::Output)?;
    let model = Model::load_architecture_from(model)?;
    let circuit = compile(&Arch::of(&model), false);
    make_parent(out)?;
    crate::circuit::file::save(&circuit, out)?;
    write!(log, "{}", Stats::of(&circuit)).map_err(CliError::Output)?;
    Ok(circuit)
}

/// Whether `path` starts with the mixed circuit file's magic bytes.
pub fn is_mixed(path: &Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == MAGIC)
}

/// A mixed circuit's session costs, per layer and in total, as `gcnn inspect` and
/// `gcnn compile` print them: exact bytes, derived from the public circuit alone.
pub struct Costs<'a>(pub &'a Pipeline);

impl fmt::Display for Costs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pipeline = self.0;
        writeln!(f, "circuit hash: {}", hex(&pipeline.hash()))?;
        let shape = pipeline.input_shape();
        writeln!(
            f,
            "input: {}x{}x{} pixels of {} bits; {} classes",
            shape.height,
            shape.width,
            shape.channels,
            pipeline.input_bits(),
            pipeline.classes()
        )?;
        write!(f, "{:<8}", "layer")?;
        for name in LayerCost::COLUMNS {
            write!(f, " {name:>12}")?;
        }
        writeln!(f)?;
        let costs = pipeline.layer_costs();
        let row = |f: &mut fmt::Formatter<'_>, c: &LayerCost| {
            write!(f, "{:<8}", c.name)?;
            for v in c.columns() {
                write!(f, " {v:>12}")?;
            }
            writeln!(f)
        };
        for c in &costs {
            row(f, c)?;
        }
        for (name, what) in pipeline.nonlinear_parts() {
            writeln!(f, "{name}: {what}")?;
        }
        let setup = pipeline.setup_cost();
        let sum = |get: fn(&LayerCost) -> u64| costs.iter().map(get).sum::<u64>();
        let to_garbler = setup.to_garbler + sum(|c| c.to_garbler);
        let to_evaluator = setup.to_evaluator + sum(|c| c.to_evaluator);
        writeln!(
            f,
            "set-up (handshake, base OTs, OT extension set-up): {} B evaluator->garbler, {} B garbler->evaluator, {} round trips",
            setup.to_garbler, setup.to_evaluator, setup.round_trips
        )?;
        let scheme = GateScheme::default();
        let other = GateScheme::ALL
            .into_iter()
            .find(|&s| s != scheme)
            .unwrap_or(scheme);
        let other_bytes: u64 = pipeline
            .layer_costs_for(other)
            .iter()
            .map(|c| c.to_garbler + c.to_evaluator)
            .sum::<u64>()
            + setup.to_garbler
            + setup.to_evaluator;
        writeln!(
            f,
            "session: {to_garbler} B evaluator->garbler, {to_evaluator} B garbler->evaluator ({} in all, {} online), {} round trips ({} online); ANDs garbled {scheme} ({other}: {other_bytes} B in all)",
            human_bytes(to_garbler + to_evaluator),
            human_bytes(sum(|c| c.online)),
            setup.round_trips + sum(|c| c.round_trips),
            sum(|c| c.round_trips)
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
