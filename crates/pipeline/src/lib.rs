//! pql's workflows as library calls, each returning what it did as typed values: [`features::write`]
//! (a feature table), [`train::train`] (a registered model), [`retrain::retrain`] (a challenger compared
//! with the champion), [`score::score`] (a scores file), [`score::explain`], [`score::drift`],
//! [`report::write`], [`sql::script`], [`check::check`] and [`quickstart::run`] (all of it on one config).
//!
//! A workflow says how it goes through a [`Progress`]: the `pql` command draws bars and prints notes, a
//! notebook or a scheduler may pass [`Quiet`]. Nothing here prints.

pub mod check;
pub mod error;
pub mod features;
pub mod quickstart;
pub mod report;
pub mod retrain;
pub mod score;
pub mod sql;
pub mod train;

pub use error::{PipelineError, Scope};

/// What a running workflow reports besides its result.
pub trait Progress: Sync {
    /// What the inputs held and what of them was used (shown once per feature computation).
    fn inputs(&self, report: &pql_features::InputReport);
    /// A line about how the work goes: rows used, features left out, memory bounds.
    fn note(&self, text: &str);
    /// A problem the run goes on despite: drift, stale data, suspicious inputs.
    fn warn(&self, text: &str);
    /// A long step begins: `what` it does, over `steps` counted steps or of unknown length (`None`). It
    /// ends when the returned [`Step`] is dropped.
    fn step(&self, what: &'static str, steps: Option<usize>) -> Box<dyn Step>;
}

/// A long step under way (see [`Progress::step`]).
pub trait Step: Send + Sync {
    /// One of its counted steps is done.
    fn advance(&self);
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn inputs(&self, _: &pql_features::InputReport) {}
    fn note(&self, _: &str) {}
    fn warn(&self, _: &str) {}
    fn step(&self, _: &'static str, _: Option<usize>) -> Box<dyn Step> {
        Box::new(Quiet)
    }
}

impl Step for Quiet {
    fn advance(&self) {}
}
