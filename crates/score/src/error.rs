//! Why scoring fails.

use std::path::PathBuf;

/// A scoring error, naming the model, feature, file or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The model needs features the input cannot provide.
    #[error("{}", mismatch_message(.missing, .changed, .model_id))]
    FeatureMismatch {
        /// Features absent from the input.
        missing: Vec<String>,
        /// Features present under the same name but defined differently.
        changed: Vec<String>,
        /// The model.
        model_id: String,
    },
    /// A feature column cannot be read.
    #[error(transparent)]
    Matrix(#[from] pql_train::matrix::MatrixError),
    /// A tier policy value is out of range.
    #[error("{0}")]
    Policy(String),
    /// A scores file (e.g. `--previous`) cannot be read or used.
    #[error("{}: {message}", .path.display())]
    ScoresFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The feature table lacks `account_id` or `as_of`, or a table operation failed.
    #[error("{0}")]
    Table(String),
}

fn mismatch_message(missing: &[String], changed: &[String], model_id: &str) -> String {
    let quoted = |names: &[String]| names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing {}", quoted(missing)));
    }
    if !changed.is_empty() {
        parts.push(format!("defined differently {}", quoted(changed)));
    }
    format!(
        "model {model_id} needs features this input does not provide: {} (was the model trained with another \
         pql.toml?)",
        parts.join("; ")
    )
}

impl From<polars::prelude::PolarsError> for ScoreError {
    fn from(err: polars::prelude::PolarsError) -> Self {
        ScoreError::Table(err.to_string().lines().next().unwrap_or_default().to_string())
    }
}
