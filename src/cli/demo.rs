//! `gcnn demo`: both roles in one process over loopback TCP, on a few bundled digits.
//!
//! The garbler (model owner) serves from a background thread; this thread is the
//! evaluator and learns only each predicted class. The plaintext prediction printed next
//! to it comes from the model directly, to show the two agree.

use std::fmt;
use std::io::Write;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use super::evaluator::connect_and_classify;
use super::infer::{self, ImageSource};
use super::{CliError, Setup, check_count, human_bytes};
use crate::channel::TcpChannel;
use crate::inference::ModelOwner;
use crate::net::{accept_within, bind};
use crate::protocol::ProtocolError;

/// One classified digit.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoRow {
    /// The picture file, or the position in the MNIST test set.
    pub image: String,
    /// The true digit, for test-set images.
    pub label: Option<u8>,
    /// What the private inference decoded.
    pub private: usize,
    /// What the model predicts in the clear.
    pub plaintext: usize,
    /// Bytes the evaluator sent.
    pub bytes_sent: u64,
    /// Bytes the evaluator received.
    pub bytes_received: u64,
    /// Wall time of the private inference, connection included.
    pub seconds: f64,
}

impl DemoRow {
    /// Column titles matching [`DemoRow`]'s display.
    pub const HEADER: &str = "image                 label  private  plaintext   evaluator->garbler  garbler->evaluator      time";
}

impl fmt::Display for DemoRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self
            .label
            .map_or_else(|| "-".to_string(), |l| l.to_string());
        write!(
            f,
            "{:<20}  {:>5}  {:>7}  {:>9}  {:>18}  {:>18}  {:>6.3} s",
            self.image,
            label,
            self.private,
            self.plaintext,
            human_bytes(self.bytes_sent),
            human_bytes(self.bytes_received),
            self.seconds
        )
    }
}

/// Which digits the demo classifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DemoImages {
    /// The first N of the test set.
    First(usize),
    /// The user's own pictures.
    Files(Vec<std::path::PathBuf>),
}

/// Classifies the digits privately, writing a header and one [`DemoRow`] per digit to
/// `out` and progress (and the preprocessing's warnings, or with `verbose` the images
/// the model sees) to `log`; returns the rows.
pub fn run(
    setup: &Setup,
    images: &DemoImages,
    verbose: bool,
    timeout: Duration,
    log: &mut impl Write,
    out: &mut impl Write,
) -> Result<Vec<DemoRow>, CliError> {
    let loaded = setup.load(log)?;
    let sources: Vec<ImageSource> = match images {
        DemoImages::First(n) => {
            check_count(*n, loaded.test_set.images.len())?;
            (0..*n).map(ImageSource::Mnist).collect()
        }
        DemoImages::Files(files) => files.iter().cloned().map(ImageSource::File).collect(),
    };
    infer::check_shape(loaded.model.input)?;
    let inputs = infer::load(&sources, setup.mnist.as_deref())?;
    let owner = ModelOwner::new(&loaded.model)?;
    let listener = bind("127.0.0.1:0")?;
    let addr = listener.local_addr().map_err(CliError::Accept)?.to_string();
    let say = |w: &mut dyn Write, line: String| writeln!(w, "{line}").map_err(CliError::Output);
    say(log, format!("garbler (model owner) listening on {addr}"))?;
    say(out, DemoRow::HEADER.to_owned())?;
    let count = inputs.len();
    let mut rows = Vec::with_capacity(count);
    let evaluated = thread::scope(|s| {
        let garbler = s.spawn(|| serve(&owner, &listener, count, timeout));
        let evaluated = inputs.iter().enumerate().try_for_each(|(k, input)| {
            input.describe(loaded.model.input_bits, verbose, log)?;
            say(
                log,
                format!(
                    "[{}/{count}] classifying {} privately …",
                    k + 1,
                    input.name()
                ),
            )?;
            let start = Instant::now();
            let (private, report) =
                connect_and_classify(&loaded.pipeline, &addr, &input.image, timeout)?;
            let row = DemoRow {
                image: match &input.source {
                    ImageSource::Mnist(index) => index.to_string(),
                    ImageSource::File(_) => input.name(),
                },
                label: input.label,
                private,
                plaintext: loaded.model.predict(&input.image),
                bytes_sent: report.bytes_sent,
                bytes_received: report.bytes_received,
                seconds: start.elapsed().as_secs_f64(),
            };
            say(out, row.to_string())?;
            rows.push(row);
            Ok(())
        });
        let served = garbler.join().expect("the garbler thread does not panic");
        evaluated.and(served)
    });
    evaluated?;
    say(out, summary(&rows))?;
    Ok(rows)
}

/// `gcnn demo --web`: a garbler with the setup's model on a background thread, and the
/// page's server (see [`super::web`]) on `listen` as its evaluator. Runs until killed.
pub fn web(
    setup: &Setup,
    listen: &str,
    keep: Option<std::path::PathBuf>,
    timeout: Duration,
    log: &mut (impl Write + Send),
) -> Result<(), CliError> {
    let loaded = setup.load(log)?;
    let owner = ModelOwner::new(&loaded.model)?;
    let listener = bind("127.0.0.1:0")?;
    let garbler = listener.local_addr().map_err(CliError::Accept)?.to_string();
    writeln!(log, "garbler (model owner) listening on {garbler}").map_err(CliError::Output)?;
    let client = super::web::WebClient {
        pipeline: loaded.pipeline,
        garbler,
        timeout,
        keep,
        tls: None,
    };
    let limits = super::garbler::Limits {
        handshake: timeout,
        io: timeout,
        min_rate: 0,
        session: timeout * 10,
        per_peer: std::num::NonZeroUsize::new(8).expect("8 > 0"),
    };
    let workers = std::num::NonZeroUsize::new(4).expect("4 > 0");
    // Detached: it serves until the process ends, and must not keep a failed page alive.
    thread::spawn(move || {
        use super::garbler::{Level, Log, Server};
        let log = Log::new(std::io::sink(), Level::Error, false);
        let never = std::sync::atomic::AtomicBool::new(false);
        Server::new(&owner, limits, workers, None, &log, &never).serve(&listener)
    });
    super::web::serve(client, listen, log)
}

/// The garbler's side: `sessions` sessions, each client awaited at most `timeout`.
fn serve(
    owner: &ModelOwner,
    listener: &TcpListener,
    sessions: usize,
    timeout: Duration,
) -> Result<(), CliError> {
    for _ in 0..sessions {
        let stream = accept_within(listener, timeout)?;
        let channel = TcpChannel::new(stream, timeout).map_err(ProtocolError::from)?;
        owner.serve(channel)?;
    }
    Ok(())
}

fn summary(rows: &[DemoRow]) -> String {
    let n = rows.len();
    let agree = rows.iter().filter(|r| r.private == r.plaintext).count();
    let labelled = rows.iter().filter(|r| r.label.is_some()).count();
    let correct = rows
        .iter()
        .filter(|r| r.label.map(usize::from) == Some(r.private))
        .count();
    let mb = rows
        .iter()
        .map(|r| (r.bytes_sent + r.bytes_received) as f64 / 1e6)
        .sum::<f64>()
        / n as f64;
    let secs = rows.iter().map(|r| r.seconds).sum::<f64>() / n as f64;
    format!(
        "{agree}/{n} private predictions equal the plaintext model's{}; {mb:.1} MB and \
         {secs:.3} s per inference on average",
        if labelled > 0 {
            format!(", {correct}/{labelled} equal the true label")
        } else {
            String::new()
        }
    )
}
