//! The public side of a private inference: everything both parties derive from the
//! mixed circuit file (or, equivalently, from the architecture alone).

use super::InferenceError;
use super::linear::Fanout;
use super::ring::{self, MAX_RING_BITS};
use crate::compiler::mixed::MixedCircuit;
use crate::compiler::network::Arch;
use crate::compiler::stages::{MAX_ENTRIES, Stage};
use crate::garble::{GateScheme, Program};
use crate::model::{Hwc, Layer, Model, ModelSource};
use crate::ot::softspoken;
use crate::protocol::{Handshake, PROTOCOL_VERSION};

/// One weighted layer: its products' geometry and its stage circuit, planned.
pub(super) struct StagePlan {
    pub(super) name: String,
    pub(super) fanout: Fanout,
    /// Choice bits per input value.
    pub(super) in_bits: u32,
    /// Width of the shares.
    pub(super) ring_bits: u32,
    /// The shares add up to the accumulator minus this (see [`Stage::offset`]).
    pub(super) offset: i128,
    pub(super) program: Program,
    /// Whether this is the last stage (its outputs are the class, not masked bits).
    pub(super) last: bool,
}

impl StagePlan {
    /// Random OTs the layer's products take: one per input bit.
    pub(super) fn choice_bits(&self) -> usize {
        self.fanout.inputs() * self.in_bits as usize
    }

    /// Bits of the evaluator's shares, its inputs to the stage circuit.
    pub(super) fn share_bits(&self) -> usize {
        self.fanout.outputs() * self.ring_bits as usize
    }
}

/// Every stage's inputs and outputs fit the session: the inputs whose labels the
/// evaluator holds are both parties' share bits, the garbler's hard-wired inputs one
/// mask per output bit (none for the last),
/// each stage's outputs are the next one's choice bits, and the last outputs the class.
fn check_chain(plans: &[StagePlan]) -> Result<(), InferenceError> {
    let bad = |what: String| Err(InferenceError::Unsupported(what));
    for (k, s) in plans.iter().enumerate() {
        let outputs = s.program.outputs().len();
        let masks = if s.last { 0 } else { outputs };
        if s.program.evaluator_inputs().len() != 2 * s.share_bits()
            || s.program.garbler_inputs().len() != masks
        {
            return bad(format!(
                "layer {}: stage inputs do not match its shares",
                s.name
            ));
        }
        match plans.get(k + 1) {
            Some(next) if next.choice_bits() != outputs => {
                return bad(format!(
                    "layer {}: outputs do not feed {}",
                    s.name, next.name
                ));
            }
            None if outputs != class_bits(s.fanout.channels()) => {
                return bad(format!(
                    "the last stage has {outputs} output bits, not the class"
                ));
            }
            _ => {}
        }
    }
    if plans.is_empty() {
        return bad("no weighted layer".into());
    }
    Ok(())
}

/// The public pipeline of the mixed protocol: per weighted layer, OT-based products and a
/// stage circuit (see [`crate::compiler::stages`]); and the hash that names it in the
/// handshake.
pub struct Pipeline {
    pub(super) stages: Vec<StagePlan>,
    input: Hwc,
    input_bits: u32,
    hash: [u8; 32],
}

/// Bits of a class index among `classes`: `⌈log2 classes⌉`, as the arg-max gadget
/// outputs it.
fn class_bits(classes: usize) -> usize {
    (usize::BITS - (classes.max(2) - 1).leading_zeros()) as usize
}

impl Pipeline {
    /// Plans `arch`: compiles and plans its stage circuits, lays out its products.
    pub fn new(arch: &Arch) -> Result<Pipeline, InferenceError> {
        let mixed = MixedCircuit::compile(arch)?;
        let hash = mixed.hash();
        Pipeline::from_circuit(mixed, hash)
    }

