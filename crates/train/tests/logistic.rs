//! Logistic regression against scikit-learn (`fixtures/make_logistic.py`): the same coefficients and the
//! probability of the positive class.

use ndarray::Array2;
use pql_train::logistic::{standard_errors, LogisticParams};
use pql_train::matrix::Standardizer;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    x: Vec<Vec<f64>>,
    y: Vec<bool>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    l2: f64,
    intercept: f64,
    weights: Vec<f64>,
    probabilities: Vec<f64>,
}

#[test]
fn coefficients_match_scikit_learn() {
    let fixture: Fixture = serde_json::from_str(include_str!("fixtures/logistic.json")).unwrap();
    let (n, d) = (fixture.x.len(), fixture.x[0].len());
    let x = Array2::from_shape_vec((n, d), fixture.x.concat()).unwrap();
    for case in fixture.cases {
        let model = LogisticParams::default()
            .l2(case.l2)
            .check()
            .unwrap()
            .fit(x.view(), &fixture.y)
            .unwrap();
        assert!(
            (model.intercept - case.intercept).abs() < 1e-6,
            "l2 {}: intercept {} vs {}",
            case.l2,
            model.intercept,
            case.intercept
        );
        for (j, (got, want)) in model.weights.iter().zip(&case.weights).enumerate() {
            assert!(
                (got - want).abs() < 1e-6,
                "l2 {}: weight {j} = {got}, scikit-learn {want}",
                case.l2
            );
        }
        let p = model.predict_proba(x.slice(ndarray::s![..20, ..]));
        for (got, want) in p.iter().zip(&case.probabilities) {
            assert!((got - want).abs() < 1e-6, "P(converted) {got} vs {want}");
        }
        assert!(
            model.converged && model.iterations < 20,
            "{} Newton steps",
            model.iterations
        );
    }
}

#[test]
fn the_probability_is_that_of_the_positive_class() {
    // One feature that is high exactly for converters: its weight must be positive and the converters'
    // probabilities high.
    let x = Array2::from_shape_vec((8, 1), vec![2.0, 1.5, 1.8, -1.0, -0.5, -2.0, -1.2, 0.1]).unwrap();
    let labels = [true, true, true, false, false, false, false, true];
    let model = LogisticParams::default()
        .check()
        .unwrap()
        .fit(x.view(), &labels)
        .unwrap();
    assert!(model.weights[0] > 0.0);
    let p = model.predict_proba(x.view());
    for (p, converted) in p.iter().zip(labels) {
        assert_eq!(*p > 0.5, converted, "p = {p}");
    }
}

#[test]
fn probabilities_match_linfa_logistic_as_a_second_oracle() {
    use linfa::prelude::*;
    use linfa_logistic::LogisticRegression;

    let fixture: Fixture = serde_json::from_str(include_str!("fixtures/logistic.json")).unwrap();
    let (n, d) = (fixture.x.len(), fixture.x[0].len());
    let x = Array2::from_shape_vec((n, d), fixture.x.concat()).unwrap();
    let classes: ndarray::Array1<usize> = fixture.y.iter().map(|&y| usize::from(y)).collect();
    let l2 = 1.0;
    let oracle = LogisticRegression::default()
        .alpha(l2)
        .gradient_tolerance(1e-10)
        .max_iterations(10_000)
        .fit(&Dataset::new(x.clone(), classes))
        .unwrap();
    // linfa reports the probability of its "positive" class, whichever label that is: map it to
    // P(converted) before comparing, which is exactly the trap pql's own model must not fall into.
    let oracle_p = oracle.predict_probabilities(&x);
    let converted_p: Vec<f64> = if oracle.labels().pos.class == 1 {
        oracle_p.to_vec()
    } else {
        oracle_p.iter().map(|p| 1.0 - p).collect()
    };
    let model = LogisticParams::default()
        .l2(l2)
        .check()
        .unwrap()
        .fit(x.view(), &fixture.y)
        .unwrap();
    let p = model.predict_proba(x.view());
    let worst = p
        .iter()
        .zip(&converted_p)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-5,
        "largest probability difference to linfa-logistic: {worst}"
    );
}

#[test]
fn fits_are_bit_identical_across_runs() {
    // Enough rows for many parallel chunks: the result must not depend on the thread schedule.
    let n = 60_000;
    let x = Array2::from_shape_fn((n, 5), |(i, j)| ((i * 31 + j * 17) % 101) as f64 / 50.0 - 1.0);
    let labels: Vec<bool> = (0..n).map(|i| (i * 7919) % 13 < 4 + (i % 3)).collect();
    let fit = || {
        LogisticParams::default()
            .check()
            .unwrap()
            .fit(x.view(), &labels)
            .unwrap()
    };
    let first = fit();
    for _ in 0..5 {
        assert_eq!(fit(), first);
    }
}

