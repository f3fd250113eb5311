//! Random architectures: random shapes, kernels, strides, paddings, pool kinds, depths,
//! bit widths and class counts, with random weights. On each, the integer reference,
//! the pure whole-network circuit (plaintext evaluation) and the mixed protocol (in
//! memory, and over TCP or between two `gcnn` processes for a sample) must agree.

mod common;

use std::thread;
use std::time::Duration;

use common::Rng;
use common::lenet::{assert_predicts, garbler, gcnn, path, test_set};
use common::nets::{random_network, random_pixels, signed, unsigned};
use common::twoparty::tcp_pair;
use gcnn::circuit::Owner;
use gcnn::compiler::mixed::MixedCircuit;
use gcnn::compiler::network::{Arch, compile, encode_image, encode_model};
use gcnn::compiler::stages::{Flow, Nonlinear};
use gcnn::inference::{ModelOwner, classify};
use gcnn::model::{Hwc, Model};
use proptest::prelude::*;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The pure circuit with every layer traced, evaluated in plaintext on `images`: every
/// layer's every value and the class equal the reference's.
fn check_pure(model: &Model, images: &[gcnn::model::Pixels]) {
    let arch = Arch::of(model);
    let circuit = compile(&arch, true);
    let garbler = encode_model(model);
    for pixels in images {
        let mut inputs = vec![encode_image(arch.input_bits, pixels)];
        let mut rest = garbler.as_slice();
        for g in &circuit.inputs()[1..] {
            assert_eq!(g.owner, Owner::Garbler);
            let (head, tail) = rest.split_at(g.width as usize);
            inputs.push(head.to_vec());
            rest = tail;
        }
        assert!(rest.is_empty());
        let outputs = circuit.eval(&inputs).unwrap();
        let trace = model.trace(pixels);
        let mut got = outputs[1..].iter();
        let layers = model.layers.len();
        for (k, (layer, want)) in model.layers.iter().zip(&trace).enumerate() {
            for (i, &v) in want.iter().enumerate() {
                let bits = got.next().expect("one output group per traced value");
                let value = if k + 1 == layers {
                    signed(bits)
                } else {
                    unsigned(bits)
                };
                assert_eq!(value, v, "layer {} value {i}", layer.name());
            }
        }
        assert_eq!(unsigned(&outputs[0]) as usize, model.predict(pixels));
    }
}

