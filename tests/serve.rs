//! `gcnn garbler` as a server: it keeps serving after a bad client, serves several clients
//! at once, and an evaluator facing a garbler that lies in the handshake or goes silent
//! fails with one line.
//!
//! Tests that need the trained model print `SKIPPED: models/lenet not found` without it.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::lenet::{
    TIMEOUT, assert_predicts, evaluator, garbler, gcnn, model, one_error_line, pipeline, test_set,
    text,
};
use gcnn::channel::{Channel, ChannelError, TcpChannel};
use gcnn::cli::CliError;
use gcnn::cli::evaluator::connect_and_classify;
use gcnn::inference::{ModelOwner, classify};
use gcnn::protocol::{HANDSHAKE_BYTES, PROTOCOL_VERSION, ProtocolError};

/// A raw client of the garbler at `addr` that has sent the right handshake and read
/// the garbler's answer: it holds a worker.
fn raw_client(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
        .write_all(&pipeline().handshake(1).to_bytes())
        .unwrap();
    let mut answer = [0; HANDSHAKE_BYTES];
    stream
        .read_exact(&mut answer)
        .expect("the garbler answers this client (hang guard: read timeout)");
    assert_eq!(answer[8..12], PROTOCOL_VERSION.to_le_bytes());
    stream
}

/// Log lines of `log` that contain `what`.
fn count(log: &[String], what: &str) -> usize {
    log.iter().filter(|l| l.contains(what)).count()
}

#[test]
fn the_garbler_serves_the_next_client_after_bad_ones() {
    let Some(model) = model() else { return };
    let (mut child, addr, lines) = garbler(2, &["--workers", "1"]);

    // A client of another protocol version: refused at the handshake, no session.
    let mut newer = pipeline().handshake(1).to_bytes();
    newer[8..12].copy_from_slice(&(PROTOCOL_VERSION + 1).to_le_bytes());
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.write_all(&newer).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert_eq!(
        answer.len(),
        HANDSHAKE_BYTES,
        "the garbler answers with its own"
    );
    // A client that agrees on everything, then hangs up in the OT: session 1 fails.
    drop(raw_client(&addr));
    // A good client: session 2.
    let index = 7;
    let out = evaluator(&addr, index, &[]);
    let expected = model.predict(&test_set().images[index]);
    assert_predicts(&out, expected);

    assert!(
        !common::exit_within(&mut child).success(),
        "a session failed"
    );
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(log.len(), 4, "{log:?}");
    assert_eq!(
        count(&log, "handshake failed after"),
        count(&log, "protocol version mismatch"),
        "{log:?}"
    );
    assert_eq!(count(&log, "handshake failed after"), 1, "{log:?}");
    assert_eq!(count(&log, "failed after"), 2, "{log:?}");
    assert_eq!(count(&log, "peer closed the connection"), 1, "{log:?}");
    assert_eq!(count(&log, ": ok in "), 1, "{log:?}");
    assert_eq!(log[3], "error: 1 session(s) failed");
}

#[test]
fn four_clients_are_served_at_once() {
    let Some(model) = model() else { return };
    // A per-read limit longer than the clients' 60 s wait: served one at a time, the
    // second held client would wait 120 s for the first session to time out, and fail.
    let (mut child, addr, lines) = garbler(8, &["--workers", "4", "--timeout", "120"]);
    // Four clients that only read the garbler's handshake: each is answered only if all
    // four hold a worker at once.
    let held: Vec<TcpStream> = (0..4).map(|_| raw_client(&addr)).collect();
    drop(held);

    // Four real evaluators at once (retrying while the held sessions still hold workers).
    let public = pipeline();
    let indices = [3, 141, 592, 6535];
    thread::scope(|s| {
        let runs: Vec<_> = indices
            .iter()
            .map(|&index| {
                let addr = &addr;
                s.spawn(move || classify_retrying(public, addr, index))
            })
            .collect();
        for (run, index) in runs.into_iter().zip(indices) {
            let expected = model.predict(&test_set().images[index]);
            assert_eq!(run.join().unwrap(), expected, "test image {index}");
        }
    });

    assert!(
        !common::exit_within(&mut child).success(),
        "the held clients failed"
    );
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(count(&log, ": failed after "), 4, "{log:?}");
    assert_eq!(count(&log, ": ok in "), 4, "{log:?}");
}

