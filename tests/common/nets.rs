//! Random quantized networks for the tests: calibrated bit widths and shifts (so values
//! spread over their range instead of saturating), random weights, and random
//! sequential architectures of every layer kind the model format has.

use gcnn::model::{
    ConvGeometry, Hwc, Layer, Model, Pixels, Pool2d, PoolKind, Requant, WeightEncoding, Weighted,
};
use ndarray::Array1;

use super::Rng;

/// (encoding, weight bits, bias bits, shift, out bits) for a layer of `terms` inputs of
/// `in_bits` bits: the shift maps the accumulator's typical spread, about
/// `√terms · x_rms · w_rms`, onto half the output range; biases span a comparable range.
pub fn calibrated(
    (enc, wbits, out_bits): (WeightEncoding, u32, u32),
    terms: usize,
    in_bits: u32,
) -> (WeightEncoding, u32, u32, u32, u32) {
    let x_rms = ((1u64 << in_bits) - 1) as f64 / 2.0;
    let w_rms = match enc {
        WeightEncoding::Odd => (1u64 << wbits) as f64 / 1.7,
        WeightEncoding::Twos => (1u64 << (wbits - 1)) as f64 / 1.7,
    };
    let spread = (terms as f64).sqrt() * x_rms * w_rms;
    let shift = (spread / (1u64 << out_bits.max(1)) as f64)
        .log2()
        .round()
        .max(0.0) as u32;
    (enc, wbits, shift + out_bits.max(1) + 1, shift, out_bits)
}

/// A random weight, symmetric around zero so sums do not drift to one sign; the
/// two's-complement minimum (which has no positive twin) appears as an edge case.
pub fn random_weight(rng: &mut Rng, enc: WeightEncoding, bits: u32) -> i64 {
    let (lo, hi) = enc.range(bits);
    if rng.below(16) == 0 {
        return lo;
    }
    let lo = -hi;
    loop {
        let v = lo + rng.below((hi - lo + 1) as u64) as i64;
        if enc.contains(bits, v) {
            return v;
        }
    }
}

/// A weighted layer of weight shape `shape` with calibrated widths: `spec` is
/// (encoding, weight bits, out bits, terms per output, input bits).
pub fn weighted<D: ndarray::Dimension>(
    rng: &mut Rng,
    name: &str,
    shape: D,
    spec: (WeightEncoding, u32, u32, u32, u32),
    last: bool,
) -> Weighted<D> {
    let (terms, in_bits) = (spec.3 as usize, spec.4);
    let spec = calibrated((spec.0, spec.1, spec.2), terms, in_bits);
    let (encoding, weight_bits, bias_bits, shift, out_bits) = spec;
    let weights =
        ndarray::Array::from_shape_simple_fn(shape, || random_weight(rng, encoding, weight_bits));
    let outs = weights.shape()[0];
    let half = 1i64 << (bias_bits - 1);
    let bias = Array1::from_shape_fn(outs, |_| rng.below(2 * half as u64) as i64 - half);
    Weighted {
        name: name.into(),
        weights,
        bias,
        weight_bits,
        encoding,
        bias_bits,
        acc_bits: None,
        requant: (!last).then_some(Requant { shift, out_bits }),
    }
}

fn encoding(rng: &mut Rng) -> WeightEncoding {
    if rng.below(2) == 0 {
        WeightEncoding::Odd
    } else {
        WeightEncoding::Twos
    }
}

/// `1..=n` at random.
fn up_to(rng: &mut Rng, n: usize) -> usize {
    1 + rng.below(n.max(1) as u64) as usize
}

