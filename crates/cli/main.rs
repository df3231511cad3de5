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
    /// Compute point-in-time features: one row per eligible (account, as_of) with its label.
    #[command(
        after_help = "Examples:\n  pql features --config data/sample/pql.toml --as-of 2025-05-05 --out features.parquet\n  \
        pql features --config data/sample/pql.toml --from 2025-05-05 --to 2025-06-23 --out features.csv\n  \
        pql features --config data/sample/pql.toml --describe\n\n\
        Features only see events at or before 00:00 UTC of each as_of date. The output is Parquet or CSV by \
        extension: account_id, as_of, label (1 converted within the horizon, 0 not, empty when the horizon is \
        not fully observed), then the features in dictionary order (see docs/features.md)."
    )]
    Features {
        /// The pql.toml to use.
        #[arg(long)]
        config: PathBuf,
        /// Output file (.parquet or .csv).
        #[arg(long, required_unless_present = "describe")]
        out: Option<PathBuf>,
        /// One snapshot at 00:00 UTC of this date.
        #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present_any = ["from", "describe"])]
        as_of: Option<chrono::NaiveDate>,
        /// First date of a range of weekly snapshots (on the configured weekday).
        #[arg(long, requires = "to")]
        from: Option<chrono::NaiveDate>,
        /// Last date of the range.
        #[arg(long, requires = "from")]
        to: Option<chrono::NaiveDate>,
        /// Print the feature dictionary for this config instead of computing features.
        #[arg(long)]
        describe: bool,
    },
    /// Train a calibrated propensity model on labelled weekly snapshots and write it to models/<model_id>/.
    #[command(after_help = "Examples:\n  pql train --config data/sample/pql.toml --out models\n  \
        pql train --config pql.toml --features features.parquet --model boosted --backtest 8\n\n\
        The latest --validation-weeks labelled snapshots validate; the rest whose labels had closed by then \
        fit. Settings (L2 strength, number of trees) and, with --model auto, the family are chosen by \
        validation log loss; the model is calibrated on validation (isotonic from 1000 converted rows, \
        else Platt), then refitted on every labelled snapshot. --backtest K repeats all of that for each \
        of the last K labelled snapshots using only what was known that day. The model directory holds \
        model.json, metrics.json and importances.csv; its name is a hash of its content.")]
    Train {
        /// The pql.toml to use (its [[rules]] are reported beside the model).
        #[arg(long)]
        config: PathBuf,
        /// Folder of models; the model is written to <out>/<model_id>/.
        #[arg(long, default_value = "models")]
        out: PathBuf,
        /// Train on this table from `pql features` instead of computing features.
        #[arg(long, conflicts_with_all = ["from", "to"])]
        features: Option<PathBuf>,
        /// First snapshot date considered (default: the first event's date).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last snapshot date considered (default: the last event's date).
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// Model family; auto fits both and keeps the lower validation log loss.
        #[arg(long, value_enum, default_value_t = ModelArg::Auto)]
        model: ModelArg,
        /// Backtest the last K labelled snapshots (0 to skip).
        #[arg(long, default_value_t = 4)]
        backtest: usize,
        /// Latest labelled snapshots used for validation and calibration.
        #[arg(long, default_value_t = 2)]
        validation_weeks: usize,
        /// Seed of the random choices (permutation importance); the same inputs and seed give the same model.
        #[arg(long, default_value_t = 42)]
        seed: u64,
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
enum ModelArg {
    Auto,
    Logistic,
    Boosted,
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
        Command::Features {
            config,
            out,
            as_of,
            from,
            to,
            describe,
        } => {
            let config = pql_data::Config::load(&config)?;
            if describe {
                print_dictionary(&pql_features::describe(&config)?);
                return Ok(());
            }
            let snapshots = match (as_of, from, to) {
                (Some(date), _, _) => pql_features::Snapshots::One(date),
                (None, Some(from), Some(to)) => pql_features::Snapshots::Range { from, to },
                _ => anyhow::bail!("give --as-of DATE or --from DATE --to DATE"),
            };
            let out = out.context("--out is required")?;
            let started = std::time::Instant::now();
            let builder = pql_features::FeatureBuilder::new(&config, &snapshots, None)?;
            let report = builder.report();
            eprint!("{}", report_text(report));
            let metadata = vec![
                ("pql.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
                ("pql.input_report".to_string(), serde_json::to_string(report)?),
                ("pql.features".to_string(), serde_json::to_string(builder.defs())?),
            ];
            let written = builder.write(&out, &metadata)?;
            println!(
                "wrote {} rows ({} labelled, {:.2}% positive) x {} features to {} in {:.1} s",
                written.rows,
                written.labelled,
                100.0 * written.positives as f64 / written.labelled.max(1) as f64,
                builder.defs().len(),
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Train {
            config,
            out,
            features,
            from,
            to,
            model,
            backtest,
            validation_weeks,
            seed,
        } => {
            let started = std::time::Instant::now();
            let config_text =
                std::fs::read_to_string(&config).with_context(|| format!("cannot read {}", config.display()))?;
            let config = pql_data::Config::load(&config)?;
            let (frame, defs) = match features {
                Some(path) => pql_features::read_table(&path)?,
                None => {
                    // Rules are checked against the dictionary before the (long) feature computation.
                    let names: Vec<String> = pql_features::describe(&config)?.into_iter().map(|d| d.name).collect();
                    for rule in &config.rules {
                        pql_train::rules::Rule::parse(&rule.name, &rule.when, &names)?;
                    }
                    let (from, to) = match (from, to) {
                        (Some(from), Some(to)) => (from, to),
                        (from, to) => {
                            let span = pql_data::InputSummary::read(&config)?
                                .event_span
                                .context("the events table is empty: nothing to train on")?;
                            let day = |t: i64| chrono::DateTime::from_timestamp_micros(t).map(|t| t.date_naive());
                            (
                                from.or_else(|| day(span.0)).context("event timestamps out of range")?,
                                to.or_else(|| day(span.1)).context("event timestamps out of range")?,
                            )
                        }
                    };
                    let table = pql_features::build(&config, &pql_features::Snapshots::Range { from, to })?;
                    eprint!("{}", report_text(&table.report));
                    (table.frame, table.defs)
                }
            };
            let names: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
            let rows = pql_train::matrix::LabelledMatrix::from_table(&frame, &names)?;
            eprintln!(
                "training on {} labelled rows x {} features ({} rows without a label yet left out)",
                rows.labels.len(),
                names.len(),
                frame.height() - rows.labels.len()
            );
            drop(frame);
            let mut params = pql_train::TrainParams::new(config.label.horizon_days);
            params.choice = match model {
                ModelArg::Auto => pql_train::ModelChoice::Auto,
                ModelArg::Logistic => pql_train::ModelChoice::Only(pql_train::ModelKind::Logistic),
                ModelArg::Boosted => pql_train::ModelChoice::Only(pql_train::ModelKind::Boosted),
            };
            params.backtest = backtest;
            params.validation_snapshots = validation_weeks;
            params.seed = seed;
            let rules: Vec<(String, String)> = config.rules.iter().map(|r| (r.name.clone(), r.when.clone())).collect();
            let trained = pql_train::train(&rows, &rules, &params)?;
            let artifact =
                pql_train::Artifact::new(trained, defs, &rows, &config_text, seed, config.label.horizon_days);
            let dir = artifact.save(&out)?;
            print!("{}", training_report(&artifact));
            println!(
                "model {} ({}) written to {} in {:.1} s",
                artifact.model_id,
                artifact.kind,
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Check { config } => {
            let config = pql_data::Config::load(&config)?;
            print!("{}", pql_data::InputSummary::read(&config)?);
            Ok(())
        }
    }
}

/// What training found, for people: the data parts, each family on validation, the backtest, the top
/// features and the rule baselines.
fn training_report(artifact: &pql_train::Artifact) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let t = &artifact.training;
    for (name, part) in [
        ("fit", &t.fit),
        ("validation", &t.validation),
        ("refit (all)", &t.window),
    ] {
        let _ = writeln!(
            out,
            "{name:<12} {} .. {}  {:>3} snapshots  {:>9} rows  base rate {:.2}%",
            part.first,
            part.last,
            part.snapshots,
            part.rows,
            100.0 * part.base_rate
        );
    }
    let _ = writeln!(
        out,
        "\n{:<10} {:>8} {:>8} {:>8} {:>8}  settings",
        "family", "ROC AUC", "PR AUC", "log loss", "ECE"
    );
    for c in &artifact.candidates {
        let m = &c.validation;
        let settings = match c.settings {
            pql_train::model::Settings::Logistic { l2 } => format!("l2 {l2}"),
            pql_train::model::Settings::Boosted { params } => format!("{} trees", params.max_trees),
        };
        let _ = writeln!(
            out,
            "{:<10} {:>8.4} {:>8.4} {:>8.5} {:>8.4}  {settings} (raw, validation)",
            c.settings.kind().to_string(),
            m.roc_auc,
            m.pr_auc,
            m.log_loss,
            m.ece
        );
    }
    let m = &artifact.metrics;
    let _ = writeln!(
        out,
        "chosen: {} with {} calibration; validation lift@10% {:.2}, top 10% capture {:.1}%, top 20% {:.1}%",
        artifact.kind,
        match artifact.calibration {
            pql_train::calibration::Calibration::Platt { .. } => "Platt",
            pql_train::calibration::Calibration::Isotonic { .. } => "isotonic",
        },
        m.lift_at_10,
        100.0 * m.recall_at_10,
        100.0 * m.recall_at_20
    );
    if !artifact.backtest.is_empty() {
        let _ = writeln!(
            out,
            "\nbacktest    {:>9} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8}",
            "train", "rows", "ROC AUC", "PR AUC", "log loss", "ECE", "lift@10"
        );
        for b in &artifact.backtest {
            let m = &b.metrics;
            let _ = writeln!(
                out,
                "{:<11} {:>9} {:>9} {:>8.4} {:>8.4} {:>9.5} {:>8.4} {:>8.2}",
                b.as_of, b.train_rows, m.rows, m.roc_auc, m.pr_auc, m.log_loss, m.ece, m.lift_at_10
            );
        }
    }
    let mut top: Vec<&pql_train::importance::Importance> = artifact.importances.iter().collect();
    top.sort_by(|a, b| b.permutation.total_cmp(&a.permutation));
    let _ = writeln!(out, "\ntop features (drop in validation ROC AUC when shuffled, ± std)");
    for i in top.iter().take(10) {
        let _ = writeln!(
            out,
            "  {:<40} {:.4} ± {:.4}",
            i.feature, i.permutation, i.permutation_std
        );
    }
    if !artifact.rules.is_empty() {
        let _ = writeln!(
            out,
            "\nrule baselines on validation: flagged, rule precision/recall, model precision/recall at the same volume"
        );
        for r in &artifact.rules {
            let _ = writeln!(
                out,
                "  {:<24} {:>8}  rule {:>5.1}% / {:>5.1}%   model {:>5.1}% / {:>5.1}%",
                r.name,
                r.flagged,
                100.0 * r.rule_precision,
                100.0 * r.rule_recall,
                100.0 * r.model_precision,
                100.0 * r.model_recall
            );
        }
    }
    out.push('\n');
    out
}

/// Prints the feature dictionary as an aligned table.
fn print_dictionary(defs: &[pql_features::FeatureDef]) {
    let width = defs.iter().map(|d| d.name.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<width$}  {:<16} {:<7} {:<7}  description",
        "name", "family", "unit", "missing"
    );
    for def in defs {
        println!(
            "{:<width$}  {:<16} {:<7} {:<7}  {}",
            def.name,
            def.family.to_string(),
            def.unit.to_string(),
            def.missing.to_string(),
            def.description
        );
    }
}

/// The input report as lines, naming only what happened.
fn report_text(report: &pql_features::InputReport) -> String {
    let mut text = format!(
        "read {} events, used {}; {} accounts; {} conversions\n",
        report.events_read, report.events_used, report.accounts, report.conversions_read
    );
    let skipped = [
        (report.ignored_events, "events ignored by the config"),
        (
            report.events_missing_values,
            "events with a missing account, event or timestamp (dropped)",
        ),
        (
            report.events_of_unknown_accounts,
            "events of accounts missing from the accounts table (dropped)",
        ),
        (
            report.events_before_signup,
            "events before their account's signup (dropped)",
        ),
        (report.duplicate_events, "duplicate events (dropped)"),
        (
            report.events_out_of_range,
            "events dated before 2000 or after 2099 (dropped)",
        ),
        (
            report.conversions_of_unknown_accounts,
            "conversions of unknown accounts (dropped)",
        ),
        (report.repeated_conversions, "repeated conversions (the first counts)"),
        (
            report.conversions_before_signup,
            "accounts converted before signup (never eligible)",
        ),
    ];
    for (count, what) in skipped {
        if count > 0 {
            text.push_str(&format!("  {count} {what}\n"));
        }
    }
    text
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
