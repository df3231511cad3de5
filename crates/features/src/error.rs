//! Errors of the feature stage.

use thiserror::Error;

/// A failure to build features.
#[derive(Debug, Error)]
pub enum FeatureError {
    /// An input could not be read into the data contract.
    #[error(transparent)]
    Input(#[from] pql_data::InputError),
    /// The output could not be written.
    #[error(transparent)]
    Output(#[from] pql_data::OutputError),
    /// A feature table written by `pql features` cannot be read back.
    #[error("{}: {message}", .path.display())]
    Table {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The input rules dropped most event rows, or every one: the features would describe what is left.
    #[error("{}: {message}", .path.display())]
    MostEventsDropped {
        /// The events table.
        path: std::path::PathBuf,
        /// How many were dropped, by which rule, and what to do.
        message: String,
    },
    /// The `[plan]` column cannot give plan features.
    #[error("{}: column `{column}` {message}", .path.display())]
    Plan {
        /// The accounts table.
        path: std::path::PathBuf,
        /// The plan column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// A declared feature (`[[features]]`) has the name of a built-in one.
    #[error("{}: `features[{index}].name` `{name}` is the name of a built-in feature; choose another", .path.display())]
    DeclaredName {
        /// The config file.
        path: std::path::PathBuf,
        /// The index in `[[features]]`.
        index: usize,
        /// The name.
        name: String,
    },
    /// The snapshot request is empty or inverted.
    #[error("{0}")]
    Snapshots(String),
    /// Events out of per-account time order could not be spilled to or read back from the temporary
    /// directory.
    #[error("events are not in per-account time order and sorting them on disk failed (set TMPDIR to a directory with space): {source}")]
    Spill {
        /// The I/O error.
        source: std::io::Error,
    },
    /// The computation failed.
    #[error("feature computation failed: {}", first_line(.0))]
    Compute(#[from] polars::prelude::PolarsError),
}

/// Polars errors carry the whole query plan after the first line; users need the first line.
fn first_line(err: &polars::prelude::PolarsError) -> String {
    err.to_string().lines().next().unwrap_or_default().to_string()
}
