//! The settings of a fit and why one cannot run.

use serde::{Deserialize, Serialize};

/// Settings of a fit; [`BoostParams::check`] validates them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoostParams {
    /// Factor on every leaf value (shrinkage), in `(0, 1]` usually.
    pub learning_rate: f64,
    /// Leaves per tree, at least 2.
    pub max_leaves: usize,
    /// Rows each side of a split needs, at least 1.
    pub min_leaf_rows: usize,
    /// Hessian sum `Σ p(1 − p)` each side of a split needs.
    pub min_leaf_hessian: f64,
    /// L2 penalty λ on leaf values.
    pub l2: f64,
    /// Bins per feature, 2 to 256.
    pub max_bins: usize,
    /// Trees at most.
    pub max_trees: usize,
    /// Trees without a lower validation log loss before boosting stops (with a validation set).
    pub early_stopping_rounds: usize,
}

impl Default for BoostParams {
    /// LightGBM's defaults for the tree shape (learning rate 0.05, 31 leaves, 20 rows and 1e-3 hessian per
    /// leaf, 255 bins), λ = 1, and up to 1000 trees stopped after 50 without improvement.
    fn default() -> Self {
        BoostParams {
            learning_rate: 0.05,
            max_leaves: 31,
            min_leaf_rows: 20,
            min_leaf_hessian: 1e-3,
            l2: 1.0,
            max_bins: 255,
            max_trees: 1000,
            early_stopping_rounds: 50,
        }
    }
}

impl BoostParams {
    /// Sets the learning rate.
    pub fn learning_rate(mut self, rate: f64) -> Self {
        self.learning_rate = rate;
        self
    }

    /// Sets the leaves per tree.
    pub fn max_leaves(mut self, leaves: usize) -> Self {
        self.max_leaves = leaves;
        self
    }

    /// Sets the rows each leaf needs.
    pub fn min_leaf_rows(mut self, rows: usize) -> Self {
        self.min_leaf_rows = rows;
        self
    }

    /// Sets the hessian each leaf needs.
    pub fn min_leaf_hessian(mut self, hessian: f64) -> Self {
        self.min_leaf_hessian = hessian;
        self
    }

    /// Sets the L2 penalty λ.
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }

    /// Sets the bins per feature.
    pub fn max_bins(mut self, bins: usize) -> Self {
        self.max_bins = bins;
        self
    }

    /// Sets the maximum number of trees.
    pub fn max_trees(mut self, trees: usize) -> Self {
        self.max_trees = trees;
        self
    }

    /// Sets the patience of early stopping, in trees.
    pub fn early_stopping_rounds(mut self, rounds: usize) -> Self {
        self.early_stopping_rounds = rounds;
        self
    }

    /// Validates the settings.
    pub fn check(self) -> Result<ValidBoostParams, BoostError> {
        let finite = |v: f64| v.is_finite() && v >= 0.0;
        let invalid = if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            Some(InvalidSetting::LearningRate(self.learning_rate))
        } else if self.max_leaves < 2 {
            Some(InvalidSetting::MaxLeaves(self.max_leaves))
        } else if self.min_leaf_rows == 0 {
            Some(InvalidSetting::MinLeafRows)
        } else if !finite(self.min_leaf_hessian) || !finite(self.l2) || self.min_leaf_hessian + self.l2 == 0.0 {
            Some(InvalidSetting::LeafHessianAndL2 {
                min_leaf_hessian: self.min_leaf_hessian,
                l2: self.l2,
            })
        } else if !(2..=256).contains(&self.max_bins) {
            Some(InvalidSetting::MaxBins(self.max_bins))
        } else if self.max_trees == 0 || self.early_stopping_rounds == 0 {
            Some(InvalidSetting::NoTrees)
        } else {
            None
        };
        match invalid {
            Some(setting) => Err(BoostError::InvalidParams(setting)),
            None => Ok(ValidBoostParams(self)),
        }
    }
}

/// Settings that passed [`BoostParams::check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidBoostParams(pub(super) BoostParams);

/// Why a fit cannot run.
#[derive(Debug, Clone, PartialEq)]
pub enum BoostError {
    /// A setting is out of range.
    InvalidParams(InvalidSetting),
    /// Training rows and labels differ in number, or there are no rows (or more than `u32::MAX`).
    Shape {
        /// Rows of the feature matrix.
        rows: usize,
        /// Labels.
        labels: usize,
    },
    /// All training labels are equal.
    OneClass,
    /// A training value is NaN or infinite.
    NotFinite {
        /// Its row.
        row: usize,
        /// Its column.
        column: usize,
    },
    /// The validation set's rows and labels differ in number, or there are none.
    ValidationShape {
        /// Rows of its feature matrix.
        rows: usize,
        /// Labels.
        labels: usize,
    },
    /// The validation set has another number of columns than the training rows.
    ValidationColumns {
        /// Its columns.
        columns: usize,
        /// The training rows' columns.
        expected: usize,
    },
    /// A validation value is NaN or infinite.
    ValidationNotFinite {
        /// Its row.
        row: usize,
        /// Its column.
        column: usize,
    },
}

/// A boosted-tree setting out of range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InvalidSetting {
    /// `learning_rate` is not finite and positive.
    LearningRate(f64),
    /// `max_leaves` is below 2.
    MaxLeaves(usize),
    /// `min_leaf_rows` is 0.
    MinLeafRows,
    /// `min_leaf_hessian` or `l2` is negative or not finite, or both are 0.
    LeafHessianAndL2 {
        /// The leaf Hessian minimum.
        min_leaf_hessian: f64,
        /// The L2 penalty on leaf values.
        l2: f64,
    },
    /// `max_bins` is outside 2 to 256.
    MaxBins(usize),
    /// `max_trees` or `early_stopping_rounds` is 0.
    NoTrees,
}

impl std::fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvalidSetting::LearningRate(rate) => write!(f, "learning_rate must be finite and > 0, got {rate}"),
            InvalidSetting::MaxLeaves(leaves) => write!(f, "max_leaves must be at least 2, got {leaves}"),
            InvalidSetting::MinLeafRows => f.write_str("min_leaf_rows must be at least 1"),
            InvalidSetting::LeafHessianAndL2 { min_leaf_hessian, l2 } => write!(
                f,
                "min_leaf_hessian and l2 must be finite and >= 0, and not both 0; got {min_leaf_hessian} and {l2}"
            ),
            InvalidSetting::MaxBins(bins) => write!(f, "max_bins must be 2 to 256, got {bins}"),
            InvalidSetting::NoTrees => f.write_str("max_trees and early_stopping_rounds must be at least 1"),
        }
    }
}

impl std::fmt::Display for BoostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BoostError::InvalidParams(setting) => write!(f, "invalid boosted-tree settings: {setting}"),
            BoostError::Shape { rows, labels } => write!(f, "{rows} feature rows but {labels} labels"),
            BoostError::OneClass => f.write_str("boosted trees need both classes in the training labels"),
            BoostError::NotFinite { row, column } => write!(f, "row {row}, column {column}: the value is not finite"),
            BoostError::ValidationShape { rows, labels } => {
                write!(f, "validation set: {rows} feature rows but {labels} labels")
            }
            BoostError::ValidationColumns { columns, expected } => {
                write!(
                    f,
                    "validation set: {columns} columns, the training rows have {expected}"
                )
            }
            BoostError::ValidationNotFinite { row, column } => {
                write!(f, "validation set: row {row}, column {column}: the value is not finite")
            }
        }
    }
}

impl std::error::Error for BoostError {}
