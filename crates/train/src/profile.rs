//! What the training data looked like, for drift checks: each feature's and the calibrated probability's
//! distribution over ten bins cut at the training deciles, and the population stability index (PSI) of
//! another sample against it.

use serde::{Deserialize, Serialize};

use crate::check::{self, FieldError};

/// Bins per distribution (deciles; fewer when values repeat).
pub const BINS: usize = 10;

/// Shares below this count as this in the PSI, so an empty bin does not make it infinite.
const FLOOR: f64 = 1e-4;

/// A column's distribution: bin `k` holds the values `<= edges[k]` and above the previous edge; the last
/// bin holds the values above every edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Increasing inner bin edges.
    pub edges: Vec<f64>,
    /// Share of the training values in each bin (`edges.len() + 1` bins).
    pub shares: Vec<f64>,
}

impl Distribution {
    /// Bins cut at the deciles of `values` (distinct edges only).
    pub fn fit(values: &[f64]) -> Distribution {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = (1..BINS)
            .filter_map(|k| sorted.get(k * sorted.len() / BINS).copied())
            .collect();
        edges.dedup();
        // A bin's upper edge holds the quantile value itself, so the top value never opens an empty bin.
        if edges.last() == sorted.last() {
            edges.pop();
        }
        let mut distribution = Distribution {
            shares: Vec::new(),
            edges,
        };
        distribution.shares = distribution.shares_of(values);
        distribution
    }

    /// The share of `values` in each bin.
    pub fn shares_of(&self, values: &[f64]) -> Vec<f64> {
        let mut counts = vec![0usize; self.edges.len() + 1];
        for &v in values {
            counts[self.edges.partition_point(|&e| e < v)] += 1;
        }
        let n = values.len().max(1) as f64;
        counts.into_iter().map(|c| c as f64 / n).collect()
    }

    /// The population stability index of `values` against the training shares:
    /// `Σ (a − e) · ln(a / e)` over bins, shares floored at 1e-4.
    pub fn psi(&self, values: &[f64]) -> f64 {
        self.shares_of(values)
            .iter()
            .zip(&self.shares)
            .map(|(&a, &e)| {
                let (a, e) = (a.max(FLOOR), e.max(FLOOR));
                (a - e) * (a / e).ln()
            })
            .sum()
    }

    /// Refuses a distribution drift cannot be measured against: edges not strictly increasing, or shares
    /// that are not one per bin, each in `[0, 1]`.
    pub fn check(&self) -> Result<(), FieldError> {
        check::increasing("edges", &self.edges)?;
        if self.shares.len() != self.edges.len() + 1 {
            return Err(FieldError::new(
                "shares",
                format!("{} values for {} bins", self.shares.len(), self.edges.len() + 1),
            ));
        }
        check::all_probabilities("shares", &self.shares)
    }
}

/// The training data's distributions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Rows the distributions were measured on.
    pub rows: usize,
    /// Each feature's, in the model's column order.
    pub features: Vec<Distribution>,
    /// The calibrated probability's.
    pub probability: Distribution,
}

impl Profile {
    /// Refuses a profile that does not hold one valid distribution per feature and one of the probability.
    pub fn check(&self, features: usize) -> Result<(), FieldError> {
        check::one_per_feature("features", self.features.len(), features)?;
        for (j, distribution) in self.features.iter().enumerate() {
            distribution.check().map_err(|e| e.within(&format!("features[{j}]")))?;
        }
        self.probability.check().map_err(|e| e.within("probability"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciles_of_distinct_values_give_ten_equal_bins_and_zero_psi_on_themselves() {
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        let d = Distribution::fit(&values);
        assert_eq!(d.edges.len(), 9);
        assert!(d.shares.iter().all(|&s| (s - 0.1).abs() < 0.002), "{:?}", d.shares);
        assert!(d.psi(&values).abs() < 1e-3);
    }

    #[test]
    fn a_mostly_zero_count_gets_a_bin_for_zero() {
        let values: Vec<f64> = (0..100).map(|i| if i < 70 { 0.0 } else { f64::from(i % 5) }).collect();
        let d = Distribution::fit(&values);
        assert_eq!(d.edges[0], 0.0);
        assert!((d.shares[0] - (70.0 + 6.0) / 100.0).abs() < 1e-12, "{d:?}");
    }

    #[test]
    fn psi_is_computed_by_hand_for_a_shifted_sample() {
        let d = Distribution {
            edges: vec![1.0],
            shares: vec![0.5, 0.5],
        };
        // 80% at or below 1 instead of 50%.
        let sample = [0.0, 0.5, 1.0, 1.0, 0.2, 0.3, 0.9, 0.1, 2.0, 3.0];
        let want = (0.8 - 0.5) * (0.8f64 / 0.5).ln() + (0.2 - 0.5) * (0.2f64 / 0.5).ln();
        assert!((d.psi(&sample) - want).abs() < 1e-12);
        assert!(d.psi(&sample) > 0.25);
    }
}
