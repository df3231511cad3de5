//! A fitted propensity model of either family as plain numbers (a standardised dot product, or a sum of
//! trees), the settings that produce one, and the families to choose from.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::boost::{BoostParams, Boosted};
use crate::check::{self, FieldError};
use crate::error::FitError;
use crate::logistic::{sigmoid, LogisticParams};
use crate::matrix::{signed_log1p, FeatureColumns, LabelledMatrix, Standardizer, Value};
use rayon::prelude::*;

/// A model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// L2-regularised logistic regression on standardised features.
    Logistic,
    /// Gradient-boosted trees.
    Boosted,
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::Logistic => "logistic",
            ModelKind::Boosted => "boosted",
        })
    }
}

/// What `pql train --model` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelChoice {
    /// Fit every family; keep the one with the lowest validation log loss.
    Auto,
    /// One family only.
    Only(ModelKind),
}

impl ModelChoice {
    /// The families to fit.
    pub fn kinds(self) -> Vec<ModelKind> {
        match self {
            ModelChoice::Auto => vec![ModelKind::Logistic, ModelKind::Boosted],
            ModelChoice::Only(kind) => vec![kind],
        }
    }
}

/// The linear model: `P = σ(intercept + Σ weight_j · (t_j(x_j) − mean_j) / scale_j)`, `t_j` the signed log1p
/// for heavy-tailed columns and the identity otherwise (see [`Standardizer`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// L2 strength it was fitted with (scikit-learn's `1 / C`).
    pub l2: f64,
    /// Standardisation learned on the fitted rows.
    pub standardizer: Standardizer,
    /// Intercept.
    pub intercept: f64,
    /// One weight per standardised feature.
    pub weights: Vec<f64>,
}

impl LinearModel {
    /// The weights and intercept on the compressed features `t(x)`: `Σ w (t(x) − mean) / scale + b =
    /// Σ (w / scale) t(x) + (b − Σ w mean / scale)`, so scoring needs no standardised copy of the rows.
    pub fn compressed_weights(&self) -> (Vec<f64>, f64) {
        let s = &self.standardizer;
        let weights: Vec<f64> = self.weights.iter().zip(&s.scales).map(|(w, scale)| w / scale).collect();
        let offset = self.intercept - weights.iter().zip(&s.means).map(|(w, mean)| w * mean).sum::<f64>();
        (weights, offset)
    }

    /// Refuses a model that cannot score `features` columns: one finite weight, mean and positive scale per
    /// feature, a finite intercept and L2 strength.
    pub fn check(&self, features: usize) -> Result<(), FieldError> {
        let s = &self.standardizer;
        check::finite("l2", self.l2)?;
        check::finite("intercept", self.intercept)?;
        for (field, values) in [
            ("weights", &self.weights),
            ("standardizer.means", &s.means),
            ("standardizer.scales", &s.scales),
        ] {
            check::one_per_feature(field, values.len(), features)?;
            check::all_finite(field, values)?;
        }
        check::one_per_feature("standardizer.signed_log1p", s.signed_log1p.len(), features)?;
        match s.scales.iter().position(|&scale| scale <= 0.0) {
            Some(j) => Err(FieldError::new(
                format!("standardizer.scales[{j}]"),
                format!("{} (must be positive and finite)", s.scales[j]),
            )),
            None => Ok(()),
        }
    }
}

/// A fitted model. Its probabilities are raw (before calibration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Model {
    /// A linear model.
    Logistic(LinearModel),
    /// A sum of trees on the raw features.
    Boosted(Boosted),
}

/// Settings chosen on validation, to fit again on other rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Settings {
    /// Logistic regression with this L2 strength.
    Logistic {
        /// L2 strength.
        l2: f64,
    },
    /// Boosted trees: exactly `params.max_trees` trees, no early stopping.
    Boosted {
        /// Tree settings, `max_trees` being the count chosen by early stopping.
        params: BoostParams,
    },
}

impl Settings {
    /// The family.
    pub fn kind(&self) -> ModelKind {
        match self {
            Settings::Logistic { .. } => ModelKind::Logistic,
            Settings::Boosted { .. } => ModelKind::Boosted,
        }
    }

