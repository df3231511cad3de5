//! Synthetic freemium/trial SaaS histories with a known truth, written in the pql data contract.
//!
//! [`generate`] writes `events`, `accounts` and `conversions` tables (Parquet or CSV), `truth.parquet` with
//! the generator's own probability that each eligible account converts within the horizon of each weekly
//! snapshot, and a `pql.toml` that describes the product. Accounts are simulated independently from
//! `(seed, account index)` (see [`simulate`]), in parallel chunks written in order, so output is
//! byte-identical for the same parameters and memory stays flat however many accounts are asked for.
//!
//! ```no_run
//! let params = pql_generate::GeneratorParams::new(5_000).seed(7).check()?;
//! let summary = pql_generate::generate(&params, std::path::Path::new("out"))?;
//! println!("{} events", summary.events);
//! # Ok::<(), pql_generate::GenerateError>(())
//! ```

pub mod product;
pub mod simulate;
mod write;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rayon::prelude::*;
use thiserror::Error;

use crate::simulate::{simulate, Calendar};
use crate::write::Writers;

/// Output format of the events, accounts and conversions tables (`truth.parquet` is always Parquet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Parquet with zstd compression and UTC timestamps.
    #[default]
    Parquet,
    /// CSV with RFC 3339 timestamps.
    Csv,
}

impl OutputFormat {
    /// File extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Csv => "csv",
        }
    }
}

/// Generator settings, with documented defaults; [`GeneratorParams::check`] validates them.
#[derive(Debug, Clone)]
pub struct GeneratorParams {
    accounts: u64,
    seed: u64,
    start: NaiveDate,
    weeks: u32,
    horizon_days: u32,
    format: OutputFormat,
    chunk_accounts: u64,
    shift_on: Option<NaiveDate>,
}

/// Settings that passed [`GeneratorParams::check`].
#[derive(Debug, Clone)]
pub struct ValidGeneratorParams(GeneratorParams);

impl GeneratorParams {
    /// Settings for `accounts` accounts; defaults: seed 42, history from Monday 2025-01-06 over 26 weeks,
    /// 30-day horizon, Parquet, chunks of 20,000 accounts.
    pub fn new(accounts: u64) -> Self {
        GeneratorParams {
            accounts,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2025, 1, 6).expect("valid date"),
            weeks: 26,
            horizon_days: 30,
            format: OutputFormat::Parquet,
            chunk_accounts: 20_000,
            shift_on: None,
        }
    }

    /// Random seed; the same seed and settings give byte-identical files.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// First day of the history (00:00 UTC); weekly snapshots fall on its weekday.
    pub fn start(mut self, start: NaiveDate) -> Self {
        self.start = start;
        self
    }

    /// Length of the history in weeks.
    pub fn weeks(mut self, weeks: u32) -> Self {
        self.weeks = weeks;
        self
    }

    /// Label horizon of the truth, in days.
    pub fn horizon_days(mut self, days: u32) -> Self {
        self.horizon_days = days;
        self
    }

    /// Format of the three contract tables.
    pub fn format(mut self, format: OutputFormat) -> Self {
        self.format = format;
        self
    }

    /// Accounts simulated and written per chunk (bounds memory; does not change the data, only the
    /// Parquet row groups).
    pub fn chunk_accounts(mut self, accounts: u64) -> Self {
        self.chunk_accounts = accounts;
        self
    }

    /// The product changes on this date (see [`Calendar::with_shift`](simulate::Calendar::with_shift)): a week-by-week simulation of a
    /// pricing and packaging change, for drift and retraining tests. Default: no change.
    pub fn shift_on(mut self, date: NaiveDate) -> Self {
        self.shift_on = Some(date);
        self
    }

    /// Validates the settings.
    pub fn check(self) -> Result<ValidGeneratorParams, GenerateError> {
        let invalid = |message: String| Err(GenerateError::InvalidParams(message));
        if self.accounts == 0 || self.accounts > 10_000_000 {
            return invalid(format!(
                "accounts must be between 1 and 10,000,000, got {}",
                self.accounts
            ));
        }
        if !(2..=520).contains(&self.weeks) {
            return invalid(format!("weeks must be between 2 and 520, got {}", self.weeks));
        }
        if self.horizon_days == 0 || self.horizon_days >= self.weeks * 7 {
            return invalid(format!(
                "horizon must be between 1 day and the history's length ({} days), got {}",
                self.weeks * 7,
                self.horizon_days
            ));
        }
        if let Some(date) = self.shift_on {
            let end = self.start + chrono::Days::new(u64::from(self.weeks) * 7);
            if date <= self.start || date >= end {
                return invalid(format!(
                    "the product change date must fall inside the history ({} to {end}), got {date}",
                    self.start
                ));
            }
        }
        if self.chunk_accounts == 0 {
            return invalid("chunk size must be at least 1 account".into());
        }
        Ok(ValidGeneratorParams(self))
    }
}