/// Classifies test image `index` with the garbler at `addr`, retrying for up to 30 s
/// while it answers busy.
fn classify_retrying(public: &gcnn::inference::Pipeline, addr: &str, index: usize) -> usize {
    let start = Instant::now();
    loop {
        match connect_and_classify(public, addr, &test_set().images[index], TIMEOUT) {
            Ok((class, _)) => return class,
            Err(CliError::Protocol(ProtocolError::Busy)) if start.elapsed() < BUSY_RETRY => {
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("test image {index}: {e}"),
        }
    }
}

/// How long [`classify_retrying`] retries.
const BUSY_RETRY: Duration = Duration::from_secs(30);

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
    assert!(common::exit_within(&mut child).success());
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
    assert!(common::exit_within(&mut child).success());
    let garbler_log: Vec<String> = lines.map(Result::unwrap).collect();
    let printed = [text(&out.stdout), text(&out.stderr), garbler_log.join("\n")].join("\n");
    assert!(printed.contains("prediction: "), "{printed}");
    assert!(longest_hex_run(&printed) < 16, "{printed}");
    for debug in ["Block(", "Label(", "Delta(", "0x"] {
        assert!(!printed.contains(debug), "{debug} in {printed}");
    }
}

/// The garbler's log lines, read on a thread: `next` waits at most a given time.
struct LogLines(std::sync::mpsc::Receiver<String>);

impl LogLines {
    fn new(lines: std::io::Lines<std::io::BufReader<std::process::ChildStderr>>) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LogLines(rx)
    }

    /// The next line containing `what`, within `wait`; panics otherwise.
    fn find(&self, what: &str, wait: Duration) -> String {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(e) => panic!("no log line with {what:?} within {wait:?}: {e}"),
            }
        }
    }

    fn rest(self) -> Vec<String> {
        self.0.iter().collect()
    }
}

/// A connection that trickles the right handshake one byte every 300 ms until the
/// garbler hangs up; returns how long it was kept.
fn trickle(addr: &str) -> Duration {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    for byte in pipeline().handshake(1).to_bytes() {
        if stream.write_all(&[byte]).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(300));
    }
    // The garbler hangs up at its handshake deadline (the whole handshake takes 20 s).
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let _ = stream.read_to_end(&mut Vec::new());
    start.elapsed()
}

/// 16 connections that send nothing and 16 that trickle their handshake do not hold a
/// worker: a legitimate client among them is served, correctly, no later than the
/// handshake deadline after a session on an idle garbler would end; the tricklers are cut
/// off at the deadline.
#[test]
fn idle_and_trickling_connections_do_not_delay_a_legitimate_client() {
    let Some(model) = model() else { return };
    let deadline = Duration::from_secs(3);
    let (mut child, addr, lines) = garbler(
        2,
        &[
            "--handshake-timeout",
            "3",
            "--per-peer",
            "64",
            "--timeout",
            "20",
        ],
    );
    let image = |i: usize| &test_set().images[i];
    // An undisturbed session, for comparison.
    let start = Instant::now();
    let (class, _) = connect_and_classify(pipeline(), &addr, image(11), TIMEOUT).unwrap();
    assert_eq!(class, model.predict(image(11)));
    let undisturbed = start.elapsed();

    let idle: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    thread::scope(|s| {
        let tricklers: Vec<_> = (0..16).map(|_| s.spawn(|| trickle(&addr))).collect();
        thread::sleep(Duration::from_millis(500));
        let index = 4242;
        let start = Instant::now();
        let (class, _) = connect_and_classify(pipeline(), &addr, image(index), TIMEOUT).unwrap();
        let attacked = start.elapsed();
        assert_eq!(class, model.predict(image(index)), "test image {index}");
        println!("session undisturbed {undisturbed:?}, among 32 bad connections {attacked:?}");
        assert!(
            attacked < undisturbed + deadline,
            "{attacked:?} against {undisturbed:?} undisturbed"
        );
        for t in tricklers {
            let kept = t.join().unwrap();
            assert!(
                kept < deadline + Duration::from_secs(2),
                "a trickler was kept {kept:?}"
            );
        }
    });
    drop(idle);
    assert!(common::exit_within(&mut child).success());
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(count(&log, ": ok in "), 2, "{log:?}");
    assert_eq!(count(&log, "handshake failed"), 32, "{log:?}");
    assert_eq!(count(&log, "session exceeded its 3s limit"), 32, "{log:?}");
}

