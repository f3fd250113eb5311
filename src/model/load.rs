//! Reading and validating a model directory (`model.json` plus `.npy` tensors).

use std::path::{Path, PathBuf};

use ndarray::{Array, Array1, Dimension, IntoDimension, Ix1, Ix2};
use npyz::{DType, NpyFile, Order, TypeChar};
use serde::Deserialize;

use super::{Layer, Model, ModelError, ModelSource, Requant, WeightEncoding, Weighted};
use crate::mnist::SIDE;

/// The only `format` value accepted.
const FORMAT: &str = "gcnn-lenet";
/// The only `version` accepted.
const VERSION: u32 = 1;
/// Number of logits the last layer must produce.
const CLASSES: usize = 10;
/// Largest channel count, feature count or kernel side accepted.
const MAX_DIM: usize = 4096;
/// Largest element count of one tensor.
const MAX_ELEMENTS: usize = 1 << 24;
/// Widest bias accepted.
const MAX_BIAS_BITS: u32 = 24;
/// Largest `model.json` read.
const MAX_JSON_BYTES: u64 = 1 << 20;
/// Largest `.npy` file read: the largest tensor in int32 plus a header.
const MAX_TENSOR_FILE_BYTES: u64 = 4 * MAX_ELEMENTS as u64 + (1 << 16);
/// Largest requantization shift accepted.
const MAX_SHIFT: u32 = 62;

#[derive(Deserialize)]
struct RawModel {
    format: String,
    version: u32,
    input: RawInput,
    layers: Vec<RawLayer>,
}

#[derive(Deserialize)]
struct RawInput {
    height: usize,
    width: usize,
    channels: usize,
    bits: u32,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum RawLayer {
    #[serde(rename = "conv2d")]
    Conv2d {
        name: String,
        kernel: usize,
        in_channels: usize,
        out_channels: usize,
        #[serde(flatten)]
        params: RawParams,
    },
    #[serde(rename = "maxpool2d")]
    MaxPool2d { name: String, size: usize },
    #[serde(rename = "flatten")]
    Flatten { name: String },
    #[serde(rename = "dense")]
    Dense {
        name: String,
        in_features: usize,
        out_features: usize,
        #[serde(flatten)]
        params: RawParams,
    },
}

#[derive(Deserialize)]
struct RawParams {
    weight_bits: u32,
    weight_encoding: WeightEncoding,
    bias_bits: u32,
    shift: Option<u32>,
    out_bits: Option<u32>,
    weights: String,
    bias: String,
}

/// Shape of the activations flowing between layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Height, width, channels.
    Hwc(usize, usize, usize),
    /// A vector.
    Flat(usize),
}

/// Loader state: the model directory and its description file, for error messages.
struct Loader<'a> {
    source: &'a ModelSource,
    json: PathBuf,
    /// Whether to read the tensors; without, weights and biases are zeros of their shape.
    tensors: bool,
}

