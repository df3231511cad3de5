//! The `pql` command: a thin layer that parses arguments, calls the library crates and prints results.
//! Any failure ends with a one-line cause on stderr and exit code 1.

mod text;
mod ui;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use clap::{Parser, Subcommand, ValueEnum};
use pql_data::Config;
use pql_features::{FeatureBuilder, Levels, Snapshots};
use ui::Ui;

/// pql: product-qualified-lead propensity scoring from product event histories.
#[derive(Debug, Parser)]
#[command(
    name = "pql",
    version,
    about,
    long_about = None,
    after_help = "Start with `pql quickstart`: it runs features, training and scoring on the bundled sample."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print nothing but errors (no progress, notes, drift warnings or summaries).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Log what happens on stderr: -v info, -vv debug, -vvv trace.
    #[arg(long, short, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
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
        /// Use this model's categorical levels (its `attribute=level` columns), so the table fits it.
        #[arg(long, value_name = "MODEL_DIR")]
        model: Option<PathBuf>,
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
    /// Score every eligible account as of a date: probability, tier, PQL flag and the top reasons.
    #[command(
        after_help = "Examples:\n  pql score --config data/sample/pql.toml --model models/<model_id> --as-of 2025-06-30 \
        --out scores.parquet\n  \
        pql score --config pql.toml --model models/<model_id> --as-of 2025-07-07 --top 500 --previous \
        scores-2025-06-30.parquet --out scores.csv\n  \
        pql score --model models/<model_id> --features features.parquet --out scores.parquet\n\n\
        Features are computed as of 00:00 UTC of --as-of with the same code and categorical levels as in \
        training. The output (Parquet or CSV by extension, written atomically) has one row per eligible \
        account, most probable first: account_id, as_of, probability (calibrated), tier (hot = PQL, warm, \
        cold), is_pql, reason_1..reason_3 (the features raising the score most, in words), model_id, and \
        with --previous newly_qualified (PQL now, not in the previous file)."
    )]
    Score {
        /// The pql.toml describing the data (not needed with --features).
        #[arg(long, required_unless_present = "features")]
        config: Option<PathBuf>,
        /// The model directory (models/<model_id>), its model.json, or `champion` (`<folder>/champion`).
        #[arg(long)]
        model: PathBuf,
        /// Score the accounts eligible at 00:00 UTC of this date.
        #[arg(long, required_unless_present = "features")]
        as_of: Option<NaiveDate>,
        /// Score the rows of a feature table (from `pql features` or an engine) instead; with --as-of, only
        /// that date's rows.
        #[arg(long, conflicts_with = "config")]
        features: Option<PathBuf>,
        /// Output file (.parquet or .csv).
        #[arg(long)]
        out: PathBuf,
        /// PQL = probability at or above P, instead of the model's threshold.
        #[arg(long, value_name = "P", conflicts_with = "top")]
        threshold: Option<f64>,
        /// PQL = the N most probable accounts, or the top P% (e.g. 500 or 5%).
        #[arg(long, value_name = "N|P%")]
        top: Option<String>,
        /// An earlier scores file: mark PQLs that were not PQLs in it (newly_qualified).
        #[arg(long, value_name = "FILE")]
        previous: Option<PathBuf>,
    },
    /// Show what drives a model: global importances, or every feature's contribution to one account.
    #[command(after_help = "Examples:\n  pql explain --model models/<model_id>\n  \
        pql explain --model models/<model_id> --config data/sample/pql.toml --account acc_000042 \
        --as-of 2025-06-30\n\n\
        Contributions are in log-odds before calibration and add up to the account's score: the weight \
        terms of a logistic model, or TreeSHAP values of boosted trees.")]
    Explain {
        /// The model directory, its model.json, or `champion` (`<folder>/champion`).
        #[arg(long)]
        model: PathBuf,
        /// Explain this account's score (needs --as-of and --config or --features).
        #[arg(long, requires = "as_of")]
        account: Option<String>,
        /// The date of the account's snapshot.
        #[arg(long, requires = "account")]
        as_of: Option<NaiveDate>,
        /// The pql.toml to compute the account's features with.
        #[arg(long, requires = "account", conflicts_with = "features")]
        config: Option<PathBuf>,
        /// A feature table holding the account's row instead.
        #[arg(long, requires = "account")]
        features: Option<PathBuf>,
    },
    /// Run the whole pipeline on the bundled sample: features, training, scoring, and a short summary.
    #[command(after_help = "Example:\n  pql quickstart --out quickstart\n\n\
        Writes <out>/features.parquet (every weekly snapshot), <out>/models/<model_id>/ and \
        <out>/scores.csv (the accounts eligible at the latest snapshot), then prints the model's quality, its \
        top drivers and the PQLs found.")]
    Quickstart {
        /// Folder for the outputs (created if needed).
        #[arg(long, default_value = "quickstart")]
        out: PathBuf,
        /// The data to run on.
        #[arg(long, default_value = "data/sample/pql.toml")]
        config: PathBuf,
    },
    /// How far the accounts eligible on a date have moved from a model's training data (PSI per feature).
    #[command(
        after_help = "Example:\n  pql drift --model models/champion --config pql.toml --as-of 2025-07-07\n\n\
        The population stability index compares the shares of accounts in ten bins cut at the training \
        deciles: under 0.1 stable, 0.1 to 0.25 moderate, above 0.25 major. `pql score` warns above the \
        [drift] thresholds of pql.toml (feature_psi 0.25, score_psi 0.1 by default)."
    )]
    Drift {
        /// The model directory, its model.json, or `champion` (`<folder>/champion`).
        #[arg(long)]
        model: PathBuf,
        /// The pql.toml describing the data.
        #[arg(long)]
        config: PathBuf,
        /// The accounts eligible at 00:00 UTC of this date.
        #[arg(long)]
        as_of: NaiveDate,
    },
    /// List the models of a models folder (its registry.json): status, training window, validation metrics.
    #[command(after_help = "Example:\n  pql models --models models\n\n\
        `pql train` registers every model it writes; the first model of a folder becomes its champion, \
        which `--model champion` (or `--model <folder>/champion`) selects in `pql score` and `pql explain`.")]
    Models {
        /// The models folder.
        #[arg(long, default_value = "models")]
        models: PathBuf,
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
    let cli = Cli::parse();
    let ui = Ui::new(cli.quiet, cli.verbose);
    match run(cli.command, &ui) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, ui: &Ui) -> anyhow::Result<()> {
    match command {
        Command::Generate {
            accounts,
            seed,
            out,
            format,
            start,
            weeks,
            horizon_days,
        } => generate(ui, accounts, seed, &out, format, start, weeks, horizon_days),
        Command::Features {
            config,
            out,
            as_of,
            from,
            to,
            describe,
            model,
        } => {
            let config = Config::load(&config)?;
            let levels = match model {
                Some(model) => Some(pql_features::levels_in(&pql_train::Artifact::load(&model)?.features)),
                None => None,
            };
            if describe {
                print!("{}", text::dictionary(&pql_features::describe(&config)?));
                return Ok(());
            }
            let snapshots = match (as_of, from, to) {
                (Some(date), _, _) => Snapshots::One(date),
                (None, Some(from), Some(to)) => Snapshots::Range { from, to },
                _ => anyhow::bail!("give --as-of DATE or --from DATE --to DATE"),
            };
            features(
                ui,
                &config,
                &snapshots,
                levels.as_ref(),
                &out.context("--out is required")?,
            )
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
            let mut params = pql_train::TrainParams::new(0);
            params.choice = match model {
                ModelArg::Auto => pql_train::ModelChoice::Auto,
                ModelArg::Logistic => pql_train::ModelChoice::Only(pql_train::ModelKind::Logistic),
                ModelArg::Boosted => pql_train::ModelChoice::Only(pql_train::ModelKind::Boosted),
            };
            params.backtest = backtest;
            params.validation_snapshots = validation_weeks;
            params.seed = seed;
            let source = match features {
                Some(path) => TrainingSource::Table(path),
                None => TrainingSource::Events { from, to },
            };
            train(ui, &config, source, params, &out).map(|_| ())
        }
        Command::Score {
            config,
            model,
            as_of,
            features,
            out,
            threshold,
            top,
            previous,
        } => {
            let policy = match (threshold, top) {
                (Some(p), _) => pql_score::TierPolicy::threshold(p)?,
                (None, Some(top)) => pql_score::TierPolicy::top(&top)?,
                (None, None) => pql_score::TierPolicy::Model,
            };
            let artifact = load_model(&model)?;
            let input = match (features, config, as_of) {
                (Some(path), _, as_of) => FeatureInput::Table { path, as_of },
                (None, Some(config), Some(as_of)) => FeatureInput::Events {
                    config: Box::new(Config::load(&config)?),
                    as_of,
                },
                _ => anyhow::bail!("give --config and --as-of, or --features"),
            };
            score(ui, &artifact, input, &policy, previous.as_deref(), &out).map(|_| ())
        }
        Command::Explain {
            model,
            account,
            as_of,
            config,
            features,
        } => {
            let artifact = load_model(&model)?;
            let (Some(account), Some(as_of)) = (account, as_of) else {
                print!("{}", text::importances(&artifact));
                return Ok(());
            };
            let input = match (features, config) {
                (Some(path), _) => FeatureInput::Table {
                    path,
                    as_of: Some(as_of),
                },
                (None, Some(config)) => FeatureInput::Events {
                    config: Box::new(Config::load(&config)?),
                    as_of,
                },
                (None, None) => anyhow::bail!("give --config or --features to compute the account's features"),
            };
            let (frame, scorer) = scoring_rows(ui, &artifact, input)?;
            let explanation = scorer.explain(&frame, &account).map_err(|_| {
                anyhow::anyhow!(
                    "account {account:?} has no row as of {as_of}: it is unknown, signed up later, or had \
                     already converted"
                )
            })?;
            print!(
                "{}",
                text::explanation(&account, &as_of.to_string(), &artifact, &explanation)
            );
            Ok(())
        }
        Command::Quickstart { out, config } => quickstart(ui, &config, &out),
        Command::Drift { model, config, as_of } => {
            let artifact = load_model(&model)?;
            let config = Config::load(&config)?;
            let thresholds = config.drift.clone();
            let input = FeatureInput::Events {
                config: Box::new(config),
                as_of,
            };
            let (frame, scorer) = scoring_rows(ui, &artifact, input)?;
            if frame.height() == 0 {
                anyhow::bail!("no eligible accounts as of {as_of}: every account had converted or signed up later");
            }
            print!("{}", text::drift(&scorer.drift(&frame)?, &thresholds));
            Ok(())
        }
        Command::Models { models } => {
            print!("{}", text::registry(&pql_train::registry::Registry::load(&models)?));
            Ok(())
        }
        Command::Check { config } => {
            let config = Config::load(&config)?;
            print!("{}", pql_data::InputSummary::read(&config)?);
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn generate(
    ui: &Ui,
    accounts: u64,
    seed: u64,
    out: &Path,
    format: Format,
    start: NaiveDate,
    weeks: u32,
    horizon_days: u32,
) -> anyhow::Result<()> {
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
    let spinner = ui.spinner("simulating accounts");
    let summary = pql_generate::generate(&params, out)?;
    spinner.finish_and_clear();
    let seconds = summary.elapsed.as_secs_f64();
    ui.result(format!(
        "generated {} accounts, {} users, {} events, {} conversions in {:.1} s ({:.1} M events/s)",
        summary.accounts,
        summary.users,
        summary.events,
        summary.conversions,
        seconds,
        summary.events as f64 / seconds.max(1e-9) / 1e6
    ));
    ui.result(format!(
        "truth: {} eligible (account, as_of) rows; {:.2}% converted within {} days (truth mean {:.2}%)",
        summary.truth_rows,
        100.0 * summary.label_rate,
        horizon_days,
        100.0 * summary.mean_probability
    ));
    let total: u64 = summary.files.iter().map(|(_, size)| size).sum();
    for (path, size) in &summary.files {
        ui.result(format!("  {:>10}  {}", text::human_bytes(*size), path.display()));
    }
    ui.result(format!("  {:>10}  total", text::human_bytes(total)));
    Ok(())
}

/// Reads and prepares the inputs of `snapshots`, with a progress bar over the snapshots that is cleared
/// when the builder is dropped.
fn feature_builder(
    ui: &Ui,
    config: &Config,
    snapshots: &Snapshots,
    levels: Option<&Levels>,
) -> anyhow::Result<FeatureBuilder> {
    let spinner = ui.spinner("reading and preparing the inputs");
    let builder = FeatureBuilder::new(config, snapshots, levels)?;
    spinner.finish_and_clear();
    ui.note(text::report_text(builder.report()).trim_end());
    let bar = ui.bar(builder.snapshot_count(), "computing snapshots");
    Ok(builder.on_snapshot(move || {
        bar.inc(1);
        if bar.position() == bar.length().unwrap_or(0) {
            bar.finish_and_clear();
        }
    }))
}

fn features(
    ui: &Ui,
    config: &Config,
    snapshots: &Snapshots,
    levels: Option<&Levels>,
    out: &Path,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let builder = feature_builder(ui, config, snapshots, levels)?;
    let metadata = vec![
        ("pql.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("pql.input_report".to_string(), serde_json::to_string(builder.report())?),
        ("pql.features".to_string(), serde_json::to_string(builder.defs())?),
    ];
    let written = builder.write(out, &metadata)?;
    ui.result(format!(
        "wrote {} rows ({} labelled, {:.2}% positive) x {} features to {} in {:.1} s",
        written.rows,
        written.labelled,
        100.0 * written.positives as f64 / written.labelled.max(1) as f64,
        builder.defs().len(),
        out.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Where `pql train` gets its rows.
enum TrainingSource {
    /// Every weekly snapshot of the events in `[from, to]` (default: the whole event span).
    Events {
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    },
    /// A table from `pql features`.
    Table(PathBuf),
}

/// Trains and saves a model; returns it with its directory.
fn train(
    ui: &Ui,
    config_path: &Path,
    source: TrainingSource,
    mut params: pql_train::TrainParams,
    out: &Path,
) -> anyhow::Result<(pql_train::Artifact, PathBuf)> {
    let started = Instant::now();
    let config_text =
        std::fs::read_to_string(config_path).with_context(|| format!("cannot read {}", config_path.display()))?;
    let config = Config::load(config_path)?;
    let (frame, defs) = match source {
        TrainingSource::Table(path) => pql_features::read_table(&path)?,
        TrainingSource::Events { from, to } => {
            // Rules are checked against the dictionary before the (long) feature computation.
            let names: Vec<String> = pql_features::describe(&config)?.into_iter().map(|d| d.name).collect();
            for rule in &config.rules {
                pql_train::rules::Rule::parse(&rule.name, &rule.when, &names)?;
            }
            let (first, last) = event_days(&config)?;
            let snapshots = Snapshots::Range {
                from: from.unwrap_or(first),
                to: to.unwrap_or(last),
            };
            let table = feature_builder(ui, &config, &snapshots, None)?.collect()?;
            (table.frame, table.defs)
        }
    };
    let names: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
    let rows = pql_train::matrix::LabelledMatrix::from_table(&frame, &names)?;
    ui.note(format!(
        "training on {} labelled rows x {} features ({} rows without a label yet left out)",
        rows.labels.len(),
        names.len(),
        frame.height() - rows.labels.len()
    ));
    drop(frame);
    params.horizon_days = config.label.horizon_days;
    let rules: Vec<(String, String)> = config.rules.iter().map(|r| (r.name.clone(), r.when.clone())).collect();
    let spinner = ui.spinner("fitting, calibrating and backtesting models");
    let trained = pql_train::train(&rows, &rules, &params)?;
    spinner.finish_and_clear();
    let artifact = pql_train::Artifact::new(
        trained,
        defs,
        &rows,
        &config_text,
        params.seed,
        config.label.horizon_days,
    );
    let dir = artifact.save(out)?;
    let mut registry = pql_train::registry::Registry::load(out)?;
    registry.register(&artifact);
    registry.save(out)?;
    ui.result(text::training_report(&artifact).trim_end());
    let status = if registry.champion.as_deref() == Some(artifact.model_id.as_str()) {
        "the folder's champion"
    } else {
        "a candidate; the champion is unchanged"
    };
    ui.result(format!(
        "\nmodel {} ({}) written to {} in {:.1} s; registered as {status}",
        artifact.model_id,
        artifact.kind,
        dir.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok((artifact, dir))
}

/// Loads a model directory, or with `champion` (or `<folder>/champion`) the champion of the folder's
/// registry (`models` by default).
fn load_model(path: &Path) -> anyhow::Result<pql_train::Artifact> {
    if path.file_name() == Some("champion".as_ref()) && !path.exists() {
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("models"),
        };
        let dir = pql_train::registry::Registry::load(&folder)?.champion_dir(&folder)?;
        return Ok(pql_train::Artifact::load(&dir)?);
    }
    Ok(pql_train::Artifact::load(path)?)
}

/// The first and last day with events.
fn event_days(config: &Config) -> anyhow::Result<(NaiveDate, NaiveDate)> {
    let span = pql_data::InputSummary::read(config)?
        .event_span
        .context("the events table is empty: nothing to train on")?;
    let day = |t: i64| chrono::DateTime::from_timestamp_micros(t).map(|t| t.date_naive());
    Ok((
        day(span.0).context("event timestamps out of range")?,
        day(span.1).context("event timestamps out of range")?,
    ))
}

/// Where scoring gets its feature rows.
enum FeatureInput {
    /// Computed from the config's inputs as of the date.
    Events { config: Box<Config>, as_of: NaiveDate },
    /// Read from a feature table, optionally only one date's rows.
    Table { path: PathBuf, as_of: Option<NaiveDate> },
}

/// The feature rows to score, checked against the model before any heavy work.
fn scoring_rows<'a>(
    ui: &Ui,
    artifact: &'a pql_train::Artifact,
    input: FeatureInput,
) -> anyhow::Result<(polars::prelude::DataFrame, pql_score::Scorer<'a>)> {
    match input {
        FeatureInput::Events { config, as_of } => {
            let levels = pql_features::levels_in(&artifact.features);
            let scorer = pql_score::Scorer::new(artifact, &pql_features::catalog::catalog(&config, &levels))?;
            let table = feature_builder(ui, &config, &Snapshots::One(as_of), Some(&levels))?.collect()?;
            Ok((table.frame, scorer))
        }
        FeatureInput::Table { path, as_of } => {
            let (frame, defs) = pql_features::read_table(&path)?;
            let scorer = pql_score::Scorer::new(artifact, &defs)?;
            let frame = match as_of {
                None => frame,
                Some(date) => {
                    use polars::prelude::*;
                    let instant = date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_micros();
                    frame
                        .lazy()
                        .filter(col("as_of").cast(DataType::Int64).eq(lit(instant)))
                        .collect()?
                }
            };
            Ok((frame, scorer))
        }
    }
}

/// Scores, writes the scores atomically and prints a summary; returns the summary.
fn score(
    ui: &Ui,
    artifact: &pql_train::Artifact,
    input: FeatureInput,
    policy: &pql_score::TierPolicy,
    previous: Option<&Path>,
    out: &Path,
) -> anyhow::Result<pql_score::Summary> {
    let started = Instant::now();
    let previous = previous.map(pql_score::read_previous_pqls).transpose()?;
    let when = match &input {
        FeatureInput::Events { as_of, .. } => format!(" as of {as_of}"),
        FeatureInput::Table { as_of: Some(as_of), .. } => format!(" as of {as_of}"),
        FeatureInput::Table { path, .. } => format!(" in {}", path.display()),
    };
    let thresholds = match &input {
        FeatureInput::Events { config, .. } => config.drift.clone(),
        FeatureInput::Table { .. } => pql_data::config::Drift::default(),
    };
    let (frame, scorer) = scoring_rows(ui, artifact, input)?;
    if frame.height() == 0 {
        anyhow::bail!("no eligible accounts{when}: every account had converted or signed up later");
    }
    let spinner = ui.spinner("scoring");
    let mut scores = scorer.score(&frame, policy)?;
    if let Some(previous) = &previous {
        scores.mark_newly_qualified(previous)?;
    }
    spinner.finish_and_clear();
    let described = policy.describe(&artifact.thresholds);
    let metadata = vec![
        ("pql.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("pql.model_id".to_string(), artifact.model_id.clone()),
        ("pql.tiers".to_string(), described.clone()),
    ];
    pql_data::write_frame(&scores.frame, out, &metadata)?;
    for (feature, psi) in scores.drift.above(thresholds.feature_psi) {
        tracing::warn!(
            "drift: `{feature}` has moved from the training data (PSI {psi:.2} > {}); see pql drift",
            thresholds.feature_psi
        );
    }
    if scores.drift.probability > thresholds.score_psi {
        tracing::warn!(
            "drift: the probabilities have moved from the training data's (PSI {:.2} > {}); see pql drift",
            scores.drift.probability,
            thresholds.score_psi
        );
    }
    ui.result(format!(
        "{}\nmodel {} ({}); {} rows{when} written to {} in {:.1} s",
        text::score_summary(&scores.summary, &described),
        artifact.model_id,
        artifact.kind,
        scores.summary.rows,
        out.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(scores.summary)
}

/// Features, training and scoring on one config, with a summary for a first look.
fn quickstart(ui: &Ui, config_path: &Path, out: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    if !config_path.exists() {
        anyhow::bail!(
            "{} not found: run from the pql repository root, or pass --config",
            config_path.display()
        );
    }
    let config = Config::load(config_path)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let (first, last) = event_days(&config)?;
    // The latest snapshot the data covers: its configured weekday, at or before the day after the last event.
    let weekday = config.snapshots.weekday.to_chrono();
    let latest = (last + chrono::Days::new(1))
        .iter_days()
        .rev()
        .find(|d| d.weekday() == weekday)
        .context("no snapshot day in the data")?;
    ui.result(format!("1/3 features: every {weekday} from {first} to {latest}"));
    let table = out.join("features.parquet");
    features(
        ui,
        &config,
        &Snapshots::Range {
            from: first,
            to: latest,
        },
        None,
        &table,
    )?;
    ui.result("\n2/3 training".to_string());
    let mut params = pql_train::TrainParams::new(config.label.horizon_days);
    params.backtest = 4;
    let (artifact, dir) = train(
        ui,
        config_path,
        TrainingSource::Table(table.clone()),
        params,
        &out.join("models"),
    )?;
    ui.result(format!("\n3/3 scoring the accounts eligible on {latest}"));
    let scores_path = out.join("scores.csv");
    let summary = score(
        ui,
        &artifact,
        FeatureInput::Table {
            path: table.clone(),
            as_of: Some(latest),
        },
        &pql_score::TierPolicy::Model,
        None,
        &scores_path,
    )?;
    let mut top: Vec<(&pql_train::importance::Importance, &pql_features::FeatureDef)> =
        artifact.importances.iter().zip(&artifact.features).collect();
    top.sort_by(|a, b| b.0.permutation.total_cmp(&a.0.permutation));
    let drivers: Vec<String> = top.iter().take(5).map(|(_, def)| def.description.clone()).collect();
    let backtest = artifact.backtest.last();
    ui.result(format!(
        "\nsummary\n  model quality: {}validation ROC AUC {:.3}, PQLs convert {:.1}x as often as average (lift@10%)\n  \
         top drivers: {}\n  PQLs on {latest}: {} of {} eligible accounts (see reason_1..3 in the scores)\n  \
         files: {} (features), {} (model), {} (scores)\n  done in {:.1} s; next: pql explain --model {}",
        backtest
            .map(|b| format!("backtest ROC AUC {:.3} on {}, ", b.metrics.roc_auc, b.as_of))
            .unwrap_or_default(),
        artifact.metrics.roc_auc,
        artifact.metrics.lift_at_10,
        drivers.join("; "),
        summary.hot,
        summary.rows,
        table.display(),
        dir.display(),
        scores_path.display(),
        started.elapsed().as_secs_f64(),
        dir.display()
    ));
    Ok(())
}
