//! Gradient-boosted decision trees for the binary log loss: a compact, deterministic take on LightGBM's
//! histogram algorithm.
//!
//! **Binning.** Each feature gets at most `max_bins` bins, cut from the distinct values of at most 200,000
//! evenly spaced rows: one bin per distinct value when there are few enough, else greedy equal-frequency
//! (quantile) bins, so a value holding many rows (the zeros of a count) gets a bin of its own. A cut lies
//! halfway between two neighbouring distinct values; a value's bin is the number of cuts below it, so
//! `bin(x) <= b` exactly when `x <= cut[b]`, and a tree trained on bins predicts identically on raw values.
//! The bins are stored column-major as bytes.
//!
//! **Boosting.** The raw score (log-odds) starts at the log-odds of the training base rate. Each round
//! takes the gradient `g = p − y` and hessian `h = p(1 − p)` of the log loss at the current scores and
//! grows one tree leaf-wise (best-first, up to `max_leaves` leaves): a leaf's histogram holds the sums of
//! `g`, `h` and rows per bin of every feature, and a split after bin `b` of a feature gains
//! `G_L²/(H_L + λ) + G_R²/(H_R + λ) − G²/(H + λ)` (no factor ½, as LightGBM reports it). A split needs
//! positive gain and at least `min_leaf_rows` rows and `min_leaf_hessian` hessian on each side; the leaf
//! with the largest gain splits next. Only the smaller child's histogram is built from its rows; the
//! larger's is the parent's minus it. A leaf's value is `−G/(H + λ)`, times the learning rate.
//!
//! **Speed.** Bins are bytes, stored column-major. A histogram is filled four features per pass over the
//! leaf's rows (the rows and gradients are read once, and the four sums never wait on each other), in
//! parallel over blocks of rows; the rows per bin at the root are counted once, not every tree. Rows are
//! partitioned between children branch-free, and the trees' leaves update the training scores through the
//! partition, without walking a tree.
//!
//! **Early stopping.** With a validation set, its log loss is computed after every tree; boosting stops
//! after `early_stopping_rounds` trees without a new minimum, and the model keeps the trees up to the best.
//!
//! **Determinism.** Work runs in parallel over features (bin cuts, split search) or over fixed chunks of
//! rows whose results are combined in chunk order (binning, gradients, histograms, partitions, validation
//! loss), so every sum runs in the same order whatever the threads; ties go to the lowest leaf, then
//! feature, then bin. A fit is bit-identical across runs and thread counts.
//!
//! **Export.** A tree is a list of nodes `x[feature] <= threshold ? left : right` ending in constant
//! leaves, and the raw score is the base score plus one leaf per tree: plain arithmetic, e.g. a sum of
//! SQL `CASE WHEN` expressions.

mod bins;
mod grow;
mod params;
mod tree;

use ndarray::parallel::prelude::*;
use ndarray::{ArrayView2, Zip};
use rayon::slice::{ParallelSlice, ParallelSliceMut};

use crate::logistic::sigmoid;
use crate::matrix::Value;

use bins::Binned;
use grow::Grower;
pub use params::{BoostError, BoostParams, ValidBoostParams};
pub use tree::{Boosted, Node, Tree};

/// Rows the bin cuts are computed from, at most.
const BIN_SAMPLE_ROWS: usize = 200_000;

/// Rows per chunk of the parallel row passes.
const CHUNK_ROWS: usize = 8192;

/// Features whose histograms are filled in one pass over a leaf's rows.
const GROUP: usize = 4;

/// Rows per block of a parallel histogram.
const BLOCK_ROWS: usize = 32_768;

impl ValidBoostParams {
    /// The settings.
    pub fn params(&self) -> &BoostParams {
        &self.0
    }

    /// Fits on rows `x` (n × d) and labels (`true` = converted). With `validation = Some((x_val,
    /// labels_val))`, stops after `early_stopping_rounds` trees without a lower validation log loss and
    /// keeps the trees up to the best one; without, grows exactly `max_trees` trees (fewer only if no split
    /// is possible).
    pub fn fit<A: Value>(
        &self,
        x: ArrayView2<A>,
        labels: &[bool],
        validation: Option<(ArrayView2<A>, &[bool])>,
    ) -> Result<Boosted, BoostError> {
        self.fit_shifted(x, labels, validation, 0.0)
    }

