//! Post-training quantization of a [`FloatNet`] to gcnn's integer semantics (see
//! [`crate::model`]), written as a version-2 model directory.
//!
//! Per weighted layer, as `models/train.py` does before its fine-tuning:
//!
//! * the weight step `sw` minimising the squared error of the layer's weights on the grid
//!   of its encoding (odd or two's complement, `weight_bits` bits);
//! * the accumulator unit `u = sw · x_step`, with `x_step` the real value of one unit of
//!   the layer's input (for pixels, a least-squares fit on the calibration images, see
//!   [`pixel_fit`]);
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
//! computed from the trained values: by default the two's-complement width of the
//! layer's largest possible product sum, a function of the architecture and the widths
//! alone. Average pooling uses `shift = ceil(log2(kh·kw))` and folds `2^shift / (kh·kw)`
//! into the next layer's input unit.

use std::fmt;
use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::{FloatLayer, FloatNet, Weighted};
use crate::model::WeightEncoding;

/// Widest bias the model format accepts.
pub const MAX_BIAS_BITS: u32 = 24;

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
            [b, w, a] if weighted != 2 => {
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

/// A quantized weighted layer.
#[derive(Clone, Debug, PartialEq)]
struct QuantLayer {
    weights: Vec<i64>,
    bias: Vec<i64>,
    bias_bits: u32,
    shift: Option<u32>,
}

/// The result of quantization: everything `model.json` and the tensors hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    widths: Widths,
    /// Per float layer: its quantized form if weighted, the pooling shift if average.
    layers: Vec<(Option<QuantLayer>, Option<u32>)>,
    /// Biases that did not fit `bias_bits` and were clipped, over all layers.
    pub clipped_biases: usize,
}

