//! Writing a model directory in format version 2, and filling an architecture with
//! random values: how the benchmark networks with random weights are made.

use std::path::Path;

use serde_json::{Value, json};

use super::{Layer, Model, ModelError, PoolKind, WeightEncoding, Weighted};
use crate::crypto::{Block, Prg};

/// The header of a version-1 `.npy` file: magic, version, and the dictionary with
/// dtype `descr` (e.g. `<i4`), C order and `shape`, padded so the data starts at a
/// multiple of 64 bytes.
pub fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

/// A `.npy` file holding `values` as little-endian integers of `width` bytes (1, 2 or
/// 4) in C order.
fn npy(shape: &[usize], values: impl Iterator<Item = i64>, width: usize) -> Vec<u8> {
    let descr = match width {
        1 => "|i1",
        2 => "<i2",
        _ => "<i4",
    };
    let mut out = npy_header(descr, shape);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The `model.json` fields of a weighted layer, and its two tensor files.
fn weighted_json<D: ndarray::Dimension>(
    l: &Weighted<D>,
    mut fields: Value,
) -> (Value, [(String, Vec<u8>); 2]) {
    let (weights, bias) = (format!("{}_w.npy", l.name), format!("{}_b.npy", l.name));
    let encoding = match l.encoding {
        WeightEncoding::Odd => "odd",
        WeightEncoding::Twos => "twos",
    };
    let extra = json!({
        "name": l.name,
        "weight_bits": l.weight_bits,
        "weight_encoding": encoding,
        "bias_bits": l.bias_bits,
        "shift": l.requant.map(|r| r.shift),
        "out_bits": l.requant.map(|r| r.out_bits),
        "weights": weights,
        "bias": bias,
    });
    if let (Some(f), Some(e)) = (fields.as_object_mut(), extra.as_object()) {
        f.extend(e.clone());
        if let Some(bits) = l.acc_bits {
            f.insert("acc_bits".into(), bits.into());
        }
    }
    let width = if l.weights.iter().all(|&w| i8::try_from(w).is_ok()) {
        1
    } else {
        2
    };
    let files = [
        (
            weights,
            npy(l.weights.shape(), l.weights.iter().copied(), width),
        ),
        (bias, npy(&[l.bias.len()], l.bias.iter().copied(), 4)),
    ];
    (fields, files)
}

impl Model {
    /// Writes this model to `dir` (created if missing) as `model.json` in format
    /// version 2 and one `.npy` per tensor (weights int8, or int16 where an 8-bit odd
    /// weight needs it; biases int32), each tensor named after its layer.
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ModelError::Write { path, source }
        };
        std::fs::create_dir_all(dir).map_err(write_err(dir))?;
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut files = Vec::new();
        for layer in &self.layers {
            layers.push(match layer {
                Layer::Conv2d(l, g) => {
                    let s = l.weights.shape();
                    let (fields, tensors) = weighted_json(
                        l,
                        json!({"type": "conv2d", "kernel": g.kernel, "stride": g.stride,
                               "padding": g.padding, "in_channels": s[3],
                               "out_channels": s[0]}),
                    );
                    files.extend(tensors);
                    fields
                }
                Layer::Dense(l) => {
                    let s = l.weights.shape();
                    let (fields, tensors) = weighted_json(
                        l,
                        json!({"type": "dense", "in_features": s[1], "out_features": s[0]}),
                    );
                    files.extend(tensors);
                    fields
                }
                Layer::Pool2d(p) => match p.kind {
                    PoolKind::Max => json!({"type": "maxpool2d", "name": p.name,
                                            "size": p.size, "stride": p.stride}),
                    PoolKind::Avg { shift } => json!({"type": "avgpool2d", "name": p.name,
                                                      "size": p.size, "stride": p.stride,
                                                      "shift": shift}),
                },
                Layer::Flatten { name } => json!({"type": "flatten", "name": name}),
            });
        }
        let description = json!({
            "format": "gcnn-cnn",
            "version": 2,
            "input": {"height": self.input.height, "width": self.input.width,
                      "channels": self.input.channels, "bits": self.input_bits},
            "layers": layers,
        });
        let text = serde_json::to_string_pretty(&description).expect("a JSON value prints");
        let json_path = dir.join("model.json");
        std::fs::write(&json_path, text + "\n").map_err(write_err(&json_path))?;
        for (name, bytes) in files {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(write_err(&path))?;
        }
        Ok(())
    }

    /// This architecture with every weight and bias drawn uniformly from its declared
    /// range by a generator seeded with `seed`: the same seed gives the same model. For
    /// cost measurements (the costs depend only on the architecture), not accuracy.
    /// Where a layer configures `acc_bits`, its largest weights are then moved toward
    /// zero until every output fits it, so the model loads.
    pub fn with_random_values(&self, seed: u64) -> Model {
        let mut prg = Prg::new(Block(u128::from(seed)));
        let mut model = self.clone();
        let mut bits = model.input_bits;
        for layer in &mut model.layers {
            match layer {
                Layer::Conv2d(l, _) => randomize(l, &mut prg, &mut bits),
                Layer::Dense(l) => randomize(l, &mut prg, &mut bits),
                Layer::Pool2d(_) | Layer::Flatten { .. } => {}
            }
        }
        model
    }
}

