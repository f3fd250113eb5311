//! Two-party sessions: the handshake and semi-honest Yao over any [`Channel`].
//!
//! [`run_garbler`] and [`run_evaluator`] execute one [`Program`]: handshake, base OTs and
//! IKNP for the evaluator's input labels, the streamed tables (the garbler's own inputs
//! are hard-wired into them, never sent), and the output decoding bits, which only the
//! evaluator uses. Every call picks a fresh Δ, fresh labels and fresh OTs.
//!
//! [`Channel`]: crate::channel::Channel
//! [`Program`]: crate::garble::Program

mod error;
mod handshake;
mod yao;

pub use error::ProtocolError;
pub use handshake::{HANDSHAKE_BYTES, Handshake, Offer, PROTOCOL_VERSION, refuse_busy};
pub use yao::{SessionReport, run_evaluator, run_garbler};
