//! Lowering a quantized sequential CNN to one circuit (the whole network, weights as
//! garbler inputs).
//!
//! The circuit is a function of the model's [`Arch`] only — shapes, bit widths, encodings
//! and shifts — so two models that differ only in weight values compile to the same
//! file. The values enter as garbler input bits ([`encode_model`]) and the pixels as
//! evaluator input bits ([`encode_image`]).
//!
//! Input groups: 0 = the evaluator's pixels (H·W·C × `input_bits`, HWC order, each LSB
//! first); then, per weighted layer, its weights (tensor order, `weight_bits` each) and
//! its biases (one accumulator-wide two's-complement word per output channel), both the
//! garbler's. The single output group is the arg-max class, `⌈log2 classes⌉` bits.
//!
//! A weighted layer is one carry-save [`Accumulator`] per output: for
//! [`WeightEncoding::Odd`] weights `w = Σ_j 2^j (1 − 2 n_j)`, so
//! `w·x = Σ_j 2^j (x ⊕ n_j…n_j) − (2^a − 1) Σ_j 2^j n_j`: each bit-plane term is a free
//! XOR of the activation with the garbler's sign bit, and the second sum is garbler-known,
//! folded into the bias input by [`encode_model`]. A zero-padding position enters as the
//! constant 0 word, so that identity (and the fold) holds at every position.
//! [`WeightEncoding::Twos`] weights use garbler half gates for the partial products
//! ([`arith::mul_known_into`]).

use super::arith::{self, Accumulator, Word};
use super::builder::{Bit, Builder};
use crate::circuit::{Circuit, InputGroup, Owner};
use crate::model::{
    ConvGeometry, Hwc, Layer, Model, PixelView, Pool2d, PoolKind, Requant, WeightEncoding,
};

/// A weighted layer's public description.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WeightedArch {
    /// Layer name, used for sections.
    pub name: String,
    /// `(out_c, kh, kw, in_c)` for a convolution, `(out, 1, 1, in)` for dense.
    pub shape: [usize; 4],
    /// A convolution's windows; `None` for a dense layer.
    pub conv: Option<ConvGeometry>,
    /// Bits per weight.
    pub weight_bits: u32,
    /// Weight encoding.
    pub encoding: WeightEncoding,
    /// Bias width in the model.
    pub bias_bits: u32,
    /// Configured accumulator width ([`crate::model::accumulators`]), `None` for the
    /// worst case of the widths.
    pub acc_bits: Option<u32>,
    /// Requantization, `None` for the logits layer.
    pub requant: Option<Requant>,
}

/// One layer's public description.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArchLayer {
    /// Convolution or dense layer.
    Weighted(WeightedArch),
    /// Max or average pooling.
    Pool(Pool2d),
    /// Flatten (free: HWC order is already the flat order).
    Flatten,
}

/// Everything public about a model: the circuit is a function of this alone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Arch {
    /// Shape of the input image.
    pub input: Hwc,
    /// Bits per input pixel.
    pub input_bits: u32,
    /// The layers.
    pub layers: Vec<ArchLayer>,
}

fn weighted_arch<D: ndarray::Dimension>(
    l: &crate::model::Weighted<D>,
    shape: [usize; 4],
    conv: Option<ConvGeometry>,
) -> ArchLayer {
    ArchLayer::Weighted(WeightedArch {
        name: l.name.clone(),
        shape,
        conv,
        weight_bits: l.weight_bits,
        encoding: l.encoding,
        bias_bits: l.bias_bits,
        acc_bits: l.acc_bits,
        requant: l.requant,
    })
}

impl Arch {
    /// The architecture of `model`, without its values.
    pub fn of(model: &Model) -> Arch {
        let layers = model
            .layers
            .iter()
            .map(|layer| match layer {
                Layer::Conv2d(l, g) => {
                    let s = l.weights.shape();
                    weighted_arch(l, [s[0], s[1], s[2], s[3]], Some(*g))
                }
                Layer::Dense(l) => {
                    let s = l.weights.shape();
                    weighted_arch(l, [s[0], 1, 1, s[1]], None)
                }
                Layer::Pool2d(p) => ArchLayer::Pool(p.clone()),
                Layer::Flatten { .. } => ArchLayer::Flatten,
            })
            .collect();
        Arch {
            input: model.input,
            input_bits: model.input_bits,
            layers,
        }
    }

