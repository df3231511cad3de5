//! A first look at the inputs: table sizes, time span, and how often each event occurs under its role, so
//! a new `pql.toml` can be checked against the data before any modelling.

use std::fmt;

use polars::prelude::*;

use crate::config::Config;
use crate::error::InputError;
use crate::input::{future_from, read_accounts, read_conversions, scan_events};

/// Counts that show whether the data and the config agree.
#[derive(Debug, Clone)]
pub struct InputSummary {
    /// Event rows.
    pub events: usize,
    /// Accounts table rows.
    pub accounts: usize,
    /// Conversion rows.
    pub conversions: usize,
    /// Distinct accounts that have events.
    pub active_accounts: usize,
    /// Earliest and latest event timestamp (μs since the epoch, UTC), leaving out events dated after the
    /// clock of the run (see [`crate::input::future_from`]).
    pub event_span: Option<(i64, i64)>,
    /// Each event name with its row count and role, most frequent first.
    pub event_counts: Vec<(String, usize, &'static str)>,
}

impl InputSummary {
    /// Reads the config's inputs and summarises them. Events are streamed (never loaded whole), so this
    /// works on histories larger than memory; the accounts and conversions tables are read and checked
    /// in full.
    pub fn read(config: &Config) -> Result<InputSummary, InputError> {
        let accounts = read_accounts(config)?;
        let conversions = read_conversions(config)?;
        let events = scan_events(config)?;
        let ts = col("timestamp").to_physical();
        let past = ts.clone().filter(ts.lt_eq(lit(future_from())));
        let summarise = || -> PolarsResult<InputSummary> {
            let streaming = |frame: LazyFrame| frame.collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single());
            let counts = streaming(events.clone().group_by([col("event")]).agg([len().alias("rows")]).sort(
                ["rows", "event"],
                SortMultipleOptions::default().with_order_descending_multi([true, false]),
            ))?;
            let totals = streaming(events.clone().select([
                len().alias("rows"),
                col("account_id").n_unique().alias("accounts"),
                past.clone().min().alias("first"),
                past.max().alias("last"),
            ]))?;
            let get = |frame: &DataFrame, name: &str| -> PolarsResult<Option<i64>> {
                Ok(frame.column(name)?.cast(&DataType::Int64)?.i64()?.get(0))
            };

            let names = counts.column("event")?.str()?;
            let rows = counts.column("rows")?.cast(&DataType::UInt64)?;
            let rows = rows.u64()?;
            let event_counts: Vec<(String, usize, &'static str)> = names
                .iter()
                .zip(rows.iter())
                .map(|(name, rows)| {
                    let name = name.unwrap_or_default();
                    let role = match config.exclusive_role(name) {
                        Some(role) => role,
                        None if config.events.key.iter().any(|k| k == name) => "key + product",
                        None => "product",
                    };
                    (name.to_string(), rows.unwrap_or(0) as usize, role)
                })
                .collect();
            let count = |frame: &DataFrame, name: &str| get(frame, name).map(|v| v.unwrap_or(0) as usize);
            Ok(InputSummary {
                events: count(&totals, "rows")?,
                accounts: accounts.height(),
                conversions: conversions.height(),
                active_accounts: count(&totals, "accounts")?,
                event_span: get(&totals, "first")?.zip(get(&totals, "last")?),
                event_counts,
            })
        };
        summarise().map_err(|e| {
            crate::input::unreadable_event_file(config).unwrap_or_else(|| InputError::Unreadable {
                path: config.inputs.events.clone(),
                message: e.to_string().lines().next().unwrap_or_default().to_string(),
            })
        })
    }
}

fn format_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| micros.to_string())
}

impl fmt::Display for InputSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "events       {:>12} rows from {} accounts",
            self.events, self.active_accounts
        )?;
        writeln!(f, "accounts     {:>12} rows", self.accounts)?;
        writeln!(f, "conversions  {:>12} rows", self.conversions)?;
        if let Some((first, last)) = self.event_span {
            writeln!(f, "event span   {} .. {}", format_micros(first), format_micros(last))?;
        }
        writeln!(f, "\n{:<32} {:>12}  role", "event", "rows")?;
        for (name, rows, role) in &self.event_counts {
            writeln!(f, "{name:<32} {rows:>12}  {role}")?;
        }
        Ok(())
    }
}
