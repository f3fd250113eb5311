//! Lookup OT: a 1-out-of-`2^n` OT of one bit per instance, built offline from `n` random
//! OTs and derandomized online, so that a private function of the evaluator's `n`-bit
//! value comes out XOR-shared. The OT-based alternative to a garbled threshold for short
//! inputs (the table-lookup style of CrypTFlow2 and Cheetah's comparisons, on the
//! 1-out-of-N OT of Naor and Pinkas, "Oblivious transfer and polynomial evaluation",
//! STOC 1999, §4: N masks from log N OTs).
//!
//! **Offline (random 1-out-of-N).** For instance `j` the evaluator picks a random `c` and
//! runs `n` random OTs ([`super::SoftSpokenSender::random`] or IKNP's) with choices
//! `c_i`; the garbler gets key pairs `(k_{i,0}, k_{i,1})`, the evaluator `k_{i,c_i}`. The
//! mask of entry `v` is `m_v = ⊕_i k_{i,v_i}[v^{(i)}]`, where `v^{(i)}` is `v` without its
//! bit `i` (an `n − 1`-bit index, so a 128-bit key covers `n ≤ 8`). The evaluator can
//! compute `m_c` only: for fixed `i` and `b`, the bits of `k_{i,b}` index the `v` with
//! `v_i = b` one to one, so each bit of a key it lacks enters exactly one mask, and every
//! `m_v`, `v ≠ c`, holds at least one such bit. The `2^n − 1` other masks are thus
//! uniform and independent given the evaluator's view, as long as the random-OT keys are
//! (the random-OT security of the extension; no further assumption).
//!
//! **Online (Beaver's derandomization).** The evaluator, holding `x`, sends `d = x ⊕ c`
//! (uniform to the garbler); the garbler, holding the function `f` of that instance
//! (typically `v ↦ [v + G ≥ θ] ⊕ r` for its share `G` and a fresh output mask `r`), sends
//! the table `T_u = f(u ⊕ d) ⊕ m_u` for all `u`; the evaluator reads `f(x) = T_c ⊕ m_c`.
//! Cost: `n` random OTs offline, `n` bits and `2^n` bits online: for `n = 8`, 1 + 32
//! bytes, where a garbled 8-bit comparison costs 8 input labels (128 bytes) and its tables.

use crate::channel::{Channel, ChannelError};
use crate::crypto::Block;
use zeroize::Zeroizing;

/// The widest input: a 128-bit key holds the `2^(n−1)` mask bits it contributes.
pub const MAX_BITS: u32 = 8;

/// Bytes of one online table: `2^n` bits, at least one byte.
pub fn table_bytes(n: u32) -> usize {
    (1usize << n).div_ceil(8)
}

/// `v` without its bit `i`: the index of `v`'s mask bit within `k_{i,v_i}`.
fn without(v: usize, i: u32) -> usize {
    (v & ((1 << i) - 1)) | (v >> (i + 1) << i)
}

fn bit(key: Block, at: usize) -> bool {
    key.0 >> at & 1 == 1
}

/// The garbler's masks `m_v` of one instance, from its `n` random-OT key pairs (OT `i`
/// carries bit `i` of the evaluator's choice).
fn masks(keys: &[[Block; 2]]) -> Zeroizing<Vec<bool>> {
    let n = keys.len() as u32;
    Zeroizing::new(
        (0..1usize << n)
            .map(|v| {
                (0..n).fold(false, |m, i| {
                    m ^ bit(keys[i as usize][v >> i & 1], without(v, i))
                })
            })
            .collect(),
    )
}

/// The garbler's side of `count` lookup OTs on `n`-bit inputs: holds every instance's
/// masks until its table is sent.
pub struct LookupSender {
    n: u32,
    masks: Vec<Zeroizing<Vec<bool>>>,
}

impl LookupSender {
    /// From `n` random-OT key pairs per instance (`keys.len()` a multiple of `n`, OT
    /// `j·n + i` carrying bit `i` of instance `j`'s choice).
    pub fn new(n: u32, keys: &[[Block; 2]]) -> Self {
        assert!((1..=MAX_BITS).contains(&n), "lookup width {n} not in 1..=8");
        assert_eq!(keys.len() % n as usize, 0, "keys not a multiple of {n}");
        LookupSender {
            n,
            masks: keys.chunks_exact(n as usize).map(masks).collect(),
        }
    }

    /// Instances.
    pub fn len(&self) -> usize {
        self.masks.len()
    }

    /// Whether there are no instances.
    pub fn is_empty(&self) -> bool {
        self.masks.is_empty()
    }

