//! The quantized LeNet: its description on disk, validation, and the bit-exact integer
//! reference that a garbled circuit must reproduce.
//!
//! # Files
//!
//! A model directory holds `model.json` (format `"gcnn-lenet"`, version 1) and one `.npy`
//! per tensor: weights `int8` or `int16`, biases `int32`, C order. See `models/README.md`.
//!
//! # Integer semantics
//!
//! Tensors are HWC (`[y][x][c]`). All arithmetic is exact (`i64` accumulators).
//!
//! * Input: pixel `p ∈ [0, 255]` becomes `x0 = p >> (8 − b0)`, `b0` = [`Model::input_bits`].
//! * conv2d (valid, stride 1): `acc[y][x][o] = bias[o] + Σ_{dy,dx,c} W[o][dy][dx][c] ·
//!   in[y+dy][x+dx][c]`; weight shape `(out_c, kh, kw, in_c)`, bias shape `(out_c,)`.
//! * dense: `acc[o] = bias[o] + Σ_i W[o][i] · in[i]`; weight shape `(out, in)`.
//! * Requantization after every weighted layer except the last: `y = clamp(acc >> s, 0,
//!   2^a − 1)`, `>>` an arithmetic (floor) shift by the public `shift` `s`, `a` =
//!   `out_bits`. The clamp is ReLU plus saturation. (Round-to-nearest is the exporter's
//!   business: it folds `2^(s−1)` into the bias.)
//! * maxpool (size `k`, stride `k`) on the requantized activations.
//! * flatten: HWC order, index `(y·W + x)·C + c`.
//! * The last layer is not requantized: its accumulators are the signed logits; the
//!   prediction is their arg max, ties going to the lowest index.
//!
//! Weights are odd integers in `[−(2^w − 1), 2^w − 1]` ([`WeightEncoding::Odd`]) or
//! two's-complement integers in `[−2^(w−1), 2^(w−1) − 1]` ([`WeightEncoding::Twos`]);
//! biases fit in `bias_bits` two's-complement bits.

mod error;
mod load;
mod reference;
mod source;

pub use error::ModelError;
pub use reference::{argmax, requantize};
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
    /// Requantization of the output; `None` only for the last layer (the logits).
    pub requant: Option<Requant>,
}

/// A valid 2-D convolution (stride 1).
pub type Conv2d = Weighted<Ix4>;
/// A fully connected layer.
pub type Dense = Weighted<Ix2>;

/// One layer of the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layer {
    /// Valid convolution, stride 1.
    Conv2d(Conv2d),
    /// Non-overlapping max pooling, `size`×`size` windows with stride `size`.
    MaxPool2d {
        /// Layer name.
        name: String,
        /// Window side and stride.
        size: usize,
    },
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
            Layer::Conv2d(l) => &l.name,
            Layer::Dense(l) => &l.name,
            Layer::MaxPool2d { name, .. } | Layer::Flatten { name } => name,
        }
    }

    /// A weighted layer's weights (flattened in tensor order) and biases; `None` for
    /// pooling and flattening.
    pub fn weights_and_bias(&self) -> Option<(Vec<i64>, &ndarray::Array1<i64>)> {
        match self {
            Layer::Conv2d(c) => Some((c.weights.iter().copied().collect(), &c.bias)),
            Layer::Dense(d) => Some((d.weights.iter().copied().collect(), &d.bias)),
            Layer::MaxPool2d { .. } | Layer::Flatten { .. } => None,
        }
    }
}

/// A validated quantized network for 28×28 grayscale images.
///
/// Built by [`Model::load`], which guarantees that shapes chain from the 28×28×1 input to
/// a vector of logits, every weight and bias lies within its declared encoding, and only
/// the last layer lacks a requantization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
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
