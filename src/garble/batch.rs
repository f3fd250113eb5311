//! Gates held back so that their hashes go through AES together.
//!
//! One half-gates AND costs the evaluator two TCCR hashes, each two AES calls in a row: on
//! its own, the gate waits out the AES latency twice. Independent gates have independent
//! hashes, so both parties queue up to [`GATES`] of them — in program order, reading
//! their input labels at once — and hash the whole batch in one call. A gate that reads or
//! writes a queued gate's output slot (or any other instruction that does) first flushes
//! the batch; [`super::Program::steps`] marks those instructions when the program is
//! built, so the loops keep no record of pending slots. Tweaks are still taken in program order and tables still travel in program
//! order, so batching changes neither the tables nor what the peer must do.

use super::AND_BYTES;
use crate::channel::ChannelError;
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

/// The buffers of one batch, kept from batch to batch so that a flush initialises
/// nothing: hash inputs, tweaks, hashes and table bytes. They hold labels: wiped on drop.
#[derive(Zeroize)]
#[zeroize(drop)]
pub(super) struct Scratch {
    pub(super) xs: [Block; MAX_BATCH],
    #[zeroize(skip)]
    pub(super) ts: [Tweak; MAX_BATCH],
    pub(super) hashes: [Block; MAX_BATCH],
    pub(super) tables: [u8; AND_BYTES as usize * GATES],
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            xs: [Block::ZERO; MAX_BATCH],
            ts: [Tweak(0); MAX_BATCH],
            hashes: [Block::ZERO; MAX_BATCH],
            tables: [0; AND_BYTES as usize * GATES],
        }
    }
}
