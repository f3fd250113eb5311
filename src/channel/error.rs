use std::io;
use std::time::Duration;
use thiserror::Error;

/// Why talking to the peer failed.
#[derive(Debug, Error)]
pub enum ChannelError {
    /// The peer closed the connection (or the process died) before the protocol finished.
    #[error("peer closed the connection")]
    Closed,
    /// A message did not arrive within the timeout.
    #[error("peer sent nothing for {0:?} (timed out)")]
    Timeout(Duration),
    /// A message could not be sent within the timeout: the peer stopped reading or
    /// vanished without closing the connection.
    #[error("peer read nothing for {0:?} (stopped reading or vanished)")]
    Stalled(Duration),
    /// A phase moved fewer bytes than its minimum rate allows: a trickling peer.
    #[error(
        "peer too slow: {bytes} B in {:.1} s, under the minimum {rate} B/s",
        elapsed.as_secs_f64()
    )]
    TooSlow {
        /// Bytes moved in the phase.
        bytes: u64,
        /// Time since the phase began.
        elapsed: Duration,
        /// The minimum rate, bytes per second.
        rate: u64,
    },
    /// The whole conversation took longer than its limit.
    #[error("session exceeded its {0:?} limit")]
    Deadline(Duration),
    /// TLS failed: a certificate not trusted, a peer that does not speak TLS.
    #[error("TLS failed: {0}")]
    Tls(String),
    /// Any other I/O failure.
    #[error("channel I/O error: {0}")]
    Io(io::Error),
}

impl ChannelError {
    /// Classifies an I/O error from a socket with the given timeout.
    pub fn from_io(e: io::Error, timeout: Duration) -> Self {
        if let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            return ChannelError::Tls(tls.to_string());
        }
        match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::WriteZero => ChannelError::Closed,
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ChannelError::Timeout(timeout),
            _ => ChannelError::Io(e),
        }
    }
}
