//! The garbling engine end to end: garbled result == plaintext result.

mod common;

use common::fault::Faulty;
use common::twoparty::*;
use gcnn::channel::{Buffer, ChannelError, memory};
use gcnn::circuit::{Circuit, Gate, InputGroup, Owner, WireId};
use gcnn::crypto::{Block, Delta, Label, Prg};
use gcnn::garble::{Evaluator, Garbler};
use gcnn::protocol::ProtocolError;
use proptest::prelude::*;

/// A one-gate circuit over two single-bit inputs with the given owners.
fn one_gate(owners: [Owner; 2], gate: Gate) -> Circuit {
    let inputs = owners
        .iter()
        .map(|&owner| InputGroup { owner, width: 1 })
        .collect();
    Circuit::new(inputs, vec![gate], vec![vec![WireId(2)]], vec![]).unwrap()
}

const OWNERS: [[Owner; 2]; 4] = [
    [Owner::Evaluator, Owner::Evaluator],
    [Owner::Garbler, Owner::Evaluator],
    [Owner::Evaluator, Owner::Garbler],
    [Owner::Garbler, Owner::Garbler],
];

#[test]
fn every_gate_kind_matches_its_truth_table_for_every_owner_mix() {
    let (a, b) = (WireId(0), WireId(1));
    let gates = [
        (Gate::Xor(a, b), (|x, y| x ^ y) as fn(bool, bool) -> bool),
        (Gate::And(a, b), |x, y| x & y),
        (Gate::And(a, a), |x, _| x),
        (Gate::Not(a), |x, _| !x),
        (Gate::Not(b), |_, y| !y),
        (Gate::Const(false), |_, _| false),
        (Gate::Const(true), |_, _| true),
    ];
    for owners in OWNERS {
        for (gate, truth) in gates {
            let circuit = one_gate(owners, gate);
            for x in [false, true] {
                for y in [false, true] {
                    let inputs = vec![vec![x], vec![y]];
                    let (g, e) = run_memory(&circuit, &inputs);
                    g.unwrap();
                    let (out, _) = e.unwrap();
                    assert_eq!(out, vec![truth(x, y)], "{gate:?} {owners:?} on ({x}, {y})");
                }
            }
        }
    }
}

#[test]
fn gates_on_constants_and_known_wires_match_truth_tables() {
    // AND and XOR of a constant with a secret and with a garbler wire: the garbler half
    // gate path with a constant operand, and a known×known AND.
    for owner in [Owner::Evaluator, Owner::Garbler] {
        for c in [false, true] {
            let inputs = vec![InputGroup { owner, width: 1 }];
            let gates = vec![
                Gate::Const(c),
                Gate::And(WireId(0), WireId(1)),
                Gate::And(WireId(1), WireId(1)),
                Gate::Xor(WireId(1), WireId(0)),
            ];
            let outputs = vec![vec![WireId(2), WireId(3), WireId(4)]];
            let circuit = Circuit::new(inputs, gates, outputs, vec![]).unwrap();
            for x in [false, true] {
                let (_, e) = run_memory(&circuit, &[vec![x]]);
                assert_eq!(e.unwrap().0, vec![x & c, c, x ^ c], "{owner:?} c={c} x={x}");
            }
            // An AND with a constant is a garbler half gate on a secret input and free
            // on a garbler input; the constant×constant AND is always free.
            let program = gcnn::garble::Program::of(&circuit);
            let expected = match owner {
                Owner::Evaluator => (0, 1),
                Owner::Garbler => (0, 0),
            };
            assert_eq!(program.and_counts(), expected, "{owner:?}");
            assert_eq!(program.table_bytes(), 16 * expected.1);
        }
    }
}

/// Garbles one instruction-level gate into a buffer and evaluates it, without OT.
#[test]
fn gate_level_api_is_correct_and_sends_the_documented_bytes() {
    let mut prg = Prg::new(Block(42));
    for _ in 0..64 {
        let delta = Delta::new(prg.block());
        let (a0, b0) = (Label(prg.block()), Label(prg.block()));
        let mut garbler = Garbler::new(Buffer::new(), delta.clone());
        let and0 = garbler.and(a0, b0).unwrap();
        assert_eq!(
            garbler.channel().bytes().len(),
            32,
            "half-gates AND sends 32 bytes"
        );
        let half0 = garbler.garbler_half_gate(a0, true).unwrap();
        let half1 = garbler.garbler_half_gate(b0, false).unwrap();
        assert_eq!(
            garbler.channel().bytes().len(),
            64,
            "garbler half gate sends 16 bytes"
        );
        let xor0 = garbler.xor(a0, b0);
        let not0 = garbler.not(a0);
        assert_eq!(
            garbler.channel().bytes().len(),
            64,
            "XOR and NOT send nothing"
        );
        let tables = std::mem::take(garbler.channel()).bytes().to_vec();
        for x in [false, true] {
            for y in [false, true] {
                let (a, b) = (garbler.encode(a0, x), garbler.encode(b0, y));
                let mut ev = Evaluator::new(Buffer::from_bytes(tables.clone()));
                assert_eq!(ev.and(a, b).unwrap(), garbler.encode(and0, x & y));
                assert_eq!(ev.garbler_half_gate(a).unwrap(), garbler.encode(half0, x));
                assert_eq!(
                    ev.garbler_half_gate(b).unwrap(),
                    garbler.encode(half1, false)
                );
                assert_eq!(a ^ b, garbler.encode(xor0, x ^ y));
                assert_eq!(a, garbler.encode(not0, !x));
            }
        }
    }
}

