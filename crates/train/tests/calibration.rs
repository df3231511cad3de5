//! Calibration against scikit-learn (`fixtures/make_calibration.py`): Platt scaling equals an
//! unpenalised logistic regression on the logit, and isotonic calibration equals `IsotonicRegression`'s
//! predictions, on a grid that includes the ends, ties and points between the fitted ones.

use pql_train::calibration::Calibration;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    raw: Vec<f64>,
    labels: Vec<bool>,
    grid: Vec<f64>,
    platt_slope: f64,
    platt_intercept: f64,
    platt: Vec<f64>,
    isotonic: Vec<f64>,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/calibration.json")).unwrap()
}

#[test]
fn platt_scaling_matches_scikit_learn() {
    let f = fixture();
    let calibration = Calibration::platt(&f.raw, &f.labels).unwrap();
    let Calibration::Platt { slope, intercept } = calibration else {
        panic!("Platt expected")
    };
    assert!((slope - f.platt_slope).abs() < 1e-6, "{slope} vs {}", f.platt_slope);
    assert!(
        (intercept - f.platt_intercept).abs() < 1e-6,
        "{intercept} vs {}",
        f.platt_intercept
    );
    for (p, want) in f.grid.iter().zip(&f.platt) {
        assert!((calibration.apply(*p) - want).abs() < 1e-6, "at {p}");
    }
}

#[test]
fn isotonic_calibration_matches_scikit_learn() {
    let f = fixture();
    let calibration = Calibration::isotonic(&f.raw, &f.labels);
    for (p, want) in f.grid.iter().zip(&f.isotonic) {
        let got = calibration.apply(*p);
        assert!((got - want).abs() < 1e-12, "at {p}: {got} vs {want}");
    }
    // Never reverses the ranking.
    let values: Vec<f64> = (0..=1000).map(|i| calibration.apply(f64::from(i) / 1000.0)).collect();
    assert!(values.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn calibration_round_trips_through_json() {
    let f = fixture();
    for calibration in [
        Calibration::platt(&f.raw, &f.labels).unwrap(),
        Calibration::isotonic(&f.raw, &f.labels),
    ] {
        let text = serde_json::to_string(&calibration).unwrap();
        let back: Calibration = serde_json::from_str(&text).unwrap();
        assert_eq!(back, calibration);
    }
}
