use super::{Channel, ChannelError};

/// A one-party channel over a byte buffer: writes append, reads consume from the front.
///
/// Lets one side of a protocol run alone (benchmarks garble into a `Buffer` and then
/// evaluate from it) and captures exactly what a party sent (tests inspect transcripts).
/// Reading past the end is [`ChannelError::Closed`], as if the peer had hung up.
#[derive(Default)]
pub struct Buffer {
    bytes: Vec<u8>,
    read_pos: usize,
}

impl Buffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty buffer with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Self {
        Buffer {
            bytes: Vec::with_capacity(bytes),
            read_pos: 0,
        }
    }

    /// A buffer whose reads return `bytes`.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Buffer { bytes, read_pos: 0 }
    }

    /// Everything written so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Bytes written but not yet read.
    pub fn unread(&self) -> usize {
        self.bytes.len() - self.read_pos
    }

    /// The written bytes, consuming the buffer.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl Channel for Buffer {
    #[inline]
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    #[inline]
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), ChannelError> {
        let end = self.read_pos + buf.len();
        let src = self
            .bytes
            .get(self.read_pos..end)
            .ok_or(ChannelError::Closed)?;
        buf.copy_from_slice(src);
        self.read_pos = end;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        Ok(())
    }
}
