//! `gcnn garbler`: the model owner serves private inference sessions.

use std::fmt;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use super::CliError;
use crate::channel::TcpChannel;
use crate::inference::ModelOwner;
use crate::model::Model;
use crate::protocol::SessionReport;

/// Loads the model and plans its pipeline; says so on `log`.
pub fn owner(
    model_dir: &Path,
    circuit: Option<&Path>,
    log: &mut impl Write,
) -> Result<ModelOwner, CliError> {
    let model = Model::load(model_dir)?;
    let owner = ModelOwner::new(&model)?;
    if let Some(path) = circuit {
        // The file must be what this model compiles to: same hash, same handshake.
        let file = crate::inference::Pipeline::load_circuit(path)?;
        if file.hash() != owner.pipeline().hash() {
            return Err(CliError::CircuitMismatch {
                circuit: path.to_owned(),
                model: model_dir.to_owned(),
            });
        }
    }
    writeln!(log, "serving the pipeline of {}", model_dir.display()).map_err(CliError::Output)?;
    Ok(owner)
}

/// The log line of one successful session: sizes and times only, never a secret.
///
/// Its [`fmt::Display`] form is what `gcnn garbler` prints and [`SessionLog::parse`]
/// reads it back, so `gcnn bench` can measure a garbler running in another process.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionLog {
    /// Session number, from 1.
    pub session: usize,
    /// The evaluator's address.
    pub peer: String,
    /// Whole session, seconds.
    pub total_s: f64,
    /// Handshake, base OTs and OT extension, seconds.
    pub setup_s: f64,
    /// Garbling including table streaming, seconds.
    pub online_s: f64,
    /// Bytes the garbler sent.
    pub bytes_sent: u64,
    /// Bytes the garbler received.
    pub bytes_received: u64,
    /// The garbler process's peak resident set size so far, MB.
    pub peak_rss_mb: f64,
    /// The garbler process's resident set size after the session, MB.
    pub rss_mb: f64,
    /// File descriptors the garbler process has open after the session.
    pub fds: usize,
}

impl SessionLog {
    fn new(session: usize, peer: String, r: &SessionReport) -> Self {
        SessionLog {
            session,
            peer,
            total_s: r.total.as_secs_f64(),
            setup_s: r.setup.as_secs_f64(),
            online_s: r.online.as_secs_f64(),
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            peak_rss_mb: crate::sys::peak_rss_bytes().map_or(0.0, |b| b as f64 / 1e6),
            rss_mb: crate::sys::rss_bytes().map_or(0.0, |b| b as f64 / 1e6),
            fds: crate::sys::open_fds().unwrap_or(0),
        }
    }

    /// Reads a line written by [`fmt::Display`]; `None` for any other line.
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("session ")?;
        let (session, rest) = rest.split_once(' ')?;
        let (peer, rest) = rest.split_once(": ok in ")?;
        let numbers: Vec<&str> = rest
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
            .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        let [total, ot, garbling, sent, received, peak, rss, fds] = numbers[..] else {
            return None;
        };
        Some(SessionLog {
            session: session.parse().ok()?,
            peer: peer.to_owned(),
            total_s: total.parse().ok()?,
            setup_s: ot.parse().ok()?,
            online_s: garbling.parse().ok()?,
            bytes_sent: sent.parse().ok()?,
            bytes_received: received.parse().ok()?,
            peak_rss_mb: peak.parse().ok()?,
            rss_mb: rss.parse().ok()?,
            fds: fds.parse().ok()?,
        })
    }
}

impl fmt::Display for SessionLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "session {} {}: ok in {:.4} s (set-up {:.4} s, online {:.4} s), sent {} B, received {} B, peak RSS {:.1} MB, RSS {:.1} MB, {} fds open",
            self.session,
            self.peer,
            self.total_s,
            self.setup_s,
            self.online_s,
            self.bytes_sent,
            self.bytes_received,
            self.peak_rss_mb,
            self.rss_mb,
            self.fds
        )
    }
}

/// How long a client may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// For every read and write.
    pub io: Duration,
    /// For the whole session.
    pub session: Duration,
}

