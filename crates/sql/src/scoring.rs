//! The scoring query: a model artifact's arithmetic written out as SQL over a feature table.

use std::fmt::Write;

use pql_features::catalog::{Aggregation, EventSet};
use pql_features::FeatureDef;
use pql_score::reasons;
use pql_train::boost::{Node, Tree};
use pql_train::calibration::Calibration;
use pql_train::model::{LinearModel, Model};
use pql_train::Artifact;

use crate::{comment, number, Dialect, Relation};

/// The scoring query of `artifact` over `features`: a table or view holding at least `account_id`, `as_of`
/// and the model's feature columns. It returns the columns of `pql score`:
/// `account_id`, `as_of`, `probability`, `tier`, `is_pql`, `reason_1`..`reason_3` (the largest positive
/// contributions of a logistic model, worded as `pql score` words them; NULL for trees) and `model_id`.
pub fn scoring_query(artifact: &Artifact, dialect: Dialect, features: &Relation) -> String {
    let names: Vec<String> = artifact.features.iter().map(|f| dialect.quote(&f.name)).collect();
    let (log_odds, contributions) = match &artifact.model {
        Model::Logistic(m) => {
            let (weights, offset) = m.compressed_weights();
            let mut sum = number(offset);
            for (j, w) in weights.iter().enumerate() {
                let _ = write!(sum, "\n      + {} * {}", number(*w), compressed(m, j, &names[j]));
            }
            (sum, Some(contributions_sql(m, &names, dialect)))
        }
        Model::Boosted(b) => {
            let mut sum = number(b.base_score);
            for tree in &b.trees {
                let _ = write!(sum, "\n      + {}", tree_sql(tree, 0, &names, 6));
            }
            (sum, None)
        }
    };
    let reasons: Vec<String> = (1..=pql_score::REASONS)
        .map(|k| match &contributions {
            Some(_) => {
                let top = dialect.element("contributions", k);
                let mut phrases = String::new();
                for (j, def) in artifact.features.iter().enumerate() {
                    let _ = write!(
                        phrases,
                        "\n      WHEN {} THEN {}",
                        -(j as i64) - 1,
                        phrase_sql(def, &names[j], dialect)
                    );
                }
                format!("CASE WHEN {top}.c > 0 THEN CASE {top}.j{phrases}\n    END END AS reason_{k}")
            }
            None => format!("CAST(NULL AS {}) AS reason_{k}", dialect.text_type()),
        })
        .collect();
    let t = &artifact.thresholds;
    format!(
        "{title}\n\
         WITH scored AS (\n  SELECT *,\n    1 / (1 + exp(-(\n      {log_odds}\n    ))) AS raw{contributions}\n  \
         FROM {features}\n),\ncalibrated AS (\n  SELECT *,\n    {calibration} AS probability\n  \
         FROM scored\n)\n\
         SELECT account_id, as_of, probability,\n  \
         CASE WHEN probability >= {hot} THEN 'hot' WHEN probability >= {warm} THEN 'warm' ELSE 'cold' END AS tier,\n  \
         probability >= {hot} AS is_pql,\n  {reasons},\n  {id} AS model_id\n\
         FROM calibrated\nORDER BY probability DESC, account_id\n",
        title = comment(&format!(
            "pql model {:?} ({}): calibrated probability, tier, PQL flag and reasons for every row of the features.",
            artifact.model_id, artifact.kind
        )),
        id = dialect.string(&artifact.model_id),
        features = features.sql(dialect),
        contributions = contributions
            .map(|c| format!(",\n    {c} AS contributions"))
            .unwrap_or_default(),
        calibration = calibration_sql(&artifact.calibration),
        hot = number(t.pql_threshold),
        warm = number(t.warm_threshold),
        reasons = reasons.join(",\n  "),
    )
}

/// Feature `j`'s column as the weights read it: compressed by the signed log1p where training did.
fn compressed(model: &LinearModel, j: usize, name: &str) -> String {
    match model.standardizer.signed_log1p[j] {
        true => format!("(sign({name}) * ln(1 + abs({name})))"),
        false => name.to_string(),
    }
}

/// Every feature's contribution to the log-odds, `w (t(x) − mean) / scale`, rounded to
/// [`pql_score::REASON_DECIMALS`] decimals as `pql score` ranks them, as a list of `(c, j)` structs, largest
/// first and ties to the lower feature index (`j` is minus the index, one-based); non-positive
/// contributions count as 0, so they are never reasons.
fn contributions_sql(model: &LinearModel, names: &[String], dialect: Dialect) -> String {
    let s = &model.standardizer;
    let items: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let c = format!(
                "{} * ({} - {}) / {}",
                number(model.weights[j]),
                compressed(model, j, name),
                number(s.means[j]),
                number(s.scales[j])
            );
            let c = format!("greatest(round({c}, {}), 0)", pql_score::REASON_DECIMALS);
            dialect.pair("c", &c, "j", &(-(j as i64) - 1).to_string())
        })
        .collect();
    dialect.sorted_descending(&format!("\n      {}\n    ", items.join(",\n      ")))
}

