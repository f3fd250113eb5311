//! A peer that hangs up or stalls in any phase of a session (handshake, OT, table
//! stream, output), in either role, over memory and TCP: an error on both sides, never a
//! hang; a different protocol version fails the handshake on both sides.

mod common;

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use common::fault::{Fault, Faulty};
use common::twoparty::*;
use gcnn::channel::{Channel, ChannelError, TcpChannel, memory};
use gcnn::circuit::Circuit;
use gcnn::garble::GateScheme;
use gcnn::ot::OtError;
use gcnn::protocol::{Handshake, PROTOCOL_VERSION, ProtocolError};

/// Bytes of one handshake message.
const HANDSHAKE_BYTES: usize = 8 + 4 + 32 + 24;

/// A byte budget (written plus read, the same count for either party) that ends inside
/// each phase of a session of `circuit`.
fn phases(circuit: &Circuit, inputs: &[Vec<bool>]) -> [(&'static str, usize); 4] {
    let report = run_memory(circuit, inputs).0.expect("a clean session");
    let total = (report.bytes_sent + report.bytes_received) as usize;
    let program = gcnn::garble::Program::of(circuit);
    let output = program.outputs().len().div_ceil(8);
    let tables = program.table_bytes() as usize;
    let ot_start = 2 * HANDSHAKE_BYTES;
    let ot_end = total - output - tables;
    assert!(ot_start < ot_end && tables > 1000, "every phase has bytes");
    [
        ("handshake", HANDSHAKE_BYTES + 10),
        ("OT", (ot_start + ot_end) / 2),
        ("table stream", ot_end + tables / 2),
        ("output", total - 1),
    ]
}

/// Phases in which the garbler reads nothing from the evaluator: the tables of this
/// small circuit fit in the channel's buffers, so an evaluator that fails there may leave
/// the garbler successful.
const AFTER_OT: [&str; 2] = ["table stream", "output"];

fn small_circuit() -> (Circuit, Vec<Vec<bool>>) {
    let circuit = random_circuit(21, 20_000);
    let inputs = random_inputs(&circuit, 21);
    (circuit, inputs)
}

/// Runs a session in which the garbler (or the evaluator) has the given fault.
fn run_faulty<C>(
    circuit: &Circuit,
    inputs: &[Vec<bool>],
    (g, e): (C, C),
    garbler_faulty: bool,
    budget: usize,
    fault: Fault,
) -> Outcome
where
    C: Channel + Send + 'static,
{
    if garbler_faulty {
        run_pair(circuit, inputs, Faulty::new(g, budget, fault), e)
    } else {
        run_pair(circuit, inputs, g, Faulty::new(e, budget, fault))
    }
}

/// The channel failure behind a session error, also inside the OT.
fn channel_error(e: &ProtocolError) -> Option<&ChannelError> {
    match e {
        ProtocolError::Channel(c) | ProtocolError::Ot(OtError::Channel(c)) => Some(c),
        _ => None,
    }
}

fn is_closed(e: &ProtocolError) -> bool {
    matches!(channel_error(e), Some(ChannelError::Closed))
}

#[test]
fn a_peer_hanging_up_in_any_phase_is_an_error_on_both_sides() {
    let (circuit, inputs) = small_circuit();
    for (phase, budget) in phases(&circuit, &inputs) {
        for tcp in [false, true] {
            for garbler_faulty in [true, false] {
                let case = format!("{phase}, tcp {tcp}, garbler hangs up {garbler_faulty}");
                let start = Instant::now();
                let (g, e) = if tcp {
                    let pair = tcp_pair();
                    run_faulty(
                        &circuit,
                        &inputs,
                        pair,
                        garbler_faulty,
                        budget,
                        Fault::HangUp,
                    )
                } else {
                    let pair = memory::pair(TIMEOUT);
                    run_faulty(
                        &circuit,
                        &inputs,
                        pair,
                        garbler_faulty,
                        budget,
                        Fault::HangUp,
                    )
                };
                let e = e.err();
                match (garbler_faulty, g) {
                    (true, g) => {
                        assert!(g.as_ref().is_err_and(is_closed), "{case}: {:?}", g.err());
                        assert!(e.as_ref().is_some_and(is_closed), "{case}: {e:?}");
                    }
                    (false, g) => {
                        assert!(e.as_ref().is_some_and(is_closed), "{case}: {e:?}");
                        match g {
                            Ok(_) => assert!(AFTER_OT.contains(&phase), "{case}"),
                            Err(g) => assert!(is_closed(&g), "{case}: {g}"),
                        }
                    }
                }
                assert!(
                    start.elapsed() < TIMEOUT,
                    "{case}: reported before the timeout"
                );
            }
        }
    }
}

#[test]
fn a_peer_stalling_in_any_phase_makes_the_timeout_fire() {
    let (circuit, inputs) = small_circuit();
    let timeout = Duration::from_millis(250);
    let stall = Fault::Stall(Duration::from_secs(3));
    let start = Instant::now();
    // The cases sleep, so they run side by side.
    thread::scope(|s| {
        for (phase, budget) in phases(&circuit, &inputs) {
            for garbler_faulty in [true, false] {
                let (circuit, inputs) = (&circuit, &inputs);
                s.spawn(move || {
                    let case = format!("{phase}, garbler stalls {garbler_faulty}");
                    let pair = tcp_pair_with(timeout);
                    let (g, e) = run_faulty(circuit, inputs, pair, garbler_faulty, budget, stall);
                    let (waiting, stalled) = if garbler_faulty {
                        (e.map(|_| ()), g.map(|_| ()))
                    } else {
                        (g.map(|_| ()), e.map(|_| ()))
                    };
                    assert!(stalled.is_err_and(|e| is_closed(&e)), "{case}");
                    match waiting {
                        Err(e) if matches!(channel_error(&e), Some(ChannelError::Timeout(_))) => {
                            assert!(e.to_string().contains("250ms (timed out)"), "{case}: {e}");
                        }
                        Ok(()) => assert!(!garbler_faulty && AFTER_OT.contains(&phase), "{case}"),
                        Err(other) => panic!("{case}: {other}"),
                    }
                });
            }
        }
    });
    assert!(start.elapsed() < TIMEOUT, "cases ran side by side");
}

/// Runs the handshake on both ends of a memory pair; the errors, if any.
fn exchange(ours: &Handshake, theirs: &Handshake) -> [Option<String>; 2] {
    let (mut a, mut b) = memory::pair(TIMEOUT);
    thread::scope(|s| {
        let other = s.spawn(move || theirs.exchange(&mut b).err().map(|e| e.to_string()));
        let mine = ours.exchange(&mut a).err().map(|e| e.to_string());
        [mine, other.join().expect("peer thread")]
    })
}

#[test]
fn a_different_protocol_version_shape_or_gate_scheme_fails_the_handshake_on_both_sides() {
    let ours = Handshake {
        version: PROTOCOL_VERSION,
        circuit_hash: HASH,
        shape: [10, 20, 4],
        images: 1,
        gate_scheme: GateScheme::HalfGates,
    };
    assert_eq!(exchange(&ours, &ours.clone()), [None, None]);
    let newer = Handshake {
        version: PROTOCOL_VERSION + 1,
        ..ours.clone()
    };
    for err in exchange(&ours, &newer) {
        let err = err.expect("both sides fail");
        assert!(err.contains("protocol version mismatch"), "{err}");
    }
    let wider = Handshake {
        shape: [10, 21, 4],
        ..ours.clone()
    };
    for err in exchange(&ours, &wider) {
        let err = err.expect("both sides fail");
        assert!(err.contains("shape mismatch"), "{err}");
    }
    let three_halves = Handshake {
        gate_scheme: GateScheme::ThreeHalves,
        ..ours.clone()
    };
    for err in exchange(&ours, &three_halves) {
        let err = err.expect("both sides fail");
        assert!(err.contains("gate scheme mismatch"), "{err}");
        assert!(
            err.contains("three-halves") && err.contains("half-gates"),
            "{err}"
        );
    }
}

/// A peer that reads 4 kB every 100 ms lets every write system call make some progress;
/// the flush of one large message still fails within the timeout (one deadline per
/// message, not per system call), saying the peer stopped reading.
#[test]
fn a_slowly_reading_peer_cannot_stretch_a_message_past_the_timeout() {
    let timeout = Duration::from_secs(1);
    let (server, mut client) = gcnn::net::loopback(TIMEOUT).unwrap();
    let reader = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if !matches!(client.read(&mut buf), Ok(1..)) {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let mut channel = TcpChannel::new(server, timeout).unwrap();
    let start = Instant::now();
    let message = vec![7u8; 32 << 20];
    let err = channel
        .write_bytes(&message)
        .and_then(|()| channel.flush())
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, ChannelError::Stalled(t) if t == timeout),
        "{err}"
    );
    assert!(err.to_string().contains("stopped reading"), "{err}");
    assert!(took < timeout + Duration::from_secs(1), "{took:?}");
    drop(channel);
    reader.join().unwrap();
}

