//! The command line as a new user meets it, run from a directory outside the
//! repository (the model and test set are built into the executable): pictures in any
//! format, warnings, JSON output, a closed stdout, a refused connection, a garbler
//! that starts late, and a model that differs from the server's.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/digits")
        .join(name)
        .to_str()
        .expect("utf-8")
        .to_string()
}

/// `gcnn` run in a fresh directory outside the repository.
fn gcnn_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnn"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run gcnn")
}

fn elsewhere() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "status {:?}, stderr: {}",
        out.status,
        text(&out.stderr)
    );
}

/// A garbler with the bundled model on a free port, serving `sessions` sessions.
fn garbler(dir: &Path, sessions: usize, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gcnn"))
        .current_dir(dir)
        .args(["garbler", "--listen", "127.0.0.1:0", "--sessions"])
        .arg(sessions.to_string())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start garbler");
    let stderr = child.stderr.take().expect("piped");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("garbler says where it listens")
            .unwrap();
        if let Some((_, addr)) = line.split_once("listening on ") {
            break addr.to_string();
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

#[test]
fn every_command_of_the_readme_works_from_another_directory() {
    let dir = elsewhere();
    let d = dir.path();
    // Plaintext: a picture, two pictures and a test image in one call.
    let out = gcnn_in(
        d,
        &[
            "infer",
            &fixture("3-photo.jpg"),
            &fixture("8-rgba.png"),
            "--mnist-index",
            "0",
        ],
    );
    assert_ok(&out);
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("prediction: 3  (") && lines[0].ends_with("3-photo.jpg)"));
    assert!(lines[1].starts_with("prediction: 8  "), "{lines:?}");
    assert!(lines[2].ends_with("(test image 0, label 7)"), "{lines:?}");

    let out = gcnn_in(d, &["accuracy", "--limit", "20"]);
    assert_ok(&out);
    assert!(text(&out.stdout).starts_with("accuracy: "));

    let out = gcnn_in(
        d,
        &["preprocess", &fixture("5-gray.png"), "--out", "five.png"],
    );
    assert_ok(&out);
    assert!(text(&out.stdout).contains('█'));
    let written = image::open(d.join("five.png")).expect("a PNG").to_luma8();
    assert_eq!(written.dimensions(), (28, 28));

    // The written 28×28 is itself a valid input and gives the same class.
    let out = gcnn_in(d, &["infer", "five.png"]);
    assert_ok(&out);
    assert!(text(&out.stdout).starts_with("prediction: 5  "));

    let out = gcnn_in(
        d,
        &[
            "demo",
            "--image",
            &fixture("4-small.png"),
            "--image",
            "five.png",
        ],
    );
    assert_ok(&out);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("2/2 private predictions equal the plaintext model's"),
        "{stdout}"
    );

    let out = gcnn_in(d, &["demo", "--images", "2"]);
    assert_ok(&out);

    // The two roles, as two processes, neither given a path.
    let (mut child, addr) = garbler(d, 1, &[]);
    let out = gcnn_in(
        d,
        &["evaluator", "--connect", &addr, &fixture("6-corner.tiff")],
    );
    assert_ok(&out);
    assert!(text(&out.stdout).starts_with("prediction: 6  "));
    assert!(common::exit_within(&mut child).success());
}

