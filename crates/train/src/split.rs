//! Validation by time: the latest snapshots with complete labels validate, and training uses only the
//! snapshots whose labels had closed by the first validation `as_of` (what a team could have trained on
//! that day). Never a random split across time.

use std::collections::BTreeSet;

/// Which snapshots (`as_of`, μs since the epoch) train and which validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSplit {
    /// Snapshots to fit on: their horizon ends at or before the first validation snapshot.
    pub train: Vec<i64>,
    /// The latest labelled snapshots.
    pub validation: Vec<i64>,
}

/// Why no split exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// Fewer labelled snapshots than asked for validation.
    TooFewSnapshots {
        /// Labelled snapshots available.
        available: usize,
        /// Validation snapshots asked for.
        validation: usize,
    },
    /// No snapshot's labels had closed by the first validation snapshot.
    NoTrainingSnapshots {
        /// The first validation snapshot (μs).
        first_validation: i64,
        /// The horizon, in days.
        horizon_days: u32,
    },
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitError::TooFewSnapshots { available, validation } => write!(
                f,
                "{available} labelled snapshots, but {validation} are needed for validation alone; \
                 use a longer history or fewer validation weeks"
            ),
            SplitError::NoTrainingSnapshots {
                first_validation,
                horizon_days,
            } => write!(
                f,
                "no snapshot's {horizon_days}-day labels had closed by the first validation snapshot ({}); \
                 the history needs at least {horizon_days} more days",
                date(*first_validation)
            ),
        }
    }
}

impl std::error::Error for SplitError {}

/// A UTC date as `YYYY-MM-DD` from μs since the epoch.
pub(crate) fn date(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| micros.to_string())
}

impl TimeSplit {
    /// Splits the labelled snapshots `as_of` (any order, repeats allowed): the last `validation` distinct
    /// ones validate; training takes every earlier one whose horizon ends by the first validation one.
    pub fn latest(as_of: &[i64], validation: usize, horizon_days: u32) -> Result<TimeSplit, SplitError> {
        let snapshots: Vec<i64> = as_of.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        if validation == 0 || snapshots.len() < validation + 1 {
            return Err(SplitError::TooFewSnapshots {
                available: snapshots.len(),
                validation: validation.max(1),
            });
        }
        let validation_snapshots = snapshots[snapshots.len() - validation..].to_vec();
        let first = validation_snapshots[0];
        let horizon = i64::from(horizon_days) * 86_400_000_000;
        let train: Vec<i64> = snapshots.iter().copied().filter(|&t| t + horizon <= first).collect();
        if train.is_empty() {
            return Err(SplitError::NoTrainingSnapshots {
                first_validation: first,
                horizon_days,
            });
        }
        Ok(TimeSplit {
            train,
            validation: validation_snapshots,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;
    /// 2025-01-06, a Monday.
    const MONDAY: i64 = 20_094 * DAY;

    fn weeks(n: i64) -> Vec<i64> {
        (0..n).map(|w| MONDAY + w * 7 * DAY).collect()
    }

    #[test]
    fn training_snapshots_have_closed_labels_by_the_first_validation_snapshot() {
        let split = TimeSplit::latest(&weeks(12), 2, 30).unwrap();
        assert_eq!(split.validation, [MONDAY + 70 * DAY, MONDAY + 77 * DAY]);
        // Week 5 (day 35) closes on day 65, before week 10 (day 70); week 6 only on day 72.
        assert_eq!(split.train, weeks(6));
        for t in &split.train {
            assert!(t + 30 * DAY <= split.validation[0]);
        }
    }

    #[test]
    fn a_label_closing_exactly_at_validation_may_train() {
        let snapshots = [MONDAY, MONDAY + 30 * DAY];
        let split = TimeSplit::latest(&snapshots, 1, 30).unwrap();
        assert_eq!(split.train, [MONDAY]);
    }

    #[test]
    fn short_histories_are_refused_with_a_reason() {
        let err = TimeSplit::latest(&weeks(2), 2, 30).unwrap_err();
        assert!(err.to_string().contains("2 labelled snapshots"), "{err}");
        let err = TimeSplit::latest(&weeks(4), 1, 30).unwrap_err();
        assert!(err.to_string().contains("2025-01-27"), "{err}");
    }
}