    /// The input shape as a tuple `(h, w, c)`.
    pub(super) fn input_shape(&self) -> (usize, usize, usize) {
        (self.input.height, self.input.width, self.input.channels)
    }

    /// Shapes and widths of every layer, in order.
    pub(super) fn plan(&self) -> Vec<LayerPlan> {
        let mut shape = self.input_shape();
        let mut bits = self.input_bits;
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let input = shape;
            let in_bits = bits;
            let mut acc_bits = 0;
            match layer {
                ArchLayer::Weighted(w) => {
                    shape = output_shape(w, input);
                    let (lo, hi) = acc_range(w, in_bits, w.terms());
                    acc_bits = w.acc_bits.unwrap_or_else(|| signed_width(lo, hi));
                    bits = w.requant.map_or(acc_bits, |r| r.out_bits);
                }
                ArchLayer::Pool(p) => shape = pool_shape(p, input),
                ArchLayer::Flatten => shape = (1, 1, input.0 * input.1 * input.2),
            }
            out.push(LayerPlan {
                input,
                in_bits,
                acc_bits,
            });
        }
        out
    }
}

impl WeightedArch {
    /// Terms per output: `kh·kw·in_c`.
    pub fn terms(&self) -> usize {
        self.shape[1] * self.shape[2] * self.shape[3]
    }

    /// Output channels (conv) or features (dense); each has one bias.
    pub fn outputs_per_position(&self) -> usize {
        self.shape[0]
    }
}

/// Input shape `(h, w, c)`, input bits and accumulator width of one layer.
#[derive(Clone, Copy, Debug)]
pub(super) struct LayerPlan {
    pub(super) input: (usize, usize, usize),
    pub(super) in_bits: u32,
    pub(super) acc_bits: u32,
}

/// Range of a weighted layer's accumulator over all inputs and all weights.
pub(super) fn acc_range(w: &WeightedArch, in_bits: u32, terms: usize) -> (i128, i128) {
    let xmax = (1i128 << in_bits) - 1;
    let n = terms as i128;
    let bias = (
        -(1i128 << (w.bias_bits - 1)),
        (1i128 << (w.bias_bits - 1)) - 1,
    );
    // Inputs are in 0..=xmax and the weight range straddles 0, so the extremes pair the
    // lowest (highest) weight with the largest input in every term.
    let (lo, hi) = w.encoding.range(w.weight_bits);
    let (lo, hi) = (i128::from(lo), i128::from(hi));
    (bias.0 + n * xmax * lo, bias.1 + n * xmax * hi)
}

/// The smallest two's-complement width holding `lo..=hi`.
pub(super) fn signed_width(lo: i128, hi: i128) -> u32 {
    (1..127)
        .find(|&k| -(1i128 << (k - 1)) <= lo && hi < 1i128 << (k - 1))
        .unwrap_or(127)
}

/// An HWC tensor of words.
pub(super) struct Tensor {
    pub(super) shape: (usize, usize, usize),
    pub(super) data: Vec<Word>,
}

impl Tensor {
    fn at(&self, y: usize, x: usize, c: usize) -> &Word {
        &self.data[(y * self.shape.1 + x) * self.shape.2 + c]
    }
}

/// The input groups of `arch`'s circuit, in order.
fn input_groups(arch: &Arch, plans: &[LayerPlan]) -> Vec<InputGroup> {
    let mut groups = vec![InputGroup {
        owner: Owner::Evaluator,
        width: arch.input.len() as u32 * arch.input_bits,
    }];
    for (layer, plan) in arch.layers.iter().zip(plans) {
        if let ArchLayer::Weighted(w) = layer {
            let weights = w.shape.iter().product::<usize>() as u32 * w.weight_bits;
            let biases = w.outputs_per_position() as u32 * plan.acc_bits;
            groups.push(InputGroup {
                owner: Owner::Garbler,
                width: weights,
            });
            groups.push(InputGroup {
                owner: Owner::Garbler,
                width: biases,
            });
        }
    }
    groups
}

