//! Lowering for the mixed protocol ([`crate::inference`]): the linear part of every
//! weighted layer leaves the circuit, and one small circuit per weighted layer remains.
//!
//! The parties compute each layer's accumulators `acc = bias + Σ w·x` as two additive
//! shares modulo `2^m` (`m` = the layer's accumulator width, wide enough for every
//! value), by oblivious transfer outside any circuit. Stage `k`'s circuit then takes
//!
//! - group 0, the evaluator's: its shares `E`, one `m`-bit word per accumulator;
//! - group 1, the garbler's shares `G`, likewise — owned by the evaluator in the
//!   circuit's sense: the garbler computes `G` only online, after the circuit is garbled,
//!   and sends its labels then, so no gate may treat it as known to the garbling;
//! - group 2, the garbler's (every stage with a requantization, i.e. all but the last,
//!   which the model loader and the pipeline check): one random mask bit per output bit,
//!
//! adds `E + G mod 2^m` (an `m`-bit ripple adder, one AND per bit but the last),
//! requantizes, applies the pooling layers up to the
//! next weighted layer (max: compare and mux, one OR on 1-bit values; average: a sum, a
//! public shift, a saturation), and outputs the activation bits XOR the masks, which the
//! evaluator decodes: uniformly random bits to it, its choice bits for the next layer's
//! transfers. The last stage adds, then outputs only the arg-max class, `⌈log2 classes⌉`
//! bits.
//!
//! One-bit activations need no clamp: `clamp(acc >> s, 0, 1) = [acc ≥ 2^s]`. For them the
//! shares add up to `acc − 2^s` instead ([`Stage::offset`], the garbler subtracts it from
//! its share) and the activation is the inverted sign bit of the sum: the adder's
//! `m − 1` carries and nothing else.
//!
//! **Lookups instead of a circuit.** When such a one-bit stage is not the last, its shares
//! are at most [`MAX_LOOKUP_BITS`] wide and what follows it up to the next weighted layer
//! is at most one pool of at most [`MAX_LOOKUP_BITS`] elements per window (and flattens),
//! every activation is a public function of the evaluator's `m`-bit share once the
//! garbler's is fixed, and every pooled bit a public function of its window's activation
//! bits ([`pool_windows`], [`pool_bit`]: max is an OR, an average a count against
//! `2^shift`). The stage is then [`Nonlinear::Lookup`]: no circuit, two rounds of table
//! lookups (one without a pool), run by the protocol as 1-out-of-`2^n` OTs. Per
//! threshold that is `2^m` table bits instead of `m` share labels and `m − 1` ANDs, per
//! window `2^w` bits instead of `w − 1` ANDs (see [`crate::inference`]), at one more
//! online round trip when a pool follows; the choice is a function of the public
//! architecture and the client's [`Flow`], written in the circuit file.

use super::arith;
use super::builder::{Bit, Builder};
use super::network::{
    Arch, ArchLayer, LayerPlan, Tensor, WeightedArch, acc_range, lower_pool, output_shape,
    pool_shape, requantize, signed_width,
};
use crate::circuit::{Circuit, InputGroup, MAX_INPUT_BITS, Owner};
use crate::model::{ConvGeometry, Pool2d, PoolKind};

/// The public linear structure of a weighted layer: which input feeds which accumulator
/// through which weight follows from it (see [`crate::inference::linear::Fanout`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linear {
    /// Layer name.
    pub name: String,
    /// `(out_c, kh, kw, in_c)` for a convolution, `(out, 1, 1, in)` for dense.
    pub shape: [usize; 4],
    /// A convolution's windows; `None` for a dense layer.
    pub conv: Option<ConvGeometry>,
}

impl Linear {
    /// Accumulators per output position: `kh·kw·in_c` terms each.
    pub fn terms(&self) -> usize {
        self.shape[1] * self.shape[2] * self.shape[3]
    }