#[test]
fn json_output_is_one_object_per_image_and_nothing_else() {
    let dir = elsewhere();
    let d = dir.path();
    let parse = |out: &Output| -> Vec<serde_json::Value> {
        assert_ok(out);
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let infer = parse(&gcnn_in(
        d,
        &[
            "infer",
            "--json",
            &fixture("2-rgb.png"),
            "--mnist-index",
            "1",
        ],
    ));
    assert_eq!(infer.len(), 2);
    assert!(infer[0]["file"].as_str().unwrap().ends_with("2-rgb.png"));
    assert_eq!(infer[0]["prediction"], 2);
    assert_eq!(infer[0]["logits"].as_array().unwrap().len(), 10);
    assert_eq!(infer[1]["index"], 1);
    assert_eq!(infer[1]["label"], 2);

    let accuracy = parse(&gcnn_in(d, &["accuracy", "--limit", "5", "--json"]));
    assert_eq!(accuracy.len(), 6);
    assert_eq!(accuracy[4]["index"], 4);
    assert_eq!(accuracy[5]["total"], 5);

    // Both pictures in one session.
    let (mut child, addr) = garbler(d, 1, &[]);
    let private = parse(&gcnn_in(
        d,
        &[
            "evaluator",
            "--json",
            "--connect",
            &addr,
            &fixture("9-anim.gif"),
            &fixture("0-faint.webp"),
        ],
    ));
    assert!(common::exit_within(&mut child).success());
    assert_eq!(private.len(), 2);
    assert_eq!(private[0]["prediction"], 9);
    assert_eq!(private[1]["prediction"], 0);
    // The client learns the class only: no logits.
    assert!(private[0].get("logits").is_none());
    assert!(private[0]["bytes_sent"].as_u64().unwrap() > 0);

    let bench = parse(&gcnn_in(d, &["bench", "--images", "2", "--json"]));
    assert_eq!(bench.len(), 1);
    assert_eq!(bench[0]["images"], 2);
}

#[test]
fn doubtful_pictures_are_classified_with_a_warning_and_verbose_shows_the_input() {
    let dir = elsewhere();
    let d = dir.path();
    let save = |name: &str, pixels: Vec<u8>| {
        image::GrayImage::from_raw(28, 28, pixels)
            .unwrap()
            .save(d.join(name))
            .unwrap();
    };
    save("blank.png", vec![255; 28 * 28]);
    let out = gcnn_in(d, &["infer", "blank.png"]);
    assert_ok(&out);
    assert!(text(&out.stderr).contains("warning: blank.png: the picture looks blank"));
    assert!(text(&out.stdout).starts_with("prediction: "));

    // A test digit with its colours the wrong way round, and a faint one (brightest
    // pixel just below the input's first step, which the raw picture would lose):
    // classified as the original.
    let bits = gcnn::model::Model::load_architecture_from(&gcnn::model::ModelSource::Bundled)
        .unwrap()
        .input_bits;
    let first_step = 1u32 << (8 - bits);
    let data = gcnn::mnist::bundled_test_set().unwrap();
    let original = data.images[0]
        .iter()
        .flatten()
        .copied()
        .collect::<Vec<u8>>();
    save("inverse.png", original.iter().map(|p| 255 - p).collect());
    save(
        "faint.png",
        original
            .iter()
            .map(|&p| (u32::from(p) * (first_step - 8) / 255) as u8)
            .collect(),
    );
    let expected = text(&gcnn_in(d, &["infer", "--mnist-index", "0"]).stdout)
        .split("  ")
        .next()
        .unwrap()
        .to_string();
    for name in ["inverse.png", "faint.png"] {
        let out = gcnn_in(d, &["infer", name]);
        assert_ok(&out);
        assert_eq!(text(&out.stdout), format!("{expected}  ({name})\n"));
    }

    let out = gcnn_in(d, &["infer", "-v", &fixture("1-deep.png")]);
    assert_ok(&out);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("dark on light: inverted"), "{stderr}");
    assert!(stderr.contains(&format!("{bits}-bit input")), "{stderr}");
    assert_eq!(stderr.matches('|').count(), 2 * 28, "{stderr}");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gcnn"))
        .args(["accuracy", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"index\":0"), "{first}");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 141)),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains("error"),
        "{}",
        text(&out.stderr)
    );
}

/// A loopback port that nothing listens on (free a moment ago).
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[test]
fn a_refused_connection_fails_within_seconds_with_a_hint() {
    let dir = elsewhere();
    let addr = closed_port();
    let start = Instant::now();
    let out = gcnn_in(
        dir.path(),
        &["evaluator", "--connect", &addr, &fixture("7-rgb.png")],
    );
    let took = start.elapsed();
    assert!(!out.status.success());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for want in [
        addr.as_str(),
        "refused",
        "is the garbler running",
        "--connect-timeout",
    ] {
        assert!(stderr.contains(want), "{want:?} not in {stderr}");
    }
}

#[test]
fn connect_timeout_waits_for_a_garbler_that_starts_late() {
    let dir = elsewhere();
    let d = dir.path().to_path_buf();
    let addr = closed_port();
    let client = {
        let (d, addr) = (d.clone(), addr.clone());
        std::thread::spawn(move || {
            gcnn_in(
                &d,
                &[
                    "evaluator",
                    "--connect-timeout",
                    "60",
                    "--connect",
                    &addr,
                    &fixture("2-gray.png"),
                ],
            )
        })
    };
    std::thread::sleep(Duration::from_secs(4));
    let mut garbler = Command::new(env!("CARGO_BIN_EXE_gcnn"))
        .current_dir(&d)
        .args(["garbler", "--once", "--listen", &addr])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = client.join().unwrap();
    assert_ok(&out);
    assert!(text(&out.stdout).starts_with("prediction: 2  "));
    assert!(common::exit_within(&mut garbler).success());
}

#[test]
fn a_client_with_another_model_json_is_told_so() {
    let dir = elsewhere();
    let d = dir.path();
    let json = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/lenet/model.json");
    let mut model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    model["layers"][2]["shift"] = 5.into();
    std::fs::write(d.join("model.json"), model.to_string()).unwrap();
    let (mut child, addr) = garbler(d, 1, &[]);
    // --model takes the model.json path as well as its directory.
    let out = gcnn_in(
        d,
        &[
            "evaluator",
            "--connect",
            &addr,
            "--model",
            "model.json",
            "--mnist-index",
            "0",
        ],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the garbler serves a different model") && stderr.contains("model.json"),
        "{stderr}"
    );
    // A failed handshake is no session: the garbler goes on to serve a matching client.
    let out = gcnn_in(d, &["evaluator", "--connect", &addr, "--mnist-index", "0"]);
    assert_ok(&out);
    assert!(common::exit_within(&mut child).success());
}