/// With its one worker taken and no queue, the garbler answers the next client "busy" at once, and
/// `gcnn evaluator` says so in one line.
#[test]
fn a_client_beyond_the_worker_limit_is_told_busy_within_a_second() {
    let Some(model) = model() else { return };
    let (mut child, addr, lines) =
        garbler(2, &["--workers", "1", "--queue", "0", "--timeout", "3"]);
    let held = raw_client(&addr);
    let start = Instant::now();
    let err = connect_and_classify(pipeline(), &addr, &test_set().images[0], TIMEOUT)
        .map(|_| ())
        .unwrap_err();
    let waited = start.elapsed();
    assert!(
        matches!(err, CliError::Protocol(ProtocolError::Busy)),
        "{err}"
    );
    assert!(waited < Duration::from_secs(1), "busy after {waited:?}");
    let out = evaluator(&addr, 0, &[]);
    let err = one_error_line(&out);
    assert!(err.contains("busy") && err.contains("retry later"), "{err}");
    // Once the held session ends, the worker serves again.
    drop(held);
    assert_eq!(
        classify_retrying(pipeline(), &addr, 9),
        model.predict(&test_set().images[9])
    );
    assert!(
        !common::exit_within(&mut child).success(),
        "the held session failed"
    );
    let log: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(count(&log, "busy: all 1 workers taken"), 2, "{log:?}");
}

/// One address holds at most `--per-peer` connections; the next is told busy.
#[test]
fn one_address_holds_at_most_per_peer_connections() {
    let Some(_) = model() else { return };
    let (mut child, addr, lines) = garbler(1, &["--per-peer", "2", "--handshake-timeout", "2"]);
    let idle: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let err = connect_and_classify(pipeline(), &addr, &test_set().images[0], TIMEOUT)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, CliError::Protocol(ProtocolError::Busy)),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    drop(idle);
    // Once the idle ones are gone, the address is served again.
    thread::sleep(Duration::from_millis(200));
    connect_and_classify(pipeline(), &addr, &test_set().images[0], TIMEOUT).unwrap();
    assert!(common::exit_within(&mut child).success());
    drop(lines);
}

/// A channel that, once `budget` bytes have passed, neither reads nor writes any more
/// (a peer whose process hangs with the socket open) for `hold`, then hangs up, or goes
/// on if `resume`.
struct StopsAfter<C> {
    inner: C,
    budget: usize,
    stopped: std::sync::mpsc::Sender<Instant>,
    hold: Duration,
    resume: bool,
}

impl<C: Channel> StopsAfter<C> {
    fn spend(&mut self, n: usize) -> Result<&mut C, ChannelError> {
        if n > self.budget {
            let _ = self.inner.flush();
            let _ = self.stopped.send(Instant::now());
            thread::sleep(self.hold);
            if !self.resume {
                return Err(ChannelError::Closed);
            }
            self.budget = usize::MAX;
        }
        self.budget -= n;
        Ok(&mut self.inner)
    }
}

impl<C: Channel> Channel for StopsAfter<C> {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.spend(bytes.len())?.write_bytes(bytes)
    }
    fn read_bytes(&mut self, buf: &mut [u8]) -> Result<(), ChannelError> {
        self.spend(buf.len())?.read_bytes(buf)
    }
    fn flush(&mut self) -> Result<(), ChannelError> {
        self.inner.flush()
    }
}

