//! Preparation: from raw inputs to compact, snapshot-independent tables.
//!
//! Events are scanned once (streaming) into integer codes, cleaned with every dropped row counted in an
//! [`InputReport`], put in per-account time order, split into sessions, and summarised into tables that do
//! not depend on the snapshot: per-account daily aggregates, the first use of every product/key event, the
//! first appearance of every user, and the product events inside the snapshots' short windows. Each
//! snapshot then only filters and aggregates these small tables (see `compile.rs`).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use chrono::Datelike;
use polars::prelude::*;
use pql_data::input::{future_from, read_accounts, read_conversions, scan_events, MAX_TS, MIN_TS};
use pql_data::Config;
use serde::Serialize;

use crate::catalog::{EventSet, Period, PLAN, SESSION_GAP_MINUTES};
use crate::error::FeatureError;
use crate::reorder::{self, Reorder};

/// Microseconds in a day.
pub const DAY_US: i64 = 86_400_000_000;

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
    /// Exact duplicates of another event: same account, user, event, timestamp and value (dropped).
    pub duplicate_events: u64,
    /// Events dated more than a day after the clock of the run (dropped): nothing can have happened yet.
    pub events_in_future: u64,
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
    /// Conversions of known accounts after the observation end (kept, but no label reaches them).
    pub conversions_after_observation_end: u64,
}

impl InputReport {
    /// Event rows dropped by a rule other than the config's (`ignore`) and deduplication, which lose no
    /// information.
    pub fn events_dropped(&self) -> u64 {
        self.events_missing_values + self.events_of_unknown_accounts + self.events_before_signup + self.events_in_future
    }

    /// The rule that dropped the most event rows, with its count.
    fn main_drop(&self) -> (&'static str, u64) {
        [
            (
                "without an account, event name or timestamp",
                self.events_missing_values,
            ),
            (
                "of accounts missing from the accounts table",
                self.events_of_unknown_accounts,
            ),
            ("before their account's signup", self.events_before_signup),
            ("dated in the future", self.events_in_future),
        ]
        .into_iter()
        .max_by_key(|&(_, n)| n)
        .expect("four rules")
    }

    /// Refuses inputs of which the rules dropped more than `max_share` of the event rows, or that leave no
    /// event to use: such a run would compute features from what is left and look fine.
    fn check_drops(&self, config: &Config) -> Result<(), FeatureError> {
        let max_share = config.inputs.max_dropped_share;
        let dropped = self.events_dropped();
        let share = dropped as f64 / self.events_read.max(1) as f64;
        if self.events_used > 0 && share <= max_share {
            return Ok(());
        }
        let (rule, count) = self.main_drop();
        let why = if dropped == 0 {
            format!(
                "every one of the {} event rows is ignored (events.ignore) or a duplicate",
                self.events_read
            )
        } else {
            format!(
                "{dropped} of {} event rows ({:.1}%) were dropped, {count} of them as events {rule}",
                self.events_read,
                100.0 * share
            )
        };
        Err(FeatureError::MostEventsDropped {
            path: config.inputs.events.clone(),
            message: if self.events_used == 0 {
                format!("no event can be used: {why}")
            } else {
                format!(
                    "{why}, more than [inputs] max_dropped_share = {max_share} allows; check the [columns.*] \
                     mapping and the accounts table, or raise the share if this is expected"
                )
            },
        })
    }
}

/// Something in the inputs that a run should tell its user about, though it is not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputWarning {
    /// The latest event stands alone, long after the rest: it sets the observation end and so which
    /// snapshots get labels.
    IsolatedLatestEvent {
        /// The latest day with events.
        latest: chrono::NaiveDate,
        /// The day with events before it.
        previous: chrono::NaiveDate,
    },
    /// An event the config names never occurs in the events.
    UnseenEvent {
        /// The config key, e.g. `events.key[2]`.
        key: String,
        /// The event name.
        event: String,
    },
}

impl std::fmt::Display for InputWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputWarning::IsolatedLatestEvent { latest, previous } => write!(
                f,
                "the latest events, on {latest}, come {} days after the ones before them ({previous}); labels \
                 count every day up to {latest} as observed: if the data really ends earlier, set [label] \
                 observed_until",
                (*latest - *previous).num_days()
            ),
            InputWarning::UnseenEvent { key, event } => {
                write!(f, "{key} names event `{event}`, which never occurs in the events")
            }
        }
    }
}

/// The inputs read, cleaned and counted, with the snapshot-independent tables of every account: built at
/// once, or for large histories one range of accounts at a time ([`PreparedInputs::range`]).
pub struct PreparedInputs {
    /// Every account: see [`Prepared::accounts`].
    pub accounts: DataFrame,
    /// What the tables hold.
    pub needs: DailyNeeds,
    /// The windowed-distinct spans the tables cover.
    recent_days: Vec<(i64, i64)>,
    /// The midnight ending the day of the latest event used (or `[label] observed_until`): labels need
    /// `as_of + horizon` at or before it.
    pub observation_end: i64,
    /// The latest event used (μs), if any.
    pub latest_event: Option<i64>,
    /// Counts of everything read and left out.
    pub report: InputReport,
    /// What the user should know about the inputs.
    pub warnings: Vec<InputWarning>,
    ranges: Ranges,
}

/// Where the tables of [`PreparedInputs`] come from.
enum Ranges {
    /// Every account's, built.
    One(Box<Prepared>),
    /// Built on demand for each run of buckets of the gathered events.
    Many(Box<Gathered>),
}

/// The kept events of a large history, gathered by account range, and what building a range's tables
/// from them needs.
struct Gathered {
    reorder: Reorder,
    /// The runs of buckets that make the ranges.
    buckets: Vec<Range<usize>>,
    roles: EventRoles,
    signup: Vec<i64>,
    catalog: Arc<[i64]>,
}

impl PreparedInputs {
    /// The number of account ranges the tables come in.
    pub fn range_count(&self) -> usize {
        match &self.ranges {
            Ranges::One(_) => 1,
            Ranges::Many(gathered) => gathered.buckets.len(),
        }
    }

