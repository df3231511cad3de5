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
        let invalid = |message: String| Err(BoostError::InvalidParams(message));
        let finite = |v: f64| v.is_finite() && v >= 0.0;
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return invalid(format!(
                "learning_rate must be finite and > 0, got {}",
                self.learning_rate
            ));
        }
        if self.max_leaves < 2 {
            return invalid(format!("max_leaves must be at least 2, got {}", self.max_leaves));
        }
        if self.min_leaf_rows == 0 {
            return invalid("min_leaf_rows must be at least 1".into());
        }
        if !finite(self.min_leaf_hessian) || !finite(self.l2) || self.min_leaf_hessian + self.l2 == 0.0 {
            return invalid(format!(
                "min_leaf_hessian and l2 must be finite and >= 0, and not both 0; got {} and {}",
                self.min_leaf_hessian, self.l2
            ));
        }
        if !(2..=256).contains(&self.max_bins) {
            return invalid(format!("max_bins must be 2 to 256, got {}", self.max_bins));
        }
        if self.max_trees == 0 || self.early_stopping_rounds == 0 {
            return invalid("max_trees and early_stopping_rounds must be at least 1".into());
        }
        Ok(ValidBoostParams(self))
    }
}

/// Settings that passed [`BoostParams::check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidBoostParams(pub(super) BoostParams);

/// Why a fit cannot run.
#[derive(Debug, Clone, PartialEq)]
pub enum BoostError {
    /// A setting is out of range.
    InvalidParams(String),
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
    /// The validation set does not fit the training rows (shape, columns or a value that is not finite).
    Validation(String),
}

impl std::fmt::Display for BoostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BoostError::InvalidParams(message) => write!(f, "invalid boosted-tree settings: {message}"),
            BoostError::Shape { rows, labels } => write!(f, "{rows} feature rows but {labels} labels"),
            BoostError::OneClass => f.write_str("boosted trees need both classes in the training labels"),
            BoostError::NotFinite { row, column } => write!(f, "row {row}, column {column}: the value is not finite"),
            BoostError::Validation(message) => write!(f, "validation set: {message}"),
        }
    }
}

impl std::error::Error for BoostError {}
