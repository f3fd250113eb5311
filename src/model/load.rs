//! Reading and validating a model directory (`model.json` plus `.npy` tensors).

use std::path::{Path, PathBuf};

use ndarray::{Array, Array1, Dimension, IntoDimension, Ix1, Ix2};
use npyz::{DType, NpyFile, Order, TypeChar};
use serde::Deserialize;

use super::{
    ConvGeometry, Hwc, Layer, Model, ModelError, ModelSource, Pool2d, PoolKind, Requant,
    WeightEncoding, Weighted, accumulators,
};
use crate::mnist::SIDE;
use limits::{
    MAX_ACTIVATION, MAX_BIAS_BITS, MAX_DIM, MAX_ELEMENTS, MAX_INPUT_CHANNELS, MAX_INPUT_SIDE,
    MAX_JSON_BYTES, MAX_LAYERS, MAX_SHIFT, MAX_TENSOR_FILE_BYTES,
};

/// The caps the loader enforces on `model.json`; a description beyond them is refused
/// with an error naming the field.
pub mod limits {
    /// Largest `model.json` read.
    pub const MAX_JSON_BYTES: u64 = 1 << 20;
    /// Largest `.npy` file read: the largest tensor in int32 plus a header.
    pub const MAX_TENSOR_FILE_BYTES: u64 = 4 * MAX_ELEMENTS as u64 + (1 << 16);
    /// Largest input height or width.
    pub const MAX_INPUT_SIDE: usize = 256;
    /// Largest number of input channels.
    pub const MAX_INPUT_CHANNELS: usize = 16;
    /// Largest channel count, feature count, kernel or window side, stride or padding.
    pub const MAX_DIM: usize = 4096;
    /// Largest element count of one weight tensor.
    pub const MAX_ELEMENTS: usize = 1 << 24;
    /// Largest element count of one activation tensor (a layer's input or output).
    pub const MAX_ACTIVATION: usize = 1 << 24;
    /// Most layers.
    pub const MAX_LAYERS: usize = 1024;
    /// Widest bias accepted.
    pub const MAX_BIAS_BITS: u32 = 24;
    /// Largest requantization or average-pooling shift accepted.
    pub const MAX_SHIFT: u32 = 62;
}

/// Format name and version of the general description (version 2).
const FORMAT: (&str, u32) = ("gcnn-cnn", 2);
/// Format name and version of the LeNet-shaped description (version 1), still read.
const FORMAT_V1: (&str, u32) = ("gcnn-lenet", 1);
/// Number of logits a version-1 network must produce.
const CLASSES_V1: usize = 10;

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

/// A side given as one number (version 1, square) or as `[rows, columns]` (version 2).
#[derive(Deserialize)]
#[serde(untagged)]
enum Sides {
    Square(usize),
    Pair([usize; 2]),
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum RawLayer {
    #[serde(rename = "conv2d")]
    Conv2d {
        name: String,
        kernel: Sides,
        stride: Option<[usize; 2]>,
        padding: Option<[usize; 4]>,
        in_channels: usize,
        out_channels: usize,
        #[serde(flatten)]
        params: RawParams,
    },
    #[serde(rename = "maxpool2d")]
    MaxPool2d {
        name: String,
        size: Sides,
        stride: Option<[usize; 2]>,
    },
    #[serde(rename = "avgpool2d")]
    AvgPool2d {
        name: String,
        size: Sides,
        stride: Option<[usize; 2]>,
        shift: u32,
    },
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
    #[serde(default)]
    acc_bits: Option<u32>,
    shift: Option<u32>,
    out_bits: Option<u32>,
    weights: String,
    bias: String,
}

/// Shape of the activations flowing between layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Height, width, channels.
    Hwc(Hwc),
    /// A vector.
    Flat(usize),
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Hwc(s) => write!(f, "{}x{}x{}", s.height, s.width, s.channels),
            Shape::Flat(n) => write!(f, "a vector of {n}"),
        }
    }
}

