//! Why training failed, with the rows and the fit it failed on as values.

use std::fmt;

use crate::boost::BoostError;
use crate::logistic::LogisticError;
use crate::matrix::MatrixError;
use crate::metrics::MetricsError;
use crate::model::ModelKind;
use crate::rules::RuleError;
use crate::select::SelectError;
use crate::split::{date, SplitError};

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The table has no labelled rows.
    #[error("the feature table has no labelled rows: every snapshot's horizon reaches past the end of the data")]
    NoLabelledRows,
    /// The feature table cannot become a matrix.
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    /// No time split exists.
    #[error("{stage}: {reason}")]
    Split {
        /// Which split.
        stage: Stage,
        /// Why (part of this message, not a separate cause, so it is printed once).
        reason: SplitError,
    },
    /// A part of the rows has one class only.
    #[error(
        "{rows_of} ({rows} rows) hold {positives} converted rows; a model needs both converted and unconverted rows"
    )]
    OneClass {
        /// Which rows.
        rows_of: Rows,
        /// Rows.
        rows: usize,
        /// Converted rows.
        positives: usize,
    },
    /// Too few positives to calibrate.
    #[error(
        "{rows_of} hold {positives} converted rows; calibration needs at least {needed} \
         (use more validation snapshots with --validation-weeks, or more accounts)"
    )]
    TooFewPositives {
        /// Which rows.
        rows_of: Rows,
        /// Converted rows.
        positives: usize,
        /// Needed.
        needed: usize,
    },
    /// A model fit failed.
    #[error("{kind} model: {reason}")]
    Fit {
        /// The family.
        kind: ModelKind,
        /// Why (part of this message).
        reason: FitError,
    },
    /// A rule cannot be parsed.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The negative rate is not a share.
    #[error("the negative rate must be above 0 and at most 1, got {0}")]
    NegativeRate(f64),
    /// The label horizon is zero days.
    #[error("the label horizon must be at least one day")]
    NoHorizon,
    /// Fewer than one validation snapshot.
    #[error("at least one validation snapshot is needed")]
    NoValidation,
}

/// Which run of the training procedure: the main one, or the one of a backtest snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The model's own split (validated on the latest labelled snapshots).
    Main,
    /// The backtest of the snapshot at `as_of` (μs since the epoch).
    Backtest {
        /// The backtest snapshot.
        as_of: i64,
    },
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Main => f.write_str("validation"),
            Stage::Backtest { as_of } => write!(f, "backtest as of {}", date(*as_of)),
        }
    }
}

/// Which rows a check refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// The snapshots a stage fits on.
    Training(Stage),
    /// The snapshots a stage validates and calibrates on.
    Validation(Stage),
    /// A backtest's own snapshot, at `as_of`.
    Test {
        /// The backtest snapshot.
        as_of: i64,
    },
}

impl fmt::Display for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rows::Training(stage) => write!(f, "the {stage} split's training snapshots"),
            Rows::Validation(stage) => write!(f, "the {stage} snapshots"),
            Rows::Test { as_of } => write!(f, "backtest as of {}", date(*as_of)),
        }
    }
}

/// Why a model fit failed.
#[derive(Debug)]
pub enum FitError {
    /// The logistic regression.
    Logistic(LogisticError),
    /// The choice of its L2 strength.
    Select(SelectError),
    /// The boosted trees.
    Boost(BoostError),
    /// Platt calibration of the validation scores.
    Platt(LogisticError),
    /// The metrics of its scores.
    Metrics(MetricsError),
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Logistic(e) => e.fmt(f),
            FitError::Select(e) => e.fmt(f),
            FitError::Boost(e) => e.fmt(f),
            FitError::Platt(e) => write!(f, "Platt calibration: {e}"),
            FitError::Metrics(e) => e.fmt(f),
        }
    }
}
