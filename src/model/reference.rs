//! The plaintext integer reference: the exact function a garbled circuit must compute.

use ndarray::{Array1, Array3, ArrayD, Axis, Zip, s};

use super::{Conv2d, Dense, Layer, Model, Requant};
use crate::mnist::Image;

/// `clamp(acc >> shift, 0, 2^out_bits − 1)` with an arithmetic (floor) shift: ReLU,
/// scaling by a power of two and saturation in one step.
pub fn requantize(acc: i64, requant: Requant) -> i64 {
    // Shifts of 63 or more leave only the sign; widths of 63 or more never saturate.
    let shifted = acc >> requant.shift.min(63);
    let max = 1i64
        .checked_shl(requant.out_bits)
        .filter(|&m| m > 0)
        .map_or(i64::MAX, |m| m - 1);
    shifted.clamp(0, max)
}

/// Index of the first maximum (ties go to the lowest index); 0 for an empty slice.
pub fn argmax(values: &[i64]) -> usize {
    values
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, i64)>, (i, &v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((i, v)),
        })
        .map_or(0, |(i, _)| i)
}

/// Applies the optional requantization to every accumulator.
fn finish<D: ndarray::Dimension>(
    mut acc: ndarray::Array<i64, D>,
    requant: Option<Requant>,
) -> ndarray::Array<i64, D> {
    if let Some(r) = requant {
        acc.mapv_inplace(|v| requantize(v, r));
    }
    acc
}

/// Valid convolution, stride 1, on an HWC tensor.
fn conv2d(input: &Array3<i64>, layer: &Conv2d) -> Array3<i64> {
    let (cout, k, _, cin) = layer.weights.dim();
    let (h, w, _) = input.dim();
    let mut acc = Array3::zeros((h + 1 - k, w + 1 - k, cout));
    for (mut lane, window) in acc
        .lanes_mut(Axis(2))
        .into_iter()
        .zip(input.windows((k, k, cin)))
    {
        for ((dst, filter), &bias) in lane
            .iter_mut()
            .zip(layer.weights.outer_iter())
            .zip(&layer.bias)
        {
            *dst = Zip::from(&window)
                .and(&filter)
                .fold(bias, |sum, &a, &b| sum + a * b);
        }
    }
    finish(acc, layer.requant)
}

/// Non-overlapping `size`×`size` max pooling on an HWC tensor.
fn maxpool2d(input: &Array3<i64>, size: usize) -> Array3<i64> {
    let (h, w, c) = input.dim();
    Array3::from_shape_fn((h / size, w / size, c), |(y, x, ch)| {
        input
            .slice(s![y * size..(y + 1) * size, x * size..(x + 1) * size, ch])
            .fold(i64::MIN, |m, &v| m.max(v))
    })
}

/// Fully connected layer on a vector.
fn dense(input: &Array1<i64>, layer: &Dense) -> Array1<i64> {
    let acc = layer
        .weights
        .outer_iter()
        .zip(&layer.bias)
        .map(|(row, &bias)| {
            row.iter()
                .zip(input)
                .fold(bias, |sum, (&w, &x)| sum + w * x)
        })
        .collect();
    finish(acc, layer.requant)
}

/// An activation tensor between layers.
#[derive(Clone)]
enum Activation {
    Hwc(Array3<i64>),
    Flat(Array1<i64>),
}

impl Activation {
    fn into_dyn(self) -> ArrayD<i64> {
        match self {
            Activation::Hwc(a) => a.into_dyn(),
            Activation::Flat(a) => a.into_dyn(),
        }
    }

    /// The values in HWC (row-major) order as a vector.
    fn flatten(&self) -> Array1<i64> {
        match self {
            Activation::Hwc(a) => a.iter().copied().collect(),
            Activation::Flat(a) => a.clone(),
        }
    }

    /// The tensor as HWC; a vector becomes `1×1×n` (never happens in a loaded model).
    fn hwc(&self) -> Array3<i64> {
        match self {
            Activation::Hwc(a) => a.clone(),
            Activation::Flat(a) => Array3::from_shape_fn((1, 1, a.len()), |(_, _, i)| a[i]),
        }
    }
}

impl Model {
    /// The layers, input to logits.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The quantized input `x0[y][x][0] = p >> (8 − b0)` as an HWC tensor.
    pub fn quantize_input(&self, image: &Image) -> Array3<i64> {
        let shift = 8 - self.input_bits;
        Array3::from_shape_fn((image.len(), image[0].len(), 1), |(y, x, _)| {
            i64::from(image[y][x] >> shift)
        })
    }

