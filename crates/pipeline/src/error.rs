//! Why a workflow failed: the library crates' errors, and the workflows' own.

use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};

/// Why a workflow failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The config cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] pql_data::ConfigError),
    /// An input table cannot be read or breaks the data contract.
    #[error(transparent)]
    Input(#[from] pql_data::InputError),
    /// An output file cannot be written.
    #[error(transparent)]
    Output(#[from] pql_data::OutputError),
    /// Features cannot be computed, written or read.
    #[error(transparent)]
    Features(#[from] pql_features::FeatureError),
    /// A model cannot be trained.
    #[error(transparent)]
    Train(#[from] pql_train::TrainError),
    /// A feature table cannot become a matrix.
    #[error(transparent)]
    Matrix(#[from] pql_train::matrix::MatrixError),
    /// Metrics cannot be computed.
    #[error(transparent)]
    Metrics(#[from] pql_train::metrics::MetricsError),
    /// A model or a registry cannot be saved, loaded or changed.
    #[error(transparent)]
    Model(#[from] pql_train::ArtifactError),
    /// A model cannot score these rows.
    #[error(transparent)]
    Score(#[from] pql_score::ScoreError),
    /// The report cannot be drawn.
    #[error(transparent)]
    Report(#[from] pql_report::ReportError),
    /// A table operation failed.
    #[error(transparent)]
    Compute(#[from] polars::prelude::PolarsError),
    /// A file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A folder cannot be created.
    #[error("cannot create {}: {source}", path.display())]
    Create {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A `[[rules]]` entry of the config cannot be used.
    #[error("{}: [[rules]]: {source}", config.display())]
    Rule {
        /// The config.
        config: PathBuf,
        /// Why.
        source: pql_train::rules::RuleError,
    },
    /// A scores file cannot be reported on.
    #[error("{}: {source}", path.display())]
    Scores {
        /// The scores file.
        path: PathBuf,
        /// Why.
        source: pql_report::ReportError,
    },
    /// The dictionary of a features script needs the inputs (or a model).
    #[error(
        "the categorical levels and per-event features come from the inputs, as in `pql features`, or from a \
         model (--model): {0}"
    )]
    SqlDictionary(pql_features::FeatureError),
    /// The output path names an input.
    #[error("--out {} is an input of this command ({}): choose another output path", out.display(), input.display())]
    OutputIsInput {
        /// The output path.
        out: PathBuf,
        /// The input it names.
        input: PathBuf,
    },
    /// The events table is empty.
    #[error("the events table is empty: nothing to train on")]
    NoEvents,
    /// An event time is beyond the calendar.
    #[error("event timestamp {0} (microseconds since 1970) is out of range")]
    EventTimeOutOfRange(i64),
    /// No snapshot weekday within the data.
    #[error("no snapshot day in the data")]
    NoSnapshotDay,
    /// The config file does not exist.
    #[error("{} not found: run from the pql repository root, or pass --config", .0.display())]
    NoConfig(PathBuf),
    /// No account is eligible in the rows to score.
    #[error("no eligible accounts {0}: every account had converted or signed up later")]
    NoEligibleAccounts(Scope),
    /// The account to explain has no row.
    #[error("account {account:?} has no row {scope}: it is unknown, signed up later, or had already converted")]
    NoAccountRow {
        /// The account id.
        account: String,
        /// Which rows were searched.
        scope: Scope,
    },
    /// The snapshot is too long after the latest event.
    #[error(
        "--as-of {as_of} is {days} days after the latest event ({}): every account would look inactive \
         because the data stops; export fresher events or score an earlier date",
        latest.format("%Y-%m-%d %H:%M UTC")
    )]
    Stale {
        /// The snapshot date.
        as_of: NaiveDate,
        /// Days from the latest event to the snapshot.
        days: i64,
        /// The latest event.
        latest: DateTime<Utc>,
    },
    /// A model's file holds a date that does not parse.
    #[error("model {model_id}: {value:?} is not a date (YYYY-MM-DD)")]
    ModelDate {
        /// The model.
        model_id: String,
        /// The text.
        value: String,
    },
}

/// Which feature rows a workflow read, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The rows of one snapshot date.
    AsOf(NaiveDate),
    /// Every row of a feature table.
    Table(PathBuf),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::AsOf(date) => write!(f, "as of {date}"),
            Scope::Table(path) => write!(f, "in {}", path.display()),
        }
    }
}