#[test]
fn standard_errors_match_the_closed_form_of_a_two_by_two_table() {
    // One binary feature, no penalty: the weight is the log odds ratio, whose standard error is
    // sqrt(1/a + 1/b + 1/c + 1/d) over the four cells (Woolf).
    let cells = [(0.0, false, 400), (0.0, true, 20), (1.0, false, 150), (1.0, true, 30)];
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (value, label, count) in cells {
        x.extend(std::iter::repeat_n(value, count));
        y.extend(std::iter::repeat_n(label, count));
    }
    let x = Array2::from_shape_vec((x.len(), 1), x).unwrap();
    let model = LogisticParams::default()
        .l2(0.0)
        .check()
        .unwrap()
        .fit(x.view(), &y)
        .unwrap();
    let odds_ratio: f64 = (30.0 / 150.0) / (20.0 / 400.0);
    assert!((model.weights[0] - odds_ratio.ln()).abs() < 1e-9);
    let expected = (1.0 / 400.0 + 1.0 / 20.0 + 1.0 / 150.0 + 1.0 / 30.0_f64).sqrt();
    let se = standard_errors(
        model.intercept,
        model.weights.view(),
        x.view(),
        &Standardizer::identity(1),
        0.0,
    )
    .unwrap();
    assert!((se[0] - expected).abs() < 1e-9, "{} vs {expected}", se[0]);
}

/// The raw columns, labels and scikit-learn's fits of `fixtures/heavy_tails.json`, the matrix standardised
/// by pql's own [`Standardizer`] without compression (the raw heavy tails are what the fit must survive).
fn heavy_tails() -> (Array2<f64>, Fixture) {
    let fixture: Fixture = serde_json::from_str(include_str!("fixtures/heavy_tails.json")).unwrap();
    let (n, d) = (fixture.x.len(), fixture.x[0].len());
    let raw = Array2::from_shape_vec((n, d), fixture.x.concat()).unwrap();
    (Standardizer::fit_linear(raw.view()).transform(raw.view()), fixture)
}

#[test]
fn heavy_tailed_rare_events_reach_scikit_learns_optimum() {
    // Regression (issue #20): plain Newton steps from the base rate overshoot on counts with |z| up to 74
    // and diverge (intercept near -1e12, AUC 0.5); damped steps must reach scikit-learn's coefficients.
    let (x, fixture) = heavy_tails();
    for case in &fixture.cases {
        let model = LogisticParams::default()
            .l2(case.l2)
            .check()
            .unwrap()
            .fit(x.view(), &fixture.y)
            .unwrap();
        let close = |got: f64, want: f64| (got - want).abs() <= 1e-5 * want.abs().max(1e-2);
        assert!(
            close(model.intercept, case.intercept),
            "l2 {}: intercept {} vs scikit-learn {} after {} steps",
            case.l2,
            model.intercept,
            case.intercept,
            model.iterations
        );
        for (j, (&got, &want)) in model.weights.iter().zip(&case.weights).enumerate() {
            assert!(
                close(got, want),
                "l2 {}: weight {j} = {got}, scikit-learn {want}",
                case.l2
            );
        }
        let p = model.predict_proba(x.slice(ndarray::s![..20, ..]));
        for (got, want) in p.iter().zip(&case.probabilities) {
            assert!((got - want).abs() < 1e-7, "P(converted) {got} vs {want}");
        }
        assert!(model.converged, "l2 {}: {model:?}", case.l2);
        assert!(model.gradient_norm < 1e-8, "l2 {}: {model:?}", case.l2);
        assert!(
            model.iterations < 20,
            "l2 {}: {} Newton steps",
            case.l2,
            model.iterations
        );
    }
}

#[test]
fn a_fit_out_of_newton_steps_says_it_did_not_converge() {
    // One damped step from the base rate cannot reach the optimum of the heavy-tailed fixture: the fit
    // comes back flagged, with a finite model no worse than the start and its remaining gradient.
    let (x, fixture) = heavy_tails();
    let model = LogisticParams::default()
        .max_iterations(1)
        .check()
        .unwrap()
        .fit(x.view(), &fixture.y)
        .unwrap();
    assert!(!model.converged);
    assert_eq!(model.iterations, 1);
    assert!(
        model.intercept.is_finite() && model.weights.iter().all(|w| w.is_finite()),
        "{model:?}"
    );
    assert!(model.gradient_norm > 1e-6, "{model:?}");
}
