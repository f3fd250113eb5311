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
use super::{CliError, Setup, human_bytes};
use crate::channel::TcpChannel;
use crate::inference::ModelOwner;
use crate::net::{accept_within, bind};
use crate::protocol::ProtocolError;

/// One classified digit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DemoRow {
    /// Position in the MNIST test set.
    pub index: usize,
    /// The true digit.
    pub label: u8,
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
    pub const HEADER: &str =
        "image  label  private  plaintext   evaluator->garbler  garbler->evaluator      time";
}

impl fmt::Display for DemoRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>5}  {:>5}  {:>7}  {:>9}  {:>18}  {:>18}  {:>6.3} s",
            self.index,
            self.label,
            self.private,
            self.plaintext,
            human_bytes(self.bytes_sent),
            human_bytes(self.bytes_received),
            self.seconds
        )
    }
}

/// Classifies the first `images` test digits privately, writing a header and one
/// [`DemoRow`] per digit to `out` and progress to `log`; returns the rows.
pub fn run(
    setup: &Setup,
    images: usize,
    timeout: Duration,
    log: &mut impl Write,
    out: &mut impl Write,
) -> Result<Vec<DemoRow>, CliError> {
    let loaded = setup.load(images, log)?;
    loaded
        .model
        .check_input(crate::model::Pixels::mnist_shape())?;
    let owner = ModelOwner::new(&loaded.model)?;
    let listener = bind("127.0.0.1:0")?;
    let addr = listener.local_addr().map_err(CliError::Accept)?.to_string();
    let say = |w: &mut dyn Write, line: String| writeln!(w, "{line}").map_err(CliError::Output);
    say(log, format!("garbler (model owner) listening on {addr}"))?;
    say(out, DemoRow::HEADER.to_owned())?;
    let mut rows = Vec::with_capacity(images);
    let evaluated = thread::scope(|s| {
        let garbler = s.spawn(|| serve(&owner, &listener, images, timeout));
        let evaluated = (0..images).try_for_each(|index| {
            say(
                log,
                format!(
                    "[{}/{images}] classifying test image {index} privately …",
                    index + 1
                ),
            )?;
            let image = &loaded.test_set.images[index];
            let start = Instant::now();
            let (private, report) = connect_and_classify(&loaded.pipeline, &addr, image, timeout)?;
            let row = DemoRow {
                index,
                label: loaded.test_set.labels[index],
                private,
                plaintext: loaded.model.predict(image),
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
    let correct = rows
        .iter()
        .filter(|r| r.private == usize::from(r.label))
        .count();
    let mb = rows
        .iter()
        .map(|r| (r.bytes_sent + r.bytes_received) as f64 / 1e6)
        .sum::<f64>()
        / n as f64;
    let secs = rows.iter().map(|r| r.seconds).sum::<f64>() / n as f64;
    format!(
        "{agree}/{n} private predictions equal the plaintext model's, {correct}/{n} equal the \
         true label; {mb:.1} MB and {secs:.3} s per inference on average"
    )
}
