//! Which wires the garbler knows in clear.
//!
//! Garbler-owned inputs and constants are known; a gate's output is known when all its
//! inputs are. Both parties compute this from the public circuit, so they agree on which
//! AND gates are garbler half gates (one ciphertext, Zahur–Rosulek–Evans 2015) instead of
//! full half-gates pairs.

use super::{Circuit, Owner, WireId};

/// Garbler-known flags, stored per input group and per gate rather than per input bit, so
/// tools that inspect a circuit read from a file allocate nothing per claimed input bit.
#[derive(Clone, Debug)]
pub struct GarblerKnown {
    /// Cumulative input widths: group `g` covers wires `ends[g-1]..ends[g]`.
    ends: Vec<u64>,
    /// Whether group `g` is the garbler's.
    groups: Vec<bool>,
    /// Whether gate `k`'s output is known.
    gates: Vec<bool>,
}

impl GarblerKnown {
    /// Classifies every wire of `c`, in one pass over the gates.
    pub fn of(c: &Circuit) -> Self {
        let ends = c
            .inputs()
            .iter()
            .scan(0u64, |end, g| {
                *end += u64::from(g.width);
                Some(*end)
            })
            .collect();
        let groups = c
            .inputs()
            .iter()
            .map(|g| g.owner == Owner::Garbler)
            .collect();
        let mut known = GarblerKnown {
            ends,
            groups,
            gates: Vec::with_capacity(c.gates().len()),
        };
        for gate in c.gates() {
            let k = gate.inputs().all(|w| known.wire(w));
            known.gates.push(k);
        }
        known
    }

    /// Whether the garbler knows wire `w` (an input, or an already classified gate).
    pub fn wire(&self, w: WireId) -> bool {
        let w = u64::from(w.0);
        let num_inputs = self.ends.last().copied().unwrap_or(0);
        match w.checked_sub(num_inputs) {
            Some(k) => self.gates.get(k as usize).copied().unwrap_or(false),
            None => {
                let group = self.ends.partition_point(|&end| end <= w);
                self.groups.get(group).copied().unwrap_or(false)
            }
        }
    }

    /// Whether the garbler knows the output of gate `k`.
    pub fn gate(&self, k: usize) -> bool {
        self.gates.get(k).copied().unwrap_or(false)
    }
}

impl Circuit {
    /// For every wire, whether the garbler knows its value in the clear (see
    /// [`GarblerKnown`]).
    pub fn garbler_known(&self) -> Vec<bool> {
        let known = GarblerKnown::of(self);
        let mut flags = Vec::with_capacity(self.num_wires());
        for g in self.inputs() {
            flags.extend(std::iter::repeat_n(
                g.owner == Owner::Garbler,
                g.width as usize,
            ));
        }
        flags.extend((0..self.gates().len()).map(|k| known.gate(k)));
        flags
    }
}

/// Bytes on the wire for a half-gates AND: two 16-byte ciphertexts (Zahur–Rosulek–Evans
/// 2015).
pub const AND_BYTES: u64 = 32;
/// Bytes on the wire for a garbler half gate: one 16-byte ciphertext.
pub const GARBLER_HALF_GATE_BYTES: u64 = 16;

/// How an AND gate is garbled, decided by which of its inputs the garbler knows in the
/// clear. The plan and the statistics both use this, so `inspect` reports exactly what a
/// session sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AndKind {
    /// Neither input known: half-gates (Zahur–Rosulek–Evans 2015), two ciphertexts.
    HalfGates,
    /// Exactly one input known: a garbler half gate, one ciphertext.
    GarblerHalfGate,
    /// Both known: the garbler computes it alone; free.
    Clear,
}

impl AndKind {
    /// The kind of an AND whose inputs are (`a_known`, `b_known`).
    pub fn of(a_known: bool, b_known: bool) -> Self {
        match (a_known, b_known) {
            (false, false) => AndKind::HalfGates,
            (true, true) => AndKind::Clear,
            _ => AndKind::GarblerHalfGate,
        }
    }

    /// Garbled-table bytes this AND costs.
    pub fn table_bytes(self) -> u64 {
        match self {
            AndKind::HalfGates => AND_BYTES,
            AndKind::GarblerHalfGate => GARBLER_HALF_GATE_BYTES,
            AndKind::Clear => 0,
        }
    }
}
