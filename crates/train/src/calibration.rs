//! Probability calibration fitted on held-out rows: Platt scaling (a logistic regression on the logit of
//! the raw score) and isotonic regression (the best non-decreasing step function, interpolated linearly
//! between its points as scikit-learn's `IsotonicRegression` predicts). Both map a raw probability of
//! conversion to a calibrated one and never reverse the ranking.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::check::{self, FieldError};
use crate::logistic::{LogisticError, LogisticParams};

/// A fitted calibration map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibration {
    /// `σ(slope · logit(p) + intercept)`.
    Platt {
        /// Weight of the raw logit.
        slope: f64,
        /// Intercept.
        intercept: f64,
    },
    /// Linear interpolation through increasing `(raw, calibrated)` points, constant beyond the ends.
    Isotonic {
        /// Raw probabilities, strictly increasing.
        raw: Vec<f64>,
        /// Calibrated probabilities, non-decreasing.
        calibrated: Vec<f64>,
    },
}

/// Raw probabilities are clipped this far from 0 and 1 before taking their logit.
pub const LOGIT_CLIP: f64 = 1e-12;

fn logit(p: f64) -> f64 {
    let p = p.clamp(LOGIT_CLIP, 1.0 - LOGIT_CLIP);
    (p / (1.0 - p)).ln()
}

impl Calibration {
    /// The method's name for people: `Platt` or `isotonic`.
    pub fn name(&self) -> &'static str {
        match self {
            Calibration::Platt { .. } => "Platt",
            Calibration::Isotonic { .. } => "isotonic",
        }
    }

    /// Fits Platt scaling by maximum likelihood (no penalty) on raw probabilities and labels.
    pub fn platt(raw: &[f64], labels: &[bool]) -> Result<Calibration, LogisticError> {
        let x = Array2::from_shape_vec((raw.len(), 1), raw.iter().map(|&p| logit(p)).collect())
            .expect("one column per row");
        let model = LogisticParams::default().l2(0.0).check()?.fit(x.view(), labels)?;
        model.warn_unless_converged(0.0, "the Platt calibration is kept, but may be off its optimum");
        Ok(Calibration::Platt {
            slope: model.weights[0],
            intercept: model.intercept,
        })
    }

    /// Fits isotonic regression (pool adjacent violators, equal raw values pooled first).
    pub fn isotonic(raw: &[f64], labels: &[bool]) -> Calibration {
        let mut order: Vec<usize> = (0..raw.len()).collect();
        order.sort_by(|&a, &b| raw[a].total_cmp(&raw[b]));
        // Blocks of (first raw value, last raw value, label sum, weight); equal raw values start pooled.
        let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::new();
        for i in order {
            let (x, y) = (raw[i], f64::from(u8::from(labels[i])));
            match blocks.last_mut() {
                Some(last) if last.1 == x => {
                    last.2 += y;
                    last.3 += 1.0;
                }
                _ => blocks.push((x, x, y, 1.0)),
            }
        }
        let mut unique: Vec<(f64, f64, f64)> = blocks.iter().map(|b| (b.0, b.2, b.3)).collect();
        let mut pooled: Vec<(usize, usize, f64, f64)> = Vec::new(); // (first, last, sum, weight) over `unique`
        for (i, &(_, sum, weight)) in unique.iter().enumerate() {
            pooled.push((i, i, sum, weight));
            while pooled.len() > 1 {
                let n = pooled.len();
                let (a, b) = (pooled[n - 2], pooled[n - 1]);
                if a.2 / a.3 <= b.2 / b.3 {
                    break;
                }
                pooled[n - 2] = (a.0, b.1, a.2 + b.2, a.3 + b.3);
                pooled.pop();
            }
        }
        for &(first, last, sum, weight) in &pooled {
            for point in &mut unique[first..=last] {
                point.1 = sum / weight;
            }
        }
        Calibration::Isotonic {
            raw: unique.iter().map(|u| u.0).collect(),
            calibrated: unique.iter().map(|u| u.1.clamp(0.0, 1.0)).collect(),
        }
    }

    /// Refuses a map that cannot calibrate: Platt numbers that are not finite; isotonic points that are
    /// missing, unpaired, not strictly increasing in `raw`, or not non-decreasing probabilities.
    pub fn check(&self) -> Result<(), FieldError> {
        match self {
            Calibration::Platt { slope, intercept } => {
                check::finite("slope", *slope)?;
                check::finite("intercept", *intercept)
            }
            Calibration::Isotonic { raw, calibrated } => {
                if raw.is_empty() {
                    return Err(FieldError::new("raw", "empty (isotonic calibration needs a point)"));
                }
                if calibrated.len() != raw.len() {
                    return Err(FieldError::new(
                        "calibrated",
                        format!("{} values for {} raw points", calibrated.len(), raw.len()),
                    ));
                }
                check::increasing("raw", raw)?;
                check::all_probabilities("calibrated", calibrated)?;
                match calibrated.windows(2).position(|w| w[0] > w[1]) {
                    None => Ok(()),
                    Some(i) => Err(FieldError::new("calibrated", format!("decreasing at {}", i + 1))),
                }
            }
        }
    }

    /// The calibrated probability of a raw one.
    pub fn apply(&self, p: f64) -> f64 {
        match self {
            Calibration::Platt { slope, intercept } => 1.0 / (1.0 + (-(slope * logit(p) + intercept)).exp()),
            Calibration::Isotonic { raw, calibrated } => {
                let last = raw.len() - 1;
                if p <= raw[0] {
                    return calibrated[0];
                }
                if p >= raw[last] {
                    return calibrated[last];
                }
                let i = raw.partition_point(|&x| x <= p);
                let (x0, x1, y0, y1) = (raw[i - 1], raw[i], calibrated[i - 1], calibrated[i]);
                y0 + (y1 - y0) * (p - x0) / (x1 - x0)
            }
        }
    }
}