    /// The tables of account range `r` (of [`PreparedInputs::range_count`]), in account order: borrowed
    /// when built at once, else built now from the gathered events.
    pub fn range(&self, r: usize) -> Result<Cow<'_, Prepared>, FeatureError> {
        match &self.ranges {
            Ranges::One(prepared) => Ok(Cow::Borrowed(prepared)),
            Ranges::Many(gathered) => {
                let Gathered {
                    reorder,
                    buckets,
                    roles,
                    signup,
                    catalog,
                } = gathered.as_ref();
                let mut roles = roles.clone();
                let mut order = Order::new(Some(Builder::new(&self.needs, &self.recent_days)), signup.len());
                reorder
                    .replay(buckets[r].clone(), |e| {
                        order.accept(&mut roles, signup, e);
                    })
                    .map_err(spill_error)?;
                let builder = order.builder.expect("built with a builder");
                let accounts = reorder.accounts_of(buckets[r].clone());
                Ok(Cow::Owned(range_tables(
                    builder,
                    &self.accounts,
                    accounts,
                    catalog.clone(),
                )?))
            }
        }
    }
}

/// Snapshot-independent tables of a range of accounts, ready for any number of snapshots.
#[derive(Clone)]
pub struct Prepared {
    /// One row per account of the range: `acc` (u32, the index among every account, in `account_id`
    /// order), `account_id`, `signup` (μs), `converted` (first conversion, μs, nullable), then the
    /// attribute columns.
    pub accounts: DataFrame,
    /// The `acc` of the range's first account.
    pub first_acc: u32,
    /// One row per account and activity day: `acc`, `day` (the midnight ending the day, in days since the
    /// epoch), `sessions`, `n_<k>` (count) for every event set `k` of [`DailyNeeds::sets`], `last_<k>`
    /// (latest μs) where asked, and `period_<i>` (the period id of that day for limit `i`).
    pub daily: DataFrame,
    /// One row per account and product or key event name: `acc`, `ev`, `first_ts`, `since_signup` (μs),
    /// `is_product`, `is_key`, `product_rank` (1 for the first product event used, nullable).
    pub first_use: DataFrame,
    /// One row per account and user: `acc`, `first_ts`.
    pub users: DataFrame,
    /// Product events inside the windowed-distinct spans of the requested snapshots: `acc`, `day`, `ev`.
    pub recent: DataFrame,
    /// One row per account, day and event of [`DailyNeeds::named`]: `key` (the account and event in one
    /// sorted integer, see [`account_and_event`]), `acc`, `day`, `ev` (the index in `named`), `n` (count),
    /// `first` and `last` (earliest and latest μs), `value` (the sum of the events' values, 0 when none
    /// has one) and `valued` (events with a value); ordered by key, then day.
    pub event_days: DataFrame,
    /// What `daily` holds.
    pub needs: DailyNeeds,
    /// For each limit `i`: metered events per account and period (`acc`, `period`, `n_<k>`).
    pub period_totals: Vec<DataFrame>,
    /// When each product event was first used by any account (μs), in time order: the product catalog
    /// as of any instant.
    pub catalog: Arc<[i64]>,
}

/// The event sets the daily table counts, and whether it also keeps each one's latest time.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyNeeds {
    /// Event sets, by index `k` of their `n_<k>` column.
    pub sets: Vec<EventSet>,
    /// Whether set `k` has a `last_<k>` column.
    pub with_last: Vec<bool>,
    /// Limits as (metered event, period), by index `i` of their `period_<i>` column.
    pub limits: Vec<(String, Period)>,
    /// The events counted one by one in [`Prepared::event_days`], by index.
    pub named: Vec<String>,
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

