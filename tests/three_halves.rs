//! Three-halves garbling (Rosulek–Roy 2021) end to end: garbled result == plaintext on
//! random circuits, the shared Bristol arithmetic and LeNet's stage circuits; exact
//! bytes per gate; a corrupt or short table gives garbage or an error, never a panic.

mod common;

use common::lenet;
use common::twoparty::{random_circuit, random_inputs, split_inputs};
use common::{Rng, bits, shared_circuit, value};
use gcnn::channel::{Buffer, ChannelError};
use gcnn::circuit::Circuit;
use gcnn::compiler::network::Arch;
use gcnn::compiler::stages::{Flow, Nonlinear, compile_stages};
use gcnn::crypto::{Block, Delta, Label, Prg};
use gcnn::garble::{
    GateScheme, Program, THREE_HALVES_AND_BYTES, ThreeHalvesEvaluator, ThreeHalvesGarbler,
};

/// A garbled program: its tables, the output zero labels, Δ and the evaluator's labels.
struct Garbled {
    tables: Vec<u8>,
    out_zeros: Vec<Label>,
    delta: Delta,
    labels: Vec<Label>,
}

/// Garbles `program` on the garbler's bits `g` and fresh zero labels for the evaluator's
/// bits `e` (whose labels it returns too).
fn garble(program: &Program, g: &[bool], e: &[bool], seed: u128) -> Garbled {
    let mut prg = Prg::new(Block(seed));
    let delta = Delta::new(prg.block());
    let zeros: Vec<Label> = e.iter().map(|_| Label(prg.block())).collect();
    let mut garbler = ThreeHalvesGarbler::new(Buffer::new(), delta.clone(), prg.block());
    let out_zeros = garbler.garble(program, g, &zeros).unwrap();
    let labels = zeros
        .iter()
        .zip(e)
        .map(|(&z, &b)| garbler.encode(z, b))
        .collect();
    Garbled {
        tables: std::mem::take(garbler.channel()).into_bytes(),
        out_zeros,
        delta,
        labels,
    }
}

/// Evaluates `tables`; decodes the outputs against their zero labels' pointer bits.
fn evaluate(program: &Program, g: &Garbled, tables: Vec<u8>) -> Result<Vec<bool>, ChannelError> {
    let mut evaluator = ThreeHalvesEvaluator::new(Buffer::from_bytes(tables));
    let out = evaluator.evaluate(program, &g.labels)?;
    assert_eq!(evaluator.channel().unread(), 0, "every table byte read");
    Ok(out
        .iter()
        .zip(&g.out_zeros)
        .map(|(l, z)| l.pointer() ^ z.pointer())
        .collect())
}

/// `circuit` garbled with three halves on `inputs` (one vector per group): its outputs,
/// checked against the plaintext evaluation, and the table bytes, checked against the
/// program's count.
fn check(circuit: &Circuit, inputs: &[Vec<bool>], seed: u128) {
    let program = Program::of(circuit);
    let (g, e) = split_inputs(circuit, inputs);
    let garbled = garble(&program, &g, &e, seed);
    assert_eq!(
        garbled.tables.len() as u64,
        GateScheme::ThreeHalves.table_bytes(&program)
    );
    let got = evaluate(&program, &garbled, garbled.tables.clone()).unwrap();
    assert_eq!(got, circuit.eval(inputs).unwrap().concat());
}

#[test]
fn random_circuits_garble_to_the_plaintext_result() {
    for seed in 0..6 {
        let circuit = random_circuit(seed, 20_000 + 40_000 * seed as usize);
        check(&circuit, &random_inputs(&circuit, seed), u128::from(seed));
    }
}

#[test]
fn an_and_costs_25_bytes_and_a_garbler_half_gate_16() {
    let circuit = random_circuit(11, 20_000);
    let program = Program::of(&circuit);
    let (full, half) = program.and_counts();
    assert!(full > 1000 && half > 100, "both kinds: {full}, {half}");
    let (g, e) = split_inputs(&circuit, &random_inputs(&circuit, 11));
    let garbled = garble(&program, &g, &e, 11);
    assert_eq!(THREE_HALVES_AND_BYTES, 25, "1.5κ + 5 bits, in whole bytes");
    assert_eq!(garbled.tables.len() as u64, 25 * full + 16 * half);
    // Against half-gates' 32 bytes per AND, 21.9 % less.
    assert_eq!(
        program.table_bytes() - garbled.tables.len() as u64,
        7 * full
    );
}

#[test]
fn bristol_arithmetic_garbles_to_the_native_result() {
    let mut rng = Rng(0x3_2021);
    for (name, op) in [
        ("adder64", u64::wrapping_add as fn(u64, u64) -> u64),
        ("sub64", u64::wrapping_sub),
        ("mult64", u64::wrapping_mul),
    ] {
        let Some(circuit) = shared_circuit(name) else {
            return;
        };
        let program = Program::of(&circuit);
        for k in 0..16 {
            let (a, b) = (rng.next(), rng.next() >> rng.below(64));
            let inputs = [bits(a.into(), 64), bits(b.into(), 64)];
            let (g, e) = split_inputs(&circuit, &inputs);
            let garbled = garble(&program, &g, &e, k);
            let got = evaluate(&program, &garbled, garbled.tables.clone()).unwrap();
            assert_eq!(value(&got), u128::from(op(a, b)), "{name}({a}, {b})");
        }
    }
}

#[test]
fn lenet_stage_circuits_garble_to_the_plaintext_result() {
    let Some(model) = lenet::model() else {
        return;
    };
    let mut rng = Rng(7);
    // Every stage a circuit, conv1's too (the fewest-round-trips flow).
    let stages = compile_stages(&Arch::of(&model), Flow::FewestRoundTrips).unwrap();
    let circuits: Vec<_> = stages
        .iter()
        .filter_map(|s| match &s.nonlinear {
            Nonlinear::Circuit(c) => Some(c),
            Nonlinear::Lookup { .. } => None,
        })
        .collect();
    assert_eq!(circuits.len(), stages.len());
    for (k, circuit) in circuits.into_iter().enumerate() {
        let inputs: Vec<Vec<bool>> = circuit
            .inputs()
            .iter()
            .map(|g| rng.bits(g.width as usize))
            .collect();
        check(circuit, &inputs, k as u128);
    }
}

#[test]
fn a_corrupt_table_gives_garbage_labels_and_a_short_one_an_error() {
    let circuit = random_circuit(11, 20_000);
    let program = Program::of(&circuit);
    assert!(program.and_counts().0 > 1000);
    let (g, e) = split_inputs(&circuit, &random_inputs(&circuit, 11));
    let garbled = garble(&program, &g, &e, 11);
    // Flip one bit in every AND's material: the evaluation runs to the end, and some
    // output label is neither of its wire's two labels.
    let mut tables = garbled.tables.clone();
    for byte in tables.iter_mut().step_by(7) {
        *byte ^= 0x10;
    }
    let mut evaluator = ThreeHalvesEvaluator::new(Buffer::from_bytes(tables));
    let out = evaluator.evaluate(&program, &garbled.labels).unwrap();
    let valid = |(l, z): (&Label, &Label)| *l == *z || *l == *z ^ garbled.delta.block();
    assert!(
        !out.iter().zip(&garbled.out_zeros).all(valid),
        "corrupt tables still give valid labels"
    );
    // One byte short: a channel error, no panic.
    let mut short = garbled.tables.clone();
    short.pop();
    assert!(evaluate(&program, &garbled, short).is_err());
}