impl Loader<'_> {
    fn invalid(&self, what: impl Into<String>, reason: impl Into<String>) -> ModelError {
        ModelError::Invalid {
            path: self.json.clone(),
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Checks that a dimension from `model.json` is in `1..=MAX_DIM`.
    fn dim(&self, layer: &str, key: &str, value: usize) -> Result<usize, ModelError> {
        if (1..=MAX_DIM).contains(&value) {
            Ok(value)
        } else {
            Err(self.invalid(
                format!("layer {layer}"),
                format!("{key} is {value}, expected 1..={MAX_DIM}"),
            ))
        }
    }

    /// Validates the bit widths of a weighted layer and builds its requantization.
    fn requant(
        &self,
        layer: &str,
        params: &RawParams,
        last: bool,
    ) -> Result<Option<Requant>, ModelError> {
        let what = format!("layer {layer}");
        if !(1..=8).contains(&params.weight_bits) {
            return Err(self.invalid(
                what,
                format!("weight_bits is {}, expected 1..=8", params.weight_bits),
            ));
        }
        if !(1..=MAX_BIAS_BITS).contains(&params.bias_bits) {
            return Err(self.invalid(
                what,
                format!(
                    "bias_bits is {}, expected 1..={MAX_BIAS_BITS}",
                    params.bias_bits
                ),
            ));
        }
        match (params.shift, params.out_bits, last) {
            (None, None, true) => Ok(None),
            (Some(shift), Some(out_bits), false) => {
                if shift > MAX_SHIFT {
                    Err(self.invalid(what, format!("shift is {shift}, expected 0..={MAX_SHIFT}")))
                } else if !(1..=8).contains(&out_bits) {
                    Err(self.invalid(what, format!("out_bits is {out_bits}, expected 1..=8")))
                } else {
                    Ok(Some(Requant { shift, out_bits }))
                }
            }
            (_, _, true) => Err(self.invalid(
                what,
                "the last layer produces the logits: shift and out_bits must be null",
            )),
            (_, _, false) => Err(self.invalid(
                what,
                "only the last layer may have a null shift or out_bits",
            )),
        }
    }

    /// Reads an integer `.npy` tensor of the expected shape and one of the accepted
    /// element sizes (in bytes), widening it to `i64`.
    fn tensor<D: Dimension>(
        &self,
        file: &str,
        tensor: &str,
        expected: D,
        sizes: &[u64],
        expected_dtype: &'static str,
    ) -> Result<Array<i64, D>, ModelError> {
        let plain_name = matches!(
            Path::new(file).components().collect::<Vec<_>>().as_slice(),
            [std::path::Component::Normal(_)]
        );
        if !plain_name {
            return Err(self.invalid(
                format!("tensor {tensor}"),
                format!("file {file:?} is not a plain file name inside the model directory"),
            ));
        }
        let path = self.source.path(file);
        let npy_err = |source| ModelError::Npy {
            path: path.clone(),
            tensor: tensor.to_string(),
            source,
        };
        let bytes = self
            .source
            .read(file, MAX_TENSOR_FILE_BYTES)
            .map_err(|source| ModelError::Io {
                path: path.clone(),
                source,
            })?;
        let npy = NpyFile::new(bytes.as_slice()).map_err(npy_err)?;
        let dtype_err = |found: String| ModelError::Dtype {
            path: path.clone(),
            tensor: tensor.to_string(),
            found,
            expected: expected_dtype,
        };
        let size = match npy.dtype() {
            DType::Plain(ts)
                if ts.type_char() == TypeChar::Int && sizes.contains(&ts.size_field()) =>
            {
                ts.size_field()
            }
            DType::Plain(ts) => return Err(dtype_err(ts.to_string())),
            other => return Err(dtype_err(format!("{other:?}"))),
        };
        if npy.order() != Order::C {
            return Err(dtype_err("in Fortran order".to_string()));
        }
        let want: Vec<usize> = expected.slice().to_vec();
        if npy.shape().len() != want.len()
            || npy.shape().iter().zip(&want).any(|(&f, &w)| f != w as u64)
        {
            return Err(ModelError::Shape {
                path: path.clone(),
                tensor: tensor.to_string(),
                found: npy.shape().to_vec(),
                expected: want,
            });
        }
        let values: Vec<i64> = match size {
            1 => widen(npy.into_vec::<i8>()),
            2 => widen(npy.into_vec::<i16>()),
            _ => widen(npy.into_vec::<i32>()),
        }
        .map_err(npy_err)?;
        Array::from_shape_vec(expected, values).map_err(|e| {
            npy_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e.to_string(),
            ))
        })
    }

    /// Loads and range-checks the weights and biases of a weighted layer.
    fn weighted<D: Dimension>(
        &self,
        name: &str,
        params: &RawParams,
        weight_shape: D,
        outputs: usize,
        last: bool,
    ) -> Result<Weighted<D>, ModelError> {
        let requant = self.requant(name, params, last)?;
        if weight_shape.size() > MAX_ELEMENTS {
            return Err(self.invalid(
                format!("layer {name}"),
                format!("weights have more than {MAX_ELEMENTS} elements"),
            ));
        }
        if !self.tensors {
            return Ok(Weighted {
                name: name.to_string(),
                weights: Array::zeros(weight_shape),
                bias: Array1::zeros(outputs),
                weight_bits: params.weight_bits,
                encoding: params.weight_encoding,
                bias_bits: params.bias_bits,
                requant,
            });
        }
        let weights_name = format!("{name} weights");
        let weights = self.tensor(
            &params.weights,
            &weights_name,
            weight_shape,
            &[1, 2],
            "int8 or int16",
        )?;
        let (w, enc) = (params.weight_bits, params.weight_encoding);
        let (lo, hi) = enc.range(w);
        let kind = match enc {
            WeightEncoding::Odd => "an odd integer",
            WeightEncoding::Twos => "an integer",
        };
        self.check_range(
            &params.weights,
            &weights_name,
            weights.iter(),
            |v| enc.contains(w, v),
            || format!("{kind} in [{lo}, {hi}] (weight_bits {w}, {enc:?})"),
        )?;
        let bias_name = format!("{name} bias");
        let bias: Array1<i64> =
            self.tensor(&params.bias, &bias_name, Ix1(outputs), &[4], "int32")?;
        let b = params.bias_bits;
        let (blo, bhi) = (-(1i64 << (b - 1)), (1i64 << (b - 1)) - 1);
        self.check_range(
            &params.bias,
            &bias_name,
            bias.iter(),
            |v| (blo..=bhi).contains(&v),
            || format!("in [{blo}, {bhi}] (bias_bits {b})"),
        )?;
        Ok(Weighted {
            name: name.to_string(),
            weights,
            bias,
            weight_bits: w,
            encoding: enc,
            bias_bits: b,
            requant,
        })
    }

    fn check_range<'v>(
        &self,
        file: &str,
        tensor: &str,
        values: impl Iterator<Item = &'v i64>,
        ok: impl Fn(i64) -> bool,
        allowed: impl Fn() -> String,
    ) -> Result<(), ModelError> {
        match values.enumerate().find(|(_, v)| !ok(**v)) {
            None => Ok(()),
            Some((index, &value)) => Err(ModelError::OutOfRange {
                path: self.source.path(file),
                tensor: tensor.to_string(),
                index,
                value,
                allowed: allowed(),
            }),
        }
    }
}

