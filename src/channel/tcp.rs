use super::{Channel, ChannelError};
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Socket buffer size for each direction; large enough that streaming garbled tables
/// costs few system calls.
const BUFFER_BYTES: usize = 1 << 18;

/// A buffered TCP channel. Every read and write has a timeout, so a stalled or vanished
/// peer becomes an error, never a hang.
pub struct TcpChannel {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    timeout: Duration,
}

impl TcpChannel {
    /// Wraps a connected stream; `timeout` bounds every read and every write.
    pub fn new(stream: TcpStream, timeout: Duration) -> Result<Self, ChannelError> {
        let io = |e| ChannelError::from_io(e, timeout);
        stream.set_nodelay(true).map_err(io)?;
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream.set_write_timeout(Some(timeout)).map_err(io)?;
        let reader = BufReader::with_capacity(BUFFER_BYTES, stream.try_clone().map_err(io)?);
        let writer = BufWriter::with_capacity(BUFFER_BYTES, stream);
        Ok(TcpChannel {
            reader,
            writer,
            timeout,
        })
    }

    /// The address of the peer, for logs.
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.writer.get_ref().peer_addr().ok()
    }
}

impl Channel for TcpChannel {
    #[inline]
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.writer
            .write_all(bytes)
            .map_err(|e| ChannelError::from_io(e, self.timeout))
    }

    #[inline]
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), ChannelError> {
        self.reader
            .read_exact(buf)
            .map_err(|e| ChannelError::from_io(e, self.timeout))
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        self.writer
            .flush()
            .map_err(|e| ChannelError::from_io(e, self.timeout))
    }
}
