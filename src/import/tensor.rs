//! Constant tensors of an ONNX graph and the shape arithmetic folded on them.
//!
//! Exporters compute shapes inside the graph: tf2onnx puts `Shape → Gather/Slice →
//! Concat → Cast` in front of the `Reshape` of every Keras `Flatten`, PyTorch emits
//! `Constant` nodes and `Unsqueeze`/`Concat` chains. Once the input's shape is fixed,
//! every such value is a constant, and [`fold`] evaluates it here, numpy-style, on `f64`
//! elements (exact for every 64-bit shape value below 2^53 and for float32 weights).

use super::onnx::{TensorProto, data_type};

/// A dense constant tensor: shape and row-major elements.
#[derive(Clone, Debug, PartialEq)]
pub struct Const {
    /// Extent of each axis.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: Vec<f64>,
}

/// Why a constant could not be read or folded (the caller adds the node or tensor name).
pub type FoldError = String;

/// Largest constant accepted (elements, as for the model format's tensors), so that a
/// lying shape or a broadcast cannot allocate gigabytes.
pub const MAX_ELEMENTS: usize = crate::model::limits::MAX_ELEMENTS;

impl Const {
    /// A tensor of `shape` and `data`, checked to agree.
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Result<Const, FoldError> {
        match element_count(&shape) {
            Some(n) if n == data.len() => Ok(Const { shape, data }),
            _ => Err(format!(
                "shape {shape:?} does not match its {} elements",
                data.len()
            )),
        }
    }

    /// A scalar.
    pub fn scalar(value: f64) -> Const {
        Const {
            shape: Vec::new(),
            data: vec![value],
        }
    }

    /// A 1-D tensor.
    pub fn vector(data: Vec<f64>) -> Const {
        Const {
            shape: vec![data.len()],
            data,
        }
    }

    /// The elements as integers (shapes, axes, indices); fails on a non-integer.
    pub fn ints(&self) -> Result<Vec<i64>, FoldError> {
        self.data
            .iter()
            .map(|&v| {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(v as i64)
                } else {
                    Err(format!("{v} is not an integer"))
                }
            })
            .collect()
    }

    /// Reads an initializer or a `Constant` node's tensor.
    pub fn from_proto(t: &TensorProto) -> Result<Const, FoldError> {
        if t.data_location == 1 {
            return Err("its data is in an external file; export one self-contained file (torch.onnx.export(..., external_data=False))".into());
        }
        let shape = t
            .dims
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
            .collect::<Result<Vec<_>, _>>()?;
        let n = element_count(&shape)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| format!("shape {shape:?} has more than {MAX_ELEMENTS} elements"))?;
        let raw = &t.raw_data;
        let data: Vec<f64> = match t.data_type {
            data_type::FLOAT if !raw.is_empty() => {
                little_endian::<4>(raw, n, |b| f64::from(f32::from_le_bytes(b)))?
            }
            data_type::FLOAT => t.float_data.iter().map(|&v| f64::from(v)).collect(),
            data_type::DOUBLE if !raw.is_empty() => little_endian::<8>(raw, n, f64::from_le_bytes)?,
            data_type::DOUBLE => t.double_data.clone(),
            data_type::INT64 if !raw.is_empty() => {
                little_endian::<8>(raw, n, |b| i64::from_le_bytes(b) as f64)?
            }
            data_type::INT64 => t.int64_data.iter().map(|&v| v as f64).collect(),
            data_type::INT32 if !raw.is_empty() => {
                little_endian::<4>(raw, n, |b| f64::from(i32::from_le_bytes(b)))?
            }
            data_type::UINT8 | data_type::BOOL if !raw.is_empty() => {
                little_endian::<1>(raw, n, |b| f64::from(b[0]))?
            }
            data_type::INT8 if !raw.is_empty() => {
                little_endian::<1>(raw, n, |b| f64::from(i8::from_le_bytes(b)))?
            }
            data_type::INT32 | data_type::UINT8 | data_type::INT8 | data_type::BOOL => {
                t.int32_data.iter().map(|&v| f64::from(v)).collect()
            }
            other => {
                return Err(format!(
                    "element type {other} is not supported (float, double, int8/32/64, uint8, bool are)"
                ));
            }
        };
        Const::new(shape, data)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }
}

