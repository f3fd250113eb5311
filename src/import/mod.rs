//! Bring your own model: an ONNX file (exported from Keras through tf2onnx or from PyTorch
//! through `torch.onnx.export`) becomes a float sequential network ([`FloatNet`]), which
//! post-training quantization ([`quantize`]) turns into a gcnn model directory.
//!
//! Reading ONNX needs only its protobuf schema (`onnx`, declared with `prost`); the
//! graph is folded and mapped in `graph`, its constant arithmetic in `tensor`. The
//! float network is evaluated here, in plain Rust, so that the accuracy the quantized
//! model loses can be measured against the network the user exported.
//!
//! Layering: beside [`crate::model`] (whose [`crate::model::Model`] it builds and
//! saves), below the CLI.

mod graph;
mod onnx;
pub mod quantize;
mod tensor;

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use graph::{OPSETS, SUPPORTED};

/// Largest ONNX file read (bytes): far above any network gcnn can serve privately.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Why an ONNX file could not be imported. Every variant is one line naming the file
/// part at fault.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{}: larger than {MAX_FILE_BYTES} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The bytes are not an ONNX protobuf (for example a truncated file).
    #[error("not a valid ONNX model (truncated or corrupt protobuf: {0})")]
    Decode(String),
    /// The default-domain opset is missing or outside [`OPSETS`].
    #[error("{}", match version {
        Some(v) => format!("opset {v} is not supported (supported: {} to {})", OPSETS.start(), OPSETS.end()),
        None => "the model imports no default-domain (ai.onnx) opset".to_string(),
    })]
    Opset {
        /// The opset found, if any.
        version: Option<i64>,
    },
    /// The model has no graph.
    #[error("the model has no graph")]
    NoGraph,
    /// A stored tensor is unusable.
    #[error("tensor '{name}': {message}")]
    Tensor {
        /// The tensor's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The graph's input cannot be an image of fixed size.
    #[error("{0}")]
    Input(String),
    /// The graph's output or overall structure is not a gcnn network.
    #[error("{0}")]
    Output(String),
    /// A node cannot be mapped.
    #[error("node '{node}' ({op}): {message}")]
    Node {
        /// The node's name (or index and output).
        node: String,
        /// Its operator.
        op: String,
        /// What is wrong and what is supported.
        message: String,
    },
}

/// A float weighted layer in gcnn's layout: weights `(out, kh, kw, in)` or `(out, in)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Weighted {
    /// gcnn layer name (`conv1`, `fc2`, …).
    pub name: String,
    /// Weight shape.
    pub shape: Vec<usize>,
    /// Weights, row-major in `shape`.
    pub weights: Vec<f64>,
    /// One bias per output.
    pub bias: Vec<f64>,
}

impl Weighted {
    /// Folds `y ↦ scale[o]·y + shift[o]` on output `o` into the weights and bias.
    fn scale_outputs(&mut self, scale: &[f64], shift: &[f64]) {
        let per_out = self.weights.len() / self.bias.len().max(1);
        for (o, (b, (&s, &t))) in self
            .bias
            .iter_mut()
            .zip(scale.iter().zip(shift))
            .enumerate()
        {
            self.weights[o * per_out..(o + 1) * per_out]
                .iter_mut()
                .for_each(|w| *w *= s);
            *b = *b * s + t;
        }
    }

    /// Outputs (channels or features).
    pub fn outputs(&self) -> usize {
        self.shape[0]
    }
}

/// One layer of the float network. Every weighted layer but the last is followed by ReLU.
#[derive(Clone, Debug, PartialEq)]
pub enum FloatLayer {
    /// Convolution with zero padding `[top, left, bottom, right]`.
    Conv {
        /// Weights `(out, kh, kw, in)` and biases.
        layer: Weighted,
        /// `[sh, sw]`.
        stride: [usize; 2],
        /// `[top, left, bottom, right]`.
        padding: [usize; 4],
    },
    /// Max or average pooling without padding.
    Pool {
        /// gcnn layer name.
        name: String,
        /// Maximum (else average) of each window.
        max: bool,
        /// `[kh, kw]`.
        size: [usize; 2],
        /// `[sh, sw]`.
        stride: [usize; 2],
    },
    /// HWC flattening.
    Flatten {
        /// gcnn layer name.
        name: String,
    },
    /// Fully connected layer, weights `(out, in)`.
    Dense {
        /// Weights and biases.
        layer: Weighted,
    },
}

impl FloatLayer {
    /// The gcnn layer name.
    pub fn name(&self) -> &str {
        match self {
            FloatLayer::Conv { layer, .. } | FloatLayer::Dense { layer } => &layer.name,
            FloatLayer::Pool { name, .. } | FloatLayer::Flatten { name } => name,
        }
    }

    /// The weights and biases of a convolution or dense layer.
    pub fn weighted(&self) -> Option<&Weighted> {
        match self {
            FloatLayer::Conv { layer, .. } | FloatLayer::Dense { layer } => Some(layer),
            _ => None,
        }
    }

    fn weighted_mut(&mut self) -> Option<&mut Weighted> {
        match self {
            FloatLayer::Conv { layer, .. } | FloatLayer::Dense { layer } => Some(layer),
            _ => None,
        }
    }
}

/// A float sequential CNN on 8-bit pixels: what an ONNX file becomes.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatNet {
    /// Input `[height, width, channels]`.
    pub input: [usize; 3],
    /// The network's input is `pixel_scale · p + pixel_offset` for pixel `p ∈ 0..=255`.
    pub pixel_scale: f64,
    /// See `pixel_scale`.
    pub pixel_offset: f64,
    /// The layers, input to logits.
    pub layers: Vec<FloatLayer>,
}

