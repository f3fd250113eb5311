//! The mixed circuit file: `gcnn compile` writes it, `gcnn garbler --circuit` and
//! `gcnn evaluator --circuit` run it, `gcnn inspect` prints its costs. It depends on the
//! architecture only, names the session in the handshake, and is loaded with caps.

mod common;

use std::fs;
use std::thread;

use common::Rng;
use common::lenet::{
    TIMEOUT, assert_predicts, evaluator, garbler, gcnn, model, one_error_line, path, repo,
    test_set, text,
};
use common::nets::random_network;
use gcnn::channel::{Channel, ChannelError, memory};
use gcnn::compiler::mixed::MixedCircuit;
use gcnn::compiler::network::Arch;
use gcnn::compiler::stages::Flow;
use gcnn::inference::{ModelOwner, Pipeline, classify, prepare};

/// `gcnn compile --model DIR --out FILE [EXTRA…]`, which must succeed.
fn compile_with(model: &std::path::Path, out: &std::path::Path, extra: &[&str]) {
    let mut args = vec!["compile", "--model", path(model), "--out", path(out)];
    args.extend_from_slice(extra);
    let run = gcnn(&args).output().unwrap();
    assert!(run.status.success(), "{}", text(&run.stderr));
}

/// `gcnn compile --model DIR --out FILE`, which must succeed.
fn compile(model: &std::path::Path, out: &std::path::Path) {
    compile_with(model, out, &[]);
}

#[test]
fn models_with_different_weights_compile_to_identical_files() {
    let Some(lenet) = model() else { return };
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    lenet.with_random_values(11).save(&other).unwrap();
    let (a, b) = (dir.path().join("a.mixed"), dir.path().join("b.mixed"));
    compile(&repo("models/lenet"), &a);
    compile(&other, &b);
    let (a, b) = (fs::read(a).unwrap(), fs::read(b).unwrap());
    assert_eq!(a, b, "byte-identical circuit files");
    // And so do random architectures, compiled in memory; the encoding is canonical.
    let mut rng = Rng(3);
    for _ in 0..8 {
        let net = random_network(&mut rng, None);
        let bytes = MixedCircuit::compile(&Arch::of(&net), Flow::default())
            .unwrap()
            .to_bytes();
        let same = MixedCircuit::compile(&Arch::of(&net.with_random_values(5)), Flow::default())
            .unwrap()
            .to_bytes();
        assert_eq!(bytes, same);
        let (read, hash) = MixedCircuit::from_bytes(&bytes).unwrap();
        assert_eq!(read.to_bytes(), bytes);
        assert_eq!(hash, read.hash());
    }
}

/// Each flow's file: the garbler accepts either as its model's and serves both; the
/// evaluator runs the file it is given; the fewest-round-trips file is another circuit.
#[test]
fn garbler_and_evaluator_run_the_compiled_file() {
    let Some(lenet) = model() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lenet.mixed");
    let rounds = dir.path().join("rounds.mixed");
    compile(&repo("models/lenet"), &file);
    compile_with(
        &repo("models/lenet"),
        &rounds,
        &["--flow", "fewest-round-trips"],
    );
    assert_ne!(fs::read(&file).unwrap(), fs::read(&rounds).unwrap());
    for (given, served) in [(&file, &rounds), (&rounds, &file)] {
        let (mut child, addr, lines) = garbler(2, &["--circuit", path(given)]);
        for (one, index) in [(given, 5), (served, 6)] {
            let out = evaluator(&addr, index, &["--circuit", path(one)]);
            assert_predicts(&out, lenet.predict(&test_set().images[index]));
        }
        assert!(common::exit_within(&mut child).success());
        let log: Vec<String> = lines.map(Result::unwrap).collect();
        assert!(log.iter().all(|l| l.contains(": ok in ")), "{log:?}");
    }
}