/// Reads and prepares the inputs for snapshots whose windowed-distinct spans cover the given day ranges
/// (`(first, last]` in epoch days).
pub fn prepare(
    config: &Config,
    needs: &DailyNeeds,
    recent_days: &[(i64, i64)],
) -> Result<PreparedInputs, FeatureError> {
    let mut report = InputReport::default();
    let codes = EventCodes::new();

    // Accounts and their first conversion.
    // Accounts are numbered in account_id order, which is the order of the output rows.
    let accounts = read_accounts(config)?.sort(["account_id"], SortMultipleOptions::default())?;
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
    let mut index_of_code = CodeMap::new(NO_ACCOUNT);
    for (i, code) in account_codes.u32()?.into_no_null_iter().enumerate() {
        index_of_code.set(code, i as u32);
    }
    let conversion_codes = conversions
        .column("account_id")?
        .as_materialized_series()
        .cast(&codes.dtype)?;
    let conversion_codes = conversion_codes.to_physical_repr().cast(&DataType::UInt32)?;
    let conversion_times = physical_i64(conversions.column("converted_at")?)?;
    for (code, &ts) in conversion_codes.u32()?.into_no_null_iter().zip(&conversion_times) {
        match index_of_code.get(code) {
            NO_ACCOUNT => report.conversions_of_unknown_accounts += 1,
            i => {
                let slot = &mut converted[i as usize];
                if slot.is_some() {
                    report.repeated_conversions += 1;
                }
                *slot = Some(slot.map_or(ts, |t| t.min(ts)));
            }
        }
    }
    if config.plan.is_some() {
        check_plan(config, &accounts, &converted)?;
    }
    report.conversions_before_signup = converted
        .iter()
        .zip(&signup)
        .filter(|(c, s)| c.is_some_and(|c| c < **s))
        .count() as u64;

    // Events: one streaming scan into integer codes (nulls become sentinels, counted below), consumed in
    // batches while they arrive in per-account time order, as most exports are.
    let code = |name: &str| {
        col(name)
            .cast(codes.dtype.clone())
            .to_physical()
            .cast(DataType::UInt32)
            .fill_null(lit(MISSING))
    };
    let scan = scan_events(config)?.select([
        code("account_id").alias("account"),
        code("user_id").alias("user"),
        code("event").alias("ev"),
        col("timestamp").to_physical().fill_null(lit(i64::MIN)).alias("ts"),
        match config.columns.events.value {
            Some(_) => col("value").fill_null(lit(f64::NAN)),
            None => lit(f64::NAN),
        }
        .alias("value"),
    ]);
    let mut roles = EventRoles::new(config, needs, &codes)?;
    let future_from = future_from();
    let new_screen = |roles: EventRoles| Screen::new(roles, &index_of_code, &signup, future_from);
    // A failing scan names no file: find the file that fails.
    let named = |err: PolarsError| match pql_data::input::unreadable_event_file(config) {
        Some(err) => FeatureError::Input(err),
        None => FeatureError::Compute(err),
    };
    let batches = || -> Result<_, FeatureError> {
        let batches = scan
            .clone()
            .collect_batches(Engine::Streaming, true, None, false)
            .map_err(named)?;
        Ok(batches.map(move |batch| EventColumns::of(batch.map_err(named)?).map_err(FeatureError::from)))
    };

    // First, straight into the tables while the events arrive in per-account time order and are few
    // enough for one set of tables.
    let per_range = config.inputs.events_per_range;
    let mut screen = new_screen(roles.clone());
    let mut order = Order::new(Some(Builder::new(needs, recent_days)), signup.len());
    let mut streamed = true;
    for columns in batches()? {
        let kept_all = screen.screen_batch(&columns?, |screen, e| {
            Ok(order.accept(&mut screen.roles, &signup, &e) && screen.kept <= per_range)
        })?;
        if !kept_all {
            streamed = false;
            break;
        }
    }
    let (tables, reorder) = if streamed {
        (order, None)
    } else {
        // Otherwise screen every event again and gather the kept ones by account range (on disk beyond a
        // buffer), to be replayed in order.
        screen = new_screen(roles.clone());
        let mut reorder = Reorder::new(signup.len(), reorder::BUFFER_BYTES);
        for columns in batches()? {
            screen.screen_batch(&columns?, |_, e| {
                reorder.push(e).map_err(spill_error)?;
                Ok(true)
            })?;
        }
        // Tables for every account at once when they fit, else one account range at a time, later.
        let builder = (screen.kept <= per_range).then(|| Builder::new(needs, recent_days));
        let mut order = Order::new(builder, signup.len());
        reorder
            .replay(0..reorder::BUCKETS, |e| {
                let in_order = order.accept(&mut screen.roles, &signup, e);
                debug_assert!(in_order, "replayed events are in order");
            })
            .map_err(spill_error)?;
        (order, Some(reorder))
    };
    if let Some(ts) = screen.unrepresentable {
        return Err(FeatureError::Input(pql_data::InputError::OutOfRange {
            path: config.inputs.events.clone(),
            column: config.columns.events.timestamp.clone(),
            row: None,
            value: pql_data::input::format_micros(ts),
        }));
    }
    let warnings_unseen = unseen_configured_events(config, &screen.roles, &codes)?;
    roles = screen.roles.clone();
    let counts = &screen.counts;
    report.events_read = counts.events_read;
    report.ignored_events = counts.ignored_events;
    report.events_missing_values = counts.events_missing_values;
    report.events_of_unknown_accounts = counts.events_of_unknown_accounts;
    report.events_before_signup = counts.events_before_signup;
    report.events_in_future = counts.events_in_future;
    report.duplicate_events = tables.duplicates;
    report.events_used = screen.kept - tables.duplicates;
    report.check_drops(config)?;

    let latest_event = (report.events_used > 0).then_some(screen.latest_event);
    let mut warnings = Vec::new();
    let observation_end = match config.label.observed_until() {
        Some(day) => (crate::epoch_day(day) + 1) * DAY_US,
        None => {
            let [latest, previous] = screen.latest_days;
            if previous != NO_DAY && latest - previous > i64::from(config.label.horizon_days) {
                warnings.push(InputWarning::IsolatedLatestEvent {
                    latest: date_of_day(latest - 1),
                    previous: date_of_day(previous - 1),
                });
            }
            ceil_day(screen.latest_event) * DAY_US
        }
    };
    warnings.extend(warnings_unseen);
    report.conversions_after_observation_end =
        converted_times_after(&conversion_codes, &conversion_times, &index_of_code, observation_end)?;

    let mut columns = vec![
        Column::new("acc".into(), (0..accounts.height() as u32).collect::<Vec<_>>()),
        accounts.column("account_id")?.clone(),
        Column::new("signup".into(), &signup),
        Column::new("converted".into(), &converted),
    ];
    if config.plan.is_some() {
        columns.push(accounts.column("plan")?.clone().with_name(PLAN.into()));
    }
    columns.extend(accounts.columns().iter().skip(3).cloned());
    let accounts = DataFrame::new(accounts.height(), columns)?;
    let catalog: Arc<[i64]> = {
        let mut firsts: Vec<i64> = screen
            .first_product_use
            .values
            .iter()
            .copied()
            .filter(|&t| t != NO_TIME)
            .collect();
        firsts.sort_unstable();
        firsts.into()
    };

    let ranges = match (tables.builder, reorder) {
        (Some(builder), _) => {
            let everyone = 0..accounts.height() as u32;
            Ranges::One(Box::new(range_tables(builder, &accounts, everyone, catalog)?))
        }
        (None, Some(mut reorder)) => {
            reorder.spill().map_err(spill_error)?;
            Ranges::Many(Box::new(Gathered {
                buckets: reorder.ranges(per_range),
                reorder,
                roles,
                signup,
                catalog,
            }))
        }
        (None, None) => unreachable!("a streamed pass builds its tables"),
    };
    Ok(PreparedInputs {
        accounts,
        needs: needs.clone(),
        recent_days: recent_days.to_vec(),
        observation_end,
        latest_event,
        report,
        warnings,
        ranges,
    })
}

fn spill_error(source: std::io::Error) -> FeatureError {
    FeatureError::Spill { source }
}