/// An HWC float tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Activation {
    /// `[height, width, channels]` (`[1, 1, n]` for a vector).
    pub hwc: [usize; 3],
    /// Values, HWC order.
    pub data: Vec<f64>,
}

impl FloatNet {
    /// Reads and converts an ONNX file.
    pub fn read(path: &Path) -> Result<FloatNet, ImportError> {
        let read_err = |source| ImportError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(ImportError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        FloatNet::from_bytes(&bytes)
    }

    /// Converts the bytes of an ONNX file.
    pub fn from_bytes(bytes: &[u8]) -> Result<FloatNet, ImportError> {
        let model = onnx::decode(bytes).map_err(|e| ImportError::Decode(e.to_string()))?;
        graph::convert(&model)
    }

    /// The weighted layers, in order.
    pub fn weighted(&self) -> impl Iterator<Item = &Weighted> {
        self.layers.iter().filter_map(FloatLayer::weighted)
    }

    /// The activation after every layer (ReLU applied after each weighted layer but the
    /// last), for pixels `p` in HWC order; the last entry holds the logits.
    pub fn trace(&self, pixels: &[u8]) -> Vec<Activation> {
        let mut x = Activation {
            hwc: self.input,
            data: pixels
                .iter()
                .map(|&p| self.pixel_scale * f64::from(p) + self.pixel_offset)
                .collect(),
        };
        let last = self.layers.iter().rposition(|l| l.weighted().is_some());
        let mut out = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            x = apply(layer, &x);
            if layer.weighted().is_some() && Some(i) != last {
                x.data.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            out.push(x.clone());
        }
        out
    }

    /// The predicted class (arg max of the logits, ties to the lowest index).
    pub fn predict(&self, pixels: &[u8]) -> usize {
        let trace = self.trace(pixels);
        let logits = trace.last().map_or(&[][..], |a| &a.data[..]);
        argmax_f64(logits)
    }
}

/// Index of the largest value, ties to the lowest index.
pub fn argmax_f64(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Windows of a convolution or pooling: `(rows, columns)` out of `input` rows/columns.
fn out_size(
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 4],
) -> [usize; 2] {
    [
        (input[0] + pad[0] + pad[2] - kernel[0]) / stride[0] + 1,
        (input[1] + pad[1] + pad[3] - kernel[1]) / stride[1] + 1,
    ]
}

/// One float layer (without the ReLU).
fn apply(layer: &FloatLayer, x: &Activation) -> Activation {
    let [h, w, c] = x.hwc;
    match layer {
        FloatLayer::Conv {
            layer,
            stride,
            padding,
        } => {
            let [o, kh, kw, _] = layer.shape[..] else {
                unreachable!("conv weights are 4-D")
            };
            let [oh, ow] = out_size([h, w], [kh, kw], *stride, *padding);
            let mut data = Vec::with_capacity(oh * ow * o);
            for y in 0..oh {
                for xx in 0..ow {
                    for (oc, &b) in layer.bias.iter().enumerate() {
                        let mut acc = b;
                        for dy in 0..kh {
                            let Some(sy) = (y * stride[0] + dy)
                                .checked_sub(padding[0])
                                .filter(|&v| v < h)
                            else {
                                continue;
                            };
                            for dx in 0..kw {
                                let Some(sx) = (xx * stride[1] + dx)
                                    .checked_sub(padding[1])
                                    .filter(|&v| v < w)
                                else {
                                    continue;
                                };
                                let wrow = &layer.weights[((oc * kh + dy) * kw + dx) * c..][..c];
                                let xrow = &x.data[(sy * w + sx) * c..][..c];
                                acc += wrow.iter().zip(xrow).map(|(a, b)| a * b).sum::<f64>();
                            }
                        }
                        data.push(acc);
                    }
                }
            }
            Activation {
                hwc: [oh, ow, o],
                data,
            }
        }
        FloatLayer::Pool {
            max, size, stride, ..
        } => {
            let [oh, ow] = out_size([h, w], *size, *stride, [0; 4]);
            let mut data = Vec::with_capacity(oh * ow * c);
            for y in 0..oh {
                for xx in 0..ow {
                    for ch in 0..c {
                        let window =
                            (0..size[0]).flat_map(|dy| (0..size[1]).map(move |dx| (dy, dx)));
                        let values = window.map(|(dy, dx)| {
                            x.data[((y * stride[0] + dy) * w + xx * stride[1] + dx) * c + ch]
                        });
                        data.push(if *max {
                            values.fold(f64::NEG_INFINITY, f64::max)
                        } else {
                            values.sum::<f64>() / (size[0] * size[1]) as f64
                        });
                    }
                }
            }
            Activation {
                hwc: [oh, ow, c],
                data,
            }
        }
        FloatLayer::Flatten { .. } => Activation {
            hwc: [1, 1, h * w * c],
            data: x.data.clone(),
        },
        FloatLayer::Dense { layer } => {
            let n = x.data.len();
            let data = layer
                .bias
                .iter()
                .enumerate()
                .map(|(o, &b)| {
                    b + layer.weights[o * n..(o + 1) * n]
                        .iter()
                        .zip(&x.data)
                        .map(|(a, b)| a * b)
                        .sum::<f64>()
                })
                .collect::<Vec<_>>();
            Activation {
                hwc: [1, 1, data.len()],
                data,
            }
        }
    }
}