/// Bytes (both directions) after which a stopping party stops: inside the offline stream
/// of corrections and tables (a LeNet session moves 2.98 MB in all).
const STOP_AT: usize = 1_500_000;

/// An evaluator of test image `index` on a thread that stops after [`STOP_AT`] bytes for
/// `hold` (then hangs up, or goes on if `resume`): its class, and when it stopped.
fn stopping_client(
    addr: String,
    index: usize,
    hold: Duration,
    resume: bool,
) -> (
    thread::JoinHandle<Result<usize, ProtocolError>>,
    std::sync::mpsc::Receiver<Instant>,
) {
    let (tx, stopped) = std::sync::mpsc::channel();
    let client = thread::spawn(move || {
        let stream = gcnn::net::connect_within(&addr, TIMEOUT).unwrap();
        let channel = StopsAfter {
            inner: TcpChannel::new(stream, TIMEOUT).unwrap(),
            budget: STOP_AT,
            stopped: tx,
            hold,
            resume,
        };
        classify(pipeline(), channel, &test_set().images[index]).map(|(class, _)| class)
    });
    (client, stopped)
}

/// A peer that stops mid-stream, socket open, is detected by `gcnn garbler` and by
/// `gcnn evaluator` within `--timeout` + 1 s, and each says what happened.
#[test]
fn a_peer_that_stops_mid_stream_is_detected_within_the_timeout_on_both_sides() {
    let Some(model) = model() else { return };
    let timeout = Duration::from_secs(2);
    let hold = Duration::from_secs(8);
    let limit = timeout + Duration::from_secs(1);

    // The evaluator stops: the garbler notices.
    let (mut child, addr, lines) = garbler(1, &["--timeout", "2"]);
    let log = LogLines::new(lines);
    let (client, stopped) = stopping_client(addr, 1, hold, false);
    let at = stopped.recv_timeout(TIMEOUT).expect("the client stops");
    let line = log.find("failed after", hold);
    let noticed = at.elapsed();
    println!("garbler noticed a stopped evaluator after {noticed:?}: {line}");
    assert!(noticed <= limit, "{noticed:?}: {line}");
    assert!(
        line.contains("peer read nothing for 2s") || line.contains("peer sent nothing for 2s"),
        "{line}"
    );
    assert!(client.join().unwrap().is_err());
    assert!(!common::exit_within(&mut child).success());
    drop(log.rest());

    // The garbler stops: the evaluator notices.
    let owner = ModelOwner::new(&model).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, stopped) = std::sync::mpsc::channel();
    thread::scope(|s| {
        s.spawn(|| {
            let (stream, _) = listener.accept().unwrap();
            let channel = StopsAfter {
                inner: TcpChannel::new(stream, TIMEOUT).unwrap(),
                budget: STOP_AT,
                stopped: tx,
                hold,
                resume: false,
            };
            assert!(owner.serve(channel).is_err());
        });
        let evaluator = s.spawn(|| evaluator(&addr, 1, &["--timeout", "2"]));
        let at = stopped.recv_timeout(TIMEOUT).expect("the garbler stops");
        let out = evaluator.join().unwrap();
        let noticed = at.elapsed();
        let err = one_error_line(&out);
        println!("evaluator noticed a stopped garbler after {noticed:?}: {err}");
        assert!(noticed <= limit, "{noticed:?}: {err}");
        assert!(
            err.contains("peer sent nothing for 2s") || err.contains("peer read nothing for 2s"),
            "{err}"
        );
    });
}

/// SIGTERM stops the accepting and lets the session in flight finish: its client gets
/// the right class, the garbler says it is shutting down and exits successfully.
#[test]
fn sigterm_lets_the_session_in_flight_finish() {
    let Some(model) = model() else { return };
    let (mut child, addr, lines) = garbler(100, &[]);
    let log = LogLines::new(lines);
    let index = 77;
    let (client, paused) = stopping_client(addr, index, Duration::from_secs(2), true);
    paused
        .recv_timeout(TIMEOUT)
        .expect("the session is in flight");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    log.find("shutting down: finishing 1 session(s) in flight", TIMEOUT);
    let class = client
        .join()
        .unwrap()
        .expect("the session in flight finishes");
    assert_eq!(class, model.predict(&test_set().images[index]));
    assert!(common::exit_within(&mut child).success());
    let rest = log.rest();
    assert_eq!(count(&rest, ": ok in "), 1, "{rest:?}");
}

