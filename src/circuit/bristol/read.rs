//! Bristol Fashion import.

use std::io::BufRead;

use super::lines::{Line, Lines};
use super::wire_map::WireMap;
use super::{BristolError, MAX_GROUPS, Problem, default_owners};
use crate::circuit::{Circuit, Gate, InputGroup, Owner, WireId};

/// Largest wire count (and wire id + 1) a circuit can index.
use crate::circuit::{MAX_INPUT_BITS, MAX_WIRES};
/// Most gates reserved up front, whatever the header claims.
const RESERVE_CAP: u64 = 1 << 20;

/// Reads a group line `n w_1 … w_n`, returning the widths and their sum.
fn groups(line: &Line<'_>, what: &'static str) -> Result<(Vec<u32>, u64), BristolError> {
    let n = line.number(0, what, MAX_GROUPS)?;
    line.expect_fields(n + 1)?;
    let widths = (1..=n as usize)
        .map(|i| {
            line.number(i, "group width", MAX_INPUT_BITS)
                .map(|w| w as u32)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let total = widths.iter().map(|&w| u64::from(w)).sum();
    Ok((widths, total))
}

/// Import state: the gates so far and where every Bristol wire went.
struct Import {
    gates: Vec<Gate>,
    wires: WireMap,
    num_inputs: u64,
    num_wires: u64,
    /// Wires defined by gate lines (including `EQW` aliases).
    defined: u64,
}

impl Import {
    /// The circuit wire Bristol wire `w` (field `i` of `line`) was defined as.
    fn read(&self, line: &Line<'_>, i: usize) -> Result<WireId, BristolError> {
        let w = line.number(i, "wire id", MAX_WIRES)?;
        self.wires
            .get(w)
            .ok_or_else(|| line.err(Problem::Undefined(w)))
    }

    /// Defines Bristol wire field `i` of `line` as `to`.
    fn define(&mut self, line: &Line<'_>, i: usize, to: WireId) -> Result<(), BristolError> {
        let w = line.number(i, "wire id", MAX_WIRES)?;
        if w >= self.num_wires {
            return Err(line.err(Problem::WireRange {
                wire: w,
                num_wires: self.num_wires,
            }));
        }
        if !self.wires.define(w, to) {
            return Err(line.err(Problem::Redefined(w)));
        }
        self.defined += 1;
        Ok(())
    }

    /// Appends `gate` and defines field `i` of `line` as its output.
    fn push(&mut self, line: &Line<'_>, i: usize, gate: Gate) -> Result<(), BristolError> {
        let out = self.num_inputs + self.gates.len() as u64;
        if out >= MAX_WIRES {
            return Err(line.err(Problem::Circuit(crate::circuit::CircuitError::TooManyWires)));
        }
        self.define(line, i, WireId(out as u32))?;
        self.gates.push(gate);
        Ok(())
    }

    /// Imports one gate line.
    fn gate(&mut self, line: &Line<'_>) -> Result<(), BristolError> {
        let nin = line.number(0, "input count", MAX_WIRES)?;
        let nout = line.number(1, "output count", MAX_WIRES)?;
        line.expect_fields(nin + nout + 3)?;
        let op = line.tokens[line.tokens.len() - 1];
        let arity = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(line.err(Problem::Arity {
                    op: op.to_owned(),
                    nin,
                    nout,
                }))
            }
        };
        match op {
            "XOR" | "AND" => {
                arity(nin == 2 && nout == 1)?;
                let (a, b) = (self.read(line, 2)?, self.read(line, 3)?);
                let gate = if op == "XOR" {
                    Gate::Xor(a, b)
                } else {
                    Gate::And(a, b)
                };
                self.push(line, 4, gate)
            }
            "INV" => {
                arity(nin == 1 && nout == 1)?;
                let a = self.read(line, 2)?;
                self.push(line, 3, Gate::Not(a))
            }
            "EQW" => {
                arity(nin == 1 && nout == 1)?;
                let a = self.read(line, 2)?;
                self.define(line, 3, a)
            }
            "EQ" => {
                arity(nin == 1 && nout == 1)?;
                match line.number(2, "constant", u64::MAX)? {
                    v @ (0 | 1) => self.push(line, 3, Gate::Const(v == 1)),
                    v => Err(line.err(Problem::BadConst(v))),
                }
            }
            "MAND" => {
                arity(nout >= 1 && nin == 2 * nout)?;
                let k = nout as usize;
                let operands = (0..k)
                    .map(|i| Ok((self.read(line, 2 + i)?, self.read(line, 2 + k + i)?)))
                    .collect::<Result<Vec<_>, BristolError>>()?;
                for (i, (a, b)) in operands.into_iter().enumerate() {
                    self.push(line, 2 + 2 * k + i, Gate::And(a, b))?;
                }
                Ok(())
            }
            _ => Err(line.err(Problem::UnknownOp(op.chars().take(24).collect()))),
        }
    }
}

