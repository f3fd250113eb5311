//! `gcnn garbler`: the model owner serves private inference sessions.

use std::fmt;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use super::CliError;
use crate::channel::TcpChannel;
use crate::inference::ModelOwner;
use crate::model::Model;
use crate::protocol::SessionReport;

/// Loads the model and compiles its circuit (checking `circuit` against it if given).
pub fn owner(model_dir: &Path, circuit: Option<&Path>) -> Result<ModelOwner, CliError> {
    let model = Model::load(model_dir)?;
    let expected = match circuit {
        Some(path) => Some(crate::circuit::file::load(path, None)?.0.content_hash()),
        None => None,
    };
    Ok(ModelOwner::new(&model, expected)?)
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
    pub ot_s: f64,
    /// Garbling including table streaming, seconds.
    pub garbling_s: f64,
    /// Bytes the garbler sent.
    pub bytes_sent: u64,
    /// Bytes the garbler received.
    pub bytes_received: u64,
    /// The garbler process's peak resident set size so far, MB.
    pub peak_rss_mb: f64,
}

impl SessionLog {
    fn new(session: usize, peer: String, r: &SessionReport) -> Self {
        SessionLog {
            session,
            peer,
            total_s: r.total.as_secs_f64(),
            ot_s: r.ot.as_secs_f64(),
            garbling_s: r.gates.as_secs_f64(),
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            peak_rss_mb: crate::sys::peak_rss_bytes().map_or(0.0, |b| b as f64 / 1e6),
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
        let [total, ot, garbling, sent, received, rss] = numbers[..] else {
            return None;
        };
        Some(SessionLog {
            session: session.parse().ok()?,
            peer: peer.to_owned(),
            total_s: total.parse().ok()?,
            ot_s: ot.parse().ok()?,
            garbling_s: garbling.parse().ok()?,
            bytes_sent: sent.parse().ok()?,
            bytes_received: received.parse().ok()?,
            peak_rss_mb: rss.parse().ok()?,
        })
    }
}

impl fmt::Display for SessionLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "session {} {}: ok in {:.4} s (OT {:.4} s, garbling {:.4} s), sent {} B, received {} B, peak RSS {:.1} MB",
            self.session,
            self.peer,
            self.total_s,
            self.ot_s,
            self.garbling_s,
            self.bytes_sent,
            self.bytes_received,
            self.peak_rss_mb
        )
    }
}

/// Serves `sessions` sessions (forever if `None`) one after another on `listener`, one
/// log line each: peer, outcome, time, bytes, peak memory. A failed session is logged and
/// the next client is served; returns how many sessions failed.
pub fn serve(
    owner: &ModelOwner,
    listener: &TcpListener,
    sessions: Option<usize>,
    timeout: Duration,
    log: &mut impl Write,
) -> Result<usize, CliError> {
    let mut failed = 0;
    let mut served = 0;
    while sessions.is_none_or(|n| served < n) {
        served += 1;
        let (stream, peer) = listener.accept().map_err(CliError::Accept)?;
        let start = Instant::now();
        let outcome = TcpChannel::new(stream, timeout)
            .map_err(Into::into)
            .and_then(|channel| owner.serve(channel));
        let line = match outcome {
            Ok(r) => SessionLog::new(served, peer.to_string(), &r).to_string(),
            Err(e) => {
                failed += 1;
                let secs = start.elapsed().as_secs_f64();
                format!("session {served} {peer}: failed after {secs:.3} s: {e}")
            }
        };
        writeln!(log, "{line}").map_err(CliError::Output)?;
    }
    Ok(failed)
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
            ot_s: 0.0125,
            garbling_s: 0.175,
            bytes_sent: 49_500_123,
            bytes_received: 1_234_567,
            peak_rss_mb: 331.5,
        };
        assert_eq!(SessionLog::parse(&log.to_string()), Some(log));
    }

    #[test]
    fn other_lines_are_not_session_logs() {
        for line in [
            "listening on 127.0.0.1:7000",
            "session 1 127.0.0.1:1: failed after 0.010 s: handshake failed",
            "session x 127.0.0.1:1: ok in 1 s (OT 1 s, garbling 1 s), sent 1 B, received 1 B, peak RSS 1 MB",
            "session 1 127.0.0.1:1: ok in 1 s, sent 1 B",
        ] {
            assert_eq!(SessionLog::parse(line), None, "{line}");
        }
    }
}
