//! The public side of a private inference: everything both parties derive from the
//! mixed circuit file (or, equivalently, from the architecture alone).

use super::InferenceError;
use super::linear::Fanout;
use super::ring::{self, MAX_RING_BITS};
use crate::circuit::MAX_INPUT_BITS;
use crate::compiler::mixed::MixedCircuit;
use crate::compiler::network::Arch;
use crate::compiler::stages::{Flow, MAX_ENTRIES, Nonlinear, Stage, pool_bit, pool_windows};
use crate::garble::{GateScheme, Program};
use crate::model::{Hwc, Layer, Model, ModelSource};
use crate::ot::lookup::{self, Truth};
use crate::ot::softspoken;
use crate::protocol::{Handshake, PROTOCOL_VERSION};

/// One weighted layer: its products' geometry and its non-linear part, planned.
pub(super) struct StagePlan {
    pub(super) name: String,
    pub(super) fanout: Fanout,
    /// Choice bits per input value.
    pub(super) in_bits: u32,
    /// Width of the shares.
    pub(super) ring_bits: u32,
    /// The shares add up to the accumulator minus this (see [`Stage::offset`]).
    pub(super) offset: i128,
    pub(super) nonlinear: NonlinearPlan,
    /// Whether this is the last stage (its outputs are the class, not masked bits).
    pub(super) last: bool,
}

/// A stage's non-linear part, planned: a garbling program, or lookups.
pub(super) enum NonlinearPlan {
    Circuit(Program),
    Lookup(LookupPlan),
}

/// A lookup stage ([`Nonlinear::Lookup`]): one `m`-bit lookup per accumulator, then
/// perhaps one per pool window.
pub(super) struct LookupPlan {
    /// The activation as a function of the shares' `m`-bit sum: `[v < 2^(m−1)]`.
    pub(super) activation: Truth,
    pub(super) pool: Option<PoolPlan>,
}

/// The pool of a lookup stage.
pub(super) struct PoolPlan {
    /// Elements per window.
    pub(super) width: u32,
    /// Window `j`'s activations: `windows[j·width..(j + 1)·width]`.
    pub(super) windows: Vec<u32>,
    /// The pooled bit as a function of a window's bits.
    pub(super) function: Truth,
}

impl PoolPlan {
    /// Windows (pooled outputs).
    pub(super) fn len(&self) -> usize {
        self.windows.len() / self.width as usize
    }

    /// Window `j`'s bits of `bits` as a value, least significant first.
    pub(super) fn gather(&self, j: usize, bits: &[bool]) -> usize {
        let w = self.width as usize;
        self.windows[j * w..(j + 1) * w]
            .iter()
            .rev()
            .fold(0, |v, &i| v << 1 | usize::from(bits[i as usize]))
    }
}

impl LookupPlan {
    /// Random OTs its lookups take: `m` per accumulator and `w` per window.
    fn ots(&self, accumulators: usize) -> usize {
        accumulators * self.activation.bits() as usize
            + self.pool.as_ref().map_or(0, |p| p.windows.len())
    }
}

impl StagePlan {
    /// Random OTs the layer's products take: one per input bit.
    pub(super) fn choice_bits(&self) -> usize {
        self.fanout.inputs() * self.in_bits as usize
    }

    /// Bits of the evaluator's shares, its inputs to the stage circuit (none for lookups).
    pub(super) fn share_bits(&self) -> usize {
        match self.nonlinear {
            NonlinearPlan::Circuit(_) => self.fanout.outputs() * self.ring_bits as usize,
            NonlinearPlan::Lookup(_) => 0,
        }
    }

    /// Random OTs of the lookups (none for a circuit).
    pub(super) fn lookup_ots(&self) -> usize {
        match &self.nonlinear {
            NonlinearPlan::Circuit(_) => 0,
            NonlinearPlan::Lookup(l) => l.ots(self.fanout.outputs()),
        }
    }

    /// Output bits: the next stage's choice bits, or the class.
    pub(super) fn outputs(&self) -> usize {
        match &self.nonlinear {
            NonlinearPlan::Circuit(p) => p.outputs().len(),
            NonlinearPlan::Lookup(l) => {
                l.pool.as_ref().map_or(self.fanout.outputs(), PoolPlan::len)
            }
        }
    }
}

