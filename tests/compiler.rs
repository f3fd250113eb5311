//! The compiled LeNet against the integer reference: layer by layer, prediction by
//! prediction, and independent of weight values; as one circuit and as the mixed
//! protocol's stages (in the clear and garbled).

mod common;

use common::Rng;
use common::nets::{signed, unsigned, weighted};
use gcnn::circuit::{Circuit, Owner};
use gcnn::compiler::network::{Arch, compile, encode_image, encode_model};
use gcnn::compiler::stages::{Flow, Nonlinear, Stage, compile_stages, pool_bit, pool_windows};
use gcnn::inference::linear::Fanout;
use gcnn::inference::{ModelOwner, classify};
use gcnn::mnist::{Image, SIDE};
use gcnn::model::{ConvGeometry, Hwc, Layer, Model, Pool2d, PoolKind, WeightEncoding, Weighted};
use ndarray::{Array2, Array4};

/// Widths of one random architecture: input bits, then per weighted layer (encoding,
/// weight bits, out bits). Shifts and bias widths are derived so activations spread over
/// their range instead of saturating (see [`calibrated`]).
#[derive(Debug)]
struct Widths {
    input_bits: u32,
    layers: [(WeightEncoding, u32, u32); 4],
}

/// The notebook's LeNet with random values at the given widths.
fn random_model(rng: &mut Rng, w: &Widths) -> Model {
    let l = w.layers;
    let with =
        |(e, b, o): (WeightEncoding, u32, u32), terms: u32, in_bits: u32| (e, b, o, terms, in_bits);
    let conv1: Weighted<_> = weighted(
        rng,
        "conv1",
        ndarray::Ix4(16, 5, 5, 1),
        with(l[0], 25, w.input_bits),
        false,
    );
    let conv2 = weighted(
        rng,
        "conv2",
        ndarray::Ix4(16, 5, 5, 16),
        with(l[1], 400, l[0].2),
        false,
    );
    let fc1 = weighted(
        rng,
        "fc1",
        ndarray::Ix2(100, 256),
        with(l[2], 256, l[1].2),
        false,
    );
    let fc2 = weighted(
        rng,
        "fc2",
        ndarray::Ix2(10, 100),
        with(l[3], 100, l[2].2),
        true,
    );
    let _: (&Array4<i64>, &Array2<i64>) = (&conv1.weights, &fc1.weights);
    let valid = ConvGeometry {
        kernel: [5, 5],
        stride: [1, 1],
        padding: [0; 4],
    };
    let pool = |name: &str| {
        Layer::Pool2d(Pool2d {
            name: name.into(),
            kind: PoolKind::Max,
            size: [2, 2],
            stride: [2, 2],
        })
    };
    Model {
        input: Hwc {
            height: SIDE,
            width: SIDE,
            channels: 1,
        },
        input_bits: w.input_bits,
        layers: vec![
            Layer::Conv2d(conv1, valid),
            pool("pool1"),
            Layer::Conv2d(conv2, valid),
            pool("pool2"),
            Layer::Flatten {
                name: "flatten".into(),
            },
            Layer::Dense(fc1),
            Layer::Dense(fc2),
        ],
    }
}

const ODD: WeightEncoding = WeightEncoding::Odd;
const TWOS: WeightEncoding = WeightEncoding::Twos;

fn configs() -> Vec<Widths> {
    vec![
        Widths {
            input_bits: 1,
            layers: [(ODD, 2, 2), (ODD, 1, 2), (ODD, 2, 2), (ODD, 2, 0)],
        },
        Widths {
            input_bits: 2,
            layers: [(TWOS, 3, 3), (TWOS, 2, 2), (ODD, 1, 3), (TWOS, 4, 0)],
        },
        // One-bit activations: conv1 on lookups (narrow shares), conv2 a circuit.
        Widths {
            input_bits: 1,
            layers: [(ODD, 2, 1), (TWOS, 2, 1), (ODD, 2, 2), (ODD, 2, 0)],
        },
    ]
}

