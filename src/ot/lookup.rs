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
//!
//! **Word-wise.** Masks and tables are `2^n`-bit vectors ([`Truth`], at most four `u64`):
//! the garbler's masks are the XOR over `i` of the two keys of OT `i` interleaved in
//! blocks of `2^i` bits, and a table is the function's truth table permuted by `d` (a
//! swap of adjacent `2^i`-bit blocks for each set bit `i` of `d`) XOR the masks; a
//! threshold's function is itself a public table rotated by the garbler's share. A few
//! dozen word operations per instance, where the definition takes `n·2^n` bit steps
//! (the tests check both agree).

use crate::channel::{Channel, ChannelError};
use crate::crypto::Block;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The widest input: a 128-bit key holds the `2^(n−1)` mask bits it contributes.
pub const MAX_BITS: u32 = 8;

/// Words of the widest truth table: `2^8` bits.
const WORDS: usize = 4;

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

/// Within a word, the bits of the lower `2^i`-bit block of every `2^(i+1)`-bit block.
const LOW_BLOCKS: [u64; 6] = [
    0x5555_5555_5555_5555,
    0x3333_3333_3333_3333,
    0x0f0f_0f0f_0f0f_0f0f,
    0x00ff_00ff_00ff_00ff,
    0x0000_ffff_0000_ffff,
    0x0000_0000_ffff_ffff,
];

/// The 32 bits of `x` spread into the lower `2^i`-bit block of every `2^(i+1)`-bit
/// block of a word (`i < 6`; for `i = 5` they stay where they are).
fn spread(x: u64, i: u32) -> u64 {
    (i..5).rev().fold(x & 0xffff_ffff, |x, s| {
        (x | x << (1 << s)) & LOW_BLOCKS[s as usize]
    })
}

/// A function of `n`-bit values (`n ≤ 8`) as its truth table: bit `v` is `f(v)`, in
/// `u64` words, bits from `2^n` on zero. The lookup's tables are built from one by
/// rotations and index permutations, a few word operations each, instead of `2^n`
/// evaluations. Wiped on drop (the garbler's tables derive from its share).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Truth {
    n: u32,
    words: [u64; WORDS],
}

impl Truth {
    /// The truth table of `f` on `n`-bit values.
    pub fn from_fn(n: u32, f: impl Fn(usize) -> bool) -> Truth {
        check_width(n);
        let mut words = [0u64; WORDS];
        for v in 0..1usize << n {
            words[v / 64] |= u64::from(f(v)) << (v % 64);
        }
        Truth { n, words }
    }

    /// Input bits.
    pub fn bits(&self) -> u32 {
        self.n
    }

    /// `f(v)`.
    pub fn get(&self, v: usize) -> bool {
        self.words[v / 64] >> (v % 64) & 1 == 1
    }

    /// Words in use, and the mask of the last one.
    fn span(&self) -> (usize, u64) {
        let bits = 1usize << self.n;
        (bits.div_ceil(64), u64::MAX >> (64 - bits.min(64)))
    }

    /// `v ↦ f((v + g) mod 2^n)`: the table rotated down by `g` places.
    pub fn rotate(&self, g: usize) -> Truth {
        let (len, mask) = self.span();
        let g = g & ((1 << self.n) - 1);
        let mut words = [0u64; WORDS];
        if len == 1 {
            let (x, width) = (self.words[0], 1u32 << self.n);
            // Both shifts stay below 64: `g < width ≤ 64`, and `width − g` is 64 only at 0.
            let up = if g == 0 { 0 } else { x << (width - g as u32) };
            words[0] = (x >> g | up) & mask;
        } else {
            let (q, r) = (g / 64, (g % 64) as u32);
            for (w, out) in words[..len].iter_mut().enumerate() {
                let lo = self.words[(w + q) % len];
                let hi = self.words[(w + q + 1) % len];
                *out = if r == 0 { lo } else { lo >> r | hi << (64 - r) };
            }
        }
        Truth { n: self.n, words }
    }

    /// `v ↦ f(v ⊕ d)`: every pair of `2^i`-bit blocks swapped for each bit `i` of `d`.
    pub fn permute(&self, d: usize) -> Truth {
        let (len, _) = self.span();
        let d = d & ((1 << self.n) - 1);
        let mut words = [0u64; WORDS];
        for (w, out) in words[..len].iter_mut().enumerate() {
            // Bits 6 and 7 of `d` move whole words, the others bits within a word.
            *out = (0..6u32).fold(self.words[w ^ (d >> 6)], |x, i| {
                // The swap is public (`d` is sent in the clear), a branch is fine.
                if d >> i & 1 == 1 {
                    let (m, s) = (LOW_BLOCKS[i as usize], 1 << i);
                    (x & m) << s | (x >> s) & m
                } else {
                    x
                }
            });
        }
        Truth { n: self.n, words }
    }