    /// The output shape on an input of shape `input`, or `None` if the layer does not fit
    /// it (a convolution's channels or kernel, a dense layer's feature count).
    pub fn output(&self, input: (usize, usize, usize)) -> Option<(usize, usize, usize)> {
        let [o, kh, kw, i] = self.shape;
        match &self.conv {
            Some(g) if input.2 == i && g.kernel == [kh, kw] => {
                let (h, w) = g.output(input.0, input.1)?;
                Some((h, w, o))
            }
            None if (kh, kw) == (1, 1) && input.0 * input.1 * input.2 == i => Some((1, 1, o)),
            _ => None,
        }
    }

    /// The structure of weighted layer `w`.
    pub fn of(w: &WeightedArch) -> Linear {
        Linear {
            name: w.name.clone(),
            shape: w.shape,
            conv: w.conv,
        }
    }
}

/// One weighted layer of the mixed protocol: its public description and its circuit.
pub struct Stage {
    /// The weighted layer whose accumulators the stage takes.
    pub linear: Linear,
    /// The layer's input shape `(h, w, c)`.
    pub input: (usize, usize, usize),
    /// Bits per input value (the layer's choice bits per value).
    pub in_bits: u32,
    /// Width `m` of the shares: wide enough for every value of `acc − offset`.
    pub ring_bits: u32,
    /// Public offset `θ`: the two shares add up to `acc − θ` mod `2^m`.
    pub offset: i128,
    /// What turns the shares into the next layer's choice bits (or the class).
    pub nonlinear: Nonlinear,
}

/// The non-linear part of a stage.
pub enum Nonlinear {
    /// A garbled circuit, its input groups as in the module documentation.
    Circuit(Circuit),
    /// Table lookups (see the module documentation): each accumulator's activation is
    /// `[(E + G) mod 2^m < 2^(m−1)]`, the inverted sign of its `m`-bit shares' sum; then,
    /// with a pool, each output is [`pool_bit`] of its window ([`pool_windows`]).
    Lookup {
        /// The pool after the activations, if any.
        pool: Option<Pool2d>,
    },
}

/// Widest input of a lookup: the shares of a threshold, the bits of a pool's window.
/// A lookup costs `2^n` table bits, a garbled threshold about `52n` bytes; beyond 8 bits
/// the tables grow past what they save (and the protocol's lookup OT stops at 8).
pub const MAX_LOOKUP_BITS: u32 = 8;

/// For each output of `pool` on an input of shape `shape` (HWC order, fewer than 2^32
/// values), the indices of its window's elements, `kh·kw` per output, in the order the
/// circuit's pooling reads them; `None` if the window does not fit.
pub fn pool_windows(pool: &Pool2d, shape: (usize, usize, usize)) -> Option<Vec<u32>> {
    let (_, w, c) = shape;
    let (oh, ow) = pool.geometry().output(shape.0, shape.1)?;
    let [kh, kw] = pool.size;
    let [sh, sw] = pool.stride;
    let mut out = Vec::with_capacity(oh * ow * c * kh * kw);
    for y in 0..oh {
        for x in 0..ow {
            for ch in 0..c {
                out.extend(
                    (0..kh * kw)
                        .map(|d| (((y * sh + d / kw) * w + x * sw + d % kw) * c + ch) as u32),
                );
            }
        }
    }
    Some(out)
}

/// The pooled value of a window of one-bit activations, `window` holding them from its
/// least significant bit: max is their OR; an average `min(Σ >> shift, 1)`, a count of
/// at least `2^shift`.
pub fn pool_bit(kind: PoolKind, window: u32) -> bool {
    match kind {
        PoolKind::Max => window != 0,
        PoolKind::Avg { shift } => window.count_ones().checked_shr(shift).unwrap_or(0) != 0,
    }
}

/// The lookup form of a one-bit stage followed by `tail`, if it has one: at most one
/// pool, before any flatten, of at most [`MAX_LOOKUP_BITS`] elements per window.
fn lookup_tail(tail: &[&ArchLayer]) -> Option<Nonlinear> {
    let mut pool = None;
    let mut flattened = false;
    for layer in tail {
        match layer {
            ArchLayer::Flatten => flattened = true,
            ArchLayer::Pool(p)
                if pool.is_none()
                    && !flattened
                    && p.size[0] * p.size[1] <= MAX_LOOKUP_BITS as usize =>
            {
                pool = Some(p.clone());
            }
            _ => return None,
        }
    }
    Some(Nonlinear::Lookup { pool })
}