fn test_images(rng: &mut Rng, n: usize) -> Vec<Image> {
    let mut images: Vec<Image> = Vec::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/mnist");
    if let Ok(set) = gcnn::mnist::read_test_set(&dir) {
        images.extend(set.images.iter().take(n / 2).copied());
    }
    while images.len() < n {
        images.push(std::array::from_fn(|_| {
            std::array::from_fn(|_| rng.next() as u8)
        }));
    }
    images
}

/// Splits the garbler's flat bit string into the circuit's garbler groups.
fn inputs_for(circuit: &Circuit, garbler: &[bool], image_bits: Vec<bool>) -> Vec<Vec<bool>> {
    let mut rest = garbler;
    let mut groups = vec![image_bits];
    for g in &circuit.inputs()[1..] {
        assert_eq!(g.owner, Owner::Garbler);
        let (head, tail) = rest.split_at(g.width as usize);
        groups.push(head.to_vec());
        rest = tail;
    }
    assert!(
        rest.is_empty(),
        "encode_model produced exactly the garbler's bits"
    );
    groups
}

#[test]
fn compiled_lenet_matches_the_reference_layer_by_layer() {
    let mut rng = Rng(2024);
    for widths in configs() {
        let model = random_model(&mut rng, &widths);
        let arch = Arch::of(&model);
        let circuit = compile(&arch, true);
        let garbler = encode_model(&model);
        let (mut interior, mut total) = (vec![0; model.layers.len()], vec![0; model.layers.len()]);
        let (mut ones, mut wide) = (vec![0; model.layers.len()], vec![false; model.layers.len()]);
        for image in test_images(&mut rng, 4) {
            let inputs = inputs_for(&circuit, &garbler, encode_image(arch.input_bits, &image));
            let outputs = circuit.eval(&inputs).unwrap();
            let trace = model.trace(&image);
            for (k, t) in trace.iter().enumerate() {
                let max = t.iter().max().unwrap();
                interior[k] += t.iter().filter(|&&v| v != 0 && v != *max).count();
                ones[k] += t.iter().filter(|&&v| v == 1).count();
                wide[k] |= *max > 1;
                total[k] += t.len();
            }
            let mut got = outputs[1..].iter();
            for (layer, want) in model.layers.iter().zip(&trace) {
                for (i, &v) in want.iter().enumerate() {
                    let bits = got.next().expect("one output group per traced value");
                    let value = if want.len() == 10 && i < 10 && layer.name() == "fc2" {
                        signed(bits)
                    } else {
                        unsigned(bits)
                    };
                    assert_eq!(value, v, "layer {} value {i}", layer.name());
                }
            }
            assert_eq!(unsigned(&outputs[0]), model.predict(&image) as i64);
        }
        // The check above is only as strong as the values are varied: every layer must
        // have at least 1 % of values that are neither 0 nor the layer's maximum, or for
        // one-bit activations at least 1 % of each value.
        for (k, layer) in model.layers.iter().enumerate() {
            let (i, t, o) = (interior[k], total[k], ones[k]);
            if wide[k] {
                assert!(
                    i * 100 > t,
                    "{}: only {i}/{t} interior values",
                    layer.name()
                );
            } else {
                assert!(
                    o * 100 > t && (t - o) * 100 > t,
                    "{}: {o}/{t} ones",
                    layer.name()
                );
            }
        }
    }
}

#[test]
fn circuit_depends_only_on_the_architecture() {
    let mut rng = Rng(7);
    for widths in configs() {
        let (a, b) = (
            random_model(&mut rng, &widths),
            random_model(&mut rng, &widths),
        );
        assert_ne!(a, b);
        let (ca, cb) = (compile(&Arch::of(&a), false), compile(&Arch::of(&b), false));
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        gcnn::circuit::format::write_to(&ca, &mut fa).unwrap();
        gcnn::circuit::format::write_to(&cb, &mut fb).unwrap();
        assert_eq!(fa, fb, "byte-identical circuit files");
        assert_eq!(ca.outputs().len(), 1);
        assert_eq!(
            ca.outputs()[0].len(),
            4,
            "the only output is the 4-bit class"
        );
    }
}

