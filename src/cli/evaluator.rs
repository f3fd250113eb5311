//! `gcnn evaluator`: the client classifies its images privately, one session each.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use super::CliError;
use super::infer::{Input, Show, text_line};
use crate::channel::TcpChannel;
use crate::inference::{Pipeline, classify};
use crate::model::PixelView;
use crate::protocol::{ProtocolError, SessionReport};
use crate::tls::ClientTls;

/// How long the client waits for the garbler's address to answer.
#[derive(Clone, Copy, Debug)]
pub struct Waits {
    /// Retrying a refused connection (the garbler may still be starting).
    pub connect: Duration,
    /// Every network read and write of a session.
    pub io: Duration,
}

/// Classifies each input privately with the garbler at `addr` (over TLS with `tls` if
/// given), printing one line (or JSON object) per image on `out`: the class, time and
/// bytes — never logits, which the client does not learn.
#[allow(clippy::too_many_arguments)]
pub fn run(
    pipeline: &Pipeline,
    addr: &str,
    inputs: &[Input],
    waits: Waits,
    tls: Option<&ClientTls>,
    show: Show,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), CliError> {
    super::infer::check_shape(pipeline.input_shape())?;
    for input in inputs {
        input.describe(pipeline.input_bits(), show.verbose, log)?;
        let start = Instant::now();
        let (prediction, r) = classify_at(pipeline, addr, &input.image, waits, tls)?;
        let seconds = start.elapsed().as_secs_f64();
        writeln!(
            log,
            "private inference of {}: {:.3} s (offline {:.3} s, online {:.3} s), sent {} B, received {} B",
            input.name(),
            r.total.as_secs_f64(),
            r.setup.as_secs_f64(),
            r.online.as_secs_f64(),
            r.bytes_sent,
            r.bytes_received
        )
        .map_err(CliError::Output)?;
        let line = if show.json {
            let mut fields = input.json_fields();
            fields.insert("prediction".into(), json!(prediction));
            fields.insert("seconds".into(), json!(seconds));
            fields.insert("offline_seconds".into(), json!(r.setup.as_secs_f64()));
            fields.insert("online_seconds".into(), json!(r.online.as_secs_f64()));
            fields.insert("bytes_sent".into(), json!(r.bytes_sent));
            fields.insert("bytes_received".into(), json!(r.bytes_received));
            serde_json::Value::Object(fields).to_string()
        } else {
            text_line(input, prediction)
        };
        writeln!(out, "{line}").map_err(CliError::Output)?;
    }
    Ok(())
}

/// Connects to the garbler at `addr` (waiting at most `timeout` for it to listen) and
/// classifies `image` privately.
pub fn connect_and_classify<'a>(
    pipeline: &Pipeline,
    addr: &str,
    image: impl Into<PixelView<'a>>,
    timeout: Duration,
) -> Result<(usize, SessionReport), CliError> {
    let waits = Waits {
        connect: timeout,
        io: timeout,
    };
    classify_at(pipeline, addr, image, waits, None)
}

/// Connects to the garbler at `addr` (retrying a refused connection for at most
/// `waits.connect`) and classifies `image` privately, over TLS with `tls` if given.
pub fn classify_at<'a>(
    pipeline: &Pipeline,
    addr: &str,
    image: impl Into<PixelView<'a>>,
    waits: Waits,
    tls: Option<&ClientTls>,
) -> Result<(usize, SessionReport), CliError> {
    let stream = crate::net::connect_within(addr, waits.connect)?;
    let channel = match tls {
        Some(tls) => tls.channel(stream, waits.io),
        None => TcpChannel::new(stream, waits.io),
    }
    .map_err(ProtocolError::from)?;
    classify(pipeline, channel, image).map_err(|e| match e {
        ProtocolError::CircuitMismatch { ours, theirs } => CliError::ModelMismatch { ours, theirs },
        other => other.into(),
    })
}
