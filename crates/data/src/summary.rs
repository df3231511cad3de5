//! A first look at the inputs: table sizes, time span, and how often each event occurs under its role, so
//! a new `pql.toml` can be checked against the data before any modelling.

use std::fmt;

use polars::prelude::*;

use crate::config::Config;
use crate::error::InputError;
use crate::input::{read_accounts, read_conversions, scan_events};

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
    /// Event rows whose account is not in the accounts table.
    pub events_of_unknown_accounts: usize,
    /// Event rows (in Parquet) without an account, event name or timestamp.
    pub incomplete_events: usize,
    /// Earliest and latest event timestamp (μs since the epoch, UTC).
    pub event_span: Option<(i64, i64)>,
    /// Each event name with its row count and role, most frequent first.
    pub event_counts: Vec<(String, usize, &'static str)>,
    /// Event names the config mentions that never occur in the data.
    pub unseen_configured_events: Vec<String>,
}

impl InputSummary {
    /// Reads the config's inputs and summarises them. Events are streamed (never loaded whole), so this
    /// works on histories larger than memory; the accounts and conversions tables are read and checked
    /// in full.
    pub fn read(config: &Config) -> Result<InputSummary, InputError> {
        let accounts = read_accounts(config)?;
        let conversions = read_conversions(config)?;
        let events = scan_events(config)?;
        let summarise = || -> PolarsResult<InputSummary> {
            let streaming = |frame: LazyFrame| frame.collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single());
            let counts = streaming(events.clone().group_by([col("event")]).agg([len().alias("rows")]).sort(
                ["rows", "event"],
                SortMultipleOptions::default().with_order_descending_multi([true, false]),
            ))?;
            let totals = streaming(
                events.clone().select([
                    len().alias("rows"),
                    col("account_id").n_unique().alias("accounts"),
                    col("timestamp").min().to_physical().alias("first"),
                    col("timestamp").max().to_physical().alias("last"),
                    (col("account_id")
                        .is_null()
                        .or(col("event").is_null())
                        .or(col("timestamp").is_null()))
                    .sum()
                    .alias("incomplete"),
                ]),
            )?;
            let unknown = streaming(
                events
                    .clone()
                    .join(
                        accounts.clone().lazy().select([col("account_id")]),
                        [col("account_id")],
                        [col("account_id")],
                        JoinArgs::new(JoinType::Anti),
                    )
                    .select([len()]),
            )?;
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
            let mentioned = config
                .events
                .key
                .iter()
                .chain(&config.events.hand_raise)
                .chain(&config.events.collaboration)
                .chain(&config.events.ignore)
                .chain(config.limits.iter().map(|l| &l.event))
                .chain(config.limits.iter().filter_map(|l| l.reached_event.as_ref()));
            let mut unseen: Vec<String> = mentioned
                .filter(|e| !event_counts.iter().any(|(name, _, _)| name == *e))
                .cloned()
                .collect();
            unseen.sort();
            unseen.dedup();
            let count = |frame: &DataFrame, name: &str| get(frame, name).map(|v| v.unwrap_or(0) as usize);
            Ok(InputSummary {
                events: count(&totals, "rows")?,
                accounts: accounts.height(),
                conversions: conversions.height(),
                active_accounts: count(&totals, "accounts")?,
                events_of_unknown_accounts: count(&unknown, "len")?,
                incomplete_events: count(&totals, "incomplete")?,
                event_span: get(&totals, "first")?.zip(get(&totals, "last")?),
                event_counts,
                unseen_configured_events: unseen,
            })
        };
        summarise().map_err(|e| InputError::Unreadable {
            path: config.inputs.events.clone(),
            message: e.to_string().lines().next().unwrap_or_default().to_string(),
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
        if self.incomplete_events > 0 {
            writeln!(
                f,
                "warning: {} event rows lack an account, event name or timestamp",
                self.incomplete_events
            )?;
        }
        if self.events_of_unknown_accounts > 0 {
            writeln!(
                f,
                "warning: {} event rows belong to accounts missing from the accounts table",
                self.events_of_unknown_accounts
            )?;
        }
        writeln!(f, "\n{:<32} {:>12}  role", "event", "rows")?;
        for (name, rows, role) in &self.event_counts {
            writeln!(f, "{name:<32} {rows:>12}  {role}")?;
        }
        for event in &self.unseen_configured_events {
            writeln!(
                f,
                "warning: the config names event `{event}`, which never occurs in the data"
            )?;
        }
        Ok(())
    }
}
