//! One private inference: the mixed protocol over a [`Channel`], in an offline and an
//! online phase.
//!
//! **Offline** (input-independent, before the image is used): handshake, 128 base OTs;
//! per weighted layer, random OTs for its products (the evaluator's choices random), and
//! Δ-correlated OTs for its share bits (choices random too, `R`); then every stage circuit
//! garbled with a random garbler share `S`, fresh output masks and fresh input zero labels
//! `L`, its tables and decoding bits sent, the evaluator storing them.
//!
//! **Online**, per weighted layer:
//! 1. the evaluator sends `d = a ⊕ c` (its true choice bits against the offline random
//!    ones; Beaver's derandomization), the garbler swaps each key pair where `d = 1` and
//!    streams the correction vectors ([`super::linear`]); both hold shares `E + G = acc`;
//! 2. the garbler sends `δ = G − S` (uniform to the evaluator, `S` being uniform), so the
//!    evaluator's `E' = E + δ` satisfies `E' + S = acc`, the sum the circuit computes;
//! 3. the evaluator sends `e = E' ⊕ R`, the garbler answers `W = L ⊕ q ⊕ e·Δ` per bit, and
//!    the evaluator's offline `q ⊕ R·Δ` becomes `L ⊕ E'·Δ`: its input labels;
//! 4. the evaluator evaluates the stored tables and decodes the masked outputs: its
//!    choice bits for the next layer (or, at the end, the class).
//!
//! One Δ, one IKNP instance and one garbler (so one tweak counter per domain) serve the
//! whole session, so no (input, tweak) pair is hashed twice; all are fresh per session.

use super::pipeline::Pipeline;
use super::ring;
use crate::channel::{Buffer, Channel, Counting};
use crate::crypto::{Block, Delta, Label, Prg, random_seed};
use crate::garble::{Evaluator, Garbler, decoding_bits};
use crate::ot::{IknpReceiver, IknpSender};
use crate::protocol::{ProtocolError, SessionReport};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The bits of `values` (each `m` bits, least significant first), with room for `extra`
/// more: allocated once, so no reallocation leaves a copy of a secret behind.
fn bits_of(values: &[u64], m: u32, extra: usize) -> Zeroizing<Vec<bool>> {
    let mut bits = Zeroizing::new(Vec::with_capacity(values.len() * m as usize + extra));
    for &v in values {
        bits.extend((0..m).map(|j| v >> j & 1 == 1));
    }
    bits
}

fn report<C: Channel>(
    channel: &Counting<C>,
    [start, setup, end]: [Instant; 3],
    layers: Vec<(String, Duration)>,
) -> SessionReport {
    SessionReport {
        bytes_sent: channel.sent(),
        bytes_received: channel.received(),
        setup: setup - start,
        online: end - setup,
        total: end - start,
        layers,
    }
}

/// What the garbler keeps of one stage from the offline phase.
struct GarblerStage {
    /// Random-OT key pairs for the layer's products.
    keys: Zeroizing<Vec<[Block; 2]>>,
    /// Its correlated-OT ends `q` for the share bits.
    q: Zeroizing<Vec<Block>>,
    /// The zero labels the stage was garbled with for the evaluator's share bits.
    zeros: Zeroizing<Vec<Label>>,
    /// Its hard-wired share `S`.
    share: Zeroizing<Vec<u64>>,
    /// The masks on the stage's outputs (the next layer's inputs); empty for the last.
    masks: Zeroizing<Vec<bool>>,
}

