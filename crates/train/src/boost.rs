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

use std::ops::{Add, Range, Sub};

use ndarray::parallel::prelude::*;
use ndarray::{Array1, ArrayView1, ArrayView2, Axis, Zip};
use rayon::slice::{ParallelSlice, ParallelSliceMut};
use serde::{Deserialize, Serialize};

use crate::check::{self, FieldError};
use crate::logistic::sigmoid;
use crate::matrix::Value;

/// Rows the bin cuts are computed from, at most.
const BIN_SAMPLE_ROWS: usize = 200_000;

/// Rows per chunk of the parallel row passes.
const CHUNK_ROWS: usize = 8192;

/// Features whose histograms are filled in one pass over a leaf's rows.
const GROUP: usize = 4;

/// Rows per block of a parallel histogram.
const BLOCK_ROWS: usize = 32_768;

/// Settings of a fit; [`BoostParams::check`] validates them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoostParams {
    /// Factor on every leaf value (shrinkage), in `(0, 1]` usually.
    pub learning_rate: f64,
    /// Leaves per tree, at least 2.
    pub max_leaves: usize,
    /// Rows each side of a split needs, at least 1.
    pub min_leaf_rows: usize,
    /// Hessian sum `Σ p(1 − p)` each side of a split needs.
    pub min_leaf_hessian: f64,
    /// L2 penalty λ on leaf values.
    pub l2: f64,
    /// Bins per feature, 2 to 256.
    pub max_bins: usize,
    /// Trees at most.
    pub max_trees: usize,
    /// Trees without a lower validation log loss before boosting stops (with a validation set).
    pub early_stopping_rounds: usize,
}

impl Default for BoostParams {
    /// LightGBM's defaults for the tree shape (learning rate 0.05, 31 leaves, 20 rows and 1e-3 hessian per
    /// leaf, 255 bins), λ = 1, and up to 1000 trees stopped after 50 without improvement.
    fn default() -> Self {
        BoostParams {
            learning_rate: 0.05,
            max_leaves: 31,
            min_leaf_rows: 20,
            min_leaf_hessian: 1e-3,
            l2: 1.0,
            max_bins: 255,
            max_trees: 1000,
            early_stopping_rounds: 50,
        }
    }
}

impl BoostParams {
    /// Sets the learning rate.
    pub fn learning_rate(mut self, rate: f64) -> Self {
        self.learning_rate = rate;
        self
    }

    /// Sets the leaves per tree.
    pub fn max_leaves(mut self, leaves: usize) -> Self {
        self.max_leaves = leaves;
        self
    }

    /// Sets the rows each leaf needs.
    pub fn min_leaf_rows(mut self, rows: usize) -> Self {
        self.min_leaf_rows = rows;
        self
    }

    /// Sets the hessian each leaf needs.
    pub fn min_leaf_hessian(mut self, hessian: f64) -> Self {
        self.min_leaf_hessian = hessian;
        self
    }

    /// Sets the L2 penalty λ.
    pub fn l2(mut self, l2: f64) -> Self {
        self.l2 = l2;
        self
    }

    /// Sets the bins per feature.
    pub fn max_bins(mut self, bins: usize) -> Self {
        self.max_bins = bins;
        self
    }

    /// Sets the maximum number of trees.
    pub fn max_trees(mut self, trees: usize) -> Self {
        self.max_trees = trees;
        self
    }

    /// Sets the patience of early stopping, in trees.
    pub fn early_stopping_rounds(mut self, rounds: usize) -> Self {
        self.early_stopping_rounds = rounds;
        self
    }

    /// Validates the settings.
    pub fn check(self) -> Result<ValidBoostParams, BoostError> {
        let invalid = |message: String| Err(BoostError::InvalidParams(message));
        let finite = |v: f64| v.is_finite() && v >= 0.0;
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return invalid(format!(
                "learning_rate must be finite and > 0, got {}",
                self.learning_rate
            ));
        }
        if self.max_leaves < 2 {
            return invalid(format!("max_leaves must be at least 2, got {}", self.max_leaves));
        }
        if self.min_leaf_rows == 0 {
            return invalid("min_leaf_rows must be at least 1".into());
        }
        if !finite(self.min_leaf_hessian) || !finite(self.l2) || self.min_leaf_hessian + self.l2 == 0.0 {
            return invalid(format!(
                "min_leaf_hessian and l2 must be finite and >= 0, and not both 0; got {} and {}",
                self.min_leaf_hessian, self.l2
            ));
        }
        if !(2..=256).contains(&self.max_bins) {
            return invalid(format!("max_bins must be 2 to 256, got {}", self.max_bins));
        }
        if self.max_trees == 0 || self.early_stopping_rounds == 0 {
            return invalid("max_trees and early_stopping_rounds must be at least 1".into());
        }
        Ok(ValidBoostParams(self))
    }
}