/// A uniform draw from `lo..=hi`.
fn uniform(prg: &mut Prg, lo: i64, hi: i64) -> i64 {
    let span = (hi - lo + 1) as u128;
    lo + (prg.block().0 % span) as i64
}

/// Fills a layer's weights and biases with uniform values of their encodings, within its
/// configured accumulator width on inputs of `in_bits` bits; `in_bits` becomes the
/// layer's output width.
fn randomize<D: ndarray::RemoveAxis>(l: &mut Weighted<D>, prg: &mut Prg, in_bits: &mut u32) {
    let bits = l.weight_bits;
    let (lo, hi) = l.encoding.range(bits);
    let encoding = l.encoding;
    l.weights.mapv_inplace(|_| match encoding {
        // The 2^bits odd values −(2^bits − 1), …, −1, 1, …, 2^bits − 1.
        WeightEncoding::Odd => 2 * uniform(prg, 0, (1 << bits) - 1) - hi,
        WeightEncoding::Twos => uniform(prg, lo, hi),
    });
    let half = 1i64 << (l.bias_bits - 1);
    l.bias.mapv_inplace(|_| uniform(prg, -half, half - 1));
    fit_reach(l, *in_bits);
    *in_bits = l.requant.map_or(*in_bits, |r| r.out_bits);
}

/// Moves each output's largest weight of the offending sign one step of its encoding
/// toward zero until the output's reach fits the configured `acc_bits`, then, if the
/// weights can shrink no further (odd ones stop at ±1), its bias toward the fitting side
/// within `bias_bits` (a no-op without `acc_bits`; should even that not fit, the loader
/// says which output does not).
fn fit_reach<D: ndarray::RemoveAxis>(l: &mut Weighted<D>, in_bits: u32) {
    let Some(bits) = l.acc_bits else {
        return;
    };
    let half = 1i128 << (bits - 1);
    let xmax = (1i128 << in_bits) - 1;
    // The encoding's step and smallest magnitude: odd weights stop at ±1.
    let (step, floor) = match l.encoding {
        WeightEncoding::Odd => (2, 1),
        WeightEncoding::Twos => (1, 0),
    };
    let (bmin, bmax) = (
        -(1i64 << (l.bias_bits - 1)),
        (1i64 << (l.bias_bits - 1)) - 1,
    );
    let reach = l.reach(in_bits);
    let rows = l.weights.outer_iter_mut().zip(l.bias.iter_mut());
    for ((mut row, bias), (mut lo, mut hi)) in rows.zip(reach) {
        while lo < -half || hi >= half {
            let negative = lo < -half;
            let largest = row
                .iter_mut()
                .filter(|w| (**w < 0) == negative && w.abs() > floor)
                .max_by_key(|w| w.abs());
            let moved = match largest {
                Some(w) => {
                    *w -= step * w.signum();
                    xmax * i128::from(step)
                }
                None if negative && *bias < bmax => {
                    *bias += 1;
                    hi += 1;
                    1
                }
                None if !negative && *bias > bmin => {
                    *bias -= 1;
                    lo -= 1;
                    1
                }
                None => break,
            };
            if negative {
                lo += moved;
            } else {
                hi -= moved;
            }
        }
    }
}
