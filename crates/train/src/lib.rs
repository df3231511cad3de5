//! Training of calibrated propensity models on labelled `(account, as_of)` snapshots.
//!
//! So far: [`metrics`], the evaluation measures every model and report uses; [`matrix`], feature tables
//! to standardised `ndarray` matrices; [`logistic`], an L2-regularised logistic regression;
//! [`calibration`] (Platt and isotonic); [`split`], validation by time; and [`select`], the L2 strength
//! chosen on that validation. Metrics, the regression and calibration are checked against scikit-learn.

pub mod calibration;
pub mod logistic;
pub mod matrix;
pub mod metrics;
pub mod select;
pub mod split;
