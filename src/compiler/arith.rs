//! Arithmetic gadgets on little-endian bit vectors ([`Word`]s).
//!
//! Costs are AND gates after constant folding (XOR and NOT are free); `n` is the operand
//! width. Tests check every gadget against its plaintext definition and these costs.

use super::builder::{Bit, Builder};

/// An integer as bits, least significant first; signedness is the caller's convention.
pub type Word = Vec<Bit>;

/// The `width` low bits of `value` in two's complement, as constants.
pub fn constant(value: i128, width: usize) -> Word {
    (0..width)
        .map(|i| Bit::Const(value >> i.min(127) & 1 == 1))
        .collect()
}

/// Sign-extends (or truncates) a two's-complement word to `width` bits. Free.
pub fn sign_extend(x: &[Bit], width: usize) -> Word {
    let sign = *x.last().unwrap_or(&Bit::Const(false));
    (0..width)
        .map(|i| x.get(i).copied().unwrap_or(sign))
        .collect()
}

/// Arithmetic right shift by `s` (floor division by `2^s`): drops the low bits. Free.
pub fn shift_right(x: &[Bit], s: usize) -> Word {
    if s >= x.len() {
        return sign_extend(&x[x.len().saturating_sub(1)..], 1);
    }
    x[s..].to_vec()
}

/// Half adder: `(a ⊕ b, a ∧ b)`. 1 AND.
pub fn half_adder(b: &mut Builder, x: Bit, y: Bit) -> (Bit, Bit) {
    (b.xor(x, y), b.and(x, y))
}

/// Full adder: sum `x ⊕ y ⊕ c`, carry `((x ⊕ c) ∧ (y ⊕ c)) ⊕ c`. 1 AND.
pub fn full_adder(b: &mut Builder, x: Bit, y: Bit, c: Bit) -> (Bit, Bit) {
    let xc = b.xor(x, c);
    let yc = b.xor(y, c);
    let sum = b.xor(xc, y);
    let t = b.and(xc, yc);
    (sum, b.xor(t, c))
}

/// `x + y + carry_in` modulo `2^n` (operands of equal width `n`). Ripple carry:
/// n − 1 ANDs for a constant carry-in (the top carry is never built).
pub fn add(b: &mut Builder, x: &[Bit], y: &[Bit], carry_in: Bit) -> Word {
    assert_eq!(x.len(), y.len(), "add: operand widths differ");
    let mut carry = carry_in;
    let mut out = Vec::with_capacity(x.len());
    for (i, (&xi, &yi)) in x.iter().zip(y).enumerate() {
        if i + 1 == x.len() {
            let s = b.xor(xi, yi);
            out.push(b.xor(s, carry));
        } else {
            let (s, c) = full_adder(b, xi, yi, carry);
            out.push(s);
            carry = c;
        }
    }
    out
}

/// `x_k + y_k` modulo `2^n` for every pair (all of width `n`): the gates of [`add`] with
/// carry-in 0, built bit position by bit position across the pairs. The ANDs of one
/// position are then adjacent and independent, so the garbler hashes them two at a time
/// ([`crate::garble::Garbler`]); a pair-by-pair order would make every AND wait for the
/// previous one's carry.
pub fn add_lockstep(b: &mut Builder, pairs: &[(&[Bit], &[Bit])]) -> Vec<Word> {
    let n = pairs.first().map_or(0, |(x, _)| x.len());
    assert!(
        pairs.iter().all(|(x, y)| x.len() == n && y.len() == n),
        "add_lockstep: operand widths differ"
    );
    let mut carries = vec![Bit::Const(false); pairs.len()];
    let mut sums: Vec<Word> = vec![Vec::with_capacity(n); pairs.len()];
    let mut operands = Vec::with_capacity(pairs.len());
    for i in 0..n {
        operands.clear();
        for (((x, y), c), sum) in pairs.iter().zip(&carries).zip(&mut sums) {
            if i + 1 == n {
                let s = b.xor(x[i], y[i]);
                sum.push(b.xor(s, *c));
            } else {
                let xc = b.xor(x[i], *c);
                let yc = b.xor(y[i], *c);
                sum.push(b.xor(xc, y[i]));
                operands.push((xc, yc));
            }
        }
        let ands: Vec<Bit> = operands.iter().map(|&(xc, yc)| b.and(xc, yc)).collect();
        for (c, t) in carries.iter_mut().zip(ands) {
            *c = b.xor(t, *c);
        }
    }
    sums
}

