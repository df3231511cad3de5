//! The command line: every subcommand and option of `pql`, parsed by clap.

use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use pql_features::Snapshots;

/// pql: product-qualified-lead propensity scoring from product event histories.
#[derive(Debug, Parser)]
#[command(
    name = "pql",
    version,
    about,
    long_about = None,
    after_help = "Start with `pql quickstart`: it runs features, training and scoring on the bundled sample."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print nothing but errors (no progress, notes, drift warnings or summaries).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log what happens on stderr: -v info, -vv debug, -vvv trace.
    #[arg(long, short, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
        start: NaiveDate,
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
        #[command(flatten)]
        snapshots: SnapshotArgs,
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
        from: Option<NaiveDate>,
        /// Last snapshot date considered (default: the last event's date).
        #[arg(long)]
        to: Option<NaiveDate>,
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
        #[command(flatten)]
        snapshots: SnapshotArgs,
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
        are fair to both: labelled after the champion's labels ended, and with a backtest model that \
        learnt from a snapshot the champion never saw. The champion scores them as it is, the challenger \
        by its backtest models (each trained only on the labels known that day), so neither sees its test \
        rows; without a fair snapshot the champion stays and the reason says from when one exists. The \
        challenger is promoted when its log loss is lower by more than --margin and it passes the sanity \
        checks (it has every feature the champion uses, none of them turned constant, calibration error \
        at most --max-ece); otherwise the champion stays and the reason is printed and recorded in the \
        registry. A folder without a champion gets the challenger as champion. Drift of the population \
        from the champion's training data is warned about as in `pql score`. --json prints the outcome \
        (promoted, kept, why, the comparison) as one JSON object for schedulers; see docs/retraining.md."
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
        /// Print the outcome as one JSON object on stdout (outcome, reason, models, comparison, drift)
        /// instead of the training report and a sentence.
        #[arg(long)]
        json: bool,
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

/// The snapshot dates of `pql features` and `pql sql`: one date, or a weekly range.
#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// One snapshot at 00:00 UTC of this date.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    as_of: Option<NaiveDate>,
    /// First date of a range of weekly snapshots (on the configured weekday).
    #[arg(long, requires = "to")]
    from: Option<NaiveDate>,
    /// Last date of the range.
    #[arg(long, requires = "from")]
    to: Option<NaiveDate>,
}

impl SnapshotArgs {
    /// The snapshots asked for, if any.
    pub fn snapshots(&self) -> Option<Snapshots> {
        match (self.as_of, self.from, self.to) {
            (Some(date), _, _) => Some(Snapshots::One(date)),
            (None, Some(from), Some(to)) => Some(Snapshots::Range { from, to }),
            _ => None,
        }
    }
}

/// How to train (shared by `pql train` and `pql retrain`).
#[derive(Debug, Clone, Args)]
pub struct TrainingArgs {
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
    /// The training parameters (checked with the config's horizon by the workflow).
    pub fn params(&self) -> pql_train::TrainParams {
        pql_train::TrainParams {
            choice: match self.model {
                ModelArg::Auto => pql_train::ModelChoice::Auto,
                ModelArg::Logistic => pql_train::ModelChoice::Only(pql_train::ModelKind::Logistic),
                ModelArg::Boosted => pql_train::ModelChoice::Only(pql_train::ModelKind::Boosted),
            },
            backtest: self.backtest,
            validation_snapshots: self.validation_weeks,
            seed: self.seed,
            negative_rate: self.negative_rate,
            ..Default::default()
        }
    }
}

/// The engine of `pql sql`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DialectArg {
    Duckdb,
    Spark,
}

impl From<DialectArg> for pql_sql::Dialect {
    fn from(dialect: DialectArg) -> Self {
        match dialect {
            DialectArg::Duckdb => pql_sql::Dialect::DuckDb,
            DialectArg::Spark => pql_sql::Dialect::Spark,
        }
    }
}

/// The model family of `--model`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelArg {
    Auto,
    Logistic,
    Boosted,
}

/// The table format of `pql generate`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Parquet,
    Csv,
}

impl From<Format> for pql_generate::OutputFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Parquet => pql_generate::OutputFormat::Parquet,
            Format::Csv => pql_generate::OutputFormat::Csv,
        }
    }
}

/// The engine's input tables from `--table TABLE=NAME` options.
pub fn tables(options: &[String]) -> anyhow::Result<pql_sql::Tables> {
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

/// The tier policy of `--threshold` or `--top` (the model's own without either).
pub fn tier_policy(threshold: Option<f64>, top: Option<&str>) -> anyhow::Result<pql_score::TierPolicy> {
    Ok(match (threshold, top) {
        (Some(p), _) => pql_score::TierPolicy::threshold(p)?,
        (None, Some(top)) => pql_score::TierPolicy::top(top)?,
        (None, None) => pql_score::TierPolicy::Model,
    })
}