    /// [`Self::fit`] on rows whose unconverted share was thinned (see [`crate::TrainParams::negative_rate`]):
    /// the trees are grown on the rows as given, and `prior_shift` (the log of the share kept) is added to
    /// the base score, both for early stopping on the (unthinned) validation rows and in the model, so its
    /// probabilities are those of the unthinned population.
    pub fn fit_shifted<A: Value>(
        &self,
        x: ArrayView2<A>,
        labels: &[bool],
        validation: Option<(ArrayView2<A>, &[bool])>,
        prior_shift: f64,
    ) -> Result<Boosted, BoostError> {
        let params = &self.0;
        let (n, d) = x.dim();
        if n != labels.len() || n == 0 || u32::try_from(n).is_err() {
            return Err(BoostError::Shape {
                rows: n,
                labels: labels.len(),
            });
        }
        let positives = labels.iter().filter(|&&y| y).count();
        if positives == 0 || positives == n {
            return Err(BoostError::OneClass);
        }
        if let Some((x_val, labels_val)) = validation {
            check_validation(x_val, labels_val, d)?;
        }
        let rate = positives as f64 / n as f64;
        let base_score = (rate / (1.0 - rate)).ln();
        let data = Binned::new(x, params.max_bins)?;
        let mut grower = Grower::new(params, &data);
        let mut scores = vec![base_score; n];
        let mut gradients = vec![[0.0f32; 2]; n];
        let mut validation = validation.map(|(x, labels)| (x, labels, vec![base_score + prior_shift; x.nrows()]));
        let mut trees = Vec::new();
        let mut validation_log_loss = Vec::new();
        let mut best = (f64::INFINITY, 0);
        while trees.len() < params.max_trees {
            compute_gradients(&scores, labels, &mut gradients);
            let Some((tree, leaves)) = grower.grow(&gradients) else {
                break; // the next round would see the same gradients
            };
            for (rows, value) in leaves {
                for &row in &grower.rows[rows] {
                    scores[row as usize] += value;
                }
            }
            if let Some((x_val, labels_val, val_scores)) = validation.as_mut() {
                Zip::from(&mut val_scores[..])
                    .and(x_val.rows())
                    .par_for_each(|score, row| *score += tree.leaf_value(row));
                let loss = log_loss(val_scores, labels_val);
                validation_log_loss.push(loss);
                if loss < best.0 {
                    best = (loss, validation_log_loss.len());
                }
            }
            trees.push(tree);
            if validation.is_some() && trees.len() - best.1 >= params.early_stopping_rounds {
                break;
            }
        }
        if validation.is_some() {
            trees.truncate(best.1);
        }
        Ok(Boosted {
            base_score: base_score + prior_shift,
            trees,
            validation_log_loss,
        })
    }
}

/// Checks that a validation set has labelled rows, `d` columns and finite values.
fn check_validation<A: Value>(x: ArrayView2<A>, labels: &[bool], d: usize) -> Result<(), BoostError> {
    if x.nrows() != labels.len() || x.nrows() == 0 {
        return Err(BoostError::ValidationShape {
            rows: x.nrows(),
            labels: labels.len(),
        });
    }
    if x.ncols() != d {
        return Err(BoostError::ValidationColumns {
            columns: x.ncols(),
            expected: d,
        });
    }
    match x.indexed_iter().find(|(_, &v)| !v.into().is_finite()) {
        Some(((row, column), _)) => Err(BoostError::ValidationNotFinite { row, column }),
        None => Ok(()),
    }
}

/// Gradient and hessian of the log loss at each raw score, as `f32` pairs (half the memory traffic).
fn compute_gradients(scores: &[f64], labels: &[bool], gradients: &mut [[f32; 2]]) {
    gradients
        .par_chunks_mut(CHUNK_ROWS)
        .zip(scores.par_chunks(CHUNK_ROWS).zip(labels.par_chunks(CHUNK_ROWS)))
        .for_each(|(gradients, (scores, labels))| {
            for (gh, (&score, &y)) in gradients.iter_mut().zip(scores.iter().zip(labels)) {
                let p = sigmoid(score);
                *gh = [(p - f64::from(u8::from(y))) as f32, (p * (1.0 - p)) as f32];
            }
        });
}

/// Mean log loss of raw scores, summed over fixed chunks in order.
fn log_loss(scores: &[f64], labels: &[bool]) -> f64 {
    let chunks: Vec<f64> = scores
        .par_chunks(CHUNK_ROWS)
        .zip(labels.par_chunks(CHUNK_ROWS))
        .map(|(scores, labels)| {
            scores
                .iter()
                .zip(labels)
                // −log σ(z) = softplus(−z) and −log(1 − σ(z)) = softplus(z), with softplus(z) = log(1 + eᶻ).
                .map(|(&z, &y)| {
                    let z = if y { -z } else { z };
                    z.max(0.0) + (-z.abs()).exp().ln_1p()
                })
                .sum()
        })
        .collect();
    chunks.iter().sum::<f64>() / scores.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_on_bins_agrees_with_prediction_on_raw_values() {
        // Counts with many repeats, so many training values sit next to a cut.
        let n = 5000;
        let x = ndarray::Array2::from_shape_fn((n, 3), |(i, j)| ((i * (7 + j) * 31) % (13 + 50 * j)) as f64 / 4.0);
        let labels: Vec<bool> = (0..n).map(|i| (x[[i, 0]] + x[[i, 2]]) % 3.0 < 1.0).collect();
        let params = BoostParams::default().min_leaf_rows(5).max_bins(16);
        let data = Binned::new(x.view(), params.max_bins).unwrap();
        let gradients: Vec<[f32; 2]> = labels.iter().map(|&y| [0.5 - f32::from(u8::from(y)), 0.25]).collect();
        let mut grower = Grower::new(&params, &data);
        let (tree, leaves) = grower.grow(&gradients).unwrap();
        assert_eq!(leaves.len(), 31);
        for (range, value) in leaves {
            for &row in &grower.rows[range] {
                assert_eq!(tree.leaf_value(x.row(row as usize)), value);
            }
        }
    }
}