    /// Fits these settings on the rows; `prior_shift` is added to the model's log-odds (the log of the share
    /// of unconverted rows kept, 0 when none was left out), so its probabilities are those of the whole
    /// population.
    pub fn fit(&self, rows: &LabelledMatrix, prior_shift: f64) -> Result<Model, FitError> {
        match *self {
            Settings::Logistic { l2 } => {
                let standardizer = Standardizer::fit(rows.x.view());
                let fitted = LogisticParams::default()
                    .l2(l2)
                    .check()
                    .and_then(|p| p.fit_standardized(rows.x.view(), &standardizer, &rows.labels))
                    .map_err(FitError::Logistic)?;
                fitted.warn_unless_converged(l2, "the model is kept, but may be off its optimum");
                Ok(Model::Logistic(LinearModel {
                    l2,
                    standardizer,
                    intercept: fitted.intercept + prior_shift,
                    weights: fitted.weights.to_vec(),
                }))
            }
            Settings::Boosted { params } => params
                .check()
                .and_then(|p| p.fit_shifted(rows.x.view(), &rows.labels, None, prior_shift))
                .map(Model::Boosted)
                .map_err(FitError::Boost),
        }
    }
}

impl Model {
    /// Refuses a model that cannot score `features` columns (see [`LinearModel::check`] and
    /// [`Boosted::check`]); fields are named from the model's root.
    pub fn check(&self, features: usize) -> Result<(), FieldError> {
        match self {
            Model::Logistic(m) => m.check(features),
            Model::Boosted(b) => b.check(features),
        }
    }

    /// Raw probabilities for the rows of checked feature columns (in the model's order), without copying
    /// them into a matrix: the linear model adds one contiguous column at a time, the trees walk blocks of
    /// gathered rows; both in parallel over blocks of rows.
    pub fn predict_columns(&self, columns: &FeatureColumns) -> Vec<f64> {
        const BLOCK: usize = 4096;
        let mut p = vec![0.0; columns.rows()];
        match self {
            Model::Logistic(m) => {
                let (weights, offset) = m.compressed_weights();
                p.par_chunks_mut(BLOCK).enumerate().for_each(|(b, block)| {
                    let start = b * BLOCK;
                    block.fill(offset);
                    for (j, &w) in weights.iter().enumerate() {
                        let column = &columns.column(j)[start..start + block.len()];
                        if m.standardizer.signed_log1p[j] {
                            for (z, &x) in block.iter_mut().zip(column) {
                                *z += w * signed_log1p(x);
                            }
                        } else {
                            for (z, &x) in block.iter_mut().zip(column) {
                                *z += w * x;
                            }
                        }
                    }
                    block.iter_mut().for_each(|z| *z = sigmoid(*z));
                });
            }
            Model::Boosted(b) => {
                p.par_chunks_mut(BLOCK).enumerate().for_each(|(k, block)| {
                    let rows: Vec<usize> = (k * BLOCK..k * BLOCK + block.len()).collect();
                    let mut x = ndarray::Array2::zeros((0, 0));
                    columns.gather(&rows, &mut x);
                    for (p, row) in block.iter_mut().zip(x.rows()) {
                        *p = sigmoid(b.raw_score(row));
                    }
                });
            }
        }
        p
    }

    /// The family.
    pub fn kind(&self) -> ModelKind {
        match self {
            Model::Logistic(_) => ModelKind::Logistic,
            Model::Boosted(_) => ModelKind::Boosted,
        }
    }

    /// Raw probabilities of conversion for rows of the model's features, in order.
    pub fn predict<A: Value>(&self, x: ArrayView2<A>) -> Vec<f64> {
        let mut p = vec![0.0; x.nrows()];
        match self {
            Model::Logistic(m) => {
                let (weights, offset) = m.compressed_weights();
                let s = &m.standardizer;
                p.par_iter_mut()
                    .zip(x.axis_iter(ndarray::Axis(0)))
                    .for_each(|(p, row)| {
                        let z = row
                            .iter()
                            .zip(&weights)
                            .enumerate()
                            .fold(offset, |z, (j, (&v, w))| z + w * s.compress(j, v.into()));
                        *p = sigmoid(z);
                    });
            }
            Model::Boosted(b) => p
                .par_iter_mut()
                .zip(x.axis_iter(ndarray::Axis(0)))
                .for_each(|(p, row)| *p = sigmoid(b.raw_score(row))),
        }
        p
    }
}