/// `Π shape`, or `None` on overflow.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// `n` little-endian elements of `K` bytes each from `raw`, which must hold exactly them.
fn little_endian<const K: usize>(
    raw: &[u8],
    n: usize,
    convert: impl Fn([u8; K]) -> f64,
) -> Result<Vec<f64>, FoldError> {
    if raw.len() != n * K {
        return Err(format!(
            "raw data has {} bytes, its shape needs {}",
            raw.len(),
            n * K
        ));
    }
    Ok(raw
        .chunks_exact(K)
        .map(|c| convert(c.try_into().expect("chunks of K bytes")))
        .collect())
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Normalizes a possibly negative axis of a rank-`rank` tensor.
pub fn axis(value: i64, rank: usize) -> Result<usize, FoldError> {
    let r = rank as i64;
    let a = if value < 0 { value + r } else { value };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {value} is out of range for rank {rank}"))
    }
}

/// Numpy broadcasting of two shapes.
fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, FoldError> {
    let rank = a.len().max(b.len());
    let get = |s: &[usize], i: usize| {
        let pad = rank - s.len();
        if i < pad { 1 } else { s[i - pad] }
    };
    (0..rank)
        .map(|i| match (get(a, i), get(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            (x, y) => Err(format!(
                "shapes {a:?} and {b:?} do not broadcast ({x} vs {y})"
            )),
        })
        .collect()
}

/// The elements of `t` broadcast to `shape` (which [`broadcast_shape`] produced).
fn broadcast_to(t: &Const, shape: &[usize]) -> Vec<f64> {
    let n = element_count(shape).unwrap_or(0);
    let pad = shape.len() - t.shape.len();
    let src_strides = strides(&t.shape);
    let out_strides = strides(shape);
    (0..n)
        .map(|flat| {
            let mut src = 0;
            for (i, &dim) in t.shape.iter().enumerate() {
                let coord = flat / out_strides[i + pad] % shape[i + pad];
                if dim != 1 {
                    src += coord * src_strides[i];
                }
            }
            t.data[src]
        })
        .collect()
}

/// An element-wise binary operation with numpy broadcasting.
pub fn binary(a: &Const, b: &Const, op: impl Fn(f64, f64) -> f64) -> Result<Const, FoldError> {
    let shape = broadcast_shape(&a.shape, &b.shape)?;
    if element_count(&shape).is_none_or(|n| n > MAX_ELEMENTS) {
        return Err(format!("broadcast shape {shape:?} is too large"));
    }
    let (x, y) = (broadcast_to(a, &shape), broadcast_to(b, &shape));
    Const::new(shape, x.iter().zip(&y).map(|(&p, &q)| op(p, q)).collect())
}

/// `Transpose` with permutation `perm` (reversed axes when empty).
pub fn transpose(t: &Const, perm: &[i64]) -> Result<Const, FoldError> {
    let rank = t.shape.len();
    let perm: Vec<usize> = if perm.is_empty() {
        (0..rank).rev().collect()
    } else {
        perm.iter()
            .map(|&p| axis(p, rank))
            .collect::<Result<_, _>>()?
    };
    let mut seen = vec![false; rank];
    if perm.len() != rank || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true)) {
        return Err(format!("perm {perm:?} is not a permutation of {rank} axes"));
    }
    let shape: Vec<usize> = perm.iter().map(|&p| t.shape[p]).collect();
    let src = strides(&t.shape);
    let out = strides(&shape);
    let data = (0..t.len())
        .map(|flat| {
            let idx: usize = (0..rank)
                .map(|i| (flat / out[i] % shape[i]) * src[perm[i]])
                .sum();
            t.data[idx]
        })
        .collect();
    Const::new(shape, data)
}

