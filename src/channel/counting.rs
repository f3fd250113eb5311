use super::{Channel, ChannelError};

/// Wraps a channel and counts the bytes that pass in each direction.
pub struct Counting<C> {
    inner: C,
    sent: u64,
    received: u64,
}

impl<C: Channel> Counting<C> {
    /// Starts counting from zero.
    pub fn new(inner: C) -> Self {
        Counting {
            inner,
            sent: 0,
            received: 0,
        }
    }

    /// Counts from zero again, e.g. for the next part of a session.
    pub fn reset_counts(&mut self) {
        self.sent = 0;
        self.received = 0;
    }

    /// The wrapped channel.
    pub fn inner_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Bytes written so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Bytes read so far.
    pub fn received(&self) -> u64 {
        self.received
    }
}

impl<C: Channel> Channel for Counting<C> {
    #[inline]
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.sent += bytes.len() as u64;
        self.inner.write_bytes(bytes)
    }

    #[inline]
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), ChannelError> {
        self.received += buf.len() as u64;
        self.inner.read_bytes(buf)
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        self.inner.flush()
    }

    fn begin_phase(&mut self) {
        self.inner.begin_phase()
    }
}