/// 64 images per bit-sliced pass, checked against the reference prediction.
fn check_predictions(model: &Model, images: &[Image]) -> usize {
    let arch = Arch::of(model);
    let circuit = compile(&arch, false);
    let garbler = encode_model(model);
    let mut checked = 0;
    for chunk in images.chunks(64) {
        let mut groups: Vec<Vec<u64>> = Vec::new();
        let per_image: Vec<Vec<bool>> = chunk
            .iter()
            .map(|im| encode_image(arch.input_bits, im))
            .collect();
        groups.push(
            (0..per_image[0].len())
                .map(|i| {
                    per_image
                        .iter()
                        .enumerate()
                        .fold(0, |w, (l, b)| w | u64::from(b[i]) << l)
                })
                .collect(),
        );
        let flat = inputs_for(&circuit, &garbler, per_image[0].clone());
        for g in &flat[1..] {
            groups.push(g.iter().map(|&b| if b { u64::MAX } else { 0 }).collect());
        }
        let out = circuit.eval_lanes(&groups).unwrap();
        for (lane, image) in chunk.iter().enumerate() {
            let class = out[0]
                .iter()
                .rev()
                .fold(0usize, |acc, w| acc << 1 | (w >> lane & 1) as usize);
            assert_eq!(class, model.predict(image), "image {checked}");
            checked += 1;
        }
    }
    checked
}

#[test]
fn compiled_lenet_predicts_like_the_reference_on_many_images() {
    let mut rng = Rng(99);
    for widths in configs() {
        let model = random_model(&mut rng, &widths);
        let images = test_images(&mut rng, 256);
        assert_eq!(check_predictions(&model, &images), 256);
    }
    assert_eq!(SIDE, 28);
}

/// The committed model and test set, or `None` after printing SKIPPED.
fn committed_model_and_test_set() -> Option<(Model, gcnn::mnist::Dataset)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("models/lenet");
    if !dir.join("model.json").is_file() {
        common::skip(&format!("{} not found", dir.display()));
        return None;
    }
    let model = Model::load(&dir).expect("the committed model loads");
    let set = gcnn::mnist::read_test_set(&root.join("models/mnist")).expect("test set");
    Some((model, set))
}

/// The committed default model on the whole committed test set: the circuit's class is
/// the reference's on every one of the 10 000 images.
#[test]
fn default_model_circuit_matches_the_reference_on_all_test_images() {
    let Some((model, set)) = committed_model_and_test_set() else {
        return;
    };
    assert_eq!(set.images.len(), 10_000);
    assert_eq!(check_predictions(&model, &set.images), 10_000);
    // What `inspect` reports is exactly what a session sends.
    let plain = compile(&Arch::of(&model), false);
    let stats = gcnn::circuit::stats::Stats::of(&plain).total;
    let program = gcnn::garble::Program::of(&plain);
    assert_eq!((stats.and, stats.garbler_half), program.and_counts());
    assert_eq!(stats.table_bytes(), program.table_bytes());
    // And layer by layer on a few real digits.
    let circuit = compile(&Arch::of(&model), true);
    let garbler = encode_model(&model);
    for image in set.images.iter().take(3) {
        let inputs = inputs_for(&circuit, &garbler, encode_image(model.input_bits, image));
        let outputs = circuit.eval(&inputs).unwrap();
        let want: Vec<i64> = model
            .trace(image)
            .iter()
            .flat_map(|t| t.iter().copied())
            .collect();
        let got: Vec<i64> = outputs[1..]
            .iter()
            .zip(&want)
            .map(|(bits, _)| unsigned(bits))
            .collect();
        let logits = want.len() - 10;
        assert_eq!(got[..logits], want[..logits], "activations, layer by layer");
        let signed_logits: Vec<i64> = outputs[1 + logits..].iter().map(|b| signed(b)).collect();
        assert_eq!(signed_logits, want[logits..], "logits");
    }
}