/// `x − y` modulo `2^n`, as `x + ¬y + 1`. n − 1 ANDs.
pub fn sub(b: &mut Builder, x: &[Bit], y: &[Bit]) -> Word {
    let ny: Word = y.iter().map(|&v| b.not(v)).collect();
    add(b, x, &ny, Bit::Const(true))
}

/// `−x` modulo `2^n`, as `0 + ¬x + 1`. n − 2 ANDs (n ≥ 2).
pub fn neg(b: &mut Builder, x: &[Bit]) -> Word {
    sub(b, &constant(0, x.len()), x)
}

/// `x < y`, unsigned or two's-complement signed: the borrow of `x − y`. n ANDs.
pub fn less_than(b: &mut Builder, x: &[Bit], y: &[Bit], signed: bool) -> Bit {
    assert_eq!(x.len(), y.len(), "less_than: operand widths differ");
    // x ≥ y ⇔ the carry out of x + ¬y + 1; signed compare flips both sign bits first.
    let mut carry = Bit::Const(true);
    let top = x.len().saturating_sub(1);
    for (i, (&xi, &yi)) in x.iter().zip(y).enumerate() {
        let (xi, yi) = if signed && i == top {
            (b.not(xi), b.not(yi))
        } else {
            (xi, yi)
        };
        let nyi = b.not(yi);
        carry = full_adder(b, xi, nyi, carry).1;
    }
    b.not(carry)
}

/// `if s { t } else { f }`, bitwise `f ⊕ (s ∧ (t ⊕ f))`. n ANDs.
pub fn mux(b: &mut Builder, s: Bit, t: &[Bit], f: &[Bit]) -> Word {
    assert_eq!(t.len(), f.len(), "mux: operand widths differ");
    t.iter()
        .zip(f)
        .map(|(&ti, &fi)| {
            let d = b.xor(ti, fi);
            let sd = b.and(s, d);
            b.xor(fi, sd)
        })
        .collect()
}

/// `max(x, y)`: a comparison and a mux, 2n ANDs; for one-bit words a single OR
/// (unsigned 0/1) or AND (signed 0/−1).
pub fn max(b: &mut Builder, x: &[Bit], y: &[Bit], signed: bool) -> Word {
    if let ([x0], [y0]) = (x, y) {
        return vec![if signed {
            b.and(*x0, *y0)
        } else {
            b.or(*x0, *y0)
        }];
    }
    let lt = less_than(b, x, y, signed);
    mux(b, lt, y, x)
}

/// `max(x, 0)` of a signed word: every bit ANDed with the inverted sign. n − 1 ANDs.
pub fn relu(b: &mut Builder, x: &[Bit]) -> Word {
    let Some(&sign) = x.last() else {
        return Vec::new();
    };
    let positive = b.not(sign);
    let mut out: Word = x[..x.len() - 1]
        .iter()
        .map(|&v| b.and(v, positive))
        .collect();
    out.push(Bit::Const(false));
    out
}

/// Clamps a signed word `x` (width m) to `[0, 2^bits − 1]`, returning `bits` bits:
/// ReLU plus saturation. (m − 2 − bits) + 2·bits ANDs when m > bits + 1.
pub fn clamp_unsigned(b: &mut Builder, x: &[Bit], bits: usize) -> Word {
    let wide = sign_extend(x, x.len().max(bits + 1));
    let sign = *wide.last().expect("width ≥ 1");
    let mut over = Bit::Const(false);
    for &hi in &wide[bits..wide.len() - 1] {
        over = b.or(over, hi);
    }
    let positive = b.not(sign);
    wide[..bits]
        .iter()
        .map(|&v| {
            let sat = b.or(v, over);
            b.and(sat, positive)
        })
        .collect()
}

/// Index of the largest value, ties to the lowest index, as `⌈log2 len⌉` bits.
/// A linear scan: (len − 1)·(2n + index width) ANDs at most.
pub fn argmax(b: &mut Builder, values: &[Word], signed: bool) -> Word {
    let index_bits = (usize::BITS - (values.len().max(2) - 1).leading_zeros()) as usize;
    let mut best = values[0].clone();
    let mut index = constant(0, index_bits);
    for (i, v) in values.iter().enumerate().skip(1) {
        let greater = less_than(b, &best, v, signed);
        best = mux(b, greater, v, &best);
        index = mux(b, greater, &constant(i as i128, index_bits), &index);
    }
    index
}

