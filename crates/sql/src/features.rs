//! The point-in-time feature query: the feature dictionary ([`FeatureDef`] records) compiled to SQL, stage
//! by stage as the polars path computes it. The events are cleaned by pql's ingestion rules and summarised
//! into per-account tables that do not depend on the snapshot (daily counts and sessions, the first use of
//! each product event, the first appearance of each user, the product events of each day); each snapshot
//! then aggregates what was known at its instant, and a final projection puts the features in dictionary
//! order with their missing-value rules. Times are compared as integer microseconds since the epoch, so
//! nothing depends on the engine's time zone.

use std::fmt::Write;

use chrono::NaiveDate;
use pql_data::config::{Config, LimitPeriod};
use pql_features::catalog::{Aggregation, EventSet, FeatureDef, Missing, Window, PLAN, SESSION_GAP_MINUTES};
use pql_features::{epoch_day, period_id, DAY_US, MAX_TS, MIN_TS};

use crate::inputs::{add_inputs, add_observation, future_from, Ctes};
use crate::{comment, number, Dialect, Relation};

/// The engine's names of the three input tables (tables or views).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// Events: account, user, event name, timestamp (columns named as in the config's `[columns]`).
    pub events: Relation,
    /// Accounts: account, signup time and the configured attributes.
    pub accounts: Relation,
    /// Conversions: account, conversion time.
    pub conversions: Relation,
}

impl Default for Tables {
    /// `events`, `accounts` and `conversions`.
    fn default() -> Self {
        let name = |name: &str| Relation::parse(name).expect("a plain name");
        Tables {
            events: name("events"),
            accounts: name("accounts"),
            conversions: name("conversions"),
        }
    }
}

/// The query of `pql features` for `defs` (the config's dictionary, e.g. with a model's levels) at 00:00 UTC
/// of each date: one row per eligible `(account_id, as_of)` with `label` and the features, in the same
/// order, units and missing-value encoding, sorted by `as_of` then `account_id`.
pub fn feature_query(
    config: &Config,
    defs: &[FeatureDef],
    dates: &[NaiveDate],
    tables: &Tables,
    dialect: Dialect,
) -> String {
    Compiler::new(config, defs, dialect).query(dates, tables)
}

/// One limit's period counts: the metered event and its period.
#[derive(PartialEq)]
struct Meter {
    event: String,
    period: LimitPeriod,
}

/// The per-snapshot aggregates one prepared table feeds, as `expression AS name` lines.
#[derive(Default)]
struct Aggregates {
    columns: Vec<String>,
}

impl Aggregates {
    fn add(&mut self, expression: String, name: String) {
        self.columns.push(format!("{expression} AS {name}"));
    }

    fn is_used(&self) -> bool {
        !self.columns.is_empty()
    }

    fn list(&self) -> String {
        self.columns.join(",\n    ")
    }
}

struct Compiler<'a> {
    config: &'a Config,
    defs: &'a [FeatureDef],
    dialect: Dialect,
    /// Event sets counted per day, by index `k` of their `n_<k>` column.
    sets: Vec<EventSet>,
    /// Whether set `k` keeps its latest time in `last_<k>`.
    with_last: Vec<bool>,
    /// Whether set `k` sums its events' values in `v_<k>` and counts those with one in `c_<k>`.
    with_values: Vec<bool>,
    /// Whether set `k` keeps its earliest time in `first_<k>`.
    with_first: Vec<bool>,
    /// Limit meters, by index `i` of their `period_<i>` columns and `at_limit_<i>` table.
    meters: Vec<Meter>,
}

