//! `gcnn import`: ONNX models from PyTorch (a committed fixture made by
//! `tests/fixtures/onnx/make_fixtures.py`) become gcnn models whose private inference
//! agrees with their integer reference; imports are deterministic; and each kind of model
//! gcnn cannot run is one clear error.

mod common;

use std::path::{Path, PathBuf};
use std::thread;

use common::lenet::{TIMEOUT, gcnn, one_error_line, path, repo, test_set, text};
use gcnn::channel::memory;
use gcnn::import::FloatNet;
use gcnn::import::quantize::{Widths, quantize};
use gcnn::inference::{ModelOwner, classify};
use gcnn::model::{Layer, Model, Pixels, PoolKind};

fn fixture(name: &str) -> PathBuf {
    repo("tests/fixtures/onnx").join(name)
}

/// The PyTorch fixture quantized with `spec`, calibrated on the first 300 test images.
fn torch_model(spec: &str) -> Model {
    let net = FloatNet::read(&fixture("torch_cnn.onnx")).unwrap();
    let widths = Widths::parse(spec, net.weighted().count()).unwrap();
    let images: Vec<Pixels> = test_set().images[..300].iter().map(Pixels::from).collect();
    let labels: Vec<usize> = test_set().labels[..300]
        .iter()
        .map(|&l| usize::from(l))
        .collect();
    quantize(&net, &widths, &images, &labels, None).0
}

#[test]
fn the_pytorch_fixture_folds_to_padded_strided_convolutions_and_average_pooling() {
    let net = FloatNet::read(&fixture("torch_cnn.onnx")).unwrap();
    let names: Vec<&str> = net.layers.iter().map(|l| l.name()).collect();
    assert_eq!(names, ["conv1", "conv2", "pool1", "flatten", "fc1"]);
    // x / 255 folded into the pixel map; both BatchNormalizations into the convolutions.
    assert!((net.pixel_scale - 1.0 / 255.0).abs() < 1e-9);
    let model = torch_model("8/6t/6");
    let Layer::Conv2d(_, g1) = &model.layers[0] else {
        panic!("conv1")
    };
    assert_eq!(
        (g1.kernel, g1.stride, g1.padding),
        ([5, 5], [2, 2], [2, 2, 2, 2])
    );
    let Layer::Conv2d(_, g2) = &model.layers[1] else {
        panic!("conv2")
    };
    assert_eq!((g2.stride, g2.padding), ([2, 2], [1, 1, 1, 1]));
    let Layer::Pool2d(p) = &model.layers[2] else {
        panic!("pool")
    };
    assert_eq!(p.kind, PoolKind::Avg { shift: 2 });
    // The float network is the one exported (95.48 % on its training images).
    let float_correct = test_set().images[..1000]
        .iter()
        .zip(&test_set().labels)
        .filter(|&(i, &l)| net.predict(i.as_flattened()) == usize::from(l))
        .count();
    assert!(float_correct > 900, "float network: {float_correct}/1000");
    // And its quantization keeps most of it.
    let int_correct = test_set().images[..1000]
        .iter()
        .zip(&test_set().labels)
        .filter(|&(i, &l)| model.predict(i) == usize::from(l))
        .count();
    assert!(
        int_correct + 20 >= float_correct,
        "{int_correct} vs {float_correct}"
    );
}

#[test]
fn private_inference_of_the_imported_pytorch_model_equals_its_reference() {
    let model = torch_model("4/3o/3/4t/3/4o");
    let owner = ModelOwner::new(&model).unwrap();
    for index in [0, 1, 2, 3, 4, 5, 6, 7] {
        let image = &test_set().images[index];
        let (g, e) = memory::pair(TIMEOUT);
        let private = thread::scope(|s| {
            let garbler = s.spawn(|| owner.serve(g).unwrap());
            let (class, _) = classify(owner.pipeline(), e, image).unwrap();
            garbler.join().unwrap();
            class
        });
        assert_eq!(private, model.predict(image), "test image {index}");
    }
}

