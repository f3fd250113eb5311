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
enum Command {
    /// Measure performance.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Gate and OT throughput, bytes per gate, session set-up.
    Gates {
        /// AND gates per measured program.
        #[arg(long, default_value_t = 4_000_000)]
        ands: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench {
            what: BenchCommand::Gates { ands },
        } => {
            eprintln!("measuring (a few seconds)…");
            println!("{}", gcnn::bench::gates(ands)?);
        }
    }
    Ok(())
}
