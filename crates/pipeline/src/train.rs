//! Training: labelled rows from events or a feature table, a model fitted, saved and registered.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use polars::prelude::{BooleanChunked, NewChunkedArray};
use pql_data::Config;
use pql_features::{FeatureDef, Snapshots};
use pql_train::matrix::{LabelledMatrix, MatrixBuilder};
use pql_train::registry::{LockedRegistry, Registry};
use pql_train::rules::Rule;
use pql_train::{Artifact, TrainParams, ValidTrainParams};

use crate::{features, PipelineError, Progress};

/// Where training gets its rows.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingSource {
    /// Every weekly snapshot of the events in `[from, to]` (default: the whole event span), labelled with
    /// what was known at `known_at` (default: the data's end).
    Events {
        /// First snapshot date considered.
        from: Option<NaiveDate>,
        /// Last snapshot date considered.
        to: Option<NaiveDate>,
        /// The day whose knowledge labels the rows.
        known_at: Option<NaiveDate>,
    },
    /// A table from `pql features`.
    Table(PathBuf),
}

/// A model trained, saved and registered by [`train`].
#[derive(Debug)]
pub struct Trained {
    /// The model.
    pub artifact: Artifact,
    /// Its directory, `<models>/<model_id>`.
    pub dir: PathBuf,
    /// The registry it was added to, as committed.
    pub registry: Registry,
    /// How long it took.
    pub elapsed: Duration,
}

impl Trained {
    /// Whether the model is its folder's champion.
    pub fn is_champion(&self) -> bool {
        self.registry.champion.as_deref() == Some(self.artifact.model_id.as_str())
    }
}

/// Cells of a feature table read into memory at a time as `f64` while the training matrix is filled.
const READ_CELLS: usize = 1 << 23;

/// Trains a model on the rows of `source` with the config at `config_path` (its label horizon and
/// `[[rules]]`), saves it to `<models>/<model_id>/` and registers it in the folder's registry.
pub fn train(
    progress: &dyn Progress,
    config_path: &Path,
    source: &TrainingSource,
    params: TrainParams,
    models: &Path,
) -> Result<Trained, PipelineError> {
    let started = Instant::now();
    let config_text = std::fs::read_to_string(config_path).map_err(|source| PipelineError::Read {
        path: config_path.to_path_buf(),
        source,
    })?;
    let config = Config::load(config_path)?;
    let params = params.check(config.label.horizon_days)?;
    let (rows, defs, unlabelled) = match source {
        TrainingSource::Table(path) => read_labelled(path, &params)?,
        TrainingSource::Events { from, to, known_at } => {
            // Rules are checked against the dictionary before the (long) feature computation.
            let names: Vec<String> = pql_features::describe(&config)?.into_iter().map(|d| d.name).collect();
            parse_rules(&config, &names)?;
            let (first, last) = features::event_days(&config)?;
            let snapshots = Snapshots::Range {
                from: from.unwrap_or(first),
                to: to.unwrap_or(last),
            };
            let mut builder = features::prepare(progress, &config, &snapshots, None)?;
            if let Some(date) = known_at {
                builder = builder.known_at(*date);
            }
            let table = builder.collect()?;
            let names: Vec<String> = table.defs.iter().map(|d| d.name.clone()).collect();
            let rows = LabelledMatrix::from_table(&table.frame, &names)?;
            let unlabelled = table.frame.height() - rows.labels.len();
            (rows, table.defs, unlabelled)
        }
    };
    let names: Vec<String> = defs.iter().map(|d| d.name.clone()).collect();
    let rules = parse_rules(&config, &names)?;
    let ruled: Vec<&str> = rules
        .iter()
        .flat_map(Rule::columns)
        .map(|j| names[j].as_str())
        .collect();
    let (rows, constant) = rows.without_constant_columns(&ruled);
    if !constant.is_empty() {
        progress.note(&format!(
            "left out {} features with one value on every labelled row: {}",
            constant.len(),
            constant.join(", ")
        ));
    }
    progress.note(&format!(
        "training on {} labelled rows x {} features ({} rows without a label yet left out)",
        rows.labels.len(),
        rows.names.len(),
        unlabelled
    ));
    if params.negative_rate < 1.0 {
        progress.note(&format!(
            "each fit keeps every converted row and {:.0}% of the others (--negative-rate {}; a feature table \
             is read for those rows only); validation, calibration and backtests read every row",
            100.0 * params.negative_rate,
            params.negative_rate
        ));
    }
    let rules: Vec<(String, String)> = config.rules.iter().map(|r| (r.name.clone(), r.when.clone())).collect();
    let fitting = progress.step("fitting, calibrating and backtesting models", None);
    let trained = pql_train::train(&rows, &rules, &params)?;
    drop(fitting);
    let artifact = Artifact::new(
        trained,
        defs,
        &rows,
        &config_text,
        pql_features::Roles::of(&config),
        params.seed,
        config.label.horizon_days,
    );
    let dir = artifact.save(models)?;
    let mut registry = lock_registry(progress, models)?;
    registry.register(&artifact);
    let registry = registry.commit()?;
    Ok(Trained {
        artifact,
        dir,
        registry,
        elapsed: started.elapsed(),
    })
}

