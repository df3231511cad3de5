//! The whole pipeline on one config, for a first look: features, training, scoring.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Weekday};
use pql_data::Config;
use pql_features::Snapshots;
use pql_score::TierPolicy;

use crate::features::{self, FeaturesWritten};
use crate::score::{score, FeatureInput, Scored};
use crate::train::{train, Trained, TrainingSource};
use crate::{PipelineError, Progress};

/// Snapshots backtested by the quickstart's model.
const BACKTEST: usize = 4;

/// Drivers listed in the summary.
const DRIVERS: usize = 5;

/// What [`run`] did.
#[derive(Debug)]
pub struct Quickstart {
    /// The snapshots' weekday.
    pub weekday: Weekday,
    /// The first snapshot (the first event's day).
    pub first: NaiveDate,
    /// The latest snapshot the data covers, the one scored.
    pub latest: NaiveDate,
    /// The feature table of every snapshot, `<out>/features.parquet`.
    pub features_path: PathBuf,
    /// What it holds.
    pub features: FeaturesWritten,
    /// The model, in `<out>/models/`.
    pub trained: Trained,
    /// The scores of the accounts eligible at `latest`, `<out>/scores.csv`.
    pub scores_path: PathBuf,
    /// What they hold.
    pub scored: Scored,
    /// The descriptions of the model's top features by permutation importance, most important first.
    pub drivers: Vec<String>,
    /// How long it all took.
    pub elapsed: Duration,
}

/// Computes the features of every weekly snapshot of the config's data, trains a model on them (with
/// four backtests) and scores the accounts eligible at the latest snapshot, writing everything to `out`.
pub fn run(progress: &dyn Progress, config_path: &Path, out: &Path) -> Result<Quickstart, PipelineError> {
    let started = Instant::now();
    if !config_path.exists() {
        return Err(PipelineError::NoConfig(config_path.to_path_buf()));
    }
    let config = Config::load(config_path)?;
    std::fs::create_dir_all(out).map_err(|source| PipelineError::Create {
        path: out.to_path_buf(),
        source,
    })?;
    let (first, last) = features::event_days(&config)?;
    // The latest snapshot the data covers: its configured weekday, at or before the day after the last event.
    let weekday = config.snapshots.weekday.to_chrono();
    let latest = (last + chrono::Days::new(1))
        .iter_days()
        .rev()
        .find(|d| d.weekday() == weekday)
        .ok_or(PipelineError::NoSnapshotDay)?;
    let features_path = out.join("features.parquet");
    let snapshots = Snapshots::Range {
        from: first,
        to: latest,
    };
    let features = features::write(progress, &config, &snapshots, None, &features_path)?;
    let params = pql_train::TrainParams {
        backtest: BACKTEST,
        ..Default::default()
    };
    let source = TrainingSource::Table(features_path.clone());
    let trained = train(progress, config_path, &source, params, &out.join("models"))?;
    let scores_path = out.join("scores.csv");
    let input = FeatureInput::Table {
        path: features_path.clone(),
        as_of: Some(latest),
    };
    let scored = score(
        progress,
        &trained.artifact,
        input,
        &TierPolicy::Model,
        None,
        &scores_path,
    )?;
    let artifact = &trained.artifact;
    let mut top: Vec<_> = artifact.importances.iter().zip(&artifact.features).collect();
    top.sort_by(|a, b| b.0.permutation.total_cmp(&a.0.permutation));
    let drivers = top
        .iter()
        .take(DRIVERS)
        .map(|(_, def)| def.description.clone())
        .collect();
    Ok(Quickstart {
        weekday,
        first,
        latest,
        features_path,
        features,
        trained,
        scores_path,
        scored,
        drivers,
        elapsed: started.elapsed(),
    })
}
