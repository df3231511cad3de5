//! `pql report`: one self-contained HTML file for analysts, from a model artifact and optionally a scores
//! file. Charts are inline SVG and the style sheet is embedded, so the file opens anywhere without a
//! network. Every number comes from the artifact (or the scores file) as stored: the report draws and
//! formats, it does not recompute.
//!
//! ```no_run
//! let artifact = pql_train::Artifact::load(std::path::Path::new("models/abc123"))?;
//! let html = pql_report::render(&artifact, None)?;
//! std::fs::write("report.html", html)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod charts;

use std::fmt::Write;

use polars::prelude::*;
use pql_train::Artifact;

use plotters::prelude::SeriesLabelPosition;

use crate::charts::{Bar, LineChart};

/// Accounts listed in the report's top-accounts table.
pub const TOP_ACCOUNTS: usize = 25;

/// Bars in the importance chart.
const IMPORTANCE_BARS: usize = 20;

/// Bins of the score histogram.
const SCORE_BINS: usize = 40;

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The scores table lacks a column or holds a bad value.
    #[error("scores: {0}")]
    Scores(String),
    /// A chart could not be drawn.
    #[error("chart: {0}")]
    Chart(String),
}

impl From<PolarsError> for ReportError {
    fn from(error: PolarsError) -> Self {
        ReportError::Scores(error.to_string())
    }
}

/// What the report shows of a scores file (from `pql score`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoresSummary {
    /// Every probability, in file order.
    pub probabilities: Vec<f64>,
    /// Accounts per tier (`hot`, `warm`, `cold`, in that order; absent tiers count zero).
    pub tiers: [(String, usize); 3],
    /// Snapshot dates in the file.
    pub as_of: Vec<String>,
    /// Model ids in the file.
    pub model_ids: Vec<String>,
    /// The most probable accounts: account, probability, tier, reasons.
    pub top: Vec<TopAccount>,
}

/// One row of the top-accounts table.
#[derive(Debug, Clone, PartialEq)]
pub struct TopAccount {
    /// Account id.
    pub account_id: String,
    /// Calibrated probability.
    pub probability: f64,
    /// Tier.
    pub tier: String,
    /// Reasons in words (empty ones left out).
    pub reasons: Vec<String>,
}

impl ScoresSummary {
    /// Reads the columns of a `pql score` output: `account_id`, `as_of`, `probability`, `tier`,
    /// `reason_1..3`, `model_id`.
    pub fn from_frame(frame: &DataFrame) -> Result<ScoresSummary, ReportError> {
        let column = |name: &str| {
            frame
                .column(name)
                .map_err(|_| ReportError::Scores(format!("no column `{name}`: is this a `pql score` output?")))
        };
        let strings = |name: &str| -> Result<Vec<Option<String>>, ReportError> {
            let cast = column(name)?.cast(&DataType::String)?;
            Ok(cast.str()?.iter().map(|v| v.map(str::to_string)).collect())
        };
        let probability = column("probability")?.cast(&DataType::Float64)?;
        let mut probabilities = Vec::with_capacity(frame.height());
        for (row, value) in probability.f64()?.iter().enumerate() {
            match value {
                Some(p) if (0.0..=1.0).contains(&p) => probabilities.push(p),
                other => {
                    return Err(ReportError::Scores(format!(
                        "row {}: probability {other:?} is not in [0, 1]",
                        row + 1
                    )))
                }
            }
        }
        let tiers = strings("tier")?;
        let count = |tier: &str| tiers.iter().filter(|t| t.as_deref() == Some(tier)).count();
        let distinct = |values: Vec<Option<String>>| {
            let mut values: Vec<String> = values.into_iter().flatten().collect();
            values.sort();
            values.dedup();
            values
        };
        let ids = strings("account_id")?;
        let reasons = [strings("reason_1")?, strings("reason_2")?, strings("reason_3")?];
        let mut order: Vec<usize> = (0..probabilities.len()).collect();
        order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        let top = order
            .iter()
            .take(TOP_ACCOUNTS)
            .map(|&i| TopAccount {
                account_id: ids[i].clone().unwrap_or_default(),
                probability: probabilities[i],
                tier: tiers[i].clone().unwrap_or_default(),
                reasons: reasons
                    .iter()
                    .filter_map(|r| r[i].clone())
                    .filter(|r| !r.is_empty())
                    .collect(),
            })
            .collect();
        Ok(ScoresSummary {
            tiers: ["hot", "warm", "cold"].map(|t| (t.to_string(), count(t))),
            as_of: distinct(strings("as_of")?),
            model_ids: distinct(strings("model_id")?),
            probabilities,
            top,
        })
    }
}

