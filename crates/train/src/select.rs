//! Choosing the L2 strength of the logistic model on the time-based validation: each candidate is fitted
//! on the training snapshots (standardised with the training rows' statistics) and scored by log loss on
//! the validation snapshots; the lowest wins, ties going to the stronger penalty. When the strongest
//! candidate wins, the search goes on upwards, ten times stronger each step (up to [`MAX_EXTENSIONS`]
//! steps), until a stronger one no longer wins: the optimum is then inside the range searched. A candidate
//! whose fit did not converge is warned about and never chosen.

use serde::{Deserialize, Serialize};

use crate::logistic::{LogisticError, LogisticParams};
use crate::matrix::{LabelledMatrix, Standardizer};
use crate::metrics::{Metrics, MetricsError};
use crate::model::{LinearModel, Model};

/// The default candidates: λ from 10⁻³ to 10³, a factor of 10 apart.
pub const L2_GRID: [f64; 7] = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0];

/// How many times the search may go on above the grid's strongest λ (a factor of 10 each).
pub const MAX_EXTENSIONS: usize = 3;

/// One candidate's result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// L2 strength λ.
    pub l2: f64,
    /// Validation log loss.
    pub log_loss: f64,
}

/// Why the search failed.
#[derive(Debug)]
pub enum SelectError {
    /// A fit failed.
    Fit(LogisticError),
    /// The validation rows cannot be scored (e.g. one class only).
    Validation(MetricsError),
    /// No candidate L2 strength was given.
    EmptyGrid,
    /// No candidate's fit converged.
    NoneConverged {
        /// The candidates tried.
        candidates: usize,
    },
}

impl std::fmt::Display for SelectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SelectError::Fit(e) => write!(f, "{e}"),
            SelectError::Validation(e) => write!(f, "validation snapshots: {e}"),
            SelectError::EmptyGrid => f.write_str("the L2 grid is empty"),
            SelectError::NoneConverged { candidates } => write!(
                f,
                "the logistic fit converged at none of the {candidates} L2 strengths (see the warnings above)"
            ),
        }
    }
}

impl std::error::Error for SelectError {}

/// Scores every candidate λ, and stronger ones while the strongest wins; returns the best and the whole
/// table, in the order tried.
///
/// `prior_shift` is added to every candidate's log-odds before validation (see
/// [`crate::model::Settings::fit`]).
pub fn choose_l2(
    train: &LabelledMatrix,
    validation: &LabelledMatrix,
    grid: &[f64],
    prior_shift: f64,
) -> Result<(Candidate, Vec<Candidate>), SelectError> {
    let standardizer = Standardizer::fit(train.x.view());
    let mut table = Vec::with_capacity(grid.len());
    let mut converged = Vec::with_capacity(grid.len());
    let mut candidates = grid.to_vec();
    let mut extensions = 0;
    while let Some(&l2) = candidates.get(table.len()) {
        let fitted = LogisticParams::default()
            .l2(l2)
            .check()
            .and_then(|p| p.fit_standardized(train.x.view(), &standardizer, &train.labels))
            .map_err(SelectError::Fit)?;
        converged.push(fitted.warn_unless_converged(l2, "it is not chosen"));
        let model = Model::Logistic(LinearModel {
            l2,
            standardizer: standardizer.clone(),
            intercept: fitted.intercept + prior_shift,
            weights: fitted.weights.to_vec(),
        });
        let metrics = Metrics::evaluate(&validation.labels, &model.predict(validation.x.view()))
            .map_err(SelectError::Validation)?;
        table.push(Candidate {
            l2,
            log_loss: metrics.log_loss,
        });
        if table.len() == candidates.len() && extensions < MAX_EXTENSIONS {
            let strongest = candidates.iter().copied().fold(f64::MIN, f64::max);
            if best(&table, &converged).is_some_and(|b| b.l2 == strongest) {
                candidates.push(strongest * 10.0);
                extensions += 1;
            }
        }
    }
    let best = best(&table, &converged).ok_or(if table.is_empty() {
        SelectError::EmptyGrid
    } else {
        SelectError::NoneConverged {
            candidates: table.len(),
        }
    })?;
    Ok((best, table))
}

