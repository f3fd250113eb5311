//! Yao garbling with free-XOR, point-and-permute and half-gates.
//!
//! - XOR and NOT are free (Kolesnikov–Schneider 2008): the garbler keeps a global offset
//!   Δ and every wire's labels are `L0` and `L0 ⊕ Δ`.
//! - AND of two wires the garbler does not know costs two ciphertexts (half-gates,
//!   Zahur–Rosulek–Evans, "Two Halves Make a Whole", EUROCRYPT 2015, Fig. 2).
//! - AND of a wire with one the garbler knows in the clear (a weight bit, a constant, or
//!   anything computed only from those) is a single garbler half gate: one ciphertext.
//! - Wires the garbler knows cost nothing else: like public constants, the evaluator
//!   holds the all-zero block for them and the garbler's zero label is `v·Δ`. XOR with
//!   such a wire only relabels, a garbler half gate never reads its label, and an AND of
//!   two of them is computed by the garbler alone. So the garbler's inputs (the weights)
//!   are never sent: they are hard-wired into the garbled tables, hidden by them.
//!
//! Hashes are the TCCR hash of [`crate::crypto::FixedKeyAes`] with the gate's position as
//! tweak. The garbler writes each table to the channel as soon as it is computed and the
//! evaluator reads it just before use, so neither side ever holds the garbled circuit.
//! Both must run the same [`Program`], so they make the same sequence of hash calls.

mod batch;
mod evaluator;
mod garbler;
mod plan;
mod program;

pub use evaluator::Evaluator;
pub(crate) use evaluator::decode;
pub use garbler::Garbler;
pub(crate) use garbler::decoding_bits;
pub(crate) use program::ProgramBuilder;
pub use program::{Instr, Program, ProgramError};

pub use crate::circuit::{AND_BYTES, GARBLER_HALF_GATE_BYTES};
