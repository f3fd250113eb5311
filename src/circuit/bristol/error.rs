use std::fmt;

use thiserror::Error;

use crate::circuit::CircuitError;

/// Why a Bristol Fashion file could not be imported: the line and the problem.
#[derive(Debug, Error)]
#[error("line {line}: {problem}")]
pub struct BristolError {
    /// 1-based line number (0 when the problem is with the whole file).
    pub line: u64,
    /// What is wrong.
    pub problem: Problem,
}

/// The problems a Bristol Fashion file can have.
#[derive(Debug)]
pub enum Problem {
    /// The reader failed.
    Io(std::io::Error),
    /// A line longer than [`super::MAX_LINE`].
    LineTooLong,
    /// A line that is not UTF-8 text.
    NotText,
    /// The file ends before the named part.
    Eof(String),
    /// A token that is not a decimal number in range.
    BadNumber(String),
    /// A line with the wrong number of fields.
    FieldCount {
        /// Fields expected.
        expected: u64,
        /// Fields found.
        found: usize,
    },
    /// An operation other than XOR, AND, INV, EQW, EQ, MAND.
    UnknownOp(String),
    /// A known operation with the wrong input/output counts.
    Arity {
        /// The operation.
        op: String,
        /// Inputs given.
        nin: u64,
        /// Outputs given.
        nout: u64,
    },
    /// A gate reads a wire no earlier gate defines.
    Undefined(u64),
    /// A gate defines a wire that is already defined.
    Redefined(u64),
    /// A wire id at or past the header's wire count.
    WireRange {
        /// The wire id.
        wire: u64,
        /// The header's wire count.
        num_wires: u64,
    },
    /// A header value beyond what is accepted.
    Limit {
        /// Which value.
        what: &'static str,
        /// The value found.
        value: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// Non-blank lines after the last gate the header announced.
    ExtraGates(u64),
    /// Inputs plus gate outputs do not add up to the header's wire count.
    WireCount {
        /// The header's wire count.
        header: u64,
        /// Inputs plus wires defined by gates.
        defined: u64,
    },
    /// An `EQ` constant other than 0 or 1.
    BadConst(u64),
    /// The number of owners given does not match the input groups.
    Owners {
        /// Input groups in the file.
        groups: usize,
        /// Owners given.
        given: usize,
    },
    /// The imported circuit fails validation.
    Circuit(CircuitError),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Io(e) => write!(f, "I/O error: {e}"),
            Problem::LineTooLong => write!(f, "line longer than {} bytes", super::MAX_LINE),
            Problem::NotText => write!(f, "not UTF-8 text"),
            Problem::Eof(what) => write!(f, "file ends before {what}"),
            Problem::BadNumber(t) => write!(f, "{t:?} is not a number in range"),
            Problem::FieldCount { expected, found } => {
                write!(f, "expected {expected} fields, found {found}")
            }
            Problem::UnknownOp(op) => write!(f, "unknown gate type {op:?}"),
            Problem::Arity { op, nin, nout } => {
                write!(f, "{op} cannot have {nin} inputs and {nout} outputs")
            }
            Problem::Undefined(w) => write!(f, "wire {w} is read before it is defined"),
            Problem::Redefined(w) => write!(f, "wire {w} is defined twice"),
            Problem::WireRange { wire, num_wires } => {
                write!(
                    f,
                    "wire {wire} is not below the header's wire count {num_wires}"
                )
            }
            Problem::Limit { what, value, max } => {
                write!(f, "{what} {value} is more than the maximum {max}")
            }
            Problem::ExtraGates(n) => write!(f, "more gates than the {n} the header announces"),
            Problem::WireCount { header, defined } => write!(
                f,
                "header says {header} wires but inputs and gates define {defined}"
            ),
            Problem::BadConst(v) => write!(f, "EQ constant {v} is not 0 or 1"),
            Problem::Owners { groups, given } => {
                write!(f, "{given} owners given for {groups} input groups")
            }
            Problem::Circuit(e) => write!(f, "invalid circuit: {e}"),
        }
    }
}
