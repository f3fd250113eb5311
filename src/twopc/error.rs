use thiserror::Error;

use crate::circuit::file::FileError;
use crate::circuit::int::IntError;
use crate::circuit::{CircuitError, Owner};
use crate::protocol::ProtocolError;

/// Why running a circuit between two parties failed.
#[derive(Debug, Error)]
pub enum TwoPcError {
    /// The circuit file could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// The owners given do not fit the circuit.
    #[error("owners: {0}")]
    Owners(CircuitError),
    /// Not one value per input group.
    #[error("circuit has {expected} input groups, {got} values given")]
    ValueCount {
        /// Input groups of the circuit.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A value is malformed or does not fit its group.
    #[error("input group {group}: {reason}")]
    Value {
        /// Group index.
        group: usize,
        /// What is wrong with the value.
        reason: IntError,
    },
    /// A value was given for a group the other party supplies.
    #[error("input group {group} belongs to the {owner}; pass _ for it in this role")]
    NotOwned {
        /// Group index.
        group: usize,
        /// The party that supplies it.
        owner: Owner,
    },
    /// `_` was given for a group this process supplies.
    #[error("input group {group} belongs to the {owner} and needs a value, not _")]
    Missing {
        /// Group index.
        group: usize,
        /// The party that supplies it (played by this process).
        owner: Owner,
    },
    /// Listening, accepting or connecting failed.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    /// The session failed on one side.
    #[error("{role}: {reason}")]
    Protocol {
        /// The side that failed.
        role: Owner,
        /// What went wrong.
        reason: ProtocolError,
    },
    /// The garbler thread of a single-process run panicked (a bug, not bad input).
    #[error("the garbler thread panicked")]
    GarblerPanicked,
}
