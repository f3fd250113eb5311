//! `gcnn bench`: private inferences of random test images with the garbler in a separate
//! child process, so each role's time, traffic and peak memory are measured on its own.
//!
//! This process is the evaluator. The garbler is `gcnn garbler --sessions N` started from
//! the current executable; its listening address and its per-session costs come from
//! its stderr log lines ([`SessionLog`]), which carry sizes and times only.

use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use super::evaluator::{Peer, Waits, batch_at, connect_and_classify_with};
use super::garbler::SessionLog;
use super::{CliError, Setup, human_bytes};
use crate::garble::GateScheme;
use crate::inference::{Flow, LayerCost};
use crate::model::{ModelSource, Pixels};

/// Results of [`run`]; times in milliseconds are medians over the images unless named.
#[derive(Clone, Debug)]
pub struct InferenceBench {
    /// CPU model and logical cores of this machine.
    pub machine: String,
    /// The test-set indices classified, in order.
    pub indices: Vec<usize>,
    /// Private predictions equal to the plaintext model's.
    pub agree: usize,
    /// Private predictions equal to the true label.
    pub correct: usize,
    /// Median wall time per inference, connection included.
    pub latency_ms_median: f64,
    /// Slowest inference.
    pub latency_ms_max: f64,
    /// Bytes from the evaluator to the garbler, per inference (mean).
    pub bytes_to_garbler: u64,
    /// Bytes from the garbler to the evaluator, per inference (mean).
    pub bytes_to_evaluator: u64,
    /// How the stage circuits' ANDs were garbled.
    pub gate_scheme: GateScheme,
    /// Lookups or circuits for one-bit stages (the evaluator's choice).
    pub flow: Flow,
    /// AND gates of two secret wires in the stage circuits.
    pub and_gates: u64,
    /// Garbler half gates (ANDs with a garbler-known input).
    pub garbler_half_gates: u64,
    /// Evaluator: the offline phase, before the image is used (handshake, base OTs, OT
    /// extension, garbled tables).
    pub evaluator_setup_ms: f64,
    /// Evaluator: online, from the image to the class.
    pub evaluator_online_ms: f64,
    /// Garbler: the offline phase.
    pub garbler_setup_ms: f64,
    /// Garbler: online, to the last message.
    pub garbler_online_ms: f64,
    /// Per weighted layer: OTs, correction bytes, gates and bytes each way.
    pub layers: Vec<LayerCost>,
    /// Per weighted layer, the evaluator's median online time in ms.
    pub layer_ms: Vec<f64>,
    /// Peak resident set size of the garbler process, MB.
    pub garbler_peak_rss_mb: f64,
    /// Peak resident set size of this (evaluator) process, MB; includes the test set and
    /// the model it loads for plaintext predictions.
    pub evaluator_peak_rss_mb: f64,
    /// With `--batch`: the sessions the images were split over, run at once, and the
    /// images classified per second, from the first connection to the last class.
    pub batch: Option<(usize, f64)>,
}

impl InferenceBench {
    /// Everything as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "machine": self.machine,
            "images": self.indices.len(),
            "indices": self.indices,
            "agree": self.agree,
            "correct": self.correct,
            "latency_ms_median": self.latency_ms_median,
            "latency_ms_max": self.latency_ms_max,
            "bytes_per_inference": self.bytes_to_garbler + self.bytes_to_evaluator,
            "bytes_evaluator_to_garbler": self.bytes_to_garbler,
            "bytes_garbler_to_evaluator": self.bytes_to_evaluator,
            "bytes_online": self.layers.iter().map(|l| l.online).sum::<u64>(),
            "gate_scheme": self.gate_scheme.name(),
            "flow": self.flow.name(),
            "and_gates": self.and_gates,
            "garbler_half_gates": self.garbler_half_gates,
            "time_ms_median": {
                "evaluator_setup": self.evaluator_setup_ms,
                "evaluator_online": self.evaluator_online_ms,
                "garbler_setup": self.garbler_setup_ms,
                "garbler_online": self.garbler_online_ms,
            },
            "layers": self.layers.iter().map(|l| json!({
                "name": l.name,
                "product_ots": l.product_ots,
                "correction_bytes": l.corrections,
                "share_ots": l.share_ots,
                "lookup_ots": l.lookup_ots,
                "lookups": l.lookups,
                "online_round_trips": l.round_trips,
                "and_gates": l.and_gates,
                "garbler_half_gates": l.garbler_half_gates,
                "table_bytes": l.tables,
                "bytes_evaluator_to_garbler": l.to_garbler,
                "bytes_garbler_to_evaluator": l.to_evaluator,
                "bytes_online": l.online,
            })).collect::<Vec<_>>(),
            "layer_ms_median": self.layer_ms,
            "peak_rss_mb": {
                "garbler": self.garbler_peak_rss_mb,
                "evaluator": self.evaluator_peak_rss_mb,
            },
            "batch": self.batch.map(|(lanes, rate)| json!({
                "sessions": lanes,
                "inferences_per_second": rate,
            })),
        })
    }
}

