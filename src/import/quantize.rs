//! Post-training quantization of a [`FloatNet`] to gcnn's integer semantics: a
//! [`Model`] (see [`crate::model`] for the semantics), saved as a version-2 directory.
//!
//! Per weighted layer, as `models/train.py` does before its fine-tuning:
//!
//! * the weight step `sw` minimising the squared error of the layer's weights on the grid
//!   of its encoding (odd or two's complement, `weight_bits` bits);
//! * the accumulator unit `u = sw · x_step`, with `x_step` the real value of one unit of
//!   the layer's input (for pixels, a least-squares fit on the calibration images, see
//!   `pixel_fit`);
//! * the activation clip `c` minimising the squared error of a round-to-nearest
//!   `out_bits`-bit grid on the float network's activations over the calibration images,
//!   and the power-of-two shift `s = round(log2(c / ((2^a − 1)·u)))`, so that the next
//!   layer's input unit is `u·2^s`;
//! * the integer bias `round((b + k·Σ W) / u) + 2^(s−1)`: the float bias, the constant
//!   `k` that floors leave in the input (the fitted pixel offset, an average pooling's
//!   mean remainder) and the rounding offset that
//!   turns the floor shift into round-to-nearest; clipped to `bias_bits`.
//!
//! `bias_bits` is public (it is in `model.json`), so it is fixed by configuration, never
//! computed from the trained values: by default `default_bias_bits`, a function of the
//! architecture and the widths alone. Average pooling uses `shift = ceil(log2(kh·kw))` and folds `2^shift / (kh·kw)`
//! into the next layer's input unit.

use std::fmt;

use ndarray::{Array, Array1};

use super::{FloatLayer, FloatNet, Weighted};
use crate::model::limits::MAX_BIAS_BITS;
use crate::model::{
    ConvGeometry, Hwc, Layer, Model, Pixels, Pool2d, PoolKind, Requant, WeightEncoding,
};

/// Bit widths of one weighted layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerBits {
    /// Bits per weight.
    pub weight_bits: u32,
    /// How weights are encoded.
    pub encoding: WeightEncoding,
    /// Bits per output activation; `None` for the last layer.
    pub out_bits: Option<u32>,
}

/// Every bit width of a quantized network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Widths {
    /// Bits per input pixel, `1..=8`.
    pub input_bits: u32,
    /// One entry per weighted layer.
    pub layers: Vec<LayerBits>,
}

impl Widths {
    /// Parses `B0/W1e/A1/…/Wne` (input bits, then per weighted layer its weight bits with
    /// encoding `o`dd or `t`wos and, but for the last, its output bits), the notation of
    /// `models/train.py --config`; `B0/We/A` applies one choice to every layer.
    pub fn parse(spec: &str, weighted: usize) -> Result<Widths, String> {
        let parts: Vec<&str> = spec.split('/').collect();
        let expanded: Vec<&str> = match parts[..] {
            [b, w, a] => {
                let mut v = vec![b];
                for i in 0..weighted {
                    v.push(w);
                    if i + 1 < weighted {
                        v.push(a);
                    }
                }
                v
            }
            _ => parts,
        };
        if expanded.len() != 2 * weighted {
            return Err(format!(
                "--bits {spec}: the network has {weighted} weighted layers, so give B0/W/A (for all layers) or {} widths",
                2 * weighted
            ));
        }
        let bits = |s: &str| -> Result<u32, String> {
            s.parse::<u32>()
                .ok()
                .filter(|b| (1..=8).contains(b))
                .ok_or_else(|| format!("--bits {spec}: '{s}' is not a width in 1..=8"))
        };
        let input_bits = bits(expanded[0])?;
        let mut layers = Vec::with_capacity(weighted);
        for i in 0..weighted {
            let w = expanded[1 + 2 * i];
            let (digits, enc) = w.split_at(w.len().saturating_sub(1));
            let encoding = match enc {
                "o" => WeightEncoding::Odd,
                "t" => WeightEncoding::Twos,
                _ => {
                    return Err(format!(
                        "--bits {spec}: weight width '{w}' must end in o (odd) or t (two's complement)"
                    ));
                }
            };
            let out_bits = match expanded.get(2 + 2 * i) {
                Some(a) if i + 1 < weighted => Some(bits(a)?),
                _ => None,
            };
            layers.push(LayerBits {
                weight_bits: bits(digits)?,
                encoding,
                out_bits,
            });
        }
        Ok(Widths { input_bits, layers })
    }
}

