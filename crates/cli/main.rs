//! The `pql` command: a thin layer that parses arguments, calls the library crates and prints results.
//! Any failure ends with a one-line cause on stderr and exit code 1.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

/// pql: product-qualified-lead propensity scoring from product event histories.
#[derive(Debug, Parser)]
#[command(name = "pql", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a synthetic freemium/trial SaaS history with known conversion probabilities.
    #[command(
        after_help = "Example:\n  pql generate --accounts 10000 --seed 7 --out out/synthetic\n\n\
        Writes events, accounts and conversions tables in the pql data contract, truth.parquet (the \
        generator's conversion probability of every eligible account at every weekly snapshot) and a \
        pql.toml that describes the product."
    )]
    Generate {
        /// Number of accounts to simulate.
        #[arg(long)]
        accounts: u64,
        /// Random seed; the same seed and options give byte-identical files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output folder (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// Format of the events, accounts and conversions tables.
        #[arg(long, value_enum, default_value_t = Format::Parquet)]
        format: Format,
        /// First day of the history (00:00 UTC); weekly snapshots fall on its weekday.
        #[arg(long, default_value = "2025-01-06")]
        start: chrono::NaiveDate,
        /// Length of the history in weeks.
        #[arg(long, default_value_t = 26)]
        weeks: u32,
        /// Label horizon of the truth, in days.
        #[arg(long, default_value_t = 30)]
        horizon_days: u32,
    },
    /// Validate a config and its inputs, and summarise the data under it.
    #[command(after_help = "Example:\n  pql check --config data/sample/pql.toml")]
    Check {
        /// The pql.toml to check.
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Parquet,
    Csv,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate {
            accounts,
            seed,
            out,
            format,
            start,
            weeks,
            horizon_days,
        } => {
            let params = pql_generate::GeneratorParams::new(accounts)
                .seed(seed)
                .start(start)
                .weeks(weeks)
                .horizon_days(horizon_days)
                .format(match format {
                    Format::Parquet => pql_generate::OutputFormat::Parquet,
                    Format::Csv => pql_generate::OutputFormat::Csv,
                })
                .check()?;
            let summary = pql_generate::generate(&params, &out)?;
            let seconds = summary.elapsed.as_secs_f64();
            println!(
                "generated {} accounts, {} users, {} events, {} conversions in {:.1} s ({:.1} M events/s)",
                summary.accounts,
                summary.users,
                summary.events,
                summary.conversions,
                seconds,
                summary.events as f64 / seconds.max(1e-9) / 1e6
            );
            println!(
                "truth: {} eligible (account, as_of) rows; {:.2}% converted within {} days (truth mean {:.2}%)",
                summary.truth_rows,
                100.0 * summary.label_rate,
                horizon_days,
                100.0 * summary.mean_probability
            );
            let total: u64 = summary.files.iter().map(|(_, size)| size).sum();
            for (path, size) in &summary.files {
                println!("  {:>10}  {}", human_bytes(*size), path.display());
            }
            println!("  {:>10}  total", human_bytes(total));
            Ok(())
        }
        Command::Check { config } => {
            let config = pql_data::Config::load(&config)?;
            let data = pql_data::Dataset::read(&config)?;
            let summary = pql_data::InputSummary::of(&data, &config).context("cannot summarise the inputs")?;
            print!("{summary}");
            Ok(())
        }
    }
}

fn human_bytes(bytes: u64) -> String {
    let mut value = bytes as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if value < 1024.0 || unit == "GiB" {
            return format!("{value:.1} {unit}");
        }
        value /= 1024.0;
    }
    unreachable!("the loop returns at GiB")
}
