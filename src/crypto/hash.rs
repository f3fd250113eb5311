//! Fixed-key AES as a random permutation π, and the hashes built on it.

use super::Block;
use super::engine::{Aes, AesPath, MAX_BATCH};

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

impl From<Tweak> for u128 {
    #[inline(always)]
    fn from(t: Tweak) -> u128 {
        t.0
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
    cipher: Aes,
}

impl Default for FixedKeyAes {
    fn default() -> Self {
        Self::new()
    }
}

impl FixedKeyAes {
    /// The key schedule of the fixed key, on the widest AES path of this CPU
    /// ([`AesPath::detected`]).
    pub fn new() -> Self {
        Self::on(AesPath::detected())
    }

    /// The same permutation on a given path, so tests can run every path.
    ///
    /// # Panics
    /// If this CPU does not support `path` (see [`AesPath::available`]).
    pub fn on(path: AesPath) -> Self {
        FixedKeyAes {
            cipher: Aes::new_on(path, u128::from_le_bytes(FIXED_KEY)),
        }
    }

    /// The TCCR hash `H(x_k, i_k) = π(π(x_k) ⊕ i_k) ⊕ π(x_k)` of `N` inputs at once,
    /// `N` a power of two up to [`MAX_BATCH`].
    ///
    /// The `N` blocks go through each AES round together (two to an instruction on VAES),
    /// so their rounds overlap in the pipeline instead of waiting on one another: callers
    /// batch independent hashes to fill it.
    #[inline(always)]
    pub fn tccr<const N: usize>(&self, xs: [Block; N], tweaks: [Tweak; N]) -> [Block; N] {
        let mut out = [Block::ZERO; N];
        self.cipher.tccr::<N, N>(&xs, &tweaks, &mut out);
        out
    }

    /// [`Self::tccr`] of the first `n` inputs of a batch, `n` at most [`MAX_BATCH`]:
    /// `out[k] = H(xs[k], tweaks[k])` for `k < n`; the rest of `out` is unspecified. The
    /// batch goes through AES at the next power-of-two width.
    ///
    /// # Panics
    /// If `n` exceeds [`MAX_BATCH`].
    #[inline(always)]
    pub fn tccr_batch(
        &self,
        xs: &[Block; MAX_BATCH],
        tweaks: &[Tweak; MAX_BATCH],
        n: usize,
        out: &mut [Block; MAX_BATCH],
    ) {
        const M: usize = MAX_BATCH;
        match n {
            0 => {}
            1 => self.cipher.tccr::<1, M>(xs, tweaks, out),
            2 => self.cipher.tccr::<2, M>(xs, tweaks, out),
            3..=4 => self.cipher.tccr::<4, M>(xs, tweaks, out),
            5..=8 => self.cipher.tccr::<8, M>(xs, tweaks, out),
            9..=16 => self.cipher.tccr::<16, M>(xs, tweaks, out),
            17..=M => self.cipher.tccr::<M, M>(xs, tweaks, out),
            _ => panic!("TCCR batch of {n} > {M}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// π through the `aes` crate's one-block API, independent of the TCCR code.
    fn pi(x: Block) -> Block {
        use aes::cipher::{BlockCipherEncrypt, KeyInit};
        let mut b = x.to_bytes().into();
        aes::Aes128::new(&FIXED_KEY.into()).encrypt_block(&mut b);
        Block::from_bytes(b.into())
    }

    #[test]
    fn tccr_is_pi_of_pi_x_xor_tweak_xor_pi_x() {
        for &path in AesPath::available() {
            let aes = FixedKeyAes::on(path);
            let xs: [Block; 4] =
                std::array::from_fn(|k| Block(0x0123_4567_89ab_cdef << k ^ k as u128));
            let tweaks = [
                Tweak::garbling(0),
                Tweak::garbling(7),
                Tweak::ot(0),
                Tweak::ot(7),
            ];
            let hashed = aes.tccr(xs, tweaks);
            for k in 0..4 {
                let p = pi(xs[k]);
                assert_eq!(
                    hashed[k],
                    pi(p ^ Block(tweaks[k].0)) ^ p,
                    "{path}, input {k}"
                );
            }
            // Batch width does not change the hash.
            assert_eq!(aes.tccr([xs[2]], [tweaks[2]]), [hashed[2]], "{path}");
            let many = |xs: &[Block], tw: &[Tweak]| {
                let mut x = [Block(0xdead); MAX_BATCH];
                let mut t = [Tweak(0xbeef); MAX_BATCH];
                x[..xs.len()].copy_from_slice(xs);
                t[..tw.len()].copy_from_slice(tw);
                let mut out = [Block::ZERO; MAX_BATCH];
                aes.tccr_batch(&x, &t, xs.len(), &mut out);
                out[..xs.len()].to_vec()
            };
            for n in 0..=4 {
                assert_eq!(many(&xs[..n], &tweaks[..n]), hashed[..n], "{path}, {n}");
            }
            // Every batch width up to the largest, each input hashed as if alone.
            let ins: Vec<Block> = (0..MAX_BATCH as u128)
                .map(|k| Block(k * 0x9e37_79b9))
                .collect();
            let tw: Vec<Tweak> = (0..MAX_BATCH as u64).map(Tweak::garbling).collect();
            for n in [5, 8, 9, 16, 17, MAX_BATCH] {
                let got = many(&ins[..n], &tw[..n]);
                for k in 0..n {
                    assert_eq!(got[k], aes.tccr([ins[k]], [tw[k]])[0], "{path}, {k} of {n}");
                }
            }
        }
    }
}