#[test]
fn a_client_with_another_circuit_file_fails_the_handshake() {
    let Some(_) = model() else { return };
    // Same shapes, one more bit of requantization shift in fc1: another circuit.
    let text_json = fs::read_to_string(repo("models/lenet/model.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text_json).unwrap();
    let shift = json["layers"][5]["shift"].as_u64().expect("fc1's shift");
    json["layers"][5]["shift"] = (shift + 1).into();
    let dir = tempfile::tempdir().unwrap();
    let arch_dir = dir.path().join("arch");
    fs::create_dir(&arch_dir).unwrap();
    fs::write(arch_dir.join("model.json"), json.to_string()).unwrap();
    let file = dir.path().join("other.mixed");
    compile(&arch_dir, &file);

    let (mut child, addr, lines) = garbler(1, &[]);
    let out = evaluator(&addr, 0, &["--circuit", path(&file)]);
    assert!(one_error_line(&out).contains("circuit files differ"));
    // A failed handshake is not a session: the garbler still serves its one session.
    let ok = evaluator(&addr, 0, &[]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(common::exit_within(&mut child).success());
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(
        log.iter().any(|l| l.contains("circuit files differ")),
        "{log:?}"
    );

    // A garbler refuses a file its model does not compile to, before it listens.
    let out = gcnn(&["garbler", "--listen", "127.0.0.1:0", "--once"])
        .args(["--circuit", path(&file)])
        .output()
        .unwrap();
    let line = one_error_line(&out);
    assert!(line.contains("was not compiled from the model"), "{line}");
}

#[test]
fn malformed_circuit_files_fail_with_one_line() {
    let Some(_) = model() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lenet.mixed");
    compile(&repo("models/lenet"), &file);
    let good = fs::read(&file).unwrap();
    let mut flipped = good.clone();
    flipped[100] ^= 1;
    let mut trailing = good.clone();
    trailing.push(0);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "hash mismatch",
        ),
        ("flipped", flipped, "hash mismatch"),
        ("trailing", trailing, "hash mismatch"),
        (
            "magic",
            b"GCNNMIXD".to_vec(),
            "bad magic bytes or too short",
        ),
    ];
    for (name, bytes, needle) in cases {
        let bad = dir.path().join(name);
        fs::write(&bad, bytes).unwrap();
        for args in [
            vec!["inspect", path(&bad)],
            vec![
                "evaluator",
                "--connect",
                "127.0.0.1:9",
                "--mnist-index",
                "0",
            ],
        ] {
            let mut command = gcnn(&args);
            if args[0] == "evaluator" {
                command.args(["--circuit", path(&bad)]);
            }
            let line = one_error_line(&command.output().unwrap());
            assert!(line.contains(needle) && line.contains(name), "{line}");
        }
    }
    // Well-hashed but lying: a stage count beyond the cap, with a valid hash.
    let mut lying = b"GCNNMIXD".to_vec();
    lying.extend_from_slice(&[2, 28, 28, 1, 1, 0xff, 0xff, 0x03]);
    let hash = blake3::hash(&lying);
    lying.extend_from_slice(hash.as_bytes());
    let err = MixedCircuit::from_bytes(&lying).err().expect("refused");
    assert!(err.contains("stage count is 65535"), "{err}");
    // Random mutations of a small valid file are errors, never panics.
    let small = MixedCircuit::compile(
        &Arch::of(&random_network(&mut Rng(1), None)),
        Flow::default(),
    )
    .unwrap()
    .to_bytes();
    let mut rng = Rng(2);
    for _ in 0..2000 {
        let mut bytes = small.clone();
        let body = bytes.len() - 32;
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(body as u64) as usize;
            bytes[i] = rng.next() as u8;
        }
        // Re-hashed, so the parser itself sees the mutation.
        let hash = blake3::hash(&bytes[..body]);
        bytes[body..].copy_from_slice(hash.as_bytes());
        if let Ok((mixed, hash)) = MixedCircuit::from_bytes(&bytes) {
            let _ = Pipeline::from_circuit(mixed, hash);
        }
    }
}

/// One step of what the evaluator's channel carried: consecutive reads (or writes) merged.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Step {
    Read(u64),
    Write(u64),
}

struct Recording<C> {
    inner: C,
    steps: Vec<Step>,
}

impl<C: Channel> Channel for Recording<C> {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        match self.steps.last_mut() {
            Some(Step::Write(n)) => *n += bytes.len() as u64,
            _ => self.steps.push(Step::Write(bytes.len() as u64)),
        }
        self.inner.write_bytes(bytes)
    }

    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), ChannelError> {
        self.inner.read_bytes(buf)?;
        match self.steps.last_mut() {
            Some(Step::Read(n)) => *n += buf.len() as u64,
            _ => self.steps.push(Step::Read(buf.len() as u64)),
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        self.inner.flush()
    }
}

