use crate::channel::ChannelError;
use crate::ot::OtError;
use thiserror::Error;

/// Why a session failed.
#[derive(Debug, Error)]
pub enum ProtocolError {
    /// The channel failed (disconnect, timeout, I/O).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// Oblivious transfer failed.
    #[error("oblivious transfer failed: {0}")]
    Ot(#[from] OtError),
    /// The garbler had no free worker.
    #[error("the garbler is busy (every worker taken): retry later")]
    Busy,
    /// The peer runs a different protocol or circuit.
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// The peer runs another circuit: a different model architecture, in inference.
    #[error(
        "handshake failed: circuit hash mismatch (the two parties' circuit files differ): ours {ours}, peer's {theirs}"
    )]
    CircuitMismatch {
        /// The start of our circuit's hash, in hex.
        ours: String,
        /// The start of the peer's.
        theirs: String,
    },
    /// The local inputs do not fit the circuit.
    #[error("circuit takes {expected} input bits from this party, {got} given")]
    InputCount {
        /// Bits the circuit expects.
        expected: usize,
        /// Bits given.
        got: usize,
    },
    /// A session was asked for one image more than it was opened for.
    #[error("the session has classified all the {0} images it was opened for")]
    NoImagesLeft(u32),
    /// A batch was asked for another image after one of its images failed: the session
    /// ended with that failure.
    #[error("the session ended when an earlier image failed; open a new one")]
    SessionEnded,
    /// The decoded output is impossible for the circuit: the peer garbled something else.
    #[error("peer's garbled circuit produced an impossible output: {0}")]
    InvalidOutput(String),
    /// The operating system could not supply randomness.
    #[error("no OS randomness: {0}")]
    Randomness(#[from] getrandom::Error),
}
