//! Feature tables: the inputs read and prepared with progress, and a table written to a file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use pql_data::Config;
use pql_features::{FeatureBuilder, Snapshots, Vocabulary};

use crate::{PipelineError, Progress};

/// A feature table written by [`write`].
#[derive(Debug, Clone, PartialEq)]
pub struct FeaturesWritten {
    /// Rows, labelled rows and converted rows written.
    pub written: pql_features::Written,
    /// Features per row.
    pub features: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// Reads and prepares the inputs of `snapshots` (reporting the inputs, their warnings and the account
/// ranges), with a step over the snapshots that ends when the builder is dropped.
pub fn prepare(
    progress: &dyn Progress,
    config: &Config,
    snapshots: &Snapshots,
    vocabulary: Option<&Vocabulary>,
) -> Result<FeatureBuilder, PipelineError> {
    let reading = progress.step("reading and preparing the inputs", None);
    let builder = FeatureBuilder::new(config, snapshots, vocabulary)?;
    drop(reading);
    progress.inputs(builder.report());
    for warning in builder.warnings() {
        progress.warn(&warning.to_string());
    }
    if builder.range_count() > 1 {
        progress.note(&format!(
            "prepared in {} account ranges ([inputs] events_per_range = {}), to bound memory",
            builder.range_count(),
            config.inputs.events_per_range
        ));
    }
    let computing = progress.step("computing snapshots", Some(builder.snapshot_count()));
    Ok(builder.on_snapshot(move || computing.advance()))
}

/// Computes the features of `snapshots` (with a model's `vocabulary`, or the inputs') and writes them to
/// `out` (Parquet or CSV by extension, with the dictionary `read_table` reads back).
pub fn write(
    progress: &dyn Progress,
    config: &Config,
    snapshots: &Snapshots,
    vocabulary: Option<&Vocabulary>,
    out: &Path,
) -> Result<FeaturesWritten, PipelineError> {
    let started = Instant::now();
    refuse_overwriting(out, Some(config), &[])?;
    let builder = prepare(progress, config, snapshots, vocabulary)?;
    let written = builder.write(out)?;
    Ok(FeaturesWritten {
        written,
        features: builder.defs().len(),
        elapsed: started.elapsed(),
    })
}

/// Refuses an output path that names one of the config's inputs, the config itself, or another input of
/// the workflow (`others`): writing it would destroy the data it is computed from.
pub fn refuse_overwriting(out: &Path, config: Option<&Config>, others: &[&Path]) -> Result<(), PipelineError> {
    let Ok(out_file) = out.canonicalize() else {
        return Ok(()); // a path that does not exist yet is no input
    };
    let mut inputs: Vec<PathBuf> = others.iter().map(|p| p.to_path_buf()).collect();
    if let Some(config) = config {
        inputs.push(config.source.clone());
        for table in [
            &config.inputs.events,
            &config.inputs.accounts,
            &config.inputs.conversions,
        ] {
            inputs.extend(pql_data::input::data_files(table).unwrap_or_default());
        }
    }
    match inputs
        .into_iter()
        .find(|p| p.canonicalize().is_ok_and(|p| p == out_file))
    {
        Some(input) => Err(PipelineError::OutputIsInput {
            out: out.to_path_buf(),
            input,
        }),
        None => Ok(()),
    }
}

/// The first and last day with events.
pub fn event_days(config: &Config) -> Result<(NaiveDate, NaiveDate), PipelineError> {
    let (first, last) = pql_data::InputSummary::read(config)?
        .event_span
        .ok_or(PipelineError::NoEvents)?;
    let day = |t: i64| {
        chrono::DateTime::from_timestamp_micros(t)
            .map(|t| t.date_naive())
            .ok_or(PipelineError::EventTimeOutOfRange(t))
    };
    Ok((day(first)?, day(last)?))
}
