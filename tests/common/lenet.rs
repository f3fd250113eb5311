//! The trained LeNet for the integration tests: the model, the test set, its public
//! pipeline, and `gcnn` processes (a garbler serving it, one-line errors).
//!
//! Tests that need the trained model print `SKIPPED: models/lenet not found` without it.

use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use gcnn::inference::Pipeline;
use gcnn::mnist::{Dataset, read_test_set};
use gcnn::model::Model;

pub const TIMEOUT: Duration = Duration::from_secs(60);

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The trained model, or `None` after printing SKIPPED.
pub fn model() -> Option<Model> {
    let dir = repo("models/lenet");
    if !dir.join("model.json").exists() {
        super::skip("models/lenet not found");
        return None;
    }
    Some(Model::load(&dir).unwrap())
}

pub fn test_set() -> &'static Dataset {
    static SET: OnceLock<Dataset> = OnceLock::new();
    SET.get_or_init(|| read_test_set(&repo("models/mnist")).unwrap())
}

/// The model's public pipeline, planned once per test binary from `model.json`.
pub fn pipeline() -> &'static Pipeline {
    static PIPELINE: OnceLock<Pipeline> = OnceLock::new();
    PIPELINE.get_or_init(|| Pipeline::load(&repo("models/lenet")).unwrap())
}

pub fn gcnn(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gcnn"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `gcnn garbler` serving `sessions` sessions on a free port (more flags in `extra`): the child, its address and
/// the rest of its stderr.
pub fn garbler(sessions: usize, extra: &[&str]) -> (Child, String, Lines<BufReader<ChildStderr>>) {
    let n = sessions.to_string();
    let args = ["garbler", "--listen", "127.0.0.1:0"];
    let mut child = gcnn(&args)
        .args(["--sessions", &n])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map(Result::unwrap)
        .find_map(|l| {
            // Text, or a JSON line's message: the address ends at a quote or the line's end.
            let (_, rest) = l.split_once("listening on ")?;
            rest.split('"').next().map(str::to_owned)
        })
        .expect("the garbler prints its address");
    (child, addr, lines)
}

/// Asserts a failed run with exactly one stderr line `error: …` and returns it.
pub fn one_error_line(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

/// Asserts a successful evaluator run whose line is `prediction: {expected}  (source)`.
pub fn assert_predicts(out: &Output, expected: usize) {
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!("prediction: {expected}  ")),
        "{stdout}"
    );
}

/// Runs `gcnn evaluator` (default model directory) against `addr` for test image
/// `index`, with `extra` arguments.
pub fn evaluator(addr: &str, index: usize, extra: &[&str]) -> Output {
    gcnn(&["evaluator", "--connect", addr])
        .args(["--mnist-index", &index.to_string()])
        .args(extra)
        .output()
        .unwrap()
}
