//! Gradient-boosted trees: a first tree checked by hand, an interaction a linear model cannot learn, early
//! stopping, bit-identical fits across runs and thread counts, errors, and serialisation.

use ndarray::{Array2, Axis};
use pql_train::boost::{BoostError, BoostParams, Boosted, Node};
use pql_train::logistic::LogisticParams;
use pql_train::metrics::Metrics;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

fn auc(labels: &[bool], probabilities: &[f64]) -> f64 {
    Metrics::evaluate(labels, probabilities).unwrap().roc_auc
}

/// `n` rows: even columns heavy-tailed counts (mostly zero), odd columns standard normal; the label
/// depends on columns 0, 1 and 3 through thresholds and an interaction, at a rate of about 15%.
fn counts_and_normals(n: usize, d: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, d), |(_, j)| {
        if j % 2 == 1 {
            rng.sample(StandardNormal)
        } else if rng.gen::<f64>() < 0.6 {
            0.0
        } else {
            rng.sample::<f64, _>(StandardNormal).mul_add(1.2, 0.5).exp().floor()
        }
    });
    let labels = x
        .rows()
        .into_iter()
        .map(|row| {
            let z = -2.5 + 0.7 * row[0].ln_1p() + f64::from(u8::from(row[0] > 2.0 && row[3] > 0.0)) - 0.5 * row[1];
            rng.gen::<f64>() < 1.0 / (1.0 + (-z).exp())
        })
        .collect();
    (x, labels)
}

#[test]
fn the_first_tree_on_a_step_is_computed_by_hand() {
    // x = 0..99, converted iff x >= 60: base rate 0.4, so every row starts at p = 0.4 with g = p − y and
    // h = 0.24. The left side (x <= 59.5) has 60 rows, G = 60 · 0.4 = 24, H = 14.4; the right 40 rows,
    // G = 40 · (0.4 − 1) = −24, H = 9.6. With λ = 1 and learning rate 0.1 the leaves are −0.1 · 24 / 15.4 and
    // 0.1 · 24 / 10.6, and the gain 24² / 15.4 + 24² / 10.6 − 0² / 25.
    let x = Array2::from_shape_fn((100, 1), |(i, _)| i as f64);
    let labels: Vec<bool> = (0..100).map(|i| i >= 60).collect();
    let model = BoostParams::default()
        .max_leaves(2)
        .min_leaf_rows(1)
        .l2(1.0)
        .learning_rate(0.1)
        .max_trees(1)
        .check()
        .unwrap()
        .fit(x.view(), &labels, None)
        .unwrap();
    assert!((model.base_score - (0.4f64 / 0.6).ln()).abs() < 1e-15);
    assert_eq!(model.trees.len(), 1);
    let nodes = &model.trees[0].nodes;
    assert_eq!(nodes.len(), 3);
    let Node::Split {
        feature,
        threshold,
        left,
        right,
        gain,
        rows,
    } = nodes[0]
    else {
        panic!("the root is a leaf: {nodes:?}")
    };
    assert_eq!((feature, threshold, left, right, rows), (0, 59.5, 1, 2, 100));
    let close = |got: f64, want: f64| (got - want).abs() < 1e-6 * want.abs().max(1.0);
    assert!(close(gain, 24.0 * 24.0 / 15.4 + 24.0 * 24.0 / 10.6), "gain {gain}");
    let (Node::Leaf { value: low, rows: 60 }, Node::Leaf { value: high, rows: 40 }) = (nodes[1], nodes[2]) else {
        panic!("children are not leaves of 60 and 40 rows: {nodes:?}")
    };
    assert!(close(low, -0.1 * 24.0 / 15.4), "left leaf {low}");
    assert!(close(high, 0.1 * 24.0 / 10.6), "right leaf {high}");
    assert_eq!(model.split_gains(1), vec![gain]);
    assert_eq!(model.raw_score(x.row(59)), model.base_score + low);
    assert_eq!(model.raw_score(x.row(60)), model.base_score + high);
}

#[test]
fn learns_an_interaction_logistic_regression_cannot() {
    // Converted iff x0 and x1 have different signs, with 5% of labels flipped; x2, x3 are noise.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let n = 30_000;
    let x = Array2::from_shape_fn((n, 4), |_| rng.gen_range(-1.0..1.0));
    let labels: Vec<bool> = x
        .rows()
        .into_iter()
        .map(|row| ((row[0] > 0.0) != (row[1] > 0.0)) != (rng.gen::<f64>() < 0.05))
        .collect();
    let (train, test) = x.view().split_at(Axis(0), 20_000);
    let (train_labels, test_labels) = labels.split_at(20_000);
    let model = BoostParams::default()
        .max_trees(100)
        .check()
        .unwrap()
        .fit(train, train_labels, None)
        .unwrap();
    assert_eq!(model.trees.len(), 100);
    assert!(model.validation_log_loss.is_empty());
    let boosted = auc(test_labels, model.predict_proba(test).as_slice().unwrap());
    assert!(boosted > 0.9, "boosted AUC {boosted}");
    let linear = LogisticParams::default()
        .check()
        .unwrap()
        .fit(train, train_labels)
        .unwrap();
    let linear = auc(test_labels, linear.predict_proba(test).as_slice().unwrap());
    assert!(linear < 0.6, "logistic AUC {linear}");
    let gains = model.split_gains(4);
    assert!(
        gains[0].min(gains[1]) > 10.0 * gains[2].max(gains[3]),
        "gains {gains:?}"
    );
}