/// The candidate with the lowest log loss among those whose fit converged, ties going to the stronger
/// penalty.
fn best(table: &[Candidate], converged: &[bool]) -> Option<Candidate> {
    table
        .iter()
        .zip(converged)
        .filter(|(_, &converged)| converged)
        .map(|(c, _)| *c)
        .reduce(|best, c| {
            if c.log_loss < best.log_loss || (c.log_loss == best.log_loss && c.l2 > best.l2) {
                c
            } else {
                best
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};

    fn sample(n: usize, seed: u64) -> LabelledMatrix {
        // Two informative columns among many noise columns: the search must not pick the weakest penalty.
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let d = 30;
        let x = Array2::from_shape_fn((n, d), |_| rng.gen_range(-1.0..1.0));
        let labels = x
            .rows()
            .into_iter()
            .map(|r| {
                let z: f64 = 2.0 * r[0] - 1.5 * r[1] - 1.0;
                rng.gen::<f64>() < 1.0 / (1.0 + (-z).exp())
            })
            .collect();
        LabelledMatrix {
            x: x.mapv(|v| v as f32).into_shared(),
            labels,
            as_of: vec![0; n],
            names: (0..d).map(|j| format!("f{j}")).collect(),
            keys: (0..n as u64).collect(),
        }
    }

    #[test]
    fn the_search_goes_on_above_the_grid_while_the_strongest_penalty_wins() {
        let (train, validation) = (sample(300, 1), sample(3000, 2));
        // A grid of weak penalties only: the strongest of them wins, so stronger ones are tried.
        let grid = [1e-3, 1e-2];
        let (best, table) = choose_l2(&train, &validation, &grid, 0.0).unwrap();
        assert!(table.len() > grid.len(), "{table:?}");
        assert!(table.len() <= grid.len() + MAX_EXTENSIONS);
        assert!(best.l2 > 1e-2);
        let strongest = table.iter().map(|c| c.l2).fold(f64::MIN, f64::max);
        assert!(
            best.l2 < strongest || table.len() == grid.len() + MAX_EXTENSIONS,
            "the search stops once a stronger penalty no longer wins: {table:?}"
        );
    }

    #[test]
    fn the_best_candidate_has_the_lowest_validation_log_loss() {
        let (train, validation) = (sample(300, 1), sample(3000, 2));
        let (best, table) = choose_l2(&train, &validation, &L2_GRID, 0.0).unwrap();
        assert_eq!(table.len(), L2_GRID.len());
        assert!(table.iter().all(|c| best.log_loss <= c.log_loss));
        assert!(
            best.l2 > L2_GRID[0],
            "with 28 noise columns and 300 rows some penalty must help: {table:?}"
        );
        let again = choose_l2(&train, &validation, &L2_GRID, 0.0).unwrap();
        assert_eq!(again.1, table, "deterministic");
    }

    #[test]
    fn a_candidate_that_did_not_converge_is_never_chosen() {
        let candidate = |l2, log_loss| Candidate { l2, log_loss };
        let table = [candidate(0.01, 0.20), candidate(1.0, 0.25), candidate(100.0, 0.25)];
        assert_eq!(best(&table, &[true, true, true]), Some(table[0]));
        assert_eq!(
            best(&table, &[false, true, true]),
            Some(table[2]),
            "ties go to the stronger penalty"
        );
        assert_eq!(best(&table, &[false, true, false]), Some(table[1]));
        assert_eq!(best(&table, &[false, false, false]), None);
    }

    #[test]
    fn one_class_validation_is_refused() {
        let train = sample(200, 3);
        let mut validation = sample(50, 4);
        validation.labels.iter_mut().for_each(|l| *l = false);
        let err = choose_l2(&train, &validation, &L2_GRID, 0.0).unwrap_err();
        assert!(err.to_string().contains("validation snapshots"), "{err}");
    }
}
