//! The evaluator's side of a session: offline OTs with random choices, the corrections
//! and the stored tables; online its choice differences, shares and evaluation.

use super::super::linear::Products;
use super::super::pipeline::Pipeline;
use super::super::ring;
use crate::channel::{Buffer, Channel, Counting};
use crate::crypto::{Label, Prg};
use crate::garble::{GateScheme, SchemeEvaluator, decode};
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
    /// Its random choices `c` for the product OTs.
    choices: Zeroizing<Vec<bool>>,
    /// Its side of the products for those choices.
    products: Products,
    /// Its random share `R` (one `m`-bit word per accumulator), and its labels for it.
    r: Zeroizing<Vec<u64>>,
    labels: Zeroizing<Vec<Label>>,
    /// The decoding bits of the stage's outputs.
    decoding: Vec<bool>,
}

/// `n` random words of `m` bits and their bits, least significant first.
fn random_words(prg: &mut Prg, n: usize, m: u32) -> (Zeroizing<Vec<u64>>, Zeroizing<Vec<bool>>) {
    let words: Zeroizing<Vec<u64>> = Zeroizing::new(
        (0..n)
            .map(|_| prg.block().0 as u64 & ring::mask(m))
            .collect(),
    );
    let bits = super::bits_of(&words, m);
    (words, bits)
}

/// A session whose offline phase is done: only the online phase is left, one round trip
/// per weighted layer. The garbler waits for it at most its per-message timeout.
pub(in crate::inference) struct PreparedEvaluator<'p, C> {
    pipeline: &'p Pipeline,
    channel: Counting<C>,
    offline: Vec<EvaluatorStage>,
    evaluator: SchemeEvaluator<Buffer>,
    gate_scheme: GateScheme,
    tables_len: u64,
    start: Instant,
    setup: Instant,
}

/// The evaluator's offline phase, before it has an image, offering `gate_scheme`.
pub(in crate::inference) fn prepare_evaluator<C: Channel>(
    channel: C,
    pipeline: &Pipeline,
    gate_scheme: GateScheme,
) -> Result<PreparedEvaluator<'_, C>, ProtocolError> {
    let mut channel = Counting::new(channel);
    let handshake = pipeline.handshake_for(gate_scheme);
    handshake.offer(&mut channel)?;
    // The base OTs' first message travels with the handshake; the garbler's answer
    // comes before its points.
    // The session's clock starts when the garbler has accepted it.
    let mut start = Instant::now();
    let mut ot = SoftSpokenReceiver::setup_then(&mut channel, DEFAULT_K, |c| {
        handshake.read_answer(c)?;
        start = Instant::now();
        Ok::<_, ProtocolError>(())
    })?;
    let mut prg = Prg::from_os()?;
    let mut ots = Vec::with_capacity(pipeline.stages.len());
    for stage in &pipeline.stages {
        let choices = super::random_bits(&mut prg, stage.choice_bits());
        let keys = ot.random(&mut channel, &choices)?;
        let (r, r_bits) = random_words(&mut prg, stage.fanout.outputs(), stage.ring_bits);
        let t = ot.extend_correlated(&mut channel, &r_bits)?;
        ots.push((choices, keys, r, t));
    }
    let tables_len = pipeline
        .stages
        .iter()
        .map(|s| gate_scheme.table_bytes(&s.program))
        .sum::<u64>();
    let mut tables = vec![0u8; tables_len as usize];
    let mut at = 0;
    let mut offline = Vec::with_capacity(pipeline.stages.len());
    for (stage, (choices, keys, r, t)) in pipeline.stages.iter().zip(ots) {
        let products = stage.fanout.evaluator_products(
            &mut channel,
            stage.in_bits,
            stage.ring_bits,
            &keys,
            &choices,
        )?;
        let len = gate_scheme.table_bytes(&stage.program) as usize;
        channel.read_bytes(&mut tables[at..at + len])?;
        at += len;
        offline.push(EvaluatorStage {
            choices,
            products,
            r,
            labels: {
                // Room for the garbler's labels too: no reallocation copies a label.
                let mut labels = Zeroizing::new(Vec::with_capacity(2 * t.len()));
                labels.extend(t.iter().map(|&t| Label(t)));
                labels
            },
            decoding: channel.read_bits(stage.program.outputs().len())?,
        });
    }
    Ok(PreparedEvaluator {
        pipeline,
        channel,
        offline,
        evaluator: SchemeEvaluator::new(gate_scheme, Buffer::from_bytes(tables)),
        gate_scheme,
        tables_len,
        start,
        setup: Instant::now(),
    })
}

impl<'p, C: Channel> PreparedEvaluator<'p, C> {
    /// The pipeline the session runs.
    pub(in crate::inference) fn pipeline(&self) -> &'p Pipeline {
        self.pipeline
    }

    /// The online phase for `pixels` (H·W·C × input bits): returns the class bits. The
    /// report's online time starts here, so it is the image-to-class latency.
    pub(in crate::inference) fn finish(
        self,
        pixels: &[bool],
    ) -> Result<(Vec<bool>, SessionReport), ProtocolError> {
        let PreparedEvaluator {
            pipeline,
            mut channel,
            offline,
            mut evaluator,
            gate_scheme,
            tables_len,
            start,
            setup,
        } = self;
        check_pixels(pipeline, pixels)?;
        // Time spent waiting for the image belongs to neither phase.
        let online_start = Instant::now();
        let idle = online_start - setup;
        let mut choices = Zeroizing::new(pixels.to_vec());
        let mut layers = Vec::with_capacity(pipeline.stages.len());
        let mut tables_left = tables_len;
        for (stage, mut off) in pipeline.stages.iter().zip(offline) {
            let begin = Instant::now();
            // Each stage's outputs are the next stage's choice bits (checked by the pipeline).
            if choices.len() != stage.choice_bits() {
                return Err(ProtocolError::InputCount {
                    expected: stage.choice_bits(),
                    got: choices.len(),
                });
            }
            let d: Vec<bool> = choices
                .iter()
                .zip(off.choices.iter())
                .map(|(a, c)| a ^ c)
                .collect();
            // Its share `E` of the accumulators is complete with `d`; it sends `f = E − R`.
            let mask = ring::mask(stage.ring_bits);
            let mut f = off.products.share(&stage.fanout, stage.in_bits, &d);
            f.iter_mut()
                .zip(off.r.iter())
                .for_each(|(e, r)| *e = e.wrapping_sub(*r) & mask);
            channel.write_bits(&d)?;
            ring::write(&mut channel, &f, stage.ring_bits, &mut Vec::new())?;
            channel.flush()?;
            for _ in 0..stage.share_bits() {
                off.labels.push(Label(channel.read_block()?));
            }
            let labels = Zeroizing::new(evaluator.evaluate(&stage.program, &off.labels)?);
            // Each stage must have read exactly its own tables, or the next would decrypt
            // the wrong ones.
            tables_left -= gate_scheme.table_bytes(&stage.program);
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
            SessionReport::new(&channel, [start + idle, online_start, end], layers),
        ))
    }
}
