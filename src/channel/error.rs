use std::io;
use std::time::Duration;
use thiserror::Error;

/// Why talking to the peer failed.
#[derive(Debug, Error)]
pub enum ChannelError {
    /// The peer closed the connection (or the process died) before the protocol finished.
    #[error("peer closed the connection")]
    Closed,
    /// Nothing arrived (or could be sent) within the timeout.
    #[error("peer sent nothing for {0:?} (timed out)")]
    Timeout(Duration),
    /// The whole conversation took longer than its limit.
    #[error("session exceeded its {0:?} limit")]
    Deadline(Duration),
    /// Any other I/O failure.
    #[error("channel I/O error: {0}")]
    Io(io::Error),
}

impl ChannelError {
    /// Classifies an I/O error from a socket with the given timeout.
    pub fn from_io(e: io::Error, timeout: Duration) -> Self {
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
