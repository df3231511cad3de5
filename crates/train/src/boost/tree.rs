//! Fitted trees and the model that sums them.

use ndarray::{Array1, ArrayView1, ArrayView2, Zip};
use serde::{Deserialize, Serialize};

use crate::check::{self, FieldError};
use crate::logistic::sigmoid;
use crate::matrix::Value;

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
