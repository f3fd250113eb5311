//! A quantized sequential CNN: its description on disk, validation, and the bit-exact
//! integer reference that every circuit and protocol of this crate must reproduce.
//!
//! # Files
//!
//! A model directory holds `model.json` and one `.npy` per tensor: weights `int8` or
//! `int16`, biases `int32`, C order. Two formats are read: version 2 (`"gcnn-cnn"`, any
//! input shape, class count, kernel, stride, padding and pooling, described in
//! `models/README.md`) and version 1 (`"gcnn-lenet"`: 28×28×1 input, square valid
//! stride-1 kernels, square non-overlapping max pooling, 10 classes).
//!
//! # Integer semantics
//!
//! Tensors are HWC (`[y][x][c]`). All arithmetic is exact (`i64` accumulators).
//!
//! * Input: pixel `p ∈ [0, 255]` (`u8`, HWC, [`Model::input`] shape) becomes
//!   `x0 = p >> (8 − b0)`, `b0` = [`Model::input_bits`].
//! * conv2d: the input is zero-padded by `[top, left, bottom, right]`, then
//!   `acc[y][x][o] = bias[o] + Σ_{dy,dx,c} W[o][dy][dx][c] · in[y·sh + dy][x·sw + dx][c]`;
//!   output `(H + top + bottom − kh) / sh + 1` rows (floor), likewise columns; weight shape
//!   `(out_c, kh, kw, in_c)`, bias shape `(out_c,)`.
//! * dense: `acc[o] = bias[o] + Σ_i W[o][i] · in[i]`; weight shape `(out, in)`.
//! * Requantization after every weighted layer except the last: `y = clamp(acc >> s, 0,
//!   2^a − 1)`, `>>` an arithmetic (floor) shift by the public `shift` `s`, `a` =
//!   `out_bits`. The clamp is ReLU plus saturation. (Round-to-nearest is the exporter's
//!   business: it folds `2^(s−1)` into the bias.)
//! * maxpool2d (window `kh×kw`, stride `sh×sw`, no padding, `(H − kh) / sh + 1` rows):
//!   the window's maximum. avgpool2d, same windows: `min(Σ window >> shift, 2^a − 1)`
//!   with `a` the bit width of the activations it pools (the exporter folds
//!   `2^shift / (kh·kw)` into the next layer's weights), so widths never grow.
//! * flatten: HWC order, index `(y·W + x)·C + c`.
//! * The last layer is weighted and not requantized: its accumulators are the signed
//!   logits; the prediction is their arg max, ties going to the lowest index.
//!
//! Weights are odd integers in `[−(2^w − 1), 2^w − 1]` ([`WeightEncoding::Odd`]) or
//! two's-complement integers in `[−2^(w−1), 2^(w−1) − 1]` ([`WeightEncoding::Twos`]);
//! biases fit in `bias_bits` two's-complement bits; where a layer configures `acc_bits`,
//! every accumulator it can reach fits in that many ([`accumulators`]).

pub mod accumulators;
mod error;
mod input;
mod load;
mod reference;
mod save;
mod source;

pub use error::ModelError;
pub use input::{PixelView, Pixels};
pub use load::limits;
pub use reference::{argmax, average, requantize};
pub use save::npy_header;
pub use source::ModelSource;

use ndarray::{Array1, Dimension, Ix2, Ix4};

/// How a layer's integer weights are encoded in `weight_bits` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightEncoding {
    /// Odd integers `Σ_j 2^j·(±1)_j` in `[−(2^w − 1), 2^w − 1]`: every bit-plane is a sign.
    Odd,
    /// Two's complement, `[−2^(w−1), 2^(w−1) − 1]`.
    Twos,
}

impl WeightEncoding {
    /// The smallest and largest weight representable in `bits` bits (`bits` is taken
    /// within `1..=62`).
    pub fn range(self, bits: u32) -> (i64, i64) {
        let bits = bits.clamp(1, 62);
        match self {
            WeightEncoding::Odd => (-((1i64 << bits) - 1), (1i64 << bits) - 1),
            WeightEncoding::Twos => (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1),
        }
    }

    /// Whether `value` is a valid weight in `bits` bits.
    pub fn contains(self, bits: u32, value: i64) -> bool {
        let (lo, hi) = self.range(bits);
        (lo..=hi).contains(&value) && (self == WeightEncoding::Twos || value % 2 != 0)
    }
}

/// The requantization after a weighted layer: `clamp(acc >> shift, 0, 2^out_bits − 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Requant {
    /// Arithmetic right shift applied to the accumulator.
    pub shift: u32,
    /// Width of the unsigned output activations.
    pub out_bits: u32,
}

/// A layer with integer weights and biases (convolution or dense, by dimension `D`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weighted<D: Dimension> {
    /// Layer name from `model.json`, e.g. `conv1`.
    pub name: String,
    /// Weights: `(out_c, kh, kw, in_c)` for convolutions, `(out, in)` for dense layers.
    pub weights: ndarray::Array<i64, D>,
    /// One bias per output channel or feature.
    pub bias: Array1<i64>,
    /// Bits per weight.
    pub weight_bits: u32,
    /// How the weights are encoded in those bits.
    pub encoding: WeightEncoding,
    /// Two's-complement width every bias fits in.
    pub bias_bits: u32,
    /// Configured two's-complement width of the accumulator shares, narrower than the
    /// worst case the widths allow ([`accumulators`]); `None` for that worst case.
    pub acc_bits: Option<u32>,
    /// Requantization of the output; `None` only for the last layer (the logits).
    pub requant: Option<Requant>,
}

