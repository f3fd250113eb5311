//! A weighted layer as OT-based products on additive shares (Gilboa, "Two party RSA key
//! generation", CRYPTO 1999; the linear layers of ABY, MiniONN and MOTION work this way).
//!
//! The evaluator holds the layer's input bits `x_{i,t}` masked: it knows
//! `a_{i,t} = x_{i,t} ⊕ r_{i,t}`, the garbler knows the masks `r` (zero for the pixels,
//! which the evaluator knows in the clear). With `x = r + a·(1 − 2r)`, each accumulator
//!
//! `acc_o = b_o + Σ_{i,t} 2^t w_{o,i} r_{i,t} + Σ_{i,t} a_{i,t} · c_{o,i,t}`,
//! `c_{o,i,t} = 2^t w_{o,i} (1 − 2 r_{i,t})`,
//!
//! has a garbler-known part and, per choice bit `a_{i,t}`, a product with a vector the
//! garbler knows. One random OT per choice bit gives keys `k_0, k_1` to the garbler and
//! `k_a` to the evaluator; the garbler sends `u = G(k_0) − G(k_1) + c` (all the
//! accumulators the input feeds, mod `2^m`) and keeps `−G(k_0)`; the evaluator takes
//! `G(k_a) + a·u`, which is `G(k_0) + a·c`. The two sums are additive shares of `acc`.
//! `u` is masked by the expansion of the key the evaluator lacks, so it learns nothing
//! of `c`; the garbler sees only its side of the OTs.
//!
//! The session runs these OTs offline, for random choices, and completes them online
//! from the public differences to the true choices, with no further message
//! ([`Products`]).

use super::ring;
use crate::channel::{Channel, ChannelError};
use crate::compiler::stages::Linear;
use crate::crypto::Block;
use zeroize::Zeroizing;

/// Which accumulators every input value of a layer feeds, and through which weight.
pub struct Fanout {
    /// `start[i]..start[i + 1]` indexes the entries of input `i`.
    start: Vec<u32>,
    /// `(accumulator, index into the layer's weights in tensor order)`.
    entries: Vec<(u32, u32)>,
    /// Output channels: accumulator `o` takes bias `o % channels`.
    channels: usize,
    /// Number of accumulators.
    outputs: usize,
}

impl Fanout {
    /// The fan-out of `layer` on inputs of shape `(h, w, c)` (HWC order, as the stages
    /// emit them). Accumulators are in HWC order too.
    pub fn new(layer: &Linear, input: (usize, usize, usize)) -> Fanout {
        let [oc, kh, kw, ic] = layer.shape;
        let (h, w, c) = input;
        let mut start = Vec::with_capacity(h * w * c + 1);
        let mut entries = Vec::new();
        start.push(0);
        if let Some(g) = &layer.conv {
            let (oh, ow) = g
                .output(h, w)
                .expect("the model loader checked that the kernel fits");
            let [sh, sw] = g.stride;
            let [top, left, ..] = g.padding;
            // Window (y', x') reads input row y at kernel row dy iff y'·sh + dy = y + top.
            let window = |pos: usize, pad: usize, d: usize, stride: usize, n: usize| {
                let t = (pos + pad).checked_sub(d)?;
                (t % stride == 0 && t / stride < n).then_some(t / stride)
            };
            for y in 0..h {
                for x in 0..w {
                    for ch in 0..c {
                        for dy in 0..kh {
                            let Some(oy) = window(y, top, dy, sh, oh) else {
                                continue;
                            };
                            for dx in 0..kw {
                                let Some(ox) = window(x, left, dx, sw, ow) else {
                                    continue;
                                };
                                let pos = (oy * ow + ox) * oc;
                                for o in 0..oc {
                                    let weight = ((o * kh + dy) * kw + dx) * ic + ch;
                                    entries.push(((pos + o) as u32, weight as u32));
                                }
                            }
                        }
                        start.push(entries.len() as u32);
                    }
                }
            }
            Fanout {
                start,
                entries,
                channels: oc,
                outputs: oh * ow * oc,
            }
        } else {
            let n = h * w * c;
            for i in 0..n {
                entries.extend((0..oc).map(|o| (o as u32, (o * n + i) as u32)));
                start.push(entries.len() as u32);
            }
            Fanout {
                start,
                entries,
                channels: oc,
                outputs: oc,
            }
        }
    }

    /// Number of input values.
    pub fn inputs(&self) -> usize {
        self.start.len() - 1
    }

