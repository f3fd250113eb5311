//! Oblivious transfer: how the evaluator gets the labels of its own input bits without the
//! garbler learning those bits.
//!
//! [`base`] runs 128 public-key OTs (Chou–Orlandi over Ristretto); [`softspoken`] (in
//! inference) and [`iknp`] (in the Yao path) extend them to any number of OTs with
//! symmetric crypto only (Roy 2022; Ishai–Kilian–Nissim–Petrank 2003; semi-honest), and
//! [`lookup`] builds 1-out-of-2^n OTs of one bit from random ones. An extension's natural
//! output is Δ-correlated OT: the sender's strings
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

use crate::crypto::{Block, Delta, FixedKeyAes, Tweak};
use zeroize::Zeroizing;

/// OTs hashed per AES call: 8 blocks go through the rounds together (see
/// [`FixedKeyAes::tccr`]), where one OT at a time leaves the pipeline mostly idle.
const LANES: usize = 4;

/// Random OT from the sender's Δ-correlated ends `q`: the key pairs
/// `(H(q_j, t_j), H(q_j ⊕ Δ, t_j))` with the OT tweaks `t_j` counted on from `counter`.
/// The hash (TCCR, Guo–Katz–Wang–Yu 2020) breaks the Δ correlation, so the receiver, who
/// holds `q_j ⊕ r_j·Δ`, learns the key its choice selects and nothing of the other, and
/// the keys of different OTs are independent. Replaces the contents of `out`.
fn random_pairs(
    aes: &FixedKeyAes,
    q: &[Block],
    delta: &Delta,
    counter: &mut u64,
    out: &mut Zeroizing<Vec<[Block; 2]>>,
) {
    let (d, first) = (delta.block(), *counter);
    *counter += q.len() as u64;
    out.clear();
    out.reserve(q.len());
    let mut chunks = q.chunks_exact(LANES);
    let mut t = first;
    for c in &mut chunks {
        // Per OT its two ends, `q_j` and `q_j ⊕ Δ`.
        let xs: [Block; 2 * LANES] =
            std::array::from_fn(|k| if k % 2 == 0 { c[k / 2] } else { c[k / 2] ^ d });
        let tweaks: [Tweak; 2 * LANES] = std::array::from_fn(|k| Tweak::ot(t + (k / 2) as u64));
        let h = aes.tccr(xs, tweaks);
        out.extend(h.chunks_exact(2).map(|p| [p[0], p[1]]));
        t += LANES as u64;
    }
    for (&qj, t) in chunks.remainder().iter().zip(t..) {
        out.push(aes.tccr([qj, qj ^ d], [Tweak::ot(t); 2]));
    }
}

/// Random OT from the receiver's ends `t_j = q_j ⊕ r_j·Δ`: the keys `H(t_j, tweak_j)`
/// its choices select from the pairs of [`random_pairs`], with the same tweaks counted on
/// from `counter`. Replaces the contents of `out`.
fn random_keys(aes: &FixedKeyAes, t: &[Block], counter: &mut u64, out: &mut Zeroizing<Vec<Block>>) {
    let first = *counter;
    *counter += t.len() as u64;
    out.clear();
    out.reserve(t.len());
    let mut chunks = t.chunks_exact(2 * LANES);
    let mut tweak = first;
    for c in &mut chunks {
        let xs: [Block; 2 * LANES] = std::array::from_fn(|k| c[k]);
        let tweaks: [Tweak; 2 * LANES] = std::array::from_fn(|k| Tweak::ot(tweak + k as u64));
        out.extend(aes.tccr(xs, tweaks));
        tweak += 2 * LANES as u64;
    }
    for (&tj, tweak) in chunks.remainder().iter().zip(tweak..) {
        out.push(aes.tccr([tj], [Tweak::ot(tweak)])[0]);
    }
}