/// The report of `artifact` (and of `scores`, when given) as one HTML document.
pub fn render(artifact: &Artifact, scores: Option<&ScoresSummary>) -> Result<String, ReportError> {
    let mut body = String::new();
    card(&mut body, artifact);
    quality(&mut body, artifact)?;
    drivers(&mut body, artifact)?;
    dependence(&mut body, artifact)?;
    rules(&mut body, artifact);
    backtest(&mut body, artifact);
    if let Some(scores) = scores {
        scored(&mut body, artifact, scores)?;
    }
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>pql model {id}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>PQL propensity model <code>{id}</code></h1>\n{body}\
         <footer>Written by pql {version}. Numbers come from <code>model.json</code>{scores_note}.</footer>\n\
         </body>\n</html>\n",
        id = escape(&artifact.model_id),
        version = escape(env!("CARGO_PKG_VERSION")),
        scores_note = if scores.is_some() { " and the scores file" } else { "" },
    ))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;\
color:#222}h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
table{border-collapse:collapse;margin:.8em 0}td,th{padding:.25em .8em;border-bottom:1px solid #eee;\
text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}figure{display:inline-block;\
margin:.5em 1em .5em 0;vertical-align:top}figcaption{font-size:.85em;color:#555;max-width:460px}\
p.note{color:#555;font-size:.9em;max-width:800px}footer{margin-top:3em;color:#777;font-size:.85em}";

fn section(out: &mut String, id: &str, title: &str, intro: &str) {
    let _ = write!(out, "<section id=\"{id}\">\n<h2>{title}</h2>\n");
    if !intro.is_empty() {
        let _ = writeln!(out, "<p class=\"note\">{intro}</p>");
    }
}

fn figure(out: &mut String, id: &str, svg: &str, caption: &str) {
    let _ = write!(
        out,
        "<figure id=\"{id}\">\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>\n"
    );
}

/// A table with a header row; `numeric[j]` right-aligns column `j`. Cells are escaped.
fn table(out: &mut String, class: &str, header: &[&str], numeric: &[bool], rows: &[Vec<String>]) {
    let _ = write!(out, "<table class=\"{class}\">\n<thead><tr>");
    for (j, h) in header.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", align(numeric, j), escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (j, cell) in row.iter().enumerate() {
            let _ = write!(out, "<td{}>{}</td>", align(numeric, j), escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn align(numeric: &[bool], j: usize) -> &'static str {
    if numeric.get(j).copied().unwrap_or(false) {
        " class=\"n\""
    } else {
        ""
    }
}

fn card(out: &mut String, a: &Artifact) {
    section(out, "card", "Model card", "");
    let t = &a.training;
    let rows = vec![
        vec!["model id".into(), a.model_id.clone()],
        vec!["kind".into(), format!("{} ({})", a.kind, settings(a))],
        vec![
            "training window".into(),
            format!(
                "{} to {} ({} weekly snapshots)",
                t.window.first, t.window.last, t.window.snapshots
            ),
        ],
        vec!["horizon".into(), format!("converts within {} days", t.horizon_days)],
        vec!["labelled rows".into(), t.window.rows.to_string()],
        vec!["base rate".into(), percent(t.window.base_rate)],
        vec![
            "validation".into(),
            format!(
                "{} to {}: {} rows, base rate {}",
                t.validation.first,
                t.validation.last,
                t.validation.rows,
                percent(t.validation.base_rate)
            ),
        ],
        vec!["features".into(), a.features.len().to_string()],
        vec!["calibration".into(), a.calibration.name().to_string()],
        vec![
            "PQL threshold".into(),
            format!(
                "probability ≥ {:.4} (top {} of validation)",
                a.thresholds.pql_threshold,
                percent(a.thresholds.pql_share)
            ),
        ],
        vec!["config hash".into(), t.config_hash.clone()],
        vec!["data fingerprint".into(), t.data_fingerprint.clone()],
        vec!["pql version".into(), a.pql_version.clone()],
    ];
    table(out, "card", &["", ""], &[false, false], &rows);
    out.push_str("</section>\n");
}

fn settings(a: &Artifact) -> String {
    match a.settings {
        pql_train::model::Settings::Logistic { l2 } => format!("L2 strength {l2}"),
        pql_train::model::Settings::Boosted { params } => format!("{} trees", params.max_trees),
    }
}

fn quality(out: &mut String, a: &Artifact) -> Result<(), ReportError> {
    let m = &a.metrics;
    section(
        out,
        "quality",
        "Validation quality",
        &format!(
            "The model fitted before the validation weeks, calibrated, on the {} validation rows ({} to {}), \
             which it did not train on.",
            m.rows, a.training.validation.first, a.training.validation.last
        ),
    );
    let rows = vec![
        vec!["ROC AUC".into(), format!("{:.4}", m.roc_auc)],
        vec!["PR AUC (average precision)".into(), format!("{:.4}", m.pr_auc)],
        vec!["log loss".into(), format!("{:.4}", m.log_loss)],
        vec!["Brier score".into(), format!("{:.4}", m.brier)],
        vec!["calibration error (ECE)".into(), format!("{:.4}", m.ece)],
        vec!["base rate".into(), format!("{:.4}", m.base_rate)],
        vec!["precision in the top 10%".into(), format!("{:.4}", m.precision_at_10)],
        vec!["lift in the top 5%".into(), format!("{:.2}", m.lift_at_5)],
        vec!["lift in the top 10%".into(), format!("{:.2}", m.lift_at_10)],
        vec!["conversions in the top 10%".into(), format!("{:.4}", m.recall_at_10)],
        vec!["conversions in the top 20%".into(), format!("{:.4}", m.recall_at_20)],
    ];
    table(out, "metrics", &["measure", "value"], &[false, true], &rows);
    let c = &a.curves;
    let diagonal = [[0.0, 0.0], [1.0, 1.0]];
    let roc = LineChart {
        caption: "ROC curve",
        x_label: "false positive rate",
        y_label: "true positive rate",
        points: &c.roc,
        reference: Some((&diagonal, "chance")),
        markers: false,
        legend: SeriesLabelPosition::LowerRight,
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
    };
    figure(
        out,
        "roc",
        &roc.svg()?,
        &format!(
            "ROC AUC {:.4}: the chance that a converting account scores above a non-converting one.",
            m.roc_auc
        ),
    );
    let base = [[0.0, m.base_rate], [1.0, m.base_rate]];
    let pr = LineChart {
        caption: "Precision and recall",
        x_label: "recall (share of conversions found)",
        y_label: "precision",
        points: &c.precision_recall,
        reference: Some((&base, "base rate")),
        markers: false,
        legend: SeriesLabelPosition::UpperRight,
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
    };
    figure(
        out,
        "precision-recall",
        &pr.svg()?,
        &format!(
            "Average precision {:.4} against a base rate of {:.4}.",
            m.pr_auc, m.base_rate
        ),
    );
    let reliability: Vec<[f64; 2]> = c
        .reliability
        .iter()
        .filter(|b| b.rows > 0)
        .map(|b| [b.predicted, b.observed])
        .collect();
    let top = reliability.iter().map(|p| p[0].max(p[1])).fold(0.05, f64::max).min(1.0) * 1.1;
    let perfect = [[0.0, 0.0], [top, top]];
    let calibration = LineChart {
        caption: "Calibration",
        x_label: "mean predicted probability",
        y_label: "observed conversion rate",
        points: &reliability,
        reference: Some((&perfect, "perfectly calibrated")),
        markers: true,
        legend: SeriesLabelPosition::LowerRight,
        x_range: (0.0, top),
        y_range: (0.0, top),
    };
    figure(
        out,
        "calibration",
        &calibration.svg()?,
        &format!(
            "Each point is one of the ten probability bins that hold rows; on the diagonal, a predicted \
             probability is the observed rate. ECE {:.4}.",
            m.ece
        ),
    );
    let gains = LineChart {
        caption: "Cumulative gains",
        x_label: "share of accounts contacted, most probable first",
        y_label: "share of conversions reached",
        points: &c.gains,
        reference: Some((&diagonal, "random order")),
        markers: false,
        legend: SeriesLabelPosition::LowerRight,
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
    };
    figure(
        out,
        "gains",
        &gains.svg()?,
        &format!(
            "The top 10% of accounts hold {} of the conversions (lift {:.2}); the top 20% hold {}.",
            percent(m.recall_at_10),
            m.lift_at_10,
            percent(m.recall_at_20)
        ),
    );
    out.push_str("</section>\n");
    Ok(())
}

fn drivers(out: &mut String, a: &Artifact) -> Result<(), ReportError> {
    section(
        out,
        "importances",
        "What drives conversion",
        "Permutation importance: how much the validation ROC AUC drops when the feature's values are shuffled \
         across accounts (the line spans ± one standard deviation over the repeats).",
    );
    let mut order: Vec<usize> = (0..a.importances.len()).collect();
    order.sort_by(|&x, &y| a.importances[y].permutation.total_cmp(&a.importances[x].permutation));
    let bars: Vec<Bar> = order
        .iter()
        .take(IMPORTANCE_BARS)
        .map(|&i| Bar {
            label: a.importances[i].feature.clone(),
            value: a.importances[i].permutation,
            error: Some(a.importances[i].permutation_std),
        })
        .collect();
    figure(
        out,
        "importance",
        &charts::bars("Feature importance", "drop in ROC AUC when shuffled", &bars)?,
        &format!("The {} most important of {} features.", bars.len(), a.importances.len()),
    );
    let linear = a.importances.iter().any(|i| i.coefficient.is_some());
    let header = if linear {
        ["feature", "AUC drop", "± std", "coefficient", "± se", "description"]
    } else {
        ["feature", "AUC drop", "± std", "gain share", "", "description"]
    };
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|&i| {
            let imp = &a.importances[i];
            let description = a
                .features
                .iter()
                .find(|f| f.name == imp.feature)
                .map(|f| f.description.clone())
                .unwrap_or_default();
            let (third, fourth) = match (imp.coefficient, imp.coefficient_se, imp.gain_share) {
                (Some(c), se, _) => (format!("{c:+.4}"), se.map(|s| format!("{s:.4}")).unwrap_or_default()),
                (None, _, Some(g)) => (format!("{g:.4}"), String::new()),
                _ => (String::new(), String::new()),
            };
            vec![
                imp.feature.clone(),
                format!("{:.4}", imp.permutation),
                format!("{:.4}", imp.permutation_std),
                third,
                fourth,
                description,
            ]
        })
        .collect();
    table(
        out,
        "importances",
        &header,
        &[false, true, true, true, true, false],
        &rows,
    );
    out.push_str("</section>\n");
    Ok(())
}

fn dependence(out: &mut String, a: &Artifact) -> Result<(), ReportError> {
    section(
        out,
        "dependence",
        "How the probability moves with the top features",
        "Partial dependence: the mean calibrated probability of validation accounts when the feature is set to \
         each of its 5th to 95th and its 99th percentiles, every other feature as it is.",
    );
    for d in &a.dependence {
        let points: Vec<[f64; 2]> = d.values.iter().zip(&d.probability).map(|(&v, &p)| [v, p]).collect();
        let (low, high) = (d.values[0], d.values[d.values.len() - 1]);
        let caption = format!(
            "{}: from {:.4} at {} to {:.4} at {}.",
            d.feature,
            d.probability[0],
            number(low),
            d.probability[d.probability.len() - 1],
            number(high)
        );
        if points.len() < 2 {
            let _ = writeln!(
                out,
                "<p class=\"note\" id=\"dependence-{}\"><code>{}</code> is {} for almost every validation \
                 account (5th to 99th percentile): mean probability {:.4}.</p>",
                escape(&slug(&d.feature)),
                escape(&d.feature),
                number(low),
                d.probability[0]
            );
            continue;
        }
        let top = d.probability.iter().fold(0.0, |m: f64, &p| m.max(p)) * 1.15;
        let span = (high - low).max(1e-9);
        let chart = LineChart {
            caption: &d.feature,
            x_label: &d.feature,
            y_label: "mean probability",
            points: &points,
            reference: None,
            markers: true,
            legend: SeriesLabelPosition::LowerRight,
            x_range: (low - 0.02 * span, high + 0.02 * span),
            y_range: (0.0, top.max(1e-6)),
        };
        figure(
            out,
            &format!("dependence-{}", slug(&d.feature)),
            &chart.svg()?,
            &escape(&caption),
        );
    }
    out.push_str("</section>\n");
    Ok(())
}

fn rules(out: &mut String, a: &Artifact) {
    section(
        out,
        "rules",
        "Rules of thumb beside the model",
        "Each rule from pql.toml flags some validation accounts; the model takes the same number of its most \
         probable accounts. Precision: share of flagged accounts that converted. Recall: share of all \
         conversions flagged.",
    );
    if a.rules.is_empty() {
        out.push_str("<p class=\"note\">The config defines no rules.</p>\n");
    } else {
        let rows: Vec<Vec<String>> = a
            .rules
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.when.clone(),
                    r.flagged.to_string(),
                    format!("{:.4}", r.rule_precision),
                    format!("{:.4}", r.model_precision),
                    format!("{:.4}", r.rule_recall),
                    format!("{:.4}", r.model_recall),
                ]
            })
            .collect();
        table(
            out,
            "rules",
            &[
                "rule",
                "when",
                "flagged",
                "rule precision",
                "model precision",
                "rule recall",
                "model recall",
            ],
            &[false, false, true, true, true, true, true],
            &rows,
        );
    }
    out.push_str("</section>\n");
}