    /// Every layer's integer output, in order: requantized activations (HWC for
    /// convolutions and pools, vectors after flatten), and last the signed logits.
    pub fn trace(&self, image: &Image) -> Vec<ArrayD<i64>> {
        let mut act = Activation::Hwc(self.quantize_input(image));
        let mut outputs = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            act = match layer {
                Layer::Conv2d(l) => Activation::Hwc(conv2d(&act.hwc(), l)),
                Layer::MaxPool2d { size, .. } => Activation::Hwc(maxpool2d(&act.hwc(), *size)),
                Layer::Flatten { .. } => Activation::Flat(act.flatten()),
                Layer::Dense(l) => Activation::Flat(dense(&act.flatten(), l)),
            };
            outputs.push(act.clone().into_dyn());
        }
        outputs
    }

    /// The signed logits (the last layer's accumulators).
    pub fn logits(&self, image: &Image) -> Vec<i64> {
        self.trace(image)
            .pop()
            .map(|t| t.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The predicted digit: arg max of the logits, ties to the lowest index.
    pub fn predict(&self, image: &Image) -> u8 {
        u8::try_from(argmax(&self.logits(image))).unwrap_or(u8::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{WeightEncoding, Weighted};
    use ndarray::{Array2, Array4};

    #[test]
    fn requantize_floors_negative_accumulators_then_clamps() {
        let r = Requant {
            shift: 2,
            out_bits: 2,
        };
        // -1 >> 2 is -1 (floor), clamped to 0; 13 >> 2 = 3; 16 >> 2 = 4 saturates to 3.
        assert_eq!(requantize(-1, r), 0);
        assert_eq!(requantize(-5, r), 0);
        assert_eq!(requantize(7, r), 1);
        assert_eq!(requantize(13, r), 3);
        assert_eq!(requantize(16, r), 3);
        assert_eq!(requantize(i64::MAX, r), 3);
        let wide = Requant {
            shift: 0,
            out_bits: 8,
        };
        assert_eq!(requantize(255, wide), 255);
        assert_eq!(requantize(256, wide), 255);
        assert_eq!(requantize(-7 >> 1, wide), 0);
        let extreme = Requant {
            shift: 200,
            out_bits: 64,
        };
        assert_eq!(requantize(i64::MAX, extreme), 0);
        assert_eq!(requantize(-1, extreme), 0);
    }

    #[test]
    fn argmax_ties_go_to_the_lowest_index() {
        assert_eq!(argmax(&[1, 5, 5, 2]), 1);
        assert_eq!(argmax(&[-3, -3, -3]), 0);
        assert_eq!(argmax(&[0, 0, 9]), 2);
        assert_eq!(argmax(&[]), 0);
    }

    /// A tiny hand-checkable network: 28×28 input, a 28×28 "conv" with two filters,
    /// flatten, dense to 10 logits.
    fn tiny_model(bias0: i64) -> Model {
        let mut w = Array4::zeros((2, 28, 28, 1));
        w[[0, 0, 0, 0]] = 3; // filter 0 reads pixel (0,0)
        w[[1, 27, 27, 0]] = -1; // filter 1 reads pixel (27,27), negated
        let conv = Weighted {
            name: "c".into(),
            weights: w,
            bias: Array1::from(vec![bias0, 1]),
            weight_bits: 2,
            encoding: WeightEncoding::Twos,
            bias_bits: 8,
            requant: Some(Requant {
                shift: 1,
                out_bits: 2,
            }),
        };
        let mut d = Array2::zeros((10, 2));
        d[[4, 0]] = 1;
        d[[7, 1]] = 1;
        let fc = Weighted {
            name: "d".into(),
            weights: d,
            bias: Array1::zeros(10),
            weight_bits: 2,
            encoding: WeightEncoding::Twos,
            bias_bits: 8,
            requant: None,
        };
        Model {
            input_bits: 2,
            layers: vec![
                Layer::Conv2d(conv),
                Layer::Flatten { name: "f".into() },
                Layer::Dense(fc),
            ],
        }
    }

    #[test]
    fn tiny_network_follows_the_semantics() {
        let mut image = [[0u8; 28]; 28];
        image[0][0] = 130; // 130 >> 6 = 2
        image[27][27] = 255; // 255 >> 6 = 3
        let model = tiny_model(-2);
        let trace = model.trace(&image);
        // conv: filter 0: (3*2 - 2) >> 1 = 2; filter 1: (1 - 3) >> 1 = -1 -> 0.
        assert_eq!(trace[0].iter().copied().collect::<Vec<_>>(), vec![2, 0]);
        assert_eq!(trace[1].shape(), &[2]);
        let logits = model.logits(&image);
        assert_eq!(logits, vec![0, 0, 0, 0, 2, 0, 0, 0, 0, 0]);
        assert_eq!(model.predict(&image), 4);
        // A bias that drives filter 0 to (6 - 6) >> 1 = 0 leaves all logits 0: tie -> 0.
        assert_eq!(tiny_model(-6).predict(&image), 0);
    }

    #[test]
    fn maxpool_and_flatten_use_hwc_order() {
        let input = Array3::from_shape_fn((4, 4, 2), |(y, x, c)| (y * 8 + x * 2 + c) as i64);
        let pooled = maxpool2d(&input, 2);
        assert_eq!(pooled.dim(), (2, 2, 2));
        assert_eq!(pooled[[0, 0, 0]], input[[1, 1, 0]]);
        assert_eq!(pooled[[1, 0, 1]], input[[3, 1, 1]]);
        let flat = Activation::Hwc(pooled.clone()).flatten();
        // index (y*W + x)*C + c
        let (y, x, c, w, channels) = (1, 0, 1, 2, 2);
        assert_eq!(flat[(y * w + x) * channels + c], pooled[[y, x, c]]);
    }
}
