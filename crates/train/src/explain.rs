//! Per-row contributions: how far each feature moves one row's raw log-odds from the model's baseline.
//! They add up exactly: `baseline + Σ contributions = raw log-odds` (before calibration).
//!
//! - **Logistic**: the baseline is the intercept (the log-odds of a row at the training means) and a
//!   feature contributes `weight · (t(x) − mean) / scale`, `t` the signed log1p of a heavy-tailed column.
//! - **Boosted trees**: path-dependent TreeSHAP (Lundberg et al., *Consistent individualized feature
//!   attribution for tree ensembles*, 2018): the Shapley values of the trees' conditional expectations,
//!   with a feature left out averaged over both branches in proportion to the training rows that took
//!   them. The baseline is the base score plus each tree's row-weighted mean leaf.
//!
//!   A leaf's share of the Shapley values depends only on which of the distinct features on its path the
//!   row agrees with (goes the path's way at every split on it). [`Model::explainer`] tabulates the leaves'
//!   values for every such pattern, shortest paths first within [`TABLE_BUDGET`], as Fast TreeSHAP v2 does
//!   (Yang, *Fast TreeSHAP*, 2021), so most leaves cost a lookup per row; other leaves' values are computed
//!   for the row's pattern with the same path algebra (Lundberg's Algorithm 2). Trees go over blocks of
//!   rows one at a time ([`Explainer::contributions_of_rows`]) so their tables stay in cache.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};
use rayon::prelude::*;

use crate::boost::{Node, Tree};
use crate::model::{LinearModel, Model};

/// Numbers in all leaf tables together, at most (128 MiB): leaves are tabulated shortest path first
/// (`2^n · n` numbers for `n` features) until the next would not fit.
pub const TABLE_BUDGET: usize = 1 << 24;

/// Leaves testing more distinct features than this are never tabulated.
pub const MAX_TABLE_FEATURES: usize = 16;

impl Model {
    /// The raw log-odds of a row whose contributions are all zero.
    pub fn baseline(&self) -> f64 {
        match self {
            Model::Logistic(m) => m.intercept,
            Model::Boosted(b) => b.trees.iter().fold(b.base_score, |sum, tree| sum + tree.mean_leaf()),
        }
    }

    /// Prepares the model to give the contributions of rows (the trees' leaf tables).
    pub fn explainer(&self) -> Explainer<'_> {
        match self {
            Model::Logistic(m) => Explainer::Linear(m),
            Model::Boosted(b) => {
                let mut trees: Vec<TreeTable> = b.trees.iter().map(TreeTable::new).collect();
                // Which leaves fit the budget, shortest paths first (ties in tree order).
                let mut sizes: Vec<(usize, usize, usize)> = trees
                    .iter()
                    .enumerate()
                    .flat_map(|(t, tree)| {
                        tree.leaves
                            .iter()
                            .enumerate()
                            .map(move |(l, leaf)| (leaf.features.len(), t, l))
                    })
                    .filter(|&(d, _, _)| d <= MAX_TABLE_FEATURES)
                    .collect();
                sizes.sort_unstable();
                let mut used = 0;
                for (d, t, l) in sizes {
                    used += (1 << d) * d;
                    if used > TABLE_BUDGET {
                        break;
                    }
                    trees[t].leaves[l].table = Some(Vec::new());
                }
                trees.par_iter_mut().for_each(TreeTable::tabulate);
                Explainer::Trees(trees)
            }
        }
    }
}

/// A model prepared to give per-row contributions.
pub enum Explainer<'a> {
    /// The linear model's terms.
    Linear(&'a LinearModel),
    /// Each tree's leaves.
    Trees(Vec<TreeTable>),
}