/// A peer that sends one byte every 50 ms never trips the per-message timeout; with a
/// minimum rate the phase ends once its first `timeout` is over, and a new phase starts
/// with fresh credit.
#[test]
fn a_trickle_under_the_minimum_rate_ends_the_phase() {
    let timeout = Duration::from_millis(500);
    let (server, mut client) = gcnn::net::loopback(TIMEOUT).unwrap();
    let writer = thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) && client.write_all(&[1]).is_ok() {
            thread::sleep(Duration::from_millis(50));
        }
    });
    let mut channel = TcpChannel::new(server, timeout).unwrap();
    // Without a minimum rate: a second and a half of one-byte messages, all fine.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        channel.read_bytes(&mut [0u8; 1]).unwrap();
    }
    channel.set_min_rate(1000);
    for _phase in 0..2 {
        channel.begin_phase();
        let start = Instant::now();
        let err = loop {
            if let Err(e) = channel.read_bytes(&mut [0u8; 1]) {
                break e;
            }
        };
        let took = start.elapsed();
        assert!(
            matches!(err, ChannelError::TooSlow { rate: 1000, .. }),
            "{err}"
        );
        assert!(
            took >= timeout && took < timeout + Duration::from_millis(500),
            "{took:?}"
        );
    }
    drop(channel);
    writer.join().unwrap();
}
