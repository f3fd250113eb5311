//! From an ONNX graph to a float sequential network ([`FloatNet`]).
//!
//! The graph is walked once in its (topological) node order. Every value is either a
//! constant ([`Const`]: initializers, `Constant` nodes and everything computed only from
//! them and from static shapes) or the one activation flowing through the network. Shape
//! sub-graphs fold to constants; `Transpose`/`Reshape`/`Flatten` on the activation only
//! change how its axes are labelled (tracked in [`Layout`]); `BatchNormalization`, and a
//! constant `Add`/`Mul` after a convolution or dense layer, fold into that layer; a
//! constant `Mul`/`Add`/`Sub`/`Div` before the first layer (Keras' `Rescaling`) folds into
//! the pixel affine map; a final `Softmax` is dropped (arg max is unchanged). What remains
//! must be a chain of Conv/Gemm/MatMul layers, each but the last followed by `Relu`, with
//! max or average pooling between them: exactly what gcnn's integer semantics computes.

use std::collections::HashMap;

use super::onnx::{AttributeProto, GraphProto, ModelProto, NodeProto};
use super::tensor::{self, Const};
use super::{FloatLayer, FloatNet, ImportError, Weighted};
use crate::model::limits;

/// Operators of the default domain that this importer maps or folds.
pub const SUPPORTED: &str = "Conv, Gemm, MatMul, Add, Sub, Mul, Div, Relu, MaxPool, \
    AveragePool, GlobalAveragePool, BatchNormalization, Flatten, Reshape, Transpose, \
    Squeeze, Unsqueeze, Softmax, LogSoftmax, Identity, Dropout, Cast, Constant, Shape, \
    Gather, Slice, Concat (and Sqrt on constants)";

/// Opset versions of the default domain accepted (operator semantics as read here hold
/// from opset 9 on).
pub const OPSETS: std::ops::RangeInclusive<i64> = 9..=23;

/// Logical axes of a 4-D activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axis {
    N,
    C,
    H,
    W,
}

/// ONNX's image layout, which Conv and pooling read.
const NCHW: [Axis; 4] = [Axis::N, Axis::C, Axis::H, Axis::W];

/// How the activation's ONNX axes map onto gcnn's HWC tensor.
#[derive(Clone, Debug, PartialEq)]
enum Layout {
    /// An image tensor whose ONNX axes are `axes` (ONNX order), of extent `hwc`.
    Spatial { axes: Vec<Axis>, hwc: [usize; 3] },
    /// A `(1, n)` vector: ONNX feature `i` is gcnn's flat HWC feature `order[i]`.
    Flat { order: Vec<usize> },
}

impl Layout {
    /// ONNX dims (batch 1).
    fn dims(&self) -> Vec<usize> {
        match self {
            Layout::Spatial { axes, hwc } => axes
                .iter()
                .map(|a| match a {
                    Axis::N => 1,
                    Axis::H => hwc[0],
                    Axis::W => hwc[1],
                    Axis::C => hwc[2],
                })
                .collect(),
            Layout::Flat { order } => vec![1, order.len()],
        }
    }
}

/// A value of the graph.
#[derive(Clone, Debug)]
enum Value {
    Const(Const),
    /// The activation after `step` activation operators.
    Act {
        step: usize,
        layout: Layout,
    },
}

/// The walk's state.
struct Walker<'a> {
    opset: i64,
    values: HashMap<&'a str, Value>,
    /// Activation operators applied so far; only the newest activation may be consumed.
    step: usize,
    net: FloatNet,
    /// The weighted layer whose output is the current activation, untouched since (a bias,
    /// a scale or a BatchNormalization may still fold into it).
    open: bool,
    /// The weighted layer that still waits for its ReLU.
    needs_relu: Option<usize>,
    /// A Softmax has been applied: nothing may follow.
    finished: bool,
}

/// Converts a decoded model.
pub fn convert(model: &ModelProto) -> Result<FloatNet, ImportError> {
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or(ImportError::Opset { version: None })?;
    if !OPSETS.contains(&opset) {
        return Err(ImportError::Opset {
            version: Some(opset),
        });
    }
    let graph = model.graph.as_ref().ok_or(ImportError::NoGraph)?;
    let mut w = Walker {
        opset,
        values: HashMap::new(),
        step: 0,
        net: FloatNet {
            input: [0; 3],
            pixel_scale: 1.0,
            pixel_offset: 0.0,
            layers: Vec::new(),
        },
        open: false,
        needs_relu: None,
        finished: false,
    };
    for t in &graph.initializer {
        let c = Const::from_proto(t).map_err(|message| ImportError::Tensor {
            name: t.name.clone(),
            message,
        })?;
        w.values.insert(&t.name, Value::Const(c));
    }
    w.input(graph)?;
    for (index, node) in graph.node.iter().enumerate() {
        w.node(index, node)?;
    }
    w.finish(graph)
}

/// A node's name for messages: its own, or its index and first output.
fn node_label(index: usize, node: &NodeProto) -> String {
    if node.name.is_empty() {
        format!(
            "#{index} ({})",
            node.output.first().map_or("", String::as_str)
        )
    } else {
        node.name.clone()
    }
}

/// Error constructors bound to one node.
struct At<'a> {
    node: String,
    op: &'a str,
}

impl At<'_> {
    fn err(&self, message: impl Into<String>) -> ImportError {
        ImportError::Node {
            node: self.node.clone(),
            op: self.op.to_string(),
            message: message.into(),
        }
    }

    fn attr_err(&self, attr: &str, found: impl std::fmt::Debug, supported: &str) -> ImportError {
        self.err(format!(
            "attribute {attr} = {found:?} is not supported (supported: {supported})"
        ))
    }
}

