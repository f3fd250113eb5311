//! Random and mutated inputs for the model loader and the protocol's message decoders:
//! never a panic, always an error (or, for garbled tables, a possibly wrong output of the
//! right shape). The circuit and Bristol parsers are fuzzed in `circuit_format.rs`.

mod common;

use std::fs;
use std::path::Path;
use std::thread;

use common::twoparty::{HASH, TIMEOUT, random_circuit, random_inputs, split_inputs};
use gcnn::channel::{Channel, memory};
use gcnn::crypto::{Block, Delta};
use gcnn::garble::{GateScheme, Program};
use gcnn::inference::{Pipeline, classify};
use gcnn::model::Model;
use gcnn::ot::IknpSender;
use gcnn::protocol::{HANDSHAKE_BYTES, Handshake, PROTOCOL_VERSION, ProtocolError, run_evaluator};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Flips, overwrites, truncates at or inserts at `pos` (taken modulo the length).
fn mutate(bytes: &mut Vec<u8>, kind: u8, pos: usize, byte: u8) {
    let pos = pos % bytes.len().max(1);
    match kind % 4 {
        0 if !bytes.is_empty() => bytes[pos] ^= 1 << (byte % 8),
        1 if !bytes.is_empty() => bytes[pos] = byte,
        2 => bytes.truncate(pos),
        _ => bytes.insert(pos.min(bytes.len()), byte),
    }
}

fn model_files() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet");
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("models/lenet")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .filter(|n| n.ends_with(".json") || n.ends_with(".npy"))
        .collect();
    names.sort();
    names
}

proptest! {
    #![proptest_config(Config { cases: 400, ..Config::default() })]

    /// One file of a copy of the committed model mutated (up to three times): loading
    /// returns a model or an error.
    #[test]
    fn model_loader_never_panics_on_mutated_files(
        file in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let names = model_files();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet");
        let dir = tempfile::tempdir().expect("temp dir");
        for name in &names {
            fs::copy(source.join(name), dir.path().join(name)).expect("copy");
        }
        let name = &names[file.index(names.len())];
        let mut bytes = fs::read(source.join(name)).expect("read");
        for (kind, pos, byte) in edits {
            mutate(&mut bytes, kind, pos, byte);
        }
        fs::write(dir.path().join(name), &bytes).expect("write");
        let _ = Model::load(dir.path());
    }

    /// Random bytes as one model file: always an error.
    #[test]
    fn model_loader_rejects_random_files(
        file in any::<prop::sample::Index>(),
        bytes in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let names = model_files();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet");
        let dir = tempfile::tempdir().expect("temp dir");
        for name in &names {
            fs::copy(source.join(name), dir.path().join(name)).expect("copy");
        }
        fs::write(dir.path().join(&names[file.index(names.len())]), &bytes).expect("write");
        prop_assert!(Model::load(dir.path()).is_err());
    }
}

const OURS: Handshake = Handshake {
    version: PROTOCOL_VERSION,
    circuit_hash: HASH,
    shape: [100, 200, 4],
    images: 1,
    gate_scheme: GateScheme::HalfGates,
};

/// The handshake's wire format: magic, version, circuit hash, shape, images, gate scheme.
fn encoded(h: &Handshake) -> Vec<u8> {
    let mut out = b"GCNN2PC\0".to_vec();
    out.extend_from_slice(&h.version.to_le_bytes());
    out.extend_from_slice(&h.circuit_hash);
    for v in h.shape {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&h.images.to_le_bytes());
    out.push(match h.gate_scheme {
        GateScheme::HalfGates => 0,
        GateScheme::ThreeHalves => 1,
    });
    out
}

/// Our handshake against a peer that sends `bytes`, reads our handshake and hangs up.
/// A full-length reply that differs must fail as a handshake error, not a channel one.
fn exchange_with(bytes: &[u8]) -> Result<(), ProtocolError> {
    let (mut ours, mut peer) = memory::pair(TIMEOUT);
    let result = thread::scope(|s| {
        s.spawn(move || {
            peer.write_bytes(bytes)?;
            peer.flush()?;
            peer.read_bytes(&mut [0; HANDSHAKE_BYTES])
        });
        OURS.exchange(&mut ours)
    });
    if bytes.len() >= HANDSHAKE_BYTES {
        assert!(
            matches!(
                result,
                Ok(()) | Err(ProtocolError::Handshake(_) | ProtocolError::CircuitMismatch { .. })
            ),
            "{result:?}"
        );
    }
    result
}

