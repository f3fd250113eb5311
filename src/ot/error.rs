use crate::channel::ChannelError;
use thiserror::Error;

/// Why an oblivious transfer failed.
#[derive(Debug, Error)]
pub enum OtError {
    /// The channel failed.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The peer sent bytes that are not a valid Ristretto point, or the identity.
    #[error("peer sent an invalid or identity curve point in base OT #{0}")]
    InvalidPoint(usize),
    /// The operating system could not supply randomness.
    #[error("no OS randomness: {0}")]
    Randomness(#[from] getrandom::Error),
}