/// What `gcnn inspect` prints per layer — online bytes each way, total bytes each way,
/// round trips — equals what a real session over `pipeline` (one `owner` serves)
/// carries, message by message; returns the round trips counted, whole session and
/// online.
fn check_costs_against_a_session(
    owner: &ModelOwner,
    pipeline: &Pipeline,
    pixels: gcnn::model::PixelView<'_>,
) -> (u64, u64) {
    let (g, e) = memory::pair(TIMEOUT);
    let mut view = Recording {
        inner: e,
        steps: Vec::new(),
    };
    let report = thread::scope(|s| {
        let garbler = s.spawn(|| owner.serve(g).unwrap());
        let (_, report) = classify(pipeline, &mut view, pixels).unwrap();
        garbler.join().unwrap();
        report
    });
    let costs = pipeline.layer_costs();
    let setup = pipeline.setup_cost();
    // Online, per layer and round trip a message each way: d and f →, ← labels for a
    // circuit; d and d' →, ← tables (then d'' →, ← tables with a pool) for lookups.
    let online_steps = 2 * costs.iter().map(|c| c.round_trips).sum::<u64>() as usize;
    let mut online = view.steps[view.steps.len() - online_steps..].iter();
    for c in &costs {
        let (mut sent, mut received) = (0, 0);
        for _ in 0..c.round_trips {
            let (Some(Step::Write(w)), Some(Step::Read(r))) = (online.next(), online.next()) else {
                panic!("layer {}: unexpected messages {:?}", c.name, view.steps);
            };
            (sent, received) = (sent + w, received + r);
        }
        assert_eq!(c.online_to_garbler, sent, "layer {}", c.name);
        assert_eq!(c.online_to_evaluator, received, "layer {}", c.name);
    }
    let to_garbler: u64 = costs.iter().map(|c| c.to_garbler).sum();
    let to_evaluator: u64 = costs.iter().map(|c| c.to_evaluator).sum();
    assert_eq!(report.bytes_sent, setup.to_garbler + to_garbler);
    assert_eq!(report.bytes_received, setup.to_evaluator + to_evaluator);
    // Round trips: each write the evaluator waits on an answer to.
    let trips = view
        .steps
        .windows(2)
        .filter(|w| matches!(w, [Step::Write(_), Step::Read(_)]))
        .count() as u64;
    let layer_trips: u64 = costs.iter().map(|c| c.round_trips).sum();
    assert_eq!(trips, setup.round_trips + layer_trips);
    (trips, trips - setup.round_trips)
}

/// Both flows of LeNet, and random networks in each flow their owner serves: the costs
/// are a session's; LeNet's session costs 7 round trips (5 online: conv1's pool waits for
/// its thresholds) with lookups and 6 (4 online, one per weighted layer) without.
#[test]
fn inspect_costs_equal_a_sessions_measured_bytes() {
    let Some(lenet) = model() else { return };
    let owner = ModelOwner::new(&lenet).unwrap();
    let trips: Vec<(u64, u64)> = owner
        .pipelines()
        .map(|p| check_costs_against_a_session(&owner, p, (&test_set().images[3]).into()))
        .collect();
    assert_eq!(trips, [(7, 5), (6, 4)]);
    let mut rng = Rng(44);
    for _ in 0..4 {
        let net = random_network(&mut rng, None);
        let pixels = common::nets::random_pixels(&mut rng, &net);
        let owner = ModelOwner::new(&net).unwrap();
        for pipeline in owner.pipelines() {
            check_costs_against_a_session(&owner, pipeline, pixels.view());
        }
    }

    // The numbers `gcnn inspect` prints are these.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lenet.mixed");
    compile(&repo("models/lenet"), &file);
    let out = gcnn(&["inspect", path(&file)]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for c in owner.pipeline().layer_costs() {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(c.name.as_str()))
            .unwrap_or_else(|| panic!("no row for {} in {stdout}", c.name));
        let numbers: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|t| t.parse().unwrap())
            .collect();
        let want = c.columns();
        assert_eq!(numbers, want, "{line}");
    }
}

/// A network beyond the protocol's bounds is refused by `gcnn compile` with one line,
/// before any of its circuits is built.
#[test]
fn a_network_too_large_for_the_protocol_is_refused_quickly() {
    let json = serde_json::json!({
        "format": "gcnn-cnn", "version": 2,
        "input": {"height": 256, "width": 256, "channels": 16, "bits": 8},
        "layers": [
            {"type": "conv2d", "name": "huge", "kernel": [3, 3], "stride": [1, 1],
             "padding": [1, 1, 1, 1], "in_channels": 16, "out_channels": 256,
             "weight_bits": 8, "weight_encoding": "twos", "bias_bits": 24, "shift": 8,
             "out_bits": 8, "weights": "w.npy", "bias": "b.npy"},
            {"type": "maxpool2d", "name": "pool", "size": [64, 64], "stride": [64, 64]},
            {"type": "flatten", "name": "flatten"},
            {"type": "dense", "name": "fc", "in_features": 4096, "out_features": 2,
             "weight_bits": 2, "weight_encoding": "odd", "bias_bits": 4,
             "shift": null, "out_bits": null, "weights": "fw.npy", "bias": "fb.npy"}
        ]
    });
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("model.json"), json.to_string()).unwrap();
    let start = std::time::Instant::now();
    let out = gcnn(&["compile", "--model", path(dir.path())])
        .args(["--out", path(&dir.path().join("x.mixed"))])
        .output()
        .unwrap();
    let line = one_error_line(&out);
    assert!(
        line.contains("layer huge") && line.contains("multiply-accumulates"),
        "{line}"
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    assert!(!dir.path().join("x.mixed").exists());
}

