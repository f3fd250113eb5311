//! Private inference end to end: the real `gcnn` binary as garbler (and evaluator), the
//! evaluator's view of two different models, `demo`, `bench --json` and bad peers.
//!
//! Tests that need the trained model print `SKIPPED: models/lenet not found` without it.

mod common;

use std::thread;

use common::Rng;
use common::lenet::{
    TIMEOUT, assert_predicts, evaluator, garbler, gcnn, model, one_error_line, path, pipeline,
    repo, test_set, text,
};
use common::nets::{random_network, random_pixels};

use gcnn::channel::{Channel, ChannelError, memory};
use gcnn::cli::evaluator::connect_and_classify_with;
use gcnn::compiler::network::Arch;
use gcnn::garble::GateScheme;
use gcnn::inference::{Batch, Flow, MAX_IMAGES, ModelOwner, Pipeline, classify, prepare_with};
use gcnn::model::{Layer, Model, ModelSource};
use gcnn::protocol::{HANDSHAKE_BYTES, ProtocolError};

/// `n` test-set indices drawn from the OS generator (printed, to reproduce a failure).
fn random_indices(n: usize) -> Vec<usize> {
    let len = test_set().images.len() as u64;
    let indices: Vec<usize> = (0..n)
        .map(|_| (getrandom::u64().unwrap() % len) as usize)
        .collect();
    println!("test-set indices: {indices:?}");
    indices
}

#[test]
fn garbler_process_and_evaluators_agree_with_the_plaintext_model() {
    let Some(model) = model() else { return };
    let indices = random_indices(20);
    let (mut child, addr, lines) = garbler(indices.len(), &[]);

    // The first three images through the evaluator binary, the second offering half-gates,
    // the third asking for the fewest round trips; the rest through the library, the gate
    // schemes and the flows alternating (one garbler serves them all).
    for (&index, flags) in indices.iter().zip([
        &[][..],
        &["--gate-scheme", "half-gates"],
        &["--flow", "fewest-round-trips"],
    ]) {
        let out = evaluator(&addr, index, flags);
        assert_predicts(&out, model.predict(&test_set().images[index]));
    }
    let rounds = Pipeline::load_for(
        &ModelSource::Dir(repo("models/lenet")),
        Flow::FewestRoundTrips,
    )
    .unwrap();
    let pipelines = [pipeline(), &rounds];
    for (k, &index) in indices[3..].iter().enumerate() {
        let (scheme, flow) = (GateScheme::ALL[k % 2], Flow::ALL[k / 2 % 2]);
        let image = &test_set().images[index];
        let (private, _) =
            connect_and_classify_with(pipelines[k / 2 % 2], &addr, image, TIMEOUT, scheme).unwrap();
        assert_eq!(
            private,
            model.predict(image),
            "test image {index}, {scheme}, {flow}"
        );
    }
    assert!(common::exit_within(&mut child).success());
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(log.len(), indices.len(), "{log:?}");
    assert!(log.iter().all(|l| l.contains(": ok in ")), "{log:?}");
}

/// One step of what a party's channel carried: consecutive reads (or writes) merged,
/// each flush a boundary.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Read(usize),
    Write(usize),
    Flush,
}

/// Records the evaluator's view: the message structure, the bytes of its first read
/// (the garbler's handshake) and the size of its last read.
struct Recording<C> {
    inner: C,
    steps: Vec<Step>,
    first_read: Option<Vec<u8>>,
    last_read: usize,
}

