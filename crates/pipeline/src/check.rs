//! A config and its inputs validated and summarised.

use pql_data::{Config, InputSummary};
use pql_features::{InputReport, InputWarning};

use crate::train::parse_rules;
use crate::PipelineError;

/// What [`check`] found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The input tables' sizes, spans and event names.
    pub summary: InputSummary,
    /// What the feature computation would read, use and leave out.
    pub report: InputReport,
    /// Suspicious inputs.
    pub warnings: Vec<InputWarning>,
}

/// Reads the config's inputs, checks its `[[rules]]` against its dictionary, and reports what the
/// feature computation would use of the inputs.
pub fn check(config: &Config) -> Result<Checked, PipelineError> {
    let summary = InputSummary::read(config)?;
    let names: Vec<String> = pql_features::describe(config)?.into_iter().map(|d| d.name).collect();
    parse_rules(config, &names)?;
    let (report, warnings) = pql_features::inspect(config)?;
    Ok(Checked {
        summary,
        report,
        warnings,
    })
}
