//! Tiers: which accounts are PQLs (`hot`), which are `warm`, and the rest `cold`.
//!
//! By default the model's own thresholds decide (the calibrated probabilities of its top 10% and top 30% on
//! validation). `--threshold P` makes every account at or above probability P a PQL; `--top N` or
//! `--top P%` makes exactly the N (or P% of the scored) most probable accounts PQLs, ties going to the
//! earlier row in the output order. Warm always uses the model's warm threshold, below the PQLs.

use pql_train::training::ThresholdPolicy;

use crate::ScoreError;

/// How PQLs are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TierPolicy {
    /// The model's thresholds.
    Model,
    /// Calibrated probability at and above which an account is a PQL.
    Threshold(f64),
    /// This many of the most probable accounts are PQLs.
    Top(usize),
    /// This share (in `(0, 1]`) of the scored accounts, rounded up, are PQLs.
    TopShare(f64),
}

/// A tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// A PQL.
    Hot,
    /// Above the model's warm threshold.
    Warm,
    /// The rest.
    Cold,
}

impl Tier {
    /// `hot`, `warm` or `cold`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Hot => "hot",
            Tier::Warm => "warm",
            Tier::Cold => "cold",
        }
    }
}

impl TierPolicy {
    /// Reads `--threshold`: a probability in `[0, 1]`.
    pub fn threshold(probability: f64) -> Result<TierPolicy, ScoreError> {
        if (0.0..=1.0).contains(&probability) {
            Ok(TierPolicy::Threshold(probability))
        } else {
            Err(ScoreError::Policy(format!(
                "--threshold {probability}: a probability is between 0 and 1"
            )))
        }
    }

    /// Reads `--top`: a count (`500`) or a share of the scored accounts (`5%`).
    pub fn top(text: &str) -> Result<TierPolicy, ScoreError> {
        let bad = || {
            ScoreError::Policy(format!(
                "--top {text:?}: give a number of accounts (e.g. 500) or a percentage (e.g. 5%)"
            ))
        };
        match text.trim().strip_suffix('%') {
            Some(percent) => {
                let percent: f64 = percent.trim().parse().map_err(|_| bad())?;
                if percent > 0.0 && percent <= 100.0 {
                    Ok(TierPolicy::TopShare(percent / 100.0))
                } else {
                    Err(ScoreError::Policy(format!(
                        "--top {text}: a percentage is above 0 and at most 100"
                    )))
                }
            }
            None => text.trim().parse().map(TierPolicy::Top).map_err(|_| bad()),
        }
    }

    /// The tier of each account, given the calibrated probabilities in output order (highest first).
    pub fn tiers(&self, model: &ThresholdPolicy, sorted_probabilities: &[f64]) -> Vec<Tier> {
        let hot_rows = match *self {
            TierPolicy::Model => count_at_least(sorted_probabilities, model.pql_threshold),
            TierPolicy::Threshold(t) => count_at_least(sorted_probabilities, t),
            TierPolicy::Top(n) => n.min(sorted_probabilities.len()),
            TierPolicy::TopShare(share) => {
                ((share * sorted_probabilities.len() as f64).ceil() as usize).min(sorted_probabilities.len())
            }
        };
        sorted_probabilities
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                if i < hot_rows {
                    Tier::Hot
                } else if p >= model.warm_threshold {
                    Tier::Warm
                } else {
                    Tier::Cold
                }
            })
            .collect()
    }

    /// How the policy reads in a report.
    pub fn describe(&self, model: &ThresholdPolicy) -> String {
        match *self {
            TierPolicy::Model => format!(
                "model thresholds: PQL at probability >= {:.4} (top {:.0}% on validation), warm >= {:.4}",
                model.pql_threshold,
                100.0 * model.pql_share,
                model.warm_threshold
            ),
            TierPolicy::Threshold(t) => format!("PQL at probability >= {t}"),
            TierPolicy::Top(n) => format!("PQL = the {n} most probable accounts"),
            TierPolicy::TopShare(s) => format!("PQL = the top {}% of accounts", 100.0 * s),
        }
    }
}

/// Rows of a descending list at or above `t`.
fn count_at_least(sorted_descending: &[f64], t: f64) -> usize {
    sorted_descending.partition_point(|&p| p >= t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ThresholdPolicy {
        ThresholdPolicy {
            pql_share: 0.1,
            pql_threshold: 0.5,
            warm_share: 0.3,
            warm_threshold: 0.2,
        }
    }

    fn names(tiers: &[Tier]) -> Vec<&'static str> {
        tiers.iter().map(|t| t.name()).collect()
    }

    #[test]
    fn the_model_policy_uses_both_thresholds_inclusively() {
        let p = [0.9, 0.5, 0.49, 0.2, 0.19, 0.0];
        let tiers = TierPolicy::Model.tiers(&model(), &p);
        assert_eq!(names(&tiers), ["hot", "hot", "warm", "warm", "cold", "cold"]);
    }

    #[test]
    fn a_threshold_moves_the_pql_cut_and_keeps_warm() {
        let p = [0.9, 0.5, 0.3, 0.1];
        assert_eq!(
            names(&TierPolicy::threshold(0.3).unwrap().tiers(&model(), &p)),
            ["hot", "hot", "hot", "cold"]
        );
        assert_eq!(
            names(&TierPolicy::threshold(0.95).unwrap().tiers(&model(), &p)),
            ["warm", "warm", "warm", "cold"]
        );
    }

    #[test]
    fn top_counts_and_shares_take_exactly_that_many_even_on_ties() {
        let p = [0.4, 0.4, 0.4, 0.1];
        assert_eq!(
            names(&TierPolicy::top("2").unwrap().tiers(&model(), &p)),
            ["hot", "hot", "warm", "cold"]
        );
        assert_eq!(
            names(&TierPolicy::top("50%").unwrap().tiers(&model(), &p)),
            ["hot", "hot", "warm", "cold"]
        );
        assert_eq!(
            names(&TierPolicy::top("26%").unwrap().tiers(&model(), &p)),
            ["hot", "hot", "warm", "cold"]
        );
        assert_eq!(names(&TierPolicy::top("10").unwrap().tiers(&model(), &p)), ["hot"; 4]);
    }

    #[test]
    fn bad_values_are_refused_with_the_flag() {
        for (result, want) in [
            (TierPolicy::threshold(1.5), "--threshold 1.5"),
            (TierPolicy::top("ten"), "--top \"ten\""),
            (TierPolicy::top("0%"), "--top 0%"),
            (TierPolicy::top("150%"), "--top 150%"),
            (TierPolicy::top("-3"), "--top \"-3\""),
        ] {
            let message = result.unwrap_err().to_string();
            assert!(message.starts_with(want), "{message}");
        }
    }
}
