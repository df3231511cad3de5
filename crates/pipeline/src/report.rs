//! The HTML report of a model, and of a scores file.

use std::io::Write;
use std::path::Path;

use pql_report::ScoresSummary;
use pql_train::Artifact;

use crate::PipelineError;

/// Writes the report of `artifact` (and of the `scores` file, when given) to `out` atomically; returns
/// its size in bytes.
pub fn write(artifact: &Artifact, scores: Option<&Path>, out: &Path) -> Result<usize, PipelineError> {
    let scores = match scores {
        Some(path) => Some(
            ScoresSummary::from_frame(&pql_score::read_scores(path)?).map_err(|source| PipelineError::Scores {
                path: path.to_path_buf(),
                source,
            })?,
        ),
        None => None,
    };
    let html = pql_report::render(artifact, scores.as_ref())?;
    pql_data::write_atomically(out, |file| file.write_all(html.as_bytes()))?;
    Ok(html.len())
}
