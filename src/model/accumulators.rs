//! The accumulators a weighted layer can reach, against its configured width.
//!
//! The protocol computes a layer's accumulators `acc = bias + Σ w·x` as additive shares
//! modulo `2^m` and reads them back as `m`-bit two's-complement values (see
//! [`crate::compiler::stages`]), so `m` must hold every value they can take. Without
//! configuration `m` is the worst case of the public widths: every weight at its
//! encoding's extreme, every input at its largest. A trained layer reaches far less (the
//! LeNet's conv1, 4-bit weights on 1-bit pixels: at most ±439 by the widths, within ±128
//! trained), and every bit of `m` costs one bit per product in the oblivious transfers
//! and one AND per accumulator in the circuits; above 8 bits it puts conv1 out of the
//! lookups' reach.
//!
//! `acc_bits` in `model.json` is that `m` when it is configured, like `bias_bits`: a
//! public width fixed before training (`models/train.py --acc-bits`), which training
//! keeps every output within, never one computed from the trained values. The loader
//! ([`Model::load`]) refuses a model one of whose outputs can leave it, so the integer
//! reference, which never wraps, stays the function the protocol computes.
//!
//! What must fit: for every output `o` and every input of the layer's width, its
//! accumulator, and for a one-bit layer also the accumulator less `2^shift`, which is
//! what that layer's shares add up to ([`crate::compiler::stages`]). Inputs range over
//! `0..=2^a − 1` independently (zero padding is one of those values), so the extremes pair
//! every negative weight, or every positive one, with the largest input.

use std::ops::RangeInclusive;

use ndarray::{Axis, RemoveAxis};
use thiserror::Error;

use super::{Layer, Model, Weighted};

/// The widths `acc_bits` may configure: a sign and a bit at least; at most the widest
/// the reference's `i64` arithmetic and the protocol's ring carry with room to spare.
pub const WIDTHS: RangeInclusive<u32> = 2..=62;

/// Whether `bits`-bit two's complement holds every value from `lo` to `hi`.
pub fn fits(bits: u32, (lo, hi): (i128, i128)) -> bool {
    let half = 1i128 << (bits - 1);
    -half <= lo && hi < half
}

/// An output that can leave its layer's configured accumulator width.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error(
    "output {output} reaches accumulators in [{lo}, {hi}], outside acc_bits {bits} ([{}, {}])",
    -(1i128 << (bits - 1)),
    (1i128 << (bits - 1)) - 1
)]
pub struct Overflow {
    /// The layer.
    pub layer: String,
    /// The output channel or feature.
    pub output: usize,
    /// The lowest value its shares must represent.
    pub lo: i128,
    /// The highest.
    pub hi: i128,
    /// The configured width.
    pub bits: u32,
}

impl<D: RemoveAxis> Weighted<D> {
    /// For every output, the lowest and the highest value its shares must represent, on
    /// inputs of `in_bits` bits: the lowest accumulator (less `2^shift` for a one-bit
    /// layer) and the highest accumulator.
    pub fn reach(&self, in_bits: u32) -> Vec<(i128, i128)> {
        let xmax = (1i128 << in_bits) - 1;
        let theta = match self.requant {
            Some(r) if r.out_bits == 1 => 1i128 << r.shift,
            _ => 0,
        };
        self.weights
            .axis_iter(Axis(0))
            .zip(&self.bias)
            .map(|(row, &b)| {
                let (neg, pos) = row.iter().fold((0i128, 0i128), |(n, p), &w| {
                    let w = i128::from(w);
                    (n + w.min(0), p + w.max(0))
                });
                let b = i128::from(b);
                (b - theta + xmax * neg, b + xmax * pos)
            })
            .collect()
    }

    /// The narrowest accumulator width every output fits on inputs of `in_bits` bits
    /// (at least the smallest of [`WIDTHS`]): what training may configure at most this
    /// tightly, never what an export may write, which would tell the client the trained
    /// weights' reach.
    pub fn narrowest(&self, in_bits: u32) -> u32 {
        let reach = self.reach(in_bits);
        WIDTHS
            .clone()
            .find(|&k| reach.iter().all(|&r| fits(k, r)))
            .unwrap_or(*WIDTHS.end())
    }

    /// Whether every output fits the configured accumulator width (trivially without one).
    fn check_reach(&self, in_bits: u32) -> Result<(), Overflow> {
        let Some(bits) = self.acc_bits else {
            return Ok(());
        };
        match self
            .reach(in_bits)
            .into_iter()
            .enumerate()
            .find(|&(_, r)| !fits(bits, r))
        {
            None => Ok(()),
            Some((output, (lo, hi))) => Err(Overflow {
                layer: self.name.clone(),
                output,
                lo,
                hi,
                bits,
            }),
        }
    }
}

impl Model {
    /// Checks every layer with a configured `acc_bits` against what its outputs can reach.
    pub fn check_accumulators(&self) -> Result<(), Overflow> {
        let mut bits = self.input_bits;
        for layer in &self.layers {
            let (checked, out) = match layer {
                Layer::Conv2d(l, _) => (l.check_reach(bits), l.requant),
                Layer::Dense(l) => (l.check_reach(bits), l.requant),
                Layer::Pool2d(_) | Layer::Flatten { .. } => continue,
            };
            checked?;
            bits = out.map_or(bits, |r| r.out_bits);
        }
        Ok(())
    }
}
