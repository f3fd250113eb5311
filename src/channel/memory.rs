//! Two in-process channel endpoints joined back to back, for tests and benchmarks.

use super::{Channel, ChannelError};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

/// Bytes gathered before a chunk is handed to the peer.
const CHUNK_BYTES: usize = 1 << 16;
/// Chunks in flight per direction before the writer blocks (bounds memory to 4 MiB).
const CHUNKS_IN_FLIGHT: usize = 64;

/// One end of an in-memory channel; see [`pair`].
pub struct MemoryChannel {
    tx: SyncSender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    out: Vec<u8>,
    incoming: Vec<u8>,
    incoming_pos: usize,
    timeout: Duration,
}

/// Two connected endpoints. Reads wait at most `timeout`; dropping one endpoint makes the
/// other's reads fail with [`ChannelError::Closed`] once the data in flight is consumed.
pub fn pair(timeout: Duration) -> (MemoryChannel, MemoryChannel) {
    let (tx_a, rx_b) = sync_channel(CHUNKS_IN_FLIGHT);
    let (tx_b, rx_a) = sync_channel(CHUNKS_IN_FLIGHT);
    let end = |tx, rx| MemoryChannel {
        tx,
        rx,
        out: Vec::with_capacity(CHUNK_BYTES),
        incoming: Vec::new(),
        incoming_pos: 0,
        timeout,
    };
    (end(tx_a, rx_a), end(tx_b, rx_b))
}

impl MemoryChannel {
    fn send_chunk(&mut self) -> Result<(), ChannelError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.out, Vec::with_capacity(CHUNK_BYTES));
        self.tx.send(chunk).map_err(|_| ChannelError::Closed)
    }
}

impl Channel for MemoryChannel {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.out.extend_from_slice(bytes);
        if self.out.len() >= CHUNK_BYTES {
            self.send_chunk()?;
        }
        Ok(())
    }

    fn read_bytes(&mut self, mut buf: &mut [u8]) -> Result<(), ChannelError> {
        while !buf.is_empty() {
            if self.incoming_pos == self.incoming.len() {
                self.incoming = self.rx.recv_timeout(self.timeout).map_err(|e| match e {
                    RecvTimeoutError::Timeout => ChannelError::Timeout(self.timeout),
                    RecvTimeoutError::Disconnected => ChannelError::Closed,
                })?;
                self.incoming_pos = 0;
            }
            let n = buf.len().min(self.incoming.len() - self.incoming_pos);
            buf[..n].copy_from_slice(&self.incoming[self.incoming_pos..self.incoming_pos + n]);
            self.incoming_pos += n;
            buf = &mut buf[n..];
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        self.send_chunk()
    }
}