impl<'a> Compiler<'a> {
    fn new(config: &'a Config, defs: &'a [FeatureDef], dialect: Dialect) -> Self {
        let mut compiler = Compiler {
            config,
            defs,
            dialect,
            sets: Vec::new(),
            with_last: Vec::new(),
            with_values: Vec::new(),
            with_first: Vec::new(),
            meters: Vec::new(),
        };
        for def in defs {
            let set = match &def.aggregation {
                Aggregation::Count | Aggregation::ActiveDays | Aggregation::DaysSinceLast | Aggregation::Trend(_) => {
                    def.events.clone()
                }
                Aggregation::LimitUsage { event, period, .. } | Aggregation::LimitMaxUsage { event, period, .. } => {
                    let meter = Meter {
                        event: event.clone(),
                        period: *period,
                    };
                    if !compiler.meters.contains(&meter) {
                        compiler.meters.push(meter);
                    }
                    EventSet::Named(event.clone())
                }
                Aggregation::ValueSum | Aggregation::ValueMean => {
                    let k = compiler.set_index(&def.events, false);
                    compiler.with_values[k] = true;
                    continue;
                }
                Aggregation::DaysToFirst | Aggregation::FirstWithin(_) if named(def) => {
                    let k = compiler.set_index(&def.events, false);
                    compiler.with_first[k] = true;
                    continue;
                }
                _ => continue,
            };
            compiler.set_index(&set, def.aggregation == Aggregation::DaysSinceLast);
        }
        compiler
    }

    /// The index of `set` among the daily counts, adding it if new.
    fn set_index(&mut self, set: &EventSet, with_last: bool) -> usize {
        match self.sets.iter().position(|s| s == set) {
            Some(k) => {
                self.with_last[k] |= with_last;
                k
            }
            None => {
                self.sets.push(set.clone());
                self.with_last.push(with_last);
                self.with_values.push(false);
                self.with_first.push(false);
                self.sets.len() - 1
            }
        }
    }

    fn k(&self, set: &EventSet) -> usize {
        self.sets
            .iter()
            .position(|s| s == set)
            .expect("every set read is counted")
    }

    fn q(&self, name: &str) -> String {
        self.dialect.quote(name)
    }

    fn text(&self, value: &str) -> String {
        self.dialect.string(value)
    }

    fn is_in(&self, column: &str, values: &[String]) -> String {
        self.dialect.is_in(column, values)
    }

    /// `value` for accounts on one of `plans` (every account when empty), 0 for the others.
    fn on_plans(&self, value: &str, plans: &[String]) -> String {
        match plans.is_empty() {
            true => value.to_string(),
            false => format!(
                "CASE WHEN {} THEN {value} ELSE 0 END",
                self.is_in(&format!("e.{}", self.q(PLAN)), plans)
            ),
        }
    }

    /// Microseconds as days, a double.
    fn days(&self, micros: &str) -> String {
        format!("CAST({micros} AS DOUBLE) / {}", number(DAY_US as f64))
    }

    /// Whether an event of the current row belongs to `set` (in `events_marked`).
    fn member(&self, set: &EventSet) -> String {
        match set {
            EventSet::Activity => "TRUE".into(),
            EventSet::Product => "is_product".into(),
            EventSet::Key => "is_key".into(),
            EventSet::HandRaise => self.is_in("event", &self.config.events.hand_raise),
            EventSet::Named(event) => format!("event = {}", self.text(event)),
        }
    }

    /// The id of the limit period holding the calendar day that ends at midnight `day` (epoch days).
    fn period(&self, day: &str, period: LimitPeriod) -> String {
        match period {
            // Monday-start weeks: 1970-01-01 was a Thursday.
            LimitPeriod::Week => self.dialect.int_div(&format!("{day} + 2"), "7"),
            LimitPeriod::Month => {
                let date = self.dialect.date_of_epoch_day(&format!("{day} - 1"));
                format!("year({date}) * 12 + month({date}) - 1")
            }
            LimitPeriod::Lifetime => "0".into(),
        }
    }

    /// A window as a condition on the day `d.day`, relative to the snapshot day `s.day`; `None` where the
    /// polars path reads every day up to the snapshot.
    fn on_days(window: Window) -> Option<String> {
        match window {
            Window::Lifetime | Window::FirstDaysAfterSignup(_) => None,
            Window::LastDays(n) => Some(format!("d.day > s.day - {n}")),
            Window::Between { from, to } => Some(format!("d.day > s.day - {to} AND d.day <= s.day - {from}")),
        }
    }

