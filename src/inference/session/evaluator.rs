//! The evaluator's side of a session: offline OTs with random choices, the corrections
//! and the stored tables; online its choice differences, shares and evaluation.

use super::super::linear::Products;
use super::super::pipeline::{NonlinearPlan, Pipeline, StagePlan};
use super::super::ring;
use super::lookups::LookupEvaluator;
use crate::channel::{Buffer, Channel, Counting};
use crate::crypto::{Block, Label, Prg};
use crate::garble::{GateScheme, Program, SchemeEvaluator, decode};
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
    nonlinear: Offline,
}

/// The offline state of a stage's non-linear part.
enum Offline {
    Circuit(CircuitInputs),
    Lookup(LookupEvaluator),
}

/// What the evaluator holds for a stage circuit before the image.
struct CircuitInputs {
    /// Its random share `R` (one `m`-bit word per accumulator), and its labels for it.
    r: Zeroizing<Vec<u64>>,
    labels: Zeroizing<Vec<Label>>,
    /// The decoding bits of the stage's outputs.
    decoding: Vec<bool>,
}

/// The receiver's side of a stage's OTs beyond its products: its random share `R` and
/// its Δ-correlated ends for it (a circuit), or its lookups' choices and keys.
enum Ends {
    Correlated(Zeroizing<Vec<u64>>, Zeroizing<Vec<Block>>),
    Random(Zeroizing<Vec<bool>>, Zeroizing<Vec<Block>>),
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

/// What the images of one session share: the channel, the OT extension, the random
/// generator, the garbling tweak counter (see the garbler's), and the buffers of the
/// tables and products, which the next image reuses.
pub(in crate::inference) struct Link<C> {
    channel: Counting<C>,
    ot: SoftSpokenReceiver,
    prg: Prg,
    tweak: u64,
    gate_scheme: GateScheme,
    /// The last image's tables buffer, reused (its pages stay mapped).
    spare: Vec<u8>,
    /// The last image's products, whose buffers are reused likewise.
    spare_products: Vec<Products>,
    /// The last image's random-OT keys, in the order the stages draw them (as the
    /// garbler's), reused likewise.
    spare_keys: Vec<Zeroizing<Vec<Block>>>,
    /// When the garbler accepted the session, or the last image ended.
    start: Instant,
}

/// Opens a session of `images` images over `channel`, offering `gate_scheme`: the
/// handshake and the base OTs.
pub(in crate::inference) fn connect<C: Channel>(
    channel: C,
    pipeline: &Pipeline,
    images: u32,
    gate_scheme: GateScheme,
) -> Result<Link<C>, ProtocolError> {
    let mut channel = Counting::new(channel);
    let handshake = pipeline.handshake_for(gate_scheme, images);
    handshake.offer(&mut channel)?;
    // The base OTs' first message travels with the handshake; the garbler's answer
    // comes before its points.
    // The session's clock starts when the garbler has accepted it.
    let mut start = Instant::now();
    let ot = SoftSpokenReceiver::setup_then(&mut channel, DEFAULT_K, |c| {
        handshake.read_answer(c)?;
        start = Instant::now();
        Ok::<_, ProtocolError>(())
    })?;
    Ok(Link {
        channel,
        ot,
        prg: Prg::from_os()?,
        tweak: 0,
        gate_scheme,
        spare: Vec::new(),
        spare_products: Vec::new(),
        spare_keys: Vec::new(),
        start,
    })
}

/// An image's session whose offline phase is done: only the online phase is left. The
/// garbler waits for it at most its per-message timeout.
pub(in crate::inference) struct PreparedEvaluator<'p, C> {
    pipeline: &'p Pipeline,
    link: Link<C>,
    offline: Vec<EvaluatorStage>,
    evaluator: SchemeEvaluator<Buffer>,
    tables_len: u64,
    start: Instant,
    setup: Instant,
}

