use super::{Channel, ChannelError};
use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Socket buffer size for each direction; large enough that streaming garbled tables
/// costs few system calls.
const BUFFER_BYTES: usize = 1 << 18;

/// A buffered TCP channel. Every read and write has a timeout, so a stalled or vanished
/// peer becomes an error, never a hang; an optional deadline also bounds the whole
/// conversation, so a peer trickling one byte per timeout cannot hold it forever.
pub struct TcpChannel {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
    pending: Vec<u8>,
    timeout: Duration,
    deadline: Option<(Instant, Duration)>,
}

impl TcpChannel {
    /// Wraps a connected stream; `timeout` bounds every read and every write.
    pub fn new(stream: TcpStream, timeout: Duration) -> Result<Self, ChannelError> {
        let io = |e| ChannelError::from_io(e, timeout);
        stream.set_nodelay(true).map_err(io)?;
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream.set_write_timeout(Some(timeout)).map_err(io)?;
        let reader = BufReader::with_capacity(BUFFER_BYTES, stream.try_clone().map_err(io)?);
        Ok(TcpChannel {
            reader,
            stream,
            pending: Vec::with_capacity(BUFFER_BYTES),
            timeout,
            deadline: None,
        })
    }

    /// Ends the conversation `limit` from now: any read or write that would go past it
    /// fails with [`ChannelError::Deadline`].
    pub fn with_deadline(mut self, limit: Duration) -> Self {
        self.deadline = Some((Instant::now() + limit, limit));
        self
    }

    /// Shortens the socket timeouts to what is left before the deadline. Called before
    /// every system call on the socket (never on the buffered per-gate path), so a peer
    /// that keeps each call alive with a trickle still meets the deadline.
    fn before_socket_io(&mut self) -> Result<(), ChannelError> {
        let Some((at, limit)) = self.deadline else {
            return Ok(());
        };
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ChannelError::Deadline(limit));
        }
        let t = Some(left.min(self.timeout));
        let io = |e| ChannelError::from_io(e, self.timeout);
        self.stream.set_read_timeout(t).map_err(io)?;
        self.stream.set_write_timeout(t).map_err(io)
    }

    /// Sends everything pending, one system call at a time.
    fn send_pending(&mut self) -> Result<(), ChannelError> {
        let mut sent = 0;
        while sent < self.pending.len() {
            self.before_socket_io()?;
            match self.stream.write(&self.pending[sent..]) {
                Ok(0) => return Err(ChannelError::Closed),
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(e)),
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Maps an I/O error, telling a passed deadline from an ordinary timeout.
    fn error(&self, e: std::io::Error) -> ChannelError {
        match (ChannelError::from_io(e, self.timeout), self.deadline) {
            (ChannelError::Timeout(_), Some((at, limit))) if Instant::now() >= at => {
                ChannelError::Deadline(limit)
            }
            (other, _) => other,
        }
    }
}

impl Channel for TcpChannel {
    #[inline]
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        if self.pending.len() + bytes.len() > BUFFER_BYTES {
            self.send_pending()?;
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() > BUFFER_BYTES {
            self.send_pending()?;
        }
        Ok(())
    }

    #[inline]
    fn read_bytes(&mut self, mut buf: &mut [u8]) -> Result<(), ChannelError> {
        if self.reader.buffer().len() >= buf.len() {
            // Served from the buffer: no system call.
            return self.reader.read_exact(buf).map_err(|e| self.error(e));
        }
        while !buf.is_empty() {
            if self.reader.buffer().is_empty() {
                self.before_socket_io()?;
            }
            match self.reader.read(buf) {
                Ok(0) => return Err(ChannelError::Closed),
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(e)),
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        self.send_pending()?;
        self.stream.flush().map_err(|e| self.error(e))
    }
}
