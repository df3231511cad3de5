//! Logistic regression against scikit-learn (`fixtures/make_logistic.py`): the same coefficients and the
//! probability of the positive class.

use ndarray::Array2;
use pql_train::logistic::LogisticParams;
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
        assert!(model.iterations < 20, "{} Newton steps", model.iterations);
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
    let se = model.standard_errors(x.view(), 0.0).unwrap();
    assert!((se[0] - expected).abs() < 1e-9, "{} vs {expected}", se[0]);
}