/// A failure to generate.
#[derive(Debug, Error)]
pub enum GenerateError {
    /// The settings are out of range.
    #[error("invalid generator settings: {0}")]
    InvalidParams(String),
    /// The output could not be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An output file could not be written.
    #[error(transparent)]
    Output(#[from] pql_data::OutputError),
}

/// What was generated, and how fast.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Accounts written.
    pub accounts: u64,
    /// Users who ever acted.
    pub users: u64,
    /// Event rows written.
    pub events: u64,
    /// Accounts that converted inside the history.
    pub conversions: u64,
    /// Eligible `(account, as_of)` rows in `truth.parquet`.
    pub truth_rows: u64,
    /// Share of truth rows that did convert within the horizon.
    pub label_rate: f64,
    /// Mean of the truth probabilities (should match `label_rate` up to noise).
    pub mean_probability: f64,
    /// Each written file and its size in bytes.
    pub files: Vec<(PathBuf, u64)>,
    /// Wall time.
    pub elapsed: Duration,
}

/// Generates the history described by `params` into `out` (created if needed). Each file appears only
/// when complete (written beside its destination, then renamed).
pub fn generate(params: &ValidGeneratorParams, out: &Path) -> Result<Summary, GenerateError> {
    let started = Instant::now();
    let p = &params.0;
    let mut calendar = Calendar::new(p.start, p.weeks * 7);
    if let Some(date) = p.shift_on {
        calendar = calendar.with_shift((date - p.start).num_days() as u32);
    }
    let mut writers = Writers::create(out, p.format)?;

    let snapshot_days: Vec<u32> = (1..)
        .map(|week| week * 7)
        .take_while(|&day| day + p.horizon_days <= calendar.days)
        .collect();
    let mut totals = Totals::default();
    let mut first = 0;
    while first < p.accounts {
        let last = (first + p.chunk_accounts).min(p.accounts);
        let histories: Vec<_> = (first..last)
            .into_par_iter()
            .map(|i| simulate(p.seed, i, p.accounts, &calendar))
            .collect();
        let chunk = write::Chunk {
            first_index: first,
            histories: &histories,
            calendar: &calendar,
            snapshot_days: &snapshot_days,
            horizon_days: p.horizon_days,
        };
        totals.add(&writers.write(&chunk)?);
        first = last;
    }
    writers.finish()?;

    let names = write::table_names(p.format);
    let config = product::config_toml(&names[0], &names[1], &names[2], p.horizon_days);
    pql_data::write_atomically(&out.join("pql.toml"), |file| file.write_all(config.as_bytes()))?;
    let files = names
        .iter()
        .map(String::as_str)
        .chain(["truth.parquet", "pql.toml"])
        .map(|name| {
            let path = out.join(name);
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            (path, size)
        })
        .collect();

    Ok(Summary {
        accounts: p.accounts,
        users: totals.users,
        events: totals.events,
        conversions: totals.conversions,
        truth_rows: totals.truth_rows,
        label_rate: totals.positives / totals.truth_rows.max(1) as f64,
        mean_probability: totals.probability_sum / totals.truth_rows.max(1) as f64,
        files,
        elapsed: started.elapsed(),
    })
}

/// Running totals over chunks.
#[derive(Debug, Default)]
struct Totals {
    users: u64,
    events: u64,
    conversions: u64,
    truth_rows: u64,
    positives: f64,
    probability_sum: f64,
}

impl Totals {
    fn add(&mut self, chunk: &Totals) {
        self.users += chunk.users;
        self.events += chunk.events;
        self.conversions += chunk.conversions;
        self.truth_rows += chunk.truth_rows;
        self.positives += chunk.positives;
        self.probability_sum += chunk.probability_sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked() {
        assert!(GeneratorParams::new(0).check().is_err());
        assert!(GeneratorParams::new(10).weeks(1).check().is_err());
        assert!(GeneratorParams::new(10).weeks(4).horizon_days(28).check().is_err());
        assert!(GeneratorParams::new(10).chunk_accounts(0).check().is_err());
        let start = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
        assert!(GeneratorParams::new(10).weeks(4).shift_on(start).check().is_err());
        assert!(GeneratorParams::new(10)
            .weeks(4)
            .shift_on(start + chrono::Days::new(28))
            .check()
            .is_err());
        assert!(GeneratorParams::new(10)
            .weeks(4)
            .horizon_days(7)
            .shift_on(start + chrono::Days::new(27))
            .check()
            .is_ok());
        assert!(GeneratorParams::new(10).check().is_ok());
    }

    #[test]
    fn truth_is_calibrated_and_base_rate_realistic() {
        let dir = tempfile::tempdir().unwrap();
        let params = GeneratorParams::new(4_000).seed(11).check().unwrap();
        let summary = generate(&params, dir.path()).unwrap();
        // The truth's mean must match the realised rate within sampling noise (rows of one account are
        // correlated, so allow a generous four standard errors of the account count).
        let se = (summary.label_rate * (1.0 - summary.label_rate) / summary.accounts as f64).sqrt();
        assert!(
            (summary.mean_probability - summary.label_rate).abs() < 4.0 * se,
            "truth mean {} vs realised {}",
            summary.mean_probability,
            summary.label_rate
        );
        assert!(
            (0.02..=0.08).contains(&summary.label_rate),
            "base rate {}",
            summary.label_rate
        );
        assert!(summary.events > 50 * summary.accounts, "{} events", summary.events);
    }
}
