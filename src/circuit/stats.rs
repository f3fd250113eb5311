//! Gate statistics for `gcnn inspect`: what a circuit costs to garble, overall and per
//! section.
//!
//! Cost model (Zahur–Rosulek–Evans 2015, half-gates with free-XOR): XOR, NOT and constants
//! are free; an AND costs two 16-byte ciphertexts, except a *garbler half gate* (an AND
//! with one wire the garbler knows in clear, see [`GarblerKnown`]) which costs one, and an
//! AND of two such wires, which the garbler computes alone for free ([`AndKind`]).

use std::fmt;
use std::ops::Range;

use super::{AndKind, Circuit, GarblerKnown, Gate, Owner};

/// Counts and depths for a range of gates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GateCounts {
    /// AND gates on two secret wires (two ciphertexts each).
    pub and: u64,
    /// AND gates with one garbler-known input (one ciphertext each).
    pub garbler_half: u64,
    /// AND gates of two garbler-known inputs (computed by the garbler, free).
    pub clear_and: u64,
    /// XOR gates.
    pub xor: u64,
    /// NOT gates.
    pub not: u64,
    /// Constant gates.
    pub constant: u64,
    /// Garbled-table bytes.
    pub bytes: u64,
    /// Longest chain of AND gates within the range.
    pub and_depth: u32,
    /// Longest chain of XOR, AND and NOT gates within the range.
    pub depth: u32,
}

impl GateCounts {
    /// Counts the gates in `range`. Depths count only gates in the range: wires entering it
    /// (inputs, or gates before it) are at depth 0, and so are constants.
    fn of(c: &Circuit, known: &GarblerKnown, range: Range<usize>) -> Self {
        let first = (c.num_inputs() + range.start) as u64;
        let mut counts = GateCounts::default();
        // (AND depth, depth) of each gate in the range so far.
        let mut depth: Vec<(u32, u32)> = Vec::with_capacity(range.len());
        for gate in &c.gates()[range] {
            let (and_in, all_in) = gate
                .inputs()
                .filter_map(|w| u64::from(w.0).checked_sub(first))
                .map(|i| depth[i as usize])
                .fold((0, 0), |(a, d), (a2, d2)| (a.max(a2), d.max(d2)));
            let own = match *gate {
                Gate::And(a, b) => {
                    let kind = AndKind::of(known.wire(a), known.wire(b));
                    *match kind {
                        AndKind::HalfGates => &mut counts.and,
                        AndKind::GarblerHalfGate => &mut counts.garbler_half,
                        AndKind::Clear => &mut counts.clear_and,
                    } += 1;
                    counts.bytes += kind.table_bytes();
                    (and_in + 1, all_in + 1)
                }
                Gate::Xor(..) => {
                    counts.xor += 1;
                    (and_in, all_in + 1)
                }
                Gate::Not(_) => {
                    counts.not += 1;
                    (and_in, all_in + 1)
                }
                Gate::Const(_) => {
                    counts.constant += 1;
                    (0, 0)
                }
            };
            counts.and_depth = counts.and_depth.max(own.0);
            counts.depth = counts.depth.max(own.1);
            depth.push(own);
        }
        counts
    }

    /// All gates in the range.
    pub fn gates(&self) -> u64 {
        self.and + self.garbler_half + self.clear_and + self.xor + self.not + self.constant
    }

    /// Garbled-table bytes: what a session sends for these gates.
    pub fn table_bytes(&self) -> u64 {
        self.bytes
    }
}

/// Statistics of a whole circuit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Input bits supplied by the garbler, and in how many groups.
    pub garbler_inputs: (u64, usize),
    /// Input bits supplied by the evaluator, and in how many groups.
    pub evaluator_inputs: (u64, usize),
    /// Output bits, and in how many groups.
    pub outputs: (u64, usize),
    /// The whole circuit.
    pub total: GateCounts,
    /// Each section, by name, in circuit order.
    pub sections: Vec<(String, GateCounts)>,
}