/// Pause after a failed accept, so a persistent failure (out of file descriptors) does
/// not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `sessions` sessions (forever if `None`) on `listener`, at most `workers` at
/// once, each on its own thread sharing `owner`; further clients wait in the accept
/// queue. One log line per session: peer, outcome, time, bytes, memory, open files. A
/// failed session is logged and the other clients are served; returns how many sessions
/// failed once all have ended.
pub fn serve(
    owner: &ModelOwner,
    listener: &TcpListener,
    sessions: Option<usize>,
    workers: NonZeroUsize,
    limits: Limits,
    log: &mut (impl Write + Send),
) -> Result<usize, CliError> {
    let failed = AtomicUsize::new(0);
    let log = Mutex::new(log);
    let log_error = OnceLock::new();
    // One permit per worker: taken before accepting, returned when the session ends.
    let (permit_back, permits) = mpsc::sync_channel(workers.get());
    for _ in 0..workers.get() {
        // Cannot fail: the channel has room for every permit and `permits` is alive.
        let _ = permit_back.try_send(());
    }
    thread::scope(|s| {
        let mut served = 0;
        while sessions.is_none_or(|n| served < n) && log_error.get().is_none() {
            // Waits for a free worker; cannot fail while `permit_back` is alive.
            if permits.recv().is_err() {
                break;
            }
            let (stream, peer) = match listener.accept() {
                Ok(conn) => conn,
                Err(e) => {
                    // A failed accept (a client that gave up, too many open files) is
                    // that client's problem, not the server's: log it, back off, go on.
                    let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Err(e) = writeln!(log, "accept failed: {e}") {
                        let _ = log_error.set(e);
                    }
                    drop(log);
                    let _ = permit_back.send(());
                    thread::sleep(ACCEPT_BACKOFF);
                    continue;
                }
            };
            served += 1;
            let (permit_back, failed, log, log_error) = (&permit_back, &failed, &log, &log_error);
            let session = served;
            s.spawn(move || {
                let (ok, line) = serve_one(owner, session, stream, peer, limits);
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                if let Err(e) = writeln!(log, "{line}") {
                    let _ = log_error.set(e);
                }
                drop(log);
                let _ = permit_back.send(());
            });
        }
        Ok::<_, CliError>(())
    })?;
    if let Some(e) = log_error.into_inner() {
        return Err(CliError::Output(e));
    }
    Ok(failed.into_inner())
}

/// Runs session number `session` with the client on `stream`; whether it succeeded and
/// its log line.
fn serve_one(
    owner: &ModelOwner,
    session: usize,
    stream: TcpStream,
    peer: SocketAddr,
    limits: Limits,
) -> (bool, String) {
    let start = Instant::now();
    let outcome = TcpChannel::new(stream, limits.io)
        .map(|channel| channel.with_deadline(limits.session))
        .map_err(Into::into)
        .and_then(|channel| owner.serve(channel));
    match outcome {
        Ok(r) => (
            true,
            SessionLog::new(session, peer.to_string(), &r).to_string(),
        ),
        Err(e) => {
            let secs = start.elapsed().as_secs_f64();
            (
                false,
                format!("session {session} {peer}: failed after {secs:.3} s: {e}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_log_reads_back_what_it_writes() {
        let log = SessionLog {
            session: 3,
            peer: "127.0.0.1:4242".into(),
            total_s: 0.1875,
            setup_s: 0.0125,
            online_s: 0.175,
            bytes_sent: 49_500_123,
            bytes_received: 1_234_567,
            peak_rss_mb: 331.5,
            rss_mb: 120.5,
            fds: 9,
        };
        assert_eq!(SessionLog::parse(&log.to_string()), Some(log));
    }

    #[test]
    fn other_lines_are_nsetup_session_logs() {
        for line in [
            "listening on 127.0.0.1:7000",
            "session 1 127.0.0.1:1: failed after 0.010 s: handshake failed",
            "session x 127.0.0.1:1: ok in 1 s (OT 1 s, garbling 1 s), sent 1 B, received 1 B, peak RSS 1 MB, RSS 1 MB, 3 fds open",
            "session 1 127.0.0.1:1: ok in 1 s, sent 1 B",
        ] {
            assert_eq!(SessionLog::parse(line), None, "{line}");
        }
    }
}