/// The smallest two's-complement width holding `-m..=m`.
fn signed_width(m: i128) -> u32 {
    (1..127).find(|&k| m < 1i128 << (k - 1)).unwrap_or(127)
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
fn calibration_activations(net: &FloatNet, images: &[&[u8]]) -> Vec<Vec<f64>> {
    let weighted: Vec<usize> = (0..net.layers.len())
        .filter(|&i| net.layers[i].weighted().is_some())
        .collect();
    let mut out = vec![Vec::new(); weighted.len().saturating_sub(1)];
    for image in images {
        let trace = net.trace(image);
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
fn pixel_fit(images: &[&[u8]], bits: u32) -> (f64, f64) {
    let shift = 8 - bits;
    let (mut n, mut sq, mut sp, mut sqq, mut sqp) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &p in images.iter().flat_map(|i| i.iter()) {
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

/// Quantizes `net` to `widths`, calibrating clips on `images` (8-bit pixels, HWC).
/// `bias_bits`: one public width for every bias, or `None` for each layer's product-sum
/// width.
pub fn quantize(
    net: &FloatNet,
    widths: &Widths,
    images: &[&[u8]],
    bias_bits: Option<u32>,
) -> Quantized {
    let acts = calibration_activations(net, images);
    // Real value of one input unit, and the constant the input floor leaves out.
    let (a, c) = pixel_fit(images, widths.input_bits);
    let mut x_step = net.pixel_scale * a;
    let mut x_offset = net.pixel_scale * c + net.pixel_offset;
    let mut x_bits = widths.input_bits;
    let mut layers = Vec::with_capacity(net.layers.len());
    let mut clipped = 0;
    let mut k = 0;
    for layer in &net.layers {
        match layer {
            FloatLayer::Conv { layer: w, .. } | FloatLayer::Dense { layer: w } => {
                let bits = widths.layers[k];
                let (q, out_step) =
                    quantize_layer(w, bits, x_step, x_offset, x_bits, acts.get(k), bias_bits);
                clipped += q.1;
                layers.push((Some(q.0), None));
                if let (Some(step), Some(a)) = (out_step, bits.out_bits) {
                    x_step = step;
                    x_offset = 0.0;
                    x_bits = a;
                }
                k += 1;
            }
            FloatLayer::AvgPool { size, .. } => {
                let window = (size[0] * size[1]) as f64;
                let t = window.log2().ceil() as u32;
                let scale = f64::from(1u32 << t) / window;
                let remainder = (1.0 - 1.0 / f64::from(1u32 << t)) / 2.0;
                x_step *= scale;
                x_offset += x_step * remainder;
                layers.push((None, Some(t)));
            }
            FloatLayer::MaxPool { .. } | FloatLayer::Flatten { .. } => layers.push((None, None)),
        }
    }
    Quantized {
        widths: widths.clone(),
        layers,
        clipped_biases: clipped,
    }
}

/// One weighted layer: its integer form, clipped-bias count, and its output unit.
fn quantize_layer(
    w: &Weighted,
    bits: LayerBits,
    x_step: f64,
    x_offset: f64,
    x_bits: u32,
    acts: Option<&Vec<f64>>,
    bias_bits: Option<u32>,
) -> ((QuantLayer, usize), Option<f64>) {
    let sw = weight_step(&w.weights, bits.encoding, bits.weight_bits);
    let weights: Vec<i64> = w
        .weights
        .iter()
        .map(|&v| quantize_weight(v / sw, bits.encoding, bits.weight_bits))
        .collect();
    let unit = sw * x_step;
    let terms = weights.len() / w.outputs();
    let (lo, hi) = bits.encoding.range(bits.weight_bits);
    let max_product = terms as i128 * ((1i128 << x_bits) - 1) * i128::from(lo.abs().max(hi));
    let bias_bits = bias_bits
        .unwrap_or_else(|| signed_width(max_product))
        .clamp(2, MAX_BIAS_BITS);
    let shift = match (acts, bits.out_bits) {
        (Some(acts), Some(a)) => {
            let clip = best_clip(acts, a);
            let levels = ((1u64 << a) - 1) as f64;
            Some((clip / (levels * unit)).log2().round().max(0.0) as u32)
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
            let real = (b + x_offset * sw * sum_w as f64) / unit;
            let v = (real.round().clamp(-9.0e15, 9.0e15) as i64).saturating_add(rounding);
            clipped += usize::from(!(bmin..=bmax).contains(&v));
            v.clamp(bmin, bmax)
        })
        .collect();
    let out_step = shift.map(|s| unit * 2f64.powi(s as i32));
    (
        (
            QuantLayer {
                weights,
                bias,
                bias_bits,
                shift,
            },
            clipped,
        ),
        out_step,
    )
}

impl Quantized {
    /// Writes `model.json` (format version 2) and the `.npy` tensors into `dir`, creating
    /// it. The bytes depend only on the network, the widths and the calibration images.
    pub fn write(&self, net: &FloatNet, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut entries = Vec::new();
        let mut k = 0;
        for (layer, (q, pool_shift)) in net.layers.iter().zip(&self.layers) {
            let name = layer.name();
            let entry = match (layer, q) {
                (
                    FloatLayer::Conv {
                        layer: w,
                        stride,
                        padding,
                    },
                    Some(q),
                ) => {
                    let [o, kh, kw, i] = w.shape[..] else {
                        unreachable!("conv weights are 4-D")
                    };
                    let mut e = json!({"type": "conv2d", "name": name, "kernel": [kh, kw],
                        "stride": stride, "padding": padding, "in_channels": i, "out_channels": o});
                    self.weighted_entry(&mut e, q, k, dir, name, &w.shape)?;
                    k += 1;
                    e
                }
                (FloatLayer::Dense { layer: w }, Some(q)) => {
                    let mut e = json!({"type": "dense", "name": name,
                        "in_features": w.shape[1], "out_features": w.shape[0]});
                    self.weighted_entry(&mut e, q, k, dir, name, &w.shape)?;
                    k += 1;
                    e
                }
                (FloatLayer::MaxPool { size, stride, .. }, _) => {
                    json!({"type": "maxpool2d", "name": name, "size": size, "stride": stride})
                }
                (FloatLayer::AvgPool { size, stride, .. }, _) => json!({"type": "avgpool2d",
                    "name": name, "size": size, "stride": stride, "shift": pool_shift}),
                _ => json!({"type": "flatten", "name": name}),
            };
            entries.push(entry);
        }
        let [h, w, c] = net.input;
        let model = json!({
            "format": "gcnn-cnn",
            "version": 2,
            "input": {"height": h, "width": w, "channels": c, "bits": self.widths.input_bits},
            "layers": entries,
        });
        let text = serde_json::to_string_pretty(&model).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("model.json"), text + "\n")
    }

    fn weighted_entry(
        &self,
        e: &mut serde_json::Value,
        q: &QuantLayer,
        k: usize,
        dir: &Path,
        name: &str,
        shape: &[usize],
    ) -> std::io::Result<()> {
        let bits = self.widths.layers[k];
        let (weights, bias) = (format!("{name}_w.npy"), format!("{name}_b.npy"));
        let map = e.as_object_mut().expect("a JSON object");
        map.insert("weight_bits".into(), json!(bits.weight_bits));
        map.insert(
            "weight_encoding".into(),
            json!(if bits.encoding == WeightEncoding::Odd {
                "odd"
            } else {
                "twos"
            }),
        );
        map.insert("bias_bits".into(), json!(q.bias_bits));
        map.insert("shift".into(), json!(q.shift));
        map.insert("out_bits".into(), json!(bits.out_bits));
        map.insert("weights".into(), json!(weights));
        map.insert("bias".into(), json!(bias));
        let (lo, hi) = bits.encoding.range(bits.weight_bits);
        if lo >= i64::from(i8::MIN) && hi <= i64::from(i8::MAX) {
            write_npy(
                &dir.join(&weights),
                shape,
                q.weights.iter().map(|&v| v as i8),
            )?;
        } else {
            write_npy(
                &dir.join(&weights),
                shape,
                q.weights.iter().map(|&v| v as i16),
            )?;
        }
        write_npy(
            &dir.join(&bias),
            &[q.bias.len()],
            q.bias.iter().map(|&v| v as i32),
        )
    }
}

/// Writes a C-order `.npy` file.
fn write_npy<T: npyz::Serialize + npyz::AutoSerialize>(
    path: &Path,
    shape: &[usize],
    values: impl Iterator<Item = T>,
) -> std::io::Result<()> {
    use npyz::WriterBuilder;
    let mut bytes = Vec::new();
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .writer(&mut bytes)
        .begin_nd()?;
    writer.extend(values)?;
    writer.finish()?;
    std::fs::File::create(path)?.write_all(&bytes)
}
