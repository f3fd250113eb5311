use std::fmt;

use thiserror::Error;

use crate::circuit::CircuitError;

/// The part of a binary circuit file being read when an error occurred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// Magic, version or header counts.
    Header,
    /// Input group `i`.
    InputGroup(u64),
    /// Output group `i`.
    OutputGroup(u64),
    /// Section `i`.
    Section(u64),
    /// Gate `k`.
    Gate(u64),
    /// The trailing content hash.
    Hash,
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Header => write!(f, "header"),
            Item::InputGroup(i) => write!(f, "input group {i}"),
            Item::OutputGroup(i) => write!(f, "output group {i}"),
            Item::Section(i) => write!(f, "section {i}"),
            Item::Gate(k) => write!(f, "gate {k}"),
            Item::Hash => write!(f, "content hash"),
        }
    }
}

/// Why a binary circuit file could not be read or written.
#[derive(Debug, Error)]
pub enum FormatError {
    /// The underlying reader or writer failed.
    #[error("I/O error at byte {offset}: {source}")]
    Io {
        /// Byte offset in the file.
        offset: u64,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not start with `GCNNCIRC`.
    #[error("not a gcnn circuit file (bad magic bytes)")]
    BadMagic,
    /// A version this code does not know.
    #[error("unsupported circuit format version {0} (this build reads version 1)")]
    Version(u64),
    /// The file ends in the middle of an item.
    #[error("file truncated at byte {offset} while reading {item}")]
    Truncated {
        /// Byte offset in the file.
        offset: u64,
        /// What was being read.
        item: Item,
    },
    /// A varint that is overlong or exceeds 64 bits.
    #[error("malformed varint at byte {offset} in {item}")]
    BadVarint {
        /// Byte offset in the file.
        offset: u64,
        /// What was being read.
        item: Item,
    },
    /// A count or value beyond what the format allows.
    #[error("{item}: {what} is {value}, more than the maximum {max}")]
    Limit {
        /// What was being read.
        item: Item,
        /// Which field.
        what: &'static str,
        /// The value in the file.
        value: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// An owner byte other than 0 (garbler) or 1 (evaluator).
    #[error("input group {group}: owner byte {byte} is neither 0 (garbler) nor 1 (evaluator)")]
    BadOwner {
        /// Input group index.
        group: u64,
        /// The byte found.
        byte: u8,
    },
    /// A gate operand that reaches before wire 0.
    #[error("gate {gate} (wire {wire}): operand {back} wires back is before wire 0")]
    BadOperand {
        /// Gate index.
        gate: u64,
        /// The gate's output wire.
        wire: u64,
        /// The stored distance back.
        back: u64,
    },
    /// An output bit that names no wire.
    #[error("output group {group}: a bit {back} wires back from the last is before wire 0")]
    BadOutput {
        /// Output group index.
        group: u64,
        /// The stored distance from the last wire.
        back: u64,
    },
    /// A constant gate whose value is not 0 or 1.
    #[error("gate {gate}: constant value {value} is not 0 or 1")]
    BadConst {
        /// Gate index.
        gate: u64,
        /// The value found.
        value: u64,
    },
    /// A section name that is not UTF-8.
    #[error("section {0}: name is not UTF-8")]
    NameUtf8(u64),
    /// The stored hash does not match the content.
    #[error("content hash mismatch: the file is corrupt")]
    HashMismatch,
    /// Bytes after the content hash.
    #[error("trailing data after the content hash at byte {0}")]
    TrailingData(u64),
    /// The decoded circuit fails validation.
    #[error("invalid circuit: {0}")]
    Invalid(#[from] CircuitError),
}