proptest! {
    #![proptest_config(Config { cases: 2000, ..Config::default() })]

    #[test]
    fn handshake_rejects_random_peer_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        prop_assert!(exchange_with(&bytes).is_err());
    }

    #[test]
    fn handshake_rejects_every_mutation(
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let good = encoded(&OURS);
        prop_assert!(exchange_with(&good).is_ok());
        let mut bytes = good.clone();
        for (kind, pos, byte) in edits {
            mutate(&mut bytes, kind, pos, byte);
        }
        // Extra bytes after a valid handshake belong to the next message.
        let still_valid = bytes.len() >= good.len() && bytes[..good.len()] == good[..];
        prop_assert_eq!(exchange_with(&bytes).is_ok(), still_valid);
    }
}

/// A garbler that runs the handshake and the OT honestly, then sends `noise` instead of
/// its tables and decoding bits.
fn noisy_garbler<C: Channel>(mut channel: C, program: &Program, hash: [u8; 32], noise: &[u8]) {
    let handshake = Handshake {
        version: PROTOCOL_VERSION,
        circuit_hash: hash,
        shape: [
            program.garbler_inputs().len() as u64,
            program.evaluator_inputs().len() as u64,
            program.outputs().len() as u64,
        ],
        images: 1,
        gate_scheme: GateScheme::HalfGates,
    };
    let mut honest = || -> Result<(), ProtocolError> {
        handshake.exchange(&mut channel)?;
        let mut ot = IknpSender::setup(&mut channel, Delta::new(Block(0x1234_5678)))?;
        ot.extend_correlated(&mut channel, program.evaluator_inputs().len())?;
        channel.write_bytes(noise)?;
        Ok(channel.flush()?)
    };
    let _ = honest();
}

proptest! {
    #![proptest_config(Config { cases: 200, ..Config::default() })]

    /// Random bytes where the tables belong: the evaluator errs (too few bytes) or
    /// returns outputs of the right shape; it never panics.
    #[test]
    fn evaluator_survives_random_tables(seed in any::<u64>(), extra in 0usize..64, short in any::<bool>()) {
        let circuit = random_circuit(seed, 300);
        let program = gcnn::garble::Program::of(&circuit);
        let (_, e_in) = split_inputs(&circuit, &random_inputs(&circuit, seed));
        // The garbler's inputs are hard-wired into the tables: only tables and decoding
        // bits follow the OT.
        let needed = program.table_bytes() as usize + program.outputs().len().div_ceil(8);
        let len = if short { needed.saturating_sub(extra + 1) } else { needed + extra };
        let noise: Vec<u8> = (0..len).map(|i| (seed.rotate_left(i as u32 % 64) ^ i as u64) as u8).collect();
        let (g, e) = memory::pair(TIMEOUT);
        let result = thread::scope(|s| {
            let p = &program;
            s.spawn(move || noisy_garbler(g, p, HASH, &noise));
            run_evaluator(e, p, HASH, &e_in)
        });
        match result {
            Ok((outputs, _)) => {
                prop_assert!(!short);
                prop_assert_eq!(outputs.len(), program.outputs().len());
            }
            Err(err) => prop_assert!(short, "{err}"),
        }
    }
}

/// A LeNet garbler that is honest up to the first layer's transfers, then sends `noise`
/// where the correction vectors, tables and the rest belong, and hangs up.
fn noisy_lenet_garbler<C: Channel>(mut channel: C, pipeline: &Pipeline, noise: &[u8]) {
    let mut honest = || -> Result<(), ProtocolError> {
        pipeline.handshake(1).exchange(&mut channel)?;
        let mut ot = IknpSender::setup(&mut channel, Delta::new(Block(0x1234_5678)))?;
        ot.random(&mut channel, pipeline.pixel_bits())?;
        channel.write_bytes(noise)?;
        Ok(channel.flush()?)
    };
    let _ = honest();
}

/// The LeNet evaluator fed random bytes after the first transfers, from a few bytes to
/// more than a whole session's: an error (the garbler hung up too early) or a class in
/// 0..9, or the error for an impossible class; never a panic or a hang.
#[test]
fn lenet_evaluator_survives_random_messages() {
    if common::lenet::model().is_none() {
        return;
    }
    let public = common::lenet::pipeline();
    let image = &common::lenet::test_set().images[0];
    let mut rng = common::Rng(41);
    for len in [10, 100_000, 3_000_000, 12_000_000] {
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let (g, e) = memory::pair(TIMEOUT);
        let result = thread::scope(|s| {
            s.spawn(|| noisy_lenet_garbler(g, public, &noise));
            classify(public, e, image)
        });
        match result {
            // classify itself rejects a class ≥ 10; ten bytes cannot carry a session.
            Ok(_) => assert!(len > 10, "a session from 10 bytes of noise"),
            Err(ProtocolError::InvalidOutput(what)) => assert!(what.starts_with("class 1")),
            Err(ProtocolError::Channel(_) | ProtocolError::Ot(_)) => {}
            Err(other) => panic!("{other}"),
        }
    }
}
