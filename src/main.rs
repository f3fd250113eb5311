//! The `gcnn` command line: parses arguments and calls into the library.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Parser, Subcommand};
use gcnn::circuit::Owner;
use gcnn::circuit::file::{self, FileFormat};
use gcnn::circuit::stats::Stats;
use gcnn::cli::{accuracy, demo, evaluator, infer};
use gcnn::garble::GateScheme;
use gcnn::inference::{Flow, Pipeline};
use gcnn::model::ModelSource;
use gcnn::twopc::{self, Mode};

/// Private MNIST inference with garbled circuits.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert a circuit between Bristol Fashion and the gcnn binary format.
    ///
    /// The input format is detected from its first bytes; the output is Bristol Fashion
    /// if OUT ends in .txt or .bristol, the binary format otherwise.
    Convert {
        /// Circuit to read.
        input: PathBuf,
        /// File to write.
        output: PathBuf,
        /// Owner of each input group of a Bristol input, e.g. `g,e` (g = garbler,
        /// e = evaluator). Default: one group → e; otherwise g for group 0, e for the rest.
        #[arg(long, value_delimiter = ',')]
        owners: Option<Vec<Owner>>,
    },
    /// Print gate counts, depths and garbled size of a circuit (either format), and the
    /// label slots its garbling program needs; for a mixed circuit file (`gcnn compile`),
    /// what each layer costs in a session: OTs, correction bytes, share bits, ANDs,
    /// garbler half gates, table bytes, online and total bytes each way, round trips.
    Inspect {
        /// Circuit to read.
        file: PathBuf,
        /// Owner of each input group of a Bristol input (see `convert`).
        #[arg(long, value_delimiter = ',')]
        owners: Option<Vec<Owner>>,
    },
    /// Run a circuit (either format) as a two-party computation and print its outputs.
    ///
    /// Input groups are unsigned integers supplied by their owners; the evaluator learns
    /// the output groups and prints them as decimal integers on one line of stdout, the
    /// garbler learns nothing. A cost summary goes to stderr.
    ///
    /// By default both parties run here, on two threads over loopback TCP. With --listen
    /// this process is only the garbler and with --connect only the evaluator; both still
    /// list one value per group and pass _ for each group the other party owns, e.g.
    /// `gcnn bristol aes_128.txt --listen 127.0.0.1:7000 --inputs 0x2b7e… _` and
    /// `gcnn bristol aes_128.txt --connect 127.0.0.1:7000 --inputs _ 0x6bc1…`.
    Bristol {
        /// Circuit to run (Bristol Fashion or binary).
        file: PathBuf,
        /// One value per input group, in group order: decimal or 0x-hex, fitting the
        /// group's width; _ for a group the other process supplies.
        #[arg(long, num_args = 0.., value_name = "V")]
        inputs: Vec<String>,
        /// Owner of each input group, e.g. `g,e` (g = garbler, e = evaluator). Default:
        /// a binary file's stored owners; for Bristol, one group → e, otherwise g for
        /// group 0 and e for the rest.
        #[arg(long, value_delimiter = ',')]
        owners: Option<Vec<Owner>>,
        /// Be only the garbler and wait for the evaluator at ADDR (port 0 picks a free
        /// port; the address is printed on stderr). Prints nothing on stdout.
        #[arg(long, value_name = "ADDR", conflicts_with = "connect")]
        listen: Option<String>,
        /// Be only the evaluator and connect to the garbler at ADDR, retrying while it
        /// is not yet listening.
        #[arg(long, value_name = "ADDR")]
        connect: Option<String>,
        /// Seconds allowed for every network read and write and for the peer to connect.
        #[arg(long, value_name = "SECS", default_value_t = 30,
              value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
    },
    /// Compile the model's architecture (reads only model.json) to the mixed circuit file
    /// that `gcnn garbler --circuit` and `gcnn evaluator --circuit` run: per weighted
    /// layer its public linear structure and its stage circuit, no weight. With --pure,
    /// the whole network as one garbled circuit instead, for inspection, export and
    /// `gcnn bristol`.
    Compile {
        /// Model directory, or its model.json [default: the LeNet built into this
        /// executable].
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
        /// File to write [default: circuits/lenet.mixed, with --pure circuits/lenet.circ].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the pure whole-network circuit (binary, or Bristol Fashion for .txt).
        #[arg(long)]
        pure: bool,
        /// What one-bit layers become (see `gcnn evaluator --flow`).
        #[arg(
            long,
            value_name = "FLOW",
            default_value = "fewest-bytes",
            conflicts_with = "pure"
        )]
        flow: Flow,
    },
    /// Serve private inference as the model owner (the garbler).
    ///
    /// Logs one line per session on stderr (timestamp, level, session id, peer, outcome,
    /// time, bytes); never a label, key or weight.
    Garbler(gcnn::cli::garbler::Options),
    /// Classify pictures privately as the client (the evaluator); needs only the public
    /// architecture (model.json), never the weights.
    ///
    /// Each picture goes through the MNIST-style preprocessing (see `gcnn preprocess`)
    /// and one private session; prints one line per picture on stdout: the class only.
    ///
    /// With --stdin, the pictures are named on standard input as they come, and each
    /// session is prepared before its picture arrives.
    #[command(group(ArgGroup::new("source").required(true).multiple(true)
        .args(["images", "image", "mnist_index", "mnist_range", "stdin"])))]
    Evaluator {
        /// Address of the garbler, e.g. 203.0.113.5:7000.
        #[arg(long)]
        connect: String,
        #[command(flatten)]
        images: ImageArgs,
        /// Model directory, or its model.json: only model.json (the public architecture)
        /// is read and compiled here, when no --circuit is given [default: the LeNet built
        /// into this executable].
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
        /// The mixed circuit file to run (`gcnn compile`), all the client needs; its hash
        /// must equal one the garbler serves.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["model", "flow"])]
        circuit: Option<PathBuf>,
        /// What the model's one-bit layers become, asked of the garbler (which serves
        /// both): fewest-bytes (table lookups; one more round trip after conv1 of the
        /// LeNet) or fewest-round-trips (garbled circuits, 0.88 MB more online for the
        /// LeNet: for links whose round trip outlasts sending that, e.g. 100 ms at
        /// 1 Gbit/s).
        #[arg(long, value_name = "FLOW", default_value = "fewest-bytes")]
        flow: Flow,
        /// Seconds allowed for every network read and write.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
        /// Talk TLS and trust the CA certificates in this PEM file; the garbler's
        /// certificate must chain to one of them and name the --connect host.
        #[arg(long, value_name = "PEM")]
        tls_ca: Option<PathBuf>,
        /// Seconds to keep retrying while the garbler refuses the connection (it may
        /// still be starting).
        #[arg(long, value_name = "SECS", default_value_t = 3,
              value_parser = clap::value_parser!(u64).range(1..=86_400))]
        connect_timeout: u64,
        /// Classify the pictures named on standard input, one path per line, as they
        /// come: sessions are prepared (their offline phase run) ahead of the lines, so
        /// only the online phase stands between a picture and its class.
        #[arg(long, conflicts_with_all = ["images", "image", "mnist_index", "mnist_range"])]
        stdin: bool,
        /// With --stdin, how many sessions to keep prepared: a burst of this many
        /// pictures meets only the online phase (each holds one of the garbler's
        /// workers while it waits).
        #[arg(long, value_name = "N", default_value_t = 1, requires = "stdin",
              value_parser = clap::value_parser!(u64).range(1..=8))]
        pool: u64,
        /// How the garbled circuits' ANDs are garbled, offered to the garbler (which
        /// runs either): three-halves (Rosulek–Roy 2021, 25 bytes per AND) or half-gates
        /// (32 bytes per AND, a little less CPU: for loopback or a LAN).
        #[arg(long, value_name = "SCHEME", default_value = "three-halves")]
        gate_scheme: GateScheme,
    },
    /// Classify digits privately, both roles in this process over loopback TCP.
    ///
    /// Starts the garbler (model owner) on a background thread and, as the evaluator,
    /// prints for each digit the private prediction next to the plaintext model's, bytes
    /// each way and time: your own pictures with --image, else the first test digits.
    Demo {
        /// How many test digits to classify (the first N of the test set).
        #[arg(long, value_name = "N", default_value_t = 5, conflicts_with = "image",
              value_parser = clap::value_parser!(u64).range(1..=10_000))]
        images: u64,
        /// Your own picture of a digit (repeatable): any PNG, JPEG, BMP, WebP, TIFF, GIF
        /// or 2-D uint8 .npy.
        #[arg(long, value_name = "FILE")]
        image: Vec<PathBuf>,
        /// Show on stderr what the preprocessing did and the image the model sees.
        #[arg(long, short)]
        verbose: bool,
        /// Instead, serve a page to draw on (see `gcnn client --web`), with the
        /// garbler on a background thread.
        #[arg(long, conflicts_with_all = ["image", "verbose"])]
        web: bool,
        #[command(flatten)]
        page: PageArgs,
        #[command(flatten)]
        setup: SetupArgs,
    },
    /// Serve a page to draw a digit on, and classify it privately with the garbler at
    /// --connect: this process is the evaluator, so the drawing stays on this machine.
    Client {
        /// Serve the page (the only kind of client besides `gcnn evaluator`).
        #[arg(long, required = true)]
        web: bool,
        /// Address of the garbler.
        #[arg(long)]
        connect: String,
        #[command(flatten)]
        page: PageArgs,
        /// Model directory, or its model.json: only model.json (the public architecture)
        /// is read [default: the LeNet built into this executable].
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
        /// Seconds allowed for every network read and write.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
        /// Talk TLS and trust the certificates in this PEM file (a CA's, or the garbler's
        /// own self-signed one); the garbler's certificate must name the --connect host.
        #[arg(long, value_name = "PEM")]
        tls_ca: Option<PathBuf>,
    },
    /// Measure private inference (or, with `gates`, gate and OT throughput).
    ///
    /// Classifies N random test images (indices from the OS generator) with the garbler
    /// as a separate child process and this process as the evaluator, then reports
    /// latency, bytes each way, gate counts, the time split of each role, each role's
    /// peak memory and agreement with the plaintext model.
    #[command(args_conflicts_with_subcommands = true)]
    Bench {
        #[command(subcommand)]
        what: Option<BenchCommand>,
        /// How many private inferences to run.
        #[arg(long, value_name = "N", default_value_t = 20,
              value_parser = clap::value_parser!(u64).range(1..=10_000))]
        images: u64,
        /// Classify the images as a stream instead: split over --lanes sessions run at
        /// once, each taking its share one after another over one connection (one
        /// handshake, one set of base OTs); reports inferences per second.
        #[arg(long)]
        batch: bool,
        /// With --batch, how many sessions run at once.
        #[arg(long, value_name = "N", default_value_t = 2, requires = "batch",
              value_parser = clap::value_parser!(u64).range(1..=64))]
        lanes: u64,
        /// Print only one JSON object on stdout instead of the text report.
        #[arg(long)]
        json: bool,
        /// The gate scheme the evaluator offers (see `gcnn evaluator --gate-scheme`).
        #[arg(long, value_name = "SCHEME", default_value = "three-halves")]
        gate_scheme: GateScheme,
        #[command(flatten)]
        setup: SetupArgs,
    },
    /// Accuracy of the integer reference model on the MNIST test set.
    Accuracy {
        /// Model directory, or its model.json [default: the LeNet built into this
        /// executable].
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
        /// Directory with t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)
        /// [default: the test set built into this executable].
        #[arg(long, value_name = "DIR")]
        mnist: Option<PathBuf>,
        /// Evaluate only the first N test images.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Print one JSON object per image (index, label, prediction, logits), then one
        /// with the accuracy, instead of the text line.
        #[arg(long)]
        json: bool,
    },
    /// Classify pictures with the plaintext integer reference (no cryptography: for
    /// checking a model and what the private inference should answer).
    #[command(group(ArgGroup::new("source").required(true).multiple(true)
        .args(["images", "image", "mnist_index", "mnist_range"])))]
    Infer {
        /// Accepted for compatibility: plaintext is what `infer` does.
        #[arg(long, hide = true)]
        plain: bool,
        #[command(flatten)]
        images: ImageArgs,
        /// Model directory, or its model.json [default: the LeNet built into this
        /// executable].
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
    },
    /// Write a model with the architecture of DIR/model.json and uniformly random weights
    /// and biases (deterministic by seed), in format version 2: networks for cost
    /// measurements, whose costs depend only on the architecture.
    RandomModel {
        /// Model directory whose model.json gives the architecture (no tensor is read).
        #[arg(long)]
        model: PathBuf,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Directory to write (model.json and one .npy per tensor).
        #[arg(long)]
        out: PathBuf,
    },
    /// Show what the model sees of a picture: the MNIST-style 28x28 image, printed at the
    /// model's input bit width, optionally written as a PNG.
    ///
    /// The recipe (also used by `infer`, `evaluator` and `demo`): grayscale (alpha over
    /// the background); dark-on-light pictures inverted so the ink is bright; ink
    /// stretched to the full range; cropped to the ink; scaled to fit 20x20 keeping the
    /// aspect ratio (Lanczos filter); placed so its centre of mass is at the centre of
    /// 28x28. A picture that already is an MNIST-style 28x28 digit is used unchanged.
    Preprocess {
        /// The picture: PNG, JPEG, BMP, WebP, TIFF, GIF or a 2-D uint8 .npy.
        image: PathBuf,
        /// Write the 28x28 result here as a PNG.
        #[arg(long, value_name = "FILE.png")]
        out: Option<PathBuf>,
        /// Model whose input width to show, directory or model.json [default: the
        /// LeNet built into this executable].
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
    },
    /// Import an ONNX model (from Keras via tf2onnx, or torch.onnx.export): quantize it to
    /// integers and write a model directory; prints float and integer accuracy on the
    /// test set and the bytes of one private inference.
    ///
    /// The ONNX model must take raw 0-255 pixels (put any scaling, e.g. Keras' Rescaling
    /// or `x / 255`, inside the model) and be a sequential CNN: Conv/Gemm/MatMul layers,
    /// each but the last followed by Relu, with max or average pooling between them.
    Import {
        /// The ONNX file.
        model: PathBuf,
        /// Model directory to write.
        #[arg(long)]
        out: PathBuf,
        /// Directory with the MNIST training set (train-images/labels-idx*-ubyte(.gz)) for
        /// calibration. Default: the test set (biased; say so).
        #[arg(long, value_name = "DIR")]
        calibrate: Option<PathBuf>,
        /// How many calibration images (the first ones).
        #[arg(long, value_name = "N", default_value_t = 2000,
              value_parser = clap::value_parser!(u64).range(1..=60_000))]
        calibration_images: u64,
        /// Bit widths `B0/W1e/A1/…/Wne`: input bits, then per weighted layer its weight
        /// bits with encoding o (odd) or t (two's complement) and, but for the last, its
        /// output bits; `B0/We/A` sets every layer alike.
        #[arg(long, value_name = "SPEC")]
        bits: Option<String>,
        /// One public width for every bias (default: per layer, the widest that does not
        /// widen its accumulator; computed from the architecture, never from the weights).
        #[arg(long, value_name = "BITS", value_parser = clap::value_parser!(u32).range(2..=24))]
        bias_bits: Option<u32>,
        /// Directory with the MNIST test set, for the accuracies.
        #[arg(long, default_value = "models/mnist")]
        mnist: PathBuf,
    },
}

