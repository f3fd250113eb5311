//! Byte channels between the two parties.
//!
//! A [`Channel`] only needs `write_bytes`, `read_bytes` and `flush`; typed reads and writes
//! are default methods. Implementations: [`TcpChannel`] (buffered, with read and write
//! timeouts), [`memory::pair`] (two in-process endpoints for tests) and [`Buffer`] (a
//! single-party byte buffer for benchmarks and transcripts). [`Counting`] wraps any channel
//! and counts bytes in each direction.
//!
//! Writes are buffered: flush before waiting for the peer, or both sides wait forever
//! (until the read timeout fires).

mod buffer;
mod counting;
mod error;
pub mod memory;
mod tcp;

pub use buffer::Buffer;
pub use counting::Counting;
pub use error::ChannelError;
pub use tcp::TcpChannel;

use crate::crypto::Block;

/// A reliable, ordered, bidirectional byte stream to the peer.
pub trait Channel {
    /// Queues `bytes` for the peer (buffered).
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError>;

    /// Reads exactly `buf.len()` bytes, failing on disconnect or timeout.
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), ChannelError>;

    /// Sends everything queued so far.
    fn flush(&mut self) -> Result<(), ChannelError>;

    /// Marks the start of a protocol phase, for channels that hold each phase to a
    /// minimum rate ([`TcpChannel::set_min_rate`]); nothing for the others.
    fn begin_phase(&mut self) {}

    /// Writes one block (16 bytes, little-endian).
    #[inline]
    fn write_block(&mut self, block: Block) -> Result<(), ChannelError> {
        self.write_bytes(&block.to_bytes())
    }

    /// Reads one block.
    #[inline]
    fn read_block(&mut self) -> Result<Block, ChannelError> {
        let mut bytes = [0u8; 16];
        self.read_bytes(&mut bytes)?;
        Ok(Block::from_bytes(bytes))
    }

    /// Writes bits packed eight to a byte, least significant bit first.
    fn write_bits(&mut self, bits: &[bool]) -> Result<(), ChannelError> {
        let mut packed = vec![0u8; bits.len().div_ceil(8)];
        pack_bits(bits, &mut packed);
        self.write_bytes(&packed)
    }

    /// Reads `n` bits written by [`Channel::write_bits`].
    fn read_bits(&mut self, n: usize) -> Result<Vec<bool>, ChannelError> {
        let mut packed = vec![0u8; n.div_ceil(8)];
        self.read_bytes(&mut packed)?;
        Ok((0..n).map(|i| packed[i / 8] >> (i % 8) & 1 == 1).collect())
    }
}

/// ORs `bits` into `out`, eight to a byte, least significant bit first (`out` holds at
/// least `bits.len() / 8` rounded up bytes, zero where the bits go).
pub(crate) fn pack_bits(bits: &[bool], out: &mut [u8]) {
    for (i, &b) in bits.iter().enumerate() {
        out[i / 8] |= u8::from(b) << (i % 8);
    }
}

impl<C: Channel + ?Sized> Channel for &mut C {
    #[inline]
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        (**self).write_bytes(bytes)
    }

    #[inline]
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), ChannelError> {
        (**self).read_bytes(buf)
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        (**self).flush()
    }

    fn begin_phase(&mut self) {
        (**self).begin_phase()
    }
}