/// Lowers one weighted layer.
fn lower_weighted(
    b: &mut Builder,
    w: &WeightedArch,
    plan: &LayerPlan,
    input: &Tensor,
    weights: &[Bit],
    biases: &[Bit],
) -> Tensor {
    let [out_c, _, kw, _] = w.shape;
    let (ih, iw, ic) = plan.input;
    let (oh, ow, _) = output_shape(w, plan.input);
    let terms = w.terms();
    let wb = w.weight_bits as usize;
    let k = plan.acc_bits as usize;
    let zero = arith::constant(0, plan.in_bits as usize);
    let mut data = Vec::with_capacity(oh * ow * out_c);
    for y in 0..oh {
        for x in 0..ow {
            for o in 0..out_c {
                let mut acc = Accumulator::new(k);
                for t in 0..terms {
                    let xw = match &w.conv {
                        Some(g) => {
                            let (dy, dx, c) = (t / (kw * ic), t / ic % kw, t % ic);
                            match g.source((ih, iw), (y, x), (dy, dx)) {
                                Some((row, col)) => input.at(row, col, c),
                                None => &zero,
                            }
                        }
                        None => &input.data[t],
                    };
                    let wbits = &weights[(o * terms + t) * wb..(o * terms + t + 1) * wb];
                    match w.encoding {
                        WeightEncoding::Odd => {
                            for (j, &n) in wbits.iter().enumerate() {
                                let term: Word = xw.iter().map(|&xb| b.xor(xb, n)).collect();
                                acc.add_unsigned(&term, j);
                            }
                        }
                        WeightEncoding::Twos => arith::mul_known_into(b, &mut acc, xw, wbits),
                    }
                }
                acc.add_signed(b, &biases[o * k..(o + 1) * k], 0);
                let v = acc.finish(b);
                data.push(requantize(b, v, w.requant));
            }
        }
    }
    Tensor {
        shape: (oh, ow, out_c),
        data,
    }
}

/// `clamp(v >> shift, 0, 2^out_bits − 1)`, or `v` itself for the logits layer.
pub(super) fn requantize(b: &mut Builder, v: Word, requant: Option<Requant>) -> Word {
    match requant {
        Some(r) => {
            let t = arith::shift_right(&v, r.shift as usize);
            arith::clamp_unsigned(b, &t, r.out_bits as usize)
        }
        None => v,
    }
}

/// The output shape `(h, w, c)` of a weighted layer on an input of shape `input`.
pub fn output_shape(w: &WeightedArch, input: (usize, usize, usize)) -> (usize, usize, usize) {
    let o = w.shape[0];
    match &w.conv {
        Some(g) => {
            let (h, w) = g
                .output(input.0, input.1)
                .expect("the model loader checked that the kernel fits");
            (h, w, o)
        }
        None => (1, 1, o),
    }
}

/// The output shape `(h, w, c)` of a pooling layer on an input of shape `input`.
pub(super) fn pool_shape(p: &Pool2d, input: (usize, usize, usize)) -> (usize, usize, usize) {
    let (h, w) = p
        .geometry()
        .output(input.0, input.1)
        .expect("the model loader checked that the window fits");
    (h, w, input.2)
}

/// Max or average pooling of `bits`-bit unsigned activations. A max costs a comparison
/// and a mux per window element (one OR for 1-bit values); an average is a carry-save
/// sum, a free shift and a saturation to `bits` bits.
pub(super) fn lower_pool(b: &mut Builder, input: &Tensor, pool: &Pool2d, bits: u32) -> Tensor {
    let (_, _, c) = input.shape;
    let shape = pool_shape(pool, input.shape);
    let [kh, kw] = pool.size;
    let [sh, sw] = pool.stride;
    // Sum of a window: at most kh·kw·(2^bits − 1), plus a zero sign bit.
    let sum_bits = signed_width(0, (kh * kw) as i128 * ((1i128 << bits) - 1)) as usize;
    let mut data = Vec::with_capacity(shape.0 * shape.1 * c);
    for y in 0..shape.0 {
        for x in 0..shape.1 {
            for ch in 0..c {
                let window = (0..kh * kw).map(|d| input.at(y * sh + d / kw, x * sw + d % kw, ch));
                data.push(match pool.kind {
                    PoolKind::Max => window
                        .cloned()
                        .reduce(|best, v| arith::max(b, &best, &v, false))
                        .expect("windows are not empty"),
                    PoolKind::Avg { shift } => {
                        let mut acc = Accumulator::new(sum_bits);
                        for v in window {
                            acc.add_unsigned(v, 0);
                        }
                        let sum = acc.finish(b);
                        let t = arith::shift_right(&sum, shift as usize);
                        arith::clamp_unsigned(b, &t, bits as usize)
                    }
                });
            }
        }
    }
    Tensor { shape, data }
}