impl fmt::Display for InferenceBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.indices.len();
        let total = self.bytes_to_garbler + self.bytes_to_evaluator;
        let row = |f: &mut fmt::Formatter<'_>, what: &str, value: String| {
            writeln!(f, "{what:<34} {value}")
        };
        row(f, "machine", self.machine.clone())?;
        row(f, "images (garbler in a child process)", n.to_string())?;
        row(f, "flow", self.flow.to_string())?;
        row(f, "test-set indices", format!("{:?}", self.indices))?;
        row(
            f,
            "private == plaintext prediction",
            format!("{}/{n}", self.agree),
        )?;
        row(f, "private == true label", format!("{}/{n}", self.correct))?;
        let latency = format!(
            "{:.1} ms median, {:.1} ms max",
            self.latency_ms_median, self.latency_ms_max
        );
        match self.batch {
            Some((lanes, rate)) => row(
                f,
                "throughput",
                format!("{rate:.1} inferences/s ({n} images in {lanes} sessions at once)"),
            )?,
            None => row(f, "latency per inference", latency)?,
        }
        let bytes = format!(
            "{} (evaluator->garbler {}, garbler->evaluator {})",
            human_bytes(total),
            human_bytes(self.bytes_to_garbler),
            human_bytes(self.bytes_to_evaluator)
        );
        row(f, "bytes per inference", bytes)?;
        let online: u64 = self.layers.iter().map(|l| l.online).sum();
        row(f, "of which online (after the image)", human_bytes(online))?;
        let gates = format!(
            "{} {} ANDs, {} garbler half gates",
            self.and_gates, self.gate_scheme, self.garbler_half_gates
        );
        row(f, "stage circuits", gates)?;
        let evaluator = format!(
            "offline {:.1} ms, online {:.1} ms (medians)",
            self.evaluator_setup_ms, self.evaluator_online_ms
        );
        row(f, "evaluator time", evaluator)?;
        let garbler = format!(
            "offline {:.1} ms, online {:.1} ms (medians)",
            self.garbler_setup_ms, self.garbler_online_ms
        );
        row(f, "garbler time", garbler)?;
        let rss = format!(
            "garbler {:.1} MB, evaluator {:.1} MB",
            self.garbler_peak_rss_mb, self.evaluator_peak_rss_mb
        );
        row(f, "peak RSS", rss)?;
        writeln!(
            f,
            "per layer (bytes exact, from the public pipeline; evaluator's median online ms):"
        )?;
        writeln!(f, "{}   online ms", LayerCost::HEADER)?;
        for (layer, ms) in self.layers.iter().zip(&self.layer_ms) {
            writeln!(f, "{layer} {ms:>11.1}")?;
        }
        Ok(())
    }
}

/// The garbler child process and the lines of its stderr; killed if still running when
/// dropped (on any error path).
struct GarblerProcess {
    child: Child,
    lines: Receiver<String>,
}

impl GarblerProcess {
    /// Starts `gcnn garbler --sessions n` on a free loopback port.
    fn spawn(setup: &Setup, sessions: usize, timeout: Duration) -> Result<Self, CliError> {
        let exe = std::env::current_exe().map_err(|e| CliError::Garbler(e.to_string()))?;
        let mut command = Command::new(exe);
        command.arg("garbler");
        if let ModelSource::Dir(dir) = &setup.model {
            command.arg("--model").arg(dir);
        }
        let mut child = command
            .args(["--listen", "127.0.0.1:0", "--sessions"])
            .arg(sessions.to_string())
            .arg("--timeout")
            .arg(timeout.as_secs().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| CliError::Garbler(format!("cannot start: {e}")))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(GarblerProcess { child, lines })
    }

