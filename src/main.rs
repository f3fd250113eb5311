//! The `gcnn` command line: parses arguments and calls into the library.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand};
use gcnn::cli::{accuracy, infer};

/// Private MNIST inference with garbled circuits.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
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
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