/// The mixed protocol's arithmetic in the clear: every stage circuit fed a random
/// additive split of the accumulators (computed by [`Fanout::accumulate`]) and random
/// output masks, 64 images at a time. Checks every stage's unmasked output against the
/// reference's activations and the final class against its prediction; a lookup stage
/// is computed as the protocol's tables define it ([`lookups_in_the_clear`]). Returns
/// how many images it checked and how many stages were lookups.
fn check_mixed(model: &Model, flow: Flow, images: &[Image], rng: &mut Rng) -> (usize, usize) {
    let arch = Arch::of(model);
    let stages = compile_stages(&arch, flow).unwrap();
    let lookups = stages
        .iter()
        .filter(|s| matches!(s.nonlinear, Nonlinear::Lookup { .. }))
        .count();
    let values: Vec<(Vec<i64>, Vec<i64>)> = model
        .layers
        .iter()
        .filter_map(Layer::weights_and_bias)
        .map(|(w, b)| (w, b.to_vec()))
        .collect();
    // Stage k's output is the reference's output of the layer before weighted layer k + 1.
    let weighted: Vec<usize> = (0..model.layers.len())
        .filter(|&i| matches!(model.layers[i], Layer::Conv2d(..) | Layer::Dense(_)))
        .collect();
    let shift = 8 - model.input_bits;
    let mut checked = 0;
    for chunk in images.chunks(64) {
        let traces: Vec<_> = chunk.iter().map(|im| model.trace(im)).collect();
        let mut xs: Vec<Vec<u64>> = chunk
            .iter()
            .map(|im| {
                im.iter()
                    .flatten()
                    .map(|&p| u64::from(p >> shift))
                    .collect()
            })
            .collect();
        for (k, (stage, (w, b))) in stages.iter().zip(&values).enumerate() {
            let fanout = Fanout::new(&stage.linear, stage.input);
            let m = stage.ring_bits as usize;
            let ring = u64::MAX >> (64 - m);
            let circuit = match &stage.nonlinear {
                Nonlinear::Circuit(circuit) => circuit,
                Nonlinear::Lookup { pool } => {
                    for (lane, x) in xs.iter_mut().enumerate() {
                        let acc = fanout.accumulate(w, b, x, stage.ring_bits);
                        let got = lookups_in_the_clear(stage, pool.as_ref(), &acc, rng);
                        let want: Vec<i64> =
                            traces[lane][weighted[k + 1] - 1].iter().copied().collect();
                        assert_eq!(got, want, "stage {k}, image {}", checked + lane);
                        *x = got.iter().map(|&v| v as u64).collect();
                    }
                    continue;
                }
            };
            let groups = circuit.inputs();
            let mut lanes: Vec<Vec<u64>> =
                groups.iter().map(|g| vec![0; g.width as usize]).collect();
            let mut masks =
                vec![vec![false; groups.get(2).map_or(0, |g| g.width as usize)]; chunk.len()];
            for (lane, x) in xs.iter().enumerate() {
                let acc = fanout.accumulate(w, b, x, stage.ring_bits);
                for (o, &a) in acc.iter().enumerate() {
                    let a = a.wrapping_sub(stage.offset as u64);
                    let e = rng.next() & ring;
                    let g = a.wrapping_sub(e) & ring;
                    for j in 0..m {
                        lanes[0][o * m + j] |= (e >> j & 1) << lane;
                        lanes[1][o * m + j] |= (g >> j & 1) << lane;
                    }
                }
                for (i, r) in masks[lane].iter_mut().enumerate() {
                    *r = rng.next() & 1 == 1;
                    lanes[2][i] |= u64::from(*r) << lane;
                }
            }
            let out = circuit.eval_lanes(&lanes).unwrap();
            let bits = |lane: usize| -> Vec<bool> {
                out[0]
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        (w >> lane & 1 == 1) ^ masks[lane].get(i).copied().unwrap_or(false)
                    })
                    .collect()
            };
            let requant = match &model.layers[weighted[k]] {
                Layer::Conv2d(l, _) => l.requant,
                Layer::Dense(l) => l.requant,
                _ => unreachable!("weighted layers only"),
            };
            let Some(r) = requant else {
                for (lane, image) in chunk.iter().enumerate() {
                    let class = unsigned(&bits(lane)) as usize;
                    assert_eq!(class, model.predict(image), "image {}", checked + lane);
                }
                continue;
            };
            let expected_layer = weighted[k + 1] - 1;
            for (lane, x) in xs.iter_mut().enumerate() {
                let got: Vec<i64> = bits(lane)
                    .chunks(r.out_bits as usize)
                    .map(unsigned)
                    .collect();
                let want: Vec<i64> = traces[lane][expected_layer].iter().copied().collect();
                assert_eq!(got, want, "stage {k}, image {}", checked + lane);
                *x = got.iter().map(|&v| v as u64).collect();
            }
        }
        checked += chunk.len();
    }
    (checked, lookups)
}