fn widen<T: Into<i64>>(values: std::io::Result<Vec<T>>) -> std::io::Result<Vec<i64>> {
    values.map(|v| v.into_iter().map(Into::into).collect())
}

impl Model {
    /// Loads `dir/model.json` and the tensors it names, validating everything.
    ///
    /// Checks the format and version, the input (28×28×1, 1..=8 bits), that layer shapes
    /// chain to a vector of 10 logits, each tensor's dtype, order and shape, every weight
    /// against its encoding and width, every bias against `bias_bits`, and that exactly
    /// the last layer has no requantization. Errors name the file and the tensor.
    pub fn load(dir: &Path) -> Result<Model, ModelError> {
        Self::load_from(&ModelSource::Dir(dir.to_path_buf()))
    }

    /// [`Model::load`] from a directory or the bundled model.
    pub fn load_from(source: &ModelSource) -> Result<Model, ModelError> {
        Self::load_with(source, true)
    }

    /// Loads only `dir/model.json`, with the same checks except those on the tensors,
    /// whose values come out as zeros: the public architecture a client needs, without
    /// the weights it must not have.
    pub fn load_architecture(dir: &Path) -> Result<Model, ModelError> {
        Self::load_architecture_from(&ModelSource::Dir(dir.to_path_buf()))
    }

    /// [`Model::load_architecture`] from a directory or the bundled model.
    pub fn load_architecture_from(source: &ModelSource) -> Result<Model, ModelError> {
        Self::load_with(source, false)
    }