fn attr<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_int(node: &NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

fn attr_ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

fn attr_float(node: &NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}

/// `[h, w]` pair from a 2-element attribute list, or the default.
fn pair(at: &At, node: &NodeProto, name: &str, default: usize) -> Result<[usize; 2], ImportError> {
    match attr_ints(node, name) {
        None => Ok([default; 2]),
        Some(v) => match v[..] {
            [a, b] if a >= 1 && b >= 1 => Ok([a as usize, b as usize]),
            _ => Err(at.attr_err(name, v, "two positive integers")),
        },
    }
}

impl<'a> Walker<'a> {
    /// Registers the one non-constant graph input, fixing a symbolic batch axis to 1.
    fn input(&mut self, graph: &'a GraphProto) -> Result<(), ImportError> {
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !self.values.contains_key(i.name.as_str()))
            .collect();
        let [input] = inputs[..] else {
            return Err(ImportError::Input(format!(
                "the graph has {} non-constant inputs; gcnn takes exactly one image",
                inputs.len()
            )));
        };
        let name = &input.name;
        let dims = input
            .r#type
            .as_ref()
            .and_then(|t| t.tensor_type.as_ref())
            .and_then(|t| t.shape.as_ref())
            .ok_or_else(|| ImportError::Input(format!("input '{name}' has no tensor shape")))?;
        let mut fixed = Vec::new();
        for (i, d) in dims.dim.iter().enumerate() {
            match (i, d.dim_value) {
                (_, v) if v > 0 && d.dim_param.is_empty() => fixed.push(v as usize),
                (0, _) => fixed.push(1),
                _ => {
                    let what = if d.dim_param.is_empty() {
                        "unknown".to_string()
                    } else {
                        format!("'{}'", d.dim_param)
                    };
                    return Err(ImportError::Input(format!(
                        "input '{name}' has a dynamic dimension {what} at axis {i} that cannot be fixed: only the batch axis (0) may be dynamic; re-export with a fixed image size"
                    )));
                }
            }
        }
        // Channels are the small axis: (N, C, H, W) or (N, H, W, C); (N, H, W) is 1 channel.
        let (axes, hwc) = match fixed[..] {
            [1, c, h, w] if c <= 16 && (c < h || c < w) => {
                (vec![Axis::N, Axis::C, Axis::H, Axis::W], [h, w, c])
            }
            [1, h, w, c] if c <= 16 => (vec![Axis::N, Axis::H, Axis::W, Axis::C], [h, w, c]),
            [1, h, w] => (vec![Axis::N, Axis::H, Axis::W], [h, w, 1]),
            _ => {
                return Err(ImportError::Input(format!(
                    "input '{name}' has shape {fixed:?}; gcnn takes one image, (N, C, H, W), (N, H, W, C) or (N, H, W) with at most 16 channels"
                )));
            }
        };
        let [h, w, c] = hwc;
        if h > limits::MAX_INPUT_SIDE
            || w > limits::MAX_INPUT_SIDE
            || c > limits::MAX_INPUT_CHANNELS
        {
            return Err(ImportError::Input(format!(
                "input '{name}' is {h}x{w}x{c}; the model format takes at most {side}x{side}x{}",
                limits::MAX_INPUT_CHANNELS,
                side = limits::MAX_INPUT_SIDE
            )));
        }
        self.net.input = hwc;
        self.values.insert(
            name,
            Value::Act {
                step: 0,
                layout: Layout::Spatial { axes, hwc },
            },
        );
        Ok(())
    }

    fn get(&self, at: &At, name: &str) -> Result<&Value, ImportError> {
        self.values.get(name).ok_or_else(|| {
            at.err(format!(
                "input '{name}' is not produced by any earlier node"
            ))
        })
    }

    fn constant(&self, at: &At, node: &NodeProto, i: usize) -> Result<Option<&Const>, ImportError> {
        match node.input.get(i).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(name) => match self.get(at, name)? {
                Value::Const(c) => Ok(Some(c)),
                Value::Act { .. } => Err(at.err(format!(
                    "input {i} ('{name}') must be a constant (weights), not computed from the image"
                ))),
            },
        }
    }

    fn required(&self, at: &At, node: &NodeProto, i: usize) -> Result<&Const, ImportError> {
        self.constant(at, node, i)?
            .ok_or_else(|| at.err(format!("input {i} is missing")))
    }

    /// The current activation as input `i` of an activation operator.
    fn activation(&self, at: &At, node: &NodeProto, i: usize) -> Result<Layout, ImportError> {
        let name = node.input.get(i).map_or("", String::as_str);
        match self.get(at, name)? {
            Value::Act { step, layout } if *step == self.step => {
                if self.finished {
                    return Err(at.err("only arg-max-preserving Softmax may end the network; nothing may follow it"));
                }
                Ok(layout.clone())
            }
            Value::Act { .. } => Err(at.err(format!(
                "'{name}' is an earlier activation used again: the graph branches (residual or skip connections), but gcnn runs only sequential networks"
            ))),
            Value::Const(_) => Err(at.err(format!("input {i} ('{name}') is constant, expected the image activation"))),
        }
    }

    fn output(&mut self, node: &'a NodeProto, value: Value) {
        if let Some(name) = node.output.first() {
            self.values.insert(name, value);
        }
    }

    fn emit(&mut self, node: &'a NodeProto, layout: Layout) {
        self.step += 1;
        let step = self.step;
        self.output(node, Value::Act { step, layout });
    }

    /// Whether the node's inputs are all constants (so it folds).
    fn all_const(&self, node: &NodeProto) -> bool {
        node.input
            .iter()
            .all(|i| i.is_empty() || matches!(self.values.get(i.as_str()), Some(Value::Const(_))))
    }

    fn node(&mut self, index: usize, node: &'a NodeProto) -> Result<(), ImportError> {
        let at = At {
            node: node_label(index, node),
            op: &node.op_type,
        };
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(at.err(format!(
                "operator of domain '{}' is not supported (supported: the default domain's {SUPPORTED})",
                node.domain
            )));
        }
        if node.op_type == "Constant" {
            let c = match node.attribute.first() {
                Some(a) if a.name == "value" && a.t.is_some() => {
                    Const::from_proto(a.t.as_ref().expect("checked")).map_err(|m| at.err(m))?
                }
                Some(a) if a.name == "value_float" => Const::scalar(f64::from(a.f)),
                Some(a) if a.name == "value_int" => Const::scalar(a.i as f64),
                Some(a) if a.name == "value_floats" => {
                    Const::vector(a.floats.iter().map(|&v| f64::from(v)).collect())
                }
                Some(a) if a.name == "value_ints" => {
                    Const::vector(a.ints.iter().map(|&v| v as f64).collect())
                }
                other => {
                    return Err(at.attr_err(
                        "value",
                        other.map(|a| a.name.clone()),
                        "value, value_float(s), value_int(s)",
                    ));
                }
            };
            self.output(node, Value::Const(c));
            return Ok(());
        }
        if node.op_type == "Shape" {
            let dims = match self.get(&at, node.input.first().map_or("", String::as_str))? {
                Value::Const(c) => c.shape.clone(),
                Value::Act { layout, .. } => layout.dims(),
            };
            let rank = dims.len() as i64;
            let clampi = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
            let start = clampi(attr_int(node, "start", 0));
            let end = clampi(attr_int(node, "end", rank)).max(start);
            let v = dims[start..end].iter().map(|&d| d as f64).collect();
            self.output(node, Value::Const(Const::vector(v)));
            return Ok(());
        }
        if self.all_const(node) {
            let c = self.fold(&at, node)?;
            self.output(node, Value::Const(c));
            return Ok(());
        }
        self.activation_op(&at, node)
    }

    /// Evaluates an operator on constants.
    fn fold(&self, at: &At, node: &NodeProto) -> Result<Const, ImportError> {
        let input = |i| self.required(at, node, i);
        let ints = |i| -> Result<Option<Vec<i64>>, ImportError> {
            self.constant(at, node, i)?
                .map(|c| c.ints().map_err(|m| at.err(m)))
                .transpose()
        };
        let e = |m: String| at.err(m);
        let binary = |op: fn(f64, f64) -> f64| tensor::binary(input(0)?, input(1)?, op).map_err(e);
        match node.op_type.as_str() {
            "Identity" | "Dropout" => Ok(input(0)?.clone()),
            "Cast" => {
                let to = attr_int(node, "to", 1);
                let c = input(0)?.clone();
                Ok(match to {
                    1 | 10 | 11 | 16 => c,
                    9 => Const {
                        data: c
                            .data
                            .iter()
                            .map(|&v| f64::from(u8::from(v != 0.0)))
                            .collect(),
                        ..c
                    },
                    _ => Const {
                        data: c.data.iter().map(|v| v.trunc()).collect(),
                        ..c
                    },
                })
            }
            "Add" => binary(|a, b| a + b),
            "Sub" => binary(|a, b| a - b),
            "Mul" => binary(|a, b| a * b),
            "Div" => binary(|a, b| a / b),
            "Sqrt" => {
                let c = input(0)?.clone();
                Ok(Const {
                    data: c.data.iter().map(|v| v.sqrt()).collect(),
                    ..c
                })
            }
            "Transpose" => {
                tensor::transpose(input(0)?, &attr_ints(node, "perm").unwrap_or_default())
                    .map_err(e)
            }
            "Gather" => tensor::gather(input(0)?, input(1)?, attr_int(node, "axis", 0)).map_err(e),
            "Concat" => {
                let parts = (0..node.input.len())
                    .map(input)
                    .collect::<Result<Vec<_>, _>>()?;
                tensor::concat(&parts, attr_int(node, "axis", 0)).map_err(e)
            }
            "Slice" => {
                let data = input(0)?;
                if self.opset < 10 {
                    let starts = attr_ints(node, "starts").unwrap_or_default();
                    let ends = attr_ints(node, "ends").unwrap_or_default();
                    let axes = attr_ints(node, "axes");
                    tensor::slice(data, &starts, &ends, axes.as_deref(), None).map_err(e)
                } else {
                    let starts = ints(1)?.unwrap_or_default();
                    let ends = ints(2)?.unwrap_or_default();
                    let (axes, steps) = (ints(3)?, ints(4)?);
                    tensor::slice(data, &starts, &ends, axes.as_deref(), steps.as_deref())
                        .map_err(e)
                }
            }
            "Reshape" => {
                let data = input(0)?;
                let target = ints(1)?.ok_or_else(|| at.err("the target shape is missing"))?;
                let shape = tensor::reshape_target(&data.shape, &target).map_err(e)?;
                Ok(Const {
                    shape,
                    data: data.data.clone(),
                })
            }
            "Flatten" => {
                let data = input(0)?;
                let a = attr_int(node, "axis", 1);
                let a = if a < 0 {
                    a + data.shape.len() as i64
                } else {
                    a
                }
                .clamp(0, data.shape.len() as i64) as usize;
                let shape = vec![
                    data.shape[..a].iter().product(),
                    data.shape[a..].iter().product(),
                ];
                Ok(Const {
                    shape,
                    data: data.data.clone(),
                })
            }
            "Unsqueeze" | "Squeeze" => {
                let data = input(0)?;
                let axes = if self.opset >= 13 {
                    ints(1)?
                } else {
                    attr_ints(node, "axes")
                };
                squeeze(&node.op_type, data, axes.as_deref()).map_err(e)
            }
            op => Err(at.err(format!(
                "operator {op} on constants is not supported (supported: {SUPPORTED})"
            ))),
        }
    }

    fn activation_op(&mut self, at: &At, node: &'a NodeProto) -> Result<(), ImportError> {
        match node.op_type.as_str() {
            "Identity" | "Dropout" | "Cast" => {
                if node.op_type == "Cast" && ![1, 10, 11, 16].contains(&attr_int(node, "to", 1)) {
                    return Err(at.attr_err("to", attr_int(node, "to", 1), "a float type"));
                }
                let l = self.activation(at, node, 0)?;
                self.emit(node, l);
            }
            "Softmax" | "LogSoftmax" => {
                let l = self.activation(at, node, 0)?;
                if !matches!(l, Layout::Flat { .. }) || !self.open {
                    return Err(
                        at.err("Softmax is supported only right after the last dense layer")
                    );
                }
                self.emit(node, l);
                self.finished = true;
            }
            "Relu" => {
                let l = self.activation(at, node, 0)?;
                if self.needs_relu.take().is_none() {
                    return Err(at.err("Relu must follow a convolution or dense layer (possibly after max pooling), once"));
                }
                self.open = false;
                self.emit(node, l);
            }
            "Transpose" => {
                let l = self.activation(at, node, 0)?;
                let perm = attr_ints(node, "perm");
                let out = match l {
                    Layout::Spatial { axes, hwc } => {
                        let rank = axes.len();
                        let p: Vec<i64> = perm
                            .clone()
                            .unwrap_or_else(|| (0..rank as i64).rev().collect());
                        let mut seen = vec![false; rank];
                        let valid = p.len() == rank
                            && p.iter().all(|&i| {
                                usize::try_from(i).is_ok_and(|i| {
                                    i < rank && !std::mem::replace(&mut seen[i], true)
                                })
                            });
                        if !valid {
                            return Err(at.attr_err("perm", p, "a permutation of the axes"));
                        }
                        Layout::Spatial {
                            axes: p.iter().map(|&i| axes[i as usize]).collect(),
                            hwc,
                        }
                    }
                    flat @ Layout::Flat { .. } if perm.as_deref().is_none_or(|p| p == [0, 1]) => {
                        flat
                    }
                    Layout::Flat { .. } => {
                        return Err(at.attr_err("perm", perm, "[0, 1] on a vector"));
                    }
                };
                self.emit(node, out);
            }
            "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => {
                let l = self.activation(at, node, 0)?;
                let dims = l.dims();
                let target: Vec<usize> = match node.op_type.as_str() {
                    "Reshape" => {
                        let t = self.required(at, node, 1)?.ints().map_err(|m| at.err(m))?;
                        tensor::reshape_target(&dims, &t).map_err(|m| at.err(m))?
                    }
                    "Flatten" => {
                        let a = attr_int(node, "axis", 1);
                        if a != 1 {
                            return Err(at.attr_err("axis", a, "1"));
                        }
                        vec![1, dims[1..].iter().product()]
                    }
                    op => {
                        let axes = if self.opset >= 13 {
                            self.constant(at, node, 1)?
                                .map(|c| c.ints())
                                .transpose()
                                .map_err(|m| at.err(m))?
                        } else {
                            attr_ints(node, "axes")
                        };
                        let probe = Const::new(dims.clone(), vec![0.0; dims.iter().product()])
                            .map_err(|m| at.err(m))?;
                        squeeze(op, &probe, axes.as_deref())
                            .map_err(|m| at.err(m))?
                            .shape
                    }
                };
                let out = relabel(&l, &target).ok_or_else(|| {
                    at.err(format!(
                    "reshaping {dims:?} to {target:?} is neither a flatten nor a change of layout"
                ))
                })?;
                self.emit(node, out);
            }
            "Conv" => self.conv(at, node)?,
            "Gemm" | "MatMul" => self.dense(at, node)?,
            "MaxPool" | "AveragePool" | "GlobalAveragePool" => self.pool(at, node)?,
            "BatchNormalization" => {
                let l = self.activation(at, node, 0)?;
                let [scale, bias, mean, var] = [1, 2, 3, 4].map(|i| self.required(at, node, i));
                let (scale, bias, mean, var) = (scale?, bias?, mean?, var?);
                let eps = f64::from(attr_float(node, "epsilon", 1e-5));
                let a: Vec<f64> = scale
                    .data
                    .iter()
                    .zip(&var.data)
                    .map(|(s, v)| s / (v + eps).sqrt())
                    .collect();
                let b: Vec<f64> = bias
                    .data
                    .iter()
                    .zip(&mean.data)
                    .zip(&a)
                    .map(|((b, m), a)| b - m * a)
                    .collect();
                // Per channel along ONNX axis 1: shape (C, 1, 1) for images, (C,) for vectors.
                let shape = match l {
                    Layout::Spatial { .. } => vec![a.len(), 1, 1],
                    Layout::Flat { .. } => vec![a.len()],
                };
                let as_channels = |v: Vec<f64>| Const::new(shape.clone(), v).map_err(|m| at.err(m));
                self.affine(at, node, &l, &as_channels(a)?, &as_channels(b)?)?;
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let (ai, ci) = match (self.get(at, &node.input[0])?, node.input.get(1)) {
                    (Value::Act { .. }, Some(_)) => (0, 1),
                    _ => (1, 0),
                };
                let l = self.activation(at, node, ai)?;
                let c = match node.input.get(ci).map(|n| self.get(at, n)) {
                    Some(Ok(Value::Const(c))) => c.clone(),
                    Some(Ok(Value::Act { .. })) => {
                        return Err(at.err("both inputs are activations: a residual connection, which gcnn's sequential networks cannot express"));
                    }
                    Some(Err(e)) => return Err(e),
                    None => return Err(at.err("needs two inputs")),
                };
                let one = Const::scalar(1.0);
                let zero = Const::scalar(0.0);
                let neg = |c: &Const| {
                    tensor::binary(c, &Const::scalar(-1.0), |a, b| a * b).map_err(|m| at.err(m))
                };
                let (scale, shift) = match (node.op_type.as_str(), ai) {
                    ("Add", _) => (one, c),
                    ("Sub", 0) => (one, neg(&c)?),
                    ("Sub", _) => (Const::scalar(-1.0), c),
                    ("Mul", _) => (c, zero),
                    ("Div", 0) => (
                        tensor::binary(&one, &c, |a, b| a / b).map_err(|m| at.err(m))?,
                        zero,
                    ),
                    _ => {
                        return Err(
                            at.err("dividing a constant by the activation is not supported")
                        );
                    }
                };
                self.affine(at, node, &l, &scale, &shift)?;
            }
            _ => {
                return Err(at.err(format!("operator not supported (supported: {SUPPORTED})")));
            }
        }
        Ok(())
    }

    /// `y = scale · x + shift` with per-channel (or scalar) constants: folded into the open
    /// weighted layer, or, before any layer, into the pixel affine map.
    fn affine(
        &mut self,
        at: &At,
        node: &'a NodeProto,
        l: &Layout,
        scale: &Const,
        shift: &Const,
    ) -> Result<(), ImportError> {
        if self.net.layers.is_empty() {
            let s = uniform(scale).ok_or_else(|| {
                at.err("only a scalar scale or offset of the input pixels can be folded")
            })?;
            let o = uniform(shift).ok_or_else(|| {
                at.err("only a scalar scale or offset of the input pixels can be folded")
            })?;
            self.net.pixel_scale *= s;
            self.net.pixel_offset = self.net.pixel_offset * s + o;
            self.emit(node, l.clone());
            return Ok(());
        }
        if !self.open {
            return Err(at.err("a constant scale or offset is supported only on the input or right after a convolution or dense layer"));
        }
        let channels = match l {
            Layout::Spatial { hwc, .. } => hwc[2],
            Layout::Flat { order } => order.len(),
        };
        let s = per_channel(scale, l, channels).ok_or_else(|| {
            at.err(format!(
                "the constant must be a scalar or one value per channel ({channels})"
            ))
        })?;
        let o = per_channel(shift, l, channels).ok_or_else(|| {
            at.err(format!(
                "the constant must be a scalar or one value per channel ({channels})"
            ))
        })?;
        let Some(layer) = self
            .net
            .layers
            .last_mut()
            .and_then(FloatLayer::weighted_mut)
        else {
            return Err(at.err("internal: no open layer"));
        };
        layer.scale_outputs(&s, &o);
        self.emit(node, l.clone());
        Ok(())
    }

    /// The current activation as an NCHW image: its `[h, w, c]`.
    fn image(&self, at: &At, node: &NodeProto) -> Result<[usize; 3], ImportError> {
        match self.activation(at, node, 0)? {
            Layout::Spatial { axes, hwc } if axes[..] == NCHW => Ok(hwc),
            Layout::Spatial { .. } => {
                Err(at.err("the input must be NCHW (a Transpose is missing)"))
            }
            Layout::Flat { .. } => Err(at.err("needs an image, not a vector")),
        }
    }

    /// `prefix` and one more than the number of layers of that kind so far (`conv2`).
    fn next_name(&self, prefix: &str, kind: impl Fn(&FloatLayer) -> bool) -> String {
        let n = self.net.layers.iter().filter(|l| kind(l)).count();
        format!("{prefix}{}", n + 1)
    }

    fn begin_layer(&self, at: &At) -> Result<(), ImportError> {
        if let Some(i) = self.needs_relu {
            return Err(at.err(format!(
                "layer {} is not followed by Relu: gcnn requantizes (ReLU) after every layer but the last",
                self.net.layers[i].name()
            )));
        }
        Ok(())
    }

    fn conv(&mut self, at: &At, node: &'a NodeProto) -> Result<(), ImportError> {
        let [h, w, c] = &self.image(at, node)?;
        self.begin_layer(at)?;
        let weights = self.required(at, node, 1)?;
        let bias = self.constant(at, node, 2)?.cloned();
        let [o, i, kh, kw] = weights.shape[..] else {
            return Err(at.err(format!(
                "weights of shape {:?}, expected (out, in, kh, kw)",
                weights.shape
            )));
        };
        let group = attr_int(node, "group", 1);
        if group != 1 {
            return Err(at.attr_err("group", group, "1 (no grouped or depthwise convolution)"));
        }
        if i != *c {
            return Err(at.err(format!("weights take {i} channels, the input has {c}")));
        }
        if pair(at, node, "dilations", 1)? != [1, 1] {
            return Err(at.attr_err("dilations", attr_ints(node, "dilations"), "[1, 1]"));
        }
        let kernel = [kh, kw];
        if let Some(k) = attr_ints(node, "kernel_shape")
            && k != [kh as i64, kw as i64]
        {
            return Err(at.attr_err("kernel_shape", k, "the weights' kernel size"));
        }
        let stride = pair(at, node, "strides", 1)?;
        let padding = pads(at, node, [*h, *w], kernel, stride)?;
        let oh = (h + padding[0] + padding[2])
            .checked_sub(kh)
            .map(|v| v / stride[0] + 1);
        let ow = (w + padding[1] + padding[3])
            .checked_sub(kw)
            .map(|v| v / stride[1] + 1);
        let (Some(oh), Some(ow)) = (oh, ow) else {
            return Err(at.err("the kernel is larger than the padded input"));
        };
        if oh * ow * o > limits::MAX_ACTIVATION {
            return Err(at.err(format!(
                "its output {oh}x{ow}x{o} is larger than the model format's {} values",
                limits::MAX_ACTIVATION
            )));
        }
        // ONNX (out, in, kh, kw) → gcnn (out, kh, kw, in).
        let hwio = tensor::transpose(weights, &[0, 2, 3, 1]).map_err(|m| at.err(m))?;
        let bias = bias_vector(at, bias, o)?;
        let name = self.next_name("conv", |l| matches!(l, FloatLayer::Conv { .. }));
        self.net.layers.push(FloatLayer::Conv {
            layer: Weighted {
                name,
                shape: vec![o, kh, kw, i],
                weights: hwio.data,
                bias,
            },
            stride,
            padding,
        });
        self.open = true;
        self.needs_relu = Some(self.net.layers.len() - 1);
        self.emit(
            node,
            Layout::Spatial {
                axes: NCHW.to_vec(),
                hwc: [oh, ow, o],
            },
        );
        Ok(())
    }

    fn dense(&mut self, at: &At, node: &'a NodeProto) -> Result<(), ImportError> {
        let l = self.activation(at, node, 0)?;
        let Layout::Flat { order } = &l else {
            return Err(at.err("needs a flattened vector (Flatten or Reshape first)"));
        };
        self.begin_layer(at)?;
        let b = self.required(at, node, 1)?;
        let gemm = node.op_type == "Gemm";
        let (alpha, beta) = if gemm {
            (
                f64::from(attr_float(node, "alpha", 1.0)),
                f64::from(attr_float(node, "beta", 1.0)),
            )
        } else {
            (1.0, 1.0)
        };
        if gemm && attr_int(node, "transA", 0) != 0 {
            return Err(at.attr_err("transA", 1, "0"));
        }
        let [r, k] = b.shape[..] else {
            return Err(at.err(format!("weights of shape {:?}, expected a matrix", b.shape)));
        };
        // gcnn's dense weights are (out, in).
        let trans_b = gemm && attr_int(node, "transB", 0) != 0;
        let (w, out, inp) = if trans_b {
            (b.clone(), r, k)
        } else {
            (tensor::transpose(b, &[1, 0]).map_err(|m| at.err(m))?, k, r)
        };
        if inp != order.len() {
            return Err(at.err(format!(
                "weights take {inp} features, the input has {}",
                order.len()
            )));
        }
        let bias = if gemm {
            self.constant(at, node, 2)?.cloned()
        } else {
            None
        };
        let mut bias = bias_vector(at, bias, out)?;
        bias.iter_mut().for_each(|v| *v *= beta);
        // Reorder the columns from ONNX feature order to gcnn's HWC flatten order.
        let mut weights = vec![0.0; out * inp];
        for o in 0..out {
            for (i, &dst) in order.iter().enumerate() {
                weights[o * inp + dst] = alpha * w.data[o * inp + i];
            }
        }
        let name = self.next_name("fc", |l| matches!(l, FloatLayer::Dense { .. }));
        self.net.layers.push(FloatLayer::Dense {
            layer: Weighted {
                name,
                shape: vec![out, inp],
                weights,
                bias,
            },
        });
        self.open = true;
        self.needs_relu = Some(self.net.layers.len() - 1);
        self.emit(
            node,
            Layout::Flat {
                order: (0..out).collect(),
            },
        );
        Ok(())
    }

    fn pool(&mut self, at: &At, node: &'a NodeProto) -> Result<(), ImportError> {
        let [h, w, c] = &self.image(at, node)?;
        let max = node.op_type == "MaxPool";
        if !max && self.needs_relu.is_some() {
            return Err(at.err("average pooling between a layer and its Relu is not supported (move the Relu before the pooling)"));
        }
        let (size, stride) = if node.op_type == "GlobalAveragePool" {
            ([*h, *w], [*h, *w])
        } else {
            let size = pair(at, node, "kernel_shape", 0)?;
            if size.contains(&0) {
                return Err(at.attr_err(
                    "kernel_shape",
                    attr_ints(node, "kernel_shape"),
                    "two positive integers",
                ));
            }
            let stride = pair(at, node, "strides", 1)?;
            if pads(at, node, [*h, *w], size, stride)? != [0; 4] {
                return Err(at.attr_err("pads", attr_ints(node, "pads"), "no padding in pooling"));
            }
            if attr_int(node, "ceil_mode", 0) != 0 {
                return Err(at.attr_err("ceil_mode", 1, "0"));
            }
            if pair(at, node, "dilations", 1)? != [1, 1] {
                return Err(at.attr_err("dilations", attr_ints(node, "dilations"), "[1, 1]"));
            }
            (size, stride)
        };
        if size[0] > *h || size[1] > *w {
            return Err(at.err("the window is larger than the input"));
        }
        let oh = (h - size[0]) / stride[0] + 1;
        let ow = (w - size[1]) / stride[1] + 1;
        let name = self.next_name("pool", |l| matches!(l, FloatLayer::Pool { .. }));
        self.net.layers.push(FloatLayer::Pool {
            name,
            max,
            size,
            stride,
        });
        self.open = false;
        self.emit(
            node,
            Layout::Spatial {
                axes: NCHW.to_vec(),
                hwc: [oh, ow, *c],
            },
        );
        Ok(())
    }

    /// Checks the graph's output and inserts the flatten layers.
    fn finish(mut self, graph: &GraphProto) -> Result<FloatNet, ImportError> {
        let [out] = &graph.output[..] else {
            return Err(ImportError::Output(format!(
                "the graph has {} outputs; gcnn needs exactly one (the class scores)",
                graph.output.len()
            )));
        };
        match self.values.get(out.name.as_str()) {
            Some(Value::Act {
                step,
                layout: Layout::Flat { order },
            }) if *step == self.step && order.len() >= 2 => {}
            _ => {
                return Err(ImportError::Output(format!(
                    "output '{}' is not the network's final vector of at least two class scores",
                    out.name
                )));
            }
        }
        match self.needs_relu {
            Some(i) if i + 1 == self.net.layers.len() => {}
            _ => return Err(ImportError::Output(
                "the last layer must be a dense layer without Relu (its outputs are the logits)"
                    .into(),
            )),
        }
        // gcnn flattens explicitly, once, before the first dense layer.
        if let Some(first_dense) = self
            .net
            .layers
            .iter()
            .position(|l| matches!(l, FloatLayer::Dense { .. }))
        {
            self.net.layers.insert(
                first_dense,
                FloatLayer::Flatten {
                    name: "flatten".into(),
                },
            );
        }
        if self
            .net
            .layers
            .iter()
            .skip_while(|l| !matches!(l, FloatLayer::Flatten { .. }))
            .any(|l| !matches!(l, FloatLayer::Dense { .. } | FloatLayer::Flatten { .. }))
        {
            return Err(ImportError::Output(
                "a convolution or pooling after a dense layer is not supported".into(),
            ));
        }
        Ok(self.net)
    }
}