    /// Plans a mixed circuit (compiled here or read from a file, `hash` its identity):
    /// checks that every stage's geometry fits its input, that the stages chain from the
    /// image to the class within the protocol's bounds, and plans the stage circuits.
    pub fn from_circuit(mixed: MixedCircuit, hash: [u8; 32]) -> Result<Pipeline, InferenceError> {
        let count = mixed.stages.len();
        let mut plans = Vec::with_capacity(count);
        // The first stage takes the image, perhaps flattened.
        let mut expected = Some((mixed.input.len(), mixed.input_bits));
        for (k, stage) in mixed.stages.into_iter().enumerate() {
            let Stage {
                linear,
                input,
                in_bits,
                ring_bits,
                offset,
                circuit,
            } = stage;
            let unsupported = |what: &str| {
                Err(InferenceError::Unsupported(format!(
                    "layer {}: {what}",
                    linear.name
                )))
            };
            if k == 0 && expected != Some((input.0 * input.1 * input.2, in_bits)) {
                return unsupported("the first layer does not take the image");
            }
            expected = None;
            if ring_bits > MAX_RING_BITS {
                return Err(InferenceError::TooWide {
                    layer: linear.name,
                    bits: ring_bits,
                    max: MAX_RING_BITS,
                });
            }
            let inputs = (input.0 as u128) * (input.1 as u128) * (input.2 as u128);
            let Some((h, w, c)) = linear.output(input).filter(|_| inputs <= 1 << 24) else {
                return unsupported("its geometry does not fit its input");
            };
            let entries = (h as u128 * w as u128 * c as u128) * linear.terms() as u128;
            if entries > u128::from(MAX_ENTRIES) {
                return Err(InferenceError::TooLarge {
                    layer: linear.name,
                    entries: u64::try_from(entries).unwrap_or(u64::MAX),
                    max: MAX_ENTRIES,
                });
            }
            plans.push(StagePlan {
                fanout: Fanout::new(&linear, input),
                name: linear.name,
                in_bits,
                ring_bits,
                offset,
                program: crate::garble::Program::of(&circuit),
                last: k + 1 == count,
            });
        }
        check_chain(&plans)?;
        Ok(Pipeline {
            stages: plans,
            input: mixed.input,
            input_bits: mixed.input_bits,
            hash,
        })
    }

    /// The pipeline of a mixed circuit file (see [`crate::compiler::mixed`]).
    pub fn load_circuit(path: &std::path::Path) -> Result<Pipeline, InferenceError> {
        let (mixed, hash) = MixedCircuit::load(path)?;
        Pipeline::from_circuit(mixed, hash)
    }

    /// The identity of this pipeline's circuit file: the handshake's hash.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// The pipeline of the architecture in `model_dir/model.json`; reads no weights.
    pub fn load(model_dir: &std::path::Path) -> Result<Pipeline, InferenceError> {
        Pipeline::load_from(&ModelSource::Dir(model_dir.to_path_buf()))
    }

    /// The pipeline of the architecture in a model directory or the bundled model;
    /// reads no weights.
    pub fn load_from(source: &ModelSource) -> Result<Pipeline, InferenceError> {
        Pipeline::new(&Arch::of(&Model::load_architecture_from(source)?))
    }

    /// The first message of a half-gates session over this pipeline
    /// ([`Pipeline::handshake_for`]).
    pub fn handshake(&self) -> Handshake {
        self.handshake_for(GateScheme::HalfGates)
    }

    /// The first message of a session over this pipeline whose ANDs are garbled with
    /// `gate_scheme`: version, hash, the shape (stages, the evaluator's pixel bits,
    /// class bits) and the scheme.
    pub fn handshake_for(&self, gate_scheme: GateScheme) -> Handshake {
        Handshake {
            version: PROTOCOL_VERSION,
            circuit_hash: self.hash,
            shape: [
                self.stages.len() as u64,
                self.pixel_bits() as u64,
                self.class_bits() as u64,
            ],
            gate_scheme,
        }
    }

