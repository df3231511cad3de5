//! Preparation: from raw inputs to compact, snapshot-independent tables.
//!
//! Events are scanned once (streaming) into integer codes, cleaned with every dropped row counted in an
//! [`InputReport`], put in per-account time order, split into sessions, and summarised into tables that do
//! not depend on the snapshot: per-account daily aggregates, the first use of every product/key event, the
//! first appearance of every user, and the product events inside the snapshots' short windows. Each
//! snapshot then only filters and aggregates these small tables (see `compile.rs`).

use std::collections::HashMap;

use polars::prelude::*;
use pql_data::input::{read_accounts, read_conversions, scan_events};
use pql_data::Config;
use serde::Serialize;

use crate::catalog::{EventSet, SESSION_GAP_MINUTES};
use crate::error::FeatureError;

/// Microseconds in a day.
pub const DAY_US: i64 = 86_400_000_000;
/// Timestamps before this (2000-01-01) are out of range.
const MIN_TS: i64 = 946_684_800_000_000;
/// Timestamps from this (2100-01-01) on are out of range.
const MAX_TS: i64 = 4_102_444_800_000_000;

/// What was read and what was left out, and why. Nothing is dropped without being counted here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InputReport {
    /// Event rows read.
    pub events_read: u64,
    /// Event rows used for features.
    pub events_used: u64,
    /// Events named in `events.ignore` (dropped by configuration).
    pub ignored_events: u64,
    /// Events with a missing account, event name or timestamp (dropped).
    pub events_missing_values: u64,
    /// Events whose account is not in the accounts table (dropped).
    pub events_of_unknown_accounts: u64,
    /// Events before their account's signup (dropped).
    pub events_before_signup: u64,
    /// Exact duplicates of another event: same account, user, event and timestamp (dropped).
    pub duplicate_events: u64,
    /// Events before 2000-01-01 or from 2100-01-01 on (dropped).
    pub events_out_of_range: u64,
    /// Accounts read.
    pub accounts: u64,
    /// Conversion rows read.
    pub conversions_read: u64,
    /// Conversions of accounts missing from the accounts table (dropped).
    pub conversions_of_unknown_accounts: u64,
    /// Conversion rows after an account's first (the first counts).
    pub repeated_conversions: u64,
    /// Accounts whose first conversion precedes their signup (never eligible).
    pub conversions_before_signup: u64,
}

/// Snapshot-independent tables, ready for any number of snapshots.
pub struct Prepared {
    /// One row per account: `acc` (u32), `account_id`, `signup` (μs), `converted` (first conversion, μs,
    /// nullable), then the attribute columns.
    pub accounts: DataFrame,
    /// One row per account and activity day: `acc`, `day` (the midnight ending the day, in days since the
    /// epoch), `sessions`, and `n_<k>` / `last_<k>` (count, latest μs) for every event set `k` in
    /// [`Prepared::sets`].
    pub daily: DataFrame,
    /// One row per account and product or key event name: `acc`, `ev`, `first_ts`, `since_signup` (μs),
    /// `is_product`, `is_key`, `product_rank` (1 for the first product event used, nullable).
    pub first_use: DataFrame,
    /// One row per account and user: `acc`, `first_ts`.
    pub users: DataFrame,
    /// Product events inside the windowed-distinct spans of the requested snapshots: `acc`, `day`, `ev`.
    pub recent: DataFrame,
    /// The event sets that have `n_<k>` / `last_<k>` columns in `daily`, by index `k`.
    pub sets: Vec<EventSet>,
    /// The midnight ending the day of the latest event or conversion: labels need `as_of + horizon` at or
    /// before it.
    pub observation_end: i64,
    /// Counts of everything read and left out.
    pub report: InputReport,
}

/// Integer codes of event names, shared by the events and the config.
struct EventCodes {
    dtype: DataType,
}

impl EventCodes {
    fn new() -> Self {
        EventCodes {
            dtype: DataType::from_categories(Categories::global()),
        }
    }

