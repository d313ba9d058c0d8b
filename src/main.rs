//! `damcap`: phase diagrams of dense associative memories from the REM
//! theory, checked against Monte Carlo simulation.

mod commands;
mod config;
mod law_file;
mod output;
mod plot;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Phase diagrams of dense associative memories (modern Hopfield networks).
#[derive(Parser, Debug)]
#[command(name = "damcap", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Retrieval thresholds alpha_1 and the alpha_c lower bound at one lambda.
    Thresholds(commands::thresholds::Args),
    /// One-step basin of attraction rho_min(alpha, lambda).
    Basin(commands::basin::Args),
    /// Inverse temperature lambda_*(alpha, rho) above which one step from overlap rho retrieves.
    LambdaStar(commands::basin::LambdaStarArgs),
    /// Thresholds over a lambda grid, as CSV (parallel).
    Scan(commands::thresholds::ScanArgs),
    /// Draws the figure a TOML config describes (SVG and CSV).
    PhaseDiagram {
        /// Path of the figure config.
        config: PathBuf,
    },
    /// Regenerates every figure config in configs/ into plots/.
    Figures(commands::figures::Args),
    /// Runs the Monte Carlo studies of a validate config against the theory.
    Validate(commands::validate::Args),
    /// Combines the shards of a validate run (--shard K/M) into its outputs.
    Merge(commands::validate::MergeArgs),
    /// Measures the speed of the solver (ratios against baselines run alongside).
    Bench(commands::bench::Args),
    /// Shows a law file standardised, with its thresholds at one lambda.
    Law(commands::law::Args),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Thresholds(args) => commands::thresholds::run(&args),
        Command::Basin(args) => commands::basin::run(&args),
        Command::LambdaStar(args) => commands::basin::run_lambda_star(&args),
        Command::Scan(args) => commands::thresholds::scan(&args),
        Command::PhaseDiagram { config } => commands::figures::run_config(&config),
        Command::Figures(args) => commands::figures::run_all(&args),
        Command::Validate(args) => commands::validate::run(&args),
        Command::Merge(args) => commands::validate::merge(&args),
        Command::Bench(args) => commands::bench::run(&args),
        Command::Law(args) => commands::law::run(&args),
    }
}

/// `println!` panics when standard output is a closed pipe or a full
/// device. That is no bug of damcap's: a closed pipe (`damcap scan | head`)
/// ends the run quietly, a full device with one error line, both with a
/// non-zero exit and no panic message.
fn exit_cleanly_when_stdout_fails() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if let Some(reason) = message.strip_prefix("failed printing to stdout: ") {
            if !reason.contains("Broken pipe") {
                eprintln!(
                    "error: cannot write to standard output ({reason}); redirect it to a writable file or use --out"
                );
            }
            std::process::exit(1);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    exit_cleanly_when_stdout_fails();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message up to its usage block, folded onto one line.
            let rendered = e.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{} (run 'damcap --help' for usage)", message.join(" "));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