impl<C: Channel> Channel for Recording<C> {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        match self.steps.last_mut() {
            Some(Step::Write(n)) => *n += bytes.len(),
            _ => self.steps.push(Step::Write(bytes.len())),
        }
        self.inner.write_bytes(bytes)
    }

    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), ChannelError> {
        self.inner.read_bytes(buf)?;
        self.first_read.get_or_insert_with(|| buf.to_vec());
        self.last_read = buf.len();
        match self.steps.last_mut() {
            Some(Step::Read(n)) => *n += buf.len(),
            _ => self.steps.push(Step::Read(buf.len())),
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ChannelError> {
        self.steps.push(Step::Flush);
        self.inner.flush()
    }
}

/// The evaluator's view of one session: merged steps, the handshake, the last read's size.
type View = (Vec<Step>, Vec<u8>, usize);

/// Runs one session against `owner` and returns the evaluator's view.
fn evaluator_view(owner: &ModelOwner, public: &Pipeline, index: usize) -> View {
    let (g, e) = memory::pair(TIMEOUT);
    let mut view = Recording {
        inner: e,
        steps: Vec::new(),
        first_read: None,
        last_read: 0,
    };
    thread::scope(|s| {
        let garbler = s.spawn(|| owner.serve(g).unwrap());
        classify(public, &mut view, &test_set().images[index]).unwrap();
        garbler.join().unwrap();
    });
    (view.steps, view.first_read.unwrap(), view.last_read)
}

/// `model` with each output's weights in reverse order: still valid, its accumulators
/// reach what they reached before (the same weights, so within any configured
/// `acc_bits`), a different network with the same architecture.
fn reversed(model: &Model) -> Model {
    fn reverse_rows<D: ndarray::RemoveAxis>(w: &mut ndarray::Array<i64, D>) {
        for mut row in w.outer_iter_mut() {
            let mut values: Vec<i64> = row.iter().copied().collect();
            values.reverse();
            row.iter_mut().zip(values).for_each(|(x, v)| *x = v);
        }
    }
    let mut other = model.clone();
    for layer in &mut other.layers {
        match layer {
            Layer::Conv2d(l, _) => reverse_rows(&mut l.weights),
            Layer::Dense(l) => reverse_rows(&mut l.weights),
            Layer::Pool2d(_) | Layer::Flatten { .. } => {}
        }
    }
    other
}

#[test]
fn evaluator_view_does_not_depend_on_the_weights() {
    let Some(model) = model() else { return };
    let other = reversed(&model);
    let index = random_indices(1)[0];
    let image = &test_set().images[index];
    assert_ne!(
        model.logits(image),
        other.logits(image),
        "the models differ"
    );

    let public = Pipeline::new(&Arch::of(&model)).unwrap();
    let views: Vec<_> = [&model, &other]
        .into_iter()
        .map(|m| evaluator_view(&ModelOwner::new(m).unwrap(), &public, index))
        .collect();
    assert_eq!(views[0].1, views[1].1, "same handshake");
    assert_eq!(views[0].0, views[1].0, "same message structure and sizes");

    // The session ends with the last stage's input labels, one 16-byte block per share
    // bit (read one at a time); its tables and the class's decoding bits came offline.
    assert_eq!(views[0].2, 16);
    assert_eq!(views[1].2, 16);
    let last = public.layer_costs().pop().unwrap();
    let steps = &views[0].0;
    assert_eq!(
        steps.last(),
        Some(&Step::Read(16 * last.share_ots as usize)),
        "{steps:?}"
    );
}

/// Rows of the demo table: the whitespace-separated numbers of each line that starts with one.
fn demo_rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|t| t.first().is_some_and(|t| t.parse::<usize>().is_ok()))
        .collect()
}