/// Where the page of `client --web` and `demo --web` is served.
#[derive(clap::Args)]
struct PageArgs {
    /// Address of the page's HTTP server (port 0 picks a free port; the address is
    /// printed on stderr). Keep it on loopback: the page is for this machine's user.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Write each 28x28 image the model saw to DIR as input-N.png, and log its path.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

/// The images a classifying command takes, and how it prints its results.
#[derive(clap::Args)]
struct ImageArgs {
    /// Pictures of digits: PNG, JPEG, BMP, WebP, TIFF, GIF or a 2-D uint8 .npy, any
    /// size, dark on light or light on dark.
    #[arg(value_name = "IMAGE")]
    images: Vec<PathBuf>,
    /// A picture, as a flag (repeatable; same as a positional IMAGE).
    #[arg(long, value_name = "FILE")]
    image: Vec<PathBuf>,
    /// Image N of the MNIST test set (repeatable).
    #[arg(long, value_name = "N")]
    mnist_index: Vec<usize>,
    /// Images START to END − 1 of the MNIST test set, e.g. 0..100 (after any
    /// --mnist-index).
    #[arg(long, value_name = "START..END", value_parser = index_range)]
    mnist_range: Option<std::ops::Range<usize>>,
    /// Directory with the MNIST test set, for --mnist-index [default: the test set
    /// built into this executable].
    #[arg(long, value_name = "DIR")]
    mnist: Option<PathBuf>,
    /// Print one JSON object per image on stdout instead of a text line.
    #[arg(long)]
    json: bool,
    /// Show on stderr what the preprocessing did and the image the model sees.
    #[arg(long, short)]
    verbose: bool,
}

impl ImageArgs {
    fn sources(&self) -> Vec<infer::ImageSource> {
        self.images
            .iter()
            .chain(&self.image)
            .cloned()
            .map(infer::ImageSource::File)
            .chain(
                self.mnist_index
                    .iter()
                    .copied()
                    .chain(self.mnist_range.clone().unwrap_or_default())
                    .map(infer::ImageSource::Mnist),
            )
            .collect()
    }

