//! Bristol Fashion export.

use std::io::{self, BufWriter, Write};

use crate::circuit::{Circuit, Gate, WireId};

/// Writes `c` as Bristol Fashion.
///
/// Wire ids: inputs keep theirs; gates that define an output bit (first occurrence) get
/// the id of that output position among the last wires; other gates are numbered in order
/// from `num_inputs`. Output positions whose wire is an input, or repeats an earlier
/// position, are filled by `EQW` copies at the end. Sections are not written.
pub fn write_to(c: &Circuit, w: impl Write) -> io::Result<()> {
    let ni = c.num_inputs() as u64;
    let flat: Vec<WireId> = c.outputs().iter().flatten().copied().collect();
    let no = flat.len() as u64;

    // Output position of each gate that directly defines an output bit.
    let mut position: Vec<Option<u64>> = vec![None; c.gates().len()];
    let mut copies = Vec::new();
    for (pos, &wire) in flat.iter().enumerate() {
        let pos = pos as u64;
        match u64::from(wire.0).checked_sub(ni) {
            Some(k) if position[k as usize].is_none() => position[k as usize] = Some(pos),
            _ => copies.push((pos, wire)),
        }
    }
    let direct = flat.len() - copies.len();
    let internal = (c.gates().len() - direct) as u64;
    let out_base = ni + internal;
    let mut next = ni;
    let ids: Vec<u64> = position
        .iter()
        .map(|p| match p {
            Some(pos) => out_base + pos,
            None => {
                next += 1;
                next - 1
            }
        })
        .collect();
    let id = |w: WireId| {
        let w = u64::from(w.0);
        if w < ni { w } else { ids[(w - ni) as usize] }
    };

    let mut out = BufWriter::new(w);
    let groups = |widths: Vec<usize>| {
        let mut s = widths.len().to_string();
        for width in widths {
            s += &format!(" {width}");
        }
        s
    };
    writeln!(out, "{} {}", c.gates().len() + copies.len(), out_base + no)?;
    writeln!(
        out,
        "{}",
        groups(c.inputs().iter().map(|g| g.width as usize).collect())
    )?;
    writeln!(
        out,
        "{}",
        groups(c.outputs().iter().map(Vec::len).collect())
    )?;
    writeln!(out)?;
    for (k, gate) in c.gates().iter().enumerate() {
        let o = ids[k];
        match *gate {
            Gate::Xor(a, b) => writeln!(out, "2 1 {} {} {o} XOR", id(a), id(b))?,
            Gate::And(a, b) => writeln!(out, "2 1 {} {} {o} AND", id(a), id(b))?,
            Gate::Not(a) => writeln!(out, "1 1 {} {o} INV", id(a))?,
            Gate::Const(v) => writeln!(out, "1 1 {} {o} EQ", u8::from(v))?,
        }
    }
    for (pos, wire) in copies {
        writeln!(out, "1 1 {} {} EQW", id(wire), out_base + pos)?;
    }
    out.flush()
}
