//! End-to-end tests of `gcnn accuracy` and `gcnn infer` on the committed model and
//! test set, and of the one-line errors for malformed models, idx files and images.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gcnn::mnist;
use gcnn::model::Model;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn gcnn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnn"))
        .current_dir(repo())
        .args(args)
        .output()
        .expect("run gcnn")
}

fn last_stdout_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// Asserts a failed run whose stderr is one `error: ...` line mentioning every `needle`.
fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line of stderr, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} not in: {stderr}");
    }
}

/// The accuracy line recorded in models/README.md, e.g. `accuracy: 0.9912 (9912/10000)`.
fn recorded_accuracy() -> String {
    let readme = fs::read_to_string(repo().join("models/README.md")).expect("models/README.md");
    let start = readme
        .find("`accuracy: ")
        .expect("README records `accuracy: ...`")
        + 1;
    let len = readme[start..].find('`').expect("closing backtick");
    readme[start..start + len].to_string()
}

#[test]
fn accuracy_matches_the_readme() {
    let out = gcnn(&["accuracy"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(last_stdout_line(&out), recorded_accuracy());
    assert!(String::from_utf8_lossy(&out.stderr).contains("10000/10000"));
}

#[test]
fn accuracy_limit_counts_only_the_first_images() {
    let out = gcnn(&["accuracy", "--limit", "50"]);
    assert!(out.status.success());
    let line = last_stdout_line(&out);
    assert!(
        line.starts_with("accuracy: ") && line.ends_with("/50)"),
        "{line}"
    );
    assert_one_line_error(&gcnn(&["accuracy", "--limit", "0"]), &["no images"]);
}

fn test_image(index: usize) -> (mnist::Image, u8) {
    let data = mnist::read_test_set(&repo().join("models/mnist")).expect("committed test set");
    (data.images[index], data.labels[index])
}

fn write_png(path: &Path, width: u32, height: u32, pixels: &[u8]) {
    image::GrayImage::from_raw(width, height, pixels.to_vec())
        .expect("pixels fit")
        .save_with_format(path, image::ImageFormat::Png)
        .expect("write png");
}

/// A version-1 `.npy` file with the given dtype descriptor, shape and raw data.
fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = gcnn::model::npy_header(descr, shape);
    out.extend_from_slice(data);
    out
}

fn flat(image: &mnist::Image) -> Vec<u8> {
    image.iter().flatten().copied().collect()
}

#[test]
fn infer_agrees_across_sources_and_with_the_library() {
    let model = Model::load(&repo().join("models/lenet")).expect("committed model");
    let dir = tempfile::tempdir().expect("temp dir");
    for index in [0usize, 1, 2, 3] {
        let (image, label) = test_image(index);
        let expected = format!("prediction: {}  ", model.predict(&image));
        let out = gcnn(&["infer", "--mnist-index", &index.to_string()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = last_stdout_line(&out);
        assert!(line.starts_with(&expected), "{line}");
        assert!(line.ends_with(&format!("label {label})")), "{line}");

        let png_path = dir.path().join(format!("{index}.png"));
        write_png(&png_path, 28, 28, &flat(&image));
        let npy_path = dir.path().join(format!("{index}.npy"));
        fs::write(&npy_path, npy_bytes("|u1", &[28, 28], &flat(&image))).expect("write npy");
        for path in [png_path, npy_path] {
            // `--plain` is still accepted, and changes nothing.
            for plain in [&["--plain"][..], &[]] {
                let path = path.to_str().expect("utf-8");
                let out = gcnn(&[&["infer", path][..], plain].concat());
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(last_stdout_line(&out).starts_with(&expected));
            }
        }
    }
}

#[test]
fn infer_rejects_what_cannot_be_a_picture_of_a_digit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    write_png(&dir.path().join("tiny.png"), 2, 2, &[0; 4]);
    let mut cut = Vec::new();
    image::GrayImage::from_raw(28, 28, vec![9; 28 * 28])
        .expect("pixels")
        .write_to(&mut std::io::Cursor::new(&mut cut), image::ImageFormat::Png)
        .expect("encode");
    cut.truncate(cut.len() / 2);
    fs::write(dir.path().join("cut.png"), cut).expect("write");
    fs::write(dir.path().join("text.txt"), "hello").expect("write");
    fs::write(
        dir.path().join("rgb.npy"),
        npy_bytes("|u1", &[28, 28, 3], &[0; 28 * 28 * 3]),
    )
    .expect("write");
    fs::write(
        dir.path().join("float.npy"),
        npy_bytes("<f4", &[28, 28], &[0; 28 * 28 * 4]),
    )
    .expect("write");
    fs::write(
        dir.path().join("short.npy"),
        npy_bytes("|u1", &[28, 28], &[0; 100]),
    )
    .expect("write");
    let cases = [
        ("tiny.png", "2x2 pixels is too small"),
        ("cut.png", "corrupt picture"),
        ("text.txt", "not a picture gcnn can read"),
        ("rgb.npy", "[28, 28, 3]"),
        ("float.npy", "<f4"),
        ("short.npy", "corrupt .npy"),
        ("missing.png", "cannot read"),
    ];
    for (name, needle) in cases {
        let out = gcnn(&["infer", &p(name)]);
        assert_one_line_error(&out, &[name, needle]);
        // The evaluator checks its image before it reads the model or connects.
        let out = gcnn(&["evaluator", "--connect", "127.0.0.1:9", "--image", &p(name)]);
        assert_one_line_error(&out, &[name, needle]);
    }
    let out = gcnn(&["infer", "--mnist-index", "10000"]);
    assert_one_line_error(&out, &["out of range"]);
}

/// Copies the committed model into a fresh temporary directory.
fn model_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in fs::read_dir(repo().join("models/lenet")).expect("models/lenet") {
        let entry = entry.expect("dir entry");
        fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    dir
}

/// `gcnn garbler` with the model in `dir`: must fail before it listens.
fn garbler_with_model(dir: &Path) -> Output {
    gcnn(&[
        "garbler",
        "--listen",
        "127.0.0.1:0",
        "--once",
        "--model",
        dir.to_str().expect("utf-8"),
    ])
}

fn accuracy_with_model(dir: &Path) -> Output {
    gcnn(&[
        "accuracy",
        "--limit",
        "10",
        "--model",
        dir.to_str().expect("utf-8"),
    ])
}

/// Overwrites the last `data.len()` bytes of a file (the tail of a `.npy`'s data).
fn patch_tail(path: &Path, data: &[u8]) {
    let mut bytes = fs::read(path).expect("read");
    let start = bytes.len() - data.len();
    bytes[start..].copy_from_slice(data);
    fs::write(path, bytes).expect("write");
}

#[test]
fn the_model_copy_itself_loads() {
    let dir = model_copy();
    assert!(accuracy_with_model(dir.path()).status.success());
}

#[test]
fn missing_tensor_file_is_named() {
    let dir = model_copy();
    fs::remove_file(dir.path().join("conv2_w.npy")).expect("remove");
    assert_one_line_error(
        &accuracy_with_model(dir.path()),
        &["conv2_w.npy", "cannot read"],
    );
}

#[test]
fn wrong_shape_is_named() {
    let dir = model_copy();
    fs::write(
        dir.path().join("fc1_b.npy"),
        npy_bytes("<i4", &[99], &[0; 99 * 4]),
    )
    .expect("write");
    for out in [
        accuracy_with_model(dir.path()),
        garbler_with_model(dir.path()),
    ] {
        assert_one_line_error(&out, &["fc1_b.npy", "fc1 bias", "shape [99]", "[100]"]);
    }
}

#[test]
fn wrong_dtype_is_named() {
    let dir = model_copy();
    fs::write(
        dir.path().join("fc2_b.npy"),
        npy_bytes("<f4", &[10], &[0; 40]),
    )
    .expect("write");
    assert_one_line_error(
        &accuracy_with_model(dir.path()),
        &["fc2_b.npy", "dtype <f4", "int32"],
    );
}

#[test]
fn out_of_range_weight_is_named() {
    let model = Model::load(&repo().join("models/lenet")).expect("committed model");
    let conv1 = match &model.layers()[0] {
        gcnn::model::Layer::Conv2d(c, _) => c.clone(),
        other => panic!("first layer is {other:?}"),
    };
    let (_, hi) = conv1.encoding.range(conv1.weight_bits);
    let dir = model_copy();
    // One past the largest weight: even (invalid for "odd") or too large (for "twos").
    let bad = i8::try_from(hi + 1).expect("fits int8");
    patch_tail(&dir.path().join("conv1_w.npy"), &bad.to_le_bytes());
    for out in [
        accuracy_with_model(dir.path()),
        garbler_with_model(dir.path()),
    ] {
        assert_one_line_error(
            &out,
            &["conv1_w.npy", "conv1 weights", &format!("is {}", hi + 1)],
        );
    }
}

#[test]
fn out_of_range_bias_is_named() {
    let dir = model_copy();
    patch_tail(&dir.path().join("fc2_b.npy"), &i32::MAX.to_le_bytes());
    assert_one_line_error(
        &accuracy_with_model(dir.path()),
        &["fc2_b.npy", "fc2 bias", "bias_bits"],
    );
}

#[test]
fn bad_json_is_named() {
    let dir = model_copy();
    let json = dir.path().join("model.json");
    fs::write(&json, "{\"format\": \"gcnn-lenet\",").expect("write");
    assert_one_line_error(
        &accuracy_with_model(dir.path()),
        &["model.json", "invalid model description"],
    );
    let good = fs::read_to_string(repo().join("models/lenet/model.json")).expect("read");
    let edits = [
        (
            "\"weight_bits\": ",
            "\"weight_bits\": 9",
            "weight_bits is 9",
        ),
        (
            "\"in_features\": ",
            "\"in_features\": 255",
            "in_features is 255",
        ),
        ("\"bits\": ", "\"bits\": 0", "bits is 0"),
        (
            "\"weights\": ",
            "\"weights\": \"../lenet/conv1_w.npy\"",
            "not a plain file name",
        ),
    ];
    for (key, replacement, needle) in edits {
        let start = good.find(key).expect("key in model.json");
        let end = start + good[start..].find([',', '\n']).expect("value end");
        fs::write(
            &json,
            format!("{}{}{}", &good[..start], replacement, &good[end..]),
        )
        .expect("write");
        assert_one_line_error(&accuracy_with_model(dir.path()), &["model.json", needle]);
    }
}

#[test]
fn malformed_idx_files_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = repo().join("models/mnist");
    let labels = "t10k-labels-idx1-ubyte.gz";
    fs::copy(src.join(labels), dir.path().join(labels)).expect("copy labels");
    let images = dir.path().join("t10k-images-idx3-ubyte");
    let mnist_arg = dir.path().to_str().expect("utf-8").to_string();
    let run = || gcnn(&["accuracy", "--mnist", &mnist_arg]);

    // Header claims 10000 images but only 2 follow.
    let mut lying = vec![0, 0, 8, 3];
    for d in [10000u32, 28, 28] {
        lying.extend_from_slice(&d.to_be_bytes());
    }
    lying.extend_from_slice(&[0; 2 * 784]);
    fs::write(&images, &lying).expect("write");
    assert_one_line_error(&run(), &["t10k-images-idx3-ubyte", "declares 10000 items"]);
    let evaluator = gcnn(&[
        "evaluator",
        "--connect",
        "127.0.0.1:9",
        "--mnist",
        &mnist_arg,
        "--mnist-index",
        "0",
    ]);
    assert_one_line_error(
        &evaluator,
        &["t10k-images-idx3-ubyte", "declares 10000 items"],
    );

    fs::write(&images, [0, 0, 8]).expect("write");
    assert_one_line_error(&run(), &["t10k-images-idx3-ubyte", "not an idx3"]);

    let gz = fs::read(src.join("t10k-images-idx3-ubyte.gz")).expect("read");
    fs::write(&images, &gz[..gz.len() / 2]).expect("write");
    assert_one_line_error(&run(), &["t10k-images-idx3-ubyte", "gzip"]);

    fs::remove_file(&images).expect("remove");
    assert_one_line_error(&run(), &["t10k-images-idx3-ubyte.gz"]);
}

#[test]
fn committed_model_has_the_lenet_layers_and_trace_shapes() {
    let model = Model::load(&repo().join("models/lenet")).expect("committed model");
    let names: Vec<&str> = model.layers().iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        ["conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "fc2"]
    );
    let (image, _) = test_image(0);
    let trace = model.trace(&image);
    let shapes: Vec<Vec<usize>> = trace.iter().map(|t| t.shape().to_vec()).collect();
    assert_eq!(
        shapes,
        [
            vec![24, 24, 16],
            vec![12, 12, 16],
            vec![8, 8, 16],
            vec![4, 4, 16],
            vec![256],
            vec![100],
            vec![10],
        ]
    );
    // Requantized activations stay within their declared widths; the logits decide.
    for (layer, out) in model.layers().iter().zip(&trace) {
        if let gcnn::model::Layer::Conv2d(
            gcnn::model::Weighted {
                requant: Some(r), ..
            },
            _,
        )
        | gcnn::model::Layer::Dense(gcnn::model::Weighted {
            requant: Some(r), ..
        }) = layer
        {
            assert!(out.iter().all(|&v| (0..1 << r.out_bits).contains(&v)));
        }
    }
    let logits: Vec<i64> = trace[6].iter().copied().collect();
    assert_eq!(model.logits(&image), logits);
    assert_eq!(model.predict(&image), gcnn::model::argmax(&logits));
}

/// A network whose last layer is a flatten after a requantized convolution ends in
/// activations, not logits: rejected with one line (it used to load, and its class
/// would have been decoded from the wrong values).
#[test]
fn a_network_must_end_in_its_logits_layer() {
    let dir = model_copy();
    let path = dir.path().join("model.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("json");
    let layers = json["layers"].as_array_mut().expect("layers");
    layers.truncate(4); // conv1, pool1, conv2, pool2 → 4×4×16
    layers.push(serde_json::json!({
        "type": "conv2d", "name": "conv3", "kernel": 4, "in_channels": 16,
        "out_channels": 10, "weight_bits": 2, "weight_encoding": "odd", "bias_bits": 4,
        "shift": 2, "out_bits": 3, "weights": "conv3_w.npy", "bias": "conv3_b.npy"
    }));
    layers.push(serde_json::json!({"type": "flatten", "name": "flatten"}));
    fs::write(&path, json.to_string()).expect("write");
    let weights = vec![1u8; 10 * 4 * 4 * 16];
    let conv3_w = npy_bytes("|i1", &[10, 4, 4, 16], &weights);
    fs::write(dir.path().join("conv3_w.npy"), conv3_w).expect("write");
    let conv3_b = npy_bytes("<i4", &[10], &[0; 40]);
    fs::write(dir.path().join("conv3_b.npy"), conv3_b).expect("write");
    for out in [
        accuracy_with_model(dir.path()),
        garbler_with_model(dir.path()),
    ] {
        assert_one_line_error(&out, &["model.json", "last layer must be"]);
    }
}

/// A version-2 description written by hand, field for field as `models/README.md`
/// specifies it: rectangular kernels, stride, padding, both pool kinds, 3 classes.
fn v2_json() -> serde_json::Value {
    serde_json::json!({
        "format": "gcnn-cnn", "version": 2,
        "input": {"height": 9, "width": 7, "channels": 2, "bits": 3},
        "layers": [
            {"type": "conv2d", "name": "c1", "kernel": [3, 2], "stride": [2, 1],
             "padding": [1, 0, 1, 1], "in_channels": 2, "out_channels": 4,
             "weight_bits": 2, "weight_encoding": "odd", "bias_bits": 5,
             "shift": 2, "out_bits": 2, "weights": "c1_w.npy", "bias": "c1_b.npy"},
            {"type": "maxpool2d", "name": "p1", "size": [2, 2], "stride": [1, 2]},
            {"type": "avgpool2d", "name": "p2", "size": [2, 1], "stride": [1, 1], "shift": 1},
            {"type": "flatten", "name": "f"},
            {"type": "dense", "name": "d1", "in_features": 36, "out_features": 3,
             "weight_bits": 3, "weight_encoding": "twos", "bias_bits": 6,
             "shift": null, "out_bits": null, "weights": "d1_w.npy", "bias": "d1_b.npy"}
        ]
    })
}

/// Writes [`v2_json`] (after `edit`) and tensors of the right shapes into a fresh directory.
fn v2_dir(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut json = v2_json();
    edit(&mut json);
    fs::write(dir.path().join("model.json"), json.to_string()).expect("write");
    // Odd 2-bit weights 1, 3, −3, −1; two's-complement 3-bit weights −4..=3; biases 3, −2.
    let odd: Vec<u8> = (0..4 * 3 * 2 * 2)
        .map(|i| [1u8, 3, 0xfd, 0xff][i % 4])
        .collect();
    let twos: Vec<u8> = (0..3 * 36).map(|i| ((i % 8) as i8 - 4) as u8).collect();
    let files = [
        ("c1_w.npy", npy_bytes("|i1", &[4, 3, 2, 2], &odd)),
        ("c1_b.npy", npy_bytes("<i4", &[4], &[3, 0, 0, 0].repeat(4))),
        ("d1_w.npy", npy_bytes("|i1", &[3, 36], &twos)),
        (
            "d1_b.npy",
            npy_bytes("<i4", &[3], &[0xfe, 0xff, 0xff, 0xff].repeat(3)),
        ),
    ];
    for (name, bytes) in files {
        fs::write(dir.path().join(name), bytes).expect("write");
    }
    dir
}

#[test]
fn version_2_loads_with_its_shapes_and_round_trips() {
    let dir = v2_dir(|_| {});
    let model = Model::load(dir.path()).expect("version 2 model");
    assert_eq!(model.classes(), 3);
    let pixels = gcnn::model::Pixels::new(model.input, (0..126u8).map(|p| p * 2).collect())
        .expect("9x7x2 pixels");
    // conv: (9 + 1 + 1 − 3) / 2 + 1 = 5 rows, (7 + 0 + 1 − 2) / 1 + 1 = 7 columns;
    // max 2×2 stride (1, 2): 4×3; average 2×1 stride 1: 3×3; flatten: 3·3·4 = 36.
    let trace = model.trace(&pixels);
    let shapes: Vec<Vec<usize>> = trace.iter().map(|t| t.shape().to_vec()).collect();
    assert_eq!(
        shapes,
        vec![
            vec![5, 7, 4],
            vec![4, 3, 4],
            vec![3, 3, 4],
            vec![36],
            vec![3]
        ]
    );
    // Activations stay 2 bits wide through both pools.
    assert!(
        trace[..4]
            .iter()
            .all(|t| t.iter().all(|&v| (0..4).contains(&v)))
    );

    // Saving writes version 2; loading it back gives the same model, and so does a model
    // with random values in every declared range.
    let again = tempfile::tempdir().expect("temp dir");
    model.save(again.path()).expect("save");
    assert_eq!(Model::load(again.path()).expect("reload"), model);
    let random = model.with_random_values(7);
    assert_ne!(random, model);
    assert_eq!(random, model.with_random_values(7), "deterministic by seed");
    random.save(again.path()).expect("save");
    assert_eq!(Model::load(again.path()).expect("reload"), random);
    let lenet = Model::load(&repo().join("models/lenet")).expect("committed model");
    lenet.save(again.path()).expect("save");
    assert_eq!(Model::load(again.path()).expect("reload"), lenet);
    // Its configured accumulator widths hold for random values too: they load.
    let random = lenet.with_random_values(5);
    random.save(again.path()).expect("save");
    assert_eq!(Model::load(again.path()).expect("reload"), random);
}

#[test]
fn version_2_descriptions_out_of_spec_are_named() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(Edit, &[&str]); 8] = [
        (
            |j| j["layers"][0]["kernel"] = 3.into(),
            &["layer c1", "kernel must be [rows, columns]"],
        ),
        (
            |j| {
                j["layers"][0].as_object_mut().unwrap().remove("stride");
            },
            &["layer c1", "stride is missing"],
        ),
        (
            |j| j["layers"][0]["stride"] = serde_json::json!([0, 1]),
            &["layer c1", "stride is 0"],
        ),
        (
            |j| j["layers"][0]["kernel"] = serde_json::json!([12, 2]),
            &["layer c1", "does not fit"],
        ),
        (
            |j| j["layers"][1]["size"] = serde_json::json!([9, 9]),
            &["layer p1", "does not fit"],
        ),
        (|j| j["input"]["height"] = 300.into(), &["input", "1..=256"]),
        (
            |j| {
                j["layers"][4]["out_features"] = 1.into();
            },
            &["layers", "at least 2 logits"],
        ),
        (
            |j| j["format"] = "gcnn-lenet".into(),
            &["format", "gcnn-cnn"],
        ),
    ];
    for (edit, needles) in cases {
        let dir = v2_dir(edit);
        let out = accuracy_with_model(dir.path());
        let mut all = vec!["model.json"];
        all.extend_from_slice(needles);
        // The 1-class case also breaks the bias shape; the description is checked first.
        assert_one_line_error(&out, &all);
    }
    // Version 1 knows no average pooling.
    let dir = model_copy();
    let path = dir.path().join("model.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("json");
    json["layers"][1] =
        serde_json::json!({"type": "avgpool2d", "name": "pool1", "size": 2, "shift": 2});
    fs::write(&path, json.to_string()).expect("write");
    assert_one_line_error(
        &accuracy_with_model(dir.path()),
        &["pool1", "not part of version 1"],
    );
}

/// `gcnn random-model` fills an architecture with seeded random values: the same seed
/// gives the same files, another seed another model, and the result loads.
#[test]
fn random_model_is_deterministic_by_seed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |seed: &str, out: &str| {
        let out = dir.path().join(out);
        let o = gcnn(&[
            "random-model",
            "--model",
            "models/cifar",
            "--seed",
            seed,
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Model::load(&out).expect("a valid model")
    };
    let (a, b, c) = (run("3", "a"), run("3", "b"), run("4", "c"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let bytes = |name: &str| fs::read(dir.path().join(name).join("conv1_w.npy")).expect("read");
    assert_eq!(bytes("a"), bytes("b"));
    assert_eq!(a.input.channels, 3);
    assert_eq!(a.classes(), 10);
    // MNIST digits do not fit its 32x32x3 input: one line, no panic.
    let model = dir.path().join("a");
    let model = model.to_str().expect("utf-8");
    for args in [
        vec!["infer", "--plain", "--mnist-index", "0", "--model", model],
        vec!["accuracy", "--limit", "3", "--model", model],
    ] {
        assert_one_line_error(&gcnn(&args), &["28x28x1", "the model takes 32x32x3"]);
    }
}

/// Sets `field` of the layer named `layer` in the copy's `model.json`.
fn set_layer_field(dir: &Path, layer: &str, field: &str, value: serde_json::Value) {
    let path = dir.join("model.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("json");
    let layers = json["layers"].as_array_mut().expect("layers");
    let entry = layers
        .iter_mut()
        .find(|l| l["name"] == layer)
        .expect("the layer");
    entry[field] = value;
    fs::write(&path, json.to_string()).expect("write");
}

/// A configured accumulator width is checked against what the weights can reach: at the
/// narrowest width they allow the model loads and classifies as before; one bit less is
/// refused by both the plaintext reference and the garbler, naming the layer and the
/// width; a width outside 2..=62 is refused as such.
#[test]
fn accumulators_beyond_acc_bits_are_refused() {
    let model = Model::load(&repo().join("models/lenet")).expect("committed model");
    let conv2 = match &model.layers()[2] {
        gcnn::model::Layer::Conv2d(c, _) => c.clone(),
        other => panic!("third layer is {other:?}"),
    };
    let in_bits = match &model.layers()[0] {
        gcnn::model::Layer::Conv2d(c, _) => c.requant.expect("requantized").out_bits,
        other => panic!("first layer is {other:?}"),
    };
    let narrowest = conv2.narrowest(in_bits);
    let dir = model_copy();
    set_layer_field(dir.path(), "conv2", "acc_bits", narrowest.into());
    let tight = Model::load(dir.path()).expect("loads at the narrowest width");
    let test = mnist::bundled_test_set().expect("test set");
    for image in test.images.iter().take(50) {
        assert_eq!(tight.predict(image), model.predict(image));
    }
    set_layer_field(dir.path(), "conv2", "acc_bits", (narrowest - 1).into());
    for out in [
        accuracy_with_model(dir.path()),
        garbler_with_model(dir.path()),
    ] {
        assert_one_line_error(
            &out,
            &[
                "model.json",
                "layer conv2",
                &format!("outside acc_bits {}", narrowest - 1),
            ],
        );
    }
    set_layer_field(dir.path(), "conv2", "acc_bits", 63.into());
    assert_one_line_error(
        &accuracy_with_model(dir.path()),
        &["layer conv2", "acc_bits is 63, expected 2..=62"],
    );
}
