//! The metrics against scikit-learn: `fixtures/make_metrics.py` computed the expected values on the same
//! labels and probabilities (continuous scores, rounded scores with many ties, and scores of exactly 0 and 1).

use pql_train::metrics::{Curves, Metrics, MetricsError, CURVE_POINTS};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    labels: Vec<bool>,
    probabilities: Vec<f64>,
    expected: Metrics,
}

#[test]
fn every_metric_matches_scikit_learn() {
    let cases: Vec<Case> = serde_json::from_str(include_str!("fixtures/metrics.json")).unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let got = Metrics::evaluate(&case.labels, &case.probabilities).unwrap();
        let want = case.expected;
        assert_eq!(got.rows, want.rows, "{}", case.name);
        for (name, got, want) in [
            ("base_rate", got.base_rate, want.base_rate),
            ("roc_auc", got.roc_auc, want.roc_auc),
            ("pr_auc", got.pr_auc, want.pr_auc),
            ("log_loss", got.log_loss, want.log_loss),
            ("brier", got.brier, want.brier),
            ("ece", got.ece, want.ece),
            ("precision_at_5", got.precision_at_5, want.precision_at_5),
            ("precision_at_10", got.precision_at_10, want.precision_at_10),
            ("recall_at_5", got.recall_at_5, want.recall_at_5),
            ("recall_at_10", got.recall_at_10, want.recall_at_10),
            ("recall_at_20", got.recall_at_20, want.recall_at_20),
            ("lift_at_5", got.lift_at_5, want.lift_at_5),
            ("lift_at_10", got.lift_at_10, want.lift_at_10),
        ] {
            assert!(
                (got - want).abs() < 1e-12,
                "{}: {name} = {got}, scikit-learn says {want}",
                case.name
            );
        }
    }
}

#[test]
fn a_model_that_swaps_the_classes_is_caught() {
    // Reporting P(negative) instead of P(converted) turns a good ranking into its mirror image.
    let labels = [true, false, false, true, false, false, false, true];
    let p = [0.9, 0.2, 0.1, 0.7, 0.3, 0.05, 0.4, 0.8];
    let flipped: Vec<f64> = p.iter().map(|p| 1.0 - p).collect();
    let good = Metrics::evaluate(&labels, &p).unwrap();
    let bad = Metrics::evaluate(&labels, &flipped).unwrap();
    assert_eq!(good.roc_auc, 1.0);
    assert_eq!(bad.roc_auc, 0.0);
    assert!(bad.log_loss > good.log_loss);
}

#[test]
fn bad_inputs_are_refused_with_a_reason() {
    assert_eq!(
        Metrics::evaluate(&[true, true], &[0.2, 0.3]),
        Err(MetricsError::OneClass {
            positives: 2,
            negatives: 0
        })
    );
    assert_eq!(
        Metrics::evaluate(&[true, false], &[0.2]),
        Err(MetricsError::LengthMismatch {
            labels: 2,
            probabilities: 1
        })
    );
    let err = Metrics::evaluate(&[true, false], &[0.2, 1.5]).unwrap_err();
    assert_eq!(err, MetricsError::NotAProbability { row: 1, value: 1.5 });
    assert!(err.to_string().contains("row 1"));
    assert!(Metrics::evaluate(&[], &[])
        .unwrap_err()
        .to_string()
        .contains("both classes"));
}

#[test]
fn the_curves_agree_with_the_metrics_they_illustrate() {
    let cases: Vec<Case> = serde_json::from_str(include_str!("fixtures/metrics.json")).unwrap();
    for case in cases {
        let (labels, p) = (&case.labels, &case.probabilities);
        let metrics = Metrics::evaluate(labels, p).unwrap();
        let curves = Curves::of(labels, p);
        let name = &case.name;
        // ROC: from (0, 0) to (1, 1), monotone, and its trapezoid area is the AUC (up to the thinning).
        assert_eq!(curves.roc.first(), Some(&[0.0, 0.0]), "{name}");
        assert_eq!(curves.roc.last(), Some(&[1.0, 1.0]), "{name}");
        assert!(curves.roc.len() <= CURVE_POINTS);
        assert!(
            curves.roc.windows(2).all(|w| w[1][0] >= w[0][0] && w[1][1] >= w[0][1]),
            "{name}"
        );
        let area: f64 = curves
            .roc
            .windows(2)
            .map(|w| (w[1][0] - w[0][0]) * (w[0][1] + w[1][1]) / 2.0)
            .sum();
        let tolerance = if labels.len() < CURVE_POINTS { 1e-12 } else { 0.01 };
        assert!(
            (area - metrics.roc_auc).abs() < tolerance,
            "{name}: {area} vs {}",
            metrics.roc_auc
        );
        // Precision-recall ends at full recall with the base rate as precision.
        let last = curves.precision_recall.last().unwrap();
        assert!(
            (last[0] - 1.0).abs() < 1e-12 && (last[1] - metrics.base_rate).abs() < 1e-12,
            "{name}"
        );
        // Gains at 10% and 20% are the recalls of the metrics; the reliability bins give the ECE.
        assert_eq!(curves.gains.len(), 101);
        assert_eq!(curves.gains[0], [0.0, 0.0]);
        assert!((curves.gains[10][1] - metrics.recall_at_10).abs() < 1e-12, "{name}");
        assert!((curves.gains[20][1] - metrics.recall_at_20).abs() < 1e-12, "{name}");
        assert!((curves.gains[100][1] - 1.0).abs() < 1e-12, "{name}");
        let n = labels.len() as f64;
        let ece: f64 = curves
            .reliability
            .iter()
            .map(|b| b.rows as f64 / n * (b.observed - b.predicted).abs())
            .sum();
        assert!((ece - metrics.ece).abs() < 1e-12, "{name}");
        assert_eq!(curves.reliability.iter().map(|b| b.rows).sum::<usize>(), labels.len());
    }
}

#[test]
fn an_auc_within_two_standard_errors_of_one_half_is_no_better_than_chance() {
    // Every positive scores above 60% of the negatives (ROC AUC 0.6): chance on 10 + 90 rows (Hanley-McNeil
    // standard error 0.099), a signal on 100 + 900 (0.031).
    let rows = |positives: usize, negatives: usize| {
        let mut labels = vec![true; positives];
        let mut scores = vec![0.6 * negatives as f64 - 0.5; positives];
        labels.extend(vec![false; negatives]);
        scores.extend((0..negatives).map(|i| i as f64));
        let max = negatives as f64;
        let scores: Vec<f64> = scores.iter().map(|s| (s + 1.0) / (max + 2.0)).collect();
        Metrics::evaluate(&labels, &scores).unwrap()
    };
    let small = rows(10, 90);
    assert!((small.roc_auc - 0.6).abs() < 1e-12, "{}", small.roc_auc);
    assert!(small.no_better_than_chance());
    let large = rows(100, 900);
    assert!((large.roc_auc - 0.6).abs() < 1e-12, "{}", large.roc_auc);
    assert!(!large.no_better_than_chance());
    let flat = Metrics::evaluate(&[true, false, false, true], &[0.3; 4]).unwrap();
    assert!(flat.no_better_than_chance(), "AUC {}", flat.roc_auc);
}