/// The prepared tables of a range of accounts (indices into `accounts`, every account) from a finished
/// builder of their events.
fn range_tables(
    builder: Builder<'_>,
    accounts: &DataFrame,
    range: Range<u32>,
    catalog: Arc<[i64]>,
) -> PolarsResult<Prepared> {
    let needs = builder.needs.clone();
    let (daily, first_use, users, recent, event_days) = builder.finish()?;
    let period_totals = needs
        .limits
        .iter()
        .enumerate()
        .map(|(i, (event, _))| {
            let k = needs
                .sets
                .iter()
                .position(|s| *s == EventSet::Named(event.clone()))
                .expect("daily_needs counts every metered event");
            let n = format!("n_{k}");
            daily
                .clone()
                .lazy()
                .group_by([col("acc"), col(format!("period_{i}")).alias("period")])
                .agg([col(&n).sum()])
                .collect()
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok(Prepared {
        accounts: accounts.slice(i64::from(range.start), range.len()),
        first_acc: range.start,
        daily,
        first_use,
        users,
        recent,
        event_days,
        needs,
        period_totals,
        catalog,
    })
}

/// A plan that every one of at least this many accounts converted from says the plan column is the
/// current plan.
const PLAN_LEAK_ACCOUNTS: usize = 10;

/// Refuses a `[plan]` column that holds no plan, or that looks like the accounts' current plan: one where
/// every one of [`PLAN_LEAK_ACCOUNTS`] or more accounts converted (a paid plan), which would tell the model
/// who converted.
fn check_plan(config: &Config, accounts: &DataFrame, converted: &[Option<i64>]) -> Result<(), FeatureError> {
    let plans = accounts.column("plan")?.str()?;
    let refuse = |message: String| FeatureError::Plan {
        path: config.inputs.accounts.clone(),
        column: config.columns.accounts.plan.clone(),
        message,
    };
    if plans.null_count() == plans.len() {
        return Err(refuse(
            "holds no plan, yet [plan] asks for plan features; map the column in [columns.accounts] plan or \
             remove [plan]"
                .into(),
        ));
    }
    let mut counts: std::collections::BTreeMap<&str, (usize, usize)> = std::collections::BTreeMap::new();
    for (plan, converted) in plans.iter().zip(converted) {
        if let Some(plan) = plan {
            let entry = counts.entry(plan).or_default();
            entry.0 += 1;
            entry.1 += usize::from(converted.is_some());
        }
    }
    match counts
        .iter()
        .find(|(_, &(n, converted))| n >= PLAN_LEAK_ACCOUNTS && converted == n)
    {
        Some((plan, (n, _))) => Err(refuse(format!(
            "every one of the {n} accounts on plan `{plan}` converted: the column looks like the current \
             plan, which tells the model who converted; map the plan each account started on"
        ))),
        None => Ok(()),
    }
}

/// Conversion rows of known accounts dated after `end`.
fn converted_times_after(codes: &Series, times: &[i64], index_of_code: &CodeMap<u32>, end: i64) -> PolarsResult<u64> {
    Ok(codes
        .u32()?
        .into_no_null_iter()
        .zip(times)
        .filter(|&(code, &ts)| ts > end && index_of_code.get(code) != NO_ACCOUNT)
        .count() as u64)
}

/// The events the config names (roles and limits) that the pass never saw.
fn unseen_configured_events(
    config: &Config,
    roles: &EventRoles,
    codes: &EventCodes,
) -> Result<Vec<InputWarning>, FeatureError> {
    let e = &config.events;
    let mut named: Vec<(String, &String)> = Vec::new();
    for (role, list) in [
        ("key", &e.key),
        ("hand_raise", &e.hand_raise),
        ("collaboration", &e.collaboration),
        ("ignore", &e.ignore),
    ] {
        named.extend(
            list.iter()
                .enumerate()
                .map(|(i, ev)| (format!("events.{role}[{i}]"), ev)),
        );
    }
    for (i, limit) in config.limits.iter().enumerate() {
        named.push((format!("limits[{i}].event"), &limit.event));
        if let Some(reached) = &limit.reached_event {
            named.push((format!("limits[{i}].reached_event"), reached));
        }
    }
    let mut warnings = Vec::new();
    for (key, event) in named {
        let code = codes.of(std::slice::from_ref(event))?[0];
        if !roles.seen(code)
            && !warnings
                .iter()
                .any(|w| matches!(w, InputWarning::UnseenEvent { event: seen, .. } if seen == event))
        {
            warnings.push(InputWarning::UnseenEvent {
                key,
                event: event.clone(),
            });
        }
    }
    Ok(warnings)
}

/// The date of an epoch day.
fn date_of_day(day: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp(day * 86_400, 0)
        .expect("days of representable times")
        .date_naive()
}

/// The epoch day whose ending midnight is at or after `ts`: the day an event belongs to.
pub fn ceil_day(ts: i64) -> i64 {
    ts.div_euclid(DAY_US) + i64::from(ts.rem_euclid(DAY_US) != 0)
}

/// The id of the limit period containing the calendar day that ends at midnight `day` (epoch days):
/// Monday-start weeks, calendar months, or one period for life.
pub fn period_id(day: i64, period: Period) -> i64 {
    let date = day - 1;
    match period {
        // 1970-01-01 was a Thursday: shifting by 3 makes weeks start on Monday.
        Period::Week => (date + 3).div_euclid(7),
        Period::Month => {
            let date = chrono::DateTime::from_timestamp(date * 86_400, 0)
                .expect("in range")
                .date_naive();
            i64::from(date.year()) * 12 + i64::from(date.month0())
        }
        Period::Lifetime => 0,
    }
}

fn physical_i64(column: &Column) -> PolarsResult<Vec<i64>> {
    let values = column.as_materialized_series().to_physical_repr();
    Ok(values.i64()?.into_no_null_iter().collect())
}

/// No time, in the daily table's latest-time columns before they become nullable.
const NO_TIME: i64 = i64::MIN;
/// No day, in [`Builder::latest_days`].
const NO_DAY: i64 = i64::MIN;
/// A code that stands for a missing value.
const MISSING: u32 = u32::MAX;
/// The account index of a code that is not an account.
const NO_ACCOUNT: u32 = u32::MAX;
/// The set bits of an ignored event.
const IGNORED: u64 = 0;

/// A dense map from categorical codes to values.
struct CodeMap<T: Copy> {
    values: Vec<T>,
    default: T,
}

impl<T: Copy> CodeMap<T> {
    fn new(default: T) -> Self {
        CodeMap {
            values: Vec::new(),
            default,
        }
    }

    fn set(&mut self, code: u32, value: T) {
        let i = code as usize;
        if i >= self.values.len() {
            self.values.resize(i + 1, self.default);
        }
        self.values[i] = value;
    }

    fn get(&self, code: u32) -> T {
        self.values.get(code as usize).copied().unwrap_or(self.default)
    }
}

/// The event columns of a batch, borrowed.
struct EventSlices<'a> {
    account: &'a [u32],
    user: &'a [u32],
    ev: &'a [u32],
    ts: &'a [i64],
    value: &'a [f64],
}

/// The event columns of a batch, as contiguous slices.
struct EventColumns {
    frame: DataFrame,
}

impl EventColumns {
    fn of(mut frame: DataFrame) -> PolarsResult<Self> {
        frame.rechunk_mut_par();
        Ok(EventColumns { frame })
    }

    fn len(&self) -> usize {
        self.frame.height()
    }

    /// Account, user and event codes, timestamps and values (NaN when none).
    fn slices(&self) -> EventSlices<'_> {
        let u32s = |name: &str| {
            let column = self.frame.column(name).expect("scan selects it");
            column
                .u32()
                .expect("u32")
                .cont_slice()
                .expect("rechunked without nulls")
        };
        let ts = self.frame.column("ts").expect("scan selects it");
        let ts = ts.i64().expect("i64").cont_slice().expect("rechunked without nulls");
        let value = self.frame.column("value").expect("scan selects it");
        let value = value.f64().expect("f64").cont_slice().expect("rechunked without nulls");
        EventSlices {
            account: u32s("account"),
            user: u32s("user"),
            ev: u32s("ev"),
            ts,
            value,
        }
    }
}

