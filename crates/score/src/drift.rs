//! Drift: how far a scored population has moved from the model's training data, as the population
//! stability index (PSI) of each feature and of the calibrated probability against the distributions the
//! model recorded at training (`pql_train::profile`).

use pql_train::matrix::FeatureColumns;
use pql_train::Artifact;
use rayon::prelude::*;

/// Scored rows the PSI is measured on, at most (evenly spaced).
pub const DRIFT_ROWS: usize = 100_000;

/// One feature's drift.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDrift {
    /// The feature.
    pub name: String,
    /// Its PSI.
    pub psi: f64,
    /// It moves as accounts age ([`pql_features::FeatureDef::grows_with_age`]): shown, never warned about.
    pub grows_with_age: bool,
}

/// The PSI of each feature and of the probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// Each feature, in the model's column order.
    pub features: Vec<FeatureDrift>,
    /// PSI of the calibrated probabilities.
    pub probability: f64,
    /// Scored rows measured.
    pub rows: usize,
}

impl Drift {
    /// The features whose PSI exceeds `threshold`, largest first, leaving out those that grow with age.
    pub fn above(&self, threshold: f64) -> Vec<(&str, f64)> {
        let mut above: Vec<(&str, f64)> = self
            .features
            .iter()
            .filter(|f| f.psi > threshold && !f.grows_with_age)
            .map(|f| (f.name.as_str(), f.psi))
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
            let def = &artifact.features[j];
            FeatureDrift {
                name: def.name.clone(),
                psi: distribution.psi(&values),
                grows_with_age: def.grows_with_age(),
            }
        })
        .collect();
    let sampled: Vec<f64> = sample.iter().map(|&i| probabilities[i]).collect();
    Drift {
        features,
        probability: artifact.profile.probability.psi(&sampled),
        rows: sample.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_that_grow_with_age_are_never_above_the_threshold() {
        let feature = |name: &str, psi, grows_with_age| FeatureDrift {
            name: name.into(),
            psi,
            grows_with_age,
        };
        let drift = Drift {
            features: vec![
                feature("tenure_days", 0.9, true),
                feature("events_7d", 0.3, false),
                feature("seats", 0.5, false),
                feature("sessions_7d", 0.1, false),
            ],
            probability: 0.0,
            rows: 10,
        };
        assert_eq!(drift.above(0.25), [("seats", 0.5), ("events_7d", 0.3)]);
    }
}
