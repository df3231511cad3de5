//! Scoring: a trained model and a feature table → for every eligible account its calibrated probability
//! of converting within the horizon, a tier (`hot` = PQL, `warm`, `cold`), and up to three reasons (the
//! features that raise its score most, in words).
//!
//! Features come from the same code as training (`pql_features`, with the model's categorical levels);
//! [`Scorer::for_config`] refuses a config that gives events other roles than training did, listing the
//! changes, and [`Scorer::new`] a model whose features the input cannot provide, naming them. Reasons use the
//! model's exact per-row contributions (`pql_train::explain`): the weight terms of the linear model, or
//! TreeSHAP values of the trees. [`drift`] compares the scored population with the training data.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use pql_features::{FeatureBuilder, Snapshots};
//! let artifact = pql_train::Artifact::load("models/0123456789abcdef".as_ref())?;
//! let config = pql_data::Config::load("data/sample/pql.toml")?;
//! let vocabulary = pql_features::Vocabulary::of_defs(&artifact.features);
//! let scorer = pql_score::Scorer::for_config(&artifact, &config)?;
//! let date = chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
//! let table = FeatureBuilder::new(&config, &Snapshots::One(date), Some(&vocabulary))?.collect()?;
//! let scores = scorer.score(&table.frame, &pql_score::TierPolicy::Model)?;
//! println!("{} accounts, {} PQLs", scores.summary.rows, scores.summary.hot);
//! # Ok(()) }
//! ```

pub mod drift;
mod error;
pub mod policy;
pub mod reasons;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use ndarray::Array2;
use polars::prelude::*;
use pql_data::Config;
use pql_features::{catalog, FeatureDef, Roles, Vocabulary};
use pql_train::matrix::FeatureColumns;
use pql_train::Artifact;
use rayon::prelude::*;

pub use error::ScoreError;
pub use policy::{Tier, TierPolicy};

/// Reasons given per account, at most.
pub const REASONS: usize = 3;

/// Contributions are ranked as rounded to this many decimals (of log-odds): two that are equal in exact
/// arithmetic (collinear features, with equal weights) but not in the last bits tie, and the tie goes to
/// the lower feature index, here and in the SQL export alike.
pub const REASON_DECIMALS: i32 = 9;

/// A contribution as reasons rank it ([`REASON_DECIMALS`]).
fn reason_rank(contribution: f64) -> f64 {
    let scale = 10f64.powi(REASON_DECIMALS);
    (contribution * scale).round() / scale
}

/// A model checked against the features an input provides, ready to score tables of them.
pub struct Scorer<'a> {
    artifact: &'a Artifact,
}

/// Scores of a table, highest probability first.
pub struct Scores {
    /// `account_id`, `as_of`, `probability`, `tier`, `is_pql`, `reason_1`..`reason_3`, `model_id`, and
    /// `newly_qualified` after [`Scores::mark_newly_qualified`].
    pub frame: DataFrame,
    /// Counts.
    pub summary: Summary,
    /// How far the scored accounts are from the training data.
    pub drift: drift::Drift,
}

/// What a scoring run produced.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Accounts scored.
    pub rows: usize,
    /// PQLs.
    pub hot: usize,
    /// Warm accounts.
    pub warm: usize,
    /// Cold accounts.
    pub cold: usize,
    /// Mean calibrated probability.
    pub mean_probability: f64,
    /// Lowest probability among the PQLs, if any.
    pub pql_cut: Option<f64>,
    /// PQLs that were not PQLs in the previous run, once marked.
    pub newly_qualified: Option<usize>,
}

/// One feature's part in one account's score.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// The feature.
    pub feature: String,
    /// Its value for the account.
    pub value: f64,
    /// How far it moves the raw log-odds from the model's baseline.
    pub log_odds: f64,
    /// The value in words.
    pub phrase: String,
}

/// Why one account scores what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// Calibrated probability.
    pub probability: f64,
    /// Raw log-odds of an account whose contributions are all zero.
    pub baseline: f64,
    /// Every feature, largest absolute contribution first.
    pub contributions: Vec<Contribution>,
}