/// The cleaning of the events, in any order: counts what is left out, and what the kept events share.
struct Screen<'a> {
    roles: EventRoles,
    index_of_code: &'a CodeMap<u32>,
    signup: &'a [i64],
    /// Events after this instant are in the future.
    future_from: i64,
    counts: InputReport,
    /// The first time seen that pql cannot represent, if any.
    unrepresentable: Option<i64>,
    /// Events kept (duplicates among them are found later, in order).
    kept: u64,
    /// The latest kept event, μs.
    latest_event: i64,
    /// The latest two distinct days with kept events, latest first.
    latest_days: [i64; 2],
    /// Per event code, the earliest kept product event, μs.
    first_product_use: CodeMap<i64>,
}

impl<'a> Screen<'a> {
    fn new(roles: EventRoles, index_of_code: &'a CodeMap<u32>, signup: &'a [i64], future_from: i64) -> Self {
        Screen {
            roles,
            index_of_code,
            signup,
            future_from,
            counts: InputReport::default(),
            unrepresentable: None,
            kept: 0,
            latest_event: i64::MIN,
            latest_days: [NO_DAY; 2],
            first_product_use: CodeMap::new(NO_TIME),
        }
    }

    /// Counts an event and returns its account index when the event is kept: it has every value, a role,
    /// a representable time not in the future, and a known account that had signed up.
    fn screen(&mut self, account: u32, ev: u32, ts: i64) -> Option<u32> {
        let counts = &mut self.counts;
        counts.events_read += 1;
        if account == MISSING || ev == MISSING || ts == i64::MIN {
            counts.events_missing_values += 1;
            return None;
        }
        let bits = self.roles.bits(ev);
        if bits == IGNORED {
            counts.ignored_events += 1;
            return None;
        }
        if !(MIN_TS..MAX_TS).contains(&ts) {
            self.unrepresentable.get_or_insert(ts);
            return None;
        }
        if ts > self.future_from {
            counts.events_in_future += 1;
            return None;
        }
        let acc = self.index_of_code.get(account);
        if acc == NO_ACCOUNT {
            counts.events_of_unknown_accounts += 1;
            return None;
        }
        if ts < self.signup[acc as usize] {
            counts.events_before_signup += 1;
            return None;
        }
        self.kept += 1;
        self.latest_event = self.latest_event.max(ts);
        let day = ceil_day(ts);
        if day > self.latest_days[0] {
            self.latest_days = [day, self.latest_days[0]];
        } else if day < self.latest_days[0] && day > self.latest_days[1] {
            self.latest_days[1] = day;
        }
        if bits & PRODUCT != 0 {
            let first = self.first_product_use.get(ev);
            if first == NO_TIME || ts < first {
                self.first_product_use.set(ev, ts);
            }
        }
        Some(acc)
    }

