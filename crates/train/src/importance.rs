//! Which features drive the model. Permutation importance, for every model: the drop in validation ROC AUC
//! when one feature's column is shuffled, averaged over repeats (with their spread). The linear model adds
//! its standardised coefficients with standard errors, the boosted model each feature's share of the
//! split gain.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::matrix::LabelledMatrix;
use crate::metrics::Metrics;
use crate::model::Model;

/// Rows used for permutation importance at most (evenly spaced over the validation rows), so its cost
/// stays bounded on large validation sets.
pub const PERMUTATION_ROWS: usize = 20_000;

/// One feature's importances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// Feature name.
    pub feature: String,
    /// Mean drop in validation ROC AUC when the feature is shuffled.
    pub permutation: f64,
    /// Standard deviation of that drop over the repeats.
    pub permutation_std: f64,
    /// Linear model: the weight of the standardised feature (log-odds per standard deviation).
    pub coefficient: Option<f64>,
    /// Linear model: the weight's standard error.
    pub coefficient_se: Option<f64>,
    /// Boosted model: the feature's share of the total split gain.
    pub gain_share: Option<f64>,
}

/// Permutation importance of each feature of `rows` for `model`: `(mean, std)` of the AUC drop over
/// `repeats` shuffles, each seeded from `seed` and the feature's index.
pub fn permutation(model: &Model, rows: &LabelledMatrix, repeats: usize, seed: u64) -> Vec<(f64, f64)> {
    let stride = rows.labels.len().div_ceil(PERMUTATION_ROWS).max(1);
    let x = rows.x.slice(ndarray::s![..;stride, ..]).to_owned();
    let labels: Vec<bool> = rows.labels.iter().step_by(stride).copied().collect();
    let auc = |x: &ndarray::Array2<f64>| {
        Metrics::evaluate(&labels, &model.predict(x.view()))
            .map(|m| m.roc_auc)
            .unwrap_or(0.5)
    };
    let baseline = auc(&x);
    (0..x.ncols())
        .into_par_iter()
        .map(|j| {
            let mut rng = rand_pcg::Pcg64::seed_from_u64(seed ^ (j as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut shuffled = x.clone();
            let original: Vec<f64> = x.column(j).to_vec();
            let drops: Vec<f64> = (0..repeats)
                .map(|_| {
                    let mut column = original.clone();
                    column.shuffle(&mut rng);
                    shuffled.column_mut(j).assign(&ndarray::Array1::from(column));
                    baseline - auc(&shuffled)
                })
                .collect();
            let mean = drops.iter().sum::<f64>() / drops.len().max(1) as f64;
            let variance = drops.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (drops.len().max(2) - 1) as f64;
            (mean, variance.sqrt())
        })
        .collect()
}