/// The garbler's side: `values` are its weights and biases per weighted layer (see
/// [`super::ModelOwner`]). Learns nothing.
pub(super) fn run_garbler<C: Channel>(
    channel: C,
    pipeline: &Pipeline,
    values: &[(Vec<i64>, Vec<i64>)],
) -> Result<SessionReport, ProtocolError> {
    let start = Instant::now();
    let mut channel = Counting::new(channel);
    pipeline.handshake().exchange(&mut channel)?;
    let delta = Delta::new(random_seed()?);
    let mut ot = IknpSender::setup(&mut channel, delta.clone())?;
    let mut prg = Prg::from_os()?;
    let mut offline = Vec::with_capacity(pipeline.stages.len());
    for stage in &pipeline.stages {
        let keys = ot.random(&mut channel, stage.choice_bits())?;
        let q = ot.extend_correlated(&mut channel, stage.share_bits())?;
        let mask = ring::mask(stage.ring_bits);
        let n = stage.fanout.outputs();
        let share = Zeroizing::new((0..n).map(|_| prg.block().0 as u64 & mask).collect());
        let outputs = if stage.last {
            0
        } else {
            stage.program.outputs().len()
        };
        let masks = Zeroizing::new((0..outputs).map(|_| prg.bit()).collect());
        let zeros = Zeroizing::new((0..q.len()).map(|_| Label(prg.block())).collect());
        offline.push(GarblerStage {
            keys,
            q,
            zeros,
            share,
            masks,
        });
    }
    let mut garbler = Garbler::new(&mut channel, delta.clone());
    for (stage, off) in pipeline.stages.iter().zip(&offline) {
        let mut hardwired = bits_of(&off.share, stage.ring_bits, off.masks.len());
        hardwired.extend_from_slice(&off.masks);
        let outputs = Zeroizing::new(garbler.garble(&stage.program, &hardwired, &off.zeros)?);
        garbler.channel().write_bits(&decoding_bits(&outputs))?;
    }
    garbler.channel().flush()?;
    drop(garbler);
    let setup = Instant::now();

    // The pixels reach the first layer unmasked: the evaluator knows them. Each stage's
    // offline secrets are dropped (wiped) once its layer is done, its masks one layer later.
    let mut masks = Zeroizing::new(vec![false; pipeline.pixel_bits()]);
    let mut layers = Vec::with_capacity(pipeline.stages.len());
    for ((stage, (weights, bias)), mut off) in pipeline.stages.iter().zip(values).zip(offline) {
        let begin = Instant::now();
        let d = channel.read_bits(stage.choice_bits())?;
        let keys: Zeroizing<Vec<[Block; 2]>> = Zeroizing::new(
            off.keys
                .iter()
                .zip(&d)
                .map(|(&[k0, k1], &dj)| if dj { [k1, k0] } else { [k0, k1] })
                .collect(),
        );
        let g = stage.fanout.garbler_shares(
            &mut channel,
            (weights, bias),
            stage.in_bits,
            stage.ring_bits,
            &keys,
            &masks,
        )?;
        let mask = ring::mask(stage.ring_bits);
        let delta_share: Vec<u64> = g
            .iter()
            .zip(off.share.iter())
            .map(|(&g, &s)| g.wrapping_sub(s) & mask)
            .collect();
        ring::write(&mut channel, &delta_share, stage.ring_bits, &mut Vec::new())?;
        channel.flush()?;
        let e = channel.read_bits(stage.share_bits())?;
        for ((&l, &q), &ej) in off.zeros.iter().zip(off.q.iter()).zip(&e) {
            channel.write_block(l.0 ^ q ^ delta.select(ej))?;
        }
        channel.flush()?;
        masks = std::mem::take(&mut off.masks);
        layers.push((stage.name.clone(), begin.elapsed()));
    }
    Ok(report(&channel, [start, setup, Instant::now()], layers))
}

fn check_pixels(pipeline: &Pipeline, pixels: &[bool]) -> Result<(), ProtocolError> {
    if pixels.len() != pipeline.pixel_bits() {
        return Err(ProtocolError::InputCount {
            expected: pipeline.pixel_bits(),
            got: pixels.len(),
        });
    }
    Ok(())
}

/// What the evaluator keeps of one stage from the offline phase.
struct EvaluatorStage {
    /// Its random choices `c` for the product OTs, and the keys they selected.
    choices: Zeroizing<Vec<bool>>,
    keys: Zeroizing<Vec<Block>>,
    /// Its random choices `R` for the share-bit OTs, and its ends `q ⊕ R·Δ`.
    r: Zeroizing<Vec<bool>>,
    t: Zeroizing<Vec<Block>>,
    /// The decoding bits of the stage's outputs.
    decoding: Vec<bool>,
}

fn random_bits(prg: &mut Prg, n: usize) -> Zeroizing<Vec<bool>> {
    Zeroizing::new((0..n).map(|_| prg.bit()).collect())
}

