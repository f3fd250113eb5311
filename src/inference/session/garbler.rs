//! The garbler's side of a session: offline OTs, corrections and garbling; online its
//! shares' input labels.

use super::super::linear::Products;
use super::super::pipeline::{NonlinearPlan, Pipeline, StagePlan};
use super::super::ring;
use super::lookups::LookupGarbler;
use super::{bits_of, random_bits};
use crate::channel::{Channel, Counting};
use crate::crypto::{Block, Delta, Label, Prg, random_seed};
use crate::garble::{GateScheme, Program, SchemeGarbler, decoding_bits};
use crate::ot::SoftSpokenSender;
use crate::ot::softspoken::DEFAULT_K;
use crate::protocol::{ProtocolError, SessionReport};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// What the garbler keeps of one stage from the offline phase.
struct GarblerStage {
    /// Its side of the layer's products for the evaluator's random choices.
    products: Products,
    nonlinear: Offline,
}

/// The offline state of a stage's non-linear part.
enum Offline {
    /// The zero labels the stage circuit was garbled with for the garbler's share bits.
    Circuit(Zeroizing<Vec<Label>>),
    Lookup(LookupGarbler),
}

/// The sender's ends of a stage's OTs beyond its products: the Δ-correlated ends `q` of
/// the evaluator's share bits (a circuit), or the random-OT key pairs of its lookups.
enum Ends {
    Correlated(Zeroizing<Vec<Block>>),
    Random(Zeroizing<Vec<[Block; 2]>>),
}

/// The garbler's side, once the evaluator's handshake has been read from `channel` and
/// found to match ours for `images` images ([`crate::inference::ModelOwner::admit`]):
/// `values` are its weights and biases per weighted layer (see
/// [`crate::inference::ModelOwner`]). Learns nothing. Each image's offline and online
/// phase begin a channel phase ([`Channel::begin_phase`]); the report sums them. ANDs
/// are garbled with `gate_scheme`, the one the evaluator offered.
pub(in crate::inference) fn run_garbler<C: Channel>(
    mut channel: Counting<C>,
    pipeline: &Pipeline,
    values: &[(Vec<i64>, Vec<i64>)],
    images: u32,
    gate_scheme: GateScheme,
) -> Result<SessionReport, ProtocolError> {
    let start = Instant::now();
    // Flushed at once: the client waits for it, and its base-OT point is already on
    // the way, so the points follow without a round trip of their own.
    pipeline
        .handshake_for(gate_scheme, images)
        .answer(&mut channel)?;
    channel.begin_phase();
    let delta = Delta::new(random_seed()?);
    let ot = SoftSpokenSender::setup(&mut channel, delta.clone(), DEFAULT_K)?;
    let mut link = Link {
        channel,
        ot,
        delta,
        prg: Prg::from_os()?,
        tweak: 0,
        gate_scheme,
        spare: Vec::new(),
        spare_keys: Vec::new(),
    };
    let mut online = Duration::ZERO;
    let mut layers: Vec<(String, Duration)> = Vec::new();
    for _ in 0..images {
        let kept = link.offline(pipeline, values)?;
        let setup = Instant::now();
        let times = link.online(pipeline, kept)?;
        online += setup.elapsed();
        if layers.is_empty() {
            layers = times;
        } else {
            layers.iter_mut().zip(times).for_each(|(l, t)| l.1 += t.1);
        }
    }
    // Everything but the images' online phases counts as offline: the handshake, the
    // base OTs and each image's offline phase.
    let end = Instant::now();
    Ok(SessionReport::new(
        &link.channel,
        [start, end - online, end],
        layers,
    ))
}

/// What the images of one session share: the channel, the OT extension, Δ, the mask
/// generator and the garbling tweak counter, which runs on from image to image so that
/// no (input, tweak) pair is hashed twice under the one Δ; and the last image's
/// products and random-OT key pairs, whose buffers the next one reuses (their pages
/// stay mapped).
struct Link<C> {
    channel: Counting<C>,
    ot: SoftSpokenSender,
    delta: Delta,
    prg: Prg,
    tweak: u64,
    gate_scheme: GateScheme,
    spare: Vec<Products>,
    /// In the order the stages draw them: each stage's product keys, then a lookup
    /// stage's key pairs.
    spare_keys: Vec<Zeroizing<Vec<[Block; 2]>>>,
}

