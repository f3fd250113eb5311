//! The evaluator's side of a session: offline OTs with random choices and the stored
//! tables, online derandomization, shares, input labels and evaluation.

use super::super::pipeline::Pipeline;
use super::super::ring;
use super::bits_of;
use crate::channel::{Buffer, Channel, Counting};
use crate::crypto::{Block, Label, Prg};
use crate::garble::{Evaluator, decode};
use crate::ot::SoftSpokenReceiver;
use crate::ot::softspoken::DEFAULT_K;
use crate::protocol::{ProtocolError, SessionReport};
use std::time::Instant;
use zeroize::Zeroizing;

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

/// The evaluator's side: `pixels` are its input bits (H·W·C × input bits). Returns the
/// class bits, the only thing it learns.
pub(in crate::inference) fn run_evaluator<C: Channel>(
    channel: C,
    pipeline: &Pipeline,
    pixels: &[bool],
) -> Result<(Vec<bool>, SessionReport), ProtocolError> {
    let mut channel = Counting::new(channel);
    check_pixels(pipeline, pixels)?;
    pipeline.handshake().exchange(&mut channel)?;
    // The session's clock starts when the garbler has accepted it.
    let start = Instant::now();
    let mut ot = SoftSpokenReceiver::setup(&mut channel, DEFAULT_K)?;
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
        choices = Zeroizing::new(decode(&labels, &off.decoding));
        layers.push((stage.name.clone(), begin.elapsed()));
    }
    let end = Instant::now();
    Ok((
        choices.to_vec(),
        SessionReport::new(&channel, [start, setup, end], layers),
    ))
}