    fn show(&self) -> infer::Show {
        infer::Show {
            json: self.json,
            verbose: self.verbose,
        }
    }
}

/// Parses `START..END`, a non-empty range of test-set indices.
fn index_range(text: &str) -> Result<std::ops::Range<usize>, String> {
    let (start, end) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?} is not START..END, e.g. 0..100"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|e| format!("{s:?} in {text:?}: {e}"))
    };
    let range = number(start)?..number(end)?;
    if range.is_empty() {
        return Err(format!("{text:?} is empty: END must exceed START"));
    }
    Ok(range)
}

/// Model and test set for `demo` and `bench`.
#[derive(clap::Args)]
struct SetupArgs {
    /// Model directory, or its model.json [default: the LeNet built into this
    /// executable].
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Directory with the MNIST test set [default: the test set built into this
    /// executable].
    #[arg(long, value_name = "DIR")]
    mnist: Option<PathBuf>,
    /// Seconds allowed for every network read and write and for connecting.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// The flow the evaluator asks for (see `gcnn evaluator --flow`).
    #[arg(long, value_name = "FLOW", default_value = "fewest-bytes")]
    flow: Flow,
}

impl SetupArgs {
    fn split(self) -> (gcnn::cli::Setup, Duration) {
        let setup = gcnn::cli::Setup {
            model: ModelSource::from_arg(self.model.as_deref()),
            mnist: self.mnist,
            flow: self.flow,
        };
        (setup, Duration::from_secs(self.timeout))
    }
}

/// Default output of `gcnn compile`.
const CIRCUIT: &str = "circuits/lenet.mixed";
/// Default output of `gcnn compile --pure`.
const PURE_CIRCUIT: &str = "circuits/lenet.circ";

#[derive(Subcommand)]
enum BenchCommand {
    /// Gate and OT throughput, bytes per gate, session set-up.
    Gates {
        /// AND gates per measured program.
        #[arg(long, default_value_t = 4_000_000)]
        ands: u64,
        /// Model whose stage circuits are garbled too, directory or model.json (only
        /// model.json is read) [default: the LeNet built into this executable].
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
    },
}

fn name(f: FileFormat) -> &'static str {
    match f {
        FileFormat::Binary => "binary",
        FileFormat::Bristol => "Bristol Fashion",
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match cli.command {
        Command::Convert {
            input,
            output,
            owners,
        } => {
            let (circuit, from) = file::load(&input, owners.as_deref())?;
            let to = file::save(&circuit, &output)?;
            writeln!(
                out,
                "{} ({}) -> {} ({}), {} gates, hash {}",
                input.display(),
                name(from),
                output.display(),
                name(to),
                circuit.gates().len(),
                hex(&circuit.content_hash())
            )?;
        }
        Command::Inspect { file, owners } => {
            if owners.is_none() && gcnn::cli::compile::is_mixed(&file) {
                let pipeline = gcnn::inference::Pipeline::load_circuit(&file)?;
                writeln!(out, "{} (mixed circuit)", file.display())?;
                write!(out, "{}", gcnn::cli::compile::Costs(&pipeline))?;
                out.flush()?;
                return Ok(());
            }
            let (circuit, from) = file::load(&file, owners.as_deref())?;
            writeln!(out, "{} ({})", file.display(), name(from))?;
            writeln!(out, "content hash: {}", hex(&circuit.content_hash()))?;
            write!(out, "{}", Stats::of(&circuit))?;
            let program = gcnn::garble::Program::of(&circuit);
            writeln!(
                out,
                "label slots after liveness: {} ({:.1} MB of 16-byte labels per party)",
                program.num_slots(),
                program.num_slots() as f64 * 16.0 / 1e6
            )?;
        }
        Command::Bristol {
            file,
            inputs,
            owners,
            listen,
            connect,
            timeout,
        } => {
            let circuit = twopc::load(&file, owners.as_deref())?;
            let mode = match (listen, connect) {
                (Some(addr), _) => Mode::Listen(addr),
                (None, Some(addr)) => Mode::Connect(addr),
                (None, None) => Mode::Local,
            };
            let outcome = twopc::run(
                &circuit,
                &inputs,
                &mode,
                Duration::from_secs(timeout),
                |addr| eprintln!("listening on {addr}"),
            )?;
            if let Some(line) = outcome.outputs_line() {
                writeln!(out, "{line}")?;
            }
            eprintln!("{}", outcome.summary);
        }
        Command::Bench {
            what: None,
            images,
            batch,
            lanes,
            json,
            gate_scheme,
            setup,
        } => {
            let (setup, timeout) = setup.split();
            let images = usize::try_from(images)?;
            let grouping = if batch {
                gcnn::cli::bench::Grouping::Batch(usize::try_from(lanes)?)
            } else {
                gcnn::cli::bench::Grouping::Each
            };
            let result = gcnn::cli::bench::run(
                &setup,
                images,
                grouping,
                timeout,
                gate_scheme,
                &mut io::stderr(),
            )?;
            if json {
                writeln!(out, "{}", result.to_json())?;
            } else {
                write!(out, "{result}")?;
            }
        }
        Command::Bench {
            what: Some(BenchCommand::Gates { ands, model }),
            ..
        } => {
            eprintln!("measuring (a few seconds)…");
            let model = ModelSource::from_arg(model.as_deref());
            writeln!(out, "{}", gcnn::bench::gates(ands, &model)?)?;
        }
        Command::Demo {
            web: true,
            page,
            setup,
            ..
        } => {
            let (setup, timeout) = setup.split();
            demo::web(&setup, &page.listen, page.keep, timeout, &mut io::stderr())?;
        }
        Command::Client {
            web: _,
            connect,
            page,
            model,
            timeout,
            tls_ca,
        } => {
            let tls = tls_ca
                .map(|ca| gcnn::tls::ClientTls::load(&ca, gcnn::tls::host_of(&connect)))
                .transpose()?;
            let client = gcnn::cli::web::WebClient {
                pipeline: Pipeline::load_from(&ModelSource::from_arg(model.as_deref()))?,
                garbler: connect,
                timeout: Duration::from_secs(timeout),
                keep: page.keep,
                tls,
            };
            gcnn::cli::web::serve(client, &page.listen, &mut io::stderr())?;
        }
        Command::Demo {
            images,
            image,
            verbose,
            setup,
            ..
        } => {
            let (setup, timeout) = setup.split();
            let images = if image.is_empty() {
                demo::DemoImages::First(usize::try_from(images)?)
            } else {
                demo::DemoImages::Files(image)
            };
            demo::run(
                &setup,
                &images,
                verbose,
                timeout,
                &mut io::stderr(),
                &mut out,
            )?;
        }
        Command::Compile {
            model,
            out: file,
            pure,
            flow,
        } => {
            let model = ModelSource::from_arg(model.as_deref());
            let file =
                file.unwrap_or_else(|| PathBuf::from(if pure { PURE_CIRCUIT } else { CIRCUIT }));
            if pure {
                gcnn::cli::compile::run_pure(&model, &file, &mut io::stderr())?;
            } else {
                gcnn::cli::compile::run(&model, flow, &file, &mut io::stderr())?;
            }
            writeln!(out, "wrote {}", file.display())?;
        }
        Command::Garbler(options) => {
            let failed = gcnn::cli::garbler::run(&options)?;
            if failed > 0 {
                anyhow::bail!("{failed} session(s) failed");
            }
        }
        Command::Evaluator {
            connect,
            images,
            model,
            circuit,
            timeout,
            connect_timeout,
            tls_ca,
            stdin,
            pool,
            gate_scheme,
            flow,
        } => {
            // The pictures are checked before anything else, so a bad one fails fast.
            let inputs = infer::load(&images.sources(), images.mnist.as_deref())?;
            let pipeline = match circuit {
                Some(path) => gcnn::cli::Public::Circuit(path),
                None => gcnn::cli::Public::Model(ModelSource::from_arg(model.as_deref()), flow),
            }
            .pipeline()?;
            let waits = evaluator::Waits {
                connect: Duration::from_secs(connect_timeout),
                io: Duration::from_secs(timeout),
            };
            let tls = tls_ca
                .map(|ca| gcnn::tls::ClientTls::load(&ca, gcnn::tls::host_of(&connect)))
                .transpose()?;
            let peer = evaluator::Peer {
                addr: &connect,
                waits,
                tls: tls.as_ref(),
                gate_scheme,
            };
            let mut stdin_lines = io::stdin().lock();
            let pictures = if stdin {
                evaluator::Pictures::Lines(&mut stdin_lines, usize::try_from(pool)?)
            } else {
                evaluator::Pictures::Given(&inputs)
            };
            evaluator::run(
                &pipeline,
                peer,
                pictures,
                images.show(),
                &mut out,
                &mut io::stderr(),
            )?;
        }
        Command::Accuracy {
            model,
            mnist,
            limit,
            json,
        } => {
            let model = ModelSource::from_arg(model.as_deref());
            let per_image: Option<&mut dyn Write> = if json { Some(&mut out) } else { None };
            let result = accuracy::run(
                &model,
                mnist.as_deref(),
                limit,
                per_image,
                &mut io::stderr(),
            )?;
            if json {
                writeln!(out, "{}", result.to_json())?;
            } else {
                writeln!(out, "{result}")?;
            }
        }
        Command::Infer {
            plain: _,
            images,
            model,
        } => {
            infer::run(
                &ModelSource::from_arg(model.as_deref()),
                &images.sources(),
                images.mnist.as_deref(),
                images.show(),
                &mut out,
                &mut io::stderr(),
            )?;
        }
        Command::RandomModel {
            model,
            seed,
            out: dir,
        } => {
            gcnn::model::Model::load_architecture(&model)?
                .with_random_values(seed)
                .save(&dir)?;
            writeln!(out, "wrote {}", dir.display())?;
        }
        Command::Preprocess {
            image,
            out: png,
            model,
        } => {
            gcnn::cli::preprocess::run(
                &image,
                png.as_deref(),
                &ModelSource::from_arg(model.as_deref()),
                &mut out,
                &mut io::stderr(),
            )?;
        }
        Command::Import {
            model,
            out,
            calibrate,
            calibration_images,
            bits,
            bias_bits,
            mnist,
        } => {
            let request = gcnn::cli::import::Request {
                onnx: model,
                out,
                calibrate,
                calibration_images: usize::try_from(calibration_images)?,
                mnist,
                bits,
                bias_bits,
            };
            let report = gcnn::cli::import::run(&request, &mut io::stderr())?;
            print!("{report}");
        }
    }
    out.flush()?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses the command line; on an error clap prints its whole message (which argument,
/// the usage, a "did you mean" tip) and exits with status 2.
fn parse() -> Cli {
    Cli::try_parse().unwrap_or_else(|e| e.exit())
}

/// Whether `e` comes from writing to a closed pipe (`gcnn … | head`).
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    match run(parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader has gone: nothing to say, and nobody to say it to.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
