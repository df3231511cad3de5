//! Per-row contributions: exact additivity for both families, and TreeSHAP against Shapley values computed
//! by brute force over every subset of features from the same definition (the row-weighted conditional
//! expectation of each tree).

use ndarray::{Array2, ArrayView1};
use pql_train::boost::{BoostParams, Boosted, Node, Tree};
use pql_train::explain::MAX_TABLE_FEATURES;
use pql_train::matrix::{LabelledMatrix, Standardizer};
use pql_train::model::{LinearModel, Model, Settings};
use rand::{Rng, SeedableRng};

fn data(n: usize, d: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, d), |(_, j)| {
        if j % 2 == 0 {
            f64::from(rng.gen_range(0..6u8))
        } else {
            rng.gen_range(-1.0..1.0)
        }
    });
    let labels = x
        .rows()
        .into_iter()
        .map(|r| {
            let z = 0.6 * r[0] - 1.5 + if r[1] > 0.2 && r[2] >= 3.0 { 1.5 } else { 0.0 };
            rng.gen::<f64>() < 1.0 / (1.0 + (-z).exp())
        })
        .collect();
    (x, labels)
}

fn boosted(x: &Array2<f64>, labels: &[bool], trees: usize) -> Boosted {
    BoostParams::default()
        .max_leaves(12)
        .min_leaf_rows(5)
        .learning_rate(0.3)
        .max_trees(trees)
        .check()
        .unwrap()
        .fit(x.view(), labels, None)
        .unwrap()
}

/// `E[tree(x) | x_S]`: features in `known` follow the row, the others average both branches by rows.
fn conditional(tree: &Tree, node: usize, row: ArrayView1<f64>, known: u32) -> f64 {
    match tree.nodes[node] {
        Node::Leaf { value, .. } => value,
        Node::Split {
            feature,
            threshold,
            left,
            right,
            rows,
            ..
        } => {
            if known & (1 << feature) != 0 {
                conditional(tree, if row[feature] <= threshold { left } else { right }, row, known)
            } else {
                let n = |i: usize| match tree.nodes[i] {
                    Node::Split { rows, .. } | Node::Leaf { rows, .. } => f64::from(rows),
                };
                (n(left) * conditional(tree, left, row, known) + n(right) * conditional(tree, right, row, known))
                    / f64::from(rows)
            }
        }
    }
}

/// Shapley values of `S ↦ Σ_trees E[tree | x_S]` by enumerating every subset.
fn brute_force_shapley(model: &Boosted, row: ArrayView1<f64>, d: usize) -> Vec<f64> {
    let value = |set: u32| -> f64 { model.trees.iter().map(|t| conditional(t, 0, row, set)).sum() };
    let factorial = |k: usize| (1..=k).product::<usize>() as f64;
    (0..d)
        .map(|i| {
            (0u32..1 << d)
                .filter(|set| set & (1 << i) == 0)
                .map(|set| {
                    let s = set.count_ones() as usize;
                    factorial(s) * factorial(d - s - 1) / factorial(d) * (value(set | 1 << i) - value(set))
                })
                .sum()
        })
        .collect()
}

#[test]
fn tree_contributions_are_the_shapley_values_of_the_conditional_expectations() {
    for (d, leaves, rows_checked) in [(5, 12, 50), (8, 40, 10)] {
        let (x, labels) = data(4000, d, 3);
        let model = BoostParams::default()
            .max_leaves(leaves)
            .min_leaf_rows(1)
            .learning_rate(0.3)
            .max_trees(6)
            .check()
            .unwrap()
            .fit(x.view(), &labels, None)
            .unwrap();
        // A feature tested twice on one path exercises the shares of repeated splits.
        assert!(model.trees.iter().any(|t| t
            .nodes
            .iter()
            .filter(|n| matches!(n, Node::Split { feature: 0, .. }))
            .count()
            > 1));
        let wrapped = Model::Boosted(model.clone());
        let explainer = wrapped.explainer();
        let mut phi = vec![0.0; d];
        for r in 0..rows_checked {
            let row = x.row(r);
            explainer.contributions(row, &mut phi);
            let want = brute_force_shapley(&model, row, d);
            for (got, want) in phi.iter().zip(&want) {
                assert!((got - want).abs() < 1e-12, "row {r}: {phi:?} vs {want:?}");
            }
        }
    }
}