/// Settings that passed [`BoostParams::check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidBoostParams(BoostParams);

/// Why a fit cannot run.
#[derive(Debug, Clone, PartialEq)]
pub enum BoostError {
    /// A setting is out of range.
    InvalidParams(String),
    /// Training rows and labels differ in number, or there are no rows (or more than `u32::MAX`).
    Shape {
        /// Rows of the feature matrix.
        rows: usize,
        /// Labels.
        labels: usize,
    },
    /// All training labels are equal.
    OneClass,
    /// A training value is NaN or infinite.
    NotFinite {
        /// Its row.
        row: usize,
        /// Its column.
        column: usize,
    },
    /// The validation set does not fit the training rows (shape, columns or a value that is not finite).
    Validation(String),
}

impl std::fmt::Display for BoostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BoostError::InvalidParams(message) => write!(f, "invalid boosted-tree settings: {message}"),
            BoostError::Shape { rows, labels } => write!(f, "{rows} feature rows but {labels} labels"),
            BoostError::OneClass => f.write_str("boosted trees need both classes in the training labels"),
            BoostError::NotFinite { row, column } => write!(f, "row {row}, column {column}: the value is not finite"),
            BoostError::Validation(message) => write!(f, "validation set: {message}"),
        }
    }
}

impl std::error::Error for BoostError {}

/// A fitted model: `P(converted | x) = σ(base_score + Σ_trees leaf value)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boosted {
    /// Log-odds of the training base rate, the score before any tree.
    pub base_score: f64,
    /// The trees, in boosting order.
    pub trees: Vec<Tree>,
    /// Validation log loss with 1, 2, … trees, as far as boosting went, when early stopping ran; else empty.
    pub validation_log_loss: Vec<f64>,
}

/// One node of a [`Tree`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// An internal node.
    Split {
        /// The column tested.
        feature: usize,
        /// Rows with `x[feature] <= threshold` go left, the others (and NaN) right.
        threshold: f64,
        /// Index of the left child.
        left: usize,
        /// Index of the right child.
        right: usize,
        /// Gain of the split on the training rows.
        gain: f64,
        /// Training rows that reached the node (its cover, for contributions).
        rows: u32,
    },
    /// A leaf.
    Leaf {
        /// Its contribution to the log-odds, learning rate included.
        value: f64,
        /// Training rows that reached the leaf.
        rows: u32,
    },
}

/// One tree as a flat list of nodes: node 0 is the root, and children come after their parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The value of the leaf a row lands in.
    ///
    /// # Panics
    /// If the row is shorter than a tested column.
    pub fn leaf_value<A: Value>(&self, row: ArrayView1<A>) -> f64 {
        let mut at = 0;
        loop {
            match self.nodes[at] {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    ..
                } => at = if row[feature].into() <= threshold { left } else { right },
                Node::Leaf { value, .. } => return value,
            }
        }
    }
}