impl Stats {
    /// Computes the statistics of `c`: one pass over all gates plus one per section.
    pub fn of(c: &Circuit) -> Self {
        let known = GarblerKnown::of(c);
        let inputs_of = |owner| {
            let groups = c.inputs().iter().filter(|g| g.owner == owner);
            (
                groups.clone().map(|g| u64::from(g.width)).sum(),
                groups.count(),
            )
        };
        Stats {
            garbler_inputs: inputs_of(Owner::Garbler),
            evaluator_inputs: inputs_of(Owner::Evaluator),
            outputs: (
                c.outputs().iter().map(|g| g.len() as u64).sum(),
                c.outputs().len(),
            ),
            total: GateCounts::of(c, &known, 0..c.gates().len()),
            sections: c
                .sections()
                .iter()
                .map(|s| {
                    let range = s.gates.start as usize..s.gates.end as usize;
                    (s.name.clone(), GateCounts::of(c, &known, range))
                })
                .collect(),
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (gi, gg) = self.garbler_inputs;
        let (ei, eg) = self.evaluator_inputs;
        let (o, og) = self.outputs;
        writeln!(
            f,
            "inputs:  garbler {gi} bits in {gg} groups, evaluator {ei} bits in {eg} groups"
        )?;
        writeln!(f, "outputs: {o} bits in {og} groups")?;
        writeln!(
            f,
            "{:<16} {:>12} {:>12} {:>12} {:>12} {:>12} {:>10} {:>8} {:>9} {:>7} {:>14}",
            "section",
            "gates",
            "AND",
            "AND (1 ct)",
            "AND (free)",
            "XOR",
            "NOT",
            "const",
            "AND depth",
            "depth",
            "table bytes"
        )?;
        let rows = std::iter::once(("total", &self.total))
            .chain(self.sections.iter().map(|(n, c)| (n.as_str(), c)));
        for (name, c) in rows {
            writeln!(
                f,
                "{:<16} {:>12} {:>12} {:>12} {:>12} {:>12} {:>10} {:>8} {:>9} {:>7} {:>14}",
                name,
                c.gates(),
                c.and,
                c.garbler_half,
                c.clear_and,
                c.xor,
                c.not,
                c.constant,
                c.and_depth,
                c.depth,
                c.table_bytes()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::circuit::{InputGroup, Section, WireId};

    #[test]
    fn counts_half_gates_depths_and_sections() {
        let g = InputGroup {
            owner: Owner::Garbler,
            width: 1,
        };
        let e = InputGroup {
            owner: Owner::Evaluator,
            width: 2,
        };
        // Wires: 0 garbler, 1-2 evaluator.
        let gates = vec![
            Gate::And(WireId(1), WireId(2)), // 3: secret AND
            Gate::Not(WireId(0)),            // 4: known
            Gate::And(WireId(3), WireId(4)), // 5: garbler half gate, AND depth 2
            Gate::Const(true),               // 6
            Gate::Xor(WireId(5), WireId(6)), // 7: depth 3
        ];
        let sections = vec![Section {
            name: "tail".into(),
            gates: 2..5,
        }];
        let c = Circuit::new(vec![g, e], gates, vec![vec![WireId(7)]], sections).unwrap();
        let known = [true, false, false, false, true, false, true, false];
        assert_eq!(c.garbler_known(), known);
        let s = Stats::of(&c);
        assert_eq!(s.garbler_inputs, (1, 1));
        assert_eq!(s.evaluator_inputs, (2, 1));
        assert_eq!(s.outputs, (1, 1));
        let want = GateCounts {
            and: 1,
            garbler_half: 1,
            clear_and: 0,
            bytes: 48,
            xor: 1,
            not: 1,
            constant: 1,
            and_depth: 2,
            depth: 3,
        };
        assert_eq!(s.total, want);
        assert_eq!(s.total.table_bytes(), 48);
        let tail = GateCounts {
            and: 0,
            garbler_half: 1,
            clear_and: 0,
            bytes: 16,
            xor: 1,
            not: 0,
            constant: 1,
            and_depth: 1,
            depth: 2,
        };
        assert_eq!(s.sections, vec![("tail".to_string(), tail)]);
        let text = s.to_string();
        assert!(
            text.contains("tail") && text.contains("table bytes"),
            "{text}"
        );
    }
}
