//! An AES-CTR pseudorandom generator and fresh OS randomness.

use super::Block;
use super::engine::Aes;

/// A fresh 128-bit seed from the operating system's CSPRNG.
///
/// Fails only if the OS cannot supply randomness; gcnn never falls back to a weaker source.
pub fn random_seed() -> Result<Block, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(Block::from_bytes(bytes))
}

/// AES-128 in counter mode keyed by a secret seed: `AES_seed(0), AES_seed(1), …`.
///
/// Used to expand one OS seed into many labels, and for the IKNP column expansion.
/// Never reuse a seed: two PRGs with the same seed produce the same stream.
pub struct Prg {
    cipher: Aes,
    counter: u128,
}

/// Blocks staged per call into the cipher by [`Prg::fill`].
const BATCH: usize = 16;

impl Prg {
    /// A generator keyed by `seed`.
    pub fn new(seed: Block) -> Self {
        Prg {
            cipher: Aes::new(seed.0),
            counter: 0,
        }
    }

    /// A generator keyed by a fresh OS seed.
    pub fn from_os() -> Result<Self, getrandom::Error> {
        Ok(Prg::new(random_seed()?))
    }

    /// The next block of the stream.
    pub fn block(&mut self) -> Block {
        let mut one = [Block::ZERO];
        self.fill(&mut one);
        one[0]
    }

    /// Fills `out` with the next blocks of the stream.
    pub fn fill(&mut self, out: &mut [Block]) {
        let mut raw = [0u8; 16 * BATCH];
        for chunk in out.chunks_mut(BATCH) {
            let raw = &mut raw[..16 * chunk.len()];
            self.cipher.ctr(self.counter, raw);
            self.counter += chunk.len() as u128;
            for (c, r) in chunk.iter_mut().zip(raw.chunks_exact(16)) {
                *c = Block::from_bytes(r.try_into().expect("16-byte chunk"));
            }
        }
    }

    /// Fills `out` with the next bytes of the stream (whole blocks are consumed).
    ///
    /// The blocks are encrypted straight into `out`, so the IKNP column expansion makes
    /// one pass over its memory.
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        self.cipher.ctr(self.counter, out);
        let whole = out.len() / 16;
        self.counter += whole as u128;
        let tail = &mut out[16 * whole..];
        if !tail.is_empty() {
            let last = self.block().to_bytes();
            tail.copy_from_slice(&last[..tail.len()]);
        }
    }

    /// The next pseudorandom bit.
    pub fn bit(&mut self) -> bool {
        self.block().lsb()
    }
}