/// `gcnn evaluator --connect ADDR --stdin EXTRA…` in `dir`, its standard streams piped.
fn stdin_evaluator(dir: &Path, addr: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gcnn"))
        .current_dir(dir)
        .args(["evaluator", "--connect", addr, "--stdin"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start evaluator")
}

/// `gcnn evaluator --stdin`: the pictures named on standard input, each classified in a
/// session prepared before its line arrives, as `gcnn infer` classifies them in
/// plaintext; a line naming no picture is reported and skipped, and the command fails at
/// the end.
#[test]
fn pictures_named_on_stdin_are_classified_in_prepared_sessions() {
    use std::io::Write;
    let dir = elsewhere();
    let d = dir.path();
    let pictures = [fixture("2-deep.png"), fixture("5-photo.jpg")];
    let plain = gcnn_in(d, &["infer", &pictures[0], &pictures[1]]);
    assert_ok(&plain);
    // One session for each picture, and the one prepared after the last.
    let (mut garbler, addr) = garbler(d, 3, &[]);
    let mut evaluator = stdin_evaluator(d, &addr, &[]);
    let mut stdin = evaluator.stdin.take().expect("piped");
    for line in [&pictures[0], "no-such-picture.png", &pictures[1]] {
        writeln!(stdin, "{line}").expect("write a line");
        // The next session is prepared while the user takes their time.
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(stdin);
    let out = evaluator.wait_with_output().expect("evaluator ends");
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(text(&out.stdout), text(&plain.stdout), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("from the picture to the class"))
            .count(),
        2,
        "{stderr}"
    );
    assert!(
        stderr.contains("error: no-such-picture.png: cannot read"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("error: 1 of the 3 pictures named on standard input could not be read\n"),
        "{stderr}"
    );
    let _ = garbler.kill();
    common::exit_within(&mut garbler);
}

/// `--stdin --pool 2`: a burst of pictures, all named at once, is classified in sessions
/// prepared by the pool's thread, each as `gcnn infer` classifies it in plaintext, in the
/// order named; the command ends when standard input does.
#[test]
fn a_burst_of_pictures_on_stdin_is_classified_from_a_pool_of_sessions() {
    use std::io::Write;
    let dir = elsewhere();
    let d = dir.path();
    let names = [
        fixture("2-deep.png"),
        fixture("5-photo.jpg"),
        fixture("2-deep.png"),
    ];
    let plain = gcnn_in(d, &["infer", &names[0], &names[1], &names[2]]);
    assert_ok(&plain);
    // One session per picture and the pool's two refills after the last.
    let (mut garbler, addr) = garbler(d, 5, &[]);
    let mut evaluator = stdin_evaluator(d, &addr, &["--pool", "2"]);
    let mut stdin = evaluator.stdin.take().expect("piped");
    writeln!(stdin, "{}\n{}\n{}", names[0], names[1], names[2]).expect("write the lines");
    drop(stdin);
    let out = evaluator.wait_with_output().expect("evaluator ends");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(text(&out.stdout), text(&plain.stdout), "{stderr}");
    let classified = stderr
        .lines()
        .filter(|l| l.contains("from the picture to the class"));
    assert_eq!(classified.count(), 3, "{stderr}");
    let _ = garbler.kill();
    common::exit_within(&mut garbler);
}

/// A directory names the pictures in it, in the order of their names (other files
/// ignored), and `--mnist-range START..END` test images START to END − 1: the evaluator
/// classifies them in one session each as `gcnn infer` does in plaintext; a directory
/// without a picture and an empty range are one-line errors.
#[test]
fn a_directory_and_a_range_of_test_images_are_classified_in_one_session() {
    let dir = elsewhere();
    let d = dir.path();
    let pictures = d.join("pictures");
    std::fs::create_dir(&pictures).unwrap();
    for name in ["5-photo.jpg", "2-deep.png"] {
        std::fs::copy(fixture(name), pictures.join(name)).unwrap();
    }
    std::fs::write(pictures.join("notes.txt"), "not a picture").unwrap();
    let folder = pictures.to_str().unwrap();
    let plain = gcnn_in(d, &["infer", folder, "--mnist-range", "3..6"]);
    assert_ok(&plain);
    let lines: Vec<String> = text(&plain.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[0].ends_with("2-deep.png)") && lines[1].ends_with("5-photo.jpg)"));
    assert!(lines[2].contains("test image 3,") && lines[4].contains("test image 5,"));

    let (mut garbler, addr) = garbler(d, 1, &[]);
    let args = [
        "evaluator",
        "--connect",
        &addr,
        folder,
        "--mnist-range",
        "3..6",
    ];
    let private = gcnn_in(d, &args);
    assert_ok(&private);
    assert_eq!(text(&private.stdout), text(&plain.stdout));
    assert!(common::exit_within(&mut garbler).success());

    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = gcnn_in(d, &["infer", empty.to_str().unwrap()]);
    assert!(common::lenet::one_error_line(&out).contains("no pictures in this directory"));
    let out = gcnn_in(d, &["infer", "--mnist-range", "7..7"]);
    assert!(!out.status.success() && text(&out.stderr).contains("END must exceed START"));
}