    /// The codes of `names` (names absent from the data get fresh codes that match nothing).
    fn of(&self, names: &[String]) -> PolarsResult<Vec<u32>> {
        let series = Series::new("names".into(), names);
        let codes = series.cast(&self.dtype)?.to_physical_repr().cast(&DataType::UInt32)?;
        Ok(codes.u32()?.into_no_null_iter().collect())
    }
}

/// The role of each event, as code sets.
struct Roles {
    ignore: Vec<u32>,
    exclusive: Vec<u32>,
    key: Vec<u32>,
    hand_raise: Vec<u32>,
}

/// Reads and prepares the inputs for snapshots whose windowed-distinct spans cover the given day ranges
/// (`(first, last]` in epoch days).
pub fn prepare(config: &Config, sets: &[EventSet], recent_days: &[(i64, i64)]) -> Result<Prepared, FeatureError> {
    let mut report = InputReport::default();
    let codes = EventCodes::new();

    // Accounts and their first conversion.
    let accounts = read_accounts(config)?;
    report.accounts = accounts.height() as u64;
    let account_codes = accounts
        .column("account_id")?
        .as_materialized_series()
        .cast(&codes.dtype)?;
    let account_codes = account_codes.to_physical_repr().cast(&DataType::UInt32)?;
    let conversions = read_conversions(config)?;
    report.conversions_read = conversions.height() as u64;
    let signup: Vec<i64> = physical_i64(accounts.column("signup_at")?)?;
    let mut converted: Vec<Option<i64>> = vec![None; accounts.height()];
    let mut index_of_code: HashMap<u32, u32> = HashMap::with_capacity(accounts.height());
    for (i, code) in account_codes.u32()?.into_no_null_iter().enumerate() {
        index_of_code.insert(code, i as u32);
    }
    let conversion_codes = conversions
        .column("account_id")?
        .as_materialized_series()
        .cast(&codes.dtype)?;
    let conversion_codes = conversion_codes.to_physical_repr().cast(&DataType::UInt32)?;
    let conversion_times = physical_i64(conversions.column("converted_at")?)?;
    let mut latest_conversion = i64::MIN;
    for (code, ts) in conversion_codes.u32()?.into_no_null_iter().zip(conversion_times) {
        latest_conversion = latest_conversion.max(ts);
        match index_of_code.get(&code) {
            None => report.conversions_of_unknown_accounts += 1,
            Some(&i) => {
                let slot = &mut converted[i as usize];
                if slot.is_some() {
                    report.repeated_conversions += 1;
                }
                *slot = Some(slot.map_or(ts, |t| t.min(ts)));
            }
        }
    }
    report.conversions_before_signup = converted
        .iter()
        .zip(&signup)
        .filter(|(c, s)| c.is_some_and(|c| c < **s))
        .count() as u64;

    let roles = Roles {
        ignore: codes.of(&config.events.ignore)?,
        exclusive: codes.of(&config
            .events
            .hand_raise
            .iter()
            .chain(&config.events.collaboration)
            .chain(config.limits.iter().filter_map(|l| l.reached_event.as_ref()))
            .cloned()
            .collect::<Vec<_>>())?,
        key: codes.of(&config.events.key)?,
        hand_raise: codes.of(&config.events.hand_raise)?,
    };

    // Events: one streaming scan into codes.
    let cols = [col("account_id"), col("user_id"), col("event")]
        .map(|c| c.cast(codes.dtype.clone()).to_physical().cast(DataType::UInt32));
    let [account, user, event] = cols;
    let raw = scan_events(config)?
        .select([
            account.alias("account"),
            user.alias("user"),
            event.alias("ev"),
            col("timestamp").to_physical().alias("ts"),
        ])
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    report.events_read = raw.height() as u64;

    let events = clean(&raw, &index_of_code, &signup, &roles, &mut report)?;
    drop(raw);
    report.events_used = events.acc.len() as u64;
    let latest_event = events.ts.iter().copied().max().unwrap_or(i64::MIN);
    let observation_end = ceil_day(latest_event.max(latest_conversion)) * DAY_US;

    let frame = events.into_frame(&roles)?;
    let set_masks = sets
        .iter()
        .map(|set| set_mask(set, &roles, &codes))
        .collect::<PolarsResult<Vec<_>>>()?;
    let mut daily_aggs = vec![col("session_start").sum().cast(DataType::Float64).alias("sessions")];
    for (k, mask) in set_masks.iter().enumerate() {
        daily_aggs.push(mask.clone().sum().cast(DataType::Float64).alias(format!("n_{k}")));
        daily_aggs.push(col("ts").filter(mask.clone()).max().alias(format!("last_{k}")));
    }
    let daily = frame
        .clone()
        .lazy()
        .group_by([col("acc"), col("day")])
        .agg(daily_aggs)
        .collect()?;

    let signup_series = Series::new("signup".into(), &signup);
    let first_use = frame
        .clone()
        .lazy()
        .filter(col("is_product").or(col("is_key")))
        .group_by([col("acc"), col("ev")])
        .agg([
            col("ts").min().alias("first_ts"),
            col("is_product").first(),
            col("is_key").first(),
        ])
        .collect()?;
    let first_signup = signup_series.take(first_use.column("acc")?.u32()?)?;
    let first_use = first_use
        .lazy()
        .with_column((col("first_ts") - lit(first_signup)).alias("since_signup"))
        .with_column(
            when(col("is_product"))
                .then(
                    col("first_ts")
                        .rank(
                            RankOptions {
                                method: RankMethod::Ordinal,
                                descending: false,
                            },
                            None,
                        )
                        .over([col("acc"), col("is_product")])?,
                )
                .otherwise(lit(NULL))
                .cast(DataType::UInt32)
                .alias("product_rank"),
        )
        .collect()?;

    let users = frame
        .clone()
        .lazy()
        .filter(col("user").is_not_null())
        .group_by([col("acc"), col("user")])
        .agg([col("ts").min().alias("first_ts")])
        .select([col("acc"), col("first_ts")])
        .collect()?;

    let mut in_recent = lit(false);
    for &(from, to) in recent_days {
        in_recent = in_recent.or(col("day").gt(lit(from)).and(col("day").lt_eq(lit(to))));
    }
    let recent = frame
        .lazy()
        .filter(col("is_product").and(in_recent))
        .select([col("acc"), col("day"), col("ev")])
        .collect()?;

    let accounts = DataFrame::new(
        accounts.height(),
        [
            vec![
                Column::new("acc".into(), (0..accounts.height() as u32).collect::<Vec<_>>()),
                accounts.column("account_id")?.clone(),
                Column::new("signup".into(), &signup),
                Column::new("converted".into(), &converted),
            ],
            accounts.columns().iter().skip(3).cloned().collect::<Vec<_>>(),
        ]
        .concat(),
    )?;

    Ok(Prepared {
        accounts,
        daily,
        first_use,
        users,
        recent,
        sets: sets.to_vec(),
        observation_end,
        report,
    })
}