    /// Waits at most `timeout` for the next log line; `Ok(None)` once the child closed
    /// its stderr (it exited).
    fn next_line(&self, timeout: Duration) -> Result<Option<String>, CliError> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Ok(Some(line)),
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => Err(CliError::Garbler(format!(
                "no output for {} s",
                timeout.as_secs()
            ))),
        }
    }

    /// The address from the `listening on ADDR` line.
    fn address(&self, timeout: Duration) -> Result<String, CliError> {
        let mut last = String::new();
        while let Some(line) = self.next_line(timeout)? {
            if let Some((_, addr)) = line.split_once("listening on ") {
                return Ok(addr.trim().to_owned());
            }
            last = line;
        }
        Err(CliError::Garbler(format!(
            "exited before listening: {last}"
        )))
    }

    /// Reads the rest of the log until the child exits; returns its successful sessions.
    fn finish(mut self, timeout: Duration) -> Result<Vec<SessionLog>, CliError> {
        let mut sessions = Vec::new();
        let mut last = String::new();
        while let Some(line) = self.next_line(timeout)? {
            match SessionLog::parse(&line) {
                Some(log) => sessions.push(log),
                None => last = line,
            }
        }
        let status = self
            .child
            .wait()
            .map_err(|e| CliError::Garbler(e.to_string()))?;
        if !status.success() {
            return Err(CliError::Garbler(format!("{status}: {last}")));
        }
        Ok(sessions)
    }
}

impl Drop for GarblerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the evaluator measured for one image.
struct Sample {
    latency_ms: f64,
    setup_ms: f64,
    online_ms: f64,
    layer_ms: Vec<f64>,
    sent: u64,
    received: u64,
}

/// How `gcnn bench` groups its images into sessions.
#[derive(Clone, Copy, Debug)]
pub enum Grouping {
    /// One whole session (connection, handshake, base OTs) per image, one after another:
    /// what one picture costs.
    Each,
    /// The images split over this many sessions run at once, each classifying its
    /// share one after another over one connection: what a stream of pictures costs.
    Batch(usize),
}

/// Classifies `images` random test images (indices drawn from the OS generator) with the
/// garbler as a child process, grouped into sessions as `grouping` says; progress to
/// `log`.
pub fn run(
    setup: &Setup,
    images: usize,
    grouping: Grouping,
    timeout: Duration,
    gate_scheme: GateScheme,
    log: &mut impl Write,
) -> Result<InferenceBench, CliError> {
    let loaded = setup.load(log)?;
    let len = loaded.test_set.images.len() as u64;
    let indices = (0..images)
        .map(|_| Ok((getrandom::u64()? % len) as usize))
        .collect::<Result<Vec<_>, getrandom::Error>>()?;
    let say = |w: &mut dyn Write, line: String| writeln!(w, "{line}").map_err(CliError::Output);
    say(log, format!("images: {indices:?}"))?;
    // A model that does not take MNIST digits gets random images of its input shape.
    let mnist = loaded.model.input == Pixels::mnist_shape();
    let pictures = indices
        .iter()
        .map(|&index| {
            Ok(if mnist {
                Pixels::from(&loaded.test_set.images[index])
            } else {
                let mut data = vec![0u8; loaded.model.input.len()];
                getrandom::fill(&mut data)?;
                Pixels::new(loaded.model.input, data).expect("the model's input shape")
            })
        })
        .collect::<Result<Vec<_>, getrandom::Error>>()?;
    let lanes = match grouping {
        Grouping::Each => images,
        Grouping::Batch(lanes) => lanes.clamp(1, images),
    };
    say(log, "starting the garbler process …".into())?;
    let garbler = GarblerProcess::spawn(setup, lanes, timeout)?;
    let addr = garbler.address(timeout)?;
    let start = Instant::now();
    let results = match grouping {
        Grouping::Each => each(
            &loaded.pipeline,
            &addr,
            &pictures,
            timeout,
            gate_scheme,
            log,
        )?,
        Grouping::Batch(_) => batch(
            &loaded.pipeline,
            &addr,
            &pictures,
            lanes,
            timeout,
            gate_scheme,
        )?,
    };
    let rate = images as f64 / start.elapsed().as_secs_f64();
    let (mut samples, mut agree, mut correct) = (Vec::with_capacity(images), 0, 0);
    for (k, ((&index, image), (private, sample))) in
        indices.iter().zip(&pictures).zip(results).enumerate()
    {
        let plaintext = loaded.model.predict(image);
        agree += usize::from(private == plaintext);
        correct += usize::from(mnist && private == usize::from(loaded.test_set.labels[index]));
        if matches!(grouping, Grouping::Batch(_)) {
            say(
                log,
                format!(
                    "[{}/{images}] image {index}: private {private}, plaintext {plaintext}",
                    k + 1
                ),
            )?;
        }
        samples.push(sample);
    }
    let sessions = garbler.finish(timeout)?;
    if sessions.len() != lanes {
        return Err(CliError::Garbler(format!(
            "logged {} successful sessions, expected {lanes}",
            sessions.len()
        )));
    }
    // The garbler logs whole sessions: per image, a batch's times divide by its images.
    let per_image = |secs: f64| secs * 1e3 * lanes as f64 / images as f64;
    let layers = loaded.pipeline.layer_costs_for(gate_scheme);
    let and_gates = layers.iter().map(|l| l.and_gates).sum();
    let garbler_half_gates = layers.iter().map(|l| l.garbler_half_gates).sum();
    let mean = |f: fn(&Sample) -> u64| samples.iter().map(f).sum::<u64>() / images as u64;
    Ok(InferenceBench {
        machine: machine(),
        indices,
        agree,
        correct,
        latency_ms_median: median(samples.iter().map(|s| s.latency_ms).collect()),
        latency_ms_max: samples.iter().map(|s| s.latency_ms).fold(0.0, f64::max),
        bytes_to_garbler: mean(|s| s.sent),
        bytes_to_evaluator: mean(|s| s.received),
        gate_scheme,
        flow: setup.flow,
        and_gates,
        garbler_half_gates,
        evaluator_setup_ms: median(samples.iter().map(|s| s.setup_ms).collect()),
        evaluator_online_ms: median(samples.iter().map(|s| s.online_ms).collect()),
        garbler_setup_ms: median(sessions.iter().map(|s| per_image(s.setup_s)).collect()),
        garbler_online_ms: median(sessions.iter().map(|s| per_image(s.online_s)).collect()),
        layer_ms: (0..layers.len())
            .map(|k| median(samples.iter().map(|s| s.layer_ms[k]).collect()))
            .collect(),
        layers,
        garbler_peak_rss_mb: sessions.iter().map(|s| s.peak_rss_mb).fold(0.0, f64::max),
        evaluator_peak_rss_mb: crate::sys::peak_rss_bytes().map_or(0.0, |b| b as f64 / 1e6),
        batch: match grouping {
            Grouping::Each => None,
            Grouping::Batch(_) => Some((lanes, rate)),
        },
    })
}