#[test]
fn demo_private_predictions_equal_plaintext_ones() {
    let Some(model) = model() else { return };
    let out = gcnn(&["demo", "--images", "3"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows = demo_rows(&stdout);
    assert_eq!(rows.len(), 3, "{stdout}");
    for (i, row) in rows.iter().enumerate() {
        let [index, label, private, plaintext] =
            [0, 1, 2, 3].map(|c| row[c].parse::<usize>().unwrap());
        assert_eq!(index, i);
        assert_eq!(label, usize::from(test_set().labels[i]));
        assert_eq!(private, plaintext, "{stdout}");
        assert_eq!(plaintext, model.predict(&test_set().images[i]));
    }
    assert!(
        stdout.contains("3/3 private predictions equal the plaintext model's"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("[3/3]"));
}

#[test]
fn bench_json_last_line_reports_full_agreement() {
    let Some(_) = model() else { return };
    let out = gcnn(&["bench", "--images", "2", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for key in [
        "images",
        "agree",
        "bytes_per_inference",
        "latency_ms_median",
        "and_gates",
        "peak_rss_mb",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(json["images"], 2);
    assert_eq!(json["agree"], json["images"]);
    let costs = pipeline().layer_costs();
    let ands: u64 = costs.iter().map(|c| c.and_gates).sum();
    let tables: u64 = costs.iter().map(|c| c.tables).sum();
    assert_eq!(json["and_gates"], ands);
    assert!(json["bytes_per_inference"].as_u64().unwrap() > tables);
    for role in ["garbler", "evaluator"] {
        assert!(json["peak_rss_mb"][role].as_f64().unwrap() > 0.0, "{json}");
    }
}

/// `gcnn bench --batch`: the images split over sessions run at once, every private
/// prediction equal to the plaintext one, and a rate reported.
#[test]
fn bench_batch_reports_agreement_and_a_rate() {
    let Some(_) = model() else { return };
    let out = gcnn(&[
        "bench", "--images", "5", "--batch", "--lanes", "2", "--json",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(json["images"], 5);
    assert_eq!(json["agree"], 5);
    assert_eq!(json["batch"]["sessions"], 2);
    assert!(json["batch"]["inferences_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_different_architecture_fails_the_handshake_on_both_sides() {
    let Some(_) = model() else { return };
    // Same shapes, one more bit of requantization shift in fc1: a different pipeline.
    // The evaluator reads only model.json, so that file alone is enough.
    let text_json = std::fs::read_to_string(repo("models/lenet/model.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text_json).unwrap();
    let fc1 = json["layers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|l| l["name"] == "fc1")
        .unwrap();
    fc1["shift"] = (fc1["shift"].as_u64().unwrap() + 1).into();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.json"), json.to_string()).unwrap();

    let (mut child, addr, lines) = garbler(1, &[]);
    let out = evaluator(&addr, 0, &["--model", path(dir.path())]);
    let error = one_error_line(&out);
    assert!(
        error.contains("the garbler serves a different model") && error.contains("model.json"),
        "{error}"
    );
    // A failed handshake is not a session: the garbler still serves its one session.
    let ok = evaluator(&addr, 0, &[]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(common::exit_within(&mut child).success());
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(
        log.iter()
            .any(|l| l.contains("handshake failed") && l.contains("circuit hash mismatch")),
        "{log:?}"
    );
}

#[test]
fn evaluator_without_a_garbler_fails_with_one_line() {
    let Some(_) = model() else { return };
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let out = evaluator(&addr, 0, &["--timeout", "1"]);
    assert!(one_error_line(&out).contains(&addr));
}

/// The per-layer costs `gcnn bench` prints add up to what a session sends, exactly, for
/// either gate scheme and either flow: beyond them only the handshake
/// ([`HANDSHAKE_BYTES`] each way), the 128 base OTs (the evaluator's one point, the
/// garbler's 128) and the SoftSpoken set-up (the evaluator's two masked GGM level sums per
/// base OT). The owner runs the scheme and the flow the client asks for, and the class is
/// the plaintext model's.
#[test]
fn layer_costs_account_for_every_byte() {
    let Some(model) = model() else { return };
    let owner = ModelOwner::new(&model).unwrap();
    let served: Vec<&Pipeline> = owner.pipelines().collect();
    assert_eq!(
        served.len(),
        Flow::ALL.len(),
        "LeNet's conv1 has a lookup form"
    );
    let image = &test_set().images[7];
    let combinations = served.iter().flat_map(|&p| GateScheme::ALL.map(|s| (s, p)));
    for (scheme, public) in combinations {
        let (g, e) = memory::pair(TIMEOUT);
        let (class, report) = thread::scope(|s| {
            let garbler = s.spawn(|| owner.serve(g).unwrap());
            let prepared = prepare_with(public, e, scheme).unwrap();
            let out = prepared.classify(image).unwrap();
            garbler.join().unwrap();
            out
        });
        assert_eq!(class, model.predict(image), "{scheme}");
        let costs = public.layer_costs_for(scheme);
        assert_eq!(costs.len(), 4);
        let to_garbler: u64 = costs.iter().map(|c| c.to_garbler).sum();
        let to_evaluator: u64 = costs.iter().map(|c| c.to_evaluator).sum();
        let handshake = HANDSHAKE_BYTES as u64;
        assert_eq!(report.bytes_sent, to_garbler + handshake + 32 + 128 * 32);
        assert_eq!(report.bytes_received, to_evaluator + handshake + 128 * 32);
    }
}

/// One session, several images: one handshake and one set of base OTs, then each image's
/// own offline and online phase under the session's Δ with the tweak counter running on.
/// Every class equals the plaintext model's, on random networks and on LeNet (with each
/// gate scheme); the garbler's report sums the images' bytes.
#[test]
fn a_session_of_several_images_classifies_each_like_the_plaintext_model() {
    let run = |net: &Model, images: &[gcnn::model::Pixels], scheme: GateScheme| {
        let owner = ModelOwner::new(net).unwrap();
        let (g, e) = memory::pair(TIMEOUT);
        thread::scope(|s| {
            let garbler = s.spawn(|| owner.serve(g).unwrap());
            let count = u32::try_from(images.len()).unwrap();
            let mut batch = Batch::open(owner.pipeline(), e, count, scheme).unwrap();
            let mut sent = 0;
            for (k, image) in images.iter().enumerate() {
                assert_eq!(batch.left(), count - k as u32);
                let (class, report) = batch.classify(image).unwrap();
                assert_eq!(class, net.predict(image), "image {k}");
                sent += report.bytes_sent + report.bytes_received;
            }
            assert!(matches!(
                batch.classify(&images[0]),
                Err(ProtocolError::NoImagesLeft(n)) if n == count
            ));
            let served = garbler.join().unwrap();
            assert_eq!(served.bytes_sent + served.bytes_received, sent);
        });
    };
    let mut rng = Rng(77);
    for images in [1, 3] {
        let net = random_network(&mut rng, None);
        let pictures: Vec<_> = (0..images).map(|_| random_pixels(&mut rng, &net)).collect();
        run(&net, &pictures, GateScheme::HalfGates);
    }
    let Some(lenet) = model() else { return };
    let pictures: Vec<_> = random_indices(6)
        .into_iter()
        .map(|i| gcnn::model::Pixels::from(&test_set().images[i]))
        .collect();
    for scheme in GateScheme::ALL {
        run(&lenet, &pictures, scheme);
    }
}

/// A client that leaves a session before its last image makes the garbler's session
/// fail saying so, not hang; one asking for more images than a garbler
/// serves fails the handshake on both sides, saying so.
#[test]
fn a_session_ends_cleanly_short_of_its_images_or_beyond_the_limit() {
    let net = random_network(&mut Rng(78), None);
    let owner = ModelOwner::new(&net).unwrap();
    let image = random_pixels(&mut Rng(79), &net);
    let (g, e) = memory::pair(TIMEOUT);
    thread::scope(|s| {
        let garbler = s.spawn(|| owner.serve(g));
        let mut batch = Batch::open(owner.pipeline(), e, 2, GateScheme::HalfGates).unwrap();
        assert_eq!(batch.classify(&image).unwrap().0, net.predict(&image));
        drop(batch);
        let err = garbler.join().unwrap().unwrap_err().to_string();
        assert!(err.contains("peer closed the connection"), "{err}");
    });
    // A failed image ends the session: the next call says so, not "no images left".
    let (g, e) = memory::pair(TIMEOUT);
    let first = thread::scope(|s| {
        let garbler = s.spawn(|| owner.serve(g));
        let mut batch = Batch::open(owner.pipeline(), e, 1, GateScheme::HalfGates).unwrap();
        let (_, report) = batch.classify(&image).unwrap();
        garbler.join().unwrap().unwrap();
        (report.bytes_sent + report.bytes_received) as usize
    });
    let (g, e) = memory::pair(TIMEOUT);
    thread::scope(|s| {
        let garbler = s.spawn(|| owner.serve(g));
        let e = common::fault::Faulty::hang_up_after(e, first);
        let mut batch = Batch::open(owner.pipeline(), e, 3, GateScheme::HalfGates).unwrap();
        assert_eq!(batch.classify(&image).unwrap().0, net.predict(&image));
        let failure = batch.classify(&image).unwrap_err();
        assert!(
            !matches!(
                failure,
                ProtocolError::SessionEnded | ProtocolError::NoImagesLeft(_)
            ),
            "{failure}"
        );
        assert!(matches!(
            batch.classify(&image),
            Err(ProtocolError::SessionEnded)
        ));
        assert!(garbler.join().unwrap().is_err());
    });
    let (g, e) = memory::pair(TIMEOUT);
    thread::scope(|s| {
        let garbler = s.spawn(|| owner.serve(g));
        let Err(err) = Batch::open(owner.pipeline(), e, MAX_IMAGES + 1, GateScheme::HalfGates)
        else {
            panic!("more than MAX_IMAGES opened");
        };
        assert!(
            err.to_string().contains(&format!("1 to {MAX_IMAGES}")),
            "{err}"
        );
        drop(garbler);
    });
    // The garbler answers a request beyond its limit with the limit: both sides fail.
    let (mut g, mut e) = memory::pair(TIMEOUT);
    let ours = owner.pipeline().handshake(MAX_IMAGES + 1);
    thread::scope(|s| {
        let client = s.spawn(move || ours.exchange(&mut e));
        let err = owner.admit(&mut g).err().expect("refused");
        assert!(err.to_string().contains("image count mismatch"), "{err}");
        let theirs = client.join().unwrap().unwrap_err().to_string();
        assert!(theirs.contains(&format!("peer's {MAX_IMAGES}")), "{theirs}");
    });
}