/// The shape `Reshape` produces from `input` (its element count) and the requested
/// `target` (`0` copies the input's extent, `-1` is inferred).
pub fn reshape_target(input: &[usize], target: &[i64]) -> Result<Vec<usize>, FoldError> {
    let n = element_count(input).unwrap_or(0);
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            0 => {
                out.push(*input.get(i).ok_or_else(|| {
                    format!("shape {target:?}: 0 at axis {i} past the input's rank")
                })?)
            }
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            d if d > 0 => out.push(d as usize),
            _ => return Err(format!("shape {target:?} is not a valid Reshape target")),
        }
    }
    let known = element_count(&out).unwrap_or(0);
    if let Some(i) = infer {
        if known == 0 || !n.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {target:?}"));
        }
        out[i] = n / known;
    }
    if element_count(&out) != Some(n) {
        return Err(format!("cannot reshape {input:?} to {target:?}"));
    }
    Ok(out)
}

/// `Gather` along `axis`.
pub fn gather(data: &Const, indices: &Const, axis_attr: i64) -> Result<Const, FoldError> {
    let a = axis(axis_attr, data.shape.len())?;
    let extent = data.shape[a];
    let idx = indices
        .ints()?
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + extent as i64 } else { i };
            usize::try_from(j)
                .ok()
                .filter(|&j| j < extent)
                .ok_or_else(|| format!("index {i} out of range for extent {extent}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outer: usize = data.shape[..a].iter().product();
    let inner: usize = data.shape[a + 1..].iter().product();
    if element_count(&[outer, idx.len(), inner]).is_none_or(|n| n > MAX_ELEMENTS) {
        return Err(format!(
            "Gather would make more than {MAX_ELEMENTS} elements"
        ));
    }
    let mut out = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &j in &idx {
            let start = (o * extent + j) * inner;
            out.extend_from_slice(&data.data[start..start + inner]);
        }
    }
    let shape = [&data.shape[..a], &indices.shape[..], &data.shape[a + 1..]].concat();
    Const::new(shape, out)
}

/// `Concat` along `axis`.
pub fn concat(parts: &[&Const], axis_attr: i64) -> Result<Const, FoldError> {
    let first = parts.first().ok_or("no inputs")?;
    let a = axis(axis_attr, first.shape.len())?;
    for p in parts {
        let same_rank = p.shape.len() == first.shape.len();
        if !same_rank
            || p.shape
                .iter()
                .zip(&first.shape)
                .enumerate()
                .any(|(i, (x, y))| i != a && x != y)
        {
            return Err(format!(
                "cannot concatenate {:?} and {:?}",
                first.shape, p.shape
            ));
        }
    }
    let outer: usize = first.shape[..a].iter().product();
    let mut shape = first.shape.clone();
    shape[a] = parts.iter().map(|p| p.shape[a]).sum();
    let mut data = Vec::with_capacity(element_count(&shape).unwrap_or(0));
    for o in 0..outer {
        for p in parts {
            let chunk: usize = p.shape[a..].iter().product();
            data.extend_from_slice(&p.data[o * chunk..(o + 1) * chunk]);
        }
    }
    Const::new(shape, data)
}