/// A client that prepares before it has the image: the offline phase first, a pause,
/// then the image; the class equals the plaintext model's on random networks (1-bit and
/// wider pixels) and on test images of the committed LeNet, and the report's online
/// phase excludes the pause.
#[test]
fn a_prepared_session_classifies_like_the_plaintext_model() {
    let pause = std::time::Duration::from_millis(300);
    let run = |net: &gcnn::model::Model, pixels: gcnn::model::PixelView<'_>| {
        let owner = ModelOwner::new(net).unwrap();
        let (g, e) = memory::pair(TIMEOUT);
        thread::scope(|s| {
            let garbler = s.spawn(|| owner.serve(g).unwrap());
            let start = std::time::Instant::now();
            let prepared = prepare(owner.pipeline(), e).unwrap();
            thread::sleep(pause);
            let (class, report) = prepared.classify(pixels).unwrap();
            let wall = start.elapsed();
            garbler.join().unwrap();
            assert_eq!(class, net.predict(pixels));
            // Whatever the machine's speed: had either phase counted the pause, the
            // report would exceed the wall time less the pause.
            assert!(report.total + pause <= wall, "{report:?} in {wall:?}");
            assert_eq!(report.total, report.setup + report.online);
        });
    };
    let mut rng = Rng(45);
    for _ in 0..4 {
        let net = random_network(&mut rng, None);
        let pixels = common::nets::random_pixels(&mut rng, &net);
        run(&net, pixels.view());
    }
    let Some(lenet) = model() else { return };
    for i in [0, 1, 2] {
        run(&lenet, (&test_set().images[i]).into());
    }
}

/// A circuit file whose lookup stage the protocol cannot run is refused with a reason by
/// the pipeline, never run: a pool window of more than 8 elements or one that does not
/// fit the activations, shares wider than 8 bits, lookups as the last stage. The file
/// itself round-trips (the kind and pool are in the hash) and a changed pool is another
/// circuit.
#[test]
fn lookup_stages_the_protocol_cannot_run_are_refused() {
    use gcnn::compiler::stages::Nonlinear;
    let Some(lenet) = model() else { return };
    let arch = Arch::of(&lenet);
    let refused = |edit: &dyn Fn(&mut MixedCircuit)| -> String {
        let mut mixed = MixedCircuit::compile(&arch, Flow::default()).unwrap();
        edit(&mut mixed);
        let (read, hash) = MixedCircuit::from_bytes(&mixed.to_bytes()).unwrap();
        assert_ne!(
            hash,
            MixedCircuit::compile(&arch, Flow::default())
                .unwrap()
                .hash()
        );
        match Pipeline::from_circuit(read, hash) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    };
    fn pool(mixed: &mut MixedCircuit) -> &mut gcnn::model::Pool2d {
        match &mut mixed.stages[0].nonlinear {
            Nonlinear::Lookup { pool: Some(p) } => p,
            _ => panic!("conv1 runs on lookups with its pool"),
        }
    }
    let e = refused(&|m| pool(m).size = [3, 3]);
    assert!(
        e.contains("conv1") && e.contains("does not fit a lookup"),
        "{e}"
    );
    let e = refused(&|m| pool(m).size = [25, 2]);
    assert!(e.contains("does not fit a lookup"), "{e}");
    let e = refused(&|m| m.stages[0].ring_bits = 9);
    assert!(e.contains("wider than 8 bits"), "{e}");
    let e = refused(&|m| {
        let last = m.stages.len() - 1;
        m.stages[last].ring_bits = 8;
        m.stages[last].nonlinear = Nonlinear::Lookup { pool: None };
    });
    assert!(e.contains("cannot output the class"), "{e}");
    // Without its pool, conv1's outputs no longer feed conv2.
    let e = refused(&|m| m.stages[0].nonlinear = Nonlinear::Lookup { pool: None });
    assert!(e.contains("outputs do not feed conv2"), "{e}");
}
