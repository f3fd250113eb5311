//! `gcnn garbler` as a server: it keeps serving after a bad client, serves several clients
//! at once, and an evaluator facing a garbler that lies in the handshake or goes silent
//! fails with one line.
//!
//! Tests that need the trained model print `SKIPPED: models/lenet not found` without it.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use common::lenet::{
    TIMEOUT, evaluator, garbler, gcnn, model, one_error_line, pipeline, test_set, text,
};
use gcnn::cli::evaluator::connect_and_classify;
use gcnn::protocol::PROTOCOL_VERSION;

/// Bytes of a handshake message; the protocol version is at bytes 8..12.
const HANDSHAKE_BYTES: usize = 68;

/// A raw client of the garbler at `addr` that has read the garbler's handshake.
fn raw_client(addr: &str) -> (TcpStream, [u8; HANDSHAKE_BYTES]) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut handshake = [0; HANDSHAKE_BYTES];
    stream
        .read_exact(&mut handshake)
        .expect("the garbler serves this client (hang guard: read timeout)");
    assert_eq!(handshake[8..12], PROTOCOL_VERSION.to_le_bytes());
    (stream, handshake)
}

#[test]
fn the_garbler_serves_the_next_client_after_bad_ones() {
    let Some(model) = model() else { return };
    let (mut child, addr, lines) = garbler(3, &["--workers", "1"]);

    // A client of another protocol version.
    let (mut stream, mut handshake) = raw_client(&addr);
    handshake[8..12].copy_from_slice(&(PROTOCOL_VERSION + 1).to_le_bytes());
    stream.write_all(&handshake).unwrap();
    let _ = stream.read_to_end(&mut Vec::new());
    // A client that agrees on everything, then hangs up in the OT.
    let (mut stream, handshake) = raw_client(&addr);
    stream.write_all(&handshake).unwrap();
    drop(stream);
    // A good client.
    let index = 7;
    let out = evaluator(&addr, index, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = model.predict(&test_set().images[index]);
    assert!(
        text(&out.stdout).starts_with(&format!("prediction: {expected}  ")),
        "{}",
        text(&out.stdout)
    );

    assert!(!child.wait().unwrap().success(), "two sessions failed");
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(log.len(), 4, "{log:?}");
    assert!(log[0].contains("failed") && log[0].contains("protocol version mismatch"));
    assert!(log[1].contains("failed") && log[1].contains("peer closed the connection"));
    assert!(log[2].starts_with("session 3 ") && log[2].contains(": ok in "));
    assert_eq!(log[3], "error: 2 session(s) failed");
}

#[test]
fn four_clients_are_served_at_once() {
    let Some(model) = model() else { return };
    // A per-read limit longer than the clients' 60 s wait: served one at a time, the
    // second held client would wait 120 s for the first session to time out, and fail.
    let (mut child, addr, lines) = garbler(8, &["--workers", "4", "--timeout", "120"]);
    // Four clients that only read the garbler's first message: each gets it only if all
    // four sessions run at once.
    let held: Vec<TcpStream> = (0..4).map(|_| raw_client(&addr).0).collect();
    drop(held);

    // Four real evaluators at once.
    let public = pipeline();
    let indices = [3, 141, 592, 6535];
    thread::scope(|s| {
        let runs: Vec<_> = indices
            .iter()
            .map(|&index| {
                let addr = &addr;
                s.spawn(move || {
                    let image = &test_set().images[index];
                    connect_and_classify(public, addr, image, TIMEOUT)
                        .unwrap()
                        .0
                })
            })
            .collect();
        for (run, index) in runs.into_iter().zip(indices) {
            let expected = model.predict(&test_set().images[index]);
            assert_eq!(run.join().unwrap(), expected, "test image {index}");
        }
    });

    assert!(!child.wait().unwrap().success(), "the held clients failed");
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(
        log.iter().filter(|l| l.contains(": failed after ")).count(),
        4
    );
    assert_eq!(log.iter().filter(|l| l.contains(": ok in ")).count(), 4);
}

/// A fake garbler on a free port that sends `reply` to its one client, then waits for
/// the client to hang up.
fn fake_garbler(reply: Vec<u8>) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let peer = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.write_all(&reply).unwrap();
        let _ = stream.read_to_end(&mut Vec::new());
    });
    (addr, peer)
}