impl fmt::Display for Widths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.input_bits)?;
        for l in &self.layers {
            let e = if l.encoding == WeightEncoding::Odd {
                'o'
            } else {
                't'
            };
            write!(f, "/{}{e}", l.weight_bits)?;
            if let Some(a) = l.out_bits {
                write!(f, "/{a}")?;
            }
        }
        Ok(())
    }
}

/// The smallest two's-complement width holding `-m..=m`.
fn signed_width(m: i128) -> u32 {
    (1..127).find(|&k| m < 1i128 << (k - 1)).unwrap_or(127)
}

/// The public bias width for a layer whose product sums lie in `±max_product`: the widest
/// bias that leaves the accumulator as narrow as the products alone need (bytes grow with
/// the accumulator width), but at least an eighth of the product range (the accumulator
/// then grows by at most one bit). A function of the architecture and widths only.
fn default_bias_bits(max_product: i128) -> u32 {
    let w = signed_width(max_product);
    let headroom = (1i128 << (w - 1)) - 1 - max_product;
    let free = (2..=MAX_BIAS_BITS)
        .rev()
        .find(|&b| 1i128 << (b - 1) <= headroom)
        .unwrap_or(2);
    free.max(w.saturating_sub(3)).clamp(2, MAX_BIAS_BITS)
}

/// Nearest representable integer weight.
fn quantize_weight(v: f64, encoding: WeightEncoding, bits: u32) -> i64 {
    let (lo, hi) = encoding.range(bits);
    let q = match encoding {
        WeightEncoding::Odd => 2.0 * (v / 2.0).floor() + 1.0,
        WeightEncoding::Twos => v.round(),
    };
    (q as i64).clamp(lo, hi)
}

/// The step minimising `Σ (step·q(w/step) − w)²` over a grid of 119 candidates.
fn weight_step(w: &[f64], encoding: WeightEncoding, bits: u32) -> f64 {
    let (_, hi) = encoding.range(bits);
    let wmax = w
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    let mut best = (f64::INFINITY, wmax / hi as f64);
    for k in 0..119 {
        let step = (0.02 + 0.01 * k as f64) * wmax / hi.max(1) as f64;
        let err: f64 = w
            .iter()
            .map(|&v| (quantize_weight(v / step, encoding, bits) as f64 * step - v).powi(2))
            .sum();
        if err < best.0 {
            best = (err, step);
        }
    }
    best.1
}

/// The clip minimising the squared error of an unsigned `bits`-bit round-to-nearest grid.
fn best_clip(acts: &[f64], bits: u32) -> f64 {
    let top = acts.iter().fold(0.0f64, |m, &v| m.max(v));
    let levels = ((1u64 << bits) - 1) as f64;
    let mut best = (f64::INFINITY, top);
    for k in 1..=99 {
        let clip = 0.01 * f64::from(k) * top;
        let delta = clip / levels;
        let err: f64 = acts
            .iter()
            .map(|&a| ((a / delta + 0.5).floor().clamp(0.0, levels) * delta - a).powi(2))
            .sum();
        if err < best.0 {
            best = (err, clip);
        }
    }
    best.1.max(f64::MIN_POSITIVE)
}

/// At most this many activation values per layer go into the clip search.
const CLIP_SAMPLES: usize = 400_000;

/// The float activations after each weighted layer but the last (post-ReLU), over the
/// calibration images, evenly subsampled to at most [`CLIP_SAMPLES`] values per layer.
fn calibration_activations(net: &FloatNet, images: &[Pixels]) -> Vec<Vec<f64>> {
    let weighted: Vec<usize> = (0..net.layers.len())
        .filter(|&i| net.layers[i].weighted().is_some())
        .collect();
    let mut out = vec![Vec::new(); weighted.len().saturating_sub(1)];
    for image in images {
        let trace = net.trace(image.view().data());
        for (k, &i) in weighted.iter().take(out.len()).enumerate() {
            let per_image = trace[i].data.len();
            let stride = (per_image * images.len()).div_ceil(CLIP_SAMPLES).max(1);
            out[k].extend(trace[i].data.iter().step_by(stride));
        }
    }
    out
}

