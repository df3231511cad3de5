//! SQL scripts of pql's features, scores and input report for an engine.

use std::fmt;

use pql_data::Config;
use pql_features::{Snapshots, Vocabulary};
use pql_sql::{Dialect, Relation, Tables};
use pql_train::Artifact;

use crate::PipelineError;

/// What a script computes.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    /// The features of a config's inputs at the snapshots, with a model's scores when given.
    Features {
        /// The config whose definitions and column names are used.
        config: &'a Config,
        /// The snapshot dates.
        snapshots: &'a Snapshots,
        /// The model to score with (its columns are used).
        model: Option<&'a Artifact>,
        /// The engine's names of the input tables.
        tables: &'a Tables,
    },
    /// A model's scores of a feature table the engine holds.
    Scores {
        /// The model.
        model: &'a Artifact,
        /// The feature table.
        features: &'a Relation,
    },
    /// One row counting the input rows the feature script reads and leaves out.
    InputReport {
        /// The config.
        config: &'a Config,
        /// The engine's names of the input tables.
        tables: &'a Tables,
    },
}

/// A script and what it computes.
#[derive(Debug, Clone)]
pub struct Script {
    /// The SQL.
    pub sql: String,
    /// What it computes.
    pub kind: ScriptKind,
}

/// What a [`Script`] computes, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptKind {
    /// Features, this many per row.
    Features(usize),
    /// Features and the scores of this model.
    FeaturesAndScores(String),
    /// The scores of this model.
    Scores(String),
    /// The input report.
    InputReport,
}

impl fmt::Display for ScriptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptKind::Features(n) => write!(f, "features SQL ({n} features)"),
            ScriptKind::FeaturesAndScores(model) => write!(f, "features and scores SQL of model {model}"),
            ScriptKind::Scores(model) => write!(f, "scoring SQL of model {model}"),
            ScriptKind::InputReport => f.write_str("input report SQL"),
        }
    }
}

/// The script of `request` in `dialect`.
pub fn script(request: Request, dialect: Dialect) -> Result<Script, PipelineError> {
    Ok(match request {
        Request::InputReport { config, tables } => Script {
            sql: pql_sql::input_report_script(config, tables, dialect),
            kind: ScriptKind::InputReport,
        },
        Request::Scores { model, features } => Script {
            sql: pql_sql::scoring_query(model, dialect, features),
            kind: ScriptKind::Scores(model.model_id.clone()),
        },
        Request::Features {
            config,
            snapshots,
            model,
            tables,
        } => {
            let dates = snapshots.dates(config)?;
            let defs = match model {
                Some(model) => {
                    pql_score::Scorer::for_config(model, config)?;
                    pql_features::catalog::catalog(config, &Vocabulary::of_defs(&model.features))
                }
                None => pql_features::describe_for(config, &dates).map_err(PipelineError::SqlDictionary)?,
            };
            let kind = match model {
                Some(model) => ScriptKind::FeaturesAndScores(model.model_id.clone()),
                None => ScriptKind::Features(defs.len()),
            };
            let script = pql_sql::Script {
                config,
                defs: &defs,
                dates: &dates,
                tables,
                model,
            };
            Script {
                sql: script.render(dialect),
                kind,
            }
        }
    })
}
