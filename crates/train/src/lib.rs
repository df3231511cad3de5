//! Training of calibrated propensity models on labelled `(account, as_of)` snapshots.
//!
//! So far: [`metrics`], the evaluation measures every model and report uses, checked against
//! scikit-learn.

pub mod metrics;