/// Compiles `arch`. The only output is the class (`⌈log2 classes⌉` bits); with `trace`, every layer's
/// activations follow as further output groups (one per value), for layer-by-layer
/// checks against [`Model::trace`].
pub fn compile(arch: &Arch, trace: bool) -> Circuit {
    let plans = arch.plan();
    let (mut b, inputs) = Builder::new(input_groups(arch, &plans));
    let pixels = &inputs[0];
    let bits = arch.input_bits as usize;
    let mut act = Tensor {
        shape: arch.input_shape(),
        data: pixels.chunks(bits).map(<[Bit]>::to_vec).collect(),
    };
    let mut traced = Vec::new();
    let mut garbler_groups = inputs[1..].iter();
    for (layer, plan) in arch.layers.iter().zip(&plans) {
        act = match layer {
            ArchLayer::Weighted(w) => {
                b.section(&w.name);
                let (weights, biases) = (garbler_groups.next(), garbler_groups.next());
                let (Some(weights), Some(biases)) = (weights, biases) else {
                    unreachable!("input_groups declares two groups per weighted layer")
                };
                lower_weighted(&mut b, w, plan, &act, weights, biases)
            }
            ArchLayer::Pool(p) => {
                b.section(&p.name);
                lower_pool(&mut b, &act, p, plan.in_bits)
            }
            ArchLayer::Flatten => Tensor {
                shape: (1, 1, act.data.len()),
                data: act.data,
            },
        };
        if trace {
            traced.extend(act.data.iter().cloned());
        }
    }
    b.section("argmax");
    let class = arith::argmax(&mut b, &act.data, true);
    let mut outputs = vec![class];
    outputs.extend(traced);
    b.finish(outputs)
}

/// The garbler's input bits for `model`, in the circuit's group order.
pub fn encode_model(model: &Model) -> Vec<bool> {
    let arch = Arch::of(model);
    let plans = arch.plan();
    let mut bits = Vec::new();
    let weighted = model.layers.iter().filter_map(Layer::weights_and_bias);
    let arch_weighted = arch.layers.iter().zip(&plans).filter_map(|(l, p)| match l {
        ArchLayer::Weighted(w) => Some((w, p)),
        _ => None,
    });
    for ((values, bias), (w, plan)) in weighted.zip(arch_weighted) {
        let wb = w.weight_bits;
        let terms = w.terms();
        let xmax = (1i128 << plan.in_bits) - 1;
        let mut correction = vec![0i128; w.outputs_per_position()];
        for (i, &v) in values.iter().enumerate() {
            let word = match w.encoding {
                // n_j = 1 − u_j with u = (w + 2^W − 1) / 2, so w = Σ_j 2^j (1 − 2 n_j).
                WeightEncoding::Odd => {
                    let u = (i128::from(v) + (1 << wb) - 1) / 2;
                    let n = ((1i128 << wb) - 1) ^ u;
                    correction[i / terms] += xmax * n;
                    n
                }
                WeightEncoding::Twos => i128::from(v),
            };
            bits.extend((0..wb).map(|j| word >> j & 1 == 1));
        }
        for (o, &beta) in bias.iter().enumerate() {
            let folded = i128::from(beta) - correction[o];
            bits.extend((0..plan.acc_bits).map(|j| folded >> j & 1 == 1));
        }
    }
    bits
}

/// The evaluator's input bits for `pixels`: each pixel `p >> (8 − input_bits)`, LSB
/// first, HWC order.
pub fn encode_image<'a>(input_bits: u32, pixels: impl Into<PixelView<'a>>) -> Vec<bool> {
    let shift = 8 - input_bits;
    pixels
        .into()
        .data()
        .iter()
        .flat_map(|&p| (0..input_bits).map(move |j| (p >> shift) >> j & 1 == 1))
        .collect()
}
