//! The `pql` command: a thin layer that parses arguments, calls the library crates and prints results.
//! Any failure ends with a one-line cause on stderr and exit code 1.

mod text;
mod ui;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use clap::{Args, Parser, Subcommand, ValueEnum};
use pql_data::Config;
use pql_features::{FeatureBuilder, Snapshots, Vocabulary};
use ui::Ui;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        /// The product changes on this date: the free plan's task limit halves, conversion gets likelier
        /// and is driven more by hitting the limit (for drift and retraining tests).
        #[arg(long)]
        shift_on: Option<NaiveDate>,
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
        /// Use this model's columns (its `attribute=level` and per-event features), so the table fits it; refused
        /// when the config gives the model's features another meaning (see `pql score`).
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
        #[command(flatten)]
        training: TrainingArgs,
    },
    /// Score every eligible account as of a date: probability, tier, PQL flag and the top reasons.
    #[command(
        after_help = "Examples:\n  pql score --config data/sample/pql.toml --model models/<model_id> --as-of 2025-06-30 \
        --out scores.parquet\n  \
        pql score --config pql.toml --model models/<model_id> --as-of 2025-07-07 --top 500 --previous \
        scores-2025-06-30.parquet --out scores.csv\n  \
        pql score --model models/<model_id> --features features.parquet --out scores.parquet\n\n\
        Features are computed as of 00:00 UTC of --as-of with the same code and columns (categorical levels, per-event features) as in \
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
        /// Fail, instead of warning, when --as-of is more than a week after the latest event (stale data).
        #[arg(long)]
        strict: bool,
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
    /// Write a self-contained HTML report of a model (and of a scores file) for analysts.
    #[command(after_help = "Examples:\n  pql report --model models/champion --out report.html\n  \
        pql report --model models/<model_id> --scores scores.parquet --out report.html\n\n\
        One HTML file with inline SVG charts, viewable without a network: the model card, validation \
        metrics with ROC, precision-recall, calibration and cumulative-gains charts, feature importances \
        with their spread, partial dependence of the top features, the config's rules beside the model, \
        the backtest, and with --scores the score distribution, tier counts and the most probable accounts \
        with their reasons. Every number is read from the model's files or the scores file.")]
    Report {
        /// The model directory, its model.json, or `champion` (`<folder>/champion`).
        #[arg(long)]
        model: PathBuf,
        /// A scores file from `pql score` (.parquet or .csv) to report on too.
        #[arg(long)]
        scores: Option<PathBuf>,
        /// The HTML file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write pql's features (and a model's scores) as one SQL script for DuckDB or Spark SQL, to run where the
    /// data lives.
    #[command(
        after_help = "Examples:\n  pql sql --config pql.toml --dialect spark --as-of 2025-06-30 --model models/champion \\\n    \
        --table events=lake.events --table accounts=lake.accounts --table conversions=lake.conversions \
        --out score.sql\n  \
        pql sql --config pql.toml --dialect duckdb --from 2025-03-03 --to 2025-06-30 --out features.sql\n  \
        pql sql --model models/champion --dialect duckdb --features-table lake.features\n  \
        pql sql --config pql.toml --dialect spark --input-report --out input_report.sql\n\n\
        The script is generated from the same feature definitions as `pql features` and returns the same rows \
        and columns: one per eligible (account_id, as_of), the label and the features in dictionary order. \
        With --model it keeps them as the temporary view pql_features and adds the model's scores: \
        account_id, as_of, probability (calibrated), tier, is_pql, the top reasons (logistic models) and \
        model_id, most probable first, as `pql score` gives them. --features-table scores a feature table \
        the engine already holds instead. --input-report counts, in one row, the input rows the feature \
        script reads, uses and leaves out by pql's rules (pql features' input report), and the rows pql \
        would refuse, which a warehouse runs on regardless. Input tables default to events, accounts and \
        conversions, with the columns named in the config; timestamps must be TIMESTAMP or DATE columns, read as UTC. \
        Relation names (--table, --features-table) are table, schema.table or catalog.schema.table, each part \
        a letter or _ followed by letters, digits, _ or $; the script quotes every part, so reserved words work. \
        To read files or a query, create a view over them first."
    )]
    Sql {
        /// The pql.toml whose feature definitions and column names the script uses.
        #[arg(long, required_unless_present = "features_table")]
        config: Option<PathBuf>,
        /// The engine the SQL is for.
        #[arg(long, value_enum)]
        dialect: DialectArg,
        /// Add this model's scores (a model directory, its model.json, or `<folder>/champion`).
        #[arg(long, required_unless_present = "config")]
        model: Option<PathBuf>,
        /// One snapshot at 00:00 UTC of this date.
        #[arg(
            long,
            conflicts_with_all = ["from", "to"],
            required_unless_present_any = ["from", "features_table", "input_report"]
        )]
        as_of: Option<NaiveDate>,
        /// First date of a range of weekly snapshots (on the configured weekday).
        #[arg(long, requires = "to")]
        from: Option<NaiveDate>,
        /// Last date of the range.
        #[arg(long, requires = "from")]
        to: Option<NaiveDate>,
        /// The engine's name for an input table, as TABLE=NAME (events, accounts or conversions; NAME a table or
        /// view, as [catalog.][schema.]table); repeatable.
        #[arg(long = "table", value_name = "TABLE=NAME")]
        tables: Vec<String>,
        /// Score this table or view of feature rows ([catalog.][schema.]table) instead of computing features.
        #[arg(long, value_name = "RELATION", conflicts_with_all = ["config", "as_of", "from", "tables"])]
        features_table: Option<String>,
        /// Instead of features: one row counting the input rows the feature script reads and leaves out, and
        /// why, as `pql features` reports them, plus rows pql would refuse (missing ids or times, repeated
        /// account ids).
        #[arg(long, requires = "config", conflicts_with_all = ["model", "as_of", "from", "features_table"])]
        input_report: bool,
        /// Write the SQL to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
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
    /// Weekly retraining: train a challenger on the history known at a date, compare it with the champion on
    /// the same labelled snapshots, and promote it only if it is better by a margin and passes sanity checks.
    #[command(
        after_help = "Example:\n  pql retrain --config pql.toml --models models --as-of 2025-07-07\n\n\
        Runs as it would have on 00:00 UTC of --as-of: snapshots up to that date, labels only where the \
        horizon had closed by then. The challenger is trained as `pql train` does and registered as a \
        candidate. Champion and challenger are then compared on the challenger's backtest snapshots that \
        the champion never trained on: the champion scores them as it is, the challenger by its backtest \
        models (each trained only on the labels known that day), so neither sees its test rows. The \
        challenger is promoted when its log loss is lower by more than --margin and it passes the sanity \
        checks (it has every feature the champion uses, none of them turned constant, calibration error \
        at most --max-ece); otherwise the champion stays and the reason is printed and recorded in the \
        registry. A folder without a champion gets the challenger as champion. Drift of the population \
        from the champion's training data is warned about as in `pql score`."
    )]
    Retrain {
        /// The pql.toml to use.
        #[arg(long)]
        config: PathBuf,
        /// The models folder (its registry names the champion).
        #[arg(long, default_value = "models")]
        models: PathBuf,
        /// Run as of 00:00 UTC of this date (default: the day after the last event).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Relative log-loss improvement the challenger needs (0.01 = 1%).
        #[arg(long, default_value_t = 0.01)]
        margin: f64,
        /// Largest calibration error (ECE) the challenger may have on the comparison snapshots.
        #[arg(long, default_value_t = 0.05)]
        max_ece: f64,
        #[command(flatten)]
        training: TrainingArgs,
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
    #[command(
        after_help = "Examples:\n  pql models --models models\n  pql models --models models --promote <model_id>\n\n\
        `pql train` and `pql retrain` register every model they write; the first model of a folder becomes \
        its champion, which `--model champion` (or `--model <folder>/champion`) selects in `pql score` and \
        `pql explain`. `pql retrain` promotes challengers that beat the champion; --promote does it by hand."
    )]
    Models {
        /// The models folder.
        #[arg(long, default_value = "models")]
        models: PathBuf,
        /// Make this registered model the champion by hand (retires the current one).
        #[arg(long, value_name = "MODEL_ID")]
        promote: Option<String>,
    },
    /// Validate a config and its inputs, and summarise the data under it.
    #[command(after_help = "Example:\n  pql check --config data/sample/pql.toml")]
    Check {
        /// The pql.toml to check.
        #[arg(long)]
        config: PathBuf,
    },
}

