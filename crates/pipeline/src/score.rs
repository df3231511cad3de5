//! Scoring: the champion or a model directory loaded, feature rows computed or read, scores written;
//! one account explained; the drift of a population measured.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use polars::prelude::{col, lit, DataFrame, DataType, IntoLazy};
use pql_data::config::Drift as DriftThresholds;
use pql_data::Config;
use pql_features::{Snapshots, Vocabulary};
use pql_score::drift::Drift;
use pql_score::{Explanation, Scorer, Summary, TierPolicy};
use pql_train::registry::Registry;
use pql_train::Artifact;

use crate::features::{prepare, refuse_overwriting};
use crate::{PipelineError, Progress, Scope};

/// Loads a model directory (or its `model.json`), or with `champion` (or `<folder>/champion`, when no
/// such directory exists) the champion of the folder's registry (`models` by default).
pub fn load_model(path: &Path) -> Result<Artifact, PipelineError> {
    if path.file_name() == Some("champion".as_ref()) && !path.exists() {
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("models"),
        };
        let dir = Registry::load(&folder)?.champion_dir(&folder)?;
        return Ok(Artifact::load(&dir)?);
    }
    Ok(Artifact::load(path)?)
}

/// Where scoring gets its feature rows.
#[derive(Debug, Clone)]
pub enum FeatureInput {
    /// Computed from the config's inputs as of the date; `strict` fails on stale data instead of warning.
    Events {
        /// The config describing the data.
        config: Box<Config>,
        /// The snapshot date.
        as_of: NaiveDate,
        /// Whether stale data is an error.
        strict: bool,
    },
    /// Read from a feature table, optionally only one date's rows.
    Table {
        /// The table (from `pql features` or an engine).
        path: PathBuf,
        /// Only this date's rows.
        as_of: Option<NaiveDate>,
    },
}

impl FeatureInput {
    /// Which rows these are, for messages.
    fn scope(&self) -> Scope {
        match self {
            FeatureInput::Events { as_of, .. } | FeatureInput::Table { as_of: Some(as_of), .. } => Scope::AsOf(*as_of),
            FeatureInput::Table { path, as_of: None } => Scope::Table(path.clone()),
        }
    }
}

/// A scores file written by [`score`].
#[derive(Debug, Clone)]
pub struct Scored {
    /// Counts of rows and tiers.
    pub summary: Summary,
    /// The tier policy in words, as stored in the file.
    pub tiers: String,
    /// Which rows were scored.
    pub scope: Scope,
    /// How long it took.
    pub elapsed: Duration,
}

/// Days after the latest event beyond which a snapshot is stale.
pub const STALE_AFTER_DAYS: i64 = 7;