/// The least-squares fit `p ≈ a·q + c` of the calibration pixels `p` by their quantized
/// values `q = p >> (8 − bits)`. MNIST pixels sit mostly at 0 and near 255, far from the
/// middle of their bucket, so the fit is much closer than the bucket's midpoint; if every
/// pixel falls in one bucket, the midpoint map `a = 2^(8−bits)`, `c = (a − 1)/2` is used.
fn pixel_fit(images: &[Pixels], bits: u32) -> (f64, f64) {
    let shift = 8 - bits;
    let (mut n, mut sq, mut sp, mut sqq, mut sqp) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &p in images.iter().flat_map(|i| i.view().data()) {
        let q = f64::from(p >> shift);
        let p = f64::from(p);
        n += 1.0;
        sq += q;
        sp += p;
        sqq += q * q;
        sqp += q * p;
    }
    let var = n * sqq - sq * sq;
    if n == 0.0 || var <= 0.0 {
        let a = f64::from(1u32 << shift);
        return (a, (a - 1.0) / 2.0);
    }
    let a = (n * sqp - sq * sp) / var;
    (a, (sp - a * sq) / n)
}

/// Images the shift refinement scores each candidate on (the first ones).
const REFINE_IMAGES: usize = 1000;

/// Quantizes `net` to `widths`, calibrating on `images` with their `labels`.
/// `bias_bits`: one public width for every bias, or `None` for each layer's product-sum
/// width. Returns the model and how many biases were clipped to their width.
///
/// The shifts start at the calibrated clips; then, as `models/train.py` does, each is
/// tried one lower and one higher (later layers re-derived), keeping whichever gives the
/// integer model the lowest cross-entropy on the calibration images.
pub fn quantize(
    net: &FloatNet,
    widths: &Widths,
    images: &[Pixels],
    labels: &[usize],
    bias_bits: Option<u32>,
) -> (Model, usize) {
    let acts = calibration_activations(net, images);
    let fit = pixel_fit(images, widths.input_bits);
    let n = REFINE_IMAGES.min(images.len());
    let score = |forced: &[Option<u32>]| {
        let built = build(net, widths, &acts, fit, bias_bits, forced);
        let loss = cross_entropy(&built.model, built.logit_unit, &images[..n], &labels[..n]);
        (loss, built)
    };
    let requantized = widths.layers.len() - 1;
    let (mut best_loss, mut best) = score(&vec![None; requantized]);
    for k in 0..requantized {
        let natural = best.shifts[k];
        for s in [natural.checked_sub(1), Some(natural + 1)]
            .into_iter()
            .flatten()
        {
            let trial: Vec<Option<u32>> = (0..requantized)
                .map(|j| match j.cmp(&k) {
                    std::cmp::Ordering::Less => Some(best.shifts[j]),
                    std::cmp::Ordering::Equal => Some(s),
                    std::cmp::Ordering::Greater => None,
                })
                .collect();
            let (loss, built) = score(&trial);
            if loss < best_loss {
                (best_loss, best) = (loss, built);
            }
        }
    }
    (best.model, best.clipped)
}

/// Mean cross-entropy of the integer model's logits (times their real unit) on `images`,
/// on two threads.
fn cross_entropy(model: &Model, unit: f64, images: &[Pixels], labels: &[usize]) -> f64 {
    let half = images.len().div_ceil(2).max(1);
    let total: f64 = std::thread::scope(|s| {
        let parts: Vec<_> = images
            .chunks(half)
            .zip(labels.chunks(half))
            .map(|(imgs, labs)| {
                s.spawn(move || {
                    imgs.iter()
                        .zip(labs)
                        .map(|(image, &label)| {
                            let z: Vec<f64> = model
                                .logits(image)
                                .iter()
                                .map(|&v| v as f64 * unit)
                                .collect();
                            let m = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                            let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                            lse - z.get(label).copied().unwrap_or(m)
                        })
                        .sum::<f64>()
                })
            })
            .collect();
        parts
            .into_iter()
            .map(|h| h.join().expect("loss thread"))
            .sum()
    });
    total / images.len().max(1) as f64
}

/// A quantized model with what the refinement needs to know about it.
struct Built {
    model: Model,
    clipped: usize,
    /// The requantization shifts, in layer order.
    shifts: Vec<u32>,
    /// Real value of one unit of the logits.
    logit_unit: f64,
}

