//! One private inference: the mixed protocol over a [`Channel`], in an offline and an
//! online phase.
//!
//! **Offline** (input-independent, before the image is used): handshake, 128 base OTs
//! and the SoftSpoken OT extension set up on them ([`crate::ot::softspoken`]);
//! per weighted layer, random OTs for its products (the evaluator's choices random), and
//! Δ-correlated OTs for its share bits (choices random too, `R`); then every stage circuit
//! garbled with a random garbler share `S`, fresh output masks and fresh input zero labels
//! `L`, its tables and decoding bits sent, the evaluator storing them.
//!
//! **Online**, per weighted layer:
//! 1. the evaluator sends `d = a ⊕ c` (its true choice bits against the offline random
//!    ones; Beaver's derandomization), the garbler swaps each key pair where `d = 1` and
//!    streams the correction vectors ([`crate::inference::linear`]); both hold shares `E + G = acc`;
//! 2. the garbler sends `δ = G − S` (uniform to the evaluator, `S` being uniform), so the
//!    evaluator's `E' = E + δ` satisfies `E' + S = acc`, the sum the circuit computes;
//! 3. the evaluator sends `e = E' ⊕ R`, the garbler answers `W = L ⊕ q ⊕ e·Δ` per bit, and
//!    the evaluator's offline `q ⊕ R·Δ` becomes `L ⊕ E'·Δ`: its input labels;
//! 4. the evaluator evaluates the stored tables and decodes the masked outputs: its
//!    choice bits for the next layer (or, at the end, the class).
//!
//! One Δ, one OT extension instance and one garbler (so one tweak counter per domain) serve the
//! whole session, so no (input, tweak) pair is hashed twice; all are fresh per session.

mod evaluator;
mod garbler;

pub(super) use evaluator::run_evaluator;
pub(super) use garbler::run_garbler;

use zeroize::Zeroizing;

/// The bits of `values` (each `m` bits, least significant first), with room for `extra`
/// more: allocated once, so no reallocation leaves a copy of a secret behind.
pub(super) fn bits_of(values: &[u64], m: u32, extra: usize) -> Zeroizing<Vec<bool>> {
    let mut bits = Zeroizing::new(Vec::with_capacity(values.len() * m as usize + extra));
    for &v in values {
        bits.extend((0..m).map(|j| v >> j & 1 == 1));
    }
    bits
}
