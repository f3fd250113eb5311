//! `gcnn evaluator`: the client classifies its images privately, one session each —
//! given up front, or named on standard input as they come, each session prepared before
//! its image (`--stdin`).

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use serde_json::json;

use super::CliError;
use super::ahead::Ahead;
use super::infer::{self, ImageSource, Input, Show, text_line};
use crate::channel::TcpChannel;
use crate::garble::GateScheme;
use crate::inference::{Batch, MAX_IMAGES, Pipeline, Prepared, classify_with, prepare_with};
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

/// The pictures of one `gcnn evaluator` run.
pub enum Pictures<'a> {
    /// Given up front (arguments): one session each, connected when its turn comes.
    Given(&'a [Input]),
    /// Named one path per line as they come (`--stdin`), with this many sessions kept
    /// prepared ahead of them.
    Lines(&'a mut dyn BufRead, usize),
}

/// Where the garbler is and how to reach it.
#[derive(Clone, Copy)]
pub struct Peer<'a> {
    /// Its address, e.g. 203.0.113.5:7000.
    pub addr: &'a str,
    /// How long to wait for it.
    pub waits: Waits,
    /// TLS, if the garbler speaks it.
    pub tls: Option<&'a ClientTls>,
    /// The gate scheme to offer it.
    pub gate_scheme: GateScheme,
}

/// Classifies each picture privately with the garbler `peer`, printing one line (or JSON
/// object) per picture on `out`: the class, time and bytes — never logits, which the
/// client does not learn — and what each session did on `log`.
pub fn run(
    pipeline: &Pipeline,
    peer: Peer<'_>,
    pictures: Pictures<'_>,
    show: Show,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), CliError> {
    super::infer::check_shape(pipeline.input_shape())?;
    match pictures {
        Pictures::Given(inputs) => run_given(pipeline, peer, inputs, show, out, log),
        Pictures::Lines(lines, pool) => run_lines(pipeline, peer, (lines, pool), show, out, log),
    }
}

/// Classifies `inputs` one after another in one session: one connection, handshake and
/// set of base OTs for all of them. Each picture's time runs from the previous one's class
/// (the first's from before the TCP connect, so it counts the connect and the handshake's
/// round trip), and its offline time is that less the online phase.
fn run_given(
    pipeline: &Pipeline,
    peer: Peer<'_>,
    inputs: &[Input],
    show: Show,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), CliError> {
    let Ok(images @ 1..=MAX_IMAGES) = u32::try_from(inputs.len()) else {
        return Err(CliError::TooManyPictures {
            count: inputs.len(),
            max: MAX_IMAGES,
        });
    };
    let mut start = Instant::now();
    let mut batch = batch_at(pipeline, peer, images)?;
    for input in inputs {
        input.describe(pipeline.input_bits(), show.verbose, log)?;
        let (prediction, r) = batch.classify(&input.image).map_err(session_error)?;
        let seconds = start.elapsed().as_secs_f64();
        start = Instant::now();
        let online = r.online.as_secs_f64();
        writeln!(
            log,
            "private inference of {}: {seconds:.3} s (offline {:.3} s, online {online:.3} s), sent {} B, received {} B",
            input.name(),
            seconds - online,
            r.bytes_sent,
            r.bytes_received
        )
        .map_err(CliError::Output)?;
        print_result(
            input,
            prediction,
            (seconds, seconds - online),
            &r,
            show,
            out,
        )?;
    }
    Ok(())
}

/// Prints one picture's result on `out`: the text line, or with `--json` one object with
/// the time (`seconds`, as the command measures it), the offline time that goes with it,
/// the online time and the bytes.
fn print_result(
    input: &Input,
    prediction: usize,
    (seconds, offline): (f64, f64),
    r: &SessionReport,
    show: Show,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let line = if show.json {
        let mut fields = input.json_fields();
        fields.insert("prediction".into(), json!(prediction));
        fields.insert("seconds".into(), json!(seconds));
        fields.insert("offline_seconds".into(), json!(offline));
        fields.insert("online_seconds".into(), json!(r.online.as_secs_f64()));
        fields.insert("bytes_sent".into(), json!(r.bytes_sent));
        fields.insert("bytes_received".into(), json!(r.bytes_received));
        serde_json::Value::Object(fields).to_string()
    } else {
        text_line(input, prediction)
    };
    writeln!(out, "{line}").map_err(CliError::Output)
}

/// Connects to the garbler at `addr` (waiting at most `timeout` for it to listen) and
/// classifies `image` privately, its ANDs garbled with half-gates.
pub fn connect_and_classify<'a>(
    pipeline: &Pipeline,
    addr: &str,
    image: impl Into<PixelView<'a>>,
    timeout: Duration,
) -> Result<(usize, SessionReport), CliError> {
    connect_and_classify_with(pipeline, addr, image, timeout, GateScheme::default())
}

/// [`connect_and_classify`], offering the garbler `gate_scheme`.
pub fn connect_and_classify_with<'a>(
    pipeline: &Pipeline,
    addr: &str,
    image: impl Into<PixelView<'a>>,
    timeout: Duration,
    gate_scheme: GateScheme,
) -> Result<(usize, SessionReport), CliError> {
    let waits = Waits {
        connect: timeout,
        io: timeout,
    };
    let peer = Peer {
        addr,
        waits,
        tls: None,
        gate_scheme,
    };
    classify_at(pipeline, peer, image)
}