/// Quantizes with the shifts in `forced` where given, calibrated ones elsewhere.
fn build(
    net: &FloatNet,
    widths: &Widths,
    acts: &[Vec<f64>],
    (a, c): (f64, f64),
    bias_bits: Option<u32>,
    forced: &[Option<u32>],
) -> Built {
    let mut x = InputUnit {
        step: net.pixel_scale * a,
        offset: net.pixel_scale * c + net.pixel_offset,
        bits: widths.input_bits,
    };
    let mut layers = Vec::with_capacity(net.layers.len());
    let mut clipped = 0;
    let mut shifts = Vec::new();
    let mut logit_unit = 1.0;
    let mut k = 0;
    for layer in &net.layers {
        let name = layer.name().to_string();
        match layer {
            FloatLayer::Conv {
                layer: w,
                stride,
                padding,
            } => {
                let (q, c, next) = quantize_layer(
                    w,
                    widths.layers[k],
                    x,
                    acts.get(k),
                    forced.get(k).copied().flatten(),
                    bias_bits,
                );
                let [o, kh, kw, i] = w.shape[..] else {
                    unreachable!("convolution weights are 4-D")
                };
                let weights =
                    Array::from_shape_vec((o, kh, kw, i), q.0).expect("shape of the float weights");
                let geometry = ConvGeometry {
                    kernel: [kh, kw],
                    stride: *stride,
                    padding: *padding,
                };
                shifts.extend(q.1.shift);
                layers.push(Layer::Conv2d(q.1.with(name, weights), geometry));
                clipped += c;
                logit_unit = q.2;
                x = next.unwrap_or(x);
                k += 1;
            }
            FloatLayer::Dense { layer: w } => {
                let (q, c, next) = quantize_layer(
                    w,
                    widths.layers[k],
                    x,
                    acts.get(k),
                    forced.get(k).copied().flatten(),
                    bias_bits,
                );
                let weights = Array::from_shape_vec((w.shape[0], w.shape[1]), q.0)
                    .expect("shape of the float weights");
                shifts.extend(q.1.shift);
                layers.push(Layer::Dense(q.1.with(name, weights)));
                clipped += c;
                logit_unit = q.2;
                x = next.unwrap_or(x);
                k += 1;
            }
            FloatLayer::Pool {
                max, size, stride, ..
            } => {
                let kind = if *max {
                    PoolKind::Max
                } else {
                    let window = (size[0] * size[1]) as f64;
                    let shift = window.log2().ceil() as u32;
                    x.step *= f64::from(1u32 << shift) / window;
                    x.offset += x.step * (1.0 - 1.0 / f64::from(1u32 << shift)) / 2.0;
                    PoolKind::Avg { shift }
                };
                layers.push(Layer::Pool2d(Pool2d {
                    name,
                    kind,
                    size: *size,
                    stride: *stride,
                }));
            }
            FloatLayer::Flatten { .. } => layers.push(Layer::Flatten { name }),
        }
    }
    let [height, width, channels] = net.input;
    let model = Model {
        input: Hwc {
            height,
            width,
            channels,
        },
        input_bits: widths.input_bits,
        layers,
    };
    Built {
        model,
        clipped,
        shifts,
        logit_unit,
    }
}

/// What one unit of a layer's input means: `real ≈ step · q + offset`, `q` of `bits` bits.
#[derive(Clone, Copy, Debug)]
struct InputUnit {
    step: f64,
    offset: f64,
    bits: u32,
}

/// A weighted layer's integer values before it gets its name and weight shape.
struct Parts {
    bias: Vec<i64>,
    bits: LayerBits,
    bias_bits: u32,
    shift: Option<u32>,
}

impl Parts {
    fn with<D: ndarray::Dimension>(
        self,
        name: String,
        weights: Array<i64, D>,
    ) -> crate::model::Weighted<D> {
        crate::model::Weighted {
            name,
            weights,
            bias: Array1::from(self.bias),
            weight_bits: self.bits.weight_bits,
            encoding: self.bits.encoding,
            bias_bits: self.bias_bits,
            acc_bits: None,
            requant: self
                .shift
                .zip(self.bits.out_bits)
                .map(|(shift, out_bits)| Requant { shift, out_bits }),
        }
    }
}