/// How to train (shared by `pql train` and `pql retrain`).
#[derive(Debug, Clone, Args)]
struct TrainingArgs {
    /// Model family; auto fits both and keeps the higher validation ROC AUC.
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
    /// Share of unconverted rows each fit sees (e.g. 0.1 on tens of millions of rows); every converted row
    /// is kept, probabilities are corrected, and validation, calibration and backtests read every row.
    #[arg(long, default_value_t = 1.0)]
    negative_rate: f64,
}

impl TrainingArgs {
    /// The training parameters (the horizon comes from the config).
    fn params(&self) -> pql_train::TrainParams {
        let mut params = pql_train::TrainParams::new(0);
        params.choice = match self.model {
            ModelArg::Auto => pql_train::ModelChoice::Auto,
            ModelArg::Logistic => pql_train::ModelChoice::Only(pql_train::ModelKind::Logistic),
            ModelArg::Boosted => pql_train::ModelChoice::Only(pql_train::ModelKind::Boosted),
        };
        params.backtest = self.backtest;
        params.validation_snapshots = self.validation_weeks;
        params.seed = self.seed;
        params.negative_rate = self.negative_rate;
        params
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DialectArg {
    Duckdb,
    Spark,
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
            eprintln!("error: {}", error_text(&err));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, leaving out a cause its error already says (library errors often
/// include their source's message, e.g. `cannot read x: No such file or directory (os error 2)`).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Refuses an output path that names one of the config's inputs, the config itself, or another input of
/// the command: writing it would destroy the data it is computed from.
fn refuse_overwriting(out: &Path, config: Option<&Config>, others: &[&Path]) -> anyhow::Result<()> {
    let Ok(out_file) = out.canonicalize() else {
        return Ok(()); // a path that does not exist yet is no input
    };
    let mut inputs: Vec<PathBuf> = others.iter().map(|p| p.to_path_buf()).collect();
    if let Some(config) = config {
        inputs.push(config.source.clone());
        for table in [
            &config.inputs.events,
            &config.inputs.accounts,
            &config.inputs.conversions,
        ] {
            inputs.extend(pql_data::input::data_files(table).unwrap_or_default());
        }
    }
    if let Some(input) = inputs.iter().find(|p| p.canonicalize().is_ok_and(|p| p == out_file)) {
        anyhow::bail!(
            "--out {} is an input of this command ({}): choose another output path",
            out.display(),
            input.display()
        );
    }
    Ok(())
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
            shift_on,
        } => generate(ui, accounts, seed, &out, format, start, weeks, horizon_days, shift_on),
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
            let vocabulary = match model {
                Some(model) => {
                    // The features are for this model: refused if the config changed what they mean.
                    let artifact = pql_train::Artifact::load(&model)?;
                    pql_score::Scorer::for_config(&artifact, &config)?;
                    Some(Vocabulary::of_defs(&artifact.features))
                }
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
                vocabulary.as_ref(),
                &out.context("--out is required")?,
            )
        }
        Command::Train {
            config,
            out,
            features,
            from,
            to,
            training,
        } => {
            let source = match features {
                Some(path) => TrainingSource::Table(path),
                None => TrainingSource::Events {
                    from,
                    to,
                    known_at: None,
                },
            };
            train(ui, &config, source, training.params(), &out).map(|_| ())
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
            strict,
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
                    strict,
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
                    strict: false,
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
        Command::Report { model, scores, out } => {
            let artifact = load_model(&model)?;
            let scores = match scores {
                Some(path) => Some(
                    pql_report::ScoresSummary::from_frame(&pql_score::read_scores(&path)?)
                        .with_context(|| format!("{}", path.display()))?,
                ),
                None => None,
            };
            let html = pql_report::render(&artifact, scores.as_ref())?;
            pql_data::write_atomically(&out, |file| file.write_all(html.as_bytes()))?;
            ui.result(format!(
                "report of model {} written to {} ({} KiB)",
                artifact.model_id,
                out.display(),
                html.len().div_ceil(1024)
            ));
            Ok(())
        }
        Command::Sql {
            config,
            dialect,
            model,
            as_of,
            from,
            to,
            tables,
            features_table,
            input_report,
            out,
        } => {
            let dialect = match dialect {
                DialectArg::Duckdb => pql_sql::Dialect::DuckDb,
                DialectArg::Spark => pql_sql::Dialect::Spark,
            };
            // The relation names first: they are checked before anything is read.
            let features_table = features_table
                .map(|name| pql_sql::Relation::parse(&name).with_context(|| format!("--features-table {name:?}")))
                .transpose()?;
            let tables = table_names(&tables)?;
            let artifact = model.as_deref().map(load_model).transpose()?;
            let (sql, what) = match (features_table, config) {
                (None, Some(config)) if input_report => {
                    let config = Config::load(&config)?;
                    let sql = pql_sql::input_report_script(&config, &tables, dialect);
                    (sql, "input report SQL".to_string())
                }
                (Some(relation), _) => {
                    let artifact = artifact.context("--features-table needs --model")?;
                    let what = format!("scoring SQL of model {}", artifact.model_id);
                    (pql_sql::scoring_query(&artifact, dialect, &relation), what)
                }
                (None, Some(config)) => {
                    let config = Config::load(&config)?;
                    let snapshots = match (as_of, from, to) {
                        (Some(date), _, _) => Snapshots::One(date),
                        (None, Some(from), Some(to)) => Snapshots::Range { from, to },
                        _ => anyhow::bail!("give --as-of DATE or --from DATE --to DATE"),
                    };
                    let dates = snapshots.dates(&config)?;
                    let defs = match &artifact {
                        Some(artifact) => {
                            pql_score::Scorer::for_config(artifact, &config)?;
                            pql_features::catalog::catalog(&config, &Vocabulary::of_defs(&artifact.features))
                        }
                        None => pql_features::describe_for(&config, &dates).context(
                            "the categorical levels and per-event features come from the inputs, as in `pql \
                             features`, or from a model (--model)",
                        )?,
                    };
                    let script = pql_sql::Script {
                        config: &config,
                        defs: &defs,
                        dates: &dates,
                        tables: &tables,
                        model: artifact.as_ref(),
                    };
                    let what = match &artifact {
                        Some(artifact) => format!("features and scores SQL of model {}", artifact.model_id),
                        None => format!("features SQL ({} features)", defs.len()),
                    };
                    (script.render(dialect), what)
                }
                (None, None) => anyhow::bail!("give --config (features) or --features-table (scores only)"),
            };
            match out {
                Some(path) => {
                    pql_data::write_atomically(&path, |file| file.write_all(sql.as_bytes()))?;
                    ui.result(format!("{what} written to {}", path.display()));
                }
                None => print!("{sql}"),
            }
            Ok(())
        }
        Command::Quickstart { out, config } => quickstart(ui, &config, &out),
        Command::Retrain {
            config,
            models,
            as_of,
            margin,
            max_ece,
            training,
        } => retrain(ui, &config, &models, as_of, &Comparison { margin, max_ece }, &training),
        Command::Drift { model, config, as_of } => {
            let artifact = load_model(&model)?;
            let config = Config::load(&config)?;
            let thresholds = config.drift.clone();
            let input = FeatureInput::Events {
                config: Box::new(config),
                as_of,
                strict: false,
            };
            let (frame, scorer) = scoring_rows(ui, &artifact, input)?;
            if frame.height() == 0 {
                anyhow::bail!("no eligible accounts as of {as_of}: every account had converted or signed up later");
            }
            print!("{}", text::drift(&scorer.drift(&frame)?, &thresholds));
            Ok(())
        }
        Command::Models { models, promote } => {
            let registry = match promote {
                None => pql_train::registry::Registry::load(&models)?,
                Some(id) => {
                    let mut registry = lock_registry(ui, &models)?;
                    registry.promote(&id, "promoted by hand")?;
                    pql_train::Artifact::load(&models.join(&id))?;
                    registry.commit()?
                }
            };
            print!("{}", text::registry(&registry));
            Ok(())
        }
        Command::Check { config } => {
            let config_path = config;
            let config = Config::load(&config_path)?;
            print!("{}", pql_data::InputSummary::read(&config)?);
            let names: Vec<String> = pql_features::describe(&config)?.into_iter().map(|d| d.name).collect();
            for rule in &config.rules {
                pql_train::rules::Rule::parse(&rule.name, &rule.when, &names)
                    .with_context(|| format!("{}: [[rules]]", config_path.display()))?;
            }
            let (report, warnings) = pql_features::inspect(&config)?;
            print!("\n{}", text::report_text(&report));
            for warning in warnings {
                println!("warning: {warning}");
            }
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
    shift_on: Option<NaiveDate>,
) -> anyhow::Result<()> {
    let mut params = pql_generate::GeneratorParams::new(accounts);
    if let Some(date) = shift_on {
        params = params.shift_on(date);
    }
    let params = params
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
    vocabulary: Option<&Vocabulary>,
) -> anyhow::Result<FeatureBuilder> {
    let spinner = ui.spinner("reading and preparing the inputs");
    let builder = FeatureBuilder::new(config, snapshots, vocabulary)?;
    spinner.finish_and_clear();
    ui.note(text::report_text(builder.report()).trim_end());
    for warning in builder.warnings() {
        tracing::warn!("{warning}");
    }
    if builder.range_count() > 1 {
        ui.note(format!(
            "prepared in {} account ranges ([inputs] events_per_range = {}), to bound memory",
            builder.range_count(),
            config.inputs.events_per_range
        ));
    }
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
    vocabulary: Option<&Vocabulary>,
    out: &Path,
) -> anyhow::Result<()> {
    let started = Instant::now();
    refuse_overwriting(out, Some(config), &[])?;
    let builder = feature_builder(ui, config, snapshots, vocabulary)?;
    let written = builder.write(out)?;
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
    /// Every weekly snapshot of the events in `[from, to]` (default: the whole event span), labelled with
    /// what was known at `known_at` (default: the data's end).
    Events {
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        known_at: Option<NaiveDate>,
    },
    /// A table from `pql features`.
    Table(PathBuf),
}

/// Locks the registry of `models` to change it, saying on stderr when another run holds the lock.
fn lock_registry(ui: &Ui, models: &Path) -> anyhow::Result<pql_train::registry::LockedRegistry> {
    let waiting = |lock: &Path| {
        ui.note(format!(
            "waiting for {}: another pql run is changing the registry of {}",
            lock.display(),
            models.display()
        ));
    };
    Ok(pql_train::registry::Registry::lock(models, waiting)?)
}

/// Cells of a feature table read into memory at a time as `f64` while the training matrix is filled.
const READ_CELLS: usize = 1 << 23;

/// The labelled rows of a feature table as a training matrix, its dictionary and how many rows have no
/// label yet. The key columns are read first; at a negative rate below 1 only the rows some fit or
/// evaluation needs are kept ([`pql_train::training::rows_to_read`]); then a few feature columns at a time
/// fill the `f32` matrix, so the table is never held whole as `f64`.
fn read_labelled(
    path: &Path,
    params: &pql_train::TrainParams,
) -> anyhow::Result<(pql_train::matrix::LabelledMatrix, Vec<pql_features::FeatureDef>, usize)> {
    use polars::prelude::NewChunkedArray;
    let table = pql_features::StoredTable::open(path)?;
    let keys = table.keys()?;
    let unlabelled = keys.column("label").map(|label| label.null_count()).unwrap_or(0);
    // Each batch is read for every row of the table, then filtered.
    let batch = (READ_CELLS / keys.height().max(1)).max(1);
    let kept = (params.negative_rate < 1.0).then(|| {
        polars::prelude::BooleanChunked::from_slice("kept".into(), &pql_train::training::rows_to_read(&keys, params))
    });
    let keys = match &kept {
        Some(kept) => keys.filter(kept)?,
        None => keys,
    };
    let names: Vec<String> = table.defs.iter().map(|d| d.name.clone()).collect();
    let mut matrix = pql_train::matrix::MatrixBuilder::new(&keys, &names)?;
    for batch in names.chunks(batch) {
        matrix.fill(&table.columns(batch, kept.as_ref())?)?;
    }
    Ok((matrix.finish()?, table.defs, unlabelled))
}

/// Trains, saves and registers a model; returns it with its directory and the registry it was added to.
fn train(
    ui: &Ui,
    config_path: &Path,
    source: TrainingSource,
    mut params: pql_train::TrainParams,
    out: &Path,
) -> anyhow::Result<(pql_train::Artifact, PathBuf, pql_train::registry::Registry)> {
    let started = Instant::now();
    let config_text =
        std::fs::read_to_string(config_path).with_context(|| format!("cannot read {}", config_path.display()))?;
    let config = Config::load(config_path)?;
    params.horizon_days = config.label.horizon_days;
    let (rows, defs, unlabelled) = match source {
        TrainingSource::Table(path) => read_labelled(&path, &params)?,
        TrainingSource::Events { from, to, known_at } => {
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
            let mut builder = feature_builder(ui, &config, &snapshots, None)?;
            if let Some(date) = known_at {
                builder = builder.known_at(date);
            }
            let table = builder.collect()?;
            let names: Vec<String> = table.defs.iter().map(|d| d.name.clone()).collect();
            let rows = pql_train::matrix::LabelledMatrix::from_table(&table.frame, &names)?;
            let unlabelled = table.frame.height() - rows.labels.len();
            (rows, table.defs, unlabelled)
        }
    };
    let names: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
    let mut ruled: Vec<&str> = Vec::new();
    for rule in &config.rules {
        let rule = pql_train::rules::Rule::parse(&rule.name, &rule.when, &names)?;
        ruled.extend(rule.columns().map(|j| names[j].as_str()));
    }
    let (rows, constant) = rows.without_constant_columns(&ruled);
    if !constant.is_empty() {
        ui.note(format!(
            "left out {} features with one value on every labelled row: {}",
            constant.len(),
            constant.join(", ")
        ));
    }
    ui.note(format!(
        "training on {} labelled rows x {} features ({} rows without a label yet left out)",
        rows.labels.len(),
        rows.names.len(),
        unlabelled
    ));
    if params.negative_rate < 1.0 {
        ui.note(format!(
            "each fit keeps every converted row and {:.0}% of the others (--negative-rate {}; a feature table \
             is read for those rows only); validation, calibration and backtests read every row",
            100.0 * params.negative_rate,
            params.negative_rate
        ));
    }
    let rules: Vec<(String, String)> = config.rules.iter().map(|r| (r.name.clone(), r.when.clone())).collect();
    let spinner = ui.spinner("fitting, calibrating and backtesting models");
    let trained = pql_train::train(&rows, &rules, &params)?;
    spinner.finish_and_clear();
    let artifact = pql_train::Artifact::new(
        trained,
        defs,
        &rows,
        &config_text,
        pql_features::Roles::of(&config),
        params.seed,
        config.label.horizon_days,
    );
    let dir = artifact.save(out)?;
    let mut registry = lock_registry(ui, out)?;
    registry.register(&artifact);
    let registry = registry.commit()?;
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
    Ok((artifact, dir, registry))
}

/// How `pql retrain` judges a challenger.
struct Comparison {
    /// Relative log-loss improvement needed.
    margin: f64,
    /// Largest calibration error allowed.
    max_ece: f64,
}

/// `pql retrain`: a challenger trained on what was known at `as_of`, compared with the champion on the
/// backtest snapshots the champion never saw, promoted or not.
fn retrain(
    ui: &Ui,
    config_path: &Path,
    models: &Path,
    as_of: Option<NaiveDate>,
    comparison: &Comparison,
    training: &TrainingArgs,
) -> anyhow::Result<()> {
    use pql_train::registry::{decide, sanity_problems, Decision, Evaluation, Registry};
    let config = Config::load(config_path)?;
    let as_of = match as_of {
        Some(date) => date,
        None => event_days(&config)?.1 + chrono::Days::new(1),
    };
    // The champion the challenger is compared with: when another run changes it meanwhile, nothing is
    // promoted (checked under the registry's lock before writing the decision).
    let champion = match Registry::load(models)?.champion {
        Some(id) => Some(pql_train::Artifact::load(&models.join(id))?),
        None => None,
    };
    let source = TrainingSource::Events {
        from: None,
        to: Some(as_of),
        known_at: Some(as_of),
    };
    let (challenger, _, registered) = train(ui, config_path, source, training.params(), models)?;
    let Some(champion) = champion else {
        if registered.champion.as_deref() == Some(challenger.model_id.as_str()) {
            ui.result(format!("{} is the folder's first champion", challenger.model_id));
        } else {
            let mut registry = lock_registry(ui, models)?;
            let note = champion_changed(None, registry.champion.as_deref());
            registry.annotate(&challenger.model_id, &note);
            registry.commit()?;
            ui.result(format!("{} {note}", challenger.model_id));
        }
        return Ok(());
    };
    if champion.model_id == challenger.model_id {
        ui.result("the challenger is the champion itself (same data and settings): nothing to compare");
        return Ok(());
    }

    // The champion on the population as of today (drift) and on the snapshots whose horizon starts after
    // every label it learned from closed: an earlier snapshot shares conversions with its training rows.
    let learned_until = champion.training.window.last.parse::<NaiveDate>()?
        + chrono::Days::new(u64::from(champion.training.horizon_days));
    let mut newer = Vec::new();
    let mut dates = Vec::new();
    for row in &challenger.backtest {
        let date: NaiveDate = row.as_of.parse()?;
        if date >= learned_until {
            newer.push(row);
            dates.push(date);
        }
    }
    let champion_eval = match champion_on(ui, &champion, &config, &dates, as_of)? {
        Ok(evaluation) => evaluation,
        Err(mismatch) => {
            ui.result(format!(
                "kept champion {}: it cannot score this config's data ({mismatch}); review the challenger \
                 {} and promote it with `pql models --models {} --promote {}`",
                champion.model_id,
                challenger.model_id,
                models.display(),
                challenger.model_id
            ));
            return Ok(());
        }
    };
    let decision = match champion_eval {
        None => Decision::Keep(format!(
            "none of the challenger's backtest snapshots starts after the champion's labels ended \
             ({learned_until}), so there is nothing fair to compare on yet (raise --backtest, or wait for \
             labels)"
        )),
        Some(champion_eval) => {
            let pooled: Vec<(usize, f64, f64)> = newer
                .iter()
                .map(|b| (b.metrics.rows, b.metrics.log_loss, b.metrics.ece))
                .collect();
            let challenger_eval = Evaluation::pool(&pooled);
            let problems = sanity_problems(&champion, &challenger, &challenger_eval, comparison.max_ece);
            decide(&champion_eval, &challenger_eval, comparison.margin, &problems)
        }
    };
    let mut registry = lock_registry(ui, models)?;
    if registry.champion.as_deref() != Some(champion.model_id.as_str()) {
        let note = champion_changed(Some(&champion.model_id), registry.champion.as_deref());
        registry.annotate(&challenger.model_id, &note);
        registry.commit()?;
        ui.result(format!("{} {note}", challenger.model_id));
        return Ok(());
    }
    match &decision {
        Decision::Promote(why) => {
            registry.promote(&challenger.model_id, why)?;
            registry.commit()?;
            ui.result(format!("promoted {} to champion: {why}", challenger.model_id));
        }
        Decision::Keep(why) => {
            registry.annotate(&challenger.model_id, &format!("not promoted: {why}"));
            registry.commit()?;
            ui.result(format!("kept champion {}: {why}", champion.model_id));
        }
    }
    Ok(())
}

/// The note of a challenger compared with champion `before` (or with none) when another run made `now`
/// the champion meanwhile.
fn champion_changed(before: Option<&str>, now: Option<&str>) -> String {
    format!(
        "not promoted: the champion changed from {} to {} during this run; rerun to compare",
        before.unwrap_or("none"),
        now.unwrap_or("none")
    )
}

/// The champion's metrics pooled over the labelled snapshots from the first to the last of `dates` (`None`
/// without dates), after warning about drift of the population eligible at `as_of`; or why it cannot score
/// this config's data.
fn champion_on(
    ui: &Ui,
    champion: &pql_train::Artifact,
    config: &Config,
    dates: &[NaiveDate],
    as_of: NaiveDate,
) -> anyhow::Result<Result<Option<pql_train::registry::Evaluation>, String>> {
    let vocabulary = Vocabulary::of_defs(&champion.features);
    let scorer = match pql_score::Scorer::for_config(champion, config) {
        Ok(scorer) => scorer,
        Err(mismatch) => return Ok(Err(mismatch.to_string())),
    };
    let today = feature_builder(ui, config, &Snapshots::One(as_of), Some(&vocabulary))?.collect()?;
    if today.frame.height() > 0 {
        warn_drift(&scorer.drift(&today.frame)?, &config.drift);
    }
    let (Some(&from), Some(&to)) = (dates.first(), dates.last()) else {
        return Ok(Ok(None));
    };
    let builder = feature_builder(ui, config, &Snapshots::Range { from, to }, Some(&vocabulary))?.known_at(as_of);
    let rows = pql_train::matrix::LabelledMatrix::from_table(&builder.collect()?.frame, &champion.feature_names())?;
    let mut dates = rows.as_of.clone();
    dates.dedup(); // the rows are ordered by snapshot
    let mut snapshots = Vec::new();
    for date in dates {
        let rows = rows.snapshots(|t| t == date);
        let metrics = pql_train::metrics::Metrics::evaluate(&rows.labels, &champion.predict(rows.x.view()))?;
        snapshots.push((metrics.rows, metrics.log_loss, metrics.ece));
    }
    Ok(Ok(
        (!snapshots.is_empty()).then(|| pql_train::registry::Evaluation::pool(&snapshots))
    ))
}

/// Warns about every feature and the probability whose PSI is above the thresholds.
fn warn_drift(drift: &pql_score::drift::Drift, thresholds: &pql_data::config::Drift) {
    for (feature, psi) in drift.above(thresholds.feature_psi) {
        tracing::warn!(
            "drift: `{feature}` has moved from the training data (PSI {psi:.2} > {}); see pql drift",
            thresholds.feature_psi
        );
    }
    if drift.probability > thresholds.score_psi {
        tracing::warn!(
            "drift: the probabilities have moved from the training data's (PSI {:.2} > {}); see pql drift",
            drift.probability,
            thresholds.score_psi
        );
    }
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

/// The engine's input tables from `--table TABLE=NAME` options.
fn table_names(options: &[String]) -> anyhow::Result<pql_sql::Tables> {
    let mut tables = pql_sql::Tables::default();
    for option in options {
        let (table, name) = option
            .split_once('=')
            .filter(|(_, name)| !name.trim().is_empty())
            .with_context(|| format!("--table {option:?}: give TABLE=NAME, e.g. events=lake.events"))?;
        let slot = match table.trim() {
            "events" => &mut tables.events,
            "accounts" => &mut tables.accounts,
            "conversions" => &mut tables.conversions,
            other => anyhow::bail!("--table {option:?}: no input table {other:?} (events, accounts or conversions)"),
        };
        *slot = pql_sql::Relation::parse(name.trim()).with_context(|| format!("--table {option:?}"))?;
    }
    Ok(tables)
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
    /// Computed from the config's inputs as of the date; `strict` fails on stale data instead of warning.
    Events {
        config: Box<Config>,
        as_of: NaiveDate,
        strict: bool,
    },
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
        FeatureInput::Events { config, as_of, strict } => {
            let vocabulary = Vocabulary::of_defs(&artifact.features);
            let scorer = pql_score::Scorer::for_config(artifact, &config)?;
            let builder = feature_builder(ui, &config, &Snapshots::One(as_of), Some(&vocabulary))?;
            check_fresh(builder.latest_event(), as_of, strict)?;
            let table = builder.collect()?;
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

/// Days after the latest event beyond which a snapshot is stale.
const STALE_AFTER_DAYS: i64 = 7;

/// Warns (or with `strict`, fails) when `as_of` is more than [`STALE_AFTER_DAYS`] after the latest event:
/// every account would look as if it had gone quiet, because the data stops.
fn check_fresh(latest: Option<chrono::DateTime<chrono::Utc>>, as_of: NaiveDate, strict: bool) -> anyhow::Result<()> {
    let Some(latest) = latest else {
        return Ok(());
    };
    let snapshot = as_of.and_time(chrono::NaiveTime::MIN).and_utc();
    let days = (snapshot - latest).num_days();
    if days <= STALE_AFTER_DAYS {
        return Ok(());
    }
    let message = format!(
        "--as-of {as_of} is {days} days after the latest event ({}): every account would look inactive because \
         the data stops; export fresher events or score an earlier date",
        latest.format("%Y-%m-%d %H:%M UTC")
    );
    if strict {
        anyhow::bail!("{message}");
    }
    tracing::warn!("stale data: {message} (--strict makes this an error)");
    Ok(())
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
    match &input {
        FeatureInput::Events { config, .. } => {
            refuse_overwriting(out, Some(config), &previous.into_iter().collect::<Vec<_>>())?
        }
        FeatureInput::Table { path, .. } => refuse_overwriting(
            out,
            None,
            &[path.as_path()].into_iter().chain(previous).collect::<Vec<_>>(),
        )?,
    }
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
        (
            pql_features::VERSION_KEY.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        ("pql.model_id".to_string(), artifact.model_id.clone()),
        ("pql.tiers".to_string(), described.clone()),
    ];
    pql_data::write_frame(&scores.frame, out, &metadata)?;
    warn_drift(&scores.drift, &thresholds);
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
    let (artifact, dir, _) = train(
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