/// The evaluator's side: `pixels` are its input bits (784 × input bits). Returns the
/// class bits, the only thing it learns.
pub(super) fn run_evaluator<C: Channel>(
    channel: C,
    pipeline: &Pipeline,
    pixels: &[bool],
) -> Result<(Vec<bool>, SessionReport), ProtocolError> {
    let start = Instant::now();
    let mut channel = Counting::new(channel);
    check_pixels(pipeline, pixels)?;
    pipeline.handshake().exchange(&mut channel)?;
    let mut ot = IknpReceiver::setup(&mut channel)?;
    let mut prg = Prg::from_os()?;
    let mut offline = Vec::with_capacity(pipeline.stages.len());
    for stage in &pipeline.stages {
        let choices = random_bits(&mut prg, stage.choice_bits());
        let keys = ot.random(&mut channel, &choices)?;
        let r = random_bits(&mut prg, stage.share_bits());
        let t = ot.extend_correlated(&mut channel, &r)?;
        offline.push(EvaluatorStage {
            choices,
            keys,
            r,
            t,
            decoding: Vec::new(),
        });
    }
    let tables_len = pipeline
        .stages
        .iter()
        .map(|s| s.program.table_bytes())
        .sum::<u64>();
    let mut tables = vec![0u8; tables_len as usize];
    let mut at = 0;
    for (stage, off) in pipeline.stages.iter().zip(&mut offline) {
        let len = stage.program.table_bytes() as usize;
        channel.read_bytes(&mut tables[at..at + len])?;
        at += len;
        off.decoding = channel.read_bits(stage.program.outputs().len())?;
    }
    let mut evaluator = Evaluator::new(Buffer::from_bytes(tables));
    let setup = Instant::now();

    let mut choices = Zeroizing::new(pixels.to_vec());
    let mut layers = Vec::with_capacity(pipeline.stages.len());
    let mut tables_left = tables_len;
    for (stage, off) in pipeline.stages.iter().zip(offline) {
        let begin = Instant::now();
        // Each stage's outputs are the next stage's choice bits (checked by the pipeline).
        if choices.len() != stage.choice_bits() {
            return Err(ProtocolError::InputCount {
                expected: stage.choice_bits(),
                got: choices.len(),
            });
        }
        let d: Zeroizing<Vec<bool>> = Zeroizing::new(
            choices
                .iter()
                .zip(off.choices.iter())
                .map(|(a, c)| a ^ c)
                .collect(),
        );
        channel.write_bits(&d)?;
        channel.flush()?;
        let mut shares = stage.fanout.evaluator_shares(
            &mut channel,
            stage.in_bits,
            stage.ring_bits,
            &off.keys,
            &choices,
        )?;
        let mut delta_share = vec![0u64; shares.len()];
        ring::read(
            &mut channel,
            &mut delta_share,
            stage.ring_bits,
            &mut Vec::new(),
        )?;
        let mask = ring::mask(stage.ring_bits);
        for (s, d) in shares.iter_mut().zip(&delta_share) {
            *s = s.wrapping_add(*d) & mask;
        }
        let mut e = bits_of(&shares, stage.ring_bits, 0);
        e.iter_mut().zip(off.r.iter()).for_each(|(b, r)| *b ^= r);
        channel.write_bits(&e)?;
        channel.flush()?;
        let mut own = Zeroizing::new(Vec::with_capacity(off.t.len()));
        for &t in off.t.iter() {
            own.push(Label(t ^ channel.read_block()?));
        }
        let labels = Zeroizing::new(evaluator.evaluate(&stage.program, &own)?);
        // Each stage must have read exactly its own tables, or the next would decrypt
        // the wrong ones.
        tables_left -= stage.program.table_bytes();
        if evaluator.channel().unread() as u64 != tables_left {
            return Err(ProtocolError::InvalidOutput(format!(
                "stage {} read a different number of table bytes than it has",
                stage.name
            )));
        }
        choices = Zeroizing::new(
            labels
                .iter()
                .zip(&off.decoding)
                .map(|(l, &d)| l.pointer() ^ d)
                .collect(),
        );
        layers.push((stage.name.clone(), begin.elapsed()));
    }
    let end = Instant::now();
    Ok((
        choices.to_vec(),
        report(&channel, [start, setup, end], layers),
    ))
}
