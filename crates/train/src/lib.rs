//! Training of calibrated propensity models on labelled `(account, as_of)` snapshots.
//!
//! So far: [`metrics`], the evaluation measures every model and report uses, [`logistic`], an
//! L2-regularised logistic regression, and [`calibration`] (Platt and isotonic); all are checked against
//! scikit-learn.

pub mod calibration;
pub mod logistic;
pub mod metrics;