/// The weights and biases of a 2-D convolution.
pub type Conv2d = Weighted<Ix4>;
/// A fully connected layer.
pub type Dense = Weighted<Ix2>;

/// Height, width and channels of an HWC tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hwc {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Channels.
    pub channels: usize,
}

impl Hwc {
    /// Number of values, `height·width·channels`.
    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// Whether the tensor holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a convolution's windows lie: stride and zero padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    /// Kernel rows and columns, `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Steps between windows, `[sh, sw]`, each ≥ 1.
    pub stride: [usize; 2],
    /// Zero rows and columns added to the input, `[top, left, bottom, right]`.
    pub padding: [usize; 4],
}

impl ConvGeometry {
    /// Output rows and columns on an `h × w` input, or `None` if the kernel does not fit
    /// the padded input (or a stride is 0).
    pub fn output(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let [top, left, bottom, right] = self.padding;
        let rows = (h + top + bottom).checked_sub(kh)?.checked_div(sh)? + 1;
        let cols = (w + left + right).checked_sub(kw)?.checked_div(sw)? + 1;
        Some((rows, cols))
    }

    /// The input position `(row, column)` that window `(y, x)` reads at kernel offset
    /// `(dy, dx)`, or `None` where that is padding.
    pub fn source(
        &self,
        input: (usize, usize),
        (y, x): (usize, usize),
        (dy, dx): (usize, usize),
    ) -> Option<(usize, usize)> {
        let row = (y * self.stride[0] + dy).checked_sub(self.padding[0])?;
        let col = (x * self.stride[1] + dx).checked_sub(self.padding[1])?;
        (row < input.0 && col < input.1).then_some((row, col))
    }
}

/// What a pooling layer computes over each window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// The window's maximum.
    Max,
    /// `min(Σ window >> shift, 2^a − 1)`, `a` the width of the pooled activations.
    Avg {
        /// Public right shift applied to the window's sum.
        shift: u32,
    },
}

/// A pooling layer: windows `size`, steps `stride`, no padding.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pool2d {
    /// Layer name.
    pub name: String,
    /// Maximum or average.
    pub kind: PoolKind,
    /// Window rows and columns, `[kh, kw]`.
    pub size: [usize; 2],
    /// Steps between windows, `[sh, sw]`, each ≥ 1.
    pub stride: [usize; 2],
}

impl Pool2d {
    /// The windows as a convolution geometry without padding.
    pub fn geometry(&self) -> ConvGeometry {
        ConvGeometry {
            kernel: self.size,
            stride: self.stride,
            padding: [0; 4],
        }
    }

    /// The output shape on `input`, or `None` if the window does not fit.
    pub fn output(&self, input: Hwc) -> Option<Hwc> {
        let (height, width) = self.geometry().output(input.height, input.width)?;
        Some(Hwc {
            height,
            width,
            channels: input.channels,
        })
    }
}

/// One layer of the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layer {
    /// Convolution: its weights and biases, and where its windows lie.
    Conv2d(Conv2d, ConvGeometry),
    /// Max or average pooling.
    Pool2d(Pool2d),
    /// HWC flattening into a vector.
    Flatten {
        /// Layer name.
        name: String,
    },
    /// Fully connected layer.
    Dense(Dense),
}

impl Layer {
    /// The layer's name from `model.json`.
    pub fn name(&self) -> &str {
        match self {
            Layer::Conv2d(l, _) => &l.name,
            Layer::Dense(l) => &l.name,
            Layer::Pool2d(p) => &p.name,
            Layer::Flatten { name } => name,
        }
    }

    /// A weighted layer's weights (flattened in tensor order) and biases; `None` for
    /// pooling and flattening.
    pub fn weights_and_bias(&self) -> Option<(Vec<i64>, &ndarray::Array1<i64>)> {
        match self {
            Layer::Conv2d(c, _) => Some((c.weights.iter().copied().collect(), &c.bias)),
            Layer::Dense(d) => Some((d.weights.iter().copied().collect(), &d.bias)),
            Layer::Pool2d(_) | Layer::Flatten { .. } => None,
        }
    }
}

/// A validated quantized sequential network.
///
/// Built by [`Model::load`], which guarantees that shapes chain from the input to a
/// vector of at least two logits, every weight and bias lies within its declared
/// encoding, and exactly the last layer, a weighted one, lacks a requantization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    /// Shape of the input image.
    pub input: Hwc,
    /// Bits per input pixel, `b0 ∈ 1..=8`.
    pub input_bits: u32,
    /// The layers, input to logits.
    pub layers: Vec<Layer>,
}

#[cfg(test)]
mod tests {
    use super::WeightEncoding::{Odd, Twos};

    #[test]
    fn encodings_have_the_documented_ranges() {
        assert_eq!(Odd.range(1), (-1, 1));
        assert_eq!(Odd.range(2), (-3, 3));
        assert_eq!(Twos.range(2), (-2, 1));
        assert_eq!(Twos.range(8), (-128, 127));
        assert!(Odd.contains(2, -3) && Odd.contains(2, 1));
        assert!(!Odd.contains(2, 0) && !Odd.contains(2, 2) && !Odd.contains(2, 5));
        assert!(Twos.contains(2, 0) && Twos.contains(2, -2) && !Twos.contains(2, 2));
        assert_eq!(Twos.range(0), Twos.range(1));
    }
}
