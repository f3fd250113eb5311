use super::{Channel, ChannelError};
use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Socket buffer size for each direction; large enough that streaming garbled tables
/// costs few system calls.
const BUFFER_BYTES: usize = 1 << 18;

/// A byte stream a [`TcpChannel`] runs over: the socket itself, or a TLS session on it.
pub trait Transport: Read + Write + Send {}

impl<T: Read + Write + Send> Transport for T {}

/// A buffered TCP channel (plain or TLS) whose every wait has a deadline, so a stalled, vanished or
/// trickling peer becomes an error, never a hang:
///
/// - each message — one [`Channel::read_bytes`] that needs the socket, one flush of the
///   write buffer — must complete within `timeout` from its start, however many system
///   calls it takes, so a peer that stops reading (partial writes) or sends a byte now and
///   then is noticed within `timeout`;
/// - an optional deadline bounds the whole conversation;
/// - an optional minimum rate bounds each phase ([`Channel::begin_phase`]): `t` seconds
///   into a phase, at least `(t − timeout) · rate` bytes must have moved, so a trickle
///   cannot hold the connection for longer than about `timeout` per phase.
pub struct TcpChannel {
    /// Reads through the buffer; writes go to the transport beneath it.
    transport: BufReader<Box<dyn Transport>>,
    /// The socket, for its timeouts.
    socket: TcpStream,
    pending: Vec<u8>,
    timeout: Duration,
    deadline: Option<(Instant, Duration)>,
    pace: Option<Pace>,
}

/// The minimum-rate rule of the current phase.
#[derive(Clone, Copy)]
struct Pace {
    /// Bytes per second.
    rate: u64,
    /// When the phase began.
    since: Instant,
    /// Bytes read and written since then.
    moved: u64,
}

impl Pace {
    /// When the phase runs out of credit if no more bytes move.
    fn until(&self, grace: Duration) -> Instant {
        self.since + grace + Duration::from_secs_f64(self.moved as f64 / self.rate as f64)
    }
}

/// Which limit a socket wait runs into first.
#[derive(Clone, Copy)]
enum Limit {
    Message(Instant),
    Session(Instant, Duration),
    Pace(Instant),
}

impl Limit {
    fn at(self) -> Instant {
        match self {
            Limit::Message(at) | Limit::Session(at, _) | Limit::Pace(at) => at,
        }
    }
}

/// Whether the channel waits to read or to write.
#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}

impl TcpChannel {
    /// Wraps a connected stream; every message must complete within `timeout`.
    pub fn new(stream: TcpStream, timeout: Duration) -> Result<Self, ChannelError> {
        let socket = stream
            .try_clone()
            .map_err(|e| ChannelError::from_io(e, timeout))?;
        Self::over(socket, Box::new(stream), timeout)
    }

    /// A channel over `transport` (e.g. a TLS session) running on `socket`.
    pub fn over(
        socket: TcpStream,
        transport: Box<dyn Transport>,
        timeout: Duration,
    ) -> Result<Self, ChannelError> {
        let io = |e| ChannelError::from_io(e, timeout);
        socket.set_nodelay(true).map_err(io)?;
        socket.set_read_timeout(Some(timeout)).map_err(io)?;
        socket.set_write_timeout(Some(timeout)).map_err(io)?;
        Ok(TcpChannel {
            transport: BufReader::with_capacity(BUFFER_BYTES, transport),
            socket,
            pending: Vec::with_capacity(BUFFER_BYTES),
            timeout,
            deadline: None,
            pace: None,
        })
    }

    /// Ends the conversation `limit` from now: any read or write that would go past it
    /// fails with [`ChannelError::Deadline`].
    pub fn with_deadline(mut self, limit: Duration) -> Self {
        self.set_deadline(limit);
        self
    }

    /// Replaces the per-message timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Replaces the conversation's deadline by one `limit` from now.
    pub fn set_deadline(&mut self, limit: Duration) {
        self.deadline = Some((Instant::now() + limit, limit));
    }

