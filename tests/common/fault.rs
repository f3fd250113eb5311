//! A channel wrapper that makes its party misbehave after a byte budget: hang up (as a
//! crashing peer) or go silent (as a stalled one).

use gcnn::channel::{Channel, ChannelError};
use std::time::Duration;

/// What the party does once its budget is spent.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Sends what it has buffered and closes the connection.
    HangUp,
    /// Sends nothing more for this long, then closes the connection.
    Stall(Duration),
}

/// A channel that misbehaves once `budget` bytes (written plus read) are used up: the
/// call that would cross the budget fails with [`ChannelError::Closed`] after the fault.
pub struct Faulty<C> {
    inner: Option<C>,
    budget: usize,
    fault: Fault,
}

impl<C: Channel> Faulty<C> {
    pub fn new(inner: C, budget: usize, fault: Fault) -> Self {
        Faulty {
            inner: Some(inner),
            budget,
            fault,
        }
    }

    /// Hangs up after `budget` bytes.
    pub fn hang_up_after(inner: C, budget: usize) -> Self {
        Self::new(inner, budget, Fault::HangUp)
    }

    /// Spends `n` bytes of the budget, or trips the fault.
    fn spend(&mut self, n: usize) -> Result<&mut C, ChannelError> {
        if n > self.budget {
            match self.fault {
                Fault::HangUp => {
                    if let Some(mut c) = self.inner.take() {
                        let _ = c.flush();
                    }
                }
                Fault::Stall(d) => std::thread::sleep(d),
            }
            // Dropping the inner channel closes the connection.
            self.inner = None;
            return Err(ChannelError::Closed);
        }
        self.budget -= n;
        self.inner.as_mut().ok_or(ChannelError::Closed)
    }
}

impl<C: Channel> Channel for Faulty<C> {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.spend(bytes.len())?.write_bytes(bytes)
    }

    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), ChannelError> {
        self.spend(buf.len())?.read_bytes(buf)
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        self.inner.as_mut().ok_or(ChannelError::Closed)?.flush()
    }
}