fn backtest(out: &mut String, a: &Artifact) {
    section(
        out,
        "backtest",
        "Backtest",
        "For each snapshot, the whole procedure rerun on the labels known that day, then scored on it.",
    );
    if a.backtest.is_empty() {
        out.push_str("<p class=\"note\">The model was trained without a backtest.</p>\n");
    } else {
        let rows: Vec<Vec<String>> = a
            .backtest
            .iter()
            .map(|b| {
                vec![
                    b.as_of.clone(),
                    b.train_rows.to_string(),
                    b.metrics.rows.to_string(),
                    format!("{:.4}", b.metrics.roc_auc),
                    format!("{:.4}", b.metrics.log_loss),
                    format!("{:.2}", b.metrics.lift_at_10),
                    format!("{:.4}", b.metrics.ece),
                ]
            })
            .collect();
        table(
            out,
            "backtest",
            &[
                "as of",
                "trained on",
                "rows",
                "ROC AUC",
                "log loss",
                "lift top 10%",
                "ECE",
            ],
            &[false, true, true, true, true, true, true],
            &rows,
        );
    }
    out.push_str("</section>\n");
}

fn scored(out: &mut String, a: &Artifact, s: &ScoresSummary) -> Result<(), ReportError> {
    section(
        out,
        "scores",
        "Scores",
        &format!(
            "{} accounts scored as of {} by model {}.",
            s.probabilities.len(),
            escape(&s.as_of.join(", ")),
            escape(&s.model_ids.join(", "))
        ),
    );
    if s.model_ids.iter().any(|id| id != &a.model_id) {
        let _ = writeln!(
            out,
            "<p class=\"note\"><strong>These scores come from another model than the one reported.</strong></p>"
        );
    }
    let top = s.probabilities.iter().fold(0.0, |m: f64, &p| m.max(p)).max(1e-6);
    let mut counts = vec![0usize; SCORE_BINS];
    for &p in &s.probabilities {
        counts[((p / top * SCORE_BINS as f64) as usize).min(SCORE_BINS - 1)] += 1;
    }
    let threshold = a.thresholds.pql_threshold;
    let marks: Vec<(f64, &str)> = if threshold <= top {
        vec![(threshold, "PQL threshold")]
    } else {
        Vec::new()
    };
    figure(
        out,
        "score-distribution",
        &charts::histogram(
            "Score distribution",
            "probability of converting",
            (0.0, top),
            &counts,
            &marks,
        )?,
        &format!(
            "{} accounts in {SCORE_BINS} bins up to the highest probability, {top:.4}.",
            s.probabilities.len()
        ),
    );
    let total = s.probabilities.len().max(1) as f64;
    let rows: Vec<Vec<String>> = s
        .tiers
        .iter()
        .map(|(tier, n)| vec![tier.clone(), n.to_string(), percent(*n as f64 / total)])
        .collect();
    table(
        out,
        "tiers",
        &["tier", "accounts", "share"],
        &[false, true, true],
        &rows,
    );
    let rows: Vec<Vec<String>> = s
        .top
        .iter()
        .map(|t| {
            vec![
                t.account_id.clone(),
                format!("{:.4}", t.probability),
                t.tier.clone(),
                t.reasons.join("; "),
            ]
        })
        .collect();
    let _ = writeln!(out, "<h3>The {} most probable accounts</h3>", s.top.len());
    table(
        out,
        "top-accounts",
        &["account", "probability", "tier", "top reasons"],
        &[false, true, false, false],
        &rows,
    );
    out.push_str("</section>\n");
    Ok(())
}

fn percent(share: f64) -> String {
    format!("{:.1}%", 100.0 * share)
}

/// A value as a person would write it: integers without decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

/// An HTML id fragment from a feature name.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Text escaped for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_ids_are_safe() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(slug("industry=software"), "industry-software");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.250");
    }

    #[test]
    fn a_scores_frame_without_probabilities_is_refused_by_name() {
        let frame = df!("account_id" => ["a"], "tier" => ["hot"]).unwrap();
        let err = ScoresSummary::from_frame(&frame).unwrap_err().to_string();
        assert!(err.contains("no column `probability`"), "{err}");
        let frame = df!(
            "account_id" => ["a", "b"], "as_of" => ["2025-01-06", "2025-01-06"], "probability" => [0.2, 1.5],
            "tier" => ["hot", "cold"], "reason_1" => ["x", ""], "reason_2" => ["", ""], "reason_3" => ["", ""],
            "model_id" => ["m", "m"]
        )
        .unwrap();
        let err = ScoresSummary::from_frame(&frame).unwrap_err().to_string();
        assert!(err.contains("row 2: probability Some(1.5) is not in [0, 1]"), "{err}");
    }
}
