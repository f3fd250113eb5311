use thiserror::Error;

/// Why a circuit, or the inputs given to it, are not well formed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CircuitError {
    /// More wires than the garbling program can address.
    #[error("circuit has more than 2^29 wires")]
    TooManyWires,
    /// More input bits than allowed.
    #[error("circuit declares {0} input bits; at most 2^22 are supported")]
    TooManyInputs(u64),
    /// A gate reads a wire that is not defined before it.
    #[error("gate {gate} reads wire {wire}, which is not defined before it")]
    UndefinedWire {
        /// Gate index.
        gate: u64,
        /// The offending wire id.
        wire: u32,
    },
    /// An output names a wire that does not exist.
    #[error("output group {group} names wire {wire}, which does not exist")]
    OutputOutOfRange {
        /// Output group index.
        group: usize,
        /// The offending wire id.
        wire: u32,
    },
    /// A section's gate range is empty-reversed or past the last gate.
    #[error("section {0:?} covers gates outside the circuit")]
    SectionOutOfRange(String),
    /// The number of input groups given does not match the circuit.
    #[error("circuit has {expected} input groups, {got} given")]
    InputGroupCount {
        /// Groups in the circuit.
        expected: usize,
        /// Groups given.
        got: usize,
    },
    /// An input group was given the wrong number of bits.
    #[error("input group {group} has {expected} bits, {got} given")]
    InputWidth {
        /// Group index.
        group: usize,
        /// Width in the circuit.
        expected: usize,
        /// Bits given.
        got: usize,
    },
}

/// An owner name other than `g`/`garbler` or `e`/`evaluator`.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("owner must be g (garbler) or e (evaluator), not {0:?}")]
pub struct ParseOwnerError(pub String);