/// What the compiler lowers a one-bit stage with a lookup form to: the two trade bytes
/// against round trips, and the client picks (both are public; the garbler serves
/// either, by the circuit hash the client's handshake names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flow {
    /// Lookups wherever a stage has the form ([`Nonlinear::Lookup`]): the fewest bytes,
    /// at one more online round trip per lookup stage with a pool (the pool's tables
    /// wait for the thresholds'). The default: it wins wherever sending the bytes it
    /// saves takes longer than a round trip (the README's WAN section).
    #[default]
    FewestBytes,
    /// Every stage a circuit: one online round trip per weighted layer, for links
    /// whose round trip outlasts sending the lookups' savings (long and fast).
    FewestRoundTrips,
}

impl Flow {
    /// Both flows, the default first.
    pub const ALL: [Flow; 2] = [Flow::FewestBytes, Flow::FewestRoundTrips];

    /// The flow's name, as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Flow::FewestBytes => "fewest-bytes",
            Flow::FewestRoundTrips => "fewest-round-trips",
        }
    }
}

named_choice!(Flow, "flow");

/// Most multiply-accumulates one layer may have (LeNet's conv2 has 409 600): bounds the
/// fan-out tables of the products, whose indices are 32-bit.
pub const MAX_ENTRIES: u64 = 1 << 26;
/// Widest ring of shares the protocol handles.
pub const MAX_RING_BITS: u32 = 64;

/// Why a layer cannot be a stage of the mixed protocol: too large for its bounds
/// (checked before its circuit is built), or a pool before the first weighted layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageLimit {
    /// The layer.
    pub layer: String,
    /// What exceeds which bound.
    pub reason: String,
}

/// Checks a stage's sizes against the protocol's bounds before anything is allocated
/// for it: multiply-accumulates, ring width, and the share bits of its circuit (which
/// a circuit file may hold at most [`MAX_INPUT_BITS`] of).
fn check_limits(w: &WeightedArch, plan: &LayerPlan, ring_bits: u32) -> Result<(), StageLimit> {
    let (h, wd, c) = output_shape(w, plan.input);
    let outputs = (h * wd * c) as u64;
    let entries = outputs * w.terms() as u64;
    let share_bits = outputs * u64::from(ring_bits);
    let reason = if entries > MAX_ENTRIES {
        format!("{entries} multiply-accumulates, more than the protocol's {MAX_ENTRIES}")
    } else if ring_bits > MAX_RING_BITS {
        format!("accumulators need {ring_bits} bits, more than the protocol's {MAX_RING_BITS}")
    } else if share_bits > MAX_INPUT_BITS {
        format!("{share_bits} share bits, more than a circuit's {MAX_INPUT_BITS} inputs")
    } else {
        return Ok(());
    };
    Err(StageLimit {
        layer: w.name.clone(),
        reason,
    })
}

