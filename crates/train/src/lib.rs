//! Training of calibrated propensity models on labelled `(account, as_of)` snapshots.
//!
//! [`training::train`] runs the whole procedure (split by time, settings chosen on validation,
//! calibration, refit, backtest, importances, rule baselines) and [`artifact::Artifact`] stores the result
//! as `models/<model_id>/`. The parts: [`matrix`] (feature tables to `ndarray` matrices), [`split`]
//! (validation by time), [`logistic`] and [`select`] (L2 logistic regression and its penalty), [`boost`]
//! (gradient-boosted trees), [`model`] (either, as plain numbers), [`explain`] (per-row contributions),
//! [`calibration`] (Platt and isotonic), [`check`] (a loaded model's fields), [`metrics`], [`importance`] and [`rules`]; [`profile`] keeps the
//! training distributions for drift checks; [`registry`] lists the models of a folder and names the champion. Metrics, the regression and calibration are checked against
//! scikit-learn.

pub mod artifact;
pub mod boost;
pub mod calibration;
pub mod check;
pub mod error;
pub mod explain;
pub mod importance;
pub mod logistic;
pub mod matrix;
pub mod metrics;
pub mod model;
pub mod profile;
pub mod registry;
pub mod rules;
pub mod select;
pub mod split;
pub mod training;

pub use artifact::{Artifact, ArtifactError};
pub use error::TrainError;
pub use model::{ModelChoice, ModelKind};
pub use training::{train, TrainParams, Trained, ValidTrainParams};
