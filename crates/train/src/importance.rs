//! Which features drive the model. Permutation importance, for every model: the drop in validation ROC AUC
//! when one feature's column is shuffled, averaged over repeats (with their spread). The linear model adds
//! its standardised coefficients with standard errors, the boosted model each feature's share of the
//! split gain.

use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::boost::{Boosted, Node};
use crate::logistic::sigmoid;
use crate::matrix::LabelledMatrix;
use crate::metrics::Metrics;
use crate::model::Model;

/// Rows used for permutation importance at most (evenly spaced over the validation rows), so its cost
/// stays bounded on large validation sets.
pub const PERMUTATION_ROWS: usize = 20_000;

/// Rows averaged over for partial dependence at most (evenly spaced through the validation rows).
pub const DEPENDENCE_ROWS: usize = 2_000;

/// Features with the largest permutation importance given a partial-dependence curve.
pub const DEPENDENCE_FEATURES: usize = 6;

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
    let x = rows.x.slice(ndarray::s![..;stride, ..]).mapv(f64::from);
    let labels: Vec<bool> = rows.labels.iter().step_by(stride).copied().collect();
    let auc = |p: &[f64]| Metrics::evaluate(&labels, p).map(|m| m.roc_auc).unwrap_or(0.5);
    let scorer = Rescorer::new(model, &x);
    let baseline = auc(&model.predict(x.view()));
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
                    baseline - auc(&scorer.scores(&shuffled, j))
                })
                .collect();
            let mean = drops.iter().sum::<f64>() / drops.len().max(1) as f64;
            let variance = drops.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (drops.len().max(2) - 1) as f64;
            (mean, variance.sqrt())
        })
        .collect()
}

/// Scores rows that differ from the reference rows in one column. Trees remember each tree's leaf for
/// every reference row, so only the trees that test the changed column are walked again.
enum Rescorer<'a> {
    /// Any model, scored from scratch.
    Full(&'a Model),
    /// A boosted model with the reference rows' leaves.
    Trees {
        model: &'a Boosted,
        /// Log-odds of each reference row.
        raw: Vec<f64>,
        /// `leaves[t][i]`: tree `t`'s leaf value for reference row `i`.
        leaves: Vec<Vec<f64>>,
        /// The trees that test each column.
        testing: Vec<Vec<usize>>,
    },
}

impl<'a> Rescorer<'a> {
    fn new(model: &'a Model, x: &Array2<f64>) -> Self {
        let Model::Boosted(boosted) = model else {
            return Rescorer::Full(model);
        };
        let leaves: Vec<Vec<f64>> = boosted
            .trees
            .iter()
            .map(|tree| x.rows().into_iter().map(|row| tree.leaf_value(row)).collect())
            .collect();
        let raw = (0..x.nrows())
            .map(|i| leaves.iter().fold(boosted.base_score, |sum, tree| sum + tree[i]))
            .collect();
        let mut testing = vec![Vec::new(); x.ncols()];
        for (t, tree) in boosted.trees.iter().enumerate() {
            for node in &tree.nodes {
                if let Node::Split { feature, .. } = *node {
                    if testing[feature].last() != Some(&t) {
                        testing[feature].push(t);
                    }
                }
            }
        }
        Rescorer::Trees {
            model: boosted,
            raw,
            leaves,
            testing,
        }
    }

    /// Probabilities of rows `x`, which differ from the reference rows in column `changed` only.
    fn scores(&self, x: &Array2<f64>, changed: usize) -> Vec<f64> {
        match self {
            Rescorer::Full(model) => model.predict(x.view()),
            Rescorer::Trees {
                model,
                raw,
                leaves,
                testing,
            } => x
                .rows()
                .into_iter()
                .enumerate()
                .map(|(i, row)| {
                    let delta: f64 = testing[changed]
                        .iter()
                        .map(|&t| model.trees[t].leaf_value(row) - leaves[t][i])
                        .sum();
                    sigmoid(raw[i] + delta)
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boost::BoostParams;
    use rand::Rng;

    #[test]
    fn rescoring_only_the_trees_that_test_a_column_equals_scoring_from_scratch() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let x = Array2::from_shape_fn((2000, 3), |_| rng.gen_range(-1.0..1.0));
        let labels: Vec<bool> = x
            .rows()
            .into_iter()
            .map(|r| r[0] + 0.5 * r[1] > rng.gen_range(-1.0..1.0))
            .collect();
        let boosted = BoostParams::default()
            .max_trees(30)
            .check()
            .unwrap()
            .fit(x.view(), &labels, None)
            .unwrap();
        let model = Model::Boosted(boosted);
        let rescorer = Rescorer::new(&model, &x);
        let mut changed = x.clone();
        changed.column_mut(1).mapv_inplace(|v| -v);
        let fast = rescorer.scores(&changed, 1);
        let full = model.predict(changed.view());
        assert!(fast.iter().zip(&full).all(|(a, b)| (a - b).abs() < 1e-12));
    }
}

/// How the calibrated probability moves across one feature's range, every other feature as it is: the
/// mean probability of the same rows with the feature set to each value in turn (partial dependence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dependence {
    /// Feature name.
    pub feature: String,
    /// The feature's values: its distinct 5th, 15th, …, 95th and 99th percentiles among the rows (the
    /// last shows the tail of sparse counts).
    pub values: Vec<f64>,
    /// Mean calibrated probability at each value.
    pub probability: Vec<f64>,
}

/// Partial dependence of `model` + `calibration` on each feature in `features` (column indices of `rows`),
/// over at most [`DEPENDENCE_ROWS`] of the rows.
pub fn partial_dependence(
    model: &Model,
    calibration: &crate::calibration::Calibration,
    rows: &LabelledMatrix,
    features: &[usize],
) -> Vec<Dependence> {
    let stride = rows.labels.len().div_ceil(DEPENDENCE_ROWS).max(1);
    let x = rows.x.slice(ndarray::s![..;stride, ..]).mapv(f64::from);
    features
        .par_iter()
        .map(|&j| {
            let mut sorted = x.column(j).to_vec();
            sorted.sort_by(f64::total_cmp);
            let at = |per_mille: usize| sorted[(per_mille * sorted.len() / 1000).min(sorted.len() - 1)];
            let mut values: Vec<f64> = (0..10).map(|k| at(50 + 100 * k)).chain([at(990)]).collect();
            values.dedup();
            let mut changed = x.clone();
            let probability = values
                .iter()
                .map(|&v| {
                    changed.column_mut(j).fill(v);
                    let scores = model.predict(changed.view());
                    scores.iter().map(|&p| calibration.apply(p)).sum::<f64>() / scores.len() as f64
                })
                .collect();
            Dependence {
                feature: rows.names[j].clone(),
                values,
                probability,
            }
        })
        .collect()
}