/// One weighted layer: its integer weights and other values, how many biases were
/// clipped, and the unit of its output (`None` for the last layer).
fn quantize_layer(
    w: &Weighted,
    bits: LayerBits,
    x: InputUnit,
    acts: Option<&Vec<f64>>,
    forced_shift: Option<u32>,
    bias_bits: Option<u32>,
) -> ((Vec<i64>, Parts, f64), usize, Option<InputUnit>) {
    let sw = weight_step(&w.weights, bits.encoding, bits.weight_bits);
    let weights: Vec<i64> = w
        .weights
        .iter()
        .map(|&v| quantize_weight(v / sw, bits.encoding, bits.weight_bits))
        .collect();
    let unit = sw * x.step;
    let terms = weights.len() / w.outputs();
    let (lo, hi) = bits.encoding.range(bits.weight_bits);
    let max_product = terms as i128 * ((1i128 << x.bits) - 1) * i128::from(lo.abs().max(hi));
    let bias_bits = bias_bits
        .unwrap_or_else(|| default_bias_bits(max_product))
        .clamp(2, MAX_BIAS_BITS);
    let shift = match (acts, bits.out_bits) {
        (_, Some(_)) if forced_shift.is_some() => forced_shift,
        (Some(acts), Some(a)) => {
            let clip = best_clip(acts, a);
            let levels = ((1u64 << a) - 1) as f64;
            Some((clip / (levels * unit)).log2().round().clamp(0.0, 62.0) as u32)
        }
        _ => None,
    };
    let rounding = shift.map_or(0, |s| if s > 0 { 1i64 << (s - 1) } else { 0 });
    let (bmin, bmax) = (-(1i64 << (bias_bits - 1)), (1i64 << (bias_bits - 1)) - 1);
    let mut clipped = 0;
    let bias = w
        .bias
        .iter()
        .enumerate()
        .map(|(o, &b)| {
            let sum_w: i64 = weights[o * terms..(o + 1) * terms].iter().sum();
            let real = (b + x.offset * sw * sum_w as f64) / unit;
            let v = (real.round().clamp(-9.0e15, 9.0e15) as i64).saturating_add(rounding);
            clipped += usize::from(!(bmin..=bmax).contains(&v));
            v.clamp(bmin, bmax)
        })
        .collect();
    let next = shift.zip(bits.out_bits).map(|(s, a)| InputUnit {
        step: unit * 2f64.powi(s as i32),
        offset: 0.0,
        bits: a,
    });
    let parts = Parts {
        bias,
        bits,
        bias_bits,
        shift,
    };
    ((weights, parts, unit), clipped, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_parse_the_full_and_the_uniform_form() {
        let full = Widths::parse("2/3o/4/5t", 2).unwrap();
        assert_eq!(full.to_string(), "2/3o/4/5t");
        assert_eq!(full.layers[0].out_bits, Some(4));
        assert_eq!(full.layers[1].out_bits, None);
        assert_eq!(
            Widths::parse("1/3o/3", 3).unwrap().to_string(),
            "1/3o/3/3o/3/3o"
        );
        assert_eq!(Widths::parse("8/4t/2", 1).unwrap().to_string(), "8/4t");
        for bad in ["2/3o/4/3o", "9/3o/3", "2/3x/3", "2/0o/3", "a/3o/3"] {
            assert!(Widths::parse(bad, 4).is_err(), "{bad}");
        }
    }

    #[test]
    fn quantized_weights_are_valid_and_nearest() {
        for encoding in [WeightEncoding::Odd, WeightEncoding::Twos] {
            for bits in 1..=8 {
                for tenth in -3000..=3000 {
                    let v = f64::from(tenth) / 10.0;
                    let q = quantize_weight(v, encoding, bits);
                    assert!(encoding.contains(bits, q), "{v} → {q}");
                    // No representable value is strictly closer.
                    let (lo, hi) = encoding.range(bits);
                    let best = (lo..=hi)
                        .filter(|&c| encoding.contains(bits, c))
                        .map(|c| (c as f64 - v).abs())
                        .fold(f64::INFINITY, f64::min);
                    assert!((q as f64 - v).abs() <= best + 1e-9, "{v} → {q}");
                }
            }
        }
    }

    #[test]
    fn the_pixel_fit_is_exact_on_two_levels_and_the_midpoint_without_data() {
        let shape = Hwc {
            height: 1,
            width: 4,
            channels: 1,
        };
        let image = Pixels::new(shape, vec![0, 0, 250, 250]).unwrap();
        let (a, c) = pixel_fit(&[image], 1);
        assert!((a - 250.0).abs() < 1e-9 && c.abs() < 1e-9, "{a} {c}");
        assert_eq!(pixel_fit(&[], 2), (64.0, 31.5));
    }

    #[test]
    fn default_bias_widths_do_not_widen_the_accumulator() {
        assert_eq!((signed_width(63), signed_width(64)), (7, 8));
        for max_product in 1..5000i128 {
            let b = default_bias_bits(max_product);
            let w = signed_width(max_product);
            let with_bias = signed_width(max_product + (1i128 << (b - 1)));
            assert!(with_bias <= w + 1, "{max_product}: {b}");
            assert!(b >= w.saturating_sub(3).max(2), "{max_product}: {b}");
            if with_bias > w {
                assert_eq!(b, w.saturating_sub(3).max(2), "{max_product}");
            }
        }
        // LeNet's conv1 at 4-bit pixels and 4-bit odd weights: |Σ| ≤ 25·15·15 = 5625.
        assert_eq!((signed_width(5625), default_bias_bits(5625)), (14, 12));
    }
}