    /// `v ↦ f(v) ⊕ b`, by arithmetic, not a branch (`b` is typically a secret mask).
    pub fn xor(&self, b: bool) -> Truth {
        let (len, mask) = self.span();
        let all = u64::from(b).wrapping_neg();
        let mut words = self.words;
        for (w, x) in words[..len].iter_mut().enumerate() {
            *x ^= if w + 1 == len { all & mask } else { all };
        }
        Truth { n: self.n, words }
    }

    /// The table packed least significant bit first: [`table_bytes`] bytes.
    fn write_to(&self, out: &mut [u8]) {
        for (k, byte) in out.iter_mut().enumerate() {
            *byte = (self.words[k / 8] >> (8 * (k % 8))) as u8;
        }
    }
}

fn check_width(n: u32) {
    assert!((1..=MAX_BITS).contains(&n), "lookup width {n} not in 1..=8");
}

/// The garbler's masks `m_v` of one instance, from its `n` random-OT key pairs (OT `i`
/// carries bit `i` of the evaluator's choice), as a table: the XOR over `i` of the two
/// keys of OT `i` interleaved in blocks of `2^i` bits (the `v` with bit `i` clear take
/// `k_{i,0}`'s bits in order, those with it set `k_{i,1}`'s).
fn masks(keys: &[[Block; 2]]) -> Truth {
    let n = keys.len() as u32;
    let bits = 1usize << n;
    let mut words = [0u64; WORDS];
    for (i, [k0, k1]) in (0u32..).zip(keys) {
        let (k0, k1) = (k0.0, k1.0);
        for (w, out) in words[..bits.div_ceil(64)].iter_mut().enumerate() {
            *out ^= if i < 6 {
                // 32 bits of each key per word.
                let (a, b) = ((k0 >> (32 * w)) as u64, (k1 >> (32 * w)) as u64);
                spread(a, i) | spread(b, i) << (1 << i)
            } else {
                // Blocks of whole words: word `w` is in block `w >> (i − 6)`.
                let block = w >> (i - 6);
                let at = (block >> 1 << (i - 6)) | (w & ((1 << (i - 6)) - 1));
                let key = if block & 1 == 0 { k0 } else { k1 };
                (key >> (64 * at)) as u64
            };
        }
    }
    if bits < 64 {
        words[0] &= (1u64 << bits) - 1;
    }
    Truth { n, words }
}

/// The garbler's side of `count` lookup OTs on `n`-bit inputs: holds every instance's
/// masks until its table is sent.
pub struct LookupSender {
    n: u32,
    masks: Vec<Truth>,
}

