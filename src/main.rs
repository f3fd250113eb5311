//! The `gcnn` command line: parses arguments and calls into the library.

use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{ArgGroup, Parser, Subcommand};
use gcnn::circuit::Owner;
use gcnn::circuit::file::{self, FileFormat};
use gcnn::circuit::stats::Stats;
use gcnn::cli::{accuracy, infer};
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
        /// Model directory (only its model.json is read).
        #[arg(long, default_value = "models/lenet")]
        model: PathBuf,
        /// File to write [default: circuits/lenet.mixed, with --pure circuits/lenet.circ].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the pure whole-network circuit (binary, or Bristol Fashion for .txt).
        #[arg(long)]
        pure: bool,
    },
    /// Serve private inference as the model owner (the garbler).
    ///
    /// Logs one line per session on stderr (peer, outcome, time, bytes); never a label,
    /// key or weight.
    Garbler {
        /// Model directory (model.json and .npy tensors).
        #[arg(long, default_value = "models/lenet")]
        model: PathBuf,
        /// The mixed circuit file to serve (`gcnn compile`): refused unless it is what the
        /// model compiles to. Default: compile model.json here (the same bytes).
        #[arg(long, value_name = "FILE")]
        circuit: Option<PathBuf>,
        /// Address to listen on, e.g. 127.0.0.1:7000 (port 0 picks a free port).
        #[arg(long)]
        listen: String,
        /// Serve one session, then exit (non-zero if it failed).
        #[arg(long, conflicts_with = "sessions")]
        once: bool,
        /// Serve N sessions, then exit (non-zero if any failed).
        #[arg(long, value_name = "N")]
        sessions: Option<usize>,
        /// Sessions served at once, each on its own thread; further clients wait in the
        /// accept queue.
        #[arg(long, value_name = "N", default_value_t = NonZeroUsize::new(4).expect("4 > 0"),
              value_parser = clap::value_parser!(NonZeroUsize))]
        workers: NonZeroUsize,
        /// Seconds allowed for every network read and write.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
        /// Seconds one session may take in all, so a client trickling bytes cannot hold
        /// a worker forever.
        #[arg(long, value_name = "SECS", default_value_t = 300,
              value_parser = clap::value_parser!(u64).range(1..=86_400))]
        session_timeout: u64,
    },
    /// Classify an image privately as the client (the evaluator); needs only the public
    /// architecture (model.json), never the weights.
    #[command(group(ArgGroup::new("source").required(true).args(["mnist_index", "image"])))]
    Evaluator {
        /// Model directory: only its model.json (the public architecture) is read and
        /// compiled here, when no --circuit is given.
        #[arg(long, default_value = "models/lenet")]
        model: PathBuf,
        /// The mixed circuit file to run (`gcnn compile`), all the client needs; its hash
        /// must equal the garbler's.
        #[arg(long, value_name = "FILE", conflicts_with = "model")]
        circuit: Option<PathBuf>,
        /// Address of the garbler.
        #[arg(long)]
        connect: String,
        /// Classify image N of the MNIST test set.
        #[arg(long, value_name = "N")]
        mnist_index: Option<usize>,
        /// Directory with the MNIST test set (for --mnist-index).
        #[arg(long, default_value = "models/mnist", requires = "mnist_index")]
        mnist: PathBuf,
        /// A 28x28 8-bit grayscale PNG or a (28, 28) uint8 .npy, white digit on black.
        #[arg(long, value_name = "FILE")]
        image: Option<PathBuf>,
        /// Seconds allowed for connecting and for every network read and write.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
    },
    /// Classify a few test digits privately, both roles in this process over loopback TCP.
    ///
    /// Starts the garbler (model owner) on a background thread and, as the evaluator, prints for each digit the true label,
    /// the private prediction, the plaintext model's prediction, bytes each way and time.
    Demo {
        /// How many test digits to classify (the first N of the test set).
        #[arg(long, value_name = "N", default_value_t = 5,
              value_parser = clap::value_parser!(u64).range(1..=10_000))]
        images: u64,
        #[command(flatten)]
        setup: SetupArgs,
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
        /// Also print the results as one JSON object on the last line of stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        setup: SetupArgs,
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
    /// Accuracy of the integer reference model on the MNIST test set.
    Accuracy {
        /// Model directory (model.json and .npy tensors).
        #[arg(long, default_value = "models/lenet")]
        model: PathBuf,
        /// Directory with t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz).
        #[arg(long, default_value = "models/mnist")]
        mnist: PathBuf,
        /// Evaluate only the first N test images.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Classify one image.
    #[command(group(ArgGroup::new("source").required(true).args(["mnist_index", "image"])))]
    Infer {
        /// Plaintext inference with the integer reference (the only mode so far).
        #[arg(long, required = true)]
        plain: bool,
        /// Model directory (model.json and .npy tensors).
        #[arg(long, default_value = "models/lenet")]
        model: PathBuf,
        /// Classify image N of the MNIST test set.
        #[arg(long, value_name = "N")]
        mnist_index: Option<usize>,
        /// Directory with the MNIST test set (for --mnist-index).
        #[arg(long, default_value = "models/mnist")]
        mnist: PathBuf,
        /// A 28x28 8-bit grayscale PNG or a (28, 28) uint8 .npy, white digit on black.
        #[arg(long, value_name = "FILE")]
        image: Option<PathBuf>,
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

/// Model and test set for `demo` and `bench`.
#[derive(clap::Args)]
struct SetupArgs {
    /// Model directory (model.json and .npy tensors).
    #[arg(long, default_value = "models/lenet")]
    model: PathBuf,
    /// Directory with the MNIST test set.
    #[arg(long, default_value = "models/mnist")]
    mnist: PathBuf,
    /// Seconds allowed for every network read and write and for connecting.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
}

impl SetupArgs {
    fn split(self) -> (gcnn::cli::Setup, Duration) {
        let setup = gcnn::cli::Setup {
            model: self.model,
            mnist: self.mnist,
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
        /// Model directory whose stage circuits are garbled too (only model.json is read).
        #[arg(long, default_value = "models/lenet")]
        model: PathBuf,
    },
}

fn name(f: FileFormat) -> &'static str {
    match f {
        FileFormat::Binary => "binary",
        FileFormat::Bristol => "Bristol Fashion",
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Convert {
            input,
            output,
            owners,
        } => {
            let (circuit, from) = file::load(&input, owners.as_deref())?;
            let to = file::save(&circuit, &output)?;
            println!(
                "{} ({}) -> {} ({}), {} gates, hash {}",
                input.display(),
                name(from),
                output.display(),
                name(to),
                circuit.gates().len(),
                hex(&circuit.content_hash())
            );
        }
        Command::Inspect { file, owners } => {
            if owners.is_none() && gcnn::cli::compile::is_mixed(&file) {
                let pipeline = gcnn::inference::Pipeline::load_circuit(&file)?;
                println!("{} (mixed circuit)", file.display());
                print!("{}", gcnn::cli::compile::Costs(&pipeline));
                return Ok(());
            }
            let (circuit, from) = file::load(&file, owners.as_deref())?;
            println!("{} ({})", file.display(), name(from));
            println!("content hash: {}", hex(&circuit.content_hash()));
            print!("{}", Stats::of(&circuit));
            let program = gcnn::garble::Program::of(&circuit);
            println!(
                "label slots after liveness: {} ({:.1} MB of 16-byte labels per party)",
                program.num_slots(),
                program.num_slots() as f64 * 16.0 / 1e6
            );
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
                println!("{line}");
            }
            eprintln!("{}", outcome.summary);
        }
        Command::Bench {
            what: None,
            images,
            json,
            setup,
        } => {
            let (setup, timeout) = setup.split();
            let images = usize::try_from(images)?;
            let result = gcnn::cli::bench::run(&setup, images, timeout, &mut io::stderr())?;
            let mut out = io::stdout();
            write!(out, "{result}")?;
            if json {
                writeln!(out, "{}", result.to_json())?;
            }
        }
        Command::Bench {
            what: Some(BenchCommand::Gates { ands, model }),
            ..
        } => {
            eprintln!("measuring (a few seconds)…");
            println!("{}", gcnn::bench::gates(ands, &model)?);
        }
        Command::Demo { images, setup } => {
            let (setup, timeout) = setup.split();
            let images = usize::try_from(images)?;
            gcnn::cli::demo::run(
                &setup,
                images,
                timeout,
                &mut io::stderr(),
                &mut io::stdout(),
            )?;
        }
        Command::Compile { model, out, pure } => {
            let out =
                out.unwrap_or_else(|| PathBuf::from(if pure { PURE_CIRCUIT } else { CIRCUIT }));
            if pure {
                gcnn::cli::compile::run_pure(&model, &out, &mut io::stderr())?;
            } else {
                gcnn::cli::compile::run(&model, &out, &mut io::stderr())?;
            }
            println!("wrote {}", out.display());
        }
        Command::Garbler {
            model,
            circuit,
            listen,
            once,
            sessions,
            workers,
            timeout,
            session_timeout,
        } => {
            // Bind first: an unusable address fails before the model is read.
            let listener = gcnn::net::bind(&listen)?;
            let owner = gcnn::cli::garbler::owner(&model, circuit.as_deref(), &mut io::stderr())?;
            let addr = listener.local_addr()?;
            eprintln!("listening on {addr}");
            let sessions = if once { Some(1) } else { sessions };
            let limits = gcnn::cli::garbler::Limits {
                io: Duration::from_secs(timeout),
                session: Duration::from_secs(session_timeout),
            };
            let failed = gcnn::cli::garbler::serve(
                &owner,
                &listener,
                sessions,
                workers,
                limits,
                &mut io::stderr(),
            )?;
            if failed > 0 {
                anyhow::bail!("{failed} session(s) failed");
            }
        }
        Command::Evaluator {
            model,
            circuit,
            connect,
            mnist_index,
            mnist,
            image,
            timeout,
        } => {
            let source = match (mnist_index, image) {
                (Some(index), _) => infer::ImageSource::Mnist { dir: mnist, index },
                (None, Some(path)) => infer::ImageSource::File(path),
                (None, None) => anyhow::bail!("give --mnist-index N or --image FILE"),
            };
            let timeout = Duration::from_secs(timeout);
            let public = match circuit {
                Some(path) => gcnn::cli::Public::Circuit(path),
                None => gcnn::cli::Public::Model(model),
            };
            let result = gcnn::cli::evaluator::run(&public, &connect, &source, timeout)?;
            let r = &result.report;
            eprintln!(
                "private inference: {:.3} s (set-up {:.3} s, online {:.3} s), sent {} B, received {} B",
                r.total.as_secs_f64(),
                r.setup.as_secs_f64(),
                r.online.as_secs_f64(),
                r.bytes_sent,
                r.bytes_received
            );
            let mut out = io::stdout();
            if let Some(label) = result.label {
                writeln!(out, "label: {label}")?;
            }
            writeln!(out, "prediction: {}", result.prediction)?;
        }
        Command::RandomModel { model, seed, out } => {
            gcnn::model::Model::load_architecture(&model)?
                .with_random_values(seed)
                .save(&out)?;
            println!("wrote {}", out.display());
        }
        Command::Accuracy {
            model,
            mnist,
            limit,
        } => {
            let result = accuracy::run(&model, &mnist, limit, &mut io::stderr())?;
            writeln!(io::stdout(), "{result}")?;
        }
        Command::Infer {
            plain: _,
            model,
            mnist_index,
            mnist,
            image,
        } => {
            let source = match (mnist_index, image) {
                (Some(index), _) => infer::ImageSource::Mnist { dir: mnist, index },
                (None, Some(path)) => infer::ImageSource::File(path),
                (None, None) => anyhow::bail!("give --mnist-index N or --image FILE"),
            };
            let result = infer::run_plain(&model, &source)?;
            let mut out = io::stdout();
            if let Some(label) = result.label {
                writeln!(out, "label: {label}")?;
            }
            writeln!(out, "prediction: {}", result.prediction)?;
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
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses the command line. `--help`, `--version` and a bare `gcnn` print as clap
/// renders them; any other argument error becomes one line, like every other error.
fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let message = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("error: {message} (see --help)");
            ExitCode::from(2)
        }
    })
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
