//! Boolean circuits: the intermediate representation every other layer speaks.
//!
//! A [`Circuit`] is a single-assignment gate list. Wires are numbered densely: the input
//! wires come first, group after group in the order of [`Circuit::inputs`]; gate `k` then
//! defines wire `num_inputs + k`. Every gate reads only wires defined before it, so file
//! order is a topological order. Gates are XOR, AND, NOT and constants; that is the whole
//! instruction set of free-XOR garbling.

pub mod bristol;
mod error;
pub mod eval;
pub mod file;
pub mod format;
pub mod int;
mod known;
pub mod stats;

pub use error::{CircuitError, ParseOwnerError};
pub use known::{AND_BYTES, AndKind, GARBLER_HALF_GATE_BYTES, GarblerKnown};

use std::ops::Range;

/// Most input bits a circuit may declare. Inputs cost memory before any gate is read, so a
/// few bytes of file must not be able to claim billions of them; real circuits (the LeNet:
/// about 10^5, SHA-256: 768) are far below.
pub const MAX_INPUT_BITS: u64 = 1 << 22;

/// Most wires a circuit may have: the garbling program addresses label slots with 29 bits.
pub const MAX_WIRES: u64 = 1 << 29;

/// Most input or output groups a circuit file (either format) may declare.
pub const MAX_GROUPS: u64 = 1 << 16;

/// Index of a wire in a [`Circuit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WireId(pub u32);

impl WireId {
    /// The index as `usize`, for slices.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which party supplies an input group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// The garbler (in gcnn: the model owner; its bits are weights and biases).
    Garbler,
    /// The evaluator (in gcnn: the client; its bits are the image).
    Evaluator,
}

impl std::str::FromStr for Owner {
    type Err = ParseOwnerError;

    /// `g` or `garbler`, `e` or `evaluator`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "g" | "garbler" => Ok(Owner::Garbler),
            "e" | "evaluator" => Ok(Owner::Evaluator),
            _ => Err(ParseOwnerError(s.chars().take(24).collect())),
        }
    }
}

impl std::fmt::Display for Owner {
    /// `garbler` or `evaluator`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Owner::Garbler => "garbler",
            Owner::Evaluator => "evaluator",
        })
    }
}

/// A group of consecutive input wires supplied by one party.
///
/// A group is read as an unsigned integer: bit `i` is the group's `i`-th wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InputGroup {
    /// The party that supplies these bits.
    pub owner: Owner,
    /// Number of wires (bits) in the group.
    pub width: u32,
}

/// One gate. Its output is the next unused wire id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gate {
    /// `a ⊕ b`; free under free-XOR.
    Xor(WireId, WireId),
    /// `a ∧ b`; the only gate that costs ciphertexts.
    And(WireId, WireId),
    /// `¬a`; free.
    Not(WireId),
    /// A public constant bit; free.
    Const(bool),
}

impl Gate {
    /// The wires this gate reads (zero, one or two).
    pub fn inputs(&self) -> impl Iterator<Item = WireId> {
        let (a, b) = match *self {
            Gate::Xor(a, b) | Gate::And(a, b) => (Some(a), Some(b)),
            Gate::Not(a) => (Some(a), None),
            Gate::Const(_) => (None, None),
        };
        a.into_iter().chain(b)
    }
}

/// A named, contiguous range of gates (for example one network layer), used for statistics.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Section {
    /// Human-readable name, e.g. `conv1`.
    pub name: String,
    /// The gate indices (not wire ids) the section covers.
    pub gates: Range<u32>,
}

/// A validated single-assignment boolean circuit.
///
/// Construct with [`Circuit::new`], which checks every wire index; the fields are then
/// guaranteed consistent, so evaluators can index without re-checking.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Circuit {
    inputs: Vec<InputGroup>,
    gates: Vec<Gate>,
    outputs: Vec<Vec<WireId>>,
    sections: Vec<Section>,
}

impl Circuit {
    /// Validates and builds a circuit.
    ///
    /// Fails if a gate reads a wire that is not yet defined, an output names a wire that
    /// does not exist, a section is out of range, or the wire count overflows `u32`.
    pub fn new(
        inputs: Vec<InputGroup>,
        gates: Vec<Gate>,
        outputs: Vec<Vec<WireId>>,
        sections: Vec<Section>,
    ) -> Result<Self, CircuitError> {
        let num_inputs: u64 = inputs.iter().map(|g| u64::from(g.width)).sum();
        if num_inputs > MAX_INPUT_BITS {
            return Err(CircuitError::TooManyInputs(num_inputs));
        }
        let num_wires = num_inputs + gates.len() as u64;
        if num_wires > MAX_WIRES {
            return Err(CircuitError::TooManyWires);
        }
        for (k, gate) in gates.iter().enumerate() {
            let defined = num_inputs + k as u64;
            for w in gate.inputs() {
                if u64::from(w.0) >= defined {
                    return Err(CircuitError::UndefinedWire {
                        gate: k as u64,
                        wire: w.0,
                    });
                }
            }
        }
        for (g, group) in outputs.iter().enumerate() {
            if let Some(w) = group.iter().find(|w| u64::from(w.0) >= num_wires) {
                return Err(CircuitError::OutputOutOfRange {
                    group: g,
                    wire: w.0,
                });
            }
        }
        for s in &sections {
            if s.gates.start > s.gates.end || u64::from(s.gates.end) > gates.len() as u64 {
                return Err(CircuitError::SectionOutOfRange(s.name.clone()));
            }
        }
        Ok(Circuit {
            inputs,
            gates,
            outputs,
            sections,
        })
    }

    /// The same circuit with input group `g` owned by `owners[g]`.
    ///
    /// Fails if `owners` does not name exactly one owner per input group.
    pub fn with_owners(mut self, owners: &[Owner]) -> Result<Self, CircuitError> {
        if owners.len() != self.inputs.len() {
            return Err(CircuitError::InputGroupCount {
                expected: self.inputs.len(),
                got: owners.len(),
            });
        }
        for (group, &owner) in self.inputs.iter_mut().zip(owners) {
            group.owner = owner;
        }
        Ok(self)
    }

    /// The input groups, in wire order.
    pub fn inputs(&self) -> &[InputGroup] {
        &self.inputs
    }

    /// The gates, in topological (file) order.
    pub fn gates(&self) -> &[Gate] {
        &self.gates
    }

    /// The output groups; each lists its wires least significant bit first.
    pub fn outputs(&self) -> &[Vec<WireId>] {
        &self.outputs
    }

    /// Named gate ranges, for per-layer statistics.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// Total number of input wires.
    pub fn num_inputs(&self) -> usize {
        self.inputs.iter().map(|g| g.width as usize).sum()
    }

    /// Total number of wires (inputs plus one per gate).
    pub fn num_wires(&self) -> usize {
        self.num_inputs() + self.gates.len()
    }
}
