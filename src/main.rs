//! The `gcnn` command line: parses arguments and calls into the library.

use clap::{Parser, Subcommand};

/// Private MNIST inference with garbled circuits.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {}
}
