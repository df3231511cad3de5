//! Evaluation measures of a propensity model on labelled rows: ranking (ROC AUC, PR AUC as average
//! precision), probability quality (log loss, Brier score, expected calibration error), and what sales sees
//! (precision, recall and lift among the top-scored accounts, share of conversions captured).
//!
//! Definitions follow scikit-learn (`roc_auc_score`, `average_precision_score`, `log_loss`,
//! `brier_score_loss`, and `calibration_curve` with 10 uniform bins for the ECE), and
//! `tests/metrics.rs` checks them against values it computed. "Top k%" means the `ceil(k · n)` highest
//! scores; equal scores keep their input order.

use serde::{Deserialize, Serialize};

/// Every measure of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Labelled rows.
    pub rows: usize,
    /// Share of positive rows.
    pub base_rate: f64,
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Area under the precision-recall curve, as average precision.
    pub pr_auc: f64,
    /// Mean negative log-likelihood (natural log).
    pub log_loss: f64,
    /// Mean squared error of the probabilities.
    pub brier: f64,
    /// Expected calibration error over 10 equal-width probability bins.
    pub ece: f64,
    /// Precision among the top 5% of scores.
    pub precision_at_5: f64,
    /// Precision among the top 10%.
    pub precision_at_10: f64,
    /// Recall (share of positives) among the top 5%.
    pub recall_at_5: f64,
    /// Recall among the top 10%: the share of conversions the top 10% captures.
    pub recall_at_10: f64,
    /// Share of conversions captured by the top 20%.
    pub recall_at_20: f64,
    /// Precision at 5% over the base rate.
    pub lift_at_5: f64,
    /// Precision at 10% over the base rate.
    pub lift_at_10: f64,
}

/// Why measures cannot be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsError {
    /// Labels and probabilities differ in length.
    LengthMismatch {
        /// Labels given.
        labels: usize,
        /// Probabilities given.
        probabilities: usize,
    },
    /// There are no rows, or only one class.
    OneClass {
        /// Positive rows.
        positives: usize,
        /// Negative rows.
        negatives: usize,
    },
    /// A probability is outside `[0, 1]` or not a number.
    NotAProbability {
        /// Its row.
        row: usize,
        /// Its value.
        value: f64,
    },
}

impl std::fmt::Display for MetricsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsError::LengthMismatch { labels, probabilities } => {
                write!(f, "{labels} labels but {probabilities} probabilities")
            }
            MetricsError::OneClass { positives, negatives } => write!(
                f,
                "metrics need both classes; got {positives} positive and {negatives} negative rows"
            ),
            MetricsError::NotAProbability { row, value } => write!(f, "row {row}: {value} is not a probability"),
        }
    }
}

impl std::error::Error for MetricsError {}

impl Metrics {
    /// Whether the ROC AUC is within two standard errors of chance (0.5), the standard error being Hanley
    /// and McNeil's (1982) for these rows' positives and negatives: a model that ranks no better than a coin.
    pub fn no_better_than_chance(&self) -> bool {
        let positives = (self.base_rate * self.rows as f64).round();
        let negatives = self.rows as f64 - positives;
        let a = self.roc_auc;
        let (q1, q2) = (a / (2.0 - a), 2.0 * a * a / (1.0 + a));
        let variance = (a * (1.0 - a) + (positives - 1.0) * (q1 - a * a) + (negatives - 1.0) * (q2 - a * a))
            / (positives * negatives).max(1.0);
        a - 0.5 < 2.0 * variance.max(0.0).sqrt()
    }