impl<'a> Scorer<'a> {
    /// Checks that `config` gives the model's features the meaning they had in training: the same event
    /// roles (else every changed role is listed), then every feature under the same name and definition,
    /// with the model's categorical levels. The one place a model meets a config.
    pub fn for_config(artifact: &'a Artifact, config: &Config) -> Result<Self, ScoreError> {
        let changes = artifact.training.event_roles.changes(&Roles::of(config));
        if !changes.is_empty() {
            return Err(ScoreError::EventRoles {
                changes,
                model_id: artifact.model_id.clone(),
            });
        }
        Scorer::new(
            artifact,
            &catalog::catalog(config, &Vocabulary::of_defs(&artifact.features)),
        )
    }

    /// Checks that `available` (the features a config or a table provides) holds every feature of the model
    /// under the same name and definition.
    pub fn new(artifact: &'a Artifact, available: &[FeatureDef]) -> Result<Self, ScoreError> {
        let mut missing = Vec::new();
        let mut changed = Vec::new();
        for needed in &artifact.features {
            match available.iter().find(|d| d.name == needed.name) {
                None => missing.push(needed.name.clone()),
                Some(found) if !same_definition(found, needed) => changed.push(needed.name.clone()),
                Some(_) => {}
            }
        }
        if missing.is_empty() && changed.is_empty() {
            Ok(Scorer { artifact })
        } else {
            Err(ScoreError::FeatureMismatch {
                missing,
                changed,
                model_id: artifact.model_id.clone(),
            })
        }
    }