/// The config's `[[rules]]`, parsed against the feature `names`.
pub fn parse_rules(config: &Config, names: &[String]) -> Result<Vec<Rule>, PipelineError> {
    config
        .rules
        .iter()
        .map(|rule| {
            Rule::parse(&rule.name, &rule.when, names).map_err(|source| PipelineError::Rule {
                config: config.source.clone(),
                source,
            })
        })
        .collect()
}

/// The labelled rows of a feature table as a training matrix, its dictionary and how many rows have no
/// label yet. The key columns are read first; at a negative rate below 1 only the rows some fit or
/// evaluation needs are kept ([`pql_train::training::rows_to_read`]); then a few feature columns at a time
/// fill the `f32` matrix, so the table is never held whole as `f64`.
fn read_labelled(
    path: &Path,
    params: &ValidTrainParams,
) -> Result<(LabelledMatrix, Vec<FeatureDef>, usize), PipelineError> {
    let table = pql_features::StoredTable::open(path)?;
    let keys = table.keys()?;
    let unlabelled = keys.column("label").map(|label| label.null_count()).unwrap_or(0);
    // Each batch is read for every row of the table, then filtered.
    let batch = (READ_CELLS / keys.height().max(1)).max(1);
    let kept = (params.negative_rate < 1.0)
        .then(|| BooleanChunked::from_slice("kept".into(), &pql_train::training::rows_to_read(&keys, params)));
    let keys = match &kept {
        Some(kept) => keys.filter(kept)?,
        None => keys,
    };
    let names: Vec<String> = table.defs.iter().map(|d| d.name.clone()).collect();
    let mut matrix = MatrixBuilder::new(&keys, &names)?;
    for batch in names.chunks(batch) {
        matrix.fill(&table.columns(batch, kept.as_ref())?)?;
    }
    Ok((matrix.finish()?, table.defs, unlabelled))
}

/// Locks the registry of `models` to change it, noting when another run holds the lock.
pub fn lock_registry(progress: &dyn Progress, models: &Path) -> Result<LockedRegistry, PipelineError> {
    let waiting = |lock: &Path| {
        progress.note(&format!(
            "waiting for {}: another pql run is changing the registry of {}",
            lock.display(),
            models.display()
        ));
    };
    Ok(Registry::lock(models, waiting)?)
}

/// Makes the registered model `model_id` the champion of `models` by hand (retiring the current one).
pub fn promote(progress: &dyn Progress, models: &Path, model_id: &str) -> Result<Registry, PipelineError> {
    let mut registry = lock_registry(progress, models)?;
    registry.promote(model_id, "promoted by hand")?;
    Artifact::load(&models.join(model_id))?;
    Ok(registry.commit()?)
}
