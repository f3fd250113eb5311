//! Gates held back so that their hashes go through AES together.
//!
//! One half-gates AND costs the evaluator two TCCR hashes, each two AES calls in a row: on
//! its own, the gate waits out the AES latency twice. Independent gates have independent
//! hashes, so both parties queue up to [`GATES`] of them — in program order, reading
//! their input labels at once — and hash the whole batch in one call. A gate that reads or
//! writes a queued gate's output slot (or any other instruction that does) first flushes
//! the batch; [`super::Program::steps`] marks those instructions when the program is
//! built, so the loops keep no record of pending slots. Tweaks are still taken in program
//! order and tables still travel in program order, so batching changes neither the tables
//! nor what the peer must do.

use super::AND_BYTES;
use crate::channel::{Channel, ChannelError};
use crate::crypto::{Block, Label, MAX_BATCH, Tweak};
use zeroize::Zeroize;

/// Gates hashed together at most: eight ANDs are 32 hashes for the garbler
/// ([`crate::crypto::MAX_BATCH`]), 16 for the evaluator — enough independent AES rounds
/// to cover the instruction latency.
pub(super) const GATES: usize = 8;

/// Up to [`GATES`] queued gates of type `G` with the slots they will write. The queued
/// gates hold labels: wiped on drop.
pub(super) struct Batch<G: Copy + Default + Zeroize> {
    gates: [(G, u32); GATES],
    len: usize,
}

impl<G: Copy + Default + Zeroize> Batch<G> {
    /// An empty batch.
    pub(super) fn new() -> Self {
        Batch {
            gates: [(G::default(), 0); GATES],
            len: 0,
        }
    }

    /// Queues `gate`, which writes slot `out`; true when the batch is full.
    #[inline(always)]
    pub(super) fn push(&mut self, gate: G, out: u32) -> bool {
        self.gates[self.len] = (gate, out);
        self.len += 1;
        self.len == GATES
    }

    /// Runs the queued gates on `party` — a lone one (a dependency chain) through
    /// [`Hasher::one`], several through [`Hasher::many`] — writes their output labels to
    /// their slots and empties the batch.
    pub(super) fn flush(
        &mut self,
        party: &mut impl Hasher<G>,
        labels: &mut [Label],
    ) -> Result<(), ChannelError> {
        match self.gates[..self.len] {
            [] => return Ok(()),
            [(gate, slot)] => labels[slot as usize] = party.one(gate)?,
            _ => {
                let mut outs = [Label::default(); GATES];
                party.many(&self.gates[..self.len], &mut outs)?;
                for (&(_, slot), label) in self.gates[..self.len].iter().zip(outs) {
                    labels[slot as usize] = label;
                }
            }
        }
        self.len = 0;
        Ok(())
    }
}

/// A party that hashes queued gates of type `G`: the garbler or the evaluator.
pub(super) trait Hasher<G> {
    /// One gate, on its own; returns its output label.
    fn one(&mut self, gate: G) -> Result<Label, ChannelError>;

    /// Independent `gates` in program order, their hashes in one batch; writes their
    /// output labels to `outs`.
    fn many(&mut self, gates: &[(G, u32)], outs: &mut [Label]) -> Result<(), ChannelError>;
}

impl<G: Copy + Default + Zeroize> Drop for Batch<G> {
    fn drop(&mut self) {
        self.gates.iter_mut().for_each(|(g, _)| g.zeroize());
    }
}

/// Bytes of tables a party gathers before one channel write, or reads ahead in one
/// channel read, for gates that run one at a time (a dependency chain): per gate, a call
/// through the channel stack costs as much as the gate's own arithmetic. A batch writes
/// (reads) its tables at once; larger chunks measured slower there.
const CHUNK: usize = 1 << 11;

/// Most table bytes of one batch.
const BATCH_BYTES: usize = AND_BYTES as usize * GATES;