/// A random sequential network on a random input (`input` if given): 0–2 convolutions
/// (rectangular kernels up to 4, strides 1–2, paddings up to 2 per side), each perhaps
/// followed by a max or average pool (windows up to 3, strides 1–2), a flatten, 0–2
/// hidden dense layers and a dense layer of 2–12 classes. Pixels 1–8 bits, weights 1–3
/// bits of either encoding, activations 1–3 bits.
pub fn random_network(rng: &mut Rng, input: Option<Hwc>) -> Model {
    let input = input.unwrap_or_else(|| Hwc {
        height: 2 + up_to(rng, 8),
        width: 2 + up_to(rng, 8),
        channels: up_to(rng, 3),
    });
    let input_bits = up_to(rng, 8) as u32;
    let (mut h, mut w, mut c) = (input.height, input.width, input.channels);
    let mut bits = input_bits;
    let mut layers = Vec::new();
    for i in 0..rng.below(3) {
        let padding = [0; 4].map(|_| rng.below(3) as usize);
        let kernel = [
            up_to(rng, 4.min(h + padding[0] + padding[2])),
            up_to(rng, 4.min(w + padding[1] + padding[3])),
        ];
        let geometry = ConvGeometry {
            kernel,
            stride: [up_to(rng, 2), up_to(rng, 2)],
            padding,
        };
        let (oh, ow) = geometry.output(h, w).expect("the kernel fits");
        let out_c = up_to(rng, 4);
        let terms = kernel[0] * kernel[1] * c;
        let spec = (encoding(rng), up_to(rng, 3) as u32, up_to(rng, 3) as u32);
        let conv = weighted(
            rng,
            &format!("conv{i}"),
            ndarray::Ix4(out_c, kernel[0], kernel[1], c),
            (spec.0, spec.1, spec.2, terms as u32, bits),
            false,
        );
        bits = spec.2;
        layers.push(Layer::Conv2d(conv, geometry));
        (h, w, c) = (oh, ow, out_c);
        if rng.below(3) != 0 {
            let size = [up_to(rng, 3.min(h)), up_to(rng, 3.min(w))];
            let kind = if rng.below(2) == 0 {
                PoolKind::Max
            } else {
                PoolKind::Avg {
                    shift: rng.below(4) as u32,
                }
            };
            let pool = Pool2d {
                name: format!("pool{i}"),
                kind,
                size,
                stride: [up_to(rng, 2), up_to(rng, 2)],
            };
            let out = pool.output(Hwc {
                height: h,
                width: w,
                channels: c,
            });
            let out = out.expect("the window fits");
            (h, w) = (out.height, out.width);
            layers.push(Layer::Pool2d(pool));
        }
    }
    layers.push(Layer::Flatten {
        name: "flatten".into(),
    });
    let mut features = h * w * c;
    let hidden = rng.below(3);
    for i in 0..=hidden {
        let last = i == hidden;
        let outs = if last {
            1 + up_to(rng, 11)
        } else {
            up_to(rng, 8)
        };
        let spec = (encoding(rng), up_to(rng, 3) as u32, up_to(rng, 3) as u32);
        let dense = weighted(
            rng,
            &format!("fc{i}"),
            ndarray::Ix2(outs, features),
            (spec.0, spec.1, spec.2, features as u32, bits),
            last,
        );
        bits = spec.2;
        layers.push(Layer::Dense(dense));
        features = outs;
    }
    let mut model = Model {
        input,
        input_bits,
        layers,
    };
    configure_accumulators(rng, &mut model);
    model
}

/// Gives about half the weighted layers a configured `acc_bits` at the narrowest width
/// their weights allow, so the protocols run on rings exactly as wide as the values.
pub fn configure_accumulators(rng: &mut Rng, model: &mut Model) {
    let mut bits = model.input_bits;
    for layer in &mut model.layers {
        match layer {
            Layer::Conv2d(c, _) => tighten(rng, c, &mut bits),
            Layer::Dense(d) => tighten(rng, d, &mut bits),
            Layer::Pool2d(_) | Layer::Flatten { .. } => {}
        }
    }
}

fn tighten<D: ndarray::RemoveAxis>(rng: &mut Rng, l: &mut Weighted<D>, in_bits: &mut u32) {
    if rng.below(2) == 0 {
        l.acc_bits = Some(l.narrowest(*in_bits));
    }
    *in_bits = l.requant.map_or(*in_bits, |r| r.out_bits);
}

/// Random pixels of the model's input shape.
pub fn random_pixels(rng: &mut Rng, model: &Model) -> Pixels {
    let data = (0..model.input.len()).map(|_| rng.next() as u8).collect();
    Pixels::new(model.input, data).expect("the model's shape")
}

/// Bits (least significant first) as an unsigned integer.
pub fn unsigned(bits: &[bool]) -> i64 {
    bits.iter().rev().fold(0, |acc, &b| acc << 1 | i64::from(b))
}

/// Bits (least significant first) as a two's-complement integer.
pub fn signed(bits: &[bool]) -> i64 {
    let u = unsigned(bits);
    if bits.last() == Some(&true) {
        u - (1 << bits.len())
    } else {
        u
    }
}
