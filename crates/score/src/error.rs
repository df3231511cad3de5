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
    /// The config gives events other roles than the model was trained with.
    #[error("{}", roles_message(.changes, .model_id))]
    EventRoles {
        /// Each role whose events differ, training to now.
        changes: Vec<pql_features::catalog::RoleChange>,
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

fn roles_message(changes: &[pql_features::catalog::RoleChange], model_id: &str) -> String {
    let changes: Vec<String> = changes.iter().map(ToString::to_string).collect();
    format!(
        "model {model_id} was trained with a different event configuration: {}; retrain, or restore these \
         roles in pql.toml",
        changes.join("; ")
    )
}

impl From<polars::prelude::PolarsError> for ScoreError {
    fn from(err: polars::prelude::PolarsError) -> Self {
        ScoreError::Table(err.to_string().lines().next().unwrap_or_default().to_string())
    }
}
