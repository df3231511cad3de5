//! A first look at the inputs: table sizes, time span, and how often each event occurs under its role, so
//! a new `pql.toml` can be checked against the data before any modelling.

use std::fmt;

use polars::prelude::*;

use crate::config::Config;
use crate::input::Dataset;

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
    /// Earliest and latest event timestamp (μs since the epoch, UTC).
    pub event_span: Option<(i64, i64)>,
    /// Each event name with its row count and role, most frequent first.
    pub event_counts: Vec<(String, usize, &'static str)>,
    /// Event names the config mentions that never occur in the data.
    pub unseen_configured_events: Vec<String>,
}

impl InputSummary {
    /// Summarises a dataset under a config.
    pub fn of(data: &Dataset, config: &Config) -> PolarsResult<InputSummary> {
        let counts = data
            .events
            .clone()
            .lazy()
            .group_by([col("event")])
            .agg([len().alias("rows")])
            .sort(
                ["rows", "event"],
                SortMultipleOptions::default().with_order_descending_multi([true, false]),
            )
            .collect()?;
        let names = counts.column("event")?.str()?;
        let rows = counts.column("rows")?.cast(&DataType::UInt64)?;
        let rows = rows.u64()?;
        let key_events = &config.events.key;
        let event_counts: Vec<(String, usize, &'static str)> = names
            .iter()
            .zip(rows.iter())
            .map(|(name, rows)| {
                let name = name.unwrap_or_default();
                let role = match config.exclusive_role(name) {
                    Some(role) => role,
                    None if key_events.iter().any(|k| k == name) => "key + product",
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

        let active_accounts = data.events.column("account_id")?.as_materialized_series().n_unique()?;
        let unknown = data
            .events
            .clone()
            .lazy()
            .join(
                data.accounts.clone().lazy().select([col("account_id")]),
                [col("account_id")],
                [col("account_id")],
                JoinArgs::new(JoinType::Anti),
            )
            .select([len()])
            .collect()?;
        let events_of_unknown_accounts = unknown.column("len")?.get(0)?.extract::<usize>().unwrap_or(0);
        let times = data.events.column("timestamp")?.datetime()?.physical();
        let event_span = times.min().zip(times.max());

        Ok(InputSummary {
            events: data.events.height(),
            accounts: data.accounts.height(),
            conversions: data.conversions.height(),
            active_accounts,
            events_of_unknown_accounts,
            event_span,
            event_counts,
            unseen_configured_events: unseen,
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