#[test]
fn a_path_too_long_to_tabulate_gives_the_shapley_values_too() {
    // A chain of splits on features 0, 1, …, d − 1 and then 3 again: its deepest leaves test more than
    // MAX_TABLE_FEATURES features, so their values are computed per row.
    let d = MAX_TABLE_FEATURES + 2;
    let features: Vec<usize> = (0..d).chain([3]).collect();
    let mut nodes = Vec::new();
    let mut rows = 100 * (features.len() as u32 + 1);
    for (k, &feature) in features.iter().enumerate() {
        let at = nodes.len();
        nodes.push(Node::Split {
            feature,
            threshold: 0.5 + 0.1 * (k / d) as f64,
            left: at + 1,
            right: at + 2,
            gain: 1.0,
            rows,
        });
        nodes.push(Node::Leaf {
            value: (k as f64).sin(),
            rows: 100,
        });
        rows -= 100;
    }
    nodes.push(Node::Leaf { value: 0.7, rows });
    let model = Boosted {
        base_score: -2.0,
        trees: vec![Tree { nodes }],
        validation_log_loss: Vec::new(),
    };
    let wrapped = Model::Boosted(model.clone());
    let explainer = wrapped.explainer();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut phi = vec![0.0; d];
    for _ in 0..3 {
        // Mostly right of every split (down the chain), with a few left turns.
        let row = ndarray::Array1::from_shape_fn(d, |_| if rng.gen::<f64>() < 0.9 { 1.0 } else { 0.0 });
        explainer.contributions(row.view(), &mut phi);
        let want = brute_force_shapley(&model, row.view(), d);
        for (got, want) in phi.iter().zip(&want) {
            assert!((got - want).abs() < 1e-12, "{phi:?} vs {want:?}");
        }
    }
}

#[test]
fn contributions_add_up_to_the_raw_log_odds() {
    let (x, labels) = data(4000, 6, 11);
    let rows = LabelledMatrix {
        x: x.mapv(|v| v as f32).into_shared(),
        labels: labels.clone(),
        as_of: vec![0; x.nrows()],
        names: (0..6).map(|j| format!("f{j}")).collect(),
        keys: (0..x.nrows() as u64).collect(),
    };
    let models = [
        Settings::Logistic { l2: 0.1 }.fit(&rows, 0.0).unwrap(),
        Model::Boosted(boosted(&x, &labels, 40)),
    ];
    let mut phi = vec![0.0; 6];
    for model in &models {
        let raw = model.predict(x.view());
        let explainer = model.explainer();
        for (r, p) in raw.iter().enumerate().take(200) {
            explainer.contributions(x.row(r), &mut phi);
            let log_odds = model.baseline() + phi.iter().sum::<f64>();
            assert!(
                (log_odds - (p / (1.0 - p)).ln()).abs() < 1e-9,
                "{:?} row {r}",
                model.kind()
            );
        }
    }
}

#[test]
fn a_linear_contribution_is_the_weight_times_the_standardised_value() {
    let model = Model::Logistic(LinearModel {
        l2: 1.0,
        standardizer: Standardizer {
            means: vec![2.0, 0.0],
            scales: vec![4.0, 1.0],
            signed_log1p: vec![false, true],
        },
        intercept: -3.0,
        weights: vec![0.5, -1.0],
    });
    let mut phi = vec![0.0; 2];
    model
        .explainer()
        .contributions(ndarray::arr1(&[10.0, 0.25]).view(), &mut phi);
    assert_eq!(phi, vec![0.5 * 8.0 / 4.0, -(1.25f64.ln())]);
    assert_eq!(model.baseline(), -3.0);
    // Both scoring paths agree with the contributions: σ(baseline + Σ φ).
    let want = 1.0 / (1.0 + (-(model.baseline() + phi.iter().sum::<f64>())).exp());
    let p = model.predict(ndarray::arr2(&[[10.0, 0.25]]).view());
    let table = polars::df!("a" => [10.0], "b" => [0.25]).unwrap();
    let columns = pql_train::matrix::FeatureColumns::from_table(&table, &["a".into(), "b".into()]).unwrap();
    let q = model.predict_columns(&columns);
    assert!(
        (p[0] - want).abs() < 1e-15 && (q[0] - want).abs() < 1e-15,
        "{p:?} {q:?} {want}"
    );
}

#[test]
fn the_tree_baseline_is_the_mean_prediction_of_the_training_rows() {
    let (x, labels) = data(2000, 4, 5);
    let model = boosted(&x, &labels, 20);
    let mean_raw: f64 = x.rows().into_iter().map(|r| model.raw_score(r)).sum::<f64>() / 2000.0;
    assert!((Model::Boosted(model).baseline() - mean_raw).abs() < 1e-9);
}