impl Explainer<'_> {
    /// Each feature's contribution to the raw log-odds of `row`, written into `out` (one per feature).
    ///
    /// # Panics
    /// If `row` or `out` is shorter than the model's features.
    pub fn contributions(&self, row: ArrayView1<f64>, out: &mut [f64]) {
        let features = out.len();
        let out = ArrayViewMut2::from_shape((1, features), out).expect("one row of the slice's length");
        self.contributions_of_rows(row.insert_axis(Axis(0)), out);
    }

    /// The contributions of each row of `rows` (one row of `out` each). Trees go one at a time over all
    /// the rows, so each tree's tables stay in cache: give blocks of a few hundred rows.
    ///
    /// # Panics
    /// If `out` has fewer rows than `rows`, or either has fewer columns than the model's features.
    pub fn contributions_of_rows(&self, rows: ArrayView2<f64>, mut out: ArrayViewMut2<f64>) {
        match self {
            Explainer::Linear(m) => {
                for (row, mut out) in rows.rows().into_iter().zip(out.rows_mut()) {
                    for (j, out) in out.iter_mut().enumerate().take(m.weights.len()) {
                        *out = m.weights[j] * m.standardizer.standardize(j, row[j]);
                    }
                }
            }
            Explainer::Trees(trees) => {
                out.fill(0.0);
                let mut scratch = Scratch::default();
                for tree in trees {
                    for (row, mut out) in rows.rows().into_iter().zip(out.rows_mut()) {
                        tree.add(row, &mut out, &mut scratch);
                    }
                }
            }
        }
    }
}

impl Tree {
    /// The mean leaf value over the training rows: the tree's expected contribution.
    pub fn mean_leaf(&self) -> f64 {
        let (sum, rows) = self.nodes.iter().fold((0.0, 0.0), |(sum, rows), node| match *node {
            Node::Leaf { value, rows: n } => (sum + value * f64::from(n), rows + f64::from(n)),
            Node::Split { .. } => (sum, rows),
        });
        if rows > 0.0 {
            sum / rows
        } else {
            0.0
        }
    }

    fn rows(&self, node: usize) -> f64 {
        match self.nodes[node] {
            Node::Split { rows, .. } | Node::Leaf { rows, .. } => f64::from(rows),
        }
    }
}

/// One tree's splits and leaves, ready for many rows.
pub struct TreeTable {
    /// `(feature, threshold)` of each node (unused for leaves).
    splits: Vec<(usize, f64)>,
    leaves: Vec<Leaf>,
}

/// A leaf's path and, for a short path, its contributions for every agreement pattern.
struct Leaf {
    /// The splits on the path: node, whether the path goes left there, and the slot of its feature.
    steps: Vec<(usize, bool, usize)>,
    /// The distinct features of the path, by slot.
    features: Vec<usize>,
    /// By slot: the share of the training rows that follow the path at the feature's splits.
    zeros: Vec<f64>,
    /// The leaf's value.
    value: f64,
    /// For a pattern `s` (bit `k` set when the row agrees with slot `k`'s feature), slot `k`'s contribution
    /// is `table[s · features.len() + k]`; `None` when the leaf is not tabulated (see [`TABLE_BUDGET`]).
    table: Option<Vec<f64>>,
}

/// Buffers reused across trees and rows.
#[derive(Default)]
struct Scratch {
    agrees: Vec<bool>,
    path: Vec<PathElement>,
    values: Vec<f64>,
}

impl TreeTable {
    fn new(tree: &Tree) -> TreeTable {
        let splits = tree
            .nodes
            .iter()
            .map(|node| match *node {
                Node::Split { feature, threshold, .. } => (feature, threshold),
                Node::Leaf { .. } => (0, f64::NAN),
            })
            .collect();
        let mut leaves = Vec::new();
        // Depth first: (node, steps to it, distinct features, their shares of rows).
        let mut stack = vec![(0usize, Vec::new(), Vec::new(), Vec::new())];
        while let Some((node, steps, features, zeros)) = stack.pop() {
            match tree.nodes[node] {
                Node::Leaf { value, .. } => leaves.push(Leaf {
                    steps,
                    features,
                    zeros,
                    value,
                    table: None,
                }),
                Node::Split {
                    feature, left, right, ..
                } => {
                    for (child, goes_left) in [(left, true), (right, false)] {
                        let (mut steps, mut features, mut zeros) = (steps.clone(), features.clone(), zeros.clone());
                        let share = tree.rows(child) / tree.rows(node);
                        let slot = match features.iter().position(|&f| f == feature) {
                            Some(slot) => {
                                zeros[slot] *= share;
                                slot
                            }
                            None => {
                                features.push(feature);
                                zeros.push(share);
                                features.len() - 1
                            }
                        };
                        steps.push((node, goes_left, slot));
                        stack.push((child, steps, features, zeros));
                    }
                }
            }
        }
        TreeTable { splits, leaves }
    }