/// The buffers of one batch, kept from batch to batch so that a flush initialises
/// nothing: hash inputs, tweaks, hashes and tables. They hold labels: wiped on drop.
#[derive(Zeroize)]
#[zeroize(drop)]
pub(super) struct Scratch {
    pub(super) xs: [Block; MAX_BATCH],
    #[zeroize(skip)]
    pub(super) ts: [Tweak; MAX_BATCH],
    pub(super) hashes: [Block; MAX_BATCH],
    pub(super) tables: Tables,
}

/// Tables gathered for one channel write (garbler) or read ahead in one channel read
/// (evaluator).
#[derive(Zeroize)]
pub(super) struct Tables {
    /// `bytes[start..end]`: gathered and not yet written, or read and not yet used.
    bytes: [u8; CHUNK],
    start: usize,
    end: usize,
    /// Evaluator: table bytes the peer is still known to send, so reading ahead never
    /// waits for bytes that will not come.
    ahead: u64,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            xs: [Block::ZERO; MAX_BATCH],
            ts: [Tweak(0); MAX_BATCH],
            hashes: [Block::ZERO; MAX_BATCH],
            tables: Tables::default(),
        }
    }
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            bytes: [0; CHUNK],
            start: 0,
            end: 0,
            ahead: 0,
        }
    }
}

impl Tables {
    /// The whole buffer as plain scratch space, for a party that writes or reads a
    /// batch's tables within one call (three halves), never mixed with the gathering
    /// below.
    pub(super) fn scratch(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Garbler: where the next tables go, at most [`BATCH_BYTES`]; [`Self::wrote`] then
    /// says how many were written.
    #[inline(always)]
    pub(super) fn outbox(&mut self) -> &mut [u8; BATCH_BYTES] {
        (&mut self.bytes[self.end..self.end + BATCH_BYTES])
            .try_into()
            .expect("end stays at most CHUNK - BATCH_BYTES")
    }

    /// Garbler: `n` more table bytes are in [`Self::outbox`]; writes the gathered tables
    /// to `channel` at once if `now`, else once another batch might not fit.
    #[inline(always)]
    pub(super) fn wrote(
        &mut self,
        n: usize,
        now: bool,
        channel: &mut impl Channel,
    ) -> Result<(), ChannelError> {
        self.end += n;
        if now || self.end > CHUNK - BATCH_BYTES {
            self.send(channel)?;
        }
        Ok(())
    }

    /// Garbler: writes the gathered tables to `channel`.
    pub(super) fn send(&mut self, channel: &mut impl Channel) -> Result<(), ChannelError> {
        let end = std::mem::take(&mut self.end);
        channel.write_bytes(&self.bytes[..end])
    }

    /// Evaluator: the peer sends `n` more table bytes after those already expected.
    pub(super) fn expect(&mut self, n: u64) {
        self.ahead += n;
    }

    /// Evaluator: the next `n` table bytes (at most [`BATCH_BYTES`]); if it must read,
    /// reads ahead as far as the expected bytes and the buffer allow when `ahead`, else
    /// just what is missing. Fails as a closed channel if the peer was not expected to
    /// send them (a caller's bug).
    #[inline(always)]
    pub(super) fn receive(
        &mut self,
        n: usize,
        ahead: bool,
        channel: &mut impl Channel,
    ) -> Result<&[u8], ChannelError> {
        if self.end - self.start < n {
            let rest = self.end - self.start;
            self.bytes.copy_within(self.start..self.end, 0);
            let room = if ahead { CHUNK - rest } else { n - rest };
            let more = room.min(usize::try_from(self.ahead).unwrap_or(usize::MAX));
            if rest + more < n {
                return Err(ChannelError::Closed);
            }
            channel.read_bytes(&mut self.bytes[rest..rest + more])?;
            (self.ahead, self.start, self.end) = (self.ahead - more as u64, 0, rest + more);
        }
        self.start += n;
        Ok(&self.bytes[self.start - n..self.start])
    }
}
