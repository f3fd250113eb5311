//! Bristol Fashion import and export, the text format MP-SPDZ, emp-toolkit and swanky read.
//!
//! Layout (Archer, Bogdanov, Lindell, Smart et al., "Bristol Fashion" MPC circuits):
//!
//! ```text
//! num_gates num_wires
//! niv w_1 … w_niv          input groups and their widths
//! nov w_1 … w_nov          output groups and their widths
//!
//! 2 1 a b c XOR            c = a ⊕ b
//! 2 1 a b c AND            c = a ∧ b
//! 1 1 a c INV              c = ¬a
//! 1 1 a c EQW              c = a (a copy)
//! 1 1 v c EQ               c = v, a constant 0 or 1
//! 2k k a_1…a_k b_1…b_k c_1…c_k MAND   c_i = a_i ∧ b_i
//! ```
//!
//! Input wires are `0..ni`, group after group; output wires are the last `no` wires of the
//! circuit, group after group; bit `i` of a group is wire `offset + i` (least significant
//! first). Every other wire is defined exactly once, before it is read.
//!
//! Import ([`read_from`]) renumbers wires into the single-assignment order of [`Circuit`]:
//! `EQW` becomes an alias (no gate), `MAND` becomes `k` AND gates. Bristol has no owners,
//! so they are a parameter ([`default_owners`] when absent). Sections are not represented
//! in Bristol and are dropped by export ([`write_to`]), which numbers wires so that the
//! outputs come last and adds `EQW` copies only where an output is an input wire or repeats.

mod error;
mod lines;
mod read;
mod wire_map;
mod write;

pub use error::{BristolError, Problem};
pub use read::read_from;
pub use write::write_to;

use super::Owner;

#[cfg(doc)]
use super::Circuit;

pub use super::MAX_GROUPS;
/// Longest line accepted, in bytes (a `MAND` of 8192 wide needs well under this).
pub const MAX_LINE: usize = 1 << 20;

/// Owners for a Bristol circuit with `groups` input groups, when none are given.
///
/// A one-group circuit is owned by the evaluator (it computes a function of its own data);
/// otherwise group 0 is the garbler's and the rest the evaluator's.
pub fn default_owners(groups: usize) -> Vec<Owner> {
    (0..groups)
        .map(|g| {
            if g == 0 && groups > 1 {
                Owner::Garbler
            } else {
                Owner::Evaluator
            }
        })
        .collect()
}