#[test]
fn an_evaluator_facing_a_lying_or_silent_garbler_fails_with_one_line() {
    let Some(_) = model() else { return };
    let mut newer = b"GCNN2PC\0".to_vec();
    newer.extend_from_slice(&(PROTOCOL_VERSION + 1).to_le_bytes());
    newer.resize(HANDSHAKE_BYTES, 0);
    for (reply, want) in [
        (newer, "handshake failed: protocol version mismatch"),
        (Vec::new(), "peer sent nothing for 1s (timed out)"),
    ] {
        let (addr, peer) = fake_garbler(reply);
        let out = evaluator(&addr, 0, &["--timeout", "1"]);
        let err = one_error_line(&out);
        assert!(err.contains(want), "{err}");
        peer.join().unwrap();
    }
}

/// `(RSS MB, open fds)` from a garbler session log line.
fn rss_and_fds(line: &str) -> (f64, usize) {
    let log = gcnn::cli::garbler::SessionLog::parse(line).unwrap_or_else(|| panic!("{line}"));
    (log.rss_mb, log.fds)
}

/// 200 LeNet sessions against one garbler process: memory and open files stay flat.
/// Slow (minutes): `cargo test --release --test serve -- --ignored --nocapture`.
#[test]
#[ignore]
fn two_hundred_lenet_sessions_keep_memory_and_files_flat() {
    let Some(_) = model() else { return };
    let sessions = 200;
    let (mut child, addr, lines) = garbler(sessions, &[]);
    for i in 0..sessions {
        let image = &test_set().images[i];
        connect_and_classify(pipeline(), &addr, image, TIMEOUT).unwrap();
    }
    assert!(child.wait().unwrap().success());
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    let figures: Vec<(f64, usize)> = log[..sessions].iter().map(|l| rss_and_fds(l)).collect();
    let (rss_10, rss_200) = (figures[9].0, figures[sessions - 1].0);
    // The next client may already be accepted when a session logs: take the fewest fds
    // seen in sessions 1..=10 and in the last ten.
    let fewest = |range: std::ops::Range<usize>| figures[range].iter().map(|f| f.1).min();
    let (fds_first, fds_last) = (fewest(0..10), fewest(sessions - 10..sessions));
    println!("garbler after session 10: RSS {rss_10} MB; after 200: RSS {rss_200} MB");
    println!("fewest open fds in sessions 1-10: {fds_first:?}, in 191-200: {fds_last:?}");
    assert!(
        rss_200 <= rss_10 * 1.05 + 5.0,
        "{rss_10} MB -> {rss_200} MB"
    );
    assert!(fds_last <= fds_first, "open fds grew");
}

/// The longest run of hexadecimal digits in `text`.
fn longest_hex_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// Everything both processes print over a session (the garbler writes only to stderr): sizes, times and the class, never a
/// label, Δ, seed or weight (no long hex runs, no debug-printed blocks).
#[test]
fn a_session_prints_no_secrets() {
    let Some(_) = model() else { return };
    let (mut child, addr, lines) = garbler(1, &[]);
    let out = gcnn(&["evaluator", "--connect", &addr])
        .args(["--mnist-index", "5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(child.wait().unwrap().success());
    let garbler_log: Vec<String> = lines.map(Result::unwrap).collect();
    let printed = [text(&out.stdout), text(&out.stderr), garbler_log.join("\n")].join("\n");
    assert!(printed.contains("prediction: "), "{printed}");
    assert!(longest_hex_run(&printed) < 16, "{printed}");
    for debug in ["Block(", "Label(", "Delta(", "0x"] {
        assert!(!printed.contains(debug), "{debug} in {printed}");
    }
}

/// A client that trickles its handshake one byte per half second never trips the
/// per-read timeout (2 s) but is cut off by the session limit (2 s), and the garbler
/// logs why.
#[test]
fn a_trickling_client_is_cut_off_by_the_session_limit() {
    if model().is_none() {
        return;
    }
    let (mut child, addr, lines) = garbler(1, &["--timeout", "2", "--session-timeout", "2"]);
    let (mut stream, handshake) = raw_client(&addr);
    let start = std::time::Instant::now();
    for byte in handshake {
        if stream.write_all(&[byte]).is_err() {
            break; // the garbler hung up: what we expect
        }
        thread::sleep(std::time::Duration::from_millis(500));
        if start.elapsed() > std::time::Duration::from_secs(20) {
            panic!("the garbler kept a trickling client for 20 s");
        }
    }
    assert!(!child.wait().unwrap().success(), "the session failed");
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(
        log[0].contains("failed") && log[0].contains("session exceeded its 2s limit"),
        "{log:?}"
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}