    /// Fills the tables of the leaves marked with an empty one.
    fn tabulate(&mut self) {
        let mut path = Vec::new();
        for leaf in &mut self.leaves {
            if let Some(table) = &mut leaf.table {
                let d = leaf.features.len();
                table.resize((1 << d) * d, 0.0);
                for (pattern, values) in table.chunks_mut(d.max(1)).enumerate() {
                    leaf_values(&leaf.zeros, leaf.value, pattern, &mut path, values);
                }
            }
        }
    }

    /// Adds the tree's contributions for `row` to `out`.
    fn add(&self, row: ArrayView1<f64>, out: &mut ArrayViewMut1<f64>, scratch: &mut Scratch) {
        let Scratch { agrees, path, values } = scratch;
        agrees.clear();
        agrees.extend(
            self.splits
                .iter()
                .map(|&(feature, threshold)| row[feature] <= threshold),
        );
        for leaf in &self.leaves {
            let d = leaf.features.len();
            let mut pattern = (1usize << d) - 1;
            for &(node, goes_left, slot) in &leaf.steps {
                if agrees[node] != goes_left {
                    pattern &= !(1 << slot);
                }
            }
            let values: &[f64] = match &leaf.table {
                Some(table) => &table[pattern * d..(pattern + 1) * d],
                None => {
                    values.resize(d, 0.0);
                    leaf_values(&leaf.zeros, leaf.value, pattern, path, values);
                    values
                }
            };
            for (&feature, value) in leaf.features.iter().zip(values) {
                out[feature] += value;
            }
        }
    }
}

/// One feature on a leaf's path: the share of rows that follow the path when the feature is left out
/// (`zero`), whether the row follows it (`one`, 0 or 1), and the permutation weight.
#[derive(Debug, Clone, Copy)]
struct PathElement {
    zero: f64,
    one: f64,
    weight: f64,
}

/// The contributions of a leaf of `value` to its path's distinct features, whose shares of rows are
/// `zeros`, for a row whose agreement `pattern` has bit `k` set when it agrees with feature `k`; written to
/// `out` by slot.
fn leaf_values(zeros: &[f64], value: f64, pattern: usize, path: &mut Vec<PathElement>, out: &mut [f64]) {
    let d = zeros.len();
    path.clear();
    path.push(PathElement {
        zero: 1.0,
        one: 1.0,
        weight: 1.0,
    });
    for (k, &zero) in zeros.iter().enumerate() {
        let one = if pattern & (1 << k) != 0 { 1.0 } else { 0.0 };
        path.push(PathElement { zero, one, weight: 0.0 });
        extend(path, k + 1);
    }
    for (k, out) in out.iter_mut().enumerate().take(d) {
        let element = path[k + 1];
        *out = unwound_sum(path, d, k + 1) * (element.one - element.zero) * value;
    }
}

/// `1 / k` for small `k`: the path algebra multiplies by these instead of dividing, which keeps its
/// loop-carried chains short.
const RECIPROCALS: [f64; 257] = {
    let mut table = [0.0; 257];
    let mut k = 1;
    while k < 257 {
        table[k] = 1.0 / k as f64;
        k += 1;
    }
    table
};

fn reciprocal(k: usize) -> f64 {
    RECIPROCALS.get(k).copied().unwrap_or(1.0 / k as f64)
}

/// Updates the permutation weights for the element just added at `depth` (Lundberg's EXTEND).
fn extend(path: &mut [PathElement], depth: usize) {
    let PathElement { zero, one, .. } = path[depth];
    let inverse = reciprocal(depth + 1);
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 * inverse;
        path[i].weight = zero * path[i].weight * (depth - i) as f64 * inverse;
    }
}

/// The total permutation weight of the path with element `k` left out (Lundberg's UNWOUND-SUM). As `one`
/// is 0 or 1, dividing by it is dividing by 1.
fn unwound_sum(path: &[PathElement], depth: usize, k: usize) -> f64 {
    let PathElement { zero, one, .. } = path[k];
    let d = (depth + 1) as f64;
    let mut total = 0.0;
    if one != 0.0 {
        let inverse = reciprocal(depth + 1);
        let mut next = path[depth].weight;
        for i in (0..depth).rev() {
            let share = next * d * reciprocal(i + 1);
            total += share;
            next = path[i].weight - share * zero * (depth - i) as f64 * inverse;
        }
    } else if zero != 0.0 {
        let inverse_zero = 1.0 / zero;
        for i in (0..depth).rev() {
            total += path[i].weight * inverse_zero * d * reciprocal(depth - i);
        }
    }
    total
}