/// `--log-json`: every line a JSON object with a timestamp and a level; a session's line
/// also names its id and peer, and parses back as a [`SessionLog`].
#[test]
fn json_log_lines_carry_timestamp_level_and_session() {
    let Some(_) = model() else { return };
    let (mut child, addr, lines) = garbler(1, &["--log-json", "-v"]);
    connect_and_classify(pipeline(), &addr, &test_set().images[3], TIMEOUT).unwrap();
    assert!(common::exit_within(&mut child).success());
    let log: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    for line in &log {
        let ts = line["ts"].as_str().unwrap();
        assert!(ts.ends_with('Z') && ts.contains('T'), "{line}");
        assert!(
            ["info", "debug"].contains(&line["level"].as_str().unwrap()),
            "{line}"
        );
    }
    let messages: Vec<&str> = log.iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(messages[0], "connected", "{messages:?}");
    let ok = log
        .iter()
        .find(|l| l["message"].as_str().unwrap().starts_with("ok in "))
        .unwrap();
    assert_eq!(ok["session"], 1);
    let line = format!(
        "session 1 {}: {}",
        ok["peer"].as_str().unwrap(),
        ok["message"].as_str().unwrap()
    );
    assert!(
        gcnn::cli::garbler::SessionLog::parse(&line).is_some(),
        "{line}"
    );
}

/// A `/proc/PID/status` field in MB (`VmRSS:`, `VmHWM:`).
fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024.0 / 1e6
}

/// 64 clients at once against one garbler (4 workers, the others waiting their turn):
/// all get the plaintext class and the garbler's peak RSS stays under 100 MB. Its RSS
/// after is printed, not asserted: glibc keeps what the four workers' arenas held (see
/// the README).
#[test]
fn sixty_four_concurrent_clients_are_correct_in_bounded_memory() {
    let Some(model) = model() else { return };
    let clients = 64;
    let (mut child, addr, lines) = garbler(
        clients + 1,
        &["--queue", "64", "--per-peer", "70", "--timeout", "60"],
    );
    let pid = child.id();
    let idle = status_mb(pid, "VmRSS:");
    let start = Instant::now();
    thread::scope(|s| {
        let runs: Vec<_> = (0..clients)
            .map(|i| {
                let addr = &addr;
                s.spawn(move || {
                    let index = 100 + 37 * i;
                    let image = &test_set().images[index];
                    (
                        index,
                        connect_and_classify(pipeline(), addr, image, TIMEOUT),
                    )
                })
            })
            .collect();
        for run in runs {
            let (index, result) = run.join().unwrap();
            let (class, _) = result.unwrap_or_else(|e| panic!("test image {index}: {e}"));
            assert_eq!(
                class,
                model.predict(&test_set().images[index]),
                "image {index}"
            );
        }
    });
    let took = start.elapsed();
    thread::sleep(Duration::from_millis(300));
    let (peak, rss) = (status_mb(pid, "VmHWM:"), status_mb(pid, "VmRSS:"));
    println!(
        "{clients} clients in {took:?}; garbler RSS idle {idle:.1} MB, peak {peak:.1} MB, after {rss:.1} MB"
    );
    connect_and_classify(pipeline(), &addr, &test_set().images[0], TIMEOUT).unwrap();
    assert!(common::exit_within(&mut child).success());
    drop(lines);
    assert!(peak <= 100.0, "peak RSS {peak} MB");
    // Back to idle: what 64 sessions allocated went back to the OS (a few MB of slack for
    // the allocator's bookkeeping of the arenas the sessions' threads created).
    assert!(
        rss <= idle + 6.0,
        "RSS {rss} MB after the burst, {idle} MB idle"
    );
}