/// A multiset of weighted bits plus a public constant, summed by a carry-save
/// compressor: the dot-product engine.
///
/// Bits go into columns by weight; [`Accumulator::finish`] reduces each column, least
/// significant first, with full adders (3 bits → sum + carry, 1 AND) and a final half
/// adder (1 AND), carries moving up. Every full adder removes one bit, so the whole sum
/// costs about one AND per input bit, the bound of Wallace/Dadda trees without their
/// depth optimisation (depth is irrelevant to garbling).
pub struct Accumulator {
    columns: Vec<Vec<Bit>>,
    constant: i128,
}

impl Accumulator {
    /// An empty sum computed modulo `2^width`.
    pub fn new(width: usize) -> Self {
        Accumulator {
            columns: vec![Vec::new(); width],
            constant: 0,
        }
    }

    /// Adds the unsigned word `x·2^shift`.
    pub fn add_unsigned(&mut self, x: &[Bit], shift: usize) {
        for (i, &bit) in x.iter().enumerate() {
            match bit {
                Bit::Const(false) => {}
                Bit::Const(true) => self.constant += 1 << (i + shift),
                Bit::Wire(_) => {
                    if let Some(col) = self.columns.get_mut(i + shift) {
                        col.push(bit);
                    }
                }
            }
        }
    }

    /// Adds the two's-complement word `x·2^shift`: its top bit weighs `−2^(n−1+shift)`,
    /// added as `¬top·2^k − 2^k`. Free until [`Accumulator::finish`].
    pub fn add_signed(&mut self, b: &mut Builder, x: &[Bit], shift: usize) {
        let Some((&top, rest)) = x.split_last() else {
            return;
        };
        self.add_unsigned(rest, shift);
        let k = rest.len() + shift;
        let not_top = b.not(top);
        self.add_unsigned(&[not_top], k);
        self.constant -= 1 << k;
    }

    /// Adds a public constant.
    pub fn add_constant(&mut self, c: i128) {
        self.constant += c;
    }

    /// The sum modulo `2^width`, two's complement.
    pub fn finish(mut self, b: &mut Builder) -> Word {
        let width = self.columns.len();
        for (i, bit) in constant(self.constant, width).into_iter().enumerate() {
            if bit == Bit::Const(true) {
                self.columns[i].push(bit);
            }
        }
        let mut out = Vec::with_capacity(width);
        for c in 0..width {
            // The column is a queue: adders take from the front, sums join the back.
            let mut col = std::mem::take(&mut self.columns[c]);
            let mut front = 0;
            let mut carries = Vec::new();
            while col.len() - front >= 3 {
                let (s, carry) = full_adder(b, col[front], col[front + 1], col[front + 2]);
                front += 3;
                col.push(s);
                carries.push(carry);
            }
            let bit = match col[front..] {
                [] => Bit::Const(false),
                [x] => x,
                [x, y] => {
                    let (s, carry) = half_adder(b, x, y);
                    carries.push(carry);
                    s
                }
                _ => unreachable!("fewer than three bits remain"),
            };
            out.push(bit);
            if let Some(next) = self.columns.get_mut(c + 1) {
                next.extend(carries);
            }
        }
        out
    }
}

/// `x · w` for a secret unsigned `x` and a two's-complement `w` the garbler knows, added
/// into `acc`: one partial product `w_j ∧ x_k` per bit pair (a garbler half gate each,
/// since `w_j` is garbler-known), the sign row as `¬(w_top ∧ x_k)` plus a constant.
/// n·m garbler half gates, plus about n·m ANDs when the accumulator is finished.
pub fn mul_known_into(b: &mut Builder, acc: &mut Accumulator, x: &[Bit], w: &[Bit]) {
    let Some((&w_top, w_rest)) = w.split_last() else {
        return;
    };
    for (j, &wj) in w_rest.iter().enumerate() {
        let row: Word = x.iter().map(|&xk| b.and(wj, xk)).collect();
        acc.add_unsigned(&row, j);
    }
    let top = w_rest.len();
    for (k, &xk) in x.iter().enumerate() {
        let p = b.and(w_top, xk);
        let np = b.not(p);
        acc.add_unsigned(&[np], top + k);
        acc.add_constant(-(1 << (top + k)));
    }
}

/// Number of ones in `bits`, as `⌈log2(len + 1)⌉` bits. About len − log2 len ANDs.
pub fn popcount(b: &mut Builder, bits: &[Bit]) -> Word {
    let width = (usize::BITS - bits.len().leading_zeros()) as usize;
    let mut acc = Accumulator::new(width.max(1));
    for &bit in bits {
        acc.add_unsigned(&[bit], 0);
    }
    acc.finish(b)
}
