//! Per-row contributions: how far each feature moves one row's raw log-odds from the model's baseline.
//! They add up exactly: `baseline + Σ contributions = raw log-odds` (before calibration).
//!
//! - **Logistic**: the baseline is the intercept (the log-odds of a row at the training means) and a
//!   feature contributes `weight · (x − mean) / scale`.
//! - **Boosted trees**: path-dependent TreeSHAP (Lundberg et al., *Consistent individualized feature
//!   attribution for tree ensembles*, 2018, Algorithm 2): the Shapley values of the trees' conditional
//!   expectations, with a missing feature averaged over both branches in proportion to the training rows
//!   that took them. The baseline is the base score plus each tree's row-weighted mean leaf.

use ndarray::ArrayView1;

use crate::boost::{Boosted, Node, Tree};
use crate::model::{LinearModel, Model};

impl Model {
    /// The raw log-odds of a row whose contributions are all zero.
    pub fn baseline(&self) -> f64 {
        match self {
            Model::Logistic(m) => m.intercept,
            Model::Boosted(b) => b.trees.iter().fold(b.base_score, |sum, tree| sum + tree.mean_leaf()),
        }
    }

    /// Each feature's contribution to the raw log-odds of `row`, written into `out` (one per feature).
    ///
    /// # Panics
    /// If `row` or `out` is shorter than the model's features.
    pub fn contributions(&self, row: ArrayView1<f64>, out: &mut [f64]) {
        match self {
            Model::Logistic(m) => linear_contributions(m, row, out),
            Model::Boosted(b) => tree_contributions(b, row, out),
        }
    }
}

fn linear_contributions(m: &LinearModel, row: ArrayView1<f64>, out: &mut [f64]) {
    let s = &m.standardizer;
    for (j, out) in out.iter_mut().enumerate().take(m.weights.len()) {
        *out = m.weights[j] * (row[j] - s.means[j]) / s.scales[j];
    }
}

fn tree_contributions(b: &Boosted, row: ArrayView1<f64>, out: &mut [f64]) {
    out.fill(0.0);
    let mut path = Vec::new();
    for tree in &b.trees {
        path.clear();
        tree_shap(tree, row, out, &mut path, 0, 0, 0, 1.0, 1.0, NO_FEATURE);
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

/// The feature of the path's root element, which no split tests.
const NO_FEATURE: usize = usize::MAX;

/// One feature on the path from the root: the share of rows that follow the path when the feature is
/// unknown (`zero`), whether the row itself follows it (`one`), and the permutation weight.
#[derive(Debug, Clone, Copy)]
struct PathElement {
    feature: usize,
    zero: f64,
    one: f64,
    weight: f64,
}

/// Visits `node`, whose parent's unique path is `path[parent_start..parent_start + parent_len]`; this
/// node's path is stored right after it.
#[allow(clippy::too_many_arguments)]
fn tree_shap(
    tree: &Tree,
    row: ArrayView1<f64>,
    phi: &mut [f64],
    path: &mut Vec<PathElement>,
    parent_start: usize,
    parent_len: usize,
    node: usize,
    zero: f64,
    one: f64,
    feature: usize,
) {
    let start = parent_start + parent_len;
    path.truncate(start);
    path.extend_from_within(parent_start..start);
    let mut depth = parent_len;
    path.push(PathElement {
        feature,
        zero,
        one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    });
    extend(&mut path[start..], depth);
    match tree.nodes[node] {
        Node::Leaf { value, .. } => {
            let own = &path[start..];
            for i in 1..=depth {
                let element = own[i];
                phi[element.feature] += unwound_sum(own, depth, i) * (element.one - element.zero) * value;
            }
        }
        Node::Split {
            feature: split,
            threshold,
            left,
            right,
            rows,
            ..
        } => {
            let (hot, cold) = if row[split] <= threshold {
                (left, right)
            } else {
                (right, left)
            };
            let rows = f64::from(rows);
            let (mut incoming_zero, mut incoming_one) = (1.0, 1.0);
            // A feature split on again: undo its earlier element and redo it here.
            if let Some(k) = (1..=depth).find(|&k| path[start + k].feature == split) {
                incoming_zero = path[start + k].zero;
                incoming_one = path[start + k].one;
                unwind(&mut path[start..], depth, k);
                depth -= 1;
            }
            let hot_zero = tree.rows(hot) / rows * incoming_zero;
            let cold_zero = tree.rows(cold) / rows * incoming_zero;
            tree_shap(
                tree,
                row,
                phi,
                path,
                start,
                depth + 1,
                hot,
                hot_zero,
                incoming_one,
                split,
            );
            tree_shap(tree, row, phi, path, start, depth + 1, cold, cold_zero, 0.0, split);
        }
    }
}

/// Updates the permutation weights for the element just added at `depth`.
fn extend(path: &mut [PathElement], depth: usize) {
    let PathElement { zero, one, .. } = path[depth];
    let d = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / d;
        path[i].weight = zero * path[i].weight * (depth - i) as f64 / d;
    }
}

/// Removes element `k` from a path of `depth + 1` elements, undoing its [`extend`].
fn unwind(path: &mut [PathElement], depth: usize, k: usize) {
    let PathElement { zero, one, .. } = path[k];
    let d = (depth + 1) as f64;
    let mut next = path[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let kept = path[i].weight;
            path[i].weight = next * d / ((i + 1) as f64 * one);
            next = kept - path[i].weight * zero * (depth - i) as f64 / d;
        } else {
            path[i].weight = path[i].weight * d / (zero * (depth - i) as f64);
        }
    }
    for i in k..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

/// The total permutation weight of the path with element `k` removed, without changing the path.
fn unwound_sum(path: &[PathElement], depth: usize, k: usize) -> f64 {
    let PathElement { zero, one, .. } = path[k];
    let d = (depth + 1) as f64;
    let mut next = path[depth].weight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let share = next * d / ((i + 1) as f64 * one);
            total += share;
            next = path[i].weight - share * zero * (depth - i) as f64 / d;
        } else if zero != 0.0 {
            total += path[i].weight / zero / ((depth - i) as f64 / d);
        }
    }
    total
}
