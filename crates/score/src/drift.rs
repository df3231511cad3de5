//! Drift: how far a scored population has moved from the model's training data, as the population
//! stability index (PSI) of each feature and of the calibrated probability against the distributions the
//! model recorded at training (`pql_train::profile`).

use pql_train::matrix::FeatureColumns;
use pql_train::Artifact;
use rayon::prelude::*;

/// Scored rows the PSI is measured on, at most (evenly spaced).
pub const DRIFT_ROWS: usize = 100_000;

/// The PSI of each feature and of the probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// `(feature, PSI)`, in the model's column order.
    pub features: Vec<(String, f64)>,
    /// PSI of the calibrated probabilities.
    pub probability: f64,
    /// Scored rows measured.
    pub rows: usize,
}

impl Drift {
    /// The features whose PSI exceeds `threshold`, largest first.
    pub fn above(&self, threshold: f64) -> Vec<(&str, f64)> {
        let mut above: Vec<(&str, f64)> = self
            .features
            .iter()
            .filter(|(_, psi)| *psi > threshold)
            .map(|(name, psi)| (name.as_str(), *psi))
            .collect();
        above.sort_by(|a, b| b.1.total_cmp(&a.1));
        above
    }
}

/// The drift of the scored rows (`columns`, with their calibrated `probabilities`) from the training data.
pub fn drift(artifact: &Artifact, columns: &FeatureColumns, probabilities: &[f64]) -> Drift {
    let n = columns.rows();
    let step = n.div_ceil(DRIFT_ROWS).max(1);
    let sample: Vec<usize> = (0..n).step_by(step).collect();
    let features = artifact
        .profile
        .features
        .par_iter()
        .enumerate()
        .map(|(j, distribution)| {
            let column = columns.column(j);
            let values: Vec<f64> = sample.iter().map(|&i| column[i]).collect();
            (artifact.features[j].name.clone(), distribution.psi(&values))
        })
        .collect();
    let sampled: Vec<f64> = sample.iter().map(|&i| probabilities[i]).collect();
    Drift {
        features,
        probability: artifact.profile.probability.psi(&sampled),
        rows: sample.len(),
    }
}
