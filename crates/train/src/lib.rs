//! Training of calibrated propensity models on labelled `(account, as_of)` snapshots.
//!
//! So far: [`metrics`], the evaluation measures every model and report uses, and [`logistic`], an
//! L2-regularised logistic regression; both are checked against scikit-learn.

pub mod logistic;
pub mod metrics;