    /// Scores every row of `table` (`account_id`, `as_of` and the model's features; other columns are
    /// ignored), sorted by probability, highest first (ties by `account_id`).
    pub fn score(&self, table: &DataFrame, policy: &TierPolicy) -> Result<Scores, ScoreError> {
        let artifact = self.artifact;
        let x = FeatureColumns::from_table(table, &artifact.feature_names())?;
        let probabilities = artifact.predict_columns(&x);
        let ids = table.column("account_id")?.cast(&DataType::String)?;
        let ids: Vec<Option<&str>> = ids.str()?.iter().collect();
        let mut order: Vec<IdxSize> = (0..table.height() as IdxSize).collect();
        order.par_sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            probabilities[b]
                .total_cmp(&probabilities[a])
                .then_with(|| ids[a].cmp(&ids[b]))
                .then(a.cmp(&b))
        });
        let sorted: Vec<f64> = order.iter().map(|&i| probabilities[i as usize]).collect();
        let tiers = policy.tiers(&artifact.thresholds, &sorted);
        let reasons = self.reasons(&x, &order);
        let reason_column = |k: usize| {
            Column::new(
                format!("reason_{}", k + 1).into(),
                reasons.iter().map(|r| r[k].as_deref()).collect::<Vec<Option<&str>>>(),
            )
        };
        let order = IdxCa::from_vec("order".into(), order);
        let mut frame = table.select(["account_id", "as_of"])?.take(&order)?;
        frame.with_column(Column::new("probability".into(), &sorted))?;
        frame.with_column(Column::new(
            "tier".into(),
            tiers.iter().map(|t| t.name()).collect::<Vec<_>>(),
        ))?;
        frame.with_column(Column::new(
            "is_pql".into(),
            tiers.iter().map(|&t| t == Tier::Hot).collect::<Vec<_>>(),
        ))?;
        for k in 0..REASONS {
            frame.with_column(reason_column(k))?;
        }
        frame.with_column(Column::new_scalar(
            "model_id".into(),
            Scalar::new(
                DataType::String,
                AnyValue::StringOwned(artifact.model_id.as_str().into()),
            ),
            frame.height(),
        ))?;
        let count = |tier: Tier| tiers.iter().filter(|&&t| t == tier).count();
        let hot = count(Tier::Hot);
        let summary = Summary {
            rows: sorted.len(),
            hot,
            warm: count(Tier::Warm),
            cold: count(Tier::Cold),
            mean_probability: sorted.iter().sum::<f64>() / sorted.len().max(1) as f64,
            pql_cut: hot.checked_sub(1).map(|last| sorted[last]),
            newly_qualified: None,
        };
        let drift = drift::drift(artifact, &x, &probabilities);
        Ok(Scores { frame, summary, drift })
    }

    /// The top [`REASONS`] positive contributions of each row, in `order`, as phrases. Rows are done in
    /// parallel blocks, each phrasing a `(feature, value)` pair once.
    fn reasons(&self, x: &FeatureColumns, order: &[IdxSize]) -> Vec<[Option<Arc<str>>; REASONS]> {
        /// Rows whose contributions are computed together (see `Explainer::contributions_of_rows`).
        const BATCH: usize = 256;
        let explainer = self.artifact.model.explainer();
        let defs = &self.artifact.features;
        order
            .par_chunks(8192)
            .flat_map_iter(|block| {
                let mut phrases: HashMap<(usize, u64), Arc<str>> = HashMap::new();
                let mut reasons = Vec::with_capacity(block.len());
                let mut phi = Array2::zeros((BATCH, defs.len()));
                let mut rows = Array2::zeros((0, 0));
                for batch in block.chunks(BATCH) {
                    let indices: Vec<usize> = batch.iter().map(|&i| i as usize).collect();
                    x.gather(&indices, &mut rows);
                    explainer.contributions_of_rows(rows.view(), phi.view_mut());
                    for (row, phi) in rows.rows().into_iter().zip(phi.rows()) {
                        let top = top_positive(phi.as_slice().expect("a standard-layout row"));
                        reasons.push(top.map(|j| {
                            j.map(|j| {
                                phrases
                                    .entry((j, row[j].to_bits()))
                                    .or_insert_with(|| reasons::phrase(&defs[j], row[j]).into())
                                    .clone()
                            })
                        }));
                    }
                }
                reasons
            })
            .collect()
    }

    /// How far the rows of `table` are from the model's training data (no tiers or reasons computed).
    pub fn drift(&self, table: &DataFrame) -> Result<drift::Drift, ScoreError> {
        let x = FeatureColumns::from_table(table, &self.artifact.feature_names())?;
        Ok(drift::drift(self.artifact, &x, &self.artifact.predict_columns(&x)))
    }

    /// Every feature's contribution to the score of `account_id` in `table`.
    pub fn explain(&self, table: &DataFrame, account_id: &str) -> Result<Explanation, ScoreError> {
        let ids = table.column("account_id")?.cast(&DataType::String)?;
        let row = ids
            .str()?
            .iter()
            .position(|id| id == Some(account_id))
            .ok_or_else(|| ScoreError::Table(format!("no row for account {account_id:?}")))?;
        let artifact = self.artifact;
        let x = pql_train::matrix::feature_matrix(&table.slice(row as i64, 1), &artifact.feature_names())?;
        let mut phi = vec![0.0; artifact.features.len()];
        artifact.model.explainer().contributions(x.row(0), &mut phi);
        let mut contributions: Vec<Contribution> = artifact
            .features
            .iter()
            .zip(x.row(0))
            .zip(&phi)
            .map(|((def, &value), &log_odds)| Contribution {
                feature: def.name.clone(),
                value,
                log_odds,
                phrase: reasons::phrase(def, value),
            })
            .collect();
        contributions.sort_by(|a, b| b.log_odds.abs().total_cmp(&a.log_odds.abs()));
        Ok(Explanation {
            probability: artifact.predict(x.view())[0],
            baseline: artifact.model.baseline(),
            contributions,
        })
    }
}

impl Scores {
    /// Adds `newly_qualified`: a PQL now whose account is not in `previous_pqls`.
    pub fn mark_newly_qualified(&mut self, previous_pqls: &HashSet<String>) -> Result<usize, ScoreError> {
        let ids = self.frame.column("account_id")?.cast(&DataType::String)?;
        let is_pql = self.frame.column("is_pql")?.bool()?.clone();
        let newly: Vec<bool> = ids
            .str()?
            .iter()
            .zip(is_pql.iter())
            .map(|(id, pql)| pql == Some(true) && !id.is_some_and(|id| previous_pqls.contains(id)))
            .collect();
        let count = newly.iter().filter(|&&n| n).count();
        self.frame.with_column(Column::new("newly_qualified".into(), newly))?;
        self.summary.newly_qualified = Some(count);
        Ok(count)
    }
}