    /// From now on, each phase must move at least `bytes_per_s` on average after its
    /// first `timeout` (see the type's doc); zero turns the rule off.
    pub fn set_min_rate(&mut self, bytes_per_s: u64) {
        self.pace = (bytes_per_s > 0).then(|| Pace {
            rate: bytes_per_s,
            since: Instant::now(),
            moved: 0,
        });
    }

    /// The socket, e.g. to shut it down from another thread.
    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// The first limit a wait for the message begun with deadline `message` runs into.
    fn limit(&self, message: Instant) -> Limit {
        let mut first = Limit::Message(message);
        if let Some((at, limit)) = self.deadline
            && at < first.at()
        {
            first = Limit::Session(at, limit);
        }
        if let Some(pace) = self.pace {
            let at = pace.until(self.timeout);
            if at < first.at() {
                first = Limit::Pace(at);
            }
        }
        first
    }

    /// Sets the socket's timeouts for the next system call to what is left before the
    /// first limit (both: a TLS read may write and a TLS write may read); fails at once
    /// if it has passed.
    fn before_socket_io(&mut self, message: Instant, dir: Direction) -> Result<(), ChannelError> {
        let limit = self.limit(message);
        let left = limit.at().saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.expired(limit, dir));
        }
        let io = |e| ChannelError::from_io(e, self.timeout);
        self.socket.set_read_timeout(Some(left)).map_err(io)?;
        self.socket.set_write_timeout(Some(left)).map_err(io)
    }

    /// The error for a wait that ran into `limit`.
    fn expired(&self, limit: Limit, dir: Direction) -> ChannelError {
        match (limit, dir) {
            (Limit::Session(_, limit), _) => ChannelError::Deadline(limit),
            // Nothing moved for a whole `timeout` into the phase: a silent peer, not a slow one.
            (Limit::Pace(_), _) if self.pace.is_some_and(|p| p.moved > 0) => {
                let pace = self.pace.expect("checked");
                ChannelError::TooSlow {
                    bytes: pace.moved,
                    elapsed: pace.since.elapsed(),
                    rate: pace.rate,
                }
            }
            (_, Direction::Read) => ChannelError::Timeout(self.timeout),
            (_, Direction::Write) => ChannelError::Stalled(self.timeout),
        }
    }

    /// Maps an I/O error of a wait for the message begun with deadline `message`.
    fn error(&self, e: std::io::Error, message: Instant, dir: Direction) -> ChannelError {
        match ChannelError::from_io(e, self.timeout) {
            ChannelError::Timeout(_) => self.expired(self.limit(message), dir),
            other => other,
        }
    }

    fn moved(&mut self, n: usize) {
        if let Some(pace) = &mut self.pace {
            pace.moved += n as u64;
        }
    }

    /// Sends everything pending and flushes the transport, within one message deadline.
    fn send_pending(&mut self) -> Result<(), ChannelError> {
        let message = Instant::now() + self.timeout;
        let mut sent = 0;
        while sent < self.pending.len() {
            self.before_socket_io(message, Direction::Write)?;
            match self.transport.get_mut().write(&self.pending[sent..]) {
                Ok(0) => return Err(ChannelError::Closed),
                Ok(n) => {
                    sent += n;
                    self.moved(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(e, message, Direction::Write)),
            }
        }
        self.pending.clear();
        self.before_socket_io(message, Direction::Write)?;
        self.transport
            .get_mut()
            .flush()
            .map_err(|e| self.error(e, message, Direction::Write))
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
        if self.transport.buffer().len() >= buf.len() {
            // Served from the buffer: no system call.
            self.moved(buf.len());
            return self
                .transport
                .read_exact(buf)
                .map_err(|e| ChannelError::from_io(e, self.timeout));
        }
        let message = Instant::now() + self.timeout;
        while !buf.is_empty() {
            if self.transport.buffer().is_empty() {
                self.before_socket_io(message, Direction::Read)?;
            }
            match self.transport.read(buf) {
                Ok(0) => return Err(ChannelError::Closed),
                Ok(n) => {
                    buf = &mut buf[n..];
                    self.moved(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(e, message, Direction::Read)),
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        self.send_pending()
    }

    fn begin_phase(&mut self) {
        if let Some(pace) = &mut self.pace {
            pace.since = Instant::now();
            pace.moved = 0;
        }
    }
}