impl<C: Channel> Link<C> {
    /// One image's offline phase: its OTs, products, garbled stages or lookup masks, and
    /// decoding bits.
    fn offline(
        &mut self,
        pipeline: &Pipeline,
        values: &[(Vec<i64>, Vec<i64>)],
    ) -> Result<Vec<GarblerStage>, ProtocolError> {
        let Link {
            channel,
            ot,
            delta,
            prg,
            tweak,
            gate_scheme,
            spare,
            spare_keys,
        } = self;
        channel.begin_phase();
        let mut buffers = std::mem::take(spare_keys).into_iter();
        let mut random = |ot: &mut SoftSpokenSender, channel: &mut Counting<C>, n| {
            let mut keys = buffers.next().unwrap_or_default();
            ot.random_into(channel, n, &mut keys).map(|()| keys)
        };
        // The OTs first, all of them: their matrices are the evaluator's only offline
        // message after the base OTs, and the shares' OT ends are the zero labels of its
        // share inputs.
        let mut ots = Vec::with_capacity(pipeline.stages.len());
        for stage in &pipeline.stages {
            let keys = random(ot, channel, stage.choice_bits())?;
            let ends = match stage.nonlinear {
                NonlinearPlan::Circuit(_) => {
                    Ends::Correlated(ot.extend_correlated(channel, stage.share_bits())?)
                }
                NonlinearPlan::Lookup(_) => Ends::Random(random(ot, channel, stage.lookup_ots())?),
            };
            ots.push((keys, ends));
        }
        // The pixels reach the first layer unmasked: the evaluator knows them.
        let mut masks = Zeroizing::new(vec![false; pipeline.pixel_bits()]);
        let mut offline = Vec::with_capacity(pipeline.stages.len());
        let mut garbler =
            SchemeGarbler::new(*gate_scheme, &mut *channel, delta.clone(), random_seed()?)
                .starting_at(*tweak);
        let mut spare = std::mem::take(spare).into_iter();
        for ((stage, (weights, bias)), (keys, ends)) in pipeline.stages.iter().zip(values).zip(ots)
        {
            let products = stage.fanout.garbler_products(
                garbler.channel(),
                (weights, bias),
                (stage.in_bits, stage.ring_bits),
                &keys,
                &masks,
                spare.next().unwrap_or_default(),
            )?;
            spare_keys.push(keys);
            let outputs = if stage.last { 0 } else { stage.outputs() };
            masks = random_bits(prg, outputs);
            let nonlinear = match (&stage.nonlinear, ends) {
                (NonlinearPlan::Circuit(program), Ends::Correlated(q)) => {
                    Offline::Circuit(garble(&mut garbler, program, &masks, &q, prg)?)
                }
                (NonlinearPlan::Lookup(_), Ends::Random(pairs)) => {
                    let lookups = LookupGarbler::new(stage, &pairs, &masks, prg);
                    spare_keys.push(pairs);
                    Offline::Lookup(lookups)
                }
                _ => unreachable!("each stage's OTs follow its kind"),
            };
            offline.push(GarblerStage {
                products,
                nonlinear,
            });
        }
        garbler.channel().flush()?;
        *tweak = garbler.tweaks_used();
        Ok(offline)
    }

    /// One image's online phase: returns each layer's time.
    fn online(
        &mut self,
        pipeline: &Pipeline,
        offline: Vec<GarblerStage>,
    ) -> Result<Vec<(String, Duration)>, ProtocolError> {
        let Link {
            channel,
            delta,
            spare,
            ..
        } = self;
        channel.begin_phase();
        let mut layers = Vec::with_capacity(pipeline.stages.len());
        for (stage, off) in pipeline.stages.iter().zip(offline) {
            let begin = Instant::now();
            let d = channel.read_bits(stage.choice_bits())?;
            let share = off.products.share(&stage.fanout, stage.in_bits, &d);
            match &off.nonlinear {
                Offline::Circuit(zeros) => send_share(&mut *channel, stage, delta, zeros, share)?,
                Offline::Lookup(lookups) => lookups.answer(&mut *channel, stage, &share)?,
            }
            layers.push((stage.name.clone(), begin.elapsed()));
            spare.push(off.products);
        }
        Ok(layers)
    }
}

/// Garbles a stage circuit with the output masks `masks`, the OT ends `q` as the zero
/// labels of the evaluator's share bits and fresh ones for the garbler's; sends the
/// tables and the decoding bits. Returns the garbler's zero labels.
fn garble<C: Channel>(
    garbler: &mut SchemeGarbler<C>,
    program: &Program,
    masks: &[bool],
    q: &[Block],
    prg: &mut Prg,
) -> Result<Zeroizing<Vec<Label>>, ProtocolError> {
    let zeros: Zeroizing<Vec<Label>> =
        Zeroizing::new((0..q.len()).map(|_| Label(prg.block())).collect());
    // The evaluator's share bits take the OT ends `q` as zero labels: its own ends
    // `q ⊕ R·Δ` are then its labels for its random share `R`, with no message.
    let mut inputs = Zeroizing::new(Vec::with_capacity(2 * q.len()));
    inputs.extend(q.iter().map(|&q| Label(q)));
    inputs.extend_from_slice(zeros.as_slice());
    let outputs = Zeroizing::new(garbler.garble(program, masks, &inputs)?);
    garbler.channel().write_bits(&decoding_bits(&outputs))?;
    Ok(zeros)
}

/// Online for a circuit stage: reads `f = E − R` and sends the labels of
/// `G + f = acc − R` for its share `G`.
fn send_share<C: Channel>(
    channel: &mut C,
    stage: &StagePlan,
    delta: &Delta,
    zeros: &[Label],
    mut share: Zeroizing<Vec<u64>>,
) -> Result<(), ProtocolError> {
    let mut f = vec![0u64; stage.fanout.outputs()];
    ring::read(channel, &mut f, stage.ring_bits, &mut Vec::new())?;
    let mask = ring::mask(stage.ring_bits);
    share
        .iter_mut()
        .zip(&f)
        .for_each(|(g, f)| *g = g.wrapping_add(*f) & mask);
    let bits = bits_of(&share, stage.ring_bits);
    for (&zero, &b) in zeros.iter().zip(bits.iter()) {
        channel.write_block(zero.0 ^ delta.select(b))?;
    }
    Ok(channel.flush()?)
}
