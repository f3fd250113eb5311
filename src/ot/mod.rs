//! Oblivious transfer: how the evaluator gets the labels of its own input bits without the
//! garbler learning those bits.
//!
//! [`base`] runs 128 public-key OTs (Chou–Orlandi over Ristretto); [`iknp`] extends them
//! to any number of OTs with symmetric crypto only (Ishai–Kilian–Nissim–Petrank 2003,
//! semi-honest). The extension's natural output is Δ-correlated OT: the sender's strings
//! are `q_j` and the receiver's are `q_j ⊕ r_j·Δ`, which are exactly free-XOR labels when
//! the garbler is the sender and Δ its global offset.

pub mod base;
mod error;
pub mod iknp;
pub mod lookup;
pub mod softspoken;
mod transpose;

pub use error::OtError;
pub use iknp::{IknpReceiver, IknpSender};
pub use softspoken::{SoftSpokenReceiver, SoftSpokenSender};