/// Loader state: the model directory and its description file, for error messages.
struct Loader<'a> {
    source: &'a ModelSource,
    json: PathBuf,
    /// Whether to read the tensors; without, weights and biases are zeros of their shape.
    tensors: bool,
    /// Whether the file is version 2 (else version 1).
    v2: bool,
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
        self.within(layer, key, value, 1)
    }

    /// Checks that `value` is in `min..=MAX_DIM`.
    fn within(
        &self,
        layer: &str,
        key: &str,
        value: usize,
        min: usize,
    ) -> Result<usize, ModelError> {
        if (min..=MAX_DIM).contains(&value) {
            Ok(value)
        } else {
            Err(self.invalid(
                format!("layer {layer}"),
                format!("{key} is {value}, expected {min}..={MAX_DIM}"),
            ))
        }
    }

    /// A kernel or window: one side in version 1, `[rows, columns]` in version 2.
    fn sides(&self, layer: &str, key: &str, value: &Sides) -> Result<[usize; 2], ModelError> {
        let sides = match (value, self.v2) {
            (Sides::Square(k), false) => [*k, *k],
            (Sides::Pair(k), true) => *k,
            (_, true) => {
                return Err(self.invalid(
                    format!("layer {layer}"),
                    format!("{key} must be [rows, columns] in version 2"),
                ));
            }
            (_, false) => {
                return Err(self.invalid(
                    format!("layer {layer}"),
                    format!("{key} must be one number in version 1"),
                ));
            }
        };
        for side in sides {
            self.dim(layer, key, side)?;
        }
        Ok(sides)
    }

    /// A field version 2 requires and version 1 forbids (taking `v1` instead).
    fn v2_field<T: Copy>(
        &self,
        layer: &str,
        key: &str,
        value: Option<T>,
        v1: T,
    ) -> Result<T, ModelError> {
        match (value, self.v2) {
            (Some(v), true) => Ok(v),
            (None, false) => Ok(v1),
            (None, true) => Err(self.invalid(
                format!("layer {layer}"),
                format!("{key} is missing (required in version 2)"),
            )),
            (Some(_), false) => Err(self.invalid(
                format!("layer {layer}"),
                format!("{key} is not part of version 1"),
            )),
        }
    }

    /// Checks the number of logits: at least 2 (10 in version 1).
    fn classes(&self, n: usize) -> Result<(), ModelError> {
        let (ok, expected) = if self.v2 {
            (n >= 2, "at least 2 logits".to_string())
        } else {
            (n == CLASSES_V1, format!("{CLASSES_V1} logits in version 1"))
        };
        if ok {
            Ok(())
        } else {
            Err(self.invalid(
                "layers",
                format!("the network ends in {n} logits, expected {expected}"),
            ))
        }
    }

    /// Checks that an activation of `shape` stays within [`MAX_ACTIVATION`] values.
    fn activation(&self, layer: &str, shape: Shape) -> Result<Shape, ModelError> {
        let len = match shape {
            Shape::Hwc(s) => s
                .height
                .checked_mul(s.width)
                .and_then(|n| n.checked_mul(s.channels)),
            Shape::Flat(n) => Some(n),
        };
        match len {
            Some(n) if n <= MAX_ACTIVATION => Ok(shape),
            _ => Err(self.invalid(
                format!("layer {layer}"),
                format!("its output has more than {MAX_ACTIVATION} values"),
            )),
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
        if let Some(bits) = params.acc_bits
            && !accumulators::WIDTHS.contains(&bits)
        {
            let (lo, hi) = (accumulators::WIDTHS.start(), accumulators::WIDTHS.end());
            return Err(self.invalid(what, format!("acc_bits is {bits}, expected {lo}..={hi}")));
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
                acc_bits: params.acc_bits,
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
            acc_bits: params.acc_bits,
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
    /// Checks the format and version (2, or 1 with its LeNet-shaped restrictions), the
    /// input (within [`limits`], 1..=8 bits), that layer shapes chain to a vector of at
    /// least 2 logits (exactly 10 in version 1), each tensor's dtype, order and shape, every weight
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
        let mut loader = Loader {
            source,
            json: source.path("model.json"),
            tensors,
            v2: true,
        };
        let io_err = |e| ModelError::Io {
            path: source.path("model.json"),
            source: e,
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
        loader.v2 = match (raw.format.as_str(), raw.version) {
            (f, v) if (f, v) == FORMAT => true,
            (f, v) if (f, v) == FORMAT_V1 => false,
            (f, v) => {
                return Err(loader.invalid(
                    "format",
                    format!(
                        "{f:?} version {v}, expected {:?} version {} or {:?} version {}",
                        FORMAT.0, FORMAT.1, FORMAT_V1.0, FORMAT_V1.1
                    ),
                ));
            }
        };
        let input = &raw.input;
        let shape = Hwc {
            height: input.height,
            width: input.width,
            channels: input.channels,
        };
        let (max_side, max_channels) = if loader.v2 {
            (MAX_INPUT_SIDE, MAX_INPUT_CHANNELS)
        } else {
            (SIDE, 1)
        };
        let fits = |v: usize, lo: usize, hi: usize| (lo..=hi).contains(&v);
        if !(fits(shape.height, 1, max_side)
            && fits(shape.width, 1, max_side)
            && fits(shape.channels, 1, max_channels))
            || (!loader.v2 && (shape.height, shape.width) != (SIDE, SIDE))
        {
            let expected = if loader.v2 {
                format!("height and width 1..={MAX_INPUT_SIDE}, channels 1..={MAX_INPUT_CHANNELS}")
            } else {
                format!("{SIDE}x{SIDE}x1 in version 1")
            };
            return Err(loader.invalid(
                "input",
                format!("{}, expected {expected}", Shape::Hwc(shape)),
            ));
        }
        if !(1..=8).contains(&input.bits) {
            return Err(loader.invalid("input", format!("bits is {}, expected 1..=8", input.bits)));
        }
        if raw.layers.len() > MAX_LAYERS {
            return Err(loader.invalid(
                "layers",
                format!("{} layers, at most {MAX_LAYERS}", raw.layers.len()),
            ));
        }
        let mut current = Shape::Hwc(shape);
        let mut layers = Vec::with_capacity(raw.layers.len());
        let count = raw.layers.len();
        for (i, raw_layer) in raw.layers.iter().enumerate() {
            let last = i + 1 == count;
            let (layer, next) = loader.layer(raw_layer, current, last)?;
            layers.push(layer);
            current = next;
        }
        // The logits are the last weighted layer's raw accumulators: a pooling or flatten
        // after it would leave requantized activations, not logits, at the end.
        if !matches!(layers.last(), Some(Layer::Dense(_) | Layer::Conv2d(..))) {
            return Err(loader.invalid(
                "layers",
                "the last layer must be the dense or conv2d layer producing the logits",
            ));
        }
        match current {
            Shape::Flat(n) => loader.classes(n)?,
            Shape::Hwc(_) => {
                return Err(loader.invalid(
                    "layers",
                    format!("the network ends in {current}, expected a vector of logits"),
                ));
            }
        }
        let model = Model {
            input: shape,
            input_bits: input.bits,
            layers,
        };
        if tensors && let Err(e) = model.check_accumulators() {
            return Err(loader.invalid(format!("layer {}", e.layer), e.to_string()));
        }
        Ok(model)
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
                stride,
                padding,
                in_channels,
                out_channels,
                params,
            } => {
                let [kh, kw] = self.sides(name, "kernel", kernel)?;
                let stride = self.v2_field(name, "stride", *stride, [1, 1])?;
                let padding = self.v2_field(name, "padding", *padding, [0; 4])?;
                for s in stride {
                    self.dim(name, "stride", s)?;
                }
                for p in padding {
                    self.within(name, "padding", p, 0)?;
                }
                let cin = self.dim(name, "in_channels", *in_channels)?;
                let cout = self.dim(name, "out_channels", *out_channels)?;
                let geometry = ConvGeometry {
                    kernel: [kh, kw],
                    stride,
                    padding,
                };
                let out = match shape {
                    Shape::Hwc(s) if s.channels == cin => geometry.output(s.height, s.width),
                    _ => None,
                };
                let Some((height, width)) = out else {
                    return Err(mismatch(
                        name,
                        format!(
                            "{kh}x{kw} kernel over {cin} channels with padding {padding:?} does not fit input {shape}"
                        ),
                    ));
                };
                let next = self.activation(
                    name,
                    Shape::Hwc(Hwc {
                        height,
                        width,
                        channels: cout,
                    }),
                )?;
                let conv = self.weighted(
                    name,
                    params,
                    [cout, kh, kw, cin].into_dimension(),
                    cout,
                    last,
                )?;
                Ok((Layer::Conv2d(conv, geometry), next))
            }
            RawLayer::MaxPool2d { name, size, stride } => {
                self.pool(name, PoolKind::Max, size, *stride, shape)
            }
            RawLayer::AvgPool2d {
                name,
                size,
                stride,
                shift,
            } => {
                if !self.v2 {
                    return Err(mismatch(name, "avgpool2d is not part of version 1".into()));
                }
                if *shift > MAX_SHIFT {
                    return Err(mismatch(
                        name,
                        format!("shift is {shift}, expected 0..={MAX_SHIFT}"),
                    ));
                }
                self.pool(name, PoolKind::Avg { shift: *shift }, size, *stride, shape)
            }
            RawLayer::Flatten { name } => match shape {
                Shape::Hwc(s) => Ok((Layer::Flatten { name: name.clone() }, Shape::Flat(s.len()))),
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
                        format!("in_features is {fin}, but its input is {shape}"),
                    ));
                }
                if last {
                    // Before the tensors are read: their shapes follow from the count.
                    self.classes(fout)?;
                }
                let dense = self.weighted(name, params, Ix2(fout, fin), fout, last)?;
                Ok((Layer::Dense(dense), Shape::Flat(fout)))
            }
        }
    }

    /// Validates a pooling layer against the incoming shape.
    fn pool(
        &self,
        name: &str,
        kind: PoolKind,
        size: &Sides,
        stride: Option<[usize; 2]>,
        shape: Shape,
    ) -> Result<(Layer, Shape), ModelError> {
        let size = self.sides(name, "size", size)?;
        // Version 1 pools are non-overlapping: the stride is the window.
        let stride = self.v2_field(name, "stride", stride, size)?;
        for s in stride {
            self.dim(name, "stride", s)?;
        }
        let pool = Pool2d {
            name: name.to_string(),
            kind,
            size,
            stride,
        };
        let out = match shape {
            Shape::Hwc(s) => pool.output(s),
            Shape::Flat(_) => None,
        };
        match out {
            Some(out) => Ok((Layer::Pool2d(pool), Shape::Hwc(out))),
            None => Err(self.invalid(
                format!("layer {name}"),
                format!("{}x{} pooling does not fit input {shape}", size[0], size[1]),
            )),
        }
    }
}
