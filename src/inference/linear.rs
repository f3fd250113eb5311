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

/// Which accumulators every input value of a layer feeds, and through which weight, as
/// *runs*: a run is the `channels` accumulators of one output position (or a dense
/// layer's outputs), `first..first + channels`, fed through the weights
/// `tap + o·stride` for `o < channels` (one kernel tap across the output channels). The
/// per-entry loops below walk a run as contiguous slices: sequential memory, no index per
/// entry into the weights or the accumulators (completing a share adds two-wide SSE2).
pub struct Fanout {
    /// `start[i]..start[i + 1]` indexes the runs of input `i`.
    start: Vec<u32>,
    /// `(first accumulator, tap)` per run.
    runs: Vec<(u32, u32)>,
    /// Distance between output channels in the weight tensor: `kh·kw·in_c` for a
    /// convolution, the input count for a dense layer.
    stride: usize,
    /// Output channels: accumulator `o` takes bias `o % channels`; the length of a run.
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
        let mut runs = Vec::new();
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
                                // Weight `(o, dy, dx, ch)` sits at `o·kh·kw·ic + tap`.
                                let tap = (dy * kw + dx) * ic + ch;
                                runs.push((((oy * ow + ox) * oc) as u32, tap as u32));
                            }
                        }
                        start.push(runs.len() as u32);
                    }
                }
            }
            Fanout {
                start,
                runs,
                stride: kh * kw * ic,
                channels: oc,
                outputs: oh * ow * oc,
            }
        } else {
            let n = h * w * c;
            for i in 0..n {
                // Weight `(o, i)` sits at `o·n + i`.
                runs.push((0, i as u32));
                start.push(runs.len() as u32);
            }
            Fanout {
                start,
                runs,
                stride: n,
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
            .map(|i| super::ring::packed_len(self.len(i), m) as u64 * u64::from(bits))
            .sum()
    }

    /// The runs of input `i`.
    fn of(&self, i: usize) -> &[(u32, u32)] {
        &self.runs[self.start[i] as usize..self.start[i + 1] as usize]
    }

    /// Fan-out entries of input `i`: the length of its OTs' vectors.
    fn len(&self, i: usize) -> usize {
        self.of(i).len() * self.channels
    }

    /// Fan-out entries of all inputs together.
    fn entries(&self) -> usize {
        self.runs.len() * self.channels
    }

    /// The accumulators of run `first`: a slice of `values`.
    fn span<'v>(&self, values: &'v mut [u64], first: u32) -> &'v mut [u64] {
        &mut values[first as usize..first as usize + self.channels]
    }

    /// The weights in run order: `taps[tap·channels + o]` is the weight of output channel
    /// `o` at `tap`, so that a run reads its weights contiguously.
    fn taps(&self, weights: &[i64]) -> Zeroizing<Vec<u64>> {
        let oc = self.channels;
        let mut taps = Zeroizing::new(vec![0u64; self.stride * oc]);
        for (tap, row) in taps.chunks_exact_mut(oc).enumerate() {
            for (o, t) in row.iter_mut().enumerate() {
                *t = weights[o * self.stride + tap] as u64;
            }
        }
        taps
    }

    /// Two expansion buffers and the PRG's byte scratch, sized for the largest fan-out
    /// once, so no reallocation leaves pad values behind (all wiped on drop).
    #[allow(clippy::type_complexity)]
    fn buffers(&self, m: u32) -> (Zeroizing<Vec<u64>>, Zeroizing<Vec<u64>>, Zeroizing<Vec<u8>>) {
        let most = (0..self.inputs()).map(|i| self.len(i)).max().unwrap_or(0);
        let width = m.div_ceil(8) as usize;
        (
            Zeroizing::new(Vec::with_capacity(most)),
            Zeroizing::new(Vec::with_capacity(most)),
            Zeroizing::new(Vec::with_capacity(most * width)),
        )
    }

    /// The plaintext accumulators `bias + Σ w·x` mod `2^m` of input values `x`: what the
    /// two shares must add up to.
    pub fn accumulate(&self, weights: &[i64], bias: &[i64], x: &[u64], m: u32) -> Vec<u64> {
        let mut acc: Vec<u64> = (0..self.outputs)
            .map(|o| bias[o % self.channels] as u64)
            .collect();
        let taps = self.taps(weights);
        for (i, &xi) in x.iter().enumerate() {
            for &(first, tap) in self.of(i) {
                let row = &taps[tap as usize * self.channels..][..self.channels];
                for (a, &w) in self.span(&mut acc, first).iter_mut().zip(row) {
                    *a = a.wrapping_add(w.wrapping_mul(xi));
                }
            }
        }
        acc.iter().map(|v| v & ring::mask(m)).collect()
    }

    /// The garbler's side of the offline products for `bits` choice bits per input
    /// value: `keys[i·bits + t]` is the random-OT key pair of input `i`'s bit `t` (the
    /// evaluator's choice `c` random), `masks` likewise its mask. Sends the correction
    /// vectors `u`; returns the garbler's side of the products, to be completed online by
    /// [`Products::share`]. `spare` (the previous image's, or
    /// [`Products::default`]) lends its buffers, so that their pages stay mapped.
    pub fn garbler_products<C: Channel>(
        &self,
        channel: &mut C,
        (weights, bias): (&[i64], &[i64]),
        (bits, m): (u32, u32),
        keys: &[[Block; 2]],
        masks: &[bool],
        spare: Products,
    ) -> Result<Products, ChannelError> {
        let Products {
            mut base,
            mut flips,
            ..
        } = spare;
        base.clear();
        base.extend((0..self.outputs).map(|o| bias[o % self.channels] as u64));
        flips.resize(self.entries() * bits as usize, 0);
        let taps = self.taps(weights);
        let (mask, oc) = (ring::mask(m), self.channels);
        let (mut g0, mut g1, mut scratch) = self.buffers(m);
        let (mut u, mut packed) = (Vec::new(), Vec::new());
        let mut flips_left = flips.as_mut_slice();
        // One vector per OT, written as soon as it is computed: the evaluator works on
        // the previous ones meanwhile.
        for i in 0..self.inputs() {
            let (runs, len) = (self.of(i), self.len(i));
            for t in 0..bits {
                let j = i * bits as usize + t as usize;
                let [k0, k1] = keys[j];
                g0.resize(len, 0);
                g1.resize(len, 0);
                u.resize(len, 0);
                ring::expand(k0, m, &mut g0, &mut scratch);
                ring::expand(k1, m, &mut g1, &mut scratch);
                let (fl, rest) = flips_left.split_at_mut(len);
                flips_left = rest;
                // The mask bit is secret: all ones if set, by arithmetic, not a branch.
                let r = u64::from(masks[j]).wrapping_neg();
                let per_run = g0
                    .chunks_exact(oc)
                    .zip(g1.chunks_exact(oc))
                    .zip(fl.chunks_exact_mut(oc).zip(u.chunks_exact_mut(oc)));
                for (&(first, tap), ((g0, g1), (fl, u))) in runs.iter().zip(per_run) {
                    let row = &taps[tap as usize * oc..][..oc];
                    let acc = self.span(&mut base, first);
                    for ((s, &w), ((&a, &b), (f, v))) in acc
                        .iter_mut()
                        .zip(row)
                        .zip(g0.iter().zip(g1).zip(fl.iter_mut().zip(u.iter_mut())))
                    {
                        let c = w << t;
                        // `r = 1`: the garbler-known part `c` joins the share and the
                        // product vector is `−c` (two's complement `(c ⊕ r) − r`), as in
                        // the module doc. Its share of `c_bit·c` is `g = −G(k0)`.
                        *s = s.wrapping_add(c & r).wrapping_sub(a);
                        let c = (c ^ r).wrapping_sub(r);
                        // Flipped, `c − g`.
                        *f = c.wrapping_add(a << 1) & mask;
                        *v = a.wrapping_sub(b).wrapping_add(c) & mask;
                    }
                }
                ring::write(channel, &u, m, &mut packed)?;
            }
        }
        Ok(Products { base, flips, m })
    }

    /// The evaluator's side of the offline products: `choices[j]` is its random choice
    /// `c` for OT `j` and `keys[j]` the key it selected. Reads the correction vectors;
    /// returns its side of the products, to be completed online by [`Products::share`].
    /// `spare` lends its buffers, as in [`Fanout::garbler_products`].
    pub fn evaluator_products<C: Channel>(
        &self,
        channel: &mut C,
        (bits, m): (u32, u32),
        keys: &[Block],
        choices: &[bool],
        spare: Products,
    ) -> Result<Products, ChannelError> {
        let Products {
            mut base,
            mut flips,
            ..
        } = spare;
        base.clear();
        base.resize(self.outputs, 0);
        flips.resize(self.entries() * bits as usize, 0);
        let (mask, oc) = (ring::mask(m), self.channels);
        let (mut g, _, mut scratch) = self.buffers(m);
        let (mut u, mut packed) = (Vec::new(), Vec::new());
        let mut flips_left = flips.as_mut_slice();
        for i in 0..self.inputs() {
            let (runs, len) = (self.of(i), self.len(i));
            for t in 0..bits as usize {
                let j = i * bits as usize + t;
                u.resize(len, 0);
                ring::read(channel, &mut u, m, &mut packed)?;
                g.resize(len, 0);
                ring::expand(keys[j], m, &mut g, &mut scratch);
                let (fl, rest) = flips_left.split_at_mut(len);
                flips_left = rest;
                let chosen = u64::from(choices[j]).wrapping_neg();
                let per_run = g
                    .chunks_exact(oc)
                    .zip(u.chunks_exact(oc))
                    .zip(fl.chunks_exact_mut(oc));
                for (&(first, _), ((g, u), fl)) in runs.iter().zip(per_run) {
                    let acc = self.span(&mut base, first);
                    for ((s, &ge), (&ue, f)) in acc.iter_mut().zip(g).zip(u.iter().zip(fl)) {
                        // Its share of `c_bit·c` is `e = G(k_c) + c_bit·u`; flipped, `−e`.
                        let e = ge.wrapping_add(ue & chosen);
                        *s = s.wrapping_add(e);
                        *f = (e << 1).wrapping_neg() & mask;
                    }
                }
            }
        }
        Ok(Products { base, flips, m })
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
#[derive(Default)]
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
        let oc = fanout.channels;
        let mut flips = self.flips.as_slice();
        let mut d = d.iter();
        for i in 0..fanout.inputs() {
            let (runs, len) = (fanout.of(i), fanout.len(i));
            for _ in 0..bits {
                let (fl, rest) = flips.split_at(len);
                flips = rest;
                // `d` is public: branching on it leaks nothing.
                if d.next() != Some(&true) {
                    continue;
                }
                for (&(first, _), fl) in runs.iter().zip(fl.chunks_exact(oc)) {
                    let acc = fanout.span(&mut share, first);
                    acc.iter_mut()
                        .zip(fl)
                        .for_each(|(s, &f)| *s = s.wrapping_add(f));
                }
            }
        }
        share.iter_mut().for_each(|v| *v &= ring::mask(self.m));
        share
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Buffer;
    use crate::crypto::Prg;
    use crate::model::ConvGeometry;

    /// Both parties' products, completed for the true choice bits, add up to the layer's
    /// accumulators on the unmasked inputs, for random weights, masks, keys and choices.
    fn products_add_up(layer: Linear, input: (usize, usize, usize), bits: u32, m: u32) {
        let mut prg = Prg::new(Block(u128::from(m) << 8 | u128::from(bits)));
        let fanout = Fanout::new(&layer, input);
        let [oc, kh, kw, ic] = layer.shape;
        let small = |prg: &mut Prg| (prg.block().0 % 41) as i64 - 20;
        let weights: Vec<i64> = (0..oc * kh * kw * ic).map(|_| small(&mut prg)).collect();
        let bias: Vec<i64> = (0..oc).map(|_| small(&mut prg)).collect();
        let ots = fanout.inputs() * bits as usize;
        let x: Vec<u64> = (0..fanout.inputs())
            .map(|_| prg.block().0 as u64 & ring::mask(bits))
            .collect();
        let x_bits: Vec<bool> = (0..ots)
            .map(|j| x[j / bits as usize] >> (j % bits as usize) & 1 == 1)
            .collect();
        let masks: Vec<bool> = (0..ots).map(|_| prg.bit()).collect();
        let choices: Vec<bool> = (0..ots).map(|_| prg.bit()).collect();
        let pairs: Vec<[Block; 2]> = (0..ots).map(|_| [prg.block(), prg.block()]).collect();
        let keys: Vec<Block> = pairs
            .iter()
            .zip(&choices)
            .map(|(p, &c)| p[usize::from(c)])
            .collect();
        let mut channel = Buffer::default();
        // Twice over the same buffers, as a session's images reuse them.
        let (mut garbler, mut evaluator) = (Products::default(), Products::default());
        for _ in 0..2 {
            garbler = fanout
                .garbler_products(
                    &mut channel,
                    (&weights, &bias),
                    (bits, m),
                    &pairs,
                    &masks,
                    garbler,
                )
                .unwrap();
            let sent = channel.unread() as u64;
            assert_eq!(sent, fanout.correction_bytes(bits, m));
            evaluator = fanout
                .evaluator_products(&mut channel, (bits, m), &keys, &choices, evaluator)
                .unwrap();
            assert_eq!(channel.unread(), 0);
            // The evaluator's choice bits are the inputs XOR the garbler's masks.
            let d: Vec<bool> = x_bits
                .iter()
                .zip(&masks)
                .zip(&choices)
                .map(|((x, r), c)| x ^ r ^ c)
                .collect();
            let g = garbler.share(&fanout, bits, &d);
            let e = evaluator.share(&fanout, bits, &d);
            let sum: Vec<u64> = g
                .iter()
                .zip(e.iter())
                .map(|(g, e)| g.wrapping_add(*e) & ring::mask(m))
                .collect();
            assert_eq!(sum, fanout.accumulate(&weights, &bias, &x, m));
        }
        assert_eq!(
            fanout.accumulate(&weights, &bias, &x, m),
            direct(&layer, input, &weights, &bias, &x, m)
        );
    }

    /// The accumulators by the definition of a convolution (or a dense layer), window by
    /// window, for inputs and accumulators in HWC order.
    fn direct(
        layer: &Linear,
        (h, w, c): (usize, usize, usize),
        weights: &[i64],
        bias: &[i64],
        x: &[u64],
        m: u32,
    ) -> Vec<u64> {
        let [oc, kh, kw, ic] = layer.shape;
        let Some(g) = &layer.conv else {
            let n = h * w * c;
            return (0..oc)
                .map(|o| {
                    let terms = (0..n).map(|i| weights[o * n + i].wrapping_mul(x[i] as i64));
                    terms.fold(bias[o], i64::wrapping_add) as u64 & ring::mask(m)
                })
                .collect();
        };
        let (oh, ow) = g.output(h, w).unwrap();
        let mut acc = Vec::new();
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..oc {
                    let mut sum = bias[o];
                    for dy in 0..kh {
                        for dx in 0..kw {
                            let y = (oy * g.stride[0] + dy).checked_sub(g.padding[0]);
                            let xx = (ox * g.stride[1] + dx).checked_sub(g.padding[1]);
                            let (Some(y), Some(xx)) = (y, xx) else {
                                continue;
                            };
                            if y >= h || xx >= w {
                                continue;
                            }
                            for ch in 0..ic {
                                let wt = weights[((o * kh + dy) * kw + dx) * ic + ch];
                                let v = x[(y * w + xx) * c + ch] as i64;
                                sum = sum.wrapping_add(wt.wrapping_mul(v));
                            }
                        }
                    }
                    acc.push(sum as u64 & ring::mask(m));
                }
            }
        }
        acc
    }

    #[test]
    fn convolution_products_add_up_to_the_accumulators() {
        let conv = |stride, padding| Linear {
            name: "conv".into(),
            shape: [3, 3, 2, 2],
            conv: Some(ConvGeometry {
                kernel: [3, 2],
                stride,
                padding,
            }),
        };
        products_add_up(conv([1, 1], [0; 4]), (5, 4, 2), 1, 8);
        products_add_up(conv([2, 1], [1, 0, 1, 1]), (5, 4, 2), 2, 13);
        products_add_up(conv([1, 2], [2, 1, 0, 1]), (6, 5, 2), 3, 64);
    }

    #[test]
    fn dense_products_add_up_to_the_accumulators() {
        let dense = Linear {
            name: "fc".into(),
            shape: [5, 1, 1, 12],
            conv: None,
        };
        products_add_up(dense, (2, 3, 2), 2, 16);
    }
}