    /// Shape of the image the evaluator supplies.
    pub fn input_shape(&self) -> Hwc {
        self.input
    }

    /// Number of classes (the last layer's outputs).
    pub fn classes(&self) -> usize {
        self.stages.last().map_or(0, |s| s.fanout.channels())
    }

    /// Output bits of the class, `⌈log2 classes⌉`.
    pub fn class_bits(&self) -> usize {
        class_bits(self.classes())
    }

    /// The evaluator's input bits: H·W·C pixels × [`Pipeline::input_bits`].
    pub fn pixel_bits(&self) -> usize {
        self.stages.first().map_or(0, StagePlan::choice_bits)
    }

    /// Bits per pixel the evaluator supplies.
    pub fn input_bits(&self) -> u32 {
        self.input_bits
    }

    /// The stage circuits' garbling programs, in order.
    pub fn programs(&self) -> impl Iterator<Item = &Program> {
        self.stages.iter().map(|s| &s.program)
    }

    /// What a session costs beyond its layers (exact).
    pub fn setup_cost(&self) -> SetupCost {
        let handshake = crate::protocol::HANDSHAKE_BYTES as u64;
        SetupCost {
            to_garbler: handshake + 32 + softspoken::SETUP_BYTES,
            to_evaluator: handshake + 128 * 32,
            round_trips: SETUP_ROUND_TRIPS,
        }
    }

    /// Where a half-gates session's bytes go, per weighted layer
    /// ([`Pipeline::layer_costs_for`]).
    pub fn layer_costs(&self) -> Vec<LayerCost> {
        self.layer_costs_for(GateScheme::HalfGates)
    }

    /// Where a session's bytes go when its ANDs are garbled with `gate_scheme`, per
    /// weighted layer: exact, from the public pipeline.
    pub fn layer_costs_for(&self, gate_scheme: GateScheme) -> Vec<LayerCost> {
        // SoftSpoken sends one correction column per chunk of Δ.
        let ext = |n: usize| softspoken::extension_bytes(n, softspoken::DEFAULT_K);
        let bits = |n: usize| n.div_ceil(8) as u64;
        self.stages
            .iter()
            .map(|s| {
                let (and, half) = s.program.and_counts();
                let tables = gate_scheme.table_bytes(&s.program);
                let corrections = s.fanout.correction_bytes(s.in_bits, s.ring_bits);
                // d, one bit per product OT, and f = E − R, one m-bit value per
                // accumulator; back, one label per bit of the garbler's word.
                let differences = ring::packed_len(s.fanout.outputs(), s.ring_bits) as u64;
                let online_to_garbler = bits(s.choice_bits()) + differences;
                let online_to_evaluator = 16 * s.share_bits() as u64;
                LayerCost {
                    name: s.name.clone(),
                    product_ots: s.choice_bits() as u64,
                    corrections,
                    share_ots: s.share_bits() as u64,
                    and_gates: and,
                    garbler_half_gates: half,
                    tables,
                    to_garbler: ext(s.choice_bits()) + ext(s.share_bits()) + online_to_garbler,
                    to_evaluator: online_to_evaluator
                        + corrections
                        + tables
                        + bits(s.program.outputs().len()),
                    online: online_to_garbler + online_to_evaluator,
                    online_to_garbler,
                    online_to_evaluator,
                    round_trips: ONLINE_ROUND_TRIPS,
                }
            })
            .collect()
    }
}

