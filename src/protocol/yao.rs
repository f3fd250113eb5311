//! Semi-honest Yao: one garbled evaluation of a [`Program`].

use super::{Handshake, PROTOCOL_VERSION, ProtocolError};
use crate::channel::{Channel, Counting};
use crate::crypto::{Delta, Label, random_seed};
use crate::garble::{Evaluator, Garbler, GateScheme, Program, decode, decoding_bits};
use crate::ot::{IknpReceiver, IknpSender};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// What a session cost, as seen by one party.
#[derive(Clone, Debug, Default)]
pub struct SessionReport {
    /// Bytes this party sent.
    pub bytes_sent: u64,
    /// Bytes this party received.
    pub bytes_received: u64,
    /// Before the tables: handshake, base OTs and, in [`run_garbler`] and
    /// [`run_evaluator`], the OT extension for the evaluator's inputs. In private
    /// inference ([`crate::inference`]) the offline phase: everything done before the
    /// image is used (handshake, base OTs, OT extension, corrections, garbling and
    /// sending the tables).
    pub setup: Duration,
    /// The rest: garbling (garbler) or evaluation (evaluator) with table I/O; in private
    /// inference, the online phase, everything from the image to the class.
    pub online: Duration,
    /// The whole session.
    pub total: Duration,
    /// In private inference, the online time per weighted layer (its transfers, its
    /// stage circuit and decoding), in order; empty for a plain Yao session.
    pub layers: Vec<(String, Duration)>,
}

impl SessionReport {
    /// The report of a session on `channel` that started at `start`, ended its set-up at
    /// `setup` and finished at `end`.
    pub fn new<C: Channel>(
        channel: &Counting<C>,
        [start, setup, end]: [Instant; 3],
        layers: Vec<(String, Duration)>,
    ) -> Self {
        SessionReport {
            bytes_sent: channel.sent(),
            bytes_received: channel.received(),
            setup: setup - start,
            online: end - setup,
            total: end - start,
            layers,
        }
    }
}

fn handshake(program: &Program, circuit_hash: [u8; 32]) -> Handshake {
    Handshake {
        version: PROTOCOL_VERSION,
        circuit_hash,
        shape: [
            program.garbler_inputs().len() as u64,
            program.evaluator_inputs().len() as u64,
            program.outputs().len() as u64,
        ],
        images: 1,
        gate_scheme: GateScheme::HalfGates,
    }
}

fn check_inputs(expected: usize, got: usize) -> Result<(), ProtocolError> {
    if expected != got {
        return Err(ProtocolError::InputCount { expected, got });
    }
    Ok(())
}

/// The garbler's side: learns nothing. `inputs` are its bits in
/// [`Program::garbler_inputs`] order; `circuit_hash` identifies the circuit in the
/// handshake.
pub fn run_garbler<C: Channel>(
    channel: C,
    program: &Program,
    circuit_hash: [u8; 32],
    inputs: &[bool],
) -> Result<SessionReport, ProtocolError> {
    check_inputs(program.garbler_inputs().len(), inputs.len())?;
    let start = Instant::now();
    let mut channel = Counting::new(channel);
    handshake(program, circuit_hash).exchange(&mut channel)?;

    let delta = Delta::new(random_seed()?);
    let mut ot = IknpSender::setup(&mut channel, delta.clone())?;
    let evaluator_zeros: Zeroizing<Vec<Label>> = Zeroizing::new(
        ot.extend_correlated(&mut channel, program.evaluator_inputs().len())?
            .iter()
            .map(|&b| Label(b))
            .collect(),
    );
    let ot_done = Instant::now();

    let mut garbler = Garbler::new(&mut channel, delta);
    let outputs = Zeroizing::new(garbler.garble(program, inputs, &evaluator_zeros)?);
    garbler.channel().write_bits(&decoding_bits(&outputs))?;
    garbler.channel().flush()?;
    let end = Instant::now();
    Ok(SessionReport::new(
        &channel,
        [start, ot_done, end],
        Vec::new(),
    ))
}

/// The evaluator's side: returns the output bits (in [`Program::outputs`] order), the
/// only thing it learns.
pub fn run_evaluator<C: Channel>(
    channel: C,
    program: &Program,
    circuit_hash: [u8; 32],
    inputs: &[bool],
) -> Result<(Vec<bool>, SessionReport), ProtocolError> {
    check_inputs(program.evaluator_inputs().len(), inputs.len())?;
    let start = Instant::now();
    let mut channel = Counting::new(channel);
    handshake(program, circuit_hash).exchange(&mut channel)?;

    let mut ot = IknpReceiver::setup(&mut channel)?;
    let own: Zeroizing<Vec<Label>> = Zeroizing::new(
        ot.extend_correlated(&mut channel, inputs)?
            .iter()
            .map(|&b| Label(b))
            .collect(),
    );
    let ot_done = Instant::now();

    let mut evaluator = Evaluator::new(&mut channel);
    let labels = Zeroizing::new(evaluator.evaluate(program, &own)?);
    let decoding = evaluator.channel().read_bits(labels.len())?;
    let outputs = decode(&labels, &decoding);
    let end = Instant::now();
    Ok((
        outputs,
        SessionReport::new(&channel, [start, ot_done, end], Vec::new()),
    ))
}