    /// Output channels (features of a dense layer).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Number of accumulators.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Bytes of the correction vectors for `bits` choice bits per input and `m`-bit
    /// values, as [`Fanout::garbler_products`] writes them (one packed vector per OT).
    pub fn correction_bytes(&self, bits: u32, m: u32) -> u64 {
        (0..self.inputs())
            .map(|i| super::ring::packed_len(self.of(i).len(), m) as u64 * u64::from(bits))
            .sum()
    }

    /// Two expansion buffers and the PRG's byte scratch, sized for the largest fan-out
    /// once, so no reallocation leaves pad values behind (all wiped on drop).
    #[allow(clippy::type_complexity)]
    fn buffers(&self, m: u32) -> (Zeroizing<Vec<u64>>, Zeroizing<Vec<u64>>, Zeroizing<Vec<u8>>) {
        let most = (0..self.inputs())
            .map(|i| self.of(i).len())
            .max()
            .unwrap_or(0);
        let width = m.div_ceil(8) as usize;
        (
            Zeroizing::new(Vec::with_capacity(most)),
            Zeroizing::new(Vec::with_capacity(most)),
            Zeroizing::new(Vec::with_capacity(most * width)),
        )
    }

    fn of(&self, i: usize) -> &[(u32, u32)] {
        &self.entries[self.start[i] as usize..self.start[i + 1] as usize]
    }

    /// The plaintext accumulators `bias + Σ w·x` mod `2^m` of input values `x`: what the
    /// two shares must add up to.
    pub fn accumulate(&self, weights: &[i64], bias: &[i64], x: &[u64], m: u32) -> Vec<u64> {
        let mut acc: Vec<u64> = (0..self.outputs)
            .map(|o| bias[o % self.channels] as u64)
            .collect();
        for (i, &xi) in x.iter().enumerate() {
            for &(o, w) in self.of(i) {
                let term = (weights[w as usize] as u64).wrapping_mul(xi);
                acc[o as usize] = acc[o as usize].wrapping_add(term);
            }
        }
        acc.iter().map(|v| v & ring::mask(m)).collect()
    }

    /// The garbler's side of the offline products for `bits` choice bits per input
    /// value: `keys[i·bits + t]` is the random-OT key pair of input `i`'s bit `t` (the
    /// evaluator's choice `c` random), `masks` likewise its mask. Sends the correction
    /// vectors `u`; returns the garbler's side of the products, to be completed online by
    /// [`Products::share`].
    pub fn garbler_products<C: Channel>(
        &self,
        channel: &mut C,
        (weights, bias): (&[i64], &[i64]),
        bits: u32,
        m: u32,
        keys: &[[Block; 2]],
        masks: &[bool],
    ) -> Result<Products, ChannelError> {
        let mut base = Zeroizing::new(
            (0..self.outputs)
                .map(|o| bias[o % self.channels] as u64)
                .collect::<Vec<u64>>(),
        );
        let mut flips = Zeroizing::new(Vec::with_capacity(self.entries.len() * bits as usize));
        let (mut g0, mut g1, mut scratch) = self.buffers(m);
        let (mut u, mut packed) = (Vec::new(), Vec::new());
        // One vector per OT, written as soon as it is computed: the evaluator works on
        // the previous ones meanwhile.
        for i in 0..self.inputs() {
            let fan = self.of(i);
            for t in 0..bits {
                let j = i * bits as usize + t as usize;
                let [k0, k1] = keys[j];
                g0.resize(fan.len(), 0);
                g1.resize(fan.len(), 0);
                ring::expand(k0, m, &mut g0, &mut scratch);
                ring::expand(k1, m, &mut g1, &mut scratch);
                u.clear();
                // The mask bit is secret: all ones if set, by arithmetic, not a branch.
                let r = u64::from(masks[j]).wrapping_neg();
                for (e, &(o, w)) in fan.iter().enumerate() {
                    let c = (weights[w as usize] as u64) << t;
                    let s = &mut base[o as usize];
                    // `r = 1`: the garbler-known part `c` joins the share and the product
                    // vector is `−c` (two's complement `(c ⊕ r) − r`), as in the module doc.
                    *s = s.wrapping_add(c & r);
                    let c = (c ^ r).wrapping_sub(r);
                    // Its share of `c_bit·c` is `g = −G(k0)`; flipped, `c − g`.
                    *s = s.wrapping_sub(g0[e]);
                    flips.push(c.wrapping_add(g0[e].wrapping_mul(2)) & ring::mask(m));
                    u.push(g0[e].wrapping_sub(g1[e]).wrapping_add(c) & ring::mask(m));
                }
                ring::write(channel, &u, m, &mut packed)?;
            }
        }
        Ok(Products { base, flips, m })
    }

