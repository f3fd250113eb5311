//! Two-party test helpers: large random circuits and garbled runs over real channels.

use gcnn::channel::{Channel, TcpChannel, memory};
use gcnn::circuit::{Circuit, Gate, InputGroup, Owner, WireId};
use gcnn::protocol::{ProtocolError, SessionReport, run_evaluator, run_garbler};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

pub const TIMEOUT: Duration = Duration::from_secs(20);
pub const HASH: [u8; 32] = [7; 32];

/// A random valid circuit: random input groups and owners, a random gate mix reading
/// mostly recent wires (so widths stay realistic) and sometimes any earlier wire.
pub fn random_circuit(seed: u64, gates: usize) -> Circuit {
    let mut rng = StdRng::seed_from_u64(seed);
    let groups = rng.random_range(1..5);
    let inputs: Vec<InputGroup> = (0..groups)
        .map(|g| InputGroup {
            owner: if g == 0 || rng.random_bool(0.5) {
                Owner::Evaluator
            } else {
                Owner::Garbler
            },
            width: rng.random_range(1..200),
        })
        .collect();
    let mut inputs = inputs;
    // Half the circuits have a garbler group first, so both owners appear in both orders.
    if rng.random_bool(0.5) {
        inputs[0].owner = Owner::Garbler;
    }
    let n_in: u32 = inputs.iter().map(|g| g.width).sum();
    let mut list = Vec::with_capacity(gates);
    for k in 0..gates as u32 {
        let defined = n_in + k;
        let pick = |rng: &mut StdRng| {
            if rng.random_bool(0.8) {
                WireId(defined - 1 - rng.random_range(0..defined.min(64)))
            } else {
                WireId(rng.random_range(0..defined))
            }
        };
        let gate = match rng.random_range(0..100) {
            0..40 => Gate::Xor(pick(&mut rng), pick(&mut rng)),
            40..85 => Gate::And(pick(&mut rng), pick(&mut rng)),
            85..98 => Gate::Not(pick(&mut rng)),
            _ => Gate::Const(rng.random_bool(0.5)),
        };
        list.push(gate);
    }
    let total = n_in + gates as u32;
    let outputs = vec![
        (total.saturating_sub(32)..total).map(WireId).collect(),
        (0..16)
            .map(|_| WireId(rng.random_range(0..total)))
            .collect(),
    ];
    Circuit::new(inputs, list, outputs, vec![]).expect("generator builds valid circuits")
}

/// Random bits for every input group of `circuit`.
pub fn random_inputs(circuit: &Circuit, seed: u64) -> Vec<Vec<bool>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    circuit
        .inputs()
        .iter()
        .map(|g| (0..g.width).map(|_| rng.random_bool(0.5)).collect())
        .collect()
}

/// Splits per-group inputs into the garbler's and the evaluator's bit strings.
pub fn split_inputs(circuit: &Circuit, inputs: &[Vec<bool>]) -> (Vec<bool>, Vec<bool>) {
    let (mut g, mut e) = (Vec::new(), Vec::new());
    for (group, bits) in circuit.inputs().iter().zip(inputs) {
        match group.owner {
            Owner::Garbler => g.extend_from_slice(bits),
            Owner::Evaluator => e.extend_from_slice(bits),
        }
    }
    (g, e)
}

pub type Outcome = (
    Result<SessionReport, ProtocolError>,
    Result<(Vec<bool>, SessionReport), ProtocolError>,
);

/// Runs both parties on two threads over the given connected channels.
pub fn run_pair<A, B>(circuit: &Circuit, inputs: &[Vec<bool>], ga: A, ev: B) -> Outcome
where
    A: Channel + Send + 'static,
    B: Channel + Send,
{
    let program = gcnn::garble::Program::of(circuit);
    let (g_in, e_in) = split_inputs(circuit, inputs);
    thread::scope(|s| {
        let p = &program;
        let garbler = s.spawn(move || run_garbler(ga, p, HASH, &g_in));
        let evaluated = run_evaluator(ev, p, HASH, &e_in);
        (garbler.join().expect("garbler thread"), evaluated)
    })
}

/// Both parties over the in-memory channel.
pub fn run_memory(circuit: &Circuit, inputs: &[Vec<bool>]) -> Outcome {
    let (a, b) = memory::pair(TIMEOUT);
    run_pair(circuit, inputs, a, b)
}

/// A connected loopback TCP pair.
pub fn tcp_pair() -> (TcpChannel, TcpChannel) {
    tcp_pair_with(TIMEOUT)
}

/// A connected loopback TCP pair whose reads and writes time out after `timeout`.
pub fn tcp_pair_with(timeout: Duration) -> (TcpChannel, TcpChannel) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let client = thread::spawn(move || TcpStream::connect(addr).expect("connect"));
    let (server, _) = listener.accept().expect("accept");
    let client = client.join().expect("connect thread");
    (
        TcpChannel::new(server, timeout).expect("tcp channel"),
        TcpChannel::new(client, timeout).expect("tcp channel"),
    )
}

/// Both parties over loopback TCP.
pub fn run_tcp(circuit: &Circuit, inputs: &[Vec<bool>]) -> Outcome {
    let (a, b) = tcp_pair();
    run_pair(circuit, inputs, a, b)
}

/// The output groups of a plaintext evaluation, flattened like the protocol's outputs.
pub fn plain_outputs(circuit: &Circuit, inputs: &[Vec<bool>]) -> Vec<bool> {
    circuit.eval(inputs).expect("valid inputs").concat()
}