impl Tree {
    /// Refuses a tree that cannot score `features` columns: no nodes, a split testing a column `>=
    /// features`, a child index that is not a later node (which could loop), a node that is not the child of
    /// exactly one split, a split whose cover is not its children's, or a number that is not finite.
    pub fn check(&self, features: usize) -> Result<(), FieldError> {
        let nodes = &self.nodes;
        if nodes.is_empty() {
            return Err(FieldError::new("nodes", "empty (a tree needs at least one leaf)"));
        }
        let cover = |k: usize| match nodes[k] {
            Node::Split { rows, .. } | Node::Leaf { rows, .. } => u64::from(rows),
        };
        let mut parents = vec![0usize; nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            let field = |name: &str| format!("nodes[{i}].{name}");
            match *node {
                Node::Leaf { value, .. } => check::finite(&field("value"), value)?,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    gain,
                    ..
                } => {
                    if feature >= features {
                        return Err(FieldError::new(
                            field("feature"),
                            format!("{feature} >= {features} features"),
                        ));
                    }
                    check::finite(&field("threshold"), threshold)?;
                    check::finite(&field("gain"), gain)?;
                    for (name, child) in [("left", left), ("right", right)] {
                        if child <= i || child >= nodes.len() {
                            return Err(FieldError::new(
                                field(name),
                                format!("{child} (a child is a later node, {} to {})", i + 1, nodes.len() - 1),
                            ));
                        }
                        parents[child] += 1;
                    }
                }
            }
        }
        if let Some(k) = parents.iter().skip(1).position(|&p| p != 1) {
            return Err(FieldError::new(
                format!("nodes[{}]", k + 1),
                format!(
                    "the child of {} splits (every node but the root has one parent)",
                    parents[k + 1]
                ),
            ));
        }
        for (i, node) in nodes.iter().enumerate() {
            if let Node::Split { left, right, rows, .. } = *node {
                if rows == 0 || u64::from(rows) != cover(left) + cover(right) {
                    return Err(FieldError::new(
                        format!("nodes[{i}].rows"),
                        format!("{rows}, but its children hold {} + {}", cover(left), cover(right)),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Boosted {
    /// Refuses a model that cannot score `features` columns: a base score that is not finite, or a tree
    /// that fails [`Tree::check`].
    pub fn check(&self, features: usize) -> Result<(), FieldError> {
        check::finite("base_score", self.base_score)?;
        for (t, tree) in self.trees.iter().enumerate() {
            tree.check(features).map_err(|e| e.within(&format!("trees[{t}]")))?;
        }
        Ok(())
    }

    /// The probability of conversion for each row (rows in parallel).
    ///
    /// # Panics
    /// If `x` has fewer columns than the training rows.
    pub fn predict_proba<A: Value>(&self, x: ArrayView2<A>) -> Array1<f64> {
        let mut p = Array1::zeros(x.nrows());
        Zip::from(&mut p)
            .and(x.rows())
            .par_for_each(|p, row| *p = sigmoid(self.raw_score(row)));
        p
    }

    /// The log-odds of conversion for one row: the base score plus each tree's leaf, in order.
    ///
    /// # Panics
    /// If the row is shorter than the training rows.
    pub fn raw_score<A: Value>(&self, row: ArrayView1<A>) -> f64 {
        self.trees
            .iter()
            .fold(self.base_score, |score, tree| score + tree.leaf_value(row))
    }

    /// Total split gain per feature over all trees (importance), for `features` columns.
    ///
    /// # Panics
    /// If a tree tests a column `>= features`.
    pub fn split_gains(&self, features: usize) -> Vec<f64> {
        let mut gains = vec![0.0; features];
        for node in self.trees.iter().flat_map(|tree| &tree.nodes) {
            if let Node::Split { feature, gain, .. } = node {
                gains[*feature] += gain;
            }
        }
        gains
    }
}

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
    let invalid = |message: String| Err(BoostError::Validation(message));
    if x.nrows() != labels.len() || x.nrows() == 0 {
        return invalid(format!("{} feature rows but {} labels", x.nrows(), labels.len()));
    }
    if x.ncols() != d {
        return invalid(format!("{} columns, the training rows have {d}", x.ncols()));
    }
    match x.indexed_iter().find(|(_, &v)| !v.into().is_finite()) {
        Some(((row, column), _)) => invalid(format!("row {row}, column {column}: the value is not finite")),
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

/// The training matrix as bins, column-major.
struct Binned {
    /// Rows.
    rows: usize,
    /// Bin of every value: column `j` is `bins[j * rows..(j + 1) * rows]`.
    bins: Vec<u8>,
    /// Per feature, the increasing cuts: bin `b` holds the values in `(cuts[b − 1], cuts[b]]`.
    cuts: Vec<Vec<f64>>,
    /// Per feature, the rows in each bin.
    counts: Vec<[u32; 256]>,
}

impl Binned {
    /// Cuts every feature into at most `max_bins` bins and bins the matrix (rows in parallel chunks, then
    /// columns in parallel), failing on the first value, in row-major order, that is not finite.
    fn new<A: Value>(x: ArrayView2<A>, max_bins: usize) -> Result<Binned, BoostError> {
        let (n, d) = x.dim();
        let sample = x.slice(ndarray::s![..;n.div_ceil(BIN_SAMPLE_ROWS), ..]);
        let cuts: Vec<Vec<f64>> = (0..d)
            .into_par_iter()
            .map(|j| {
                bin_cuts(
                    sample
                        .column(j)
                        .iter()
                        .map(|&v| v.into())
                        .filter(|v: &f64| v.is_finite())
                        .collect(),
                    max_bins,
                )
            })
            .collect();
        // Each chunk of rows writes its part of every column: disjoint slices of the column-major bins.
        let mut bins = vec![0u8; n * d];
        let mut parts: Vec<Vec<&mut [u8]>> = (0..n.div_ceil(CHUNK_ROWS)).map(|_| Vec::with_capacity(d)).collect();
        for column in bins.chunks_mut(n) {
            for (part, slice) in parts.iter_mut().zip(column.chunks_mut(CHUNK_ROWS)) {
                part.push(slice);
            }
        }
        let chunks: Vec<Result<(), BoostError>> = parts
            .into_par_iter()
            .zip(x.axis_chunks_iter(Axis(0), CHUNK_ROWS))
            .enumerate()
            .map(|(chunk, (mut columns, rows))| {
                for (r, row) in rows.rows().into_iter().enumerate() {
                    for (column, ((&v, cuts), out)) in row.iter().zip(&cuts).zip(columns.iter_mut()).enumerate() {
                        let v: f64 = v.into();
                        if !v.is_finite() {
                            let row = chunk * CHUNK_ROWS + r;
                            return Err(BoostError::NotFinite { row, column });
                        }
                        out[r] = bin_of(cuts, v);
                    }
                }
                Ok(())
            })
            .collect();
        chunks.into_iter().collect::<Result<(), _>>()?;
        let counts = bins
            .par_chunks(n)
            .map(|column| {
                let mut counts = [0; 256];
                column.iter().for_each(|&bin| counts[usize::from(bin)] += 1);
                counts
            })
            .collect();
        Ok(Binned {
            rows: n,
            bins,
            cuts,
            counts,
        })
    }

    /// The bins of column `j`.
    fn column(&self, j: usize) -> &[u8] {
        &self.bins[j * self.rows..(j + 1) * self.rows]
    }
}

/// The bin of a value: the number of cuts below it, so `bin_of(v) <= b` iff `v <= cuts[b]`.
fn bin_of(cuts: &[f64], v: f64) -> u8 {
    cuts.partition_point(|&cut| cut < v) as u8
}

/// At most `max_bins − 1` increasing cuts for a feature's (finite) sample values: between every two
/// neighbouring distinct values if there are at most `max_bins`, else greedily closing a bin once it holds
/// its share of the rows not yet binned.
fn bin_cuts(mut values: Vec<f64>, max_bins: usize) -> Vec<f64> {
    values.sort_unstable_by(f64::total_cmp);
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for v in values {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| midpoint(w[0].0, w[1].0)).collect();
    }
    let mut remaining: usize = distinct.iter().map(|&(_, count)| count).sum();
    let mut in_bin = 0;
    let mut cuts = Vec::with_capacity(max_bins - 1);
    for w in distinct.windows(2) {
        in_bin += w[0].1;
        if in_bin * (max_bins - cuts.len()) >= remaining {
            cuts.push(midpoint(w[0].0, w[1].0));
            remaining -= in_bin;
            in_bin = 0;
            if cuts.len() + 1 == max_bins {
                break;
            }
        }
    }
    cuts
}

/// A cut `t` with `a <= t < b`: halfway, or `a` when rounding leaves no room between them.
fn midpoint(a: f64, b: f64) -> f64 {
    let m = a * 0.5 + b * 0.5;
    if a < m && m < b {
        m
    } else {
        a
    }
}

/// Sums of gradients, hessians and rows over a histogram bin or a leaf.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    g: f64,
    h: f64,
    n: u32,
}

impl Add for Sums {
    type Output = Sums;
    fn add(self, other: Sums) -> Sums {
        Sums {
            g: self.g + other.g,
            h: self.h + other.h,
            n: self.n + other.n,
        }
    }
}

impl Sub for Sums {
    type Output = Sums;
    fn sub(self, other: Sums) -> Sums {
        Sums {
            g: self.g - other.g,
            h: self.h - other.h,
            n: self.n - other.n,
        }
    }
}

/// Adds rows to the histograms of a group of features; counts the rows only if `COUNT` (the root's counts
/// are known from the start).
#[inline(always)]
fn fill<const COUNT: bool>(hist: &mut [[Sums; 256]; GROUP], columns: [&[u8]; GROUP], rows: &[u32], pairs: &[[f32; 2]]) {
    for (&row, &[g, h]) in rows.iter().zip(pairs) {
        let (g, h) = (f64::from(g), f64::from(h));
        for (bins, column) in hist.iter_mut().zip(columns) {
            let sums = &mut bins[usize::from(column[row as usize])];
            sums.g += g;
            sums.h += h;
            if COUNT {
                sums.n += 1;
            }
        }
    }
}

/// Per group of [`GROUP`] features, per feature, the sums of each of the 256 possible bins (a last,
/// short group has unused entries).
type Histogram = Vec<[[Sums; 256]; GROUP]>;

/// The best split of a leaf: rows with a bin `<= bin` of `feature` go left.
#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    bin: u8,
    gain: f64,
    left: Sums,
}

/// A leaf of the tree being grown: its node, its rows `rows[range]`, their sums, and, while it can still
/// be split, its histogram and best split.
struct Growing {
    node: usize,
    range: Range<usize>,
    sums: Sums,
    split: Option<(Histogram, Split)>,
}

/// The leaves of a grown tree: each one's rows (a range of [`Grower::rows`]) and value.
type LeafRows = Vec<(Range<usize>, f64)>;

/// Grows trees on one binned matrix, reusing its buffers.
struct Grower<'a> {
    params: &'a BoostParams,
    data: &'a Binned,
    /// Row indices, each leaf's rows contiguous and increasing after a tree is grown.
    rows: Vec<u32>,
}

impl<'a> Grower<'a> {
    fn new(params: &'a BoostParams, data: &'a Binned) -> Self {
        Grower {
            params,
            data,
            rows: Vec::with_capacity(data.rows),
        }
    }

    /// Grows one tree on the gradient pairs of all rows. Returns it with each leaf's rows (a range of
    /// [`Grower::rows`]) and value, or `None` when the root has no valid split.
    fn grow(&mut self, gradients: &[[f32; 2]]) -> Option<(Tree, LeafRows)> {
        let params = self.params;
        self.rows.clear();
        self.rows.extend(0..self.data.rows as u32);
        let hist = self.histogram(gradients, 0..self.data.rows);
        let sums = hist.first()?[0].iter().fold(Sums::default(), |total, &bin| total + bin);
        let root_split = self.best_split(&hist, sums)?;
        let mut nodes = vec![Node::Leaf { value: 0.0, rows: 0 }];
        let mut leaves = vec![Growing {
            node: 0,
            range: 0..self.data.rows,
            sums,
            split: Some((hist, root_split)),
        }];
        while leaves.len() < params.max_leaves {
            // The leaf with the largest gain; ties go to the first.
            let pick = leaves
                .iter()
                .enumerate()
                .filter_map(|(k, leaf)| leaf.split.as_ref().map(|(_, split)| (k, split.gain)))
                .reduce(|best, next| if next.1 > best.1 { next } else { best });
            let Some((k, _)) = pick else { break };
            let leaf = &mut leaves[k];
            let Some((mut hist, split)) = leaf.split.take() else {
                break;
            };
            let (node, range, sums) = (leaf.node, leaf.range.clone(), leaf.sums);
            let middle = range.start + self.partition(range.clone(), split.feature, split.bin);
            let first = nodes.len();
            nodes[node] = Node::Split {
                feature: split.feature,
                threshold: self.data.cuts[split.feature][usize::from(split.bin)],
                left: first,
                right: first + 1,
                gain: split.gain,
                rows: sums.n,
            };
            nodes.extend([Node::Leaf { value: 0.0, rows: 0 }; 2]);
            let children = [
                (range.start..middle, split.left),
                (middle..range.end, sums - split.left),
            ];
            // Histograms only for children that may still split: the smaller child's from its rows, the
            // larger's as the parent's minus it.
            let may_split = leaves.len() + 1 < params.max_leaves;
            let open = children.each_ref().map(|(_, sums)| may_split && self.splittable(*sums));
            let small = usize::from(children[1].1.n < children[0].1.n);
            let mut hists = [None, None];
            if open[0] || open[1] {
                let small_hist = self.histogram(gradients, children[small].0.clone());
                if open[1 - small] {
                    for (parent, &small) in hist
                        .iter_mut()
                        .flatten()
                        .flatten()
                        .zip(small_hist.iter().flatten().flatten())
                    {
                        *parent = *parent - small;
                    }
                    hists[1 - small] = Some(hist);
                }
                if open[small] {
                    hists[small] = Some(small_hist);
                }
            }
            let [left, right] = [0, 1].map(|c| {
                let (range, sums) = children[c].clone();
                let split = hists[c]
                    .take()
                    .and_then(|hist| self.best_split(&hist, sums).map(|split| (hist, split)));
                Growing {
                    node: first + c,
                    range,
                    sums,
                    split,
                }
            });
            leaves[k] = left;
            leaves.push(right);
        }
        let leaves = leaves
            .into_iter()
            .map(|leaf| {
                let value = -leaf.sums.g / (leaf.sums.h + params.l2) * params.learning_rate;
                nodes[leaf.node] = Node::Leaf {
                    value,
                    rows: leaf.sums.n,
                };
                (leaf.range, value)
            })
            .collect();
        Some((Tree { nodes }, leaves))
    }

    /// Whether a leaf with these sums has enough rows and hessian for two children.
    fn splittable(&self, sums: Sums) -> bool {
        sums.n as usize / 2 >= self.params.min_leaf_rows && sums.h >= 2.0 * self.params.min_leaf_hessian
    }

    /// The histogram of the leaf holding `rows[range]`. Its gradient pairs are first gathered in row
    /// order; then each unit of work, [`GROUP`] features over a block of [`BLOCK_ROWS`] rows, fills a small
    /// histogram of its own (the rows are read once for four features, whose sums do not wait on each
    /// other), in parallel; a group's blocks are added up in block order.
    fn histogram(&self, gradients: &[[f32; 2]], range: Range<usize>) -> Histogram {
        let rows = &self.rows[range];
        let gathered: Vec<[f32; 2]>;
        let root = rows.len() == self.data.rows; // every row, in order
        let pairs = if root {
            gradients
        } else {
            gathered = rows.par_iter().map(|&i| gradients[i as usize]).collect();
            &gathered
        };
        let d = self.data.cuts.len();
        let blocks = rows.len().div_ceil(BLOCK_ROWS);
        let mut units = vec![[[Sums::default(); 256]; GROUP]; d.div_ceil(GROUP) * blocks];
        units.par_iter_mut().enumerate().for_each(|(unit, hist)| {
            let (group, block) = (unit / blocks, unit % blocks);
            // A last, short group repeats its last feature; the copies are never read.
            let columns: [&[u8]; GROUP] = std::array::from_fn(|k| self.data.column((group * GROUP + k).min(d - 1)));
            let block = block * BLOCK_ROWS..((block + 1) * BLOCK_ROWS).min(rows.len());
            if root {
                fill::<false>(hist, columns, &rows[block.clone()], &pairs[block]);
            } else {
                fill::<true>(hist, columns, &rows[block.clone()], &pairs[block]);
            }
        });
        units.par_chunks_mut(blocks).for_each(|group| {
            let (first, rest) = group.split_at_mut(1);
            for block in rest {
                for (sums, &more) in first[0].iter_mut().flatten().zip(block.iter().flatten()) {
                    *sums = *sums + more;
                }
            }
        });
        let mut hist: Histogram = units.into_iter().step_by(blocks).collect();
        if root {
            for (j, bins) in hist.iter_mut().flatten().enumerate() {
                for (sums, &n) in bins.iter_mut().zip(&self.data.counts[j.min(d - 1)]) {
                    sums.n = n;
                }
            }
        }
        hist
    }

    /// The split of largest positive gain of a leaf with these sums, features in parallel; ties go to the
    /// lowest feature, then the lowest bin.
    fn best_split(&self, hist: &Histogram, sums: Sums) -> Option<Split> {
        let BoostParams {
            min_leaf_rows,
            min_leaf_hessian,
            l2,
            ..
        } = *self.params;
        let score = |s: Sums| s.g * s.g / (s.h + l2);
        let parent = score(sums);
        let features: Vec<&[Sums; 256]> = hist.iter().flatten().take(self.data.cuts.len()).collect();
        let per_feature: Vec<Option<Split>> = features
            .into_par_iter()
            .enumerate()
            .map(|(feature, bins)| {
                let mut best: Option<Split> = None;
                let mut left = Sums::default();
                for (bin, &sums_in_bin) in bins.iter().enumerate().take(self.data.cuts[feature].len()) {
                    left = left + sums_in_bin;
                    let right = sums - left;
                    if (right.n as usize) < min_leaf_rows {
                        break;
                    }
                    if (left.n as usize) < min_leaf_rows || left.h < min_leaf_hessian || right.h < min_leaf_hessian {
                        continue;
                    }
                    let gain = score(left) + score(right) - parent;
                    if gain > 0.0 && best.is_none_or(|b| gain > b.gain) {
                        best = Some(Split {
                            feature,
                            bin: bin as u8,
                            gain,
                            left,
                        });
                    }
                }
                best
            })
            .collect();
        per_feature
            .into_iter()
            .flatten()
            .reduce(|best, split| if split.gain > best.gain { split } else { best })
    }

    /// Stably partitions `rows[range]` into the rows with a bin `<= bin` of `feature`, then the others;
    /// returns how many go left. Fixed chunks run in parallel, branch-free (each row is written to both
    /// sides and one side advances), and are joined in order.
    fn partition(&mut self, range: Range<usize>, feature: usize, bin: u8) -> usize {
        let column = self.data.column(feature);
        let sides: Vec<(Vec<u32>, Vec<u32>)> = self.rows[range.clone()]
            .par_chunks(CHUNK_ROWS)
            .map(|rows| {
                let (mut left, mut right) = (vec![0; rows.len()], vec![0; rows.len()]);
                let (mut l, mut r) = (0, 0);
                for &row in rows {
                    let goes_left = column[row as usize] <= bin;
                    left[l] = row;
                    right[r] = row;
                    l += usize::from(goes_left);
                    r += usize::from(!goes_left);
                }
                left.truncate(l);
                right.truncate(r);
                (left, right)
            })
            .collect();
        let mut at = range.start;
        for part in sides
            .iter()
            .map(|(left, _)| left)
            .chain(sides.iter().map(|(_, right)| right))
        {
            self.rows[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        sides.iter().map(|(left, _)| left.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_at_a_cut_stays_in_the_lower_bin() {
        let cuts = bin_cuts(vec![3.0, 1.0, 2.0, 2.0, 1.0, f64::MAX, 1.0 + f64::EPSILON], 255);
        assert_eq!(cuts, vec![1.0, 1.5, 2.5, 3.0 * 0.5 + f64::MAX * 0.5]);
        for (b, &cut) in cuts.iter().enumerate() {
            assert_eq!(usize::from(bin_of(&cuts, cut)), b);
            let above = f64::from_bits(cut.to_bits() + 1); // the next float (cuts here are positive)
            assert_eq!(usize::from(bin_of(&cuts, above)), b + 1);
        }
        assert_eq!(bin_of(&cuts, f64::MIN), 0);
        assert_eq!(bin_of(&cuts, f64::MAX), 4);
    }

    #[test]
    fn many_distinct_values_get_quantile_bins_and_a_heavy_value_its_own() {
        // Half zeros, then 1..=10,000: the zeros fill the first bin, the rest share the others evenly.
        let values: Vec<f64> = (0..10_000).map(|_| 0.0).chain((1..=10_000).map(f64::from)).collect();
        let cuts = bin_cuts(values, 11);
        assert_eq!(cuts.len(), 10);
        assert_eq!(cuts[0], 0.5);
        assert_eq!(cuts[1], 1000.5);
        assert_eq!(cuts[9], 9000.5);
    }

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