    /// Screens a batch and calls `kept` on each kept event until it returns `false`; whether it never did.
    fn screen_batch(
        &mut self,
        columns: &EventColumns,
        mut kept: impl FnMut(&mut Self, reorder::Event) -> Result<bool, FeatureError>,
    ) -> Result<bool, FeatureError> {
        let EventSlices {
            account,
            user,
            ev,
            ts,
            value,
        } = columns.slices();
        for i in 0..columns.len() {
            if let Some(acc) = self.screen(account[i], ev[i], ts[i]) {
                let event = reorder::Event {
                    acc,
                    user: user[i],
                    ev: ev[i],
                    ts: ts[i],
                    value: value[i],
                };
                if !kept(self, event)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// The kept events in per-account time order: the order check, duplicates, and the builder of the tables
/// (none when only counting duplicates).
struct Order<'a> {
    builder: Option<Builder<'a>>,
    state: AccountState,
    finished_accounts: Vec<bool>,
    duplicates: u64,
}

impl<'a> Order<'a> {
    fn new(builder: Option<Builder<'a>>, accounts: usize) -> Self {
        Order {
            builder,
            state: AccountState::default(),
            finished_accounts: vec![false; accounts],
            duplicates: 0,
        }
    }

    /// Adds a kept event; `false` when it breaks per-account time order.
    fn accept(&mut self, roles: &mut EventRoles, signup: &[i64], event: &reorder::Event) -> bool {
        let &reorder::Event {
            acc,
            user,
            ev,
            ts,
            value,
        } = event;
        match self.state.acc {
            Some(current) if current == acc => {
                if self.state.tie_ts > ts {
                    return false;
                }
            }
            previous => {
                if let Some(previous) = previous {
                    self.finished_accounts[previous as usize] = true;
                }
                if self.finished_accounts[acc as usize] {
                    return false;
                }
            }
        }
        if self.state.is_duplicate(acc, ts, ev, user, value) {
            self.duplicates += 1;
        } else if let Some(builder) = &mut self.builder {
            let (bits, named) = (roles.bits(ev), roles.named(ev));
            builder.push(
                &mut self.state,
                acc,
                ts,
                ev,
                user,
                bits,
                named,
                value,
                signup[acc as usize],
            );
        }
        true
    }
}

/// Bit of product events in [`EventRoles`].
const PRODUCT: u64 = 1 << 62;
/// Bit of key events in [`EventRoles`].
const KEY: u64 = 1 << 61;
/// Set on every event that is not ignored.
const SEEN: u64 = 1 << 63;

/// Which event sets each event code belongs to, as bits: bit `k` for set `k` of the daily needs, plus
/// [`PRODUCT`], [`KEY`] and [`SEEN`]. Ignored events have no bit ([`IGNORED`]). Computed per code on first
/// sight.
#[derive(Clone)]
struct EventRoles {
    cache: Vec<u64>,
    ignore: Vec<u32>,
    exclusive: Vec<u32>,
    key: Vec<u32>,
    hand_raise: Vec<u32>,
    sets: Vec<SetRule>,
    /// Codes of [`DailyNeeds::named`], by index.
    named: Vec<u32>,
    /// The index in `named` of each code seen ([`NOT_NAMED`] if none).
    named_cache: Vec<u32>,
}

/// An event code that is not one of [`DailyNeeds::named`].
const NOT_NAMED: u32 = u32::MAX;
/// Not yet looked up, in [`EventRoles`]'s named cache.
const NAMED_UNKNOWN: u32 = u32::MAX - 1;

/// How membership of one daily set is decided.
#[derive(Clone, Copy)]
enum SetRule {
    Activity,
    Product,
    Key,
    HandRaise,
    Code(u32),
}

/// Not yet computed, in [`EventRoles`]'s cache.
const UNKNOWN: u64 = u64::MAX;

impl EventRoles {
    fn new(config: &Config, needs: &DailyNeeds, codes: &EventCodes) -> Result<Self, FeatureError> {
        if needs.sets.len() > 60 {
            return Err(FeatureError::Snapshots(format!(
                "{} event sets need daily counts; at most 60 are supported",
                needs.sets.len()
            )));
        }
        let exclusive: Vec<String> = config
            .events
            .hand_raise
            .iter()
            .chain(&config.events.collaboration)
            .chain(config.limits.iter().filter_map(|l| l.reached_event.as_ref()))
            .cloned()
            .collect();
        let sets = needs
            .sets
            .iter()
            .map(|set| {
                Ok(match set {
                    EventSet::Activity => SetRule::Activity,
                    EventSet::Product => SetRule::Product,
                    EventSet::Key => SetRule::Key,
                    EventSet::HandRaise => SetRule::HandRaise,
                    EventSet::Named(name) => SetRule::Code(codes.of(std::slice::from_ref(name))?[0]),
                })
            })
            .collect::<PolarsResult<_>>()?;
        Ok(EventRoles {
            cache: Vec::new(),
            ignore: codes.of(&config.events.ignore)?,
            exclusive: codes.of(&exclusive)?,
            key: codes.of(&config.events.key)?,
            hand_raise: codes.of(&config.events.hand_raise)?,
            sets,
            named: codes.of(&needs.named)?,
            named_cache: Vec::new(),
        })
    }

    /// Whether an event of this code was seen (its roles computed).
    fn seen(&self, code: u32) -> bool {
        self.cache.get(code as usize).is_some_and(|&bits| bits != UNKNOWN)
    }

    fn bits(&mut self, code: u32) -> u64 {
        let i = code as usize;
        if i >= self.cache.len() {
            self.cache.resize(i + 1, UNKNOWN);
        }
        if self.cache[i] == UNKNOWN {
            self.cache[i] = self.compute(code);
        }
        self.cache[i]
    }

    /// The index of `code` among the individually counted events, or [`NOT_NAMED`].
    fn named(&mut self, code: u32) -> u32 {
        let i = code as usize;
        if i >= self.named_cache.len() {
            self.named_cache.resize(i + 1, NAMED_UNKNOWN);
        }
        if self.named_cache[i] == NAMED_UNKNOWN {
            self.named_cache[i] = self
                .named
                .iter()
                .position(|&c| c == code)
                .map_or(NOT_NAMED, |k| k as u32);
        }
        self.named_cache[i]
    }

    fn compute(&self, code: u32) -> u64 {
        if self.ignore.contains(&code) {
            return IGNORED;
        }
        let product = !self.exclusive.contains(&code);
        // A key event in another role (hand-raise, collaboration, limit) counts in that role only.
        let is_key = product && self.key.contains(&code);
        let mut bits = SEEN;
        if product {
            bits |= PRODUCT;
        }
        if is_key {
            bits |= KEY;
        }
        for (k, rule) in self.sets.iter().enumerate() {
            let member = match *rule {
                SetRule::Activity => true,
                SetRule::Product => product,
                SetRule::Key => is_key,
                SetRule::HandRaise => self.hand_raise.contains(&code),
                SetRule::Code(c) => c == code,
            };
            if member {
                bits |= 1 << k;
            }
        }
        bits
    }
}

/// Per-account state of the ordered pass.
#[derive(Default)]
struct AccountState {
    acc: Option<u32>,
    tie_ts: i64,
    tie: Vec<(u32, u32, u64)>,
    last_ts: Option<i64>,
    seen_events: PlHashSet<u32>,
    seen_users: PlHashSet<u32>,
    recent_day: i64,
    recent_events: Vec<u32>,
    products: u32,
}

impl AccountState {
    /// Whether `ev` is new on `day` among the recent product events (true once per account, day and event).
    fn note_recent(&mut self, day: i64, ev: u32) -> bool {
        if self.recent_day != day {
            self.recent_day = day;
            self.recent_events.clear();
        }
        if self.recent_events.contains(&ev) {
            return false;
        }
        self.recent_events.push(ev);
        true
    }

    /// Whether this event repeats one already seen at the same instant (same event, user and value),
    /// entering a new account first.
    fn is_duplicate(&mut self, acc: u32, ts: i64, ev: u32, user: u32, value: f64) -> bool {
        if self.acc != Some(acc) {
            *self = AccountState {
                acc: Some(acc),
                tie: std::mem::take(&mut self.tie),
                seen_events: std::mem::take(&mut self.seen_events),
                seen_users: std::mem::take(&mut self.seen_users),
                recent_events: std::mem::take(&mut self.recent_events),
                ..AccountState::default()
            };
            self.tie.clear();
            self.seen_events.clear();
            self.seen_users.clear();
            self.recent_events.clear();
            self.recent_day = i64::MIN;
            self.tie_ts = ts;
        } else if ts != self.tie_ts {
            self.tie.clear();
            self.tie_ts = ts;
        }
        let key = (ev, user, value.to_bits());
        if self.tie.contains(&key) {
            return true;
        }
        self.tie.push(key);
        false
    }
}

/// One named event's aggregate over an account-day.
#[derive(Default)]
struct NamedDay {
    /// The index in [`DailyNeeds::named`].
    index: u32,
    /// Events.
    n: u32,
    /// The earliest, μs.
    first: i64,
    /// The latest, μs.
    last: i64,
    /// The sum of their values (0 when none has one).
    value: f64,
    /// Events with a value.
    valued: u32,
}

/// Accumulates the snapshot-independent tables during the ordered pass.
struct Builder<'a> {
    needs: &'a DailyNeeds,
    recent_days: &'a [(i64, i64)],
    current: Option<(u32, i64)>,
    counts: Vec<u32>,
    lasts: Vec<i64>,
    sessions: u32,
    d_acc: Vec<u32>,
    d_day: Vec<i32>,
    d_sessions: Vec<u32>,
    d_counts: Vec<Vec<u32>>,
    d_lasts: Vec<Vec<i64>>,
    f_acc: Vec<u32>,
    f_ev: Vec<u32>,
    f_ts: Vec<i64>,
    f_since: Vec<i64>,
    f_product: Vec<bool>,
    f_key: Vec<bool>,
    f_rank: Vec<Option<u32>>,
    u_acc: Vec<u32>,
    u_ts: Vec<i64>,
    r_acc: Vec<u32>,
    r_day: Vec<i32>,
    r_ev: Vec<u32>,
    /// The named events of the current account-day.
    day_named: Vec<NamedDay>,
    e_acc: Vec<u32>,
    e_day: Vec<i32>,
    e_ev: Vec<u32>,
    e_n: Vec<u32>,
    e_first: Vec<i64>,
    e_last: Vec<i64>,
    e_value: Vec<f64>,
    e_valued: Vec<u32>,
}

impl<'a> Builder<'a> {
    fn new(needs: &'a DailyNeeds, recent_days: &'a [(i64, i64)]) -> Self {
        let sets = needs.sets.len();
        Builder {
            needs,
            recent_days,
            current: None,
            counts: vec![0; sets],
            lasts: vec![NO_TIME; sets],
            sessions: 0,
            d_acc: Vec::new(),
            d_day: Vec::new(),
            d_sessions: Vec::new(),
            d_counts: vec![Vec::new(); sets],
            d_lasts: vec![Vec::new(); sets],
            f_acc: Vec::new(),
            f_ev: Vec::new(),
            f_ts: Vec::new(),
            f_since: Vec::new(),
            f_product: Vec::new(),
            f_key: Vec::new(),
            f_rank: Vec::new(),
            u_acc: Vec::new(),
            u_ts: Vec::new(),
            r_acc: Vec::new(),
            r_day: Vec::new(),
            r_ev: Vec::new(),
            day_named: Vec::new(),
            e_acc: Vec::new(),
            e_day: Vec::new(),
            e_ev: Vec::new(),
            e_n: Vec::new(),
            e_first: Vec::new(),
            e_last: Vec::new(),
            e_value: Vec::new(),
            e_valued: Vec::new(),
        }
    }

    /// Adds one clean event (in per-account time order).
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        state: &mut AccountState,
        acc: u32,
        ts: i64,
        ev: u32,
        user: u32,
        bits: u64,
        named: u32,
        value: f64,
        signup: i64,
    ) {
        let day = ceil_day(ts);
        if self.current != Some((acc, day)) {
            self.flush_day();
            self.current = Some((acc, day));
        }
        if state
            .last_ts
            .is_none_or(|last| ts - last > SESSION_GAP_MINUTES * 60_000_000)
        {
            self.sessions += 1;
        }
        state.last_ts = Some(ts);
        if named != NOT_NAMED {
            let at = match self.day_named.iter().position(|d| d.index == named) {
                Some(at) => at,
                None => {
                    self.day_named.push(NamedDay {
                        index: named,
                        ..NamedDay::default()
                    });
                    self.day_named.len() - 1
                }
            };
            let day = &mut self.day_named[at];
            if day.n == 0 {
                day.first = ts;
            }
            day.n += 1;
            day.last = ts;
            if !value.is_nan() {
                day.value += value;
                day.valued += 1;
            }
        }
        for k in 0..self.counts.len() {
            if bits >> k & 1 == 1 {
                self.counts[k] += 1;
                self.lasts[k] = ts;
            }
        }
        if bits & (PRODUCT | KEY) != 0 && state.seen_events.insert(ev) {
            let product = bits & PRODUCT != 0;
            if product {
                state.products += 1;
            }
            self.f_acc.push(acc);
            self.f_ev.push(ev);
            self.f_ts.push(ts);
            self.f_since.push(ts - signup);
            self.f_product.push(product);
            self.f_key.push(bits & KEY != 0);
            self.f_rank.push(product.then_some(state.products));
        }
        if user != MISSING && state.seen_users.insert(user) {
            self.u_acc.push(acc);
            self.u_ts.push(ts);
        }
        if bits & PRODUCT != 0
            && self.recent_days.iter().any(|&(from, to)| day > from && day <= to)
            && state.note_recent(day, ev)
        {
            self.r_acc.push(acc);
            self.r_day.push(day as i32);
            self.r_ev.push(ev);
        }
    }

    /// Closes the current account-day.
    fn flush_day(&mut self) {
        let Some((acc, day)) = self.current.take() else {
            return;
        };
        self.d_acc.push(acc);
        self.d_day.push(day as i32);
        self.d_sessions.push(std::mem::take(&mut self.sessions));
        for named in self.day_named.drain(..) {
            self.e_acc.push(acc);
            self.e_day.push(day as i32);
            self.e_ev.push(named.index);
            self.e_n.push(named.n);
            self.e_first.push(named.first);
            self.e_last.push(named.last);
            self.e_value.push(named.value);
            self.e_valued.push(named.valued);
        }
        for k in 0..self.counts.len() {
            self.d_counts[k].push(std::mem::take(&mut self.counts[k]));
            let last = std::mem::replace(&mut self.lasts[k], NO_TIME);
            if self.needs.with_last[k] {
                self.d_lasts[k].push(last);
            }
        }
    }

    /// The daily, first-use, users, recent and event-days tables.
    fn finish(mut self) -> PolarsResult<(DataFrame, DataFrame, DataFrame, DataFrame, DataFrame)> {
        self.flush_day();
        let periods: Vec<Column> = self
            .needs
            .limits
            .iter()
            .enumerate()
            .map(|(i, &(_, period))| {
                let ids: Vec<i32> = self
                    .d_day
                    .iter()
                    .map(|&day| period_id(i64::from(day), period) as i32)
                    .collect();
                Column::new(format!("period_{i}").into(), ids)
            })
            .collect();
        let mut columns = vec![
            Column::new("acc".into(), self.d_acc),
            Column::new("day".into(), self.d_day),
            Column::new("sessions".into(), self.d_sessions),
        ];
        for (k, counts) in self.d_counts.into_iter().enumerate() {
            columns.push(Column::new(format!("n_{k}").into(), counts));
        }
        for (k, lasts) in self.d_lasts.into_iter().enumerate() {
            if self.needs.with_last[k] {
                let lasts = Int64Chunked::from_iter_options(
                    format!("last_{k}").into(),
                    lasts.into_iter().map(|t| (t != NO_TIME).then_some(t)),
                );
                columns.push(lasts.into_column());
            }
        }
        columns.extend(periods);
        let daily = by_account(DataFrame::new_infer_height(columns)?)?;
        let first_use = by_account(DataFrame::new_infer_height(vec![
            Column::new("acc".into(), self.f_acc),
            Column::new("ev".into(), self.f_ev),
            Column::new("first_ts".into(), self.f_ts),
            Column::new("since_signup".into(), self.f_since),
            Column::new("is_product".into(), self.f_product),
            Column::new("is_key".into(), self.f_key),
            Column::new("product_rank".into(), self.f_rank),
        ])?)?;
        let users = by_account(DataFrame::new_infer_height(vec![
            Column::new("acc".into(), self.u_acc),
            Column::new("first_ts".into(), self.u_ts),
        ])?)?;
        let recent = DataFrame::new_infer_height(vec![
            Column::new("acc".into(), self.r_acc),
            Column::new("day".into(), self.r_day),
            Column::new("ev".into(), self.r_ev),
        ])?;
        let keys: Vec<u64> = self
            .e_acc
            .iter()
            .zip(&self.e_ev)
            .map(|(&acc, &ev)| event_key(acc, ev))
            .collect();
        let event_days = DataFrame::new_infer_height(vec![
            Column::new("key".into(), keys),
            Column::new("acc".into(), self.e_acc),
            Column::new("day".into(), self.e_day),
            Column::new("ev".into(), self.e_ev),
            Column::new("n".into(), self.e_n),
            Column::new("first".into(), self.e_first),
            Column::new("last".into(), self.e_last),
            Column::new("value".into(), self.e_value),
            Column::new("valued".into(), self.e_valued),
        ])?;
        let event_days = sorted_by(event_days, "key")?;
        Ok((daily, first_use, users, recent, event_days))
    }
}

/// The key of an account's event in [`Prepared::event_days`]: the account in the high bits, so keys
/// sort by account, then event.
fn event_key(acc: u32, ev: u32) -> u64 {
    (u64::from(acc) << 32) | u64::from(ev)
}

/// The account and event of an [`Prepared::event_days`] key.
pub fn account_and_event(key: u64) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

/// `frame` ordered by `acc` (each account's rows keep their order), flagged as sorted.
fn by_account(frame: DataFrame) -> PolarsResult<DataFrame> {
    sorted_by(frame, "acc")
}

/// `frame` ordered by the integer column `key` (rows with one key keep their order: by day, in every
/// table built here), and the column flagged as sorted, so that polars groups by it in runs of rows
/// instead of hashing, snapshot after snapshot.
fn sorted_by(frame: DataFrame, key: &str) -> PolarsResult<DataFrame> {
    let column = frame.column(key)?.as_materialized_series().clone();
    let ascending = {
        let values = column.cast(&DataType::UInt64)?;
        let values = values.u64()?;
        values.into_no_null_iter().is_sorted()
    };
    let mut frame = match ascending {
        true => frame,
        false => frame.sort([key], SortMultipleOptions::default().with_maintain_order(true))?,
    };
    let mut column = frame.column(key)?.as_materialized_series().clone();
    column.set_sorted_flag(polars::series::IsSorted::Ascending);
    frame.with_column(column.into_column())?;
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONDAY_2025_03_03: i64 = 20_150;

    #[test]
    fn an_event_belongs_to_the_day_that_ends_at_or_after_it() {
        let midnight = MONDAY_2025_03_03 * DAY_US;
        assert_eq!(ceil_day(midnight), MONDAY_2025_03_03);
        assert_eq!(ceil_day(midnight + 1), MONDAY_2025_03_03 + 1);
        assert_eq!(ceil_day(midnight - 1), MONDAY_2025_03_03);
    }

    #[test]
    fn periods_contain_the_calendar_day_before_the_midnight() {
        // The day ending at Monday 00:00 is Sunday: it belongs to the week that just ended.
        let monday = MONDAY_2025_03_03;
        assert_eq!(period_id(monday + 1, Period::Week), period_id(monday + 7, Period::Week));
        assert_eq!(period_id(monday, Period::Week) + 1, period_id(monday + 1, Period::Week));
        // 2025-03-01 00:00 ends February 28th; 2025-03-02 00:00 ends March 1st.
        let march_1 = monday - 2;
        assert_eq!(period_id(march_1, Period::Month), 2025 * 12 + 1);
        assert_eq!(period_id(march_1 + 1, Period::Month), 2025 * 12 + 2);
        assert_eq!(
            period_id(march_1, Period::Lifetime),
            period_id(march_1 + 400, Period::Lifetime)
        );
    }

    #[test]
    fn duplicates_are_found_among_events_at_the_same_instant() {
        let mut state = AccountState::default();
        let none = f64::NAN;
        assert!(!state.is_duplicate(1, 10, 5, 7, none));
        assert!(!state.is_duplicate(1, 10, 6, 7, none));
        assert!(state.is_duplicate(1, 10, 5, 7, none));
        assert!(!state.is_duplicate(1, 10, 5, 7, 2.5), "another value");
        assert!(state.is_duplicate(1, 10, 5, 7, 2.5));
        assert!(!state.is_duplicate(1, 11, 5, 7, none));
        assert!(!state.is_duplicate(2, 11, 5, 7, none), "another account");
    }
}