    /// Evaluates probabilities of the positive class against 0/1 labels.
    pub fn evaluate(labels: &[bool], probabilities: &[f64]) -> Result<Metrics, MetricsError> {
        if labels.len() != probabilities.len() {
            return Err(MetricsError::LengthMismatch {
                labels: labels.len(),
                probabilities: probabilities.len(),
            });
        }
        if let Some((row, &value)) = probabilities
            .iter()
            .enumerate()
            .find(|(_, p)| !(0.0..=1.0).contains(*p))
        {
            return Err(MetricsError::NotAProbability { row, value });
        }
        let positives = labels.iter().filter(|&&y| y).count();
        let negatives = labels.len() - positives;
        if positives == 0 || negatives == 0 {
            return Err(MetricsError::OneClass { positives, negatives });
        }
        let n = labels.len() as f64;
        let base_rate = positives as f64 / n;
        let order = descending_order(probabilities);
        let top = |share: f64| top_share(labels, &order, share, positives);
        let (precision_at_5, recall_at_5) = top(0.05);
        let (precision_at_10, recall_at_10) = top(0.10);
        let (_, recall_at_20) = top(0.20);
        Ok(Metrics {
            rows: labels.len(),
            base_rate,
            roc_auc: roc_auc(labels, probabilities, &order, positives, negatives),
            pr_auc: average_precision(labels, probabilities, &order, positives),
            log_loss: log_loss(labels, probabilities),
            brier: labels
                .iter()
                .zip(probabilities)
                .map(|(&y, &p)| (p - f64::from(u8::from(y))).powi(2))
                .sum::<f64>()
                / n,
            ece: expected_calibration_error(labels, probabilities, 10),
            precision_at_5,
            precision_at_10,
            recall_at_5,
            recall_at_10,
            recall_at_20,
            lift_at_5: precision_at_5 / base_rate,
            lift_at_10: precision_at_10 / base_rate,
        })
    }
}

/// Points kept per curve at most: enough to draw it, small enough for `model.json`.
pub const CURVE_POINTS: usize = 200;

/// The curves behind [`Metrics`], for reports: computed from the same labels and probabilities with the
/// same definitions, so a chart and the number beside it agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// ROC curve through the distinct thresholds from high to low: `[false positive rate, true positive
    /// rate]`, starting at `[0, 0]` and ending at `[1, 1]` (thinned to at most [`CURVE_POINTS`]).
    pub roc: Vec<[f64; 2]>,
    /// Precision-recall curve along the same thresholds: `[recall, precision]`.
    pub precision_recall: Vec<[f64; 2]>,
    /// The ten equal-width probability bins of the ECE.
    pub reliability: Vec<ReliabilityBin>,
    /// Cumulative gains: `[share of rows taken from the top, share of conversions among them]` for
    /// every whole percent from 0 to 100.
    pub gains: Vec<[f64; 2]>,
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge (exclusive except for the first bin).
    pub from: f64,
    /// Upper edge (inclusive).
    pub to: f64,
    /// Rows in the bin.
    pub rows: usize,
    /// Mean predicted probability of its rows.
    pub predicted: f64,
    /// Share of its rows that converted.
    pub observed: f64,
}

impl Curves {
    /// The curves of probabilities of the positive class against 0/1 labels (both classes present, as
    /// [`Metrics::evaluate`] requires).
    pub fn of(labels: &[bool], probabilities: &[f64]) -> Curves {
        let order = descending_order(probabilities);
        let positives = labels.iter().filter(|&&y| y).count().max(1) as f64;
        let negatives = (labels.len() as f64 - positives).max(1.0);
        let (mut tp, mut seen) = (0usize, 0usize);
        let mut roc = vec![[0.0, 0.0]];
        let mut precision_recall = Vec::new();
        for (group_tp, group_fp) in tie_groups(labels, probabilities, &order) {
            tp += group_tp;
            seen += group_tp + group_fp;
            let tp = tp as f64;
            roc.push([(seen as f64 - tp) / negatives, tp / positives]);
            precision_recall.push([tp / positives, tp / seen as f64]);
        }
        let gains = (0..=100)
            .map(|k| {
                let count = (k as f64 / 100.0 * labels.len() as f64).ceil() as usize;
                let hits = order[..count.min(labels.len())].iter().filter(|&&i| labels[i]).count();
                [k as f64 / 100.0, hits as f64 / positives]
            })
            .collect();
        Curves {
            roc: thin(roc),
            precision_recall: thin(precision_recall),
            reliability: reliability_bins(labels, probabilities, 10),
            gains,
        }
    }
}

/// At most [`CURVE_POINTS`] evenly spaced points of `points`, keeping the first and the last.
fn thin(points: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    if points.len() <= CURVE_POINTS {
        return points;
    }
    let last = points.len() - 1;
    (0..CURVE_POINTS)
        .map(|k| points[k * last / (CURVE_POINTS - 1)])
        .collect()
}

