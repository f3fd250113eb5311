//! A circuit file run as a real two-party computation (`gcnn bristol`).
//!
//! Each input group is an unsigned integer supplied by its owner (the garbler or the
//! evaluator); the evaluator learns the output groups, the garbler learns nothing.
//! [`run`] plays both parties in one process over loopback TCP ([`Mode::Local`]) or one
//! of them against a peer process ([`Mode::Listen`] for the garbler, [`Mode::Connect`]
//! for the evaluator).
//!
//! Values are always given for every group, in group order, so both processes of a
//! two-process run read the same command line shape: each passes [`PLACEHOLDER`] (`_`)
//! for the groups the other party owns. The handshake compares the circuit's content
//! hash, which covers the owners, so two processes disagreeing on the circuit or its
//! owners fail before any input-dependent byte is sent.

mod error;
mod inputs;
mod summary;

pub use error::TwoPcError;
pub use inputs::{PLACEHOLDER, Parties, PartyInputs, split_values};
pub use summary::Summary;

use crate::net;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::channel::TcpChannel;
use crate::circuit::int::format_uint;
use crate::circuit::{Circuit, Owner, file};
use crate::garble::Program;
use crate::protocol::{ProtocolError, SessionReport, run_evaluator, run_garbler};

/// Where the parties run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Both parties in this process, on two threads over loopback TCP.
    Local,
    /// The garbler only, waiting for the evaluator to connect to this address.
    Listen(String),
    /// The evaluator only, connecting to the garbler at this address.
    Connect(String),
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The output groups, each least significant bit first; `None` for the garbler.
    pub outputs: Option<Vec<Vec<bool>>>,
    /// Gates, traffic and time.
    pub summary: Summary,
}

impl Outcome {
    /// The output groups as decimal integers separated by spaces; `None` for the garbler.
    pub fn outputs_line(&self) -> Option<String> {
        self.outputs.as_ref().map(|groups| {
            groups
                .iter()
                .map(|g| format_uint(g))
                .collect::<Vec<_>>()
                .join(" ")
        })
    }
}

/// Reads a circuit in either format. `owners`, if given, replaces the owners of a
/// binary file or the default owners of a Bristol file
/// ([`default_owners`](crate::circuit::bristol::default_owners)), one per input group.
pub fn load(path: &Path, owners: Option<&[Owner]>) -> Result<Circuit, TwoPcError> {
    let (circuit, _) = file::load(path, None)?;
    match owners {
        Some(owners) => circuit.with_owners(owners).map_err(TwoPcError::Owners),
        None => Ok(circuit),
    }
}

/// Runs `circuit` on one value per input group (see [`split_values`]) in `mode`, with
/// `timeout` bounding every read and write as well as the wait for the peer to connect.
/// `on_listen` is told the bound address in [`Mode::Listen`] (useful with port 0).
pub fn run<S: AsRef<str>>(
    circuit: &Circuit,
    values: &[S],
    mode: &Mode,
    timeout: Duration,
    on_listen: impl FnOnce(SocketAddr),
) -> Result<Outcome, TwoPcError> {
    let plays = match mode {
        Mode::Local => Parties::Both,
        Mode::Listen(_) => Parties::Only(Owner::Garbler),
        Mode::Connect(_) => Parties::Only(Owner::Evaluator),
    };
    let inputs = split_values(circuit, values, plays)?;
    let session = Session {
        program: crate::garble::Program::of(circuit),
        hash: circuit.content_hash(),
        timeout,
    };
    match mode {
        Mode::Local => session.both(circuit, &inputs),
        Mode::Listen(addr) => {
            let listener = net::bind(addr)?;
            if let Ok(local) = listener.local_addr() {
                on_listen(local);
            }
            let stream = net::accept_within(&listener, timeout)?;
            let report = session.garble(stream, &inputs.garbler)?;
            Ok(Outcome {
                outputs: None,
                summary: Summary::new(&session.program, &report, true),
            })
        }
        Mode::Connect(addr) => {
            let stream = net::connect_within(addr, timeout)?;
            let (bits, report) = session.evaluate(stream, &inputs.evaluator)?;
            Ok(Outcome {
                outputs: Some(split_outputs(circuit, bits)),
                summary: Summary::new(&session.program, &report, false),
            })
        }
    }
}

/// What both roles need for one session.
struct Session {
    program: Program,
    hash: [u8; 32],
    timeout: Duration,
}

impl Session {
    fn garble(&self, stream: TcpStream, bits: &[bool]) -> Result<SessionReport, TwoPcError> {
        let failed = |reason| TwoPcError::Protocol {
            role: Owner::Garbler,
            reason,
        };
        let channel = TcpChannel::new(stream, self.timeout).map_err(|e| failed(e.into()))?;
        run_garbler(channel, &self.program, self.hash, bits).map_err(failed)
    }

    fn evaluate(
        &self,
        stream: TcpStream,
        bits: &[bool],
    ) -> Result<(Vec<bool>, SessionReport), TwoPcError> {
        let failed = |reason| TwoPcError::Protocol {
            role: Owner::Evaluator,
            reason,
        };
        let channel = TcpChannel::new(stream, self.timeout).map_err(|e| failed(e.into()))?;
        run_evaluator(channel, &self.program, self.hash, bits).map_err(failed)
    }

    /// Both roles, the garbler on a second thread.
    fn both(&self, circuit: &Circuit, inputs: &PartyInputs) -> Result<Outcome, TwoPcError> {
        let (server, client) = net::loopback(self.timeout)?;
        let (garbled, evaluated) = thread::scope(|s| {
            let garbler = s.spawn(|| self.garble(server, &inputs.garbler));
            let evaluated = self.evaluate(client, &inputs.evaluator);
            (garbler.join(), evaluated)
        });
        let garbled = garbled.map_err(|_| TwoPcError::GarblerPanicked)?;
        match (evaluated, garbled) {
            (Ok((bits, report)), Ok(_)) => Ok(Outcome {
                outputs: Some(split_outputs(circuit, bits)),
                summary: Summary::new(&self.program, &report, false),
            }),
            // One side failing closes the connection under the other: report the cause.
            (Err(e), Err(g)) if lost_peer(&e) => Err(g),
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        }
    }
}

fn lost_peer(e: &TwoPcError) -> bool {
    matches!(
        e,
        TwoPcError::Protocol {
            reason: ProtocolError::Channel(_),
            ..
        }
    )
}

/// The evaluator's flat output bits cut into the circuit's output groups.
fn split_outputs(circuit: &Circuit, bits: Vec<bool>) -> Vec<Vec<bool>> {
    let mut bits = bits.into_iter();
    circuit
        .outputs()
        .iter()
        .map(|group| bits.by_ref().take(group.len()).collect())
        .collect()
}
