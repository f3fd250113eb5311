//! Fixed-key AES as a random permutation π, and the hashes built on it.

use super::Block;
use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};

/// A hash tweak: a gate's position in the garbling order, or an OT index.
///
/// Both parties must derive the same tweak for the same hash call, so tweaks come from a
/// counter that garbler and evaluator advance identically. The top bit separates the
/// garbling domain (0) from the OT domain (1), so no (input, tweak) pair is shared
/// between the two uses of one Δ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tweak(pub u128);

impl Tweak {
    /// Tweak for the `i`-th garbling hash call.
    #[inline(always)]
    pub fn garbling(i: u64) -> Tweak {
        Tweak(u128::from(i))
    }

    /// Tweak for the `i`-th OT hash call.
    #[inline(always)]
    pub fn ot(i: u64) -> Tweak {
        Tweak(u128::from(i) | (1 << 127))
    }
}

/// The fixed public AES-128 key (the first 16 bytes of the fractional part of π).
/// Any public constant works: security rests on modelling AES under a fixed key as a
/// random permutation (Bellare–Hoang–Keelveedhi–Rogaway 2013).
const FIXED_KEY: [u8; 16] = [
    0x24, 0x3f, 0x6a, 0x88, 0x85, 0xa3, 0x08, 0xd3, 0x13, 0x19, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x44,
];

/// AES-128 under a fixed public key: the random permutation π of the fixed-key-cipher
/// literature, and the tweakable hash `H(x, i) = π(π(x) ⊕ i) ⊕ π(x)`.
///
/// That hash is the tweakable circular-correlation-robust (TCCR) construction of Guo,
/// Katz, Wang and Yu, "Efficient and Secure Multiparty Computation from Fixed-Key Block
/// Ciphers" (IEEE S&P 2020), proven TCCR in the random-permutation model there; the same
/// paper shows that half-gates garbling instantiated with a TCCR hash is secure, which is
/// how [`crate::garble`] uses it. A plain `π(x) ⊕ x` without the tweak is not enough.
#[derive(Clone)]
pub struct FixedKeyAes {
    cipher: Aes128,
}

impl Default for FixedKeyAes {
    fn default() -> Self {
        Self::new()
    }
}

impl FixedKeyAes {
    /// The key schedule of the fixed key.
    pub fn new() -> Self {
        FixedKeyAes {
            cipher: Aes128::new(&FIXED_KEY.into()),
        }
    }

    /// Applies π to each block, in place, `N` blocks at a time so AES-NI pipelines them.
    #[inline(always)]
    pub fn permute<const N: usize>(&self, blocks: &mut [Block; N]) {
        let mut raw: [aes::Block; N] = std::array::from_fn(|k| blocks[k].to_bytes().into());
        self.cipher.encrypt_blocks(&mut raw);
        for (b, r) in blocks.iter_mut().zip(raw) {
            *b = Block::from_bytes(r.into());
        }
    }

    /// The TCCR hash `H(x_k, i_k) = π(π(x_k) ⊕ i_k) ⊕ π(x_k)` of `N` inputs at once.
    #[inline(always)]
    pub fn tccr<const N: usize>(&self, xs: [Block; N], tweaks: [Tweak; N]) -> [Block; N] {
        let mut first = xs;
        self.permute(&mut first);
        let mut second: [Block; N] = std::array::from_fn(|k| first[k] ^ Block(tweaks[k].0));
        self.permute(&mut second);
        std::array::from_fn(|k| second[k] ^ first[k])
    }
}