/// The equal-width bins of the ECE; a probability on an inner edge belongs to the lower bin.
fn reliability_bins(labels: &[bool], probabilities: &[f64], bins: usize) -> Vec<ReliabilityBin> {
    let width = 1.0 / bins as f64;
    let mut out: Vec<ReliabilityBin> = (0..bins)
        .map(|b| ReliabilityBin {
            from: b as f64 * width,
            to: (b + 1) as f64 * width,
            rows: 0,
            predicted: 0.0,
            observed: 0.0,
        })
        .collect();
    for (&y, &p) in labels.iter().zip(probabilities) {
        let b = (1..bins).filter(|&i| i as f64 * width < p).count();
        out[b].rows += 1;
        out[b].predicted += p;
        out[b].observed += f64::from(u8::from(y));
    }
    for bin in &mut out {
        let n = bin.rows.max(1) as f64;
        bin.predicted /= n;
        bin.observed /= n;
    }
    out
}

/// Row indices by decreasing probability; equal probabilities keep their input order.
fn descending_order(probabilities: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
    order
}

/// Precision and recall among the `ceil(share · n)` top rows.
fn top_share(labels: &[bool], order: &[usize], share: f64, positives: usize) -> (f64, f64) {
    let count = ((share * labels.len() as f64).ceil() as usize).clamp(1, labels.len());
    let hits = order[..count].iter().filter(|&&i| labels[i]).count() as f64;
    (hits / count as f64, hits / positives as f64)
}

/// Groups of equal probability along `order`: (true positives, false positives) added by each group.
fn tie_groups<'a>(
    labels: &'a [bool],
    probabilities: &'a [f64],
    order: &'a [usize],
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= order.len() {
            return None;
        }
        let value = probabilities[order[start]];
        let mut end = start;
        let (mut tp, mut fp) = (0, 0);
        while end < order.len() && probabilities[order[end]] == value {
            if labels[order[end]] {
                tp += 1;
            } else {
                fp += 1;
            }
            end += 1;
        }
        start = end;
        Some((tp, fp))
    })
}

/// The area under the ROC curve through every distinct threshold (trapezoids across ties), as
/// scikit-learn computes it.
fn roc_auc(labels: &[bool], probabilities: &[f64], order: &[usize], positives: usize, negatives: usize) -> f64 {
    let (mut tp, mut fp, mut area) = (0.0, 0.0, 0.0);
    for (group_tp, group_fp) in tie_groups(labels, probabilities, order) {
        let (next_tp, next_fp) = (tp + group_tp as f64, fp + group_fp as f64);
        area += (next_fp - fp) * (tp + next_tp) / 2.0;
        tp = next_tp;
        fp = next_fp;
    }
    area / (positives as f64 * negatives as f64)
}

/// Average precision: `Σ (R_k - R_{k-1}) P_k` over the distinct thresholds, from high to low.
fn average_precision(labels: &[bool], probabilities: &[f64], order: &[usize], positives: usize) -> f64 {
    let (mut tp, mut seen, mut sum) = (0usize, 0usize, 0.0);
    for (group_tp, group_fp) in tie_groups(labels, probabilities, order) {
        tp += group_tp;
        seen += group_tp + group_fp;
        sum += group_tp as f64 / positives as f64 * (tp as f64 / seen as f64);
    }
    sum
}

/// Mean negative log-likelihood with probabilities clipped to `[ε, 1 - ε]` (ε = f64::EPSILON).
fn log_loss(labels: &[bool], probabilities: &[f64]) -> f64 {
    let eps = f64::EPSILON;
    labels
        .iter()
        .zip(probabilities)
        .map(|(&y, &p)| {
            let p = p.clamp(eps, 1.0 - eps);
            if y {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum::<f64>()
        / labels.len() as f64
}

/// `Σ_b (n_b / n) |mean label_b - mean probability_b|` over the equal-width bins of
/// [`reliability_bins`].
fn expected_calibration_error(labels: &[bool], probabilities: &[f64], bins: usize) -> f64 {
    let n = labels.len() as f64;
    reliability_bins(labels, probabilities, bins)
        .iter()
        .map(|b| b.rows as f64 / n * (b.observed - b.predicted).abs())
        .sum()
}