/// Every stage's inputs and outputs fit the session: a circuit's inputs whose labels the
/// evaluator holds are both parties' share bits, the garbler's hard-wired inputs one
/// mask per output bit (none for the last); lookups are not last;
/// each stage's outputs are the next one's choice bits, and the last outputs the class.
fn check_chain(plans: &[StagePlan]) -> Result<(), InferenceError> {
    let bad = |what: String| Err(InferenceError::Unsupported(what));
    for (k, s) in plans.iter().enumerate() {
        let outputs = s.outputs();
        let masks = if s.last { 0 } else { outputs };
        match &s.nonlinear {
            NonlinearPlan::Circuit(p)
                if p.evaluator_inputs().len() != 2 * s.share_bits()
                    || p.garbler_inputs().len() != masks =>
            {
                return bad(format!(
                    "layer {}: stage inputs do not match its shares",
                    s.name
                ));
            }
            NonlinearPlan::Lookup(_) if s.last => {
                return bad(format!("layer {}: lookups cannot output the class", s.name));
            }
            _ => {}
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
    /// Plans `arch` for the default [`Flow`]: compiles and plans its stage circuits,
    /// lays out its products.
    pub fn new(arch: &Arch) -> Result<Pipeline, InferenceError> {
        Pipeline::new_for(arch, Flow::default())
    }

    /// Plans `arch` lowered for `flow` ([`Pipeline::new`]).
    pub fn new_for(arch: &Arch, flow: Flow) -> Result<Pipeline, InferenceError> {
        let mixed = MixedCircuit::compile(arch, flow)?;
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
                nonlinear,
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
            let nonlinear = match nonlinear {
                Nonlinear::Circuit(circuit) => NonlinearPlan::Circuit(Program::of(&circuit)),
                Nonlinear::Lookup { pool } => {
                    if ring_bits > lookup::MAX_BITS {
                        return unsupported("lookups on shares wider than 8 bits");
                    }
                    // The bound a circuit's share inputs have, before any allocation.
                    if (h * w * c) as u64 * u64::from(ring_bits) > MAX_INPUT_BITS {
                        return unsupported("too many accumulators for lookups");
                    }
                    let pool = match pool {
                        None => None,
                        Some(p) => {
                            let width = p.size[0] * p.size[1];
                            let windows = pool_windows(&p, (h, w, c))
                                .filter(|_| width <= lookup::MAX_BITS as usize);
                            let Some(windows) = windows else {
                                return unsupported("its pool does not fit a lookup");
                            };
                            let width = width as u32;
                            Some(PoolPlan {
                                width,
                                windows,
                                function: Truth::from_fn(width, |v| pool_bit(p.kind, v as u32)),
                            })
                        }
                    };
                    NonlinearPlan::Lookup(LookupPlan {
                        activation: Truth::from_fn(ring_bits, |v| v < 1 << (ring_bits - 1)),
                        pool,
                    })
                }
            };
            plans.push(StagePlan {
                fanout: Fanout::new(&linear, input),
                name: linear.name,
                in_bits,
                ring_bits,
                offset,
                nonlinear,
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
        Pipeline::load_for(source, Flow::default())
    }

    /// [`Pipeline::load_from`], lowered for `flow`.
    pub fn load_for(source: &ModelSource, flow: Flow) -> Result<Pipeline, InferenceError> {
        Pipeline::new_for(&Arch::of(&Model::load_architecture_from(source)?), flow)
    }

    /// The first message of a session of `images` over this pipeline with the default
    /// gate scheme ([`Pipeline::handshake_for`]).
    pub fn handshake(&self, images: u32) -> Handshake {
        self.handshake_for(GateScheme::default(), images)
    }

    /// The first message of a session of `images` over this pipeline whose ANDs are
    /// garbled with `gate_scheme`: version, hash, the shape (stages, the evaluator's pixel
    /// bits, class bits), the image count and the scheme.
    pub fn handshake_for(&self, gate_scheme: GateScheme, images: u32) -> Handshake {
        Handshake {
            version: PROTOCOL_VERSION,
            circuit_hash: self.hash,
            shape: [
                self.stages.len() as u64,
                self.pixel_bits() as u64,
                self.class_bits() as u64,
            ],
            images,
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

    /// The stage circuits' garbling programs, in order (lookup stages have none).
    pub fn programs(&self) -> impl Iterator<Item = &Program> {
        self.stages.iter().filter_map(|s| match &s.nonlinear {
            NonlinearPlan::Circuit(p) => Some(p),
            NonlinearPlan::Lookup(_) => None,
        })
    }

    /// Per weighted layer, its name and what computes its non-linear part: a garbled
    /// circuit, or lookups (how many, on how many bits).
    pub fn nonlinear_parts(&self) -> Vec<(String, String)> {
        self.stages
            .iter()
            .map(|s| {
                let what = match &s.nonlinear {
                    NonlinearPlan::Circuit(_) => "garbled circuit".to_string(),
                    NonlinearPlan::Lookup(l) => {
                        let mut what = format!(
                            "lookups: {} thresholds of {}-bit shares",
                            s.fanout.outputs(),
                            s.ring_bits
                        );
                        if let Some(p) = &l.pool {
                            what += &format!(", then {} pool windows of {} bits", p.len(), p.width);
                        }
                        what
                    }
                };
                (s.name.clone(), what)
            })
            .collect()
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

    /// Where a session's bytes go with the default gate scheme, per weighted layer
    /// ([`Pipeline::layer_costs_for`]).
    pub fn layer_costs(&self) -> Vec<LayerCost> {
        self.layer_costs_for(GateScheme::default())
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
                let corrections = s.fanout.correction_bytes(s.in_bits, s.ring_bits);
                let accumulators = s.fanout.outputs();
                // Online, always `d`, one bit per product OT; then per kind.
                let (mut to_garbler, to_evaluator, offline, rounds, lookups) = match &s.nonlinear {
                    // `f = E − R`, one m-bit value per accumulator; back, one label per
                    // bit of the garbler's word. Offline the tables and decoding bits.
                    NonlinearPlan::Circuit(p) => (
                        ring::packed_len(accumulators, s.ring_bits) as u64,
                        16 * s.share_bits() as u64,
                        gate_scheme.table_bytes(p) + bits(p.outputs().len()),
                        1,
                        0,
                    ),
                    // `d'` and back a table per accumulator; with a pool then `d''` and
                    // a table per window.
                    NonlinearPlan::Lookup(l) => {
                        let table = |n: u32| lookup::table_bytes(n) as u64;
                        let (pool_in, pool_out, windows) = l.pool.as_ref().map_or((0, 0, 0), |p| {
                            (
                                bits(p.windows.len()),
                                p.len() as u64 * table(p.width),
                                p.len(),
                            )
                        });
                        (
                            bits(accumulators * s.ring_bits as usize) + pool_in,
                            accumulators as u64 * table(s.ring_bits) + pool_out,
                            0,
                            1 + u64::from(l.pool.is_some()),
                            (accumulators + windows) as u64,
                        )
                    }
                };
                to_garbler += bits(s.choice_bits());
                let (and, half, tables) = match &s.nonlinear {
                    NonlinearPlan::Circuit(p) => {
                        let (and, half) = p.and_counts();
                        (and, half, gate_scheme.table_bytes(p))
                    }
                    NonlinearPlan::Lookup(_) => (0, 0, 0),
                };
                LayerCost {
                    name: s.name.clone(),
                    product_ots: s.choice_bits() as u64,
                    corrections,
                    share_ots: s.share_bits() as u64,
                    lookup_ots: s.lookup_ots() as u64,
                    lookups,
                    and_gates: and,
                    garbler_half_gates: half,
                    tables,
                    to_garbler: ext(s.choice_bits())
                        + ext(s.share_bits())
                        + ext(s.lookup_ots())
                        + to_garbler,
                    to_evaluator: to_evaluator + corrections + offline,
                    online: to_garbler + to_evaluator,
                    online_to_garbler: to_garbler,
                    online_to_evaluator: to_evaluator,
                    round_trips: rounds,
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
    /// Random OTs of the lookups: `m` per accumulator, `w` per pool window.
    pub lookup_ots: u64,
    /// Lookups (1-out-of-`2^n` OTs of a bit): one per accumulator and one per window.
    pub lookups: u64,
    /// Half-gates ANDs of the stage circuit (2 ciphertexts each).
    pub and_gates: u64,
    /// Garbler half gates of the stage circuit (1 ciphertext each).
    pub garbler_half_gates: u64,
    /// Bytes of garbled tables.
    pub tables: u64,
    /// Bytes evaluator → garbler (the OT extension matrices, and online the choice
    /// differences `d` and the masked share `f`, or the lookups' `d'` and `d''`).
    pub to_garbler: u64,
    /// Bytes garbler → evaluator (corrections, tables, decoding bits, and online the
    /// labels of the garbler's share or the lookup tables).
    pub to_evaluator: u64,
    /// Of both directions, the bytes of the online phase (after the image is used).
    pub online: u64,
    /// Online bytes evaluator → garbler (`d` and `f`, or `d`, `d'` and `d''`).
    pub online_to_garbler: u64,
    /// Online bytes garbler → evaluator (the labels of the garbler's share, or the
    /// lookup tables).
    pub online_to_evaluator: u64,
    /// Online round trips: `d` and `f` → labels for a circuit; `d` and `d'` →
    /// threshold tables, then with a pool `d''` → pool tables, for lookups.
    pub round_trips: u64,
}

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
    pub const COLUMNS: [&'static str; 12] = [
        "OTs",
        "corrections",
        "share bits",
        "lookups",
        "ANDs",
        "half gates",
        "tables",
        "online e->g",
        "online g->e",
        "total e->g",
        "total g->e",
        "rounds",
    ];

    /// The figures `gcnn inspect` prints per layer: OTs (products, shares and lookups),
    /// correction bytes, share bits, lookups, ANDs, garbler half gates, table bytes,
    /// online bytes each way, total bytes each way, online round trips.
    pub fn columns(&self) -> [u64; 12] {
        [
            self.product_ots + self.share_ots + self.lookup_ots,
            self.corrections,
            self.share_ots,
            self.lookups,
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
    pub const HEADER: &'static str = "layer    product OTs  corrections   share OTs  lookup OTs        ANDs  half gates      tables   eval->garb   garb->eval       online";
}

impl std::fmt::Display for LayerCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<8} {:>11} {:>12} {:>11} {:>11} {:>11} {:>11} {:>11} {:>12} {:>12} {:>12}",
            self.name,
            self.product_ots,
            self.corrections,
            self.share_ots,
            self.lookup_ots,
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
