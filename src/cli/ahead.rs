//! Sessions prepared ahead of their pictures (`gcnn evaluator --stdin --pool N`): a
//! thread keeps up to `N` sessions whose offline phase has run, so that a burst of
//! pictures, not only one, meets only the online phase.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::CliError;
use super::evaluator::{Peer, prepare_at};
use crate::channel::TcpChannel;
use crate::inference::{Pipeline, Prepared};
use crate::protocol::ProtocolError;

/// How long a prepared session may wait for its image before it is replaced by a fresh
/// one: the garbler ends a session whose next message does not come within its
/// `--timeout` (30 s by default).
pub const STALE: Duration = Duration::from_secs(20);

/// How long the filler waits before asking a busy garbler again.
pub const RETRY: Duration = Duration::from_millis(100);

/// A pool of prepared sessions, filled by [`Ahead::fill`] on its own thread and drawn by
/// [`Ahead::take`]. Each holds one of the garbler's workers while it waits, so the pool
/// is small. A garbler that answers "busy" after the first session shrinks it to the
/// sessions ready (at least one) and is asked again every [`RETRY`], for at most the
/// session's I/O timeout, while the sessions in use end; a session that waited longer than [`STALE`] is dropped when it would be
/// taken (its randomness with it), not refreshed in the background, so an idle client
/// does not keep opening sessions.
pub struct Ahead<'p> {
    state: Mutex<State<'p>>,
    changed: Condvar,
}

struct State<'p> {
    ready: VecDeque<(Prepared<'p, TcpChannel>, Instant)>,
    /// Most sessions kept ready.
    size: usize,
    /// Why the filler stopped, until a taker reports it.
    failed: Option<CliError>,
    closed: bool,
}

impl<'p> Ahead<'p> {
    /// An empty pool of at most `size` (at least one) sessions.
    pub fn new(size: usize) -> Self {
        Ahead {
            state: Mutex::new(State {
                ready: VecDeque::with_capacity(size),
                size: size.max(1),
                failed: None,
                closed: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<'p>> {
        // A panicking holder leaves a consistent queue: use it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'g>(&self, guard: MutexGuard<'g, State<'p>>) -> MutexGuard<'g, State<'p>> {
        self.changed.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// Prepares sessions with the garbler `peer` whenever the pool has room, until
    /// [`Ahead::close`]; stops at the first failure, which the next [`Ahead::take`]
    /// returns.
    pub fn fill(&self, pipeline: &'p Pipeline, peer: Peer<'_>) {
        let (mut prepared_any, mut busy_since) = (false, None);
        loop {
            let mut state = self.lock();
            while !state.closed && state.ready.len() >= state.size {
                state = self.wait(state);
            }
            if state.closed {
                return;
            }
            drop(state);
            let prepared = prepare_at(pipeline, peer);
            let mut state = self.lock();
            if state.closed {
                return;
            }
            match prepared {
                Ok(session) => {
                    state.ready.push_back((session, Instant::now()));
                    (prepared_any, busy_since) = (true, None);
                }
                // No worker free for one more: keep the ones the garbler gave, and ask
                // again while the sessions in use end.
                Err(CliError::Protocol(ProtocolError::Busy))
                    if prepared_any
                        && busy_since.is_none_or(|t: Instant| t.elapsed() < peer.waits.io) =>
                {
                    state.size = state.ready.len().max(1);
                    busy_since.get_or_insert_with(Instant::now);
                    drop(state);
                    std::thread::sleep(RETRY);
                    continue;
                }
                Err(e) => state.failed = Some(e),
            }
            let stop = state.failed.is_some();
            drop(state);
            self.changed.notify_all();
            if stop {
                return;
            }
        }
    }

    /// Waits until the first session is prepared, so that a garbler that cannot be
    /// reached is reported before any picture is asked for; the filler's error if it
    /// stopped.
    pub fn first(&self) -> Result<(), CliError> {
        let mut state = self.lock();
        while state.ready.is_empty() {
            if let Some(e) = state.failed.take() {
                return Err(e);
            }
            state = self.wait(state);
        }
        Ok(())
    }

    /// The oldest session prepared less than [`STALE`] ago, waiting for the filler if
    /// there is none; the filler's error if it stopped.
    pub fn take(&self) -> Result<Prepared<'p, TcpChannel>, CliError> {
        let mut state = self.lock();
        loop {
            let fresh = loop {
                match state.ready.pop_front() {
                    Some((session, at)) if at.elapsed() < STALE => break Some(session),
                    Some(_) => continue,
                    None => break None,
                }
            };
            if let Some(session) = fresh {
                drop(state);
                self.changed.notify_all();
                return Ok(session);
            }
            // The filler has room now (stale sessions dropped) or is preparing.
            self.changed.notify_all();
            if let Some(e) = state.failed.take() {
                return Err(e);
            }
            state = self.wait(state);
        }
    }

    /// Stops the filler (after the session it is preparing, if any) and drops the
    /// sessions left.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.ready.clear();
        drop(state);
        self.changed.notify_all();
    }
}
