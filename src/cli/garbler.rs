//! `gcnn garbler`: the model owner serves private inference sessions.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use super::CliError;
use crate::channel::TcpChannel;
use crate::inference::ModelOwner;
use crate::model::Model;

/// Loads the model and compiles its circuit (checking `circuit` against it if given).
pub fn owner(model_dir: &Path, circuit: Option<&Path>) -> Result<ModelOwner, CliError> {
    let model = Model::load(model_dir)?;
    let expected = match circuit {
        Some(path) => Some(crate::circuit::file::load(path, None)?.0.content_hash()),
        None => None,
    };
    Ok(ModelOwner::new(&model, expected)?)
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
        let secs = start.elapsed().as_secs_f64();
        let rss = crate::sys::peak_rss_bytes().map_or(0.0, |b| b as f64 / 1e6);
        let line = match outcome {
            Ok(r) => format!(
                "session {served} {peer}: ok in {secs:.3} s, sent {} B, received {} B, peak RSS {rss:.1} MB",
                r.bytes_sent, r.bytes_received
            ),
            Err(e) => {
                failed += 1;
                format!("session {served} {peer}: failed after {secs:.3} s: {e}")
            }
        };
        writeln!(log, "{line}").map_err(CliError::Output)?;
    }
    Ok(failed)
}