/// The epoch day whose ending midnight is at or after `ts`: the day an event belongs to.
pub fn ceil_day(ts: i64) -> i64 {
    ts.div_euclid(DAY_US) + i64::from(ts.rem_euclid(DAY_US) != 0)
}

fn physical_i64(column: &Column) -> PolarsResult<Vec<i64>> {
    let values = column.as_materialized_series().to_physical_repr();
    Ok(values.i64()?.into_no_null_iter().collect())
}

/// Whether a row of the cleaned event frame is in `set`.
fn set_mask(set: &EventSet, roles: &Roles, codes: &EventCodes) -> PolarsResult<Expr> {
    let is_in = |list: &[u32]| col("ev").is_in(lit(Series::new("codes".into(), list)).implode(false), false);
    Ok(match set {
        EventSet::Activity => col("ts").is_not_null(),
        EventSet::Product => col("is_product"),
        EventSet::Key => col("is_key"),
        EventSet::HandRaise => is_in(&roles.hand_raise),
        EventSet::Named(name) => col("ev").eq(lit(codes.of(std::slice::from_ref(name))?[0])),
    })
}

/// Cleaned events in per-account time order.
struct Events {
    acc: Vec<u32>,
    ts: Vec<i64>,
    ev: Vec<u32>,
    user: Vec<u32>,
    session_start: Vec<bool>,
}

