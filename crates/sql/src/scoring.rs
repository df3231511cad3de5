//! The scoring query: a model artifact's arithmetic written out as SQL over a feature table.

use std::fmt::Write;

use pql_train::boost::{Node, Tree};
use pql_train::calibration::Calibration;
use pql_train::model::Model;
use pql_train::Artifact;

use crate::{number, Dialect};

/// The scoring query of `artifact` over `features`: a table name or a parenthesised subquery holding at
/// least `account_id`, `as_of` and the model's feature columns.
pub fn scoring_query(artifact: &Artifact, dialect: Dialect, features: &str) -> String {
    let names: Vec<String> = artifact.features.iter().map(|f| dialect.quote(&f.name)).collect();
    let log_odds = match &artifact.model {
        Model::Logistic(m) => {
            let (weights, offset) = m.raw_weights();
            let mut sum = number(offset);
            for (w, name) in weights.iter().zip(&names) {
                let _ = write!(sum, "\n      + {} * {name}", number(*w));
            }
            sum
        }
        Model::Boosted(b) => {
            let mut sum = number(b.base_score);
            for tree in &b.trees {
                let _ = write!(sum, "\n      + {}", tree_sql(tree, 0, &names, 6));
            }
            sum
        }
    };
    let t = &artifact.thresholds;
    format!(
        "-- pql model {id} ({kind}): calibrated probability, tier and PQL flag for every row of the features.\n\
         WITH scored AS (\n  SELECT account_id, as_of,\n    1 / (1 + exp(-(\n      {log_odds}\n    ))) AS raw\n  \
         FROM {features}\n),\ncalibrated AS (\n  SELECT account_id, as_of,\n    {calibration} AS probability\n  \
         FROM scored\n)\n\
         SELECT account_id, as_of, probability,\n  \
         CASE WHEN probability >= {hot} THEN 'hot' WHEN probability >= {warm} THEN 'warm' ELSE 'cold' END AS tier,\n  \
         probability >= {hot} AS is_pql,\n  '{id}' AS model_id\n\
         FROM calibrated\nORDER BY probability DESC, account_id\n",
        id = artifact.model_id,
        kind = artifact.kind,
        calibration = calibration_sql(&artifact.calibration),
        hot = number(t.pql_threshold),
        warm = number(t.warm_threshold),
    )
}

/// One tree from node `at` as nested `CASE WHEN`: `x <= threshold` goes left; a NULL goes right, as NaN does.
fn tree_sql(tree: &Tree, at: usize, names: &[String], indent: usize) -> String {
    match tree.nodes[at] {
        Node::Leaf { value, .. } => number(value),
        Node::Split {
            feature,
            threshold,
            left,
            right,
            ..
        } => {
            let pad = " ".repeat(indent);
            format!(
                "CASE WHEN {} <= {} THEN {}\n{pad}ELSE {} END",
                names[feature],
                number(threshold),
                tree_sql(tree, left, names, indent + 2),
                tree_sql(tree, right, names, indent + 2),
            )
        }
    }
}

/// The calibrated probability of the column `raw`.
fn calibration_sql(calibration: &Calibration) -> String {
    match calibration {
        Calibration::Platt { slope, intercept } => format!(
            "1 / (1 + exp(-({slope} * ln(least(greatest(raw, {clip}), {high}) / (1 - least(greatest(raw, {clip}), \
             {high}))) + {intercept})))",
            slope = number(*slope),
            intercept = number(*intercept),
            clip = number(pql_train::calibration::LOGIT_CLIP),
            high = number(1.0 - pql_train::calibration::LOGIT_CLIP),
        ),
        Calibration::Isotonic { raw, calibrated } => {
            let last = raw.len() - 1;
            let mut sql = format!(
                "CASE WHEN raw <= {} THEN {}\n      WHEN raw >= {} THEN {}",
                number(raw[0]),
                number(calibrated[0]),
                number(raw[last]),
                number(calibrated[last])
            );
            for i in 1..=last {
                let (x0, x1, y0, y1) = (raw[i - 1], raw[i], calibrated[i - 1], calibrated[i]);
                let _ = write!(
                    sql,
                    "\n      WHEN raw < {} THEN {} + {} * (raw - {}) / {}",
                    number(x1),
                    number(y0),
                    number(y1 - y0),
                    number(x0),
                    number(x1 - x0)
                );
            }
            sql.push_str(" END");
            sql
        }
    }
}