#[test]
fn early_stopping_keeps_the_trees_up_to_the_best_validation_loss() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let x = Array2::from_shape_fn((8000, 5), |_| rng.sample::<f64, _>(StandardNormal));
    let labels: Vec<bool> = (0..8000).map(|_| rng.gen::<f64>() < 0.2).collect();
    let (train, validation) = x.view().split_at(Axis(0), 4000);
    let rounds = 10;
    let model = BoostParams::default()
        .learning_rate(0.1)
        .early_stopping_rounds(rounds)
        .check()
        .unwrap()
        .fit(train, &labels[..4000], Some((validation, &labels[4000..])))
        .unwrap();
    let losses = &model.validation_log_loss;
    let best = (0..losses.len()).fold(0, |best, k| if losses[k] < losses[best] { k } else { best });
    assert_eq!(model.trees.len(), best + 1, "losses {losses:?}");
    assert_eq!(losses.len(), model.trees.len() + rounds);
    assert!(model.trees.len() < 50, "{} trees on noise", model.trees.len());
    // The recorded loss is that of the kept model.
    let p = model.predict_proba(validation);
    let loss = Metrics::evaluate(&labels[4000..], p.as_slice().unwrap())
        .unwrap()
        .log_loss;
    assert!((loss - losses[best]).abs() < 1e-12, "{loss} vs {}", losses[best]);
}

#[test]
fn fits_are_bit_identical_across_runs_and_thread_counts() {
    let (x, labels) = counts_and_normals(80_000, 8, 3);
    let (train, validation) = x.view().split_at(Axis(0), 60_000);
    let params = BoostParams::default().learning_rate(0.2).max_trees(40).check().unwrap();
    let fit = || {
        params
            .fit(train, &labels[..60_000], Some((validation, &labels[60_000..])))
            .unwrap()
    };
    let first = fit();
    assert!(first.trees.len() > 5, "{} trees", first.trees.len());
    assert_eq!(fit(), first);
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let again = pool.install(fit);
        assert_eq!(again, first, "{threads} threads");
        assert_eq!(
            serde_json::to_string(&again).unwrap(),
            serde_json::to_string(&first).unwrap()
        );
    }
}

#[test]
fn a_serialised_model_predicts_the_same() {
    let (x, labels) = counts_and_normals(5000, 6, 5);
    let model = BoostParams::default()
        .max_trees(20)
        .check()
        .unwrap()
        .fit(x.view(), &labels, None)
        .unwrap();
    let back: Boosted = serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
    assert_eq!(back, model);
    assert_eq!(back.predict_proba(x.view()), model.predict_proba(x.view()));
    let params: BoostParams = serde_json::from_str(&serde_json::to_string(&BoostParams::default()).unwrap()).unwrap();
    assert_eq!(params, BoostParams::default());
}

#[test]
fn bad_input_is_refused_with_its_place() {
    let fit = BoostParams::default().check().unwrap();
    let mut x = Array2::from_shape_fn((6, 3), |(i, j)| (i + j) as f64);
    let labels = [true, false, true, false, true, false];
    assert_eq!(fit.fit(x.view(), &[true; 6], None), Err(BoostError::OneClass));
    assert_eq!(
        fit.fit(x.view(), &labels[..5], None),
        Err(BoostError::Shape { rows: 6, labels: 5 })
    );
    x[[3, 1]] = f64::NAN;
    x[[4, 0]] = f64::INFINITY;
    let error = fit.fit(x.view(), &labels, None).unwrap_err();
    assert_eq!(error, BoostError::NotFinite { row: 3, column: 1 });
    assert_eq!(error.to_string(), "row 3, column 1: the value is not finite");
    let (good, bad) = (x.slice(ndarray::s![..3, ..]), x.slice(ndarray::s![3.., ..]));
    let labels = &labels[..3];
    for (validation, mentions) in [
        ((bad, labels), "row 0, column 1"),
        ((bad.slice(ndarray::s![..2, ..]), labels), "2 feature rows but 3 labels"),
        ((good.slice(ndarray::s![.., ..2]), labels), "2 columns"),
    ] {
        let error = fit.fit(good, labels, Some(validation)).unwrap_err();
        assert!(error.to_string().starts_with("validation set: "), "{error:?}");
        assert!(error.to_string().contains(mentions), "{error}");
    }
}

#[test]
fn settings_out_of_range_are_refused() {
    let base = BoostParams::default();
    for bad in [
        base.learning_rate(0.0),
        base.learning_rate(f64::NAN),
        base.max_leaves(1),
        base.min_leaf_rows(0),
        base.min_leaf_hessian(-1.0),
        base.l2(f64::INFINITY),
        base.l2(0.0).min_leaf_hessian(0.0),
        base.max_bins(1),
        base.max_bins(257),
        base.max_trees(0),
        base.early_stopping_rounds(0),
    ] {
        assert!(
            matches!(bad.check(), Err(BoostError::InvalidParams(_))),
            "{bad:?} was accepted"
        );
    }
    let valid = base.max_bins(256).l2(0.0).check().unwrap();
    assert_eq!(valid.params(), &base.max_bins(256).l2(0.0));
}