/// The single value of a tensor whose elements are all equal.
fn uniform(c: &Const) -> Option<f64> {
    let first = *c.data.first()?;
    c.data.iter().all(|&v| v == first).then_some(first)
}

/// One value per channel from a scalar or a tensor broadcasting along the channel axis.
fn per_channel(c: &Const, l: &Layout, channels: usize) -> Option<Vec<f64>> {
    if let Some(v) = uniform(c) {
        return Some(vec![v; channels]);
    }
    // The one axis of extent > 1 must be the channel axis, right-aligned with the layout.
    let dims = l.dims();
    let channel_axis = match l {
        Layout::Spatial { axes, .. } => axes.iter().position(|&a| a == Axis::C)?,
        Layout::Flat { .. } => 1,
    };
    let pad = dims.len().checked_sub(c.shape.len())?;
    let big: Vec<usize> = c
        .shape
        .iter()
        .enumerate()
        .filter(|&(_, &d)| d > 1)
        .map(|(i, _)| i + pad)
        .collect();
    (big == [channel_axis] && c.len() == channels).then(|| c.data.clone())
}

fn bias_vector(at: &At, bias: Option<Const>, n: usize) -> Result<Vec<f64>, ImportError> {
    match bias {
        None => Ok(vec![0.0; n]),
        Some(b) if b.len() == n => Ok(b.data),
        Some(b) => Err(at.err(format!("bias of shape {:?}, expected {n} values", b.shape))),
    }
}