/// Imports a Bristol Fashion circuit.
///
/// `owners` gives the owner of each input group; `None` applies [`default_owners`].
/// Memory grows with the gates actually read, never with the header's claims.
pub fn read_from(r: impl BufRead, owners: Option<&[Owner]>) -> Result<Circuit, BristolError> {
    let mut lines = Lines::new(r);
    let (num_gates, num_wires) = {
        let line = lines.expect_line(|| "the header".into())?;
        line.expect_fields(2)?;
        (
            line.number(0, "gate count", MAX_WIRES)?,
            line.number(1, "wire count", MAX_WIRES)?,
        )
    };
    let (in_widths, num_inputs) = groups(
        &lines.expect_line(|| "the input groups".into())?,
        "input group count",
    )?;
    let (out_widths, num_outputs) = {
        let line = lines.expect_line(|| "the output groups".into())?;
        let (widths, total) = groups(&line, "output group count")?;
        if num_inputs.max(total) > num_wires {
            return Err(line.err(Problem::Limit {
                what: "input or output wire count",
                value: num_inputs.max(total),
                max: num_wires,
            }));
        }
        (widths, total)
    };
    let owners = match owners {
        Some(o) if o.len() != in_widths.len() => {
            return Err(BristolError {
                line: 0,
                problem: Problem::Owners {
                    groups: in_widths.len(),
                    given: o.len(),
                },
            });
        }
        Some(o) => o.to_vec(),
        None => default_owners(in_widths.len()),
    };

    let mut import = Import {
        gates: Vec::with_capacity(num_gates.min(RESERVE_CAP) as usize),
        wires: WireMap::new(num_inputs),
        num_inputs,
        num_wires,
        defined: 0,
    };
    for k in 0..num_gates {
        let line = lines.expect_line(|| format!("gate {k} of the {num_gates} announced"))?;
        import.gate(&line)?;
    }
    if let Some(line) = lines.next_line()? {
        return Err(line.err(Problem::ExtraGates(num_gates)));
    }
    let wire_count = || BristolError {
        line: 0,
        problem: Problem::WireCount {
            header: num_wires,
            defined: num_inputs + import.defined,
        },
    };
    if num_inputs + import.defined != num_wires {
        return Err(wire_count());
    }

    // Every wire is now defined exactly once, so the last `num_outputs` all resolve.
    let mut next = num_wires - num_outputs;
    let mut outputs = Vec::with_capacity(out_widths.len());
    for width in out_widths {
        let end = next + u64::from(width);
        let group = (next..end)
            .map(|w| import.wires.get(w))
            .collect::<Option<Vec<_>>>();
        outputs.push(group.ok_or_else(wire_count)?);
        next = end;
    }
    let inputs = owners
        .into_iter()
        .zip(in_widths)
        .map(|(owner, width)| InputGroup { owner, width })
        .collect();
    Circuit::new(inputs, import.gates, outputs, Vec::new()).map_err(|e| BristolError {
        line: 0,
        problem: Problem::Circuit(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(text: &str) -> Result<Circuit, BristolError> {
        read_from(text.as_bytes(), None)
    }

    #[test]
    fn eqw_aliases_and_mand_splits() {
        // Output bit 0 = (a XOR b) AND a, bit 1 = a through an EQW copy.
        let c = import("3 5\n2 1 1\n1 2\n2 1 0 1 2 XOR\n2 1 2 0 3 AND\n1 1 0 4 EQW\n").unwrap();
        assert_eq!(c.gates().len(), 2);
        for (a, b) in [(false, false), (false, true), (true, false), (true, true)] {
            let out = c.eval(&[vec![a], vec![b]]).unwrap();
            assert_eq!(out, vec![vec![(a ^ b) & a, a]]);
        }
        let m = import("1 6\n2 2 2\n1 2\n4 2 0 1 2 3 4 5 MAND\n").unwrap();
        assert_eq!(
            m.gates(),
            &[
                Gate::And(WireId(0), WireId(2)),
                Gate::And(WireId(1), WireId(3))
            ]
        );
    }

    #[test]
    fn rejects_malformed_lines() {
        let cases = [
            ("1 3\n1 2\n1 1\n2 1 0 5 2 XOR\n", "wire 5 is read before"),
            ("1 3\n1 2\n1 1\n2 1 0 1 0 XOR\n", "defined twice"),
            ("1 3\n1 2\n1 1\n2 1 0 1 2 NAND\n", "unknown gate type"),
            ("1 3\n1 2\n1 1\n3 1 0 1 2 XOR\n", "expected 7 fields"),
            (
                "1 3\n1 2\n1 1\n2 1 0 1 2 XOR\n1 1 0 2 INV\n",
                "more gates than",
            ),
            ("2 3\n1 2\n1 1\n2 1 0 1 2 XOR\n", "file ends before gate 1"),
            ("1 4\n1 2\n1 1\n2 1 0 1 2 XOR\n", "header says 4 wires"),
            ("1 3\n1 2\n1 1\n2 1 0 x 2 XOR\n", "\"x\" is not a number"),
            ("1 3\n1 2\n1 1\n1 1 2 2 EQ\n", "EQ constant 2"),
            (
                "1 3\n1 2\n1 1\n2 1 0 1 9 AND\n",
                "not below the header's wire count",
            ),
        ];
        for (text, want) in cases {
            let e = import(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