#[test]
fn table_bytes_are_32_per_and_16_per_garbler_half_gate_0_per_xor_not() {
    let circuit = random_circuit(11, 20_000);
    let program = gcnn::garble::Program::of(&circuit);
    let (full, half) = program.and_counts();
    assert!(
        full > 1000 && half > 100,
        "the random mix exercises both kinds"
    );
    let inputs = random_inputs(&circuit, 11);
    let (g_in, _) = split_inputs(&circuit, &inputs);
    let mut prg = Prg::new(Block(3));
    let e_zero: Vec<Label> = program
        .evaluator_inputs()
        .iter()
        .map(|_| Label(prg.block()))
        .collect();
    let mut garbler = Garbler::new(Buffer::new(), Delta::new(prg.block()));
    garbler.garble(&program, &g_in, &e_zero).unwrap();
    assert_eq!(
        garbler.channel().bytes().len() as u64,
        32 * full + 16 * half
    );
    assert_eq!(program.table_bytes(), 32 * full + 16 * half);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn random_circuits_garble_to_the_plaintext_result_in_memory(
        seed in any::<u64>(), gates in 10_000usize..1_000_000
    ) {
        let circuit = random_circuit(seed, gates);
        let inputs = random_inputs(&circuit, seed);
        let (g, e) = run_memory(&circuit, &inputs);
        g.unwrap();
        prop_assert_eq!(e.unwrap().0, plain_outputs(&circuit, &inputs));
    }

    #[test]
    fn random_circuits_garble_to_the_plaintext_result_over_tcp(
        seed in any::<u64>(), gates in 10_000usize..1_000_000
    ) {
        let circuit = random_circuit(seed, gates);
        let inputs = random_inputs(&circuit, seed);
        let (g, e) = run_tcp(&circuit, &inputs);
        g.unwrap();
        prop_assert_eq!(e.unwrap().0, plain_outputs(&circuit, &inputs));
    }
}

#[test]
fn a_million_gate_circuit_over_tcp_matches_plaintext() {
    let circuit = random_circuit(99, 1_000_000);
    let inputs = random_inputs(&circuit, 99);
    let (g, e) = run_tcp(&circuit, &inputs);
    let report = g.unwrap();
    let (out, ereport) = e.unwrap();
    assert_eq!(out, plain_outputs(&circuit, &inputs));
    assert_eq!(report.bytes_sent, ereport.bytes_received);
    assert_eq!(report.bytes_received, ereport.bytes_sent);
}

#[test]
fn garbler_that_disconnects_mid_stream_is_a_clear_error_not_a_hang() {
    // A circuit with megabytes of tables (a random one may be mostly garbler-known, hence
    // free), and a garbler that hangs up halfway through them.
    let (seed, circuit) = (5..)
        .map(|seed| (seed, random_circuit(seed, 200_000)))
        .find(|(_, c)| gcnn::garble::Program::of(c).table_bytes() > 2_000_000)
        .expect("some seed garbles to megabytes");
    let inputs = random_inputs(&circuit, seed);
    let budget = gcnn::garble::Program::of(&circuit).table_bytes() as usize / 2;
    for over_tcp in [false, true] {
        let start = std::time::Instant::now();
        let dies_tcp = |c| Faulty::hang_up_after(c, budget);
        let dies_memory = |c| Faulty::hang_up_after(c, budget);
        let (g, e) = if over_tcp {
            let (a, b) = tcp_pair();
            run_pair(&circuit, &inputs, dies_tcp(a), b)
        } else {
            let (a, b) = memory::pair(TIMEOUT);
            run_pair(&circuit, &inputs, dies_memory(a), b)
        };
        assert!(matches!(
            g,
            Err(ProtocolError::Channel(ChannelError::Closed))
        ));
        let err = e.expect_err("evaluator must fail");
        assert!(
            matches!(err, ProtocolError::Channel(ChannelError::Closed)),
            "got {err}"
        );
        assert_eq!(err.to_string(), "peer closed the connection");
        assert!(
            start.elapsed() < TIMEOUT,
            "failure is reported before the timeout"
        );
    }
}

#[test]
fn evaluator_that_disconnects_is_a_clear_error_for_the_garbler() {
    let circuit = random_circuit(6, 400_000);
    let inputs = random_inputs(&circuit, 6);
    // The evaluator stops reading (and hangs up) a megabyte into the table stream.
    let (a, b) = tcp_pair();
    let dies = Faulty::hang_up_after(b, 1_000_000);
    let (g, e) = run_pair(&circuit, &inputs, a, dies);
    assert!(e.is_err());
    let err = g.expect_err("garbler must fail");
    assert!(
        matches!(err, ProtocolError::Channel(ChannelError::Closed)),
        "got {err}"
    );
}

#[test]
fn mismatched_circuits_fail_the_handshake_on_both_sides() {
    let circuit = random_circuit(8, 1000);
    let program = gcnn::garble::Program::of(&circuit);
    let (a, b) = memory::pair(TIMEOUT);
    let (g_in, e_in) = split_inputs(&circuit, &random_inputs(&circuit, 8));
    let (g, e) = std::thread::scope(|s| {
        let p = &program;
        let g = s.spawn(move || gcnn::protocol::run_garbler(a, p, [1; 32], &g_in));
        let e = gcnn::protocol::run_evaluator(b, p, [2; 32], &e_in);
        (g.join().unwrap(), e)
    });
    for err in [g.unwrap_err(), e.unwrap_err()] {
        assert!(
            err.to_string().contains("circuit hash mismatch"),
            "got {err}"
        );
    }
}