/// What one weighted layer costs in a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerCost {
    /// The layer.
    pub name: String,
    /// Random OTs for its products (one per input bit).
    pub product_ots: u64,
    /// Bytes of correction vectors (offline).
    pub corrections: u64,
    /// Correlated OTs carrying the evaluator's shares into the stage circuit.
    pub share_ots: u64,
    /// Half-gates ANDs of the stage circuit (2 ciphertexts each).
    pub and_gates: u64,
    /// Garbler half gates of the stage circuit (1 ciphertext each).
    pub garbler_half_gates: u64,
    /// Bytes of garbled tables.
    pub tables: u64,
    /// Bytes evaluator → garbler (the OT extension matrices, and online the choice
    /// differences `d` and the masked share `f`).
    pub to_garbler: u64,
    /// Bytes garbler → evaluator (corrections, tables, decoding bits, and online the
    /// labels of the garbler's share).
    pub to_evaluator: u64,
    /// Of both directions, the bytes of the online phase (after the image is used).
    pub online: u64,
    /// Online bytes evaluator → garbler (`d` and `f`).
    pub online_to_garbler: u64,
    /// Online bytes garbler → evaluator (the labels of the garbler's share).
    pub online_to_evaluator: u64,
    /// Online round trips: `d` and `f` → labels.
    pub round_trips: u64,
}

/// Online round trips per weighted layer.
const ONLINE_ROUND_TRIPS: u64 = 1;

/// Round trips of the offline phase: the handshake with the base OTs, then the OT
/// matrices answered by the corrections and the tables.
const SETUP_ROUND_TRIPS: u64 = 2;

/// What a session costs beyond its layers: the handshake and the base OTs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupCost {
    /// Bytes evaluator → garbler: its handshake, the base-OT sender's point and the
    /// SoftSpoken set-up (masked GGM level sums).
    pub to_garbler: u64,
    /// Bytes garbler → evaluator: its handshake and 128 base-OT receiver points.
    pub to_evaluator: u64,
    /// Round trips before the first layer's online messages: the handshake with the
    /// base OTs, and the OT extension answered by the corrections and the stage tables.
    pub round_trips: u64,
}

impl LayerCost {
    /// Column names of [`LayerCost::columns`].
    pub const COLUMNS: [&'static str; 11] = [
        "OTs",
        "corrections",
        "share bits",
        "ANDs",
        "half gates",
        "tables",
        "online e->g",
        "online g->e",
        "total e->g",
        "total g->e",
        "rounds",
    ];

    /// The figures `gcnn inspect` prints per layer: OTs (products and shares),
    /// correction bytes, share bits, ANDs, garbler half gates, table bytes, online bytes
    /// each way, total bytes each way, online round trips.
    pub fn columns(&self) -> [u64; 11] {
        [
            self.product_ots + self.share_ots,
            self.corrections,
            self.share_ots,
            self.and_gates,
            self.garbler_half_gates,
            self.tables,
            self.online_to_garbler,
            self.online_to_evaluator,
            self.to_garbler,
            self.to_evaluator,
            self.round_trips,
        ]
    }

    /// Header matching [`LayerCost`]'s `Display`.
    pub const HEADER: &'static str = "layer    product OTs  corrections   share OTs        ANDs  half gates      tables   eval->garb   garb->eval       online";
}

impl std::fmt::Display for LayerCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<8} {:>11} {:>12} {:>11} {:>11} {:>11} {:>11} {:>12} {:>12} {:>12}",
            self.name,
            self.product_ots,
            self.corrections,
            self.share_ots,
            self.and_gates,
            self.garbler_half_gates,
            self.tables,
            self.to_garbler,
            self.to_evaluator,
            self.online
        )
    }
}

/// The garbler's private values per weighted layer: weights in tensor order, and biases
/// less the stage's public offset (so its shares add up to `acc − offset`).
pub(super) fn layer_values(model: &Model, pipeline: &Pipeline) -> Vec<(Vec<i64>, Vec<i64>)> {
    model
        .layers
        .iter()
        .filter_map(Layer::weights_and_bias)
        .zip(&pipeline.stages)
        .map(|((weights, bias), stage)| {
            // Wrapping: only the value mod 2^m matters, and the offset is below 2^63.
            let theta = stage.offset as i64;
            (
                weights,
                bias.iter().map(|&b| b.wrapping_sub(theta)).collect(),
            )
        })
        .collect()
}