impl<C: Channel> Link<C> {
    /// The next image's offline phase, before there is an image. The first image's
    /// report counts the handshake and base OTs in its offline time and bytes.
    pub(in crate::inference) fn prepare(
        mut self,
        pipeline: &Pipeline,
    ) -> Result<PreparedEvaluator<'_, C>, ProtocolError> {
        let start = std::mem::replace(&mut self.start, Instant::now());
        let Link {
            channel,
            ot,
            prg,
            spare_keys,
            ..
        } = &mut self;
        let mut buffers = std::mem::take(spare_keys).into_iter();
        let mut random = |ot: &mut SoftSpokenReceiver, channel: &mut Counting<C>, c: &[bool]| {
            let mut keys = buffers.next().unwrap_or_default();
            ot.random_into(channel, c, &mut keys).map(|()| keys)
        };
        let mut ots = Vec::with_capacity(pipeline.stages.len());
        for stage in &pipeline.stages {
            let choices = super::random_bits(prg, stage.choice_bits());
            let keys = random(ot, channel, &choices)?;
            let ends = match stage.nonlinear {
                NonlinearPlan::Circuit(_) => {
                    let (r, r_bits) = random_words(prg, stage.fanout.outputs(), stage.ring_bits);
                    Ends::Correlated(r, ot.extend_correlated(channel, &r_bits)?)
                }
                NonlinearPlan::Lookup(_) => {
                    let c = LookupEvaluator::choices(stage, prg);
                    let keys = random(ot, channel, &c)?;
                    Ends::Random(c, keys)
                }
            };
            ots.push((choices, keys, ends));
        }
        let scheme = self.gate_scheme;
        let tables_len = pipeline
            .programs()
            .map(|p| scheme.table_bytes(p))
            .sum::<u64>();
        let mut tables = std::mem::take(&mut self.spare);
        tables.resize(tables_len as usize, 0);
        let channel = &mut self.channel;
        let mut at = 0;
        let mut offline = Vec::with_capacity(pipeline.stages.len());
        let mut spare = std::mem::take(&mut self.spare_products).into_iter();
        for (stage, (choices, keys, ends)) in pipeline.stages.iter().zip(ots) {
            let products = stage.fanout.evaluator_products(
                channel,
                (stage.in_bits, stage.ring_bits),
                &keys,
                &choices,
                spare.next().unwrap_or_default(),
            )?;
            self.spare_keys.push(keys);
            let nonlinear = match (&stage.nonlinear, ends) {
                (NonlinearPlan::Circuit(program), Ends::Correlated(r, t)) => {
                    let len = scheme.table_bytes(program) as usize;
                    channel.read_bytes(&mut tables[at..at + len])?;
                    at += len;
                    // Room for the garbler's labels too: no reallocation copies a label.
                    let mut labels = Zeroizing::new(Vec::with_capacity(2 * t.len()));
                    labels.extend(t.iter().map(|&t| Label(t)));
                    Offline::Circuit(CircuitInputs {
                        r,
                        labels,
                        decoding: channel.read_bits(program.outputs().len())?,
                    })
                }
                (NonlinearPlan::Lookup(_), Ends::Random(c, keys)) => {
                    let lookups = LookupEvaluator::new(stage, &c, &keys);
                    self.spare_keys.push(keys);
                    Offline::Lookup(lookups)
                }
                _ => unreachable!("each stage's OTs follow its kind"),
            };
            offline.push(EvaluatorStage {
                choices,
                products,
                nonlinear,
            });
        }
        let tweak = self.tweak;
        Ok(PreparedEvaluator {
            pipeline,
            link: self,
            offline,
            evaluator: SchemeEvaluator::new(scheme, Buffer::from_bytes(tables)).starting_at(tweak),
            tables_len,
            start,
            setup: Instant::now(),
        })
    }
}

impl<'p, C: Channel> PreparedEvaluator<'p, C> {
    /// The pipeline the session runs.
    pub(in crate::inference) fn pipeline(&self) -> &'p Pipeline {
        self.pipeline
    }

    /// The online phase for `pixels` (H·W·C × input bits): returns the class bits, and
    /// the session for its next image. The report's online time starts here, so it is
    /// the image-to-class latency; its bytes are this image's.
    pub(in crate::inference) fn finish(
        self,
        pixels: &[bool],
    ) -> Result<(Vec<bool>, SessionReport, Link<C>), ProtocolError> {
        let PreparedEvaluator {
            pipeline,
            mut link,
            offline,
            mut evaluator,
            tables_len,
            start,
            setup,
        } = self;
        check_pixels(pipeline, pixels)?;
        let channel = &mut link.channel;
        // Time spent waiting for the image belongs to neither phase.
        let online_start = Instant::now();
        let idle = online_start - setup;
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
            let d: Vec<bool> = choices
                .iter()
                .zip(off.choices.iter())
                .map(|(a, c)| a ^ c)
                .collect();
            // Its share `E` of the accumulators is complete with `d`.
            let e = off.products.share(&stage.fanout, stage.in_bits, &d);
            channel.write_bits(&d)?;
            choices = match (off.nonlinear, &stage.nonlinear) {
                (Offline::Circuit(inputs), NonlinearPlan::Circuit(program)) => {
                    let bits = evaluate(&mut *channel, stage, program, &mut evaluator, inputs, e)?;
                    // Each stage must have read exactly its own tables, or the next would
                    // decrypt the wrong ones.
                    tables_left -= link.gate_scheme.table_bytes(program);
                    if evaluator.channel().unread() as u64 != tables_left {
                        return Err(ProtocolError::InvalidOutput(format!(
                            "stage {} read a different number of table bytes than it has",
                            stage.name
                        )));
                    }
                    bits
                }
                (Offline::Lookup(lookups), NonlinearPlan::Lookup(_)) => {
                    lookups.run(&mut *channel, stage, &e)?
                }
                _ => unreachable!("each stage's offline state follows its kind"),
            };
            layers.push((stage.name.clone(), begin.elapsed()));
            link.spare_products.push(off.products);
        }
        let end = Instant::now();
        let report = SessionReport::new(channel, [start + idle, online_start, end], layers);
        link.channel.reset_counts();
        link.tweak = evaluator.tweaks_used();
        link.spare = evaluator.into_channel().into_bytes();
        link.start = end;
        Ok((choices.to_vec(), report, link))
    }
}

/// Online for a circuit stage, after `d`: sends `f = E − R` for its share `e`, reads the
/// labels of the garbler's word `G + f`, evaluates the stored tables and decodes the
/// masked outputs.
fn evaluate<C: Channel>(
    channel: &mut C,
    stage: &StagePlan,
    program: &Program,
    evaluator: &mut SchemeEvaluator<Buffer>,
    mut inputs: CircuitInputs,
    mut f: Zeroizing<Vec<u64>>,
) -> Result<Zeroizing<Vec<bool>>, ProtocolError> {
    let mask = ring::mask(stage.ring_bits);
    f.iter_mut()
        .zip(inputs.r.iter())
        .for_each(|(e, r)| *e = e.wrapping_sub(*r) & mask);
    ring::write(channel, &f, stage.ring_bits, &mut Vec::new())?;
    channel.flush()?;
    for _ in 0..stage.share_bits() {
        inputs.labels.push(Label(channel.read_block()?));
    }
    let labels = Zeroizing::new(evaluator.evaluate(program, &inputs.labels)?);
    Ok(Zeroizing::new(decode(&labels, &inputs.decoding)))
}