/// One whole session per picture, one after another: each picture's class and sample.
fn each(
    pipeline: &crate::inference::Pipeline,
    addr: &str,
    pictures: &[Pixels],
    timeout: Duration,
    gate_scheme: GateScheme,
    log: &mut impl Write,
) -> Result<Vec<(usize, Sample)>, CliError> {
    let mut results = Vec::with_capacity(pictures.len());
    for (k, image) in pictures.iter().enumerate() {
        let start = Instant::now();
        let (private, report) =
            connect_and_classify_with(pipeline, addr, image, timeout, gate_scheme)?;
        let latency_ms = start.elapsed().as_secs_f64() * 1e3;
        writeln!(
            log,
            "[{}/{}] private {private}, {latency_ms:.1} ms",
            k + 1,
            pictures.len()
        )
        .map_err(CliError::Output)?;
        results.push((private, Sample::new(latency_ms, &report)));
    }
    Ok(results)
}

/// The pictures split into `lanes` consecutive runs, each one session on its own thread
/// and connection: each picture's class and sample, in order.
fn batch(
    pipeline: &crate::inference::Pipeline,
    addr: &str,
    pictures: &[Pixels],
    lanes: usize,
    timeout: Duration,
    gate_scheme: GateScheme,
) -> Result<Vec<(usize, Sample)>, CliError> {
    let peer = Peer {
        addr,
        waits: Waits {
            connect: timeout,
            io: timeout,
        },
        tls: None,
        gate_scheme,
    };
    let per_lane = pictures.len().div_ceil(lanes);
    thread::scope(|scope| {
        let lanes: Vec<_> = pictures
            .chunks(per_lane)
            .map(|run| {
                scope.spawn(move || {
                    let count = u32::try_from(run.len()).unwrap_or(u32::MAX);
                    let mut session = batch_at(pipeline, peer, count)?;
                    run.iter()
                        .map(|image| {
                            let start = Instant::now();
                            let (private, report) = session.classify(image)?;
                            let latency_ms = start.elapsed().as_secs_f64() * 1e3;
                            Ok((private, Sample::new(latency_ms, &report)))
                        })
                        .collect::<Result<Vec<_>, CliError>>()
                })
            })
            .collect();
        let mut results = Vec::with_capacity(pictures.len());
        for lane in lanes {
            results.extend(lane.join().expect("a bench session thread panicked")?);
        }
        Ok(results)
    })
}

impl Sample {
    fn new(latency_ms: f64, report: &crate::protocol::SessionReport) -> Self {
        Sample {
            latency_ms,
            setup_ms: report.setup.as_secs_f64() * 1e3,
            online_ms: report.online.as_secs_f64() * 1e3,
            layer_ms: report
                .layers
                .iter()
                .map(|(_, t)| t.as_secs_f64() * 1e3)
                .collect(),
            sent: report.bytes_sent,
            received: report.bytes_received,
        }
    }
}

/// The median of a non-empty list (mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn machine() -> String {
    let cpu = crate::sys::cpu_model().unwrap_or_else(|| "unknown CPU".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} logical cores")
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
