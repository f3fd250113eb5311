//! An AES-CTR pseudorandom generator and fresh OS randomness.

use super::Block;
use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};

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
    cipher: Aes128,
    counter: u128,
}

/// Blocks produced per AES call; enough for AES-NI to pipeline.
const BATCH: usize = 8;

impl Prg {
    /// A generator keyed by `seed`.
    pub fn new(seed: Block) -> Self {
        Prg {
            cipher: Aes128::new(&seed.to_bytes().into()),
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
        let mut raw = [aes::Block::default(); BATCH];
        for chunk in out.chunks_mut(BATCH) {
            for r in raw.iter_mut().take(chunk.len()) {
                *r = self.counter.to_le_bytes().into();
                self.counter += 1;
            }
            self.cipher.encrypt_blocks(&mut raw[..chunk.len()]);
            for (c, r) in chunk.iter_mut().zip(raw) {
                *c = Block::from_bytes(r.into());
            }
        }
    }

    /// Fills `out` with the next bytes of the stream (whole blocks are consumed).
    ///
    /// The counters are written straight into `out` and encrypted in place, so the IKNP
    /// column expansion makes one pass over its memory.
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        let (blocks, tail) = aes::Block::slice_as_chunks_mut(out);
        for b in blocks.iter_mut() {
            *b = self.counter.to_le_bytes().into();
            self.counter += 1;
        }
        self.cipher.encrypt_blocks(blocks);
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