/// One private inference of `pixels` over a connected channel pair.
fn private<C: gcnn::channel::Channel + Send>(
    owner: &ModelOwner,
    (g, e): (C, C),
    pixels: &gcnn::model::Pixels,
) -> usize {
    thread::scope(|s| {
        let garbler = s.spawn(|| owner.serve(g).unwrap());
        let (class, _) = classify(owner.pipeline(), e, pixels).unwrap();
        garbler.join().unwrap();
        class
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Reference == pure circuit, every layer's values, on random architectures.
    #[test]
    fn pure_circuit_equals_the_reference_on_random_networks(seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let model = random_network(&mut rng, None);
        let images: Vec<_> = (0..3).map(|_| random_pixels(&mut rng, &model)).collect();
        check_pure(&model, &images);
    }

    /// Reference == mixed protocol in memory, on random architectures.
    #[test]
    fn mixed_protocol_equals_the_reference_on_random_networks(seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let model = random_network(&mut rng, None);
        let owner = ModelOwner::new(&model).unwrap();
        for _ in 0..2 {
            let pixels = random_pixels(&mut rng, &model);
            let pair = gcnn::channel::memory::pair(TIMEOUT);
            prop_assert_eq!(private(&owner, pair, &pixels), model.predict(&pixels));
        }
    }
}

/// Random architectures whose one-bit stages run on lookup OTs (narrow shares, at most
/// one pool of at most 8 elements): with a pool (max or average) and without, the mixed
/// protocol's class equals the reference's on random pixels. The random networks of the
/// proptest above take this path too, whenever a stage qualifies.
#[test]
fn lookup_stages_of_random_networks_equal_the_reference() {
    let mut rng = Rng(0x100c);
    let (mut networks, mut with_pool, mut without, mut average) = (0, 0, 0, 0);
    for _ in 0..400 {
        let model = random_network(&mut rng, None);
        let mixed = MixedCircuit::compile(&Arch::of(&model), Flow::default()).unwrap();
        let pools: Vec<_> = mixed
            .stages
            .iter()
            .filter_map(|s| match &s.nonlinear {
                Nonlinear::Lookup { pool } => Some(pool.clone()),
                Nonlinear::Circuit(_) => None,
            })
            .collect();
        if pools.is_empty() {
            continue;
        }
        networks += 1;
        for pool in &pools {
            match pool {
                Some(p) => {
                    with_pool += 1;
                    average += usize::from(matches!(p.kind, gcnn::model::PoolKind::Avg { .. }));
                }
                None => without += 1,
            }
        }
        let owner = ModelOwner::new(&model).unwrap();
        for _ in 0..3 {
            let pixels = random_pixels(&mut rng, &model);
            let pair = gcnn::channel::memory::pair(TIMEOUT);
            assert_eq!(private(&owner, pair, &pixels), model.predict(&pixels));
        }
        if networks >= 40 && with_pool >= 10 && without >= 10 && average >= 4 {
            return;
        }
    }
    panic!(
        "{networks} networks with lookups: {with_pool} pooled ({average} average), {without} without a pool"
    );
}

/// A sample of random architectures over loopback TCP.
#[test]
fn mixed_protocol_over_tcp_equals_the_reference_on_random_networks() {
    let mut rng = Rng(0x7c9);
    for _ in 0..4 {
        let model = random_network(&mut rng, None);
        let owner = ModelOwner::new(&model).unwrap();
        let pixels = random_pixels(&mut rng, &model);
        assert_eq!(private(&owner, tcp_pair(), &pixels), model.predict(&pixels));
    }
}

/// Random architectures on 28×28×1 inputs, saved in format version 2, served by a
/// `gcnn garbler` process to `gcnn evaluator` processes classifying test digits.
#[test]
fn two_processes_agree_with_the_reference_on_random_networks() {
    let mut rng = Rng(0x2bd);
    let mnist = Hwc {
        height: 28,
        width: 28,
        channels: 1,
    };
    for _ in 0..2 {
        let model = random_network(&mut rng, Some(mnist));
        let dir = tempfile::tempdir().unwrap();
        model.save(dir.path()).unwrap();
        let (mut child, addr, _lines) = garbler(2, &["--model", path(dir.path())]);
        for index in [rng.below(10_000) as usize, rng.below(10_000) as usize] {
            let out = gcnn(&["evaluator", "--connect", &addr, "--model", path(dir.path())])
                .args(["--mnist-index", &index.to_string()])
                .output()
                .unwrap();
            let expected = model.predict(&test_set().images[index]);
            assert_predicts(&out, expected);
        }
        assert!(common::exit_within(&mut child).success());
    }
}

/// The pixels are the first weighted layer's choice bits: a pool before it has no place
/// in the mixed protocol and is refused with a clear error.
#[test]
fn pooling_before_the_first_weighted_layer_is_refused_by_the_pipeline() {
    let mut rng = Rng(5);
    let model = random_network(&mut rng, None);
    let mut arch = Arch::of(&model);
    let identity = gcnn::model::Pool2d {
        name: "early".into(),
        kind: gcnn::model::PoolKind::Max,
        size: [1, 1],
        stride: [1, 1],
    };
    arch.layers
        .insert(0, gcnn::compiler::network::ArchLayer::Pool(identity));
    let err = gcnn::inference::Pipeline::new(&arch)
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("early: pooling before the first weighted layer"),
        "{err}"
    );
}

/// Sets the `k`-th number of a JSON value (depth-first) to `v`; false if it has fewer.
fn set_number(json: &mut serde_json::Value, k: &mut usize, v: u64) -> bool {
    match json {
        serde_json::Value::Number(_) => {
            if *k == 0 {
                *json = v.into();
                return true;
            }
            *k -= 1;
            false
        }
        serde_json::Value::Array(items) => items.iter_mut().any(|x| set_number(x, k, v)),
        serde_json::Value::Object(map) => map.values_mut().any(|x| set_number(x, k, v)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever architecture the loader accepts — here a random network's `model.json`
    /// with one to three numbers (shapes, kernels, strides, paddings, widths, shifts)
    /// changed — the reference, the pure compiler's planning and the mixed pipeline
    /// take without a panic: they answer or refuse.
    #[test]
    fn accepted_architectures_never_panic_downstream(
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<usize>(), 0u64..40), 1..4),
    ) {
        let mut rng = Rng(seed);
        let model = random_network(&mut rng, None);
        let dir = tempfile::tempdir().unwrap();
        model.save(dir.path()).unwrap();
        let path = dir.path().join("model.json");
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (k, v) in edits {
            let mut k = k % 200;
            set_number(&mut json, &mut k, v);
        }
        std::fs::write(&path, json.to_string()).unwrap();
        if let Ok(arch_model) = Model::load_architecture(dir.path()) {
            let pixels = random_pixels(&mut rng, &arch_model);
            let _ = arch_model.predict(&pixels);
            if let Ok(pipeline) = gcnn::inference::Pipeline::new(&Arch::of(&arch_model)) {
                prop_assert_eq!(pipeline.classes(), arch_model.classes());
            }
        }
    }
}