/// The notebook's Keras LeNet as tf2onnx wrote it (NHWC input reshaped to NCHW, a
/// Transpose back before the Flatten's Reshape, whose target a Shape/Gather/Slice/
/// Concat/Cast chain computes; MatMul + Add; Softmax): it folds to gcnn's LeNet, the float
/// network makes the predictions onnxruntime made (98.02 % on all 10 000 test images, of
/// which these 1 000 are a part), and the default widths keep it within a point.
#[test]
fn the_notebook_keras_model_imports() {
    let file = repo("../shared/models/notebook-keras/notebook_lenet.onnx");
    if !file.is_file() {
        common::skip("../shared/models/notebook-keras not found");
        return;
    }
    let net = FloatNet::read(&file).unwrap();
    let names: Vec<&str> = net.layers.iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        ["conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "fc2"]
    );
    assert_eq!((net.pixel_scale, net.pixel_offset), (1.0, 0.0));
    let images = &test_set().images[..1000];
    let labels = &test_set().labels[..1000];
    let float_correct = images
        .iter()
        .zip(labels)
        .filter(|&(i, &l)| net.predict(i.as_flattened()) == usize::from(l))
        .count();
    assert!(float_correct >= 970, "{float_correct}/1000");
    let widths = Widths::parse(gcnn::cli::import::DEFAULT_BITS, 4).unwrap();
    let calibration: Vec<Pixels> = test_set().images[9000..].iter().map(Pixels::from).collect();
    let calibration_labels: Vec<usize> = test_set().labels[9000..]
        .iter()
        .map(|&l| usize::from(l))
        .collect();
    let (model, clipped) = quantize(&net, &widths, &calibration, &calibration_labels, None);
    assert_eq!(clipped, 0);
    let int_correct = images
        .iter()
        .zip(labels)
        .filter(|&(i, &l)| model.predict(i) == usize::from(l))
        .count();
    assert!(
        int_correct + 10 >= float_correct,
        "{int_correct} vs {float_correct}"
    );
}

/// Every file of a directory, by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_cli_imports_deterministically_and_reports_accuracy_and_bytes() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut reports = Vec::new();
    for dir in &dirs {
        let out = gcnn(&["import", path(&fixture("torch_cnn.onnx"))])
            .args(["--out", path(dir.path()), "--calibration-images", "300"])
            .args(["--bits", "4/3o/3/4t/3/4o"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        reports.push(text(&out.stdout));
    }
    assert_eq!(files(dirs[0].path()), files(dirs[1].path()));
    assert_eq!(reports[0], reports[1]);
    let model = Model::load(dirs[0].path()).unwrap();
    let correct = test_set()
        .images
        .iter()
        .zip(&test_set().labels)
        .filter(|&(i, &l)| model.predict(i) == usize::from(l))
        .count();
    assert!(
        reports[0].contains(&format!(
            "integer accuracy: {:.2} % ({correct}/10000)",
            correct as f64 / 100.0
        )),
        "{}",
        reports[0]
    );
    let owner = ModelOwner::new(&model).unwrap();
    let bytes: u64 = owner
        .pipeline()
        .layer_costs()
        .iter()
        .map(|c| c.to_garbler + c.to_evaluator)
        .sum();
    assert!(
        reports[0].contains(&format!("bytes per private inference: {bytes} (")),
        "{}",
        reports[0]
    );
}

/// `gcnn import FILE` fails with one line containing every piece of `expected`.
fn rejects(file: &Path, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = gcnn(&["import", path(file), "--out", path(dir.path())])
        .output()
        .unwrap();
    let line = one_error_line(&out);
    for e in expected {
        assert!(line.contains(e), "{line}");
    }
    assert!(!dir.path().join("model.json").exists());
}

#[test]
fn unsupported_models_are_one_clear_error_each() {
    rejects(
        &fixture("lstm.onnx"),
        &["(LSTM): operator not supported (supported: Conv, Gemm,"],
    );
    rejects(
        &fixture("residual.onnx"),
        &["(Add): both inputs are activations: a residual connection"],
    );
    rejects(
        &fixture("dynamic.onnx"),
        &["dynamic dimension 'height' at axis 2 that cannot be fixed"],
    );
    rejects(
        &fixture("opset6.onnx"),
        &["opset 6 is not supported (supported: 9 to 23)"],
    );
    rejects(
        &fixture("grouped.onnx"),
        &["node 'depthwise' (Conv): attribute group = 2 is not supported"],
    );
}

#[test]
fn truncated_and_foreign_files_are_one_clear_error_each() {
    let bytes = std::fs::read(fixture("torch_cnn.onnx")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [10, bytes.len() / 2, bytes.len() - 1] {
        let file = dir.path().join(format!("cut{cut}.onnx"));
        std::fs::write(&file, &bytes[..cut]).unwrap();
        rejects(
            &file,
            &["not a valid ONNX model (truncated or corrupt protobuf"],
        );
    }
    rejects(
        &repo("models/lenet/model.json"),
        &["not a valid ONNX model"],
    );
    rejects(&dir.path().join("missing.onnx"), &["cannot read"]);
    let out = gcnn(&["import", path(&fixture("torch_cnn.onnx"))])
        .args([
            "--out",
            path(dir.path()),
            "--calibrate",
            path(&dir.path().join("none")),
        ])
        .output()
        .unwrap();
    assert!(one_error_line(&out).contains("neither train-images-idx3-ubyte nor"));
    let out = gcnn(&["import", path(&fixture("torch_cnn.onnx"))])
        .args(["--out", path(dir.path()), "--bits", "4/4o"])
        .output()
        .unwrap();
    assert!(one_error_line(&out).contains("--bits 4/4o: the network has 3 weighted layers"));
}