/// The words `pql score` gives feature `def` at the value of the column `x` (see `pql_score::reasons`).
fn phrase_sql(def: &FeatureDef, x: &str, d: Dialect) -> String {
    use Aggregation::*;
    let text = |s: &str| d.string(s);
    if let Some(threshold) = def.threshold {
        return flag(
            x,
            &text(&reasons::milestone_phrase(def, threshold, true)),
            &text(&reasons::milestone_phrase(def, threshold, false)),
        );
    }
    let window = text(&reasons::window_words(def.window));
    let number = || d.number_words(x);
    let plural = |noun: &str| {
        format!(
            "CASE WHEN {x} = 1 THEN {} ELSE {} END",
            text(noun),
            text(&format!("{noun}s"))
        )
    };
    let days = || {
        format!(
            "CASE WHEN {x} < 1 THEN 'less than a day' ELSE CAST(CAST(floor({x}) AS BIGINT) AS {t}) || \
             CASE WHEN floor({x}) = 1 THEN ' day' ELSE ' days' END END",
            t = d.text_type()
        )
    };
    let percent = || format!("{} || '%'", d.fixed(&format!("100 * {x}"), 0));
    let set = |many: &str| {
        format!(
            "CASE WHEN {many} THEN {} ELSE {} END",
            text(&reasons::set_words(&def.events, true)),
            text(&reasons::set_words(&def.events, false))
        )
    };
    let concat = |parts: &[String]| parts.join(" || ");
    match &def.aggregation {
        Tenure => concat(&["'signed up '".into(), days(), "' ago'".into()]),
        Count => match &def.events {
            EventSet::Named(event) => {
                let times = format!(
                    "CASE WHEN {x} = 1 THEN 'once' WHEN {x} = 2 THEN 'twice' ELSE {} || ' times' END",
                    number()
                );
                concat(&[text(&format!("{} ", reasons::words(event))), times, window])
            }
            _ => concat(&[number(), "' '".into(), set(&format!("{x} <> 1")), window]),
        },
        ActiveDays => concat(&["'active on '".into(), number(), "' '".into(), plural("day"), window]),
        Sessions => concat(&[number(), "' '".into(), plural("session"), window]),
        DaysSinceLast => {
            let what = match &def.events {
                EventSet::Activity => "last active ".to_string(),
                EventSet::Named(event) => format!("last {} ", reasons::words(event)),
                set => format!("last {} ", reasons::set_words(set, false)),
            };
            concat(&[text(&what), days(), "' ago'".into()])
        }
        DistinctEvents => match &def.events {
            EventSet::Product | EventSet::Activity => concat(&[
                "'used '".into(),
                number(),
                "' product '".into(),
                plural("feature"),
                window,
            ]),
            _ => concat(&[number(), "' distinct '".into(), set(&format!("{x} <> 1")), window]),
        },
        DistinctShare => concat(&["'used '".into(), percent(), "' of the product features in use'".into()]),
        DaysToFirst => concat(&[
            text(&format!("first {} ", reasons::set_words(&def.events, false))),
            days(),
            "' after signup'".into(),
        ]),
        FirstWithin(days) => {
            let what = reasons::set_words(&def.events, false);
            flag(
                x,
                &text(&format!("first {what} within {days} days of signup")),
                &text(&format!("no {what} within {days} days of signup")),
            )
        }
        TrialDaysLeft { .. } => concat(&[
            format!(
                "CASE WHEN {x} <= 0 THEN 'no days' ELSE CAST(CAST(ceil({x}) AS BIGINT) AS {t}) || \
                 CASE WHEN ceil({x}) = 1 THEN ' day' ELSE ' days' END END",
                t = d.text_type()
            ),
            "' left in the trial'".into(),
        ]),
        DaysToNthDistinct(k) => concat(&[
            text(&format!("used {k} product features ")),
            days(),
            "' after signup'".into(),
        ]),
        DistinctUsers => concat(&[number(), "' active '".into(), plural("user"), window]),
        LimitUsage {
            event, limit, period, ..
        }
        | LimitMaxUsage {
            event, limit, period, ..
        } => {
            let lead = match def.aggregation {
                LimitUsage { .. } => "at ",
                _ => "peaked at ",
            };
            concat(&[
                text(lead),
                percent(),
                text(&format!(
                    " of the {} limit of {limit} {}",
                    reasons::period_words(*period),
                    reasons::words(event)
                )),
            ])
        }
        Trend(days) => concat(&[
            format!("CASE WHEN {x} > 0 THEN 'more' WHEN {x} < 0 THEN 'less' ELSE 'as much' END"),
            text(&format!(
                " activity in the last {days} days than the {days} before (trend "
            )),
            format!("CASE WHEN {x} < 0 THEN '' ELSE '+' END"),
            d.fixed(x, 2),
            "')'".into(),
        ]),
        ValueSum => concat(&[
            text(&format!("{} values total ", reasons::set_words(&def.events, false))),
            number(),
            window,
        ]),
        ValueMean => concat(&[
            text(&format!("{} values average ", reasons::set_words(&def.events, false))),
            number(),
        ]),
        NumericAttribute(attribute) => concat(&[text(&format!("{} is ", reasons::words(attribute))), number()]),
        AttributeMissing(attribute) => {
            let a = reasons::words(attribute);
            flag(x, &text(&format!("{a} unknown")), &text(&format!("{a} known")))
        }
        AttributeLevel { attribute, level } => {
            let a = reasons::words(attribute);
            flag(
                x,
                &text(&format!("{a} is {level}")),
                &text(&format!("{a} is not {level}")),
            )
        }
        AttributeOther { attribute, .. } => {
            let a = reasons::words(attribute);
            flag(
                x,
                &text(&format!("{a} is an uncommon value")),
                &text(&format!("{a} is not an uncommon value")),
            )
        }
    }
}

/// `yes` where the flag `x` is set, else `no`.
fn flag(x: &str, yes: &str, no: &str) -> String {
    format!("CASE WHEN {x} <> 0 THEN {yes} ELSE {no} END")
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
