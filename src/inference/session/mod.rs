//! One private inference: the mixed protocol over a [`Channel`], in an offline and an
//! online phase.
//!
//! **Offline** (input-independent, before the image is used), two round trips:
//! 1. the evaluator sends its handshake and the base OTs' first point; the garbler
//!    answers with its handshake and its 128 points;
//! 2. the evaluator sends the SoftSpoken set-up (its GGM level sums,
//!    [`crate::ot::softspoken`]) and the correction columns of every layer's OTs: random
//!    OTs for its products (its choices `c` random) and Δ-correlated OTs for its share
//!    bits (its choices the bits of a random share `R`); the garbler answers, per layer,
//!    the product corrections for the choices `c` ([`crate::inference::linear::Products`]),
//!    the stage circuit garbled with the OT ends `q` as the zero labels of the
//!    evaluator's share bits (so its ends `q ⊕ R·Δ` are its labels for `R`), fresh zero
//!    labels `L` for the garbler's share bits and fresh output masks, and the decoding
//!    bits. The evaluator stores the tables.
//!
//! A stage on lookups ([`crate::compiler::stages::Nonlinear::Lookup`]) takes random OTs
//! on random choices for its lookups instead of the share OTs, and nothing else: no
//! tables, no decoding bits ([`lookups`]).
//!
//! **Online**, one round trip per weighted layer with a circuit:
//! 1. the evaluator sends `d = a ⊕ c` (its true choice bits against the random ones) and
//!    `f = E − R`, where `E`, its share of the accumulators, follows from `d` and the
//!    offline products alone;
//! 2. the garbler completes its share `G` from `d`, and sends the labels
//!    `L ⊕ (G + f)·Δ` of `G + f = acc − R`;
//! 3. the evaluator evaluates the stored tables on `R` and `G + f`, which the circuit
//!    adds, and decodes the masked outputs: its choice bits for the next layer (or, at the
//!    end, the class).
//!
//! A layer on lookups sends `d` with `d' = E ⊕ c'` and gets the threshold tables back;
//! with a pool a second round trip follows, `d''` and the pool's tables ([`lookups`]).
//! The default LeNet: 2 round trips offline, 5 online (conv1's 2, then 1 per layer).
//!
//! **Several images** (the handshake says how many, at most
//! [`crate::inference::MAX_IMAGES`]): the handshake and the base OTs happen once; each
//! image then runs the offline phase (step 2) and the online phase above, in turn, on the
//! same connection. Each image draws fresh random choices, shares, labels and masks; they
//! are exactly a one-image session's messages, so the argument for one image covers each.
//!
//! One Δ, one OT extension instance and one garbling tweak counter, running on from image
//! to image, serve the whole session, so no (input, tweak) pair is hashed twice (the
//! images' circuits are, to the hash, one larger circuit); all are fresh per session.

mod evaluator;
mod garbler;
mod lookups;

pub(super) use evaluator::{Link, PreparedEvaluator, connect};
pub(super) use garbler::run_garbler;

use zeroize::Zeroizing;

/// The bits of `values` (each `m` bits, least significant first): allocated once, so no
/// reallocation leaves a copy of a secret behind.
pub(super) fn bits_of(values: &[u64], m: u32) -> Zeroizing<Vec<bool>> {
    let mut bits = Zeroizing::new(Vec::with_capacity(values.len() * m as usize));
    for &v in values {
        bits.extend((0..m).map(|j| v >> j & 1 == 1));
    }
    bits
}

/// `n` uniformly random bits: the bits of the generator's next `⌈n/8⌉` bytes, least
/// significant first.
pub(super) fn random_bits(prg: &mut crate::crypto::Prg, n: usize) -> Zeroizing<Vec<bool>> {
    let mut bytes = Zeroizing::new(vec![0u8; n.div_ceil(8)]);
    prg.fill_bytes(&mut bytes);
    Zeroizing::new((0..n).map(|i| bytes[i / 8] >> (i % 8) & 1 == 1).collect())
}
