//! Fixed-key AES as a random permutation π, and the hashes built on it.

use super::Block;
use aes::Aes128;
use aes::cipher::consts::U16;
use aes::cipher::{
    BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, KeyInit,
    ParBlocks,
};

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

    /// The TCCR hash `H(x_k, i_k) = π(π(x_k) ⊕ i_k) ⊕ π(x_k)` of `N` inputs at once.
    ///
    /// Both layers of π run inside one call into the AES backend (a private closure type), so
    /// the round instructions of the `N` independent blocks are compiled together, with the
    /// backend's target features (AES-NI) enabled, instead of one out-of-line call per
    /// layer that then encrypts the blocks one at a time.
    #[inline(always)]
    pub fn tccr<const N: usize>(&self, xs: [Block; N], tweaks: [Tweak; N]) -> [Block; N] {
        let mut job = TccrBlocks {
            blocks: std::array::from_fn(|k| xs[k].to_bytes().into()),
            tweaks,
        };
        self.cipher.encrypt_with_backend(&mut job);
        std::array::from_fn(|k| Block::from_bytes(job.blocks[k].into()))
    }
}

/// The two π layers of [`FixedKeyAes::tccr`] as a closure handed to the AES backend.
///
/// The `aes` crate picks its backend (AES-NI or software) at run time and calls
/// [`BlockCipherEncClosure::call`] from inside a function compiled with the backend's
/// target features, so everything here is inlined into AES-NI code. Whole groups of the
/// backend's parallel width (8 blocks for AES-NI) go through its interleaved routine,
/// the rest one block at a time; the blocks are independent either way, so the CPU
/// overlaps them.
struct TccrBlocks<const N: usize> {
    blocks: [aes::Block; N],
    tweaks: [Tweak; N],
}

impl<const N: usize> BlockSizeUser for &mut TccrBlocks<N> {
    type BlockSize = U16;
}

impl<const N: usize> BlockCipherEncClosure for &mut TccrBlocks<N> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
        let mut first = self.blocks;
        encrypt_all(backend, &mut first);
        for ((b, f), t) in self.blocks.iter_mut().zip(&first).zip(&self.tweaks) {
            *b = (u128::from_le_bytes((*f).into()) ^ t.0)
                .to_le_bytes()
                .into();
        }
        encrypt_all(backend, &mut self.blocks);
        for (b, f) in self.blocks.iter_mut().zip(&first) {
            let out = u128::from_le_bytes((*b).into()) ^ u128::from_le_bytes((*f).into());
            *b = out.to_le_bytes().into();
        }
    }
}

/// π on every block, in place, inside the backend.
#[inline(always)]
fn encrypt_all<B: BlockCipherEncBackend<BlockSize = U16>>(backend: &B, blocks: &mut [aes::Block]) {
    let (chunks, tail) = ParBlocks::<B>::slice_as_chunks_mut(blocks);
    for chunk in chunks {
        backend.encrypt_par_blocks_inplace(chunk);
    }
    for b in tail {
        backend.encrypt_block_inplace(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// π through the plain one-block API, independent of [`TccrBlocks`].
    fn pi(aes: &FixedKeyAes, x: Block) -> Block {
        let mut b = x.to_bytes().into();
        aes.cipher.encrypt_block(&mut b);
        Block::from_bytes(b.into())
    }

    #[test]
    fn tccr_is_pi_of_pi_x_xor_tweak_xor_pi_x() {
        let aes = FixedKeyAes::new();
        let xs: [Block; 4] = std::array::from_fn(|k| Block(0x0123_4567_89ab_cdef << k ^ k as u128));
        let tweaks = [
            Tweak::garbling(0),
            Tweak::garbling(7),
            Tweak::ot(0),
            Tweak::ot(7),
        ];
        let hashed = aes.tccr(xs, tweaks);
        for k in 0..4 {
            let p = pi(&aes, xs[k]);
            assert_eq!(hashed[k], pi(&aes, p ^ Block(tweaks[k].0)) ^ p, "input {k}");
        }
        // Batch width does not change the hash.
        assert_eq!(aes.tccr([xs[2]], [tweaks[2]]), [hashed[2]]);
    }
}
