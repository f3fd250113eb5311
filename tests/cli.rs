//! The `gcnn convert` and `gcnn inspect` commands, run as a user would.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Rng, random_circuit};
use gcnn::circuit::file;
use gcnn::circuit::format;

fn gcnn(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnn"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gcnn-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn convert_round_trips_and_inspect_reports_both_formats() {
    let dir = scratch("convert");
    let c = random_circuit(&mut Rng(9), 500);
    let orig = dir.join("orig.circ");
    file::save(&c, &orig).unwrap();

    let txt = dir.join("c.bristol");
    let out = gcnn(&[Path::new("convert"), &orig, &txt]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(binary) ->"),
        "{}",
        text(&out.stdout)
    );

    let bin = dir.join("again.circ");
    let owners: Vec<String> = c
        .inputs()
        .iter()
        .map(|g| format!("{:?}", g.owner))
        .collect();
    let owners = owners.join(",").to_lowercase();
    let out = gcnn(&[
        Path::new("convert"),
        &txt,
        &bin,
        Path::new("--owners"),
        Path::new(&owners),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (back, _) = file::load(&bin, None).unwrap();
    assert_eq!(back.gates(), c.gates());
    assert_eq!(back.inputs(), c.inputs());

    for f in [&orig, &txt] {
        let out = gcnn(&[Path::new("inspect"), f]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report = text(&out.stdout);
        assert!(report.contains("total"), "{report}");
        let total = report.lines().find(|l| l.starts_with("total")).unwrap();
        let gates: u64 = total.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(gates, c.gates().len() as u64, "{report}");
    }
    // Sections survive only in the binary format.
    let report = text(&gcnn(&[Path::new("inspect"), &orig]).stdout);
    assert!(report.contains("rest ∑"), "{report}");
}

#[test]
fn inspect_shared_aes_reports_its_gate_counts() {
    let Some(aes) = common::shared_bristol("aes_128") else {
        return;
    };
    let out = gcnn(&[Path::new("inspect"), &aes]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    // 6400 ANDs: the 1280 of the key schedule read only the garbler's key, so the
    // garbler computes them alone and they cost nothing.
    let total: Vec<&str> = report
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(total[1..5], ["36663", "5120", "0", "1280"], "{report}");
    assert_eq!(total.last(), Some(&"163840"), "5120 × 32 bytes: {report}");
}

#[test]
fn bad_files_and_arguments_fail_with_one_line_errors() {
    let dir = scratch("bad");
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "1 3\n1 2\n1 1\n2 1 0 7 2 XOR\n").unwrap();
    let out = gcnn(&[Path::new("inspect"), &bad]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.txt: line 4: wire 7 is read before it is defined"),
        "{err}"
    );

    let c = random_circuit(&mut Rng(10), 50);
    let mut bytes = Vec::new();
    format::write_to(&c, &mut bytes).unwrap();
    bytes.truncate(bytes.len() - 1);
    let cut = dir.join("cut.circ");
    std::fs::write(&cut, &bytes).unwrap();
    let out = gcnn(&[Path::new("convert"), &cut, &dir.join("x.txt")]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("cut.circ: file truncated at byte"), "{err}");
    assert!(
        !dir.join("x.txt").exists(),
        "nothing written on a failed load"
    );

    let good = dir.join("good.circ");
    file::save(&c, &good).unwrap();
    let out = gcnn(&[
        Path::new("inspect"),
        &good,
        Path::new("--owners"),
        Path::new("g"),
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("owners can only be given for Bristol"));

    let out = gcnn(&[Path::new("inspect"), &dir.join("missing.circ")]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("missing.circ"));
}

/// Asserts a failed run whose stderr is one `error: …` line containing `want`.
fn assert_one_line_error(out: &Output, want: &str) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "succeeded: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(want),
        "{want:?} not in {err}"
    );
}

fn run(args: &[&str]) -> Output {
    gcnn(&args.iter().map(Path::new).collect::<Vec<_>>())
}

#[test]
fn argument_errors_print_clap_whole_message_while_help_and_version_work() {
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["inspect", "x.circ", "--bogus"],
            &["unexpected argument '--bogus'", "Usage: gcnn inspect"],
        ),
        (
            &["frobnicate"],
            &["unrecognized subcommand 'frobnicate'", "Usage: gcnn"],
        ),
        // The "did you mean" tip.
        (&["infr"], &["unrecognized subcommand 'infr'", "'infer'"]),
        (
            &["garbler", "--listen", "127.0.0.1:0", "--workers", "0"],
            &["invalid value '0' for '--workers <N>'", "try '--help'"],
        ),
        // Which argument is missing, by name.
        (
            &["evaluator", "--connect", "127.0.0.1:9"],
            &["required arguments were not provided", "--mnist-index"],
        ),
        (
            &[
                "evaluator",
                "--connect",
                "x",
                "--timeout",
                "0",
                "--image",
                "a",
            ],
            &["--timeout", "0 is not in 1..=86400"],
        ),
    ];
    for (args, wants) in cases {
        let out = run(args);
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        for want in wants {
            assert!(stderr.contains(want), "{want:?} not in {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let help = run(&["garbler", "--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("--workers <N>"));
    assert!(text(&help.stdout).lines().count() > 10);
    let version = run(&["--version"]);
    assert!(version.status.success());
    assert_eq!(
        text(&version.stdout),
        format!("gcnn {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_circuit_files_fail_inspect_with_one_line() {
    let dir = scratch("bad-circuits");
    let c = random_circuit(&mut Rng(12), 80);
    let mut bytes = Vec::new();
    format::write_to(&c, &mut bytes).unwrap();
    let mut rng = Rng(13);
    let mut magic_then_noise = b"GCNNCIRC".to_vec();
    magic_then_noise.extend((0..500).map(|_| rng.next() as u8));
    let files: [(&str, Vec<u8>, &str); 4] = [
        ("cut.circ", bytes[..bytes.len() / 2].to_vec(), "truncated"),
        (
            "noise.circ",
            (0..2000).map(|_| rng.next() as u8).collect(),
            "noise.circ: line 1",
        ),
        ("magic.circ", magic_then_noise, "magic.circ"),
        (
            "wire.txt",
            b"1 3\n1 2\n1 1\n2 1 0 1 9 AND\n".to_vec(),
            "wire.txt: line 4",
        ),
    ];
    for (name, content, want) in files {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        assert_one_line_error(&run(&["inspect", path.to_str().unwrap()]), want);
    }
}

#[test]
fn a_bad_architecture_file_fails_the_evaluator_with_one_line() {
    let dir = scratch("bad-architecture");
    let mnist = concat!(env!("CARGO_MANIFEST_DIR"), "/models/mnist");
    let model = dir.to_str().unwrap();
    let evaluator = ["evaluator", "--model", model, "--connect", "127.0.0.1:9"];
    let args = [&evaluator[..], &["--mnist", mnist, "--mnist-index", "0"]].concat();
    assert_one_line_error(&run(&args), "model.json");
    std::fs::write(dir.join("model.json"), b"{\"format\": \"gcnn-lenet\"").unwrap();
    assert_one_line_error(&run(&args), "model.json");
}

#[test]
fn addresses_that_cannot_be_bound_fail_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    for (addr, want) in [
        (taken.as_str(), "cannot listen on"),
        ("127.0.0.1:99999", "bad address"),
        ("no port", "bad address"),
    ] {
        let out = run(&["garbler", "--listen", addr, "--model", "/nonexistent"]);
        assert_one_line_error(&out, want);
    }
    // An evaluator that cannot reach its garbler: tests/inference.rs.
}
