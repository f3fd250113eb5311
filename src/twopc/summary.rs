//! What a run cost, for the one-line summary on stderr.

use std::fmt;
use std::time::Duration;

use crate::garble::Program;
use crate::protocol::SessionReport;

/// Gates, traffic and time of one two-party run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// ANDs garbled as half-gates (two ciphertexts each).
    pub half_gates: u64,
    /// ANDs garbled as garbler half gates (one ciphertext each).
    pub garbler_half_gates: u64,
    /// Bytes the garbler sent.
    pub garbler_to_evaluator: u64,
    /// Bytes the evaluator sent.
    pub evaluator_to_garbler: u64,
    /// Wall time of the session, handshake to output decoding.
    pub time: Duration,
}

impl Summary {
    /// The summary of `report`, as seen by the garbler (`garbler_side`) or the evaluator.
    pub fn new(program: &Program, report: &SessionReport, garbler_side: bool) -> Self {
        let (half_gates, garbler_half_gates) = program.and_counts();
        let (from_garbler, from_evaluator) = if garbler_side {
            (report.bytes_sent, report.bytes_received)
        } else {
            (report.bytes_received, report.bytes_sent)
        };
        Summary {
            half_gates,
            garbler_half_gates,
            garbler_to_evaluator: from_garbler,
            evaluator_to_garbler: from_evaluator,
            time: report.total,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ANDs ({} half-gates, {} garbler half gates), garbler->evaluator {} bytes, \
             evaluator->garbler {} bytes, {:.1} ms",
            self.half_gates + self.garbler_half_gates,
            self.half_gates,
            self.garbler_half_gates,
            self.garbler_to_evaluator,
            self.evaluator_to_garbler,
            self.time.as_secs_f64() * 1e3
        )
    }
}