    fn load_with(source: &ModelSource, tensors: bool) -> Result<Model, ModelError> {
        let loader = Loader {
            source,
            json: source.path("model.json"),
            tensors,
        };
        let io_err = |source| ModelError::Io {
            path: loader.json.clone(),
            source,
        };
        let bytes = source.read("model.json", MAX_JSON_BYTES).map_err(io_err)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            io_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e.utf8_error(),
            ))
        })?;
        let raw: RawModel = serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: loader.json.clone(),
            source,
        })?;
        if raw.format != FORMAT {
            return Err(loader.invalid("format", format!("{:?}, expected {FORMAT:?}", raw.format)));
        }
        if raw.version != VERSION {
            return Err(loader.invalid("version", format!("{}, expected {VERSION}", raw.version)));
        }
        let input = &raw.input;
        if (input.height, input.width, input.channels) != (SIDE, SIDE, 1) {
            return Err(loader.invalid(
                "input",
                format!(
                    "{}x{}x{}, expected {SIDE}x{SIDE}x1",
                    input.height, input.width, input.channels
                ),
            ));
        }
        if !(1..=8).contains(&input.bits) {
            return Err(loader.invalid("input", format!("bits is {}, expected 1..=8", input.bits)));
        }
        let mut shape = Shape::Hwc(SIDE, SIDE, 1);
        let mut layers = Vec::with_capacity(raw.layers.len());
        let count = raw.layers.len();
        for (i, raw_layer) in raw.layers.iter().enumerate() {
            let last = i + 1 == count;
            let (layer, next) = loader.layer(raw_layer, shape, last)?;
            layers.push(layer);
            shape = next;
        }
        if shape != Shape::Flat(CLASSES) {
            return Err(loader.invalid(
                "layers",
                format!("the network ends in {shape:?}, expected {CLASSES} logits"),
            ));
        }
        // The logits are the last weighted layer's raw accumulators: a pooling or flatten
        // after it would leave requantized activations, not logits, at the end.
        if !matches!(layers.last(), Some(Layer::Dense(_) | Layer::Conv2d(_))) {
            return Err(loader.invalid(
                "layers",
                "the last layer must be the dense or conv2d layer producing the logits",
            ));
        }
        Ok(Model {
            input_bits: input.bits,
            layers,
        })
    }
}

impl Loader<'_> {
    /// Validates one layer against the incoming shape; returns it and its output shape.
    fn layer(
        &self,
        raw: &RawLayer,
        shape: Shape,
        last: bool,
    ) -> Result<(Layer, Shape), ModelError> {
        let mismatch = |name: &str, reason: String| self.invalid(format!("layer {name}"), reason);
        match raw {
            RawLayer::Conv2d {
                name,
                kernel,
                in_channels,
                out_channels,
                params,
            } => {
                let k = self.dim(name, "kernel", *kernel)?;
                let cin = self.dim(name, "in_channels", *in_channels)?;
                let cout = self.dim(name, "out_channels", *out_channels)?;
                let Shape::Hwc(h, w, c) = shape else {
                    return Err(mismatch(
                        name,
                        format!("conv2d needs an HWC input, got {shape:?}"),
                    ));
                };
                if c != cin || k > h || k > w {
                    return Err(mismatch(
                        name,
                        format!(
                            "{k}x{k} kernel over {cin} channels does not fit input {h}x{w}x{c}"
                        ),
                    ));
                }
                let conv =
                    self.weighted(name, params, [cout, k, k, cin].into_dimension(), cout, last)?;
                Ok((Layer::Conv2d(conv), Shape::Hwc(h - k + 1, w - k + 1, cout)))
            }
            RawLayer::MaxPool2d { name, size } => {
                let s = self.dim(name, "size", *size)?;
                match shape {
                    Shape::Hwc(h, w, c) if h % s == 0 && w % s == 0 => Ok((
                        Layer::MaxPool2d {
                            name: name.clone(),
                            size: s,
                        },
                        Shape::Hwc(h / s, w / s, c),
                    )),
                    _ => Err(mismatch(
                        name,
                        format!("{s}x{s} pooling does not tile input {shape:?}"),
                    )),
                }
            }
            RawLayer::Flatten { name } => match shape {
                Shape::Hwc(h, w, c) => Ok((
                    Layer::Flatten { name: name.clone() },
                    Shape::Flat(h * w * c),
                )),
                Shape::Flat(_) => Err(mismatch(name, "input is already flat".to_string())),
            },
            RawLayer::Dense {
                name,
                in_features,
                out_features,
                params,
            } => {
                let fin = self.dim(name, "in_features", *in_features)?;
                let fout = self.dim(name, "out_features", *out_features)?;
                if shape != Shape::Flat(fin) {
                    return Err(mismatch(
                        name,
                        format!("in_features is {fin}, but its input is {shape:?}"),
                    ));
                }
                let dense = self.weighted(name, params, Ix2(fout, fin), fout, last)?;
                Ok((Layer::Dense(dense), Shape::Flat(fout)))
            }
        }
    }
}
