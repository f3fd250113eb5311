//! An AES-CTR pseudorandom generator and fresh OS randomness.

use super::Block;
use super::engine::Aes;
use zeroize::{Zeroize, Zeroizing};

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
///
/// Single blocks and bits are served from a buffer of [`BATCH`] blocks encrypted
/// together (made on the first single draw, wiped on drop), so drawing them one at a
/// time costs one AES block each, not a whole batch; a generator only ever filled in
/// bulk (a product's expansion) never makes it. Every method continues the one stream
/// where the last left off.
pub struct Prg {
    cipher: Aes,
    /// The counter of the first block not yet encrypted.
    counter: u128,
    /// Encrypted blocks `buffer[used..]` not yet handed out.
    buffer: Option<Zeroizing<[u8; 16 * BATCH]>>,
    used: usize,
}

/// Blocks encrypted together for [`Prg::block`] and [`Prg::bit`].
const BATCH: usize = 16;

impl Prg {
    /// A generator keyed by `seed`.
    pub fn new(seed: Block) -> Self {
        Prg {
            cipher: Aes::new(seed.0),
            counter: 0,
            buffer: None,
            used: BATCH,
        }
    }

    /// A generator keyed by a fresh OS seed.
    pub fn from_os() -> Result<Self, getrandom::Error> {
        Ok(Prg::new(random_seed()?))
    }

    /// The next block of the stream.
    pub fn block(&mut self) -> Block {
        let buffer = self
            .buffer
            .get_or_insert_with(|| Zeroizing::new([0; 16 * BATCH]));
        if self.used == BATCH {
            self.cipher.ctr(self.counter, buffer.as_mut_slice());
            self.counter += BATCH as u128;
            self.used = 0;
        }
        let at = 16 * self.used;
        self.used += 1;
        Block::from_bytes(buffer[at..at + 16].try_into().expect("16-byte block"))
    }

    /// Fills `out` with the next blocks of the stream.
    pub fn fill(&mut self, out: &mut [Block]) {
        let mut raw = [0u8; 16 * BATCH];
        for chunk in out.chunks_mut(BATCH) {
            let raw = &mut raw[..16 * chunk.len()];
            self.fill_bytes(raw);
            for (c, r) in chunk.iter_mut().zip(raw.chunks_exact(16)) {
                *c = Block::from_bytes(r.try_into().expect("16-byte chunk"));
            }
        }
        raw.zeroize();
    }

    /// Fills `out` with the next bytes of the stream (whole blocks are consumed).
    ///
    /// Past the buffered blocks, the blocks are encrypted straight into `out`, so the
    /// column expansions make one pass over their memory.
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        let out = match &self.buffer {
            Some(buffer) => {
                let buffered = (16 * (BATCH - self.used)).min(out.len() / 16 * 16);
                let (head, out) = out.split_at_mut(buffered);
                head.copy_from_slice(&buffer[16 * self.used..][..buffered]);
                self.used += buffered / 16;
                out
            }
            None => out,
        };
        self.cipher.ctr(self.counter, out);
        let whole = out.len() / 16;
        self.counter += whole as u128;
        let tail = &mut out[16 * whole..];
        if !tail.is_empty() {
            let last = self.block().to_bytes();
            tail.copy_from_slice(&last[..tail.len()]);
        }
    }

    /// The next pseudorandom bit (one block of the stream).
    pub fn bit(&mut self) -> bool {
        self.block().lsb()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::Aes128;
    use aes::cipher::{BlockCipherEncrypt, KeyInit};

    /// Block `i` of the stream, by the definition: AES-128 under the seed of the
    /// little-endian counter `i` (the `aes` crate, not the engine).
    fn definition(seed: Block, i: u128) -> [u8; 16] {
        let cipher = Aes128::new(&seed.0.to_le_bytes().into());
        let mut block = i.to_le_bytes().into();
        cipher.encrypt_block(&mut block);
        block.into()
    }

    #[test]
    fn bulk_then_single_draws_continue_the_stream() {
        let seed = Block(99);
        let mut prg = Prg::new(seed);
        let mut bytes = [0u8; 35];
        prg.fill_bytes(&mut bytes);
        assert_eq!(bytes[..16], definition(seed, 0));
        assert_eq!(bytes[32..], definition(seed, 2)[..3]);
        assert_eq!(prg.block().to_bytes(), definition(seed, 3));
    }

    #[test]
    fn every_method_continues_one_counter_mode_stream() {
        let seed = Block(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        let mut prg = Prg::new(seed);
        let mut want = 0u128;
        let mut next = |n: u128| {
            let first = want;
            want += n;
            first
        };
        // Singles, then bulk calls that start inside and outside the buffer, with tails.
        for round in 0..3 {
            for _ in 0..round * 7 + 1 {
                let i = next(1);
                assert_eq!(prg.block().to_bytes(), definition(seed, i));
            }
            let i = next(1);
            assert_eq!(prg.bit(), definition(seed, i)[0] & 1 == 1);
            for len in [5usize, 16, 40, 16 * 40 + 3] {
                let mut bytes = vec![0u8; len];
                prg.fill_bytes(&mut bytes);
                let first = next(len.div_ceil(16) as u128);
                for (k, chunk) in bytes.chunks(16).enumerate() {
                    let block = definition(seed, first + k as u128);
                    assert_eq!(chunk, &block[..chunk.len()], "round {round}, len {len}");
                }
            }
            let mut blocks = [Block::ZERO; 21];
            prg.fill(&mut blocks);
            let first = next(21);
            for (k, b) in blocks.iter().enumerate() {
                assert_eq!(b.to_bytes(), definition(seed, first + k as u128));
            }
        }
    }
}
