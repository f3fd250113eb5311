//! The plaintext integer reference: the exact function a garbled circuit must compute.

use ndarray::{Array1, Array3, ArrayD, Axis, Zip, s};

use super::{
    Conv2d, ConvGeometry, Dense, Hwc, Layer, Model, ModelError, PixelView, Pool2d, PoolKind,
    Requant, Weighted,
};

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

/// Convolution with stride and zero padding on an HWC tensor.
fn conv2d(input: &Array3<i64>, layer: &Conv2d, geometry: &ConvGeometry) -> Array3<i64> {
    let (cout, kh, kw, _) = layer.weights.dim();
    let (h, w, c) = input.dim();
    let [top, left, bottom, right] = geometry.padding;
    let [sh, sw] = geometry.stride;
    let mut padded = Array3::zeros((h + top + bottom, w + left + right, c));
    padded
        .slice_mut(s![top..top + h, left..left + w, ..])
        .assign(input);
    let (oh, ow) = geometry
        .output(h, w)
        .expect("the loader checked that the kernel fits");
    let mut acc = Array3::zeros((oh, ow, cout));
    for ((y, x), mut lane) in (0..oh)
        .flat_map(|y| (0..ow).map(move |x| (y, x)))
        .zip(acc.lanes_mut(Axis(2)))
    {
        let window = padded.slice(s![y * sh..y * sh + kh, x * sw..x * sw + kw, ..]);
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

/// Max or average pooling on an HWC tensor of `bits`-bit activations.
fn pool2d(input: &Array3<i64>, pool: &Pool2d, bits: u32) -> Array3<i64> {
    let (h, w, c) = input.dim();
    let [kh, kw] = pool.size;
    let [sh, sw] = pool.stride;
    let (oh, ow) = pool
        .geometry()
        .output(h, w)
        .expect("the loader checked that the window fits");
    Array3::from_shape_fn((oh, ow, c), |(y, x, ch)| {
        let window = input.slice(s![y * sh..y * sh + kh, x * sw..x * sw + kw, ch]);
        match pool.kind {
            PoolKind::Max => window.fold(i64::MIN, |m, &v| m.max(v)),
            PoolKind::Avg { shift } => average(window.sum(), shift, bits),
        }
    })
}

/// `min(sum >> shift, 2^bits − 1)`: average pooling's sum of a window, scaled by a
/// public power of two and saturated to the width of the activations it pools.
pub fn average(sum: i64, shift: u32, bits: u32) -> i64 {
    requantize(
        sum,
        Requant {
            shift,
            out_bits: bits,
        },
    )
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

    /// Number of classes: the last layer's outputs.
    pub fn classes(&self) -> usize {
        match self.layers.last() {
            Some(Layer::Dense(d)) => d.bias.len(),
            Some(Layer::Conv2d(c, _)) => c.bias.len(),
            _ => 0,
        }
    }

    /// Checks that an image of `shape` is what this model takes.
    pub fn check_input(&self, shape: Hwc) -> Result<(), ModelError> {
        if shape == self.input {
            Ok(())
        } else {
            Err(ModelError::InputShape {
                found: shape,
                expected: self.input,
            })
        }
    }

    /// The quantized input `x0[y][x][c] = p >> (8 − b0)` as an HWC tensor.
    ///
    /// # Panics
    ///
    /// If the pixels' shape is not [`Model::input`] ([`Model::check_input`] tells).
    pub fn quantize_input<'a>(&self, pixels: impl Into<PixelView<'a>>) -> Array3<i64> {
        let pixels = pixels.into();
        assert_eq!(pixels.shape(), self.input, "input shape");
        let shift = 8 - self.input_bits;
        let Hwc {
            height,
            width,
            channels,
        } = self.input;
        Array3::from_shape_vec(
            (height, width, channels),
            pixels
                .data()
                .iter()
                .map(|&p| i64::from(p >> shift))
                .collect(),
        )
        .expect("the shape was checked")
    }

    /// Every layer's integer output, in order: requantized activations (HWC for
    /// convolutions and pools, vectors after flatten), and last the signed logits.
    ///
    /// # Panics
    ///
    /// If the pixels' shape is not [`Model::input`].
    pub fn trace<'a>(&self, pixels: impl Into<PixelView<'a>>) -> Vec<ArrayD<i64>> {
        let mut act = Activation::Hwc(self.quantize_input(pixels));
        let mut bits = self.input_bits;
        let mut outputs = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            act = match layer {
                Layer::Conv2d(l, g) => Activation::Hwc(conv2d(&act.hwc(), l, g)),
                Layer::Pool2d(p) => Activation::Hwc(pool2d(&act.hwc(), p, bits)),
                Layer::Flatten { .. } => Activation::Flat(act.flatten()),
                Layer::Dense(l) => Activation::Flat(dense(&act.flatten(), l)),
            };
            if let Layer::Conv2d(Weighted { requant, .. }, _)
            | Layer::Dense(Weighted { requant, .. }) = layer
            {
                bits = requant.map_or(bits, |r| r.out_bits);
            }
            outputs.push(act.clone().into_dyn());
        }
        outputs
    }

    /// The signed logits (the last layer's accumulators).
    pub fn logits<'a>(&self, pixels: impl Into<PixelView<'a>>) -> Vec<i64> {
        self.trace(pixels)
            .pop()
            .map(|t| t.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The predicted class: arg max of the logits, ties to the lowest index.
    pub fn predict<'a>(&self, pixels: impl Into<PixelView<'a>>) -> usize {
        argmax(&self.logits(pixels))
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
            acc_bits: None,
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
            acc_bits: None,
            requant: None,
        };
        Model {
            input: Hwc {
                height: 28,
                width: 28,
                channels: 1,
            },
            input_bits: 2,
            layers: vec![
                Layer::Conv2d(
                    conv,
                    ConvGeometry {
                        kernel: [28, 28],
                        stride: [1, 1],
                        padding: [0; 4],
                    },
                ),
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
        let pool = Pool2d {
            name: "p".into(),
            kind: PoolKind::Max,
            size: [2, 2],
            stride: [2, 2],
        };
        let pooled = pool2d(&input, &pool, 8);
        assert_eq!(pooled.dim(), (2, 2, 2));
        assert_eq!(pooled[[0, 0, 0]], input[[1, 1, 0]]);
        assert_eq!(pooled[[1, 0, 1]], input[[3, 1, 1]]);
        let flat = Activation::Hwc(pooled.clone()).flatten();
        // index (y*W + x)*C + c
        let (y, x, c, w, channels) = (1, 0, 1, 2, 2);
        assert_eq!(flat[(y * w + x) * channels + c], pooled[[y, x, c]]);
    }

    #[test]
    fn strided_padded_convolution_reads_zeros_outside() {
        // 3×3 input 1..=9, one 2×2 all-ones filter, stride 2, padding [1, 1, 0, 0]:
        // padded 4×4, windows at rows/cols 0 and 2.
        let input = Array3::from_shape_fn((3, 3, 1), |(y, x, _)| (y * 3 + x + 1) as i64);
        let conv = Weighted {
            name: "c".into(),
            weights: Array4::from_elem((1, 2, 2, 1), 1),
            bias: Array1::from(vec![0]),
            weight_bits: 2,
            encoding: WeightEncoding::Twos,
            bias_bits: 4,
            acc_bits: None,
            requant: None,
        };
        let geometry = ConvGeometry {
            kernel: [2, 2],
            stride: [2, 2],
            padding: [1, 1, 0, 0],
        };
        assert_eq!(geometry.output(3, 3), Some((2, 2)));
        let out = conv2d(&input, &conv, &geometry);
        // (0,0): only input (0,0) = 1; (0,1): inputs (0,1),(0,2) = 2+3;
        // (1,0): (1,0),(2,0) = 4+7; (1,1): 5+6+8+9.
        let got: Vec<i64> = out.iter().copied().collect();
        assert_eq!(got, vec![1, 5, 11, 28]);
        assert_eq!(geometry.source((3, 3), (0, 0), (0, 0)), None);
        assert_eq!(geometry.source((3, 3), (1, 1), (1, 1)), Some((2, 2)));
    }

    #[test]
    fn average_pooling_shifts_and_saturates() {
        // 3×3 windows, stride 1, on a 4×4 single-channel tensor of 3-bit values.
        let input = Array3::from_shape_fn((4, 4, 1), |(y, x, _)| ((y * 4 + x) % 8) as i64);
        let pool = Pool2d {
            name: "a".into(),
            kind: PoolKind::Avg { shift: 3 },
            size: [3, 3],
            stride: [1, 1],
        };
        let out = pool2d(&input, &pool, 3);
        assert_eq!(out.dim(), (2, 2, 1));
        for (y, x) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let sum: i64 = input.slice(s![y..y + 3, x..x + 3, 0]).sum();
            assert_eq!(out[[y, x, 0]], (sum >> 3).min(7));
        }
        assert_eq!(average(80, 3, 3), 7, "saturates");
        assert_eq!(average(15, 2, 3), 3);
    }
}