/// A lookup stage's outputs from its accumulators `acc` (mod `2^m`), as its tables
/// compute them: a random additive split `E + G` of `acc − θ`, the activation
/// `[(E + G) mod 2^m < 2^(m−1)]`, then the pool's public function of each window.
fn lookups_in_the_clear(
    stage: &Stage,
    pool: Option<&Pool2d>,
    acc: &[u64],
    rng: &mut Rng,
) -> Vec<i64> {
    let m = stage.ring_bits;
    let ring = u64::MAX >> (64 - m);
    let act: Vec<bool> = acc
        .iter()
        .map(|&a| {
            let e = rng.next() & ring;
            let g = a.wrapping_sub(stage.offset as u64).wrapping_sub(e) & ring;
            (e + g) & ring < 1 << (m - 1)
        })
        .collect();
    let Some(pool) = pool else {
        return act.iter().map(|&a| i64::from(a)).collect();
    };
    let shape = stage.linear.output(stage.input).unwrap();
    let windows = pool_windows(pool, shape).unwrap();
    windows
        .chunks(pool.size[0] * pool.size[1])
        .map(|w| {
            let v = w
                .iter()
                .rev()
                .fold(0, |v, &i| v << 1 | u32::from(act[i as usize]));
            i64::from(pool_bit(pool.kind, v))
        })
        .collect()
}

#[test]
fn mixed_stages_compute_the_reference_on_random_models() {
    let mut rng = Rng(7);
    for widths in configs() {
        let model = random_model(&mut rng, &widths);
        let images = test_images(&mut rng, 128);
        for flow in Flow::ALL {
            let (checked, lookups) = check_mixed(&model, flow, &images, &mut rng);
            assert_eq!(checked, 128);
            // The one-bit configuration runs conv1 on lookups, unless asked not to.
            let one_bit = widths.layers[0].2 == 1;
            assert_eq!(lookups, usize::from(one_bit && flow == Flow::FewestBytes));
        }
    }
}

/// The committed model through the mixed protocol's arithmetic on all 10 000 test
/// images, stage by stage (on 2 048 of them in the fewest-round-trips flow).
#[test]
fn mixed_stages_compute_the_reference_on_all_test_images() {
    let Some((model, set)) = committed_model_and_test_set() else {
        return;
    };
    let mut rng = Rng(8);
    // conv1 (one-bit, 8-bit shares, 2×2 max pool) on lookups, the rest circuits.
    let all = check_mixed(&model, Flow::FewestBytes, &set.images, &mut rng);
    assert_eq!(all, (10_000, 1));
    // And every stage a circuit, conv1's 9 216 adders too (on a fifth of the images: the
    // circuit is the lowering every other one-bit stage gets, checked on random models
    // by the test above).
    let some = check_mixed(
        &model,
        Flow::FewestRoundTrips,
        &set.images[..2048],
        &mut rng,
    );
    assert_eq!(some, (2048, 0));
}

/// Garbled == plaintext through the whole protocol (in memory) on random models of both
/// weight encodings, 2-bit pixels included.
#[test]
fn mixed_protocol_matches_the_reference_on_random_models() {
    let mut rng = Rng(9);
    for widths in configs() {
        let model = random_model(&mut rng, &widths);
        let owner = ModelOwner::new(&model).unwrap();
        let served: Vec<_> = owner.pipelines().collect();
        for (image, public) in test_images(&mut rng, 6).iter().zip(served.iter().cycle()) {
            let (g, e) = gcnn::channel::memory::pair(std::time::Duration::from_secs(60));
            let (class, _) = std::thread::scope(|s| {
                let garbler = s.spawn(|| owner.serve(g).unwrap());
                let out = classify(public, e, image).unwrap();
                garbler.join().unwrap();
                out
            });
            assert_eq!(class, model.predict(image));
        }
    }
}