/// The stages of `arch`, one per weighted layer, in order, lowered for `flow`; refuses a
/// layer beyond the protocol's bounds.
pub fn compile_stages(arch: &Arch, flow: Flow) -> Result<Vec<Stage>, StageLimit> {
    // The pixels are the first layer's choice bits: nothing may come before it but a
    // (free) flatten.
    if let Some(ArchLayer::Pool(p)) = arch
        .layers
        .iter()
        .take_while(|l| !matches!(l, ArchLayer::Weighted(_)))
        .find(|l| matches!(l, ArchLayer::Pool(_)))
    {
        return Err(StageLimit {
            layer: p.name.clone(),
            reason: "pooling before the first weighted layer".into(),
        });
    }
    let plans = arch.plan();
    let layers: Vec<(&ArchLayer, &LayerPlan)> = arch.layers.iter().zip(&plans).collect();
    let mut stages = Vec::new();
    for (k, &(layer, plan)) in layers.iter().enumerate() {
        let ArchLayer::Weighted(w) = layer else {
            continue;
        };
        let tail: Vec<&ArchLayer> = layers[k + 1..]
            .iter()
            .map(|&(l, _)| l)
            .take_while(|l| !matches!(l, ArchLayer::Weighted(_)))
            .collect();
        let (offset, ring_bits) = match w.requant {
            Some(r) if r.out_bits == 1 => {
                let theta = 1i128 << r.shift;
                let (lo, hi) = acc_range(w, plan.in_bits, w.terms());
                let worst = || signed_width(lo - theta, hi - theta);
                (theta, w.acc_bits.unwrap_or_else(worst))
            }
            _ => (0, plan.acc_bits),
        };
        check_limits(w, plan, ring_bits)?;
        let lookup = match w.requant {
            Some(r)
                if flow == Flow::FewestBytes && r.out_bits == 1 && ring_bits <= MAX_LOOKUP_BITS =>
            {
                lookup_tail(&tail)
            }
            _ => None,
        };
        stages.push(Stage {
            nonlinear: lookup.unwrap_or_else(|| {
                Nonlinear::Circuit(lower_stage(
                    w,
                    plan.input,
                    ring_bits as usize,
                    offset != 0,
                    &tail,
                ))
            }),
            linear: Linear::of(w),
            input: plan.input,
            in_bits: plan.in_bits,
            ring_bits,
            offset,
        });
    }
    Ok(stages)
}

/// Values left after the pooling layers in `tail`, starting from `shape`.
fn pooled_len(shape: (usize, usize, usize), tail: &[&ArchLayer]) -> usize {
    let (h, w, c) = tail.iter().fold(shape, |s, l| match l {
        ArchLayer::Pool(p) => pool_shape(p, s),
        _ => s,
    });
    h * w * c
}

/// The circuit of one stage on shares of `m` bits; with `threshold` the shares add up to
/// `acc − 2^shift` and the one-bit activation is their sum's inverted sign.
fn lower_stage(
    w: &WeightedArch,
    input: (usize, usize, usize),
    m: usize,
    threshold: bool,
    tail: &[&ArchLayer],
) -> Circuit {
    let shape = output_shape(w, input);
    let n = shape.0 * shape.1 * shape.2;
    let share = |owner| InputGroup {
        owner,
        width: (n * m) as u32,
    };
    // Both shares enter as labels (see the module doc).
    let mut groups = vec![share(Owner::Evaluator), share(Owner::Evaluator)];
    if let Some(r) = w.requant {
        groups.push(InputGroup {
            owner: Owner::Garbler,
            width: (pooled_len(shape, tail) * r.out_bits as usize) as u32,
        });
    }
    let (mut b, inputs) = Builder::new(groups);
    b.section(&w.name);
    let pairs: Vec<(&[Bit], &[Bit])> = inputs[0].chunks(m).zip(inputs[1].chunks(m)).collect();
    let data = arith::add_lockstep(&mut b, &pairs)
        .into_iter()
        .map(|acc| {
            if threshold {
                let sign = *acc.last().expect("m ≥ 1");
                vec![b.not(sign)]
            } else {
                requantize(&mut b, acc, w.requant)
            }
        })
        .collect();
    let mut t = Tensor { shape, data };
    for layer in tail {
        match layer {
            ArchLayer::Pool(p) => {
                b.section(&p.name);
                // Pools follow a requantized layer: its activations are `out_bits` wide.
                let bits = w.requant.map_or(0, |r| r.out_bits);
                t = lower_pool(&mut b, &t, p, bits);
            }
            ArchLayer::Flatten => t.shape = (1, 1, t.data.len()),
            ArchLayer::Weighted(_) => unreachable!("a stage's tail stops at a weighted layer"),
        }
    }
    let output = match inputs.get(2) {
        Some(masks) => {
            let bits: Vec<Bit> = t.data.iter().flatten().copied().collect();
            bits.iter().zip(masks).map(|(&a, &r)| b.xor(a, r)).collect()
        }
        None => {
            b.section("argmax");
            arith::argmax(&mut b, &t.data, true)
        }
    };
    b.finish(vec![output])
}