impl LookupSender {
    /// From `n` random-OT key pairs per instance (`keys.len()` a multiple of `n`, OT
    /// `j·n + i` carrying bit `i` of instance `j`'s choice).
    pub fn new(n: u32, keys: &[[Block; 2]]) -> Self {
        check_width(n);
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

    /// Input bits per instance.
    pub fn bits(&self) -> u32 {
        self.n
    }

    /// The table of instance `j` for the evaluator's `d = x ⊕ c` and the garbler's
    /// function `f` (an `n`-bit [`Truth`]): `T_u = f(u ⊕ d) ⊕ m_u`.
    pub fn table(&self, j: usize, d: usize, f: &Truth) -> Truth {
        assert_eq!(f.n, self.n, "a function of {} bits", self.n);
        let mut t = f.permute(d);
        t.words
            .iter_mut()
            .zip(&self.masks[j].words)
            .for_each(|(t, m)| *t ^= m);
        t
    }

    /// Online, for every instance: reads the evaluator's `d` (`n` bits each), writes
    /// the table of `f(j)` for instance `j` and flushes. `n·count` bits in,
    /// `count·`[`table_bytes`] bytes out.
    pub fn answer<C: Channel>(
        &self,
        channel: &mut C,
        f: impl Fn(usize) -> Truth,
    ) -> Result<(), ChannelError> {
        let bits = channel.read_bits(self.len() * self.n as usize)?;
        let mut packed = vec![0u8; self.len() * table_bytes(self.n)];
        for ((j, d), out) in bits
            .chunks_exact(self.n as usize)
            .enumerate()
            .zip(packed.chunks_exact_mut(table_bytes(self.n)))
        {
            self.table(j, value(d), &f(j)).write_to(out);
        }
        channel.write_bytes(&packed)?;
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
        check_width(n);
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

    /// Instances.
    pub fn len(&self) -> usize {
        self.choices.len()
    }

    /// Whether there are no instances.
    pub fn is_empty(&self) -> bool {
        self.choices.is_empty()
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

    /// Writes (does not flush) `d = x ⊕ c` for every instance's input `xs[j]` (its low
    /// `n` bits): the first half of [`LookupReceiver::lookup`], for a caller that sends
    /// it with other bits of the same round.
    pub fn send<C: Channel>(&self, channel: &mut C, xs: &[u64]) -> Result<(), ChannelError> {
        assert_eq!(xs.len(), self.choices.len(), "one input per instance");
        let n = self.n as usize;
        let d: Zeroizing<Vec<bool>> = Zeroizing::new(
            xs.iter()
                .enumerate()
                .flat_map(|(j, &x)| {
                    let d = self.derandomize(j, x as usize);
                    (0..n).map(move |i| d >> i & 1 == 1)
                })
                .collect(),
        );
        channel.write_bits(&d)
    }

    /// Reads the tables answering [`LookupReceiver::send`]; returns the outputs
    /// `f(j, x_j)`, XOR-shared with whatever mask the garbler's `f` added.
    pub fn receive<C: Channel>(
        &self,
        channel: &mut C,
    ) -> Result<Zeroizing<Vec<bool>>, ChannelError> {
        let size = table_bytes(self.n);
        let mut tables = vec![0u8; self.len() * size];
        channel.read_bytes(&mut tables)?;
        Ok(Zeroizing::new(
            tables
                .chunks_exact(size)
                .enumerate()
                .map(|(j, t)| self.output(j, t))
                .collect(),
        ))
    }

    /// Online: sends `d = x ⊕ c` for every instance's input `xs[j]`, reads the tables,
    /// returns the outputs (see [`LookupReceiver::receive`]).
    pub fn lookup<C: Channel>(
        &self,
        channel: &mut C,
        xs: &[u64],
    ) -> Result<Zeroizing<Vec<bool>>, ChannelError> {
        self.send(channel, xs)?;
        channel.flush()?;
        self.receive(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pseudorandom blocks for the tests (splitmix64).
    fn blocks(seed: u64, n: usize) -> Vec<Block> {
        let mut x = seed;
        let mut next = move || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ z >> 30).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ z >> 27).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ z >> 31
        };
        (0..n)
            .map(|_| Block(u128::from(next()) << 64 | u128::from(next())))
            .collect()
    }

    /// The masks by their definition, `m_v = ⊕_i k_{i,v_i}[v without bit i]`, one bit
    /// at a time: what the word-wise [`masks`] must equal.
    fn masks_by_definition(keys: &[[Block; 2]]) -> Truth {
        let n = keys.len() as u32;
        Truth::from_fn(n, |v| {
            (0..n).fold(false, |m, i| {
                m ^ bit(keys[i as usize][v >> i & 1], without(v, i))
            })
        })
    }

    #[test]
    fn word_wise_masks_equal_the_definition_for_every_width() {
        for n in 1..=MAX_BITS {
            for seed in 0..20 {
                let keys: Vec<[Block; 2]> = blocks(seed * 9 + u64::from(n), 2 * n as usize)
                    .chunks_exact(2)
                    .map(|k| [k[0], k[1]])
                    .collect();
                assert!(masks(&keys) == masks_by_definition(&keys), "n={n}");
            }
        }
    }

    /// Rotation, permutation and negation agree with their definitions on random tables,
    /// for every width, every shift `g` and every `d`.
    #[test]
    fn table_operations_equal_their_definitions_exhaustively() {
        for n in 1..=MAX_BITS {
            let size = 1usize << n;
            let bits = blocks(u64::from(n), 2);
            let random = |v: usize| bit(bits[v / 128], v % 128);
            let f = Truth::from_fn(n, random);
            for g in 0..size {
                let want = Truth::from_fn(n, |v| random((v + g) % size));
                assert!(f.rotate(g) == want, "rotate n={n} g={g}");
                let want = Truth::from_fn(n, |v| random(v ^ g));
                assert!(f.permute(g) == want, "permute n={n} d={g}");
            }
            for b in [false, true] {
                assert!(f.xor(b) == Truth::from_fn(n, |v| random(v) ^ b), "n={n}");
            }
        }
    }

    /// The receiver's output from the sender's table is `f(x)` for every width, every
    /// choice `c` and every input `x`: the masks of both sides agree.
    #[test]
    fn sender_and_receiver_agree_for_every_choice_and_input() {
        for n in 1..=MAX_BITS {
            let size = 1usize << n;
            let f = Truth::from_fn(n, |v| v.count_ones() % 3 == 1);
            let pairs: Vec<[Block; 2]> = blocks(u64::from(n) + 100, 2 * n as usize * size)
                .chunks_exact(2)
                .map(|k| [k[0], k[1]])
                .collect();
            let sender = LookupSender::new(n, &pairs);
            // Instance `j` chooses `c = j`.
            let choices: Vec<bool> = (0..size)
                .flat_map(|c| (0..n).map(move |i| c >> i & 1 == 1))
                .collect();
            let keys: Vec<Block> = pairs
                .iter()
                .zip(&choices)
                .map(|(p, &c)| p[usize::from(c)])
                .collect();
            let receiver = LookupReceiver::new(n, &choices, &keys);
            let mut table = vec![0u8; table_bytes(n)];
            for j in 0..size {
                for x in 0..size {
                    let d = receiver.derandomize(j, x);
                    sender.table(j, d, &f).write_to(&mut table);
                    assert_eq!(receiver.output(j, &table), f.get(x), "n={n} c={j} x={x}");
                }
            }
        }
    }

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