/// Reads a scores file written by `pql score` (Parquet or CSV by extension).
pub fn read_scores(path: &Path) -> Result<DataFrame, ScoreError> {
    let error = |message: String| ScoreError::ScoresFile {
        path: path.to_path_buf(),
        message,
    };
    let polars_error = |e: PolarsError| error(e.to_string().lines().next().unwrap_or_default().to_string());
    match pql_data::input::Format::of(path) {
        Some(pql_data::input::Format::Parquet) => {
            let file = std::fs::File::open(path).map_err(|e| error(e.to_string()))?;
            ParquetReader::new(file).finish().map_err(polars_error)
        }
        Some(pql_data::input::Format::Csv) => CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
            .map_err(polars_error),
        _ => Err(error(
            "a scores file is a .parquet or .csv file from `pql score`".into(),
        )),
    }
}

/// The accounts flagged `is_pql` in an earlier scores file (Parquet or CSV from `pql score`).
pub fn read_previous_pqls(path: &Path) -> Result<HashSet<String>, ScoreError> {
    let error = |message: String| ScoreError::ScoresFile {
        path: path.to_path_buf(),
        message,
    };
    let polars_error = |e: PolarsError| error(e.to_string().lines().next().unwrap_or_default().to_string());
    let frame = read_scores(path)?;
    let column = |name: &str| {
        frame
            .column(name)
            .map_err(|_| error(format!("no column `{name}`: pass a file written by `pql score`")))
    };
    let ids = column("account_id")?.cast(&DataType::String).map_err(polars_error)?;
    let pql = column("is_pql")?.cast(&DataType::Boolean).map_err(polars_error)?;
    Ok(ids
        .str()
        .map_err(polars_error)?
        .iter()
        .zip(pql.bool().map_err(polars_error)?.iter())
        .filter_map(|(id, pql)| id.filter(|_| pql == Some(true)).map(str::to_string))
        .collect())
}

/// Same computation (everything but the description, which is for people).
fn same_definition(a: &FeatureDef, b: &FeatureDef) -> bool {
    a.family == b.family
        && a.events == b.events
        && a.window == b.window
        && a.aggregation == b.aggregation
        && a.unit == b.unit
        && a.missing == b.missing
}

/// Indices of the (at most [`REASONS`]) largest positive values, largest first as ranked by
/// [`reason_rank`]; ties to the lower index.
fn top_positive(values: &[f64]) -> [Option<usize>; REASONS] {
    let mut top: [Option<usize>; REASONS] = [None; REASONS];
    for (j, &v) in values.iter().enumerate() {
        let v = reason_rank(v);
        if v <= 0.0 {
            continue;
        }
        let mut k = REASONS;
        while k > 0 && top[k - 1].is_none_or(|t| reason_rank(values[t]) < v) {
            k -= 1;
        }
        if k < REASONS {
            top[k..].rotate_right(1);
            top[k] = Some(j);
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_positive_keeps_the_three_largest_positive_in_order() {
        assert_eq!(
            top_positive(&[0.1, -2.0, 0.5, 0.3, 0.5, 0.0]),
            [Some(2), Some(4), Some(3)]
        );
        assert_eq!(top_positive(&[-1.0, 0.2, 0.0]), [Some(1), None, None]);
        assert_eq!(top_positive(&[]), [None, None, None]);
        assert_eq!(top_positive(&[1.0, 2.0, 3.0, 4.0]), [Some(3), Some(2), Some(1)]);
        let tied = 0.1 + 0.2; // 0.30000000000000004: equal to 0.3 but for the last bits
        assert_eq!(
            top_positive(&[0.3, tied, 1e-12]),
            [Some(0), Some(1), None],
            "ties within 1e-9 go to the lower index; a contribution that rounds to 0 is no reason"
        );
        assert_eq!(top_positive(&[0.3, tied, 0.5]), [Some(2), Some(0), Some(1)]);
    }
}