/// `Slice` with per-axis `starts`, `ends` and `steps` (ONNX clamping rules).
pub fn slice(
    data: &Const,
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<Const, FoldError> {
    let rank = data.shape.len();
    let axes: Vec<usize> = match axes {
        Some(a) => a.iter().map(|&x| axis(x, rank)).collect::<Result<_, _>>()?,
        None => (0..starts.len()).collect(),
    };
    if starts.len() != axes.len() || ends.len() != axes.len() {
        return Err("starts, ends and axes differ in length".into());
    }
    // Per axis: the selected source indices.
    let mut picks: Vec<Vec<usize>> = data.shape.iter().map(|&d| (0..d).collect()).collect();
    for (k, &a) in axes.iter().enumerate() {
        let dim = data.shape[a] as i64;
        let step = steps.map_or(1, |s| s.get(k).copied().unwrap_or(1));
        if step == 0 {
            return Err("slice step 0".into());
        }
        let norm = |v: i64| if v < 0 { v + dim } else { v };
        let (lo, hi) = if step > 0 { (0, dim) } else { (-1, dim - 1) };
        let start = norm(starts[k].clamp(-dim - 1, dim)).clamp(lo, hi);
        let end = norm(ends[k].clamp(-dim - 1, dim)).clamp(lo, hi);
        let mut sel = Vec::new();
        let mut i = start;
        while (step > 0 && i < end) || (step < 0 && i > end) {
            sel.push(i as usize);
            i += step;
        }
        picks[a] = sel;
    }
    let shape: Vec<usize> = picks.iter().map(Vec::len).collect();
    let src = strides(&data.shape);
    let out = strides(&shape);
    let n = element_count(&shape).unwrap_or(0);
    let values = (0..n)
        .map(|flat| {
            let idx: usize = (0..rank)
                .map(|i| picks[i][flat / out[i] % shape[i]] * src[i])
                .sum();
            data.data[idx]
        })
        .collect();
    Const::new(shape, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(shape: &[usize], data: &[f64]) -> Const {
        Const::new(shape.to_vec(), data.to_vec()).unwrap()
    }

    #[test]
    fn broadcasting_follows_numpy() {
        let a = c(&[2, 1], &[1.0, 2.0]);
        let b = c(&[3], &[10.0, 20.0, 30.0]);
        let s = binary(&a, &b, |x, y| x + y).unwrap();
        assert_eq!(s.shape, vec![2, 3]);
        assert_eq!(s.data, vec![11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
        assert!(binary(&c(&[2], &[0.0; 2]), &b, |x, _| x).is_err());
    }

    #[test]
    fn transpose_moves_axes() {
        let t = c(&[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let u = transpose(&t, &[1, 0]).unwrap();
        assert_eq!(u.shape, vec![3, 2]);
        assert_eq!(u.data, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert!(transpose(&t, &[0, 0]).is_err());
    }

    #[test]
    fn the_tf2onnx_flatten_chain_folds() {
        // Shape of (1, 4, 4, 16) → Slice [0:1] → Concat with [-1] → Reshape target.
        let shape = Const::vector(vec![1.0, 4.0, 4.0, 16.0]);
        let head = slice(&shape, &[0], &[1], Some(&[0]), None).unwrap();
        assert_eq!(head.data, vec![1.0]);
        let target = concat(&[&head, &Const::vector(vec![-1.0])], 0).unwrap();
        let out = reshape_target(&[1, 4, 4, 16], &target.ints().unwrap()).unwrap();
        assert_eq!(out, vec![1, 256]);
        let g = gather(&shape, &Const::scalar(0.0), 0).unwrap();
        assert_eq!((g.shape.clone(), g.data.clone()), (vec![], vec![1.0]));
        let big = slice(&shape, &[1], &[i64::MAX], None, None).unwrap();
        assert_eq!(big.data, vec![4.0, 4.0, 16.0]);
        let rev = slice(&shape, &[-1], &[i64::MIN], None, Some(&[-1])).unwrap();
        assert_eq!(rev.data, vec![16.0, 4.0, 4.0, 1.0]);
    }

    #[test]
    fn reshape_rejects_impossible_targets() {
        assert!(reshape_target(&[2, 3], &[4, -1]).is_err());
        assert!(reshape_target(&[2, 3], &[-1, -1]).is_err());
        assert_eq!(reshape_target(&[2, 3], &[0, -1]).unwrap(), vec![2, 3]);
    }
}