    /// The evaluator's side of the offline products: `choices[j]` is its random choice
    /// `c` for OT `j` and `keys[j]` the key it selected. Reads the correction vectors;
    /// returns its side of the products, to be completed online by [`Products::share`].
    pub fn evaluator_products<C: Channel>(
        &self,
        channel: &mut C,
        bits: u32,
        m: u32,
        keys: &[Block],
        choices: &[bool],
    ) -> Result<Products, ChannelError> {
        let mut base = Zeroizing::new(vec![0u64; self.outputs]);
        let mut flips = Zeroizing::new(Vec::with_capacity(self.entries.len() * bits as usize));
        let (mut g, _, mut scratch) = self.buffers(m);
        let (mut u, mut packed) = (Vec::new(), Vec::new());
        for i in 0..self.inputs() {
            let fan = self.of(i);
            for t in 0..bits as usize {
                let j = i * bits as usize + t;
                u.resize(fan.len(), 0);
                ring::read(channel, &mut u, m, &mut packed)?;
                g.resize(fan.len(), 0);
                ring::expand(keys[j], m, &mut g, &mut scratch);
                let chosen = u64::from(choices[j]).wrapping_neg();
                for ((&(o, _), &ge), &ue) in fan.iter().zip(g.iter()).zip(&u) {
                    // Its share of `c_bit·c` is `e = G(k_c) + c_bit·u`; flipped, `−e`.
                    let e = ge.wrapping_add(ue & chosen);
                    let s = &mut base[o as usize];
                    *s = s.wrapping_add(e);
                    flips.push(e.wrapping_mul(2).wrapping_neg() & ring::mask(m));
                }
            }
        }
        Ok(Products { base, flips, m })
    }

    /// The fan-out entries of OT `j`'s vector for `bits` choice bits per input, and
    /// where they start in a [`Products`]' flat list.
    fn ot_entries(&self, bits: u32) -> impl Iterator<Item = (usize, &[(u32, u32)])> {
        let mut at = 0;
        (0..self.inputs())
            .flat_map(move |i| {
                let fan = self.of(i);
                (0..bits).map(move |_| fan)
            })
            .map(move |fan| {
                let start = at;
                at += fan.len();
                (start, fan)
            })
    }
}

/// One party's side of a layer's products after the offline phase, for the evaluator's
/// random choices `c`: the two parties' `base` vectors are additive shares of
/// `bias + Σ_j c_j·c⃗_j`, and for each OT `j` its `flips` entries are what its share of
/// `c_j·c⃗_j` must gain when the true choice is `a_j = c_j ⊕ 1`. Since
/// `a·c⃗ = c·c⃗·(1 − 2d) + d·c⃗` for `d = a ⊕ c`, the evaluator's share `e` of `c·c⃗`
/// becomes `e·(1 − 2d)` (gains `−2e`) and the garbler's `g` becomes `g·(1 − 2d) + d·c⃗`
/// (gains `c⃗ − 2g`): both complete their shares locally from the public `d`, one
/// message online and no answer (Beaver's derandomization, CRYPTO 1995, applied to
/// Gilboa's products).
pub struct Products {
    base: Zeroizing<Vec<u64>>,
    /// Per OT, per entry of its fan-out, in OT order.
    flips: Zeroizing<Vec<u64>>,
    m: u32,
}

impl Products {
    /// This party's shares of the accumulators for the true choices `a = c ⊕ d`, given
    /// `d` (public to both: uniform, as `c` is).
    pub fn share(&self, fanout: &Fanout, bits: u32, d: &[bool]) -> Zeroizing<Vec<u64>> {
        let mut share = Zeroizing::new(self.base.to_vec());
        for ((start, fan), _) in fanout.ot_entries(bits).zip(d).filter(|(_, d)| **d) {
            for (&(o, _), &f) in fan.iter().zip(&self.flips[start..start + fan.len()]) {
                let s = &mut share[o as usize];
                *s = s.wrapping_add(f);
            }
        }
        share.iter_mut().for_each(|v| *v &= ring::mask(self.m));
        share
    }
}
