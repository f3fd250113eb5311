//! Circuit construction with constant folding and dead-gate removal.

use crate::circuit::{Circuit, Gate, InputGroup, Section, WireId};

/// A bit during construction: a public constant (folded away) or a circuit wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bit {
    /// A constant known at compile time; costs nothing.
    Const(bool),
    /// A wire of the circuit under construction.
    Wire(WireId),
}

/// Builds a [`Circuit`] gate by gate.
///
/// Every gate method folds constants (`x ∧ 0 = 0`, `x ⊕ 1 = ¬x`, `¬¬x = x`, …) and
/// [`Builder::finish`] drops every gate that no output depends on — so gadgets can be
/// written plainly and still cost the minimum. There is no structural hashing: on the
/// LeNet it found no duplicate XOR or AND, and its table doubled compile memory.
pub struct Builder {
    inputs: Vec<InputGroup>,
    num_inputs: u32,
    gates: Vec<Gate>,
    sections: Vec<(String, u32)>,
}

impl Builder {
    /// A builder whose circuit takes `inputs`; returns the input bits of every group.
    pub fn new(inputs: Vec<InputGroup>) -> (Self, Vec<Vec<Bit>>) {
        let mut next = 0u32;
        let bits = inputs
            .iter()
            .map(|g| {
                (0..g.width)
                    .map(|_| {
                        next += 1;
                        Bit::Wire(WireId(next - 1))
                    })
                    .collect()
            })
            .collect();
        let builder = Builder {
            inputs,
            num_inputs: next,
            gates: Vec::new(),
            sections: Vec::new(),
        };
        (builder, bits)
    }

    fn emit(&mut self, gate: Gate) -> Bit {
        let w = WireId(self.num_inputs + self.gates.len() as u32);
        self.gates.push(gate);
        Bit::Wire(w)
    }

    /// `a ⊕ b`: free under free-XOR.
    pub fn xor(&mut self, a: Bit, b: Bit) -> Bit {
        match (a, b) {
            (Bit::Const(x), Bit::Const(y)) => Bit::Const(x ^ y),
            (Bit::Const(false), w) | (w, Bit::Const(false)) => w,
            (Bit::Const(true), w) | (w, Bit::Const(true)) => self.not(w),
            (Bit::Wire(x), Bit::Wire(y)) if x == y => Bit::Const(false),
            (Bit::Wire(x), Bit::Wire(y)) => self.emit(Gate::Xor(x, y)),
        }
    }

    /// `a ∧ b`: one AND gate unless folded.
    pub fn and(&mut self, a: Bit, b: Bit) -> Bit {
        match (a, b) {
            (Bit::Const(x), Bit::Const(y)) => Bit::Const(x & y),
            (Bit::Const(false), _) | (_, Bit::Const(false)) => Bit::Const(false),
            (Bit::Const(true), w) | (w, Bit::Const(true)) => w,
            (Bit::Wire(x), Bit::Wire(y)) if x == y => a,
            (Bit::Wire(x), Bit::Wire(y)) => self.emit(Gate::And(x, y)),
        }
    }

    /// `¬a`: free.
    pub fn not(&mut self, a: Bit) -> Bit {
        match a {
            Bit::Const(x) => Bit::Const(!x),
            Bit::Wire(w) => match self.gates.get((w.0.wrapping_sub(self.num_inputs)) as usize) {
                Some(Gate::Not(inner)) if w.0 >= self.num_inputs => Bit::Wire(*inner),
                _ => self.emit(Gate::Not(w)),
            },
        }
    }

    /// `a ∨ b = ¬(¬a ∧ ¬b)`: one AND.
    pub fn or(&mut self, a: Bit, b: Bit) -> Bit {
        let (na, nb) = (self.not(a), self.not(b));
        let both = self.and(na, nb);
        self.not(both)
    }

    /// Starts a named section (a layer, for per-layer statistics); it runs until the next
    /// one starts or the circuit ends.
    pub fn section(&mut self, name: &str) {
        self.sections
            .push((name.to_owned(), self.gates.len() as u32));
    }

    /// Finishes the circuit with the given output groups: constants that are outputs
    /// become `Const` gates, gates no output depends on are dropped and the rest are
    /// renumbered densely, sections are mapped onto the surviving gates.
    pub fn finish(mut self, outputs: Vec<Vec<Bit>>) -> Circuit {
        let outputs: Vec<Vec<WireId>> = outputs
            .into_iter()
            .map(|group| {
                group
                    .into_iter()
                    .map(|bit| match bit {
                        Bit::Wire(w) => w,
                        Bit::Const(c) => match self.emit(Gate::Const(c)) {
                            Bit::Wire(w) => w,
                            Bit::Const(_) => unreachable!("emit always returns a wire"),
                        },
                    })
                    .collect()
            })
            .collect();
        let n_in = self.num_inputs as usize;
        let mut live = vec![false; n_in + self.gates.len()];
        for w in outputs.iter().flatten() {
            live[w.index()] = true;
        }
        for k in (0..self.gates.len()).rev() {
            if live[n_in + k] {
                for w in self.gates[k].inputs() {
                    live[w.index()] = true;
                }
            }
        }
        // Compact in place: a kept gate moves to a position no later than its own, and
        // its operands were renumbered before it. `new_id` reuses the liveness buffer's
        // length; section boundaries are remembered as they pass.
        let mut new_id: Vec<u32> = (0..n_in as u32).collect();
        new_id.resize(live.len(), u32::MAX);
        let boundaries: Vec<u32> = self.sections.iter().map(|s| s.1).collect();
        let mut kept_at = vec![0u32; boundaries.len()];
        let total = self.gates.len();
        let mut kept = 0usize;
        for k in 0..=total {
            for (b, at) in boundaries.iter().zip(kept_at.iter_mut()) {
                if *b as usize == k {
                    *at = kept as u32;
                }
            }
            if k == total || !live[n_in + k] {
                continue;
            }
            let map = |w: WireId| WireId(new_id[w.index()]);
            let gate = match self.gates[k] {
                Gate::Xor(a, b) => Gate::Xor(map(a), map(b)),
                Gate::And(a, b) => Gate::And(map(a), map(b)),
                Gate::Not(a) => Gate::Not(map(a)),
                Gate::Const(c) => Gate::Const(c),
            };
            new_id[n_in + k] = (n_in + kept) as u32;
            self.gates[kept] = gate;
            kept += 1;
        }
        drop(live);
        self.gates.truncate(kept);
        self.gates.shrink_to_fit();
        let outputs = outputs
            .iter()
            .map(|g| g.iter().map(|&w| WireId(new_id[w.index()])).collect())
            .collect();
        let ends = kept_at.iter().skip(1).copied().chain([kept as u32]);
        let sections = self
            .sections
            .iter()
            .zip(kept_at.iter())
            .zip(ends)
            .map(|(((name, _), &start), end)| Section {
                name: name.clone(),
                gates: start..end,
            })
            .collect();
        Circuit::new(self.inputs, self.gates, outputs, sections)
            .expect("the builder only references defined wires")
    }
}