/// Scores the rows of `input` with `artifact` under `policy`, marks the PQLs not in the `previous` scores
/// file as newly qualified, and writes the scores to `out` atomically (Parquet or CSV by extension).
pub fn score(
    progress: &dyn Progress,
    artifact: &Artifact,
    input: FeatureInput,
    policy: &TierPolicy,
    previous: Option<&Path>,
    out: &Path,
) -> Result<Scored, PipelineError> {
    let started = Instant::now();
    let (config, mut inputs) = match &input {
        FeatureInput::Events { config, .. } => (Some(config.as_ref()), vec![]),
        FeatureInput::Table { path, .. } => (None, vec![path.as_path()]),
    };
    inputs.extend(previous);
    refuse_overwriting(out, config, &inputs)?;
    let thresholds = config.map(|c| c.drift.clone()).unwrap_or_default();
    let previous = previous.map(pql_score::read_previous_pqls).transpose()?;
    let scope = input.scope();
    let (frame, scorer) = scoring_rows(progress, artifact, input)?;
    if frame.height() == 0 {
        return Err(PipelineError::NoEligibleAccounts(scope));
    }
    let scoring = progress.step("scoring", None);
    let mut scores = scorer.score(&frame, policy)?;
    if let Some(previous) = &previous {
        scores.mark_newly_qualified(previous)?;
    }
    drop(scoring);
    let tiers = policy.describe(&artifact.thresholds);
    let metadata = vec![
        (
            pql_features::VERSION_KEY.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        ("pql.model_id".to_string(), artifact.model_id.clone()),
        ("pql.tiers".to_string(), tiers.clone()),
    ];
    pql_data::write_frame(&scores.frame, out, &metadata)?;
    warn_drift(progress, &scores.drift, &thresholds);
    Ok(Scored {
        summary: scores.summary,
        tiers,
        scope,
        elapsed: started.elapsed(),
    })
}

/// Every feature's contribution to `account`'s score in the rows of `input`.
pub fn explain(
    progress: &dyn Progress,
    artifact: &Artifact,
    input: FeatureInput,
    account: &str,
) -> Result<Explanation, PipelineError> {
    let scope = input.scope();
    let (frame, scorer) = scoring_rows(progress, artifact, input)?;
    scorer
        .explain(&frame, account)
        .map_err(|_| PipelineError::NoAccountRow {
            account: account.to_string(),
            scope,
        })
}

/// How far the accounts eligible at 00:00 UTC of `as_of` have moved from the model's training data.
pub fn drift(
    progress: &dyn Progress,
    artifact: &Artifact,
    config: &Config,
    as_of: NaiveDate,
) -> Result<Drift, PipelineError> {
    let input = FeatureInput::Events {
        config: Box::new(config.clone()),
        as_of,
        strict: false,
    };
    let (frame, scorer) = scoring_rows(progress, artifact, input)?;
    if frame.height() == 0 {
        return Err(PipelineError::NoEligibleAccounts(Scope::AsOf(as_of)));
    }
    Ok(scorer.drift(&frame)?)
}

/// Warns about every feature and the probability whose PSI is above the thresholds.
pub fn warn_drift(progress: &dyn Progress, drift: &Drift, thresholds: &DriftThresholds) {
    for (feature, psi) in drift.above(thresholds.feature_psi) {
        progress.warn(&format!(
            "drift: `{feature}` has moved from the training data (PSI {psi:.2} > {}); see pql drift",
            thresholds.feature_psi
        ));
    }
    if drift.probability > thresholds.score_psi {
        progress.warn(&format!(
            "drift: the probabilities have moved from the training data's (PSI {:.2} > {}); see pql drift",
            drift.probability, thresholds.score_psi
        ));
    }
}

/// The feature rows to score, checked against the model before any heavy work.
fn scoring_rows<'a>(
    progress: &dyn Progress,
    artifact: &'a Artifact,
    input: FeatureInput,
) -> Result<(DataFrame, Scorer<'a>), PipelineError> {
    match input {
        FeatureInput::Events { config, as_of, strict } => {
            let vocabulary = Vocabulary::of_defs(&artifact.features);
            let scorer = Scorer::for_config(artifact, &config)?;
            let builder = prepare(progress, &config, &Snapshots::One(as_of), Some(&vocabulary))?;
            check_fresh(progress, builder.latest_event(), as_of, strict)?;
            Ok((builder.collect()?.frame, scorer))
        }
        FeatureInput::Table { path, as_of } => {
            let (frame, defs) = pql_features::read_table(&path)?;
            let scorer = Scorer::new(artifact, &defs)?;
            let frame = match as_of {
                None => frame,
                Some(date) => {
                    let instant = date.and_time(NaiveTime::MIN).and_utc().timestamp_micros();
                    frame
                        .lazy()
                        .filter(col("as_of").cast(DataType::Int64).eq(lit(instant)))
                        .collect()?
                }
            };
            Ok((frame, scorer))
        }
    }
}

/// Warns (or with `strict`, fails) when `as_of` is more than [`STALE_AFTER_DAYS`] after the latest event:
/// every account would look as if it had gone quiet, because the data stops.
fn check_fresh(
    progress: &dyn Progress,
    latest: Option<DateTime<Utc>>,
    as_of: NaiveDate,
    strict: bool,
) -> Result<(), PipelineError> {
    let Some(latest) = latest else {
        return Ok(());
    };
    let days = (as_of.and_time(NaiveTime::MIN).and_utc() - latest).num_days();
    if days <= STALE_AFTER_DAYS {
        return Ok(());
    }
    let stale = PipelineError::Stale { as_of, days, latest };
    if strict {
        return Err(stale);
    }
    progress.warn(&format!("stale data: {stale} (--strict makes this an error)"));
    Ok(())
}