/// Explicit `[top, left, bottom, right]` padding from `pads` or `auto_pad`.
fn pads(
    at: &At,
    node: &NodeProto,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> Result<[usize; 4], ImportError> {
    let auto = attr(node, "auto_pad").map_or(b"NOTSET".to_vec(), |a| a.s.clone());
    match &auto[..] {
        b"NOTSET" => match attr_ints(node, "pads") {
            None => Ok([0; 4]),
            // ONNX: [y_begin, x_begin, y_end, x_end].
            Some(p) => match p[..] {
                [t, l, b, r] if p.iter().all(|&v| (0..=64).contains(&v)) => {
                    Ok([t as usize, l as usize, b as usize, r as usize])
                }
                _ => Err(at.attr_err("pads", p, "four non-negative integers up to 64")),
            },
        },
        b"VALID" => Ok([0; 4]),
        b"SAME_UPPER" | b"SAME_LOWER" => {
            let total = |i: usize| {
                let out = input[i].div_ceil(stride[i]);
                ((out - 1) * stride[i] + kernel[i]).saturating_sub(input[i])
            };
            let (th, tw) = (total(0), total(1));
            if auto[..] == *b"SAME_UPPER" {
                Ok([th / 2, tw / 2, th - th / 2, tw - tw / 2])
            } else {
                Ok([th - th / 2, tw - tw / 2, th / 2, tw / 2])
            }
        }
        other => Err(at.attr_err(
            "auto_pad",
            String::from_utf8_lossy(other),
            "NOTSET, VALID, SAME_UPPER, SAME_LOWER",
        )),
    }
}

/// `Squeeze`/`Unsqueeze` on a constant.
fn squeeze(op: &str, data: &Const, axes: Option<&[i64]>) -> Result<Const, String> {
    let mut shape = data.shape.clone();
    if op == "Squeeze" {
        let rank = shape.len();
        let mut drop: Vec<usize> = match axes {
            Some(a) => a
                .iter()
                .map(|&x| tensor::axis(x, rank))
                .collect::<Result<_, _>>()?,
            None => (0..rank).filter(|&i| shape[i] == 1).collect(),
        };
        drop.sort_unstable();
        for &i in drop.iter().rev() {
            if shape[i] != 1 {
                return Err(format!("cannot squeeze axis {i} of extent {}", shape[i]));
            }
            shape.remove(i);
        }
    } else {
        let axes = axes.ok_or("Unsqueeze needs axes")?;
        let rank = shape.len() + axes.len();
        let mut ins: Vec<usize> = axes
            .iter()
            .map(|&x| tensor::axis(x, rank))
            .collect::<Result<_, _>>()?;
        ins.sort_unstable();
        for i in ins {
            shape.insert(i, 1);
        }
    }
    Ok(Const {
        shape,
        data: data.data.clone(),
    })
}

/// The layout after reshaping the activation to `target`: a flatten, or a change of layout
/// that only moves axes of extent 1.
fn relabel(l: &Layout, target: &[usize]) -> Option<Layout> {
    match l {
        Layout::Flat { order } => {
            (target.len() == 2 && target[0] == 1 && target[1] == order.len()).then(|| l.clone())
        }
        Layout::Spatial { axes, hwc } => {
            let dims = l.dims();
            if target.len() == 2 && target[0] == 1 {
                // Flatten: ONNX order over `axes` (batch excluded) → gcnn's HWC index.
                let [h, w, c] = *hwc;
                let mut order = Vec::with_capacity(h * w * c);
                let ranges: Vec<(Axis, usize)> = axes
                    .iter()
                    .copied()
                    .zip(dims.iter().copied())
                    .filter(|&(a, _)| a != Axis::N)
                    .collect();
                let total: usize = ranges.iter().map(|r| r.1).product();
                for flat in 0..total {
                    let mut rem = flat;
                    let (mut y, mut x, mut ch) = (0, 0, 0);
                    for &(a, ext) in ranges.iter().rev() {
                        let v = rem % ext;
                        rem /= ext;
                        match a {
                            Axis::H => y = v,
                            Axis::W => x = v,
                            Axis::C => ch = v,
                            Axis::N => {}
                        }
                    }
                    order.push((y * w + x) * c + ch);
                }
                return Some(Layout::Flat { order });
            }
            // Axes of extent > 1 must keep their order; size-1 axes may go anywhere.
            let big: Vec<Axis> = axes
                .iter()
                .zip(&dims)
                .filter(|&(_, &d)| d > 1)
                .map(|(&a, _)| a)
                .collect();
            let big_target: Vec<usize> = target.iter().copied().filter(|&d| d > 1).collect();
            let big_dims: Vec<usize> = dims.iter().copied().filter(|&d| d > 1).collect();
            if big_dims != big_target || target.len() > 4 {
                return None;
            }
            let mut units: Vec<Axis> = [Axis::N, Axis::C, Axis::H, Axis::W]
                .into_iter()
                .filter(|a| !big.contains(a))
                .collect();
            let mut bigs = big.into_iter();
            let mut new_axes = Vec::with_capacity(target.len());
            for &d in target {
                if d > 1 {
                    new_axes.push(bigs.next()?);
                } else {
                    // Prefer N first, then the remaining unit axes in NCHW order.
                    if units.is_empty() {
                        return None;
                    }
                    new_axes.push(units.remove(0));
                }
            }
            // Without all four axes only (N, H, W) with one channel is meaningful.
            Some(Layout::Spatial {
                axes: new_axes,
                hwc: *hwc,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::onnx::{
        Dimension, OperatorSetIdProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto,
        ValueInfoProto, data_type,
    };
    use super::*;

    fn tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
        TensorProto {
            dims: dims.to_vec(),
            data_type: data_type::FLOAT,
            float_data: values.to_vec(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn value(name: &str, dims: &[i64]) -> ValueInfoProto {
        let dim = dims
            .iter()
            .map(|&d| Dimension {
                dim_value: d,
                dim_param: String::new(),
            })
            .collect();
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                tensor_type: Some(TensorTypeProto {
                    elem_type: data_type::FLOAT,
                    shape: Some(TensorShapeProto { dim }),
                }),
            }),
        }
    }

    fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
        NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            name: output.into(),
            op_type: op.into(),
            ..Default::default()
        }
    }

    /// Conv 1×1 (1 → 2 channels) → Relu → GlobalAveragePool → Flatten → Gemm (2 → 2).
    fn global_pool_model(input: &[i64]) -> ModelProto {
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 17,
            }],
            producer_name: "test".into(),
            graph: Some(GraphProto {
                node: vec![
                    node("Conv", &["x", "w", "b"], "c"),
                    node("Relu", &["c"], "r"),
                    node("GlobalAveragePool", &["r"], "g"),
                    node("Flatten", &["g"], "f"),
                    node("Gemm", &["f", "fw"], "y"),
                ],
                initializer: vec![
                    tensor("w", &[2, 1, 1, 1], &[1.0, -1.0]),
                    tensor("b", &[2], &[0.0, 100.0]),
                    tensor("fw", &[2, 2], &[1.0, 0.0, 0.0, 1.0]),
                ],
                input: vec![value("x", input)],
                output: vec![value("y", &[1, 2])],
            }),
        }
    }

    #[test]
    fn global_average_pooling_is_a_window_over_the_whole_image() {
        let net = convert(&global_pool_model(&[1, 1, 4, 4])).unwrap();
        assert_eq!(net.input, [4, 4, 1]);
        let FloatLayer::Pool {
            max, size, stride, ..
        } = &net.layers[1]
        else {
            panic!("{:?}", net.layers)
        };
        assert_eq!((*max, *size, *stride), (false, [4, 4], [4, 4]));
        // Channel 0 averages the pixels, channel 1 averages 100 − pixel.
        let bright = [200u8; 16];
        let dark = [0u8; 16];
        assert_eq!(net.predict(&bright), 0);
        assert_eq!(net.predict(&dark), 1);
        let logits = net.trace(&bright).pop().unwrap().data;
        assert_eq!(logits, vec![200.0, 0.0]);
    }

    #[test]
    fn oversized_and_dynamic_inputs_are_refused() {
        let e = convert(&global_pool_model(&[1, 1, 4096, 4096])).unwrap_err();
        assert!(e.to_string().contains("at most 256x256x16"), "{e}");
        let e = convert(&global_pool_model(&[1, 1, 0, 4])).unwrap_err();
        assert!(e.to_string().contains("dynamic dimension"), "{e}");
        let e = convert(&global_pool_model(&[1, 1, 4])).unwrap_err();
        assert!(e.to_string().contains("Conv"), "{e}");
    }
}
