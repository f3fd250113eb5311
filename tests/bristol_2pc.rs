//! `gcnn bristol`: the shared Bristol circuits run as real two-party computations by the
//! `gcnn` binary, checked against native arithmetic and reference implementations, in
//! one process and in two; and bad input or a bad peer gives a one-line error.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use common::sha256::{self, words_be};
use common::{Rng, be_bytes};
use gcnn::circuit::int::parse_uint;

const EDGES: [u64; 5] = [0, 1, u64::MAX, 1 << 63, (1 << 63) - 1];

fn gcnn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gcnn"))
        .args(args)
        .output()
        .unwrap()
}

fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gcnn"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `../shared/bristol/<name>.txt`, or `None` after saying the test is skipped.
fn shared(name: &str) -> Option<PathBuf> {
    common::shared_bristol(name)
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gcnn-2pc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `gcnn bristol FILE --inputs VALUES… EXTRA…`, asserts success and one stdout line,
/// and returns that line's integers (as decimal strings).
fn run(file: &Path, values: &[String], extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["bristol".into(), file.display().to_string()];
    args.push("--inputs".into());
    args.extend(values.iter().cloned());
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = gcnn(&args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{args:?}: {stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stderr.contains(" ANDs ("), "summary missing: {stderr}");
    stdout.split_whitespace().map(str::to_owned).collect()
}

/// Runs a two-input, 64-bit circuit on each pair and compares with `f` (skipping `None`).
fn check_binary_op(name: &str, pairs: &[(u64, u64)], f: impl Fn(u64, u64) -> Option<Vec<u128>>) {
    let Some(file) = shared(name) else {
        return;
    };
    let mut checked = 0;
    for &(a, b) in pairs {
        let Some(want) = f(a, b) else {
            continue;
        };
        let got = run(&file, &[a.to_string(), format!("{b:#x}")], &[]);
        let want: Vec<String> = want.iter().map(u128::to_string).collect();
        assert_eq!(got, want, "{name}({a:#x}, {b:#x})");
        checked += 1;
    }
    assert!(checked >= 4, "{name}: only {checked} cases");
}

/// A few edge pairs and a few random ones (the plaintext tests cover many more).
fn pairs(seed: u64) -> Vec<(u64, u64)> {
    let mut rng = Rng(seed);
    let mut v = vec![
        (EDGES[2], EDGES[1]),
        (EDGES[3], EDGES[2]),
        (EDGES[4], EDGES[0]),
    ];
    v.extend((0..4).map(|_| (rng.next(), rng.next() >> rng.below(64))));
    v
}

#[test]
fn adder64_sub64_mult64_match_wrapping_arithmetic() {
    check_binary_op("adder64", &pairs(1), |a, b| {
        Some(vec![a.wrapping_add(b).into()])
    });
    check_binary_op("sub64", &pairs(2), |a, b| {
        Some(vec![a.wrapping_sub(b).into()])
    });
    check_binary_op("mult64", &pairs(3), |a, b| {
        Some(vec![a.wrapping_mul(b).into()])
    });
}

/// Two output groups on one line, the high half of the product first.
#[test]
fn mult2_64_prints_both_halves_of_the_product() {
    check_binary_op("mult2_64", &pairs(4), |a, b| {
        let p = u128::from(a) * u128::from(b);
        Some(vec![p >> 64, p & u128::from(u64::MAX)])
    });
}

/// Unsigned division; `x / 0` gives the all-ones quotient.
#[test]
fn udivide64_including_division_by_zero() {
    let mut cases = pairs(5);
    cases.extend([(7, 0), (u64::MAX, 0)]);
    check_binary_op("udivide64", &cases, |a, b| {
        Some(vec![a.checked_div(b).unwrap_or(u64::MAX).into()])
    });
}

/// Signed division truncating toward zero; `MIN / -1` wraps to `MIN`; `x / 0` gives −1
/// for x ≥ 0, 1 for MIN < x < 0 and 2 for MIN (as tests/bristol.rs documents).
#[test]
fn divide64_including_its_corner_cases() {
    let min = i64::MIN;
    let mut cases = pairs(6);
    cases.extend([
        ((-7i64) as u64, 2),
        (min as u64, u64::MAX),
        (5, 0),
        ((-5i64) as u64, 0),
        (min as u64, 0),
    ]);
    check_binary_op("divide64", &cases, |a, b| {
        let (a, b) = (a as i64, b as i64);
        let q = match (a, b) {
            (_, 0) if a >= 0 => -1,
            (i64::MIN, 0) => 2,
            (_, 0) => 1,
            _ => a.wrapping_div(b),
        };
        Some(vec![u128::from(q as u64)])
    });
}

#[test]
fn neg64_and_zero_equal_take_one_evaluator_input() {
    let mut rng = Rng(7);
    let values: Vec<u64> = EDGES
        .into_iter()
        .chain((0..3).map(|_| rng.next()))
        .collect();
    if let Some(file) = shared("neg64") {
        for &a in &values {
            assert_eq!(
                run(&file, &[a.to_string()], &[]),
                [a.wrapping_neg().to_string()]
            );
        }
    }
    if let Some(file) = shared("zero_equal") {
        for &a in &values {
            let want = u8::from(a == 0).to_string();
            assert_eq!(run(&file, &[a.to_string()], &[]), [want], "{a:#x}");
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    "0x".to_owned() + &bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
}

/// The decimal output of a `width`-bit group as big-endian bytes.
fn decimal_be(out: &str, width: u32) -> Vec<u8> {
    be_bytes(&parse_uint(out, width).unwrap())
}

#[test]
fn aes_128_fips_197_and_random_keys() {
    let Some(file) = shared("aes_128") else {
        return;
    };
    let fips = run(
        &file,
        &[
            "0x000102030405060708090a0b0c0d0e0f".into(),
            "0x00112233445566778899aabbccddeeff".into(),
        ],
        &[],
    );
    assert_eq!(fips, [0x69c4e0d86a7b0430d8cdb78070b4c55a_u128.to_string()]);

    let mut rng = Rng(128);
    for _ in 0..3 {
        let (key, pt) = (rng.bytes::<16>(), rng.bytes::<16>());
        let mut block = pt.into();
        Aes128::new(&key.into()).encrypt_block(&mut block);
        let got = run(&file, &[hex(&key), hex(&pt)], &[]);
        assert_eq!(
            decimal_be(&got[0], 128),
            <[u8; 16]>::from(block),
            "key {key:02x?}"
        );
    }
}

#[test]
fn sha256_compression_abc_and_random_blocks() {
    let Some(file) = shared("sha256") else {
        return;
    };
    let mut abc = [0u8; 64];
    abc[..3].copy_from_slice(b"abc");
    abc[3] = 0x80;
    abc[63] = 24;
    let got = run(&file, &[hex(&abc), hex(&words_be(&sha256::IV))], &[]);
    assert_eq!(
        hex(&decimal_be(&got[0], 256)),
        "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );

    let mut rng = Rng(256);
    for _ in 0..2 {
        let block = rng.bytes::<64>();
        let state: [u32; 8] = std::array::from_fn(|_| rng.next() as u32);
        let got = run(&file, &[hex(&block), hex(&words_be(&state))], &[]);
        let want = words_be(&sha256::compress(state, &block));
        assert_eq!(decimal_be(&got[0], 256), want);
    }
}

/// Starts `gcnn bristol FILE --listen 127.0.0.1:0 …` and returns it with the address it
/// printed on stderr and a reader for the rest of its stderr.
fn listen(file: &Path, values: &[&str]) -> (Child, String, BufReader<std::process::ChildStderr>) {
    let mut args = vec!["bristol", file.to_str().unwrap(), "--listen", "127.0.0.1:0"];
    args.extend(["--timeout", "10", "--inputs"]);
    args.extend(values);
    let mut child = spawn(&args);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let addr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("listener said {first:?}"))
        .trim()
        .to_owned();
    (child, addr, stderr)
}

/// Waits for a listener and returns (success, stdout, rest of stderr).
fn finish(
    mut child: Child,
    mut stderr: BufReader<std::process::ChildStderr>,
) -> (bool, String, String) {
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (common::exit_within(&mut child).success(), out, err)
}

/// The garbler and the evaluator as two processes; the evaluator reads the binary
/// conversion of the garbler's Bristol file, which has the same content hash.
#[test]
fn two_processes_listen_and_connect() {
    let Some(file) = shared("aes_128") else {
        return;
    };
    let dir = scratch("two");
    let bin = dir.join("aes.circ");
    let out = gcnn(&["convert".as_ref(), file.as_os_str(), bin.as_os_str()]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let key = "0x000102030405060708090a0b0c0d0e0f";
    let (garbler, addr, stderr) = listen(&file, &[key, "_"]);
    let got = run(
        &bin,
        &["_".into(), "0x00112233445566778899aabbccddeeff".into()],
        &["--connect", &addr, "--timeout", "10"],
    );
    assert_eq!(got, [0x69c4e0d86a7b0430d8cdb78070b4c55a_u128.to_string()]);
    let (ok, out, err) = finish(garbler, stderr);
    assert!(ok, "{err}");
    assert_eq!(out, "", "the garbler prints nothing on stdout");
    assert!(
        err.contains("5120 ANDs (5120 half-gates, 0 garbler half gates)"),
        "{err}"
    );
}

/// `a ∧ b` or `a ⊕ b` on the low bits of two 8-bit groups, written here so the error
/// tests need no shared files.
fn tiny_circuit(dir: &Path, gate: &str) -> PathBuf {
    let path = dir.join(format!("{gate}.txt"));
    std::fs::write(&path, format!("1 17\n2 8 8\n1 1\n\n2 1 0 8 16 {gate}\n")).unwrap();
    path
}

/// Asserts a failed run with exactly one stderr line `error: …` containing `want`.
fn assert_error(out: &Output, want: &str) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "succeeded: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains(want), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn bad_input_fails_with_one_line_errors() {
    let dir = scratch("bad");
    let and = tiny_circuit(&dir, "AND");
    let and = and.to_str().unwrap();
    assert_eq!(run(Path::new(and), &["3".into(), "0x1".into()], &[]), ["1"]);

    let cases: [(&[&str], &str); 9] = [
        (
            &[and, "--inputs", "1"],
            "circuit has 2 input groups, 1 values given",
        ),
        (
            &[and, "--inputs", "1", "2", "3"],
            "circuit has 2 input groups, 3 values given",
        ),
        (
            &[and, "--inputs", "1", "256"],
            "input group 1: 256 does not fit in 8 bits",
        ),
        (
            &[and, "--inputs", "0x100", "1"],
            "input group 0: 0x100 does not fit in 8 bits",
        ),
        (
            &[and, "--inputs", "1", "12q"],
            "input group 1: 'q' at position 2 is not a decimal digit",
        ),
        (&[and, "--inputs", "0x", "1"], "input group 0: empty number"),
        (
            &[and, "--inputs", "1", "_"],
            "input group 1 belongs to the evaluator and needs a value",
        ),
        (
            &[and, "--inputs", "1", "2", "--owners", "g"],
            "owners: circuit has 2 input groups, 1 given",
        ),
        (
            &[and, "--inputs", "1", "2", "--listen", "127.0.0.1:0"],
            "input group 1 belongs to the evaluator; pass _ for it",
        ),
    ];
    for (args, want) in cases {
        assert_error(&gcnn(&[&["bristol"], args].concat()), want);
    }
    let missing = dir.join("missing.txt");
    let out = gcnn(&["bristol", missing.to_str().unwrap(), "--inputs", "1", "2"]);
    assert_error(&out, "missing.txt: No such file");

    // A port nobody listens on: refused until the timeout.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let start = Instant::now();
    let out = gcnn(&[
        "bristol",
        and,
        "--inputs",
        "_",
        "1",
        "--connect",
        &addr,
        "--timeout",
        "1",
    ]);
    assert_error(&out, &format!("cannot connect to {addr} within 1s"));
    assert!(start.elapsed() < Duration::from_secs(8));

    let out = gcnn(&[
        "bristol",
        and,
        "--inputs",
        "1",
        "_",
        "--listen",
        "127.0.0.1:0",
        "--timeout",
        "1",
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("error: no peer connected")),
        "{err}"
    );
}

/// The garbler's owners or circuit differ from the evaluator's: both fail the handshake.
#[test]
fn a_peer_with_a_different_circuit_fails_the_handshake_on_both_sides() {
    let dir = scratch("mismatch");
    let and = tiny_circuit(&dir, "AND");
    let xor = tiny_circuit(&dir, "XOR");
    let (garbler, addr, stderr) = listen(&and, &["1", "_"]);
    let out = gcnn(&[
        "bristol",
        xor.to_str().unwrap(),
        "--inputs",
        "_",
        "1",
        "--connect",
        &addr,
        "--timeout",
        "10",
    ]);
    assert_error(&out, "evaluator: handshake failed: circuit hash mismatch");
    let (ok, _, err) = finish(garbler, stderr);
    assert!(!ok);
    assert!(
        err.starts_with("error: garbler: handshake failed: circuit hash mismatch"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A peer that is not gcnn, or goes silent, is an error within the timeout.
#[test]
fn a_bad_or_silent_peer_is_an_error_not_a_hang() {
    let dir = scratch("peer");
    let and = tiny_circuit(&dir, "AND");
    let and = and.to_str().unwrap();
    for (reply, want) in [
        (
            Some(vec![0x55u8; 300]),
            "evaluator: handshake failed: peer does not speak the gcnn protocol",
        ),
        (None, "evaluator: peer sent nothing for 1s (timed out)"),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let peer = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            if let Some(bytes) = reply {
                stream.write_all(&bytes).unwrap();
            }
            // Hold the connection open until the evaluator gives up.
            let _ = stream.read_to_end(&mut Vec::new());
        });
        let out = gcnn(&[
            "bristol",
            and,
            "--inputs",
            "_",
            "1",
            "--connect",
            &addr,
            "--timeout",
            "1",
        ]);
        assert_error(&out, want);
        peer.join().unwrap();
    }
}

/// `--owners` overrides the default owners of a Bristol file and the stored owners of a
/// binary one; the result does not depend on who owns what.
#[test]
fn owners_from_the_flag_or_the_binary_file() {
    let dir = scratch("owners");
    let and = tiny_circuit(&dir, "AND");
    let bin = dir.join("and.circ");
    let out = gcnn(&[
        "convert".as_ref(),
        and.as_os_str(),
        bin.as_os_str(),
        "--owners".as_ref(),
        "e,g".as_ref(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = ["255".to_string(), "1".to_string()];
    for (file, owners) in [(&and, "e,e"), (&and, "g,g"), (&bin, "g,e"), (&bin, "e,e")] {
        assert_eq!(run(file, &v, &["--owners", owners]), ["1"], "{owners}");
    }
    // With both groups the garbler's, the garbler computes the AND alone: nothing to
    // garble.
    let out = gcnn(&[
        "bristol",
        and.to_str().unwrap(),
        "--inputs",
        "3",
        "1",
        "--owners",
        "g,g",
    ]);
    assert!(
        text(&out.stderr).contains("0 ANDs (0 half-gates, 0 garbler half gates)"),
        "{}",
        text(&out.stderr)
    );
    // Stored owners e,g: group 0 is the evaluator's.
    assert_eq!(run(&bin, &v, &[]), ["1"]);
    let out = gcnn(&[
        "bristol",
        bin.to_str().unwrap(),
        "--inputs",
        "255",
        "1",
        "--connect",
        "127.0.0.1:9",
    ]);
    assert_error(&out, "input group 1 belongs to the garbler; pass _ for it");
}