const NO_USER: u32 = u32::MAX;

impl Events {
    fn into_frame(self, roles: &Roles) -> PolarsResult<DataFrame> {
        let is_key: Vec<bool> = self.ev.iter().map(|e| roles.key.contains(e)).collect();
        let is_product: Vec<bool> = self.ev.iter().map(|e| !roles.exclusive.contains(e)).collect();
        let day: Vec<i64> = self.ts.iter().map(|&t| ceil_day(t)).collect();
        let user =
            UInt32Chunked::from_iter_options("user".into(), self.user.iter().map(|&u| (u != NO_USER).then_some(u)));
        DataFrame::new(
            self.acc.len(),
            vec![
                Column::new("acc".into(), self.acc),
                Column::new("ts".into(), self.ts),
                Column::new("day".into(), day),
                Column::new("ev".into(), self.ev),
                user.into_column(),
                Column::new("session_start".into(), self.session_start),
                Column::new("is_product".into(), is_product),
                Column::new("is_key".into(), is_key),
            ],
        )
    }
}

/// Drops (and counts) ignored, incomplete, out-of-range, unknown-account, pre-signup and duplicate events,
/// orders the rest by account and time, and marks session starts.
fn clean(
    raw: &DataFrame,
    index_of_code: &HashMap<u32, u32>,
    signup: &[i64],
    roles: &Roles,
    report: &mut InputReport,
) -> PolarsResult<Events> {
    let account = raw.column("account")?.u32()?;
    let user = raw.column("user")?.u32()?;
    let ev = raw.column("ev")?.u32()?;
    let ts = raw.column("ts")?.i64()?;
    let mut rows: Vec<(u32, i64, u32, u32)> = Vec::with_capacity(raw.height());
    for (((account, user), ev), ts) in account.iter().zip(user.iter()).zip(ev.iter()).zip(ts.iter()) {
        let (Some(account), Some(ev), Some(ts)) = (account, ev, ts) else {
            report.events_missing_values += 1;
            continue;
        };
        if roles.ignore.contains(&ev) {
            report.ignored_events += 1;
            continue;
        }
        if !(MIN_TS..MAX_TS).contains(&ts) {
            report.events_out_of_range += 1;
            continue;
        }
        let Some(&acc) = index_of_code.get(&account) else {
            report.events_of_unknown_accounts += 1;
            continue;
        };
        if ts < signup[acc as usize] {
            report.events_before_signup += 1;
            continue;
        }
        rows.push((acc, ts, ev, user.unwrap_or(NO_USER)));
    }
    // Per-account time order: most exports already have it; sort only when they do not.
    if !rows.windows(2).all(|w| (w[0].0, w[0].1) <= (w[1].0, w[1].1)) {
        rows.sort_unstable();
    } else {
        // Sorted by (account, time), but ties may interleave: order them so duplicates sit side by side.
        let mut start = 0;
        while start < rows.len() {
            let mut end = start + 1;
            while end < rows.len() && (rows[end].0, rows[end].1) == (rows[start].0, rows[start].1) {
                end += 1;
            }
            if end - start > 1 {
                rows[start..end].sort_unstable();
            }
            start = end;
        }
    }
    let before = rows.len();
    rows.dedup();
    report.duplicate_events = (before - rows.len()) as u64;

    let gap = SESSION_GAP_MINUTES * 60_000_000;
    let mut events = Events {
        acc: Vec::with_capacity(rows.len()),
        ts: Vec::with_capacity(rows.len()),
        ev: Vec::with_capacity(rows.len()),
        user: Vec::with_capacity(rows.len()),
        session_start: Vec::with_capacity(rows.len()),
    };
    let mut previous: Option<(u32, i64)> = None;
    for (acc, ts, ev, user) in rows {
        let starts = previous.is_none_or(|(a, t)| a != acc || ts - t > gap);
        previous = Some((acc, ts));
        events.acc.push(acc);
        events.ts.push(ts);
        events.ev.push(ev);
        events.user.push(user);
        events.session_start.push(starts);
    }
    Ok(events)
}