    /// `values` on the window's days (NULL on others).
    fn on_days_only(values: &str, window: Window) -> String {
        match Self::on_days(window) {
            None => values.to_string(),
            Some(condition) => format!("CASE WHEN {condition} THEN {values} END"),
        }
    }

    fn query(&self, dates: &[NaiveDate], tables: &Tables) -> String {
        let d = self.dialect;
        let mut ctes = Ctes::default();

        // Snapshots: the instant T, the end of its label horizon, and the current period of every limit.
        let horizon = i64::from(self.config.label.horizon_days) * DAY_US;
        let rows: Vec<String> = dates
            .iter()
            .map(|date| {
                let k = epoch_day(*date);
                let mut row = format!(
                    "SELECT {k} AS day, {} AS t, {} AS horizon_end",
                    k * DAY_US,
                    k * DAY_US + horizon
                );
                for (i, meter) in self.meters.iter().enumerate() {
                    let _ = write!(row, ", {} AS period_{i}", period_id(k, meter.period));
                }
                let _ = write!(row, "  -- {date}");
                row
            })
            .collect();
        ctes.add(
            "snapshots",
            "00:00 UTC of each as_of date (epoch day and microseconds), with its horizon's end and limit periods",
            rows.join("\n  UNION ALL "),
        );

        add_inputs(&mut ctes, self.config, tables, d);
        ctes.add(
            "accounts_all",
            "accounts with their first conversion",
            "SELECT a.*, c.converted\n  FROM accounts_in a\n  \
             LEFT JOIN (SELECT account_id, MIN(converted) AS converted FROM conversions_in GROUP BY account_id) c\n    \
             ON c.account_id = a.account_id"
                .into(),
        );

        let ignored = match self.config.events.ignore.is_empty() {
            true => String::new(),
            false => format!("\n    AND NOT {}", self.is_in("e.event", &self.config.events.ignore)),
        };
        ctes.add(
            "events_clean",
            "the events pql uses: named and timed in years 1 to 9999, not in the future, of a known account, not \
             ignored, not before signup; exact duplicates once",
            format!(
                "SELECT DISTINCT e.account_id, e.user_id, e.event, e.ts, e.value\n  FROM events_in e\n  \
                 JOIN accounts_in a ON a.account_id = e.account_id\n  \
                 WHERE e.event IS NOT NULL AND e.ts >= {MIN_TS} AND e.ts < {MAX_TS} AND e.ts <= {future}\n    \
                 AND e.ts >= a.signup{ignored}",
                future = future_from(d),
            ),
        );

        let exclusive: Vec<String> = self
            .config
            .events
            .hand_raise
            .iter()
            .chain(&self.config.events.collaboration)
            .chain(self.config.limits.iter().filter_map(|l| l.reached_event.as_ref()))
            .cloned()
            .collect();
        let product = match exclusive.is_empty() {
            true => "TRUE".to_string(),
            false => format!("NOT {}", self.is_in("event", &exclusive)),
        };
        ctes.add(
            "events_marked",
            "each event's day (the one whose ending midnight is at or after it), whether it starts a session \
             (more than the gap after the account's previous event), and its product and key roles",
            format!(
                "SELECT account_id, user_id, event, ts, value,\n    {day} AS day,\n    \
                 CASE WHEN ts - LAG(ts) OVER (PARTITION BY account_id ORDER BY ts) <= {gap} THEN 0 ELSE 1 END AS session_start,\n    \
                 {product} AS is_product,\n    ({product}) AND {key} AS is_key\n  FROM events_clean",
                day = d.int_div(&format!("ts + {}", DAY_US - 1), &DAY_US.to_string()),
                gap = SESSION_GAP_MINUTES * 60_000_000,
                key = self.is_in("event", &self.config.events.key),
            ),
        );
        add_observation(&mut ctes, self.config, d, "SELECT MAX(ts) AS latest FROM events_clean");

        let mut daily_columns = vec![("SUM(session_start) AS sessions".to_string(), String::new())];
        for (k, set) in self.sets.iter().enumerate() {
            let count = match set {
                EventSet::Activity => "COUNT(*)".to_string(),
                set => format!("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", self.member(set)),
            };
            daily_columns.push((format!("{count} AS n_{k}"), format!("{} events", set_words(set))));
            if self.with_last[k] {
                let last = match set {
                    EventSet::Activity => "MAX(ts)".to_string(),
                    set => format!("MAX(CASE WHEN {} THEN ts END)", self.member(set)),
                };
                daily_columns.push((
                    format!("{last} AS last_{k}"),
                    format!("latest {} event", set_words(set)),
                ));
            }
            if self.with_first[k] {
                daily_columns.push((
                    format!("MIN(CASE WHEN {} THEN ts END) AS first_{k}", self.member(set)),
                    format!("earliest {} event", set_words(set)),
                ));
            }
            if self.with_values[k] {
                let member = self.member(set);
                daily_columns.push((
                    format!("SUM(CASE WHEN {member} THEN COALESCE(value, 0) ELSE 0 END) AS v_{k}"),
                    format!("sum of the {} events' values", set_words(set)),
                ));
                daily_columns.push((
                    format!("SUM(CASE WHEN {member} AND value IS NOT NULL THEN 1 ELSE 0 END) AS c_{k}"),
                    format!("{} events with a value", set_words(set)),
                ));
            }
        }
        for (i, meter) in self.meters.iter().enumerate() {
            daily_columns.push((
                format!("{} AS period_{i}", self.period("day", meter.period)),
                format!("{} of {:?}", meter.period, meter.event),
            ));
        }
        let last = daily_columns.len() - 1;
        let daily_columns: Vec<String> = daily_columns
            .into_iter()
            .enumerate()
            .map(|(i, (column, text))| {
                let comma = if i < last { "," } else { "" };
                match text.is_empty() {
                    true => format!("{column}{comma}"),
                    false => format!("{column}{comma}  {}", comment(&text)),
                }
            })
            .collect();
        ctes.add(
            "daily",
            "per account and day: sessions started, events of each set counted, latest times, limit periods",
            format!(
                "SELECT account_id, day,\n    {}\n  FROM events_marked\n  GROUP BY account_id, day",
                daily_columns.join("\n    ")
            ),
        );

        let mut daily = Aggregates::default();
        let mut first = Aggregates::default();
        let mut recent = Aggregates::default();
        let mut users = Aggregates::default();
        let mut finals: Vec<String> = Vec::new();
        let mut catalog_size = false;
        let mut widest_recent = 0;
        let tenure = self.days("e.t - e.signup");
        for def in self.defs {
            let name = self.q(&def.name);
            let value = match &def.aggregation {
                Aggregation::Tenure => tenure.clone(),
                Aggregation::Count => {
                    let n = format!("d.n_{}", self.k(&def.events));
                    daily.add(format!("SUM({})", Self::on_days_only(&n, def.window)), name.clone());
                    format!("d.{name}")
                }
                Aggregation::ActiveDays => {
                    let mut active = format!("d.n_{} > 0", self.k(&def.events));
                    if let Some(window) = Self::on_days(def.window) {
                        let _ = write!(active, " AND {window}");
                    }
                    daily.add(format!("SUM(CASE WHEN {active} THEN 1 ELSE 0 END)"), name.clone());
                    format!("d.{name}")
                }
                Aggregation::Sessions => {
                    daily.add(
                        format!("SUM({})", Self::on_days_only("d.sessions", def.window)),
                        name.clone(),
                    );
                    format!("d.{name}")
                }
                Aggregation::DaysSinceLast => {
                    daily.add(format!("MAX(d.last_{})", self.k(&def.events)), name.clone());
                    self.days(&format!("e.t - d.{name}"))
                }
                Aggregation::ValueSum => {
                    let v = format!("d.v_{}", self.k(&def.events));
                    daily.add(format!("SUM({})", Self::on_days_only(&v, def.window)), name.clone());
                    format!("d.{name}")
                }
                Aggregation::ValueMean => {
                    let k = self.k(&def.events);
                    let (v, c) = (format!("d.v_{k}"), format!("d.c_{k}"));
                    let (v, c) = (Self::on_days_only(&v, def.window), Self::on_days_only(&c, def.window));
                    daily.add(
                        format!("CASE WHEN SUM({c}) > 0 THEN SUM({v}) / SUM({c}) END"),
                        name.clone(),
                    );
                    format!("d.{name}")
                }
                Aggregation::DistinctEvents => match def.window {
                    Window::LastDays(n) => {
                        widest_recent = widest_recent.max(n);
                        recent.add(
                            format!("COUNT(DISTINCT CASE WHEN p.day > s.day - {n} THEN p.event END)"),
                            name.clone(),
                        );
                        format!("p.{name}")
                    }
                    Window::FirstDaysAfterSignup(n) => {
                        first.add(
                            format!(
                                "SUM(CASE WHEN f.since_signup <= {} THEN 1 ELSE 0 END)",
                                i64::from(n) * DAY_US
                            ),
                            name.clone(),
                        );
                        format!("f.{name}")
                    }
                    _ => {
                        first.add("COUNT(*)".into(), name.clone());
                        format!("f.{name}")
                    }
                },
                Aggregation::DistinctShare => {
                    catalog_size = true;
                    first.add("COUNT(*)".into(), name.clone());
                    format!("CASE WHEN c.products > 0 THEN CAST(f.{name} AS DOUBLE) / c.products ELSE 0 END")
                }
                Aggregation::DaysToFirst | Aggregation::FirstWithin(_) if named(def) => {
                    daily.add(format!("MIN(d.first_{})", self.k(&def.events)), name.clone());
                    let since = self.days(&format!("d.{name} - e.signup"));
                    match def.aggregation {
                        Aggregation::FirstWithin(n) => within_days(&since, n),
                        _ => non_negative(&since),
                    }
                }
                Aggregation::DaysToFirst => {
                    first.add("MIN(CASE WHEN f.is_key THEN f.since_signup END)".into(), name.clone());
                    non_negative(&self.days(&format!("f.{name}")))
                }
                Aggregation::FirstWithin(n) => {
                    first.add("MIN(CASE WHEN f.is_key THEN f.since_signup END)".into(), name.clone());
                    within_days(&self.days(&format!("f.{name}")), *n)
                }
                Aggregation::DaysToNthDistinct(n) => {
                    first.add(
                        format!("MIN(CASE WHEN f.product_rank = {n} THEN f.since_signup END)"),
                        name.clone(),
                    );
                    non_negative(&self.days(&format!("f.{name}")))
                }
                Aggregation::DistinctUsers => {
                    users.add("COUNT(*)".into(), name.clone());
                    format!("u.{name}")
                }
                Aggregation::LimitUsage {
                    event,
                    limit,
                    period,
                    plans,
                }
                | Aggregation::LimitMaxUsage {
                    event,
                    limit,
                    period,
                    plans,
                } => {
                    let i = self
                        .meters
                        .iter()
                        .position(|m| m.event == *event && m.period == *period)
                        .expect("every limit is metered");
                    let column = match def.aggregation {
                        Aggregation::LimitUsage { .. } => "current_n",
                        _ => "max_n",
                    };
                    self.on_plans(
                        &format!("CAST(l{i}.{column} AS DOUBLE) / {}", number(*limit as f64)),
                        plans,
                    )
                }
                Aggregation::TrialDaysLeft { days, trial } => self.on_plans(
                    &non_negative(&format!("{} - {tenure}", number(f64::from(*days)))),
                    trial,
                ),
                Aggregation::Trend(n) => {
                    let count = format!("d.n_{}", self.k(&def.events));
                    let recent = self.q(&format!("{}__recent", def.name));
                    let before = self.q(&format!("{}__before", def.name));
                    daily.add(
                        format!("SUM({})", Self::on_days_only(&count, Window::LastDays(*n))),
                        recent.clone(),
                    );
                    daily.add(
                        format!(
                            "SUM({})",
                            Self::on_days_only(&count, Window::Between { from: *n, to: 2 * n })
                        ),
                        before.clone(),
                    );
                    let (a, b) = (
                        format!("CAST(COALESCE(d.{recent}, 0) AS DOUBLE)"),
                        format!("CAST(COALESCE(d.{before}, 0) AS DOUBLE)"),
                    );
                    format!("CASE WHEN {a} + {b} > 0 THEN ({a} - {b}) / ({a} + {b}) ELSE 0 END")
                }
                Aggregation::NumericAttribute(attribute) => format!("e.{}", self.q(attribute)),
                Aggregation::AttributeMissing(attribute) => {
                    format!("CASE WHEN e.{} IS NULL THEN 1 ELSE 0 END", self.q(attribute))
                }
                Aggregation::AttributeLevel { attribute, level } => {
                    format!(
                        "CASE WHEN e.{} = {} THEN 1 ELSE 0 END",
                        self.q(attribute),
                        self.text(level)
                    )
                }
                Aggregation::AttributeOther { attribute, levels } => {
                    let column = format!("e.{}", self.q(attribute));
                    let known = match levels.is_empty() {
                        true => String::new(),
                        false => format!(" AND NOT {}", self.is_in(&column, levels)),
                    };
                    format!("CASE WHEN {column} IS NOT NULL{known} THEN 1 ELSE 0 END")
                }
            };
            let value = match def.missing {
                Missing::Zero => format!("COALESCE({value}, 0)"),
                Missing::Tenure => format!("COALESCE({value}, {tenure})"),
            };
            let value = match def.threshold {
                Some(threshold) => format!("CASE WHEN {value} >= {} THEN 1 ELSE 0 END", number(threshold)),
                None => value,
            };
            finals.push(format!("CAST({value} AS DOUBLE) AS {name}"));
        }

        let mut joins = String::new();
        if first.is_used() || catalog_size {
            ctes.add(
                "first_use",
                "the first use of each product event by each account, numbered in time order",
                "SELECT f.account_id, f.event, f.first_ts, f.first_ts - a.signup AS since_signup, f.is_key,\n    \
                 ROW_NUMBER() OVER (PARTITION BY f.account_id ORDER BY f.first_ts) AS product_rank\n  FROM (\n    \
                 SELECT account_id, event, is_key, MIN(ts) AS first_ts\n    FROM events_marked\n    \
                 WHERE is_product\n    GROUP BY account_id, event, is_key\n  ) f\n  \
                 JOIN accounts_in a ON a.account_id = f.account_id"
                    .into(),
            );
        }
        if users.is_used() {
            ctes.add(
                "users",
                "the first appearance of each user of each account",
                "SELECT account_id, user_id, MIN(ts) AS first_ts\n  FROM events_marked\n  \
                 WHERE user_id IS NOT NULL\n  GROUP BY account_id, user_id"
                    .into(),
            );
        }
        if recent.is_used() {
            ctes.add(
                "product_days",
                "the product events each account used on each day",
                "SELECT DISTINCT account_id, day, event\n  FROM events_marked\n  WHERE is_product".into(),
            );
        }
        ctes.add(
            "eligible",
            "accounts signed up and not yet converted at T, with the label: converted within the horizon, NULL \
             when the horizon ends after the data",
            "SELECT s.day AS k, s.t, a.*,\n    \
             CASE WHEN o.observation_end IS NULL OR s.horizon_end > o.observation_end THEN NULL\n      \
             WHEN a.converted <= s.horizon_end THEN 1 ELSE 0 END AS label\n  \
             FROM snapshots s\n  \
             JOIN accounts_all a ON a.signup <= s.t AND (a.converted IS NULL OR a.converted > s.t)\n  \
             CROSS JOIN observation o"
                .into(),
        );
        let mut per_snapshot = |name: &str, alias: &str, comment: &str, aggregates: &Aggregates, source: &str| {
            ctes.add(
                name,
                comment,
                format!(
                    "SELECT s.day AS k, {alias}.account_id,\n    {}\n  FROM snapshots s\n  JOIN {source}\n  \
                     GROUP BY s.day, {alias}.account_id",
                    aggregates.list()
                ),
            );
            let _ = write!(
                joins,
                "\nLEFT JOIN {name} {alias} ON {alias}.k = e.k AND {alias}.account_id = e.account_id"
            );
        };
        if daily.is_used() {
            per_snapshot(
                "at_daily",
                "d",
                "counts, active days, sessions and latest times up to T",
                &daily,
                "daily d ON d.day <= s.day",
            );
        }
        if first.is_used() {
            per_snapshot(
                "at_first_use",
                "f",
                "breadth and adoption speed from the first uses up to T",
                &first,
                "first_use f ON f.first_ts <= s.t",
            );
        }
        if users.is_used() {
            per_snapshot(
                "at_users",
                "u",
                "users seen up to T",
                &users,
                "users u ON u.first_ts <= s.t",
            );
        }
        if recent.is_used() {
            per_snapshot(
                "at_product_days",
                "p",
                "distinct product events in the last days before T",
                &recent,
                &format!("product_days p ON p.day <= s.day AND p.day > s.day - {widest_recent}"),
            );
        }
        if catalog_size {
            ctes.add(
                "at_catalog",
                "the product events any account had used by T",
                "SELECT s.day AS k, COUNT(DISTINCT f.event) AS products\n  FROM snapshots s\n  \
                 JOIN first_use f ON f.first_ts <= s.t\n  GROUP BY s.day"
                    .into(),
            );
            joins.push_str("\nLEFT JOIN at_catalog c ON c.k = e.k");
        }
        for (i, meter) in self.meters.iter().enumerate() {
            let n = format!("n_{}", self.k(&EventSet::Named(meter.event.clone())));
            ctes.add(
                &format!("at_limit_{i}"),
                &format!(
                    "{:?} per {} up to T: in the current period and the most in any",
                    meter.event, meter.period
                ),
                format!(
                    "SELECT k, account_id,\n    MAX(CASE WHEN period = current_period THEN n END) AS current_n,\n    \
                     MAX(n) AS max_n\n  FROM (\n    \
                     SELECT s.day AS k, s.period_{i} AS current_period, d.account_id, d.period_{i} AS period, \
                     SUM(d.{n}) AS n\n    FROM snapshots s\n    JOIN daily d ON d.day <= s.day\n    \
                     GROUP BY s.day, s.period_{i}, d.account_id, d.period_{i}\n  ) p\n  GROUP BY k, account_id"
                ),
            );
            let _ = write!(
                joins,
                "\nLEFT JOIN at_limit_{i} l{i} ON l{i}.k = e.k AND l{i}.account_id = e.account_id"
            );
        }

        ctes.then(&format!(
            "SELECT e.account_id, {as_of} AS as_of, CAST(e.label AS INT) AS label,\n  {features}\n\
             FROM eligible e{joins}\nORDER BY e.k, e.account_id",
            as_of = d.timestamp_of_us("e.t"),
            features = finals.join(",\n  "),
        ))
    }
}

/// An event set as comments name it: the events of a named set quoted (see [`comment`]).
fn set_words(set: &EventSet) -> String {
    match set {
        EventSet::Named(event) => format!("{event:?}"),
        set => set.to_string(),
    }
}

/// Whether a definition reads one named event (not a role's events).
fn named(def: &FeatureDef) -> bool {
    matches!(def.events, EventSet::Named(_))
}

/// 1 when `since_signup` (days, NULL when the event never came) is at most `n`, else 0.
fn within_days(since_signup: &str, n: u32) -> String {
    format!("CASE WHEN {since_signup} <= {n} THEN 1 ELSE 0 END")
}

/// Negative values clipped to zero, NULL kept.
fn non_negative(value: &str) -> String {
    format!("CASE WHEN {value} < 0 THEN 0 ELSE {value} END")
}