    /// The table of instance `j` for the evaluator's `d = x ⊕ c` and the garbler's
    /// function `f` on `n`-bit values: `T_u = f(u ⊕ d) ⊕ m_u`, packed least significant
    /// bit first into [`table_bytes`] bytes.
    pub fn table(&self, j: usize, d: usize, f: impl Fn(usize) -> bool) -> Vec<u8> {
        let mut out = vec![0u8; table_bytes(self.n)];
        for (u, &m) in self.masks[j].iter().enumerate() {
            out[u / 8] |= u8::from(f(u ^ d) ^ m) << (u % 8);
        }
        out
    }

    /// Online, for every instance: reads the evaluator's `d` (`n` bits each), writes
    /// the table of `f(j, ·)` for instance `j` and flushes. `n·count` bits in,
    /// `count·`[`table_bytes`] bytes out.
    pub fn answer<C: Channel>(
        &self,
        channel: &mut C,
        f: impl Fn(usize, usize) -> bool,
    ) -> Result<(), ChannelError> {
        let bits = channel.read_bits(self.len() * self.n as usize)?;
        for (j, d) in bits.chunks_exact(self.n as usize).enumerate() {
            channel.write_bytes(&self.table(j, value(d), |v| f(j, v)))?;
        }
        channel.flush()
    }
}

/// The value of `n` bits, least significant first.
fn value(bits: &[bool]) -> usize {
    bits.iter().rev().fold(0, |v, &b| v << 1 | usize::from(b))
}

/// The evaluator's side: per instance its random choice `c` and the mask `m_c`.
pub struct LookupReceiver {
    n: u32,
    choices: Zeroizing<Vec<usize>>,
    masks: Zeroizing<Vec<bool>>,
}

impl LookupReceiver {
    /// From its random choice bits (`n` per instance, bit `i` of instance `j` at
    /// `j·n + i`) and the random-OT keys they selected.
    pub fn new(n: u32, choices: &[bool], keys: &[Block]) -> Self {
        assert!((1..=MAX_BITS).contains(&n), "lookup width {n} not in 1..=8");
        assert_eq!(choices.len(), keys.len(), "one key per choice bit");
        let n_us = n as usize;
        let c: Zeroizing<Vec<usize>> =
            Zeroizing::new(choices.chunks_exact(n_us).map(value).collect());
        let masks = Zeroizing::new(
            c.iter()
                .zip(keys.chunks_exact(n_us))
                .map(|(&c, k)| (0..n).fold(false, |m, i| m ^ bit(k[i as usize], without(c, i))))
                .collect(),
        );
        LookupReceiver {
            n,
            choices: c,
            masks,
        }
    }

    /// What the evaluator sends for instance `j` holding `x`: `d = x ⊕ c`.
    pub fn derandomize(&self, j: usize, x: usize) -> usize {
        (x ^ self.choices[j]) & ((1 << self.n) - 1)
    }

    /// `f(x)` from instance `j`'s table (the garbler's `T`, [`table_bytes`] bytes).
    pub fn output(&self, j: usize, table: &[u8]) -> bool {
        let c = self.choices[j];
        (table[c / 8] >> (c % 8) & 1 == 1) ^ self.masks[j]
    }

    /// Online: sends `d = x ⊕ c` for every instance's input `xs[j]` (its low `n` bits),
    /// reads the tables, returns the outputs `f(j, x_j)`, XOR-shared with whatever mask
    /// the garbler's `f` added.
    pub fn lookup<C: Channel>(
        &self,
        channel: &mut C,
        xs: &[usize],
    ) -> Result<Zeroizing<Vec<bool>>, ChannelError> {
        assert_eq!(xs.len(), self.choices.len(), "one input per instance");
        let n = self.n as usize;
        let d: Zeroizing<Vec<bool>> = Zeroizing::new(
            xs.iter()
                .enumerate()
                .flat_map(|(j, &x)| {
                    let d = self.derandomize(j, x);
                    (0..n).map(move |i| d >> i & 1 == 1)
                })
                .collect(),
        );
        channel.write_bits(&d)?;
        channel.flush()?;
        let mut table = vec![0u8; table_bytes(self.n)];
        let mut out = Zeroizing::new(Vec::with_capacity(xs.len()));
        for j in 0..xs.len() {
            channel.read_bytes(&mut table)?;
            out.push(self.output(j, &table));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_removes_exactly_bit_i() {
        for n in 1..=MAX_BITS {
            for i in 0..n {
                let mut seen: Vec<usize> = (0..1usize << n)
                    .filter(|v| v >> i & 1 == 1)
                    .map(|v| without(v, i))
                    .collect();
                seen.sort_unstable();
                assert_eq!(
                    seen,
                    (0..1usize << (n - 1)).collect::<Vec<_>>(),
                    "n={n} i={i}"
                );
            }
        }
    }
}
