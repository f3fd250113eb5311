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
    let aes = common::bristol_dir().join("aes_128.txt");
    if !aes.exists() {
        eprintln!(
            "SKIPPED: {} not found; shared Bristol circuits are absent",
            aes.display()
        );
        return;
    }
    let out = gcnn(&[Path::new("inspect"), &aes]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    // 6400 ANDs: the 1280 of the key schedule read only the garbler's key.
    let total: Vec<&str> = report
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(total[1..4], ["36663", "5120", "1280"], "{report}");
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