/// Connects to the garbler `peer` (retrying a refused connection for at most its
/// `waits.connect`) and classifies `image` privately.
pub fn classify_at<'a>(
    pipeline: &Pipeline,
    peer: Peer<'_>,
    image: impl Into<PixelView<'a>>,
) -> Result<(usize, SessionReport), CliError> {
    let channel = channel_at(peer.addr, peer.waits, peer.tls)?;
    classify_with(pipeline, channel, image, peer.gate_scheme).map_err(session_error)
}

/// Connects to the garbler `peer` as [`classify_at`] does and runs a session's offline
/// phase, before there is an image.
pub(super) fn prepare_at<'p>(
    pipeline: &'p Pipeline,
    Peer {
        addr,
        waits,
        tls,
        gate_scheme,
    }: Peer<'_>,
) -> Result<Prepared<'p, TcpChannel>, CliError> {
    prepare_with(pipeline, channel_at(addr, waits, tls)?, gate_scheme).map_err(session_error)
}

/// Connects to the garbler `peer` as [`classify_at`] does and opens a session of
/// `images` images.
pub fn batch_at<'p>(
    pipeline: &'p Pipeline,
    peer: Peer<'_>,
    images: u32,
) -> Result<Batch<'p, TcpChannel>, CliError> {
    let channel = channel_at(peer.addr, peer.waits, peer.tls)?;
    Batch::open(pipeline, channel, images, peer.gate_scheme).map_err(session_error)
}

/// A connection to the garbler at `addr` (retrying a refused one for at most
/// `waits.connect`), over TLS with `tls` if given.
fn channel_at(addr: &str, waits: Waits, tls: Option<&ClientTls>) -> Result<TcpChannel, CliError> {
    let stream = crate::net::connect_within(addr, waits.connect)?;
    Ok(match tls {
        Some(tls) => tls.channel(stream, waits.io),
        None => TcpChannel::new(stream, waits.io),
    }
    .map_err(ProtocolError::from)?)
}

/// A session's failure as the client reports it: a circuit mismatch names the likely
/// cause.
fn session_error(e: ProtocolError) -> CliError {
    match e {
        ProtocolError::CircuitMismatch { ours, theirs } => CliError::ModelMismatch { ours, theirs },
        other => other.into(),
    }
}

/// `gcnn evaluator --stdin`: classifies the pictures named on `lines`, one path per line,
/// as they come. A thread keeps `pool` sessions prepared ([`Ahead`]), so only the online
/// phase stands between a picture and its class as long as the pictures come no faster
/// than sessions are prepared; the printed latency runs from the decoded picture to the
/// class, waiting for a session included. A session that waited longer than
/// [`super::ahead::STALE`] is replaced by a fresh one, as is one whose garbler has ended
/// it meanwhile (fresh randomness: nothing of the abandoned session is reused). A picture
/// that cannot be read is reported and skipped; the command then fails at the end.
fn run_lines(
    pipeline: &Pipeline,
    peer: Peer<'_>,
    (lines, pool): (&mut dyn BufRead, usize),
    show: Show,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), CliError> {
    let ahead = Ahead::new(pool);
    std::thread::scope(|scope| {
        scope.spawn(|| ahead.fill(pipeline, peer));
        let result = ahead
            .first()
            .and_then(|()| classify_lines(pipeline, peer, &ahead, lines, show, out, log));
        ahead.close();
        result
    })
}

/// The loop of [`run_lines`], drawing its sessions from `ahead`.
fn classify_lines(
    pipeline: &Pipeline,
    peer: Peer<'_>,
    ahead: &Ahead<'_>,
    lines: &mut dyn BufRead,
    show: Show,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), CliError> {
    let (mut read, mut failed) = (0, 0);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).map_err(CliError::Input)? == 0 {
            break;
        }
        let path = line.trim_end_matches(['\n', '\r']);
        if path.trim().is_empty() {
            continue;
        }
        read += 1;
        // A directory names every picture in it.
        let inputs = match infer::load(&[ImageSource::File(path.into())], None) {
            Ok(inputs) => inputs,
            Err(e) => {
                failed += 1;
                writeln!(log, "error: {e}").map_err(CliError::Output)?;
                continue;
            }
        };
        for input in &inputs {
            classify_one(pipeline, peer, ahead, input, show, out, log)?;
        }
    }
    if failed > 0 {
        return Err(CliError::UnreadLines {
            failed,
            lines: read,
        });
    }
    Ok(())
}

/// One picture of [`classify_lines`], in a session from `ahead`.
fn classify_one(
    pipeline: &Pipeline,
    peer: Peer<'_>,
    ahead: &Ahead<'_>,
    input: &Input,
    show: Show,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<(), CliError> {
    input.describe(pipeline.input_bits(), show.verbose, log)?;
    let start = Instant::now();
    let (prediction, r) = match ahead.take()?.classify(&input.image) {
        // The garbler ended the waiting session (its timeout, a restart): once more,
        // in a fresh session.
        Err(ProtocolError::Channel(_)) => prepare_at(pipeline, peer)?
            .classify(&input.image)
            .map_err(session_error)?,
        other => other.map_err(session_error)?,
    };
    let seconds = start.elapsed().as_secs_f64();
    writeln!(
        log,
        "private inference of {}: {seconds:.3} s from the picture to the class (online {:.3} s; offline {:.3} s before it), sent {} B, received {} B",
        input.name(),
        r.online.as_secs_f64(),
        r.setup.as_secs_f64(),
        r.bytes_sent,
        r.bytes_received
    )
    .map_err(CliError::Output)?;
    print_result(
        input,
        prediction,
        (seconds, r.setup.as_secs_f64()),
        &r,
        show,
        out,
    )?;
    out.flush().map_err(CliError::Output)
}
