//! The compiler from [`FeatureDef`] records to polars expressions, and the per-snapshot query that runs them.
//!
//! Each aggregation reads the prepared table that holds what it needs (daily aggregates, first uses, users,
//! recent product events) filtered to what was known at `T`; a final projection turns the aggregates into
//! the features in dictionary order, applying each record's missing-value rule.

use polars::prelude::*;

use crate::catalog::{Aggregation, EventSet, FeatureDef, Missing, Window, PLAN};
use crate::prepare::{account_and_event, period_id, DailyNeeds, Prepared, DAY_US};

/// Whether a definition reads one event's own counts ([`Prepared::event_days`]) rather than the daily table.
fn reads_event_days(def: &FeatureDef) -> Option<&str> {
    match (&def.events, &def.aggregation) {
        (
            EventSet::Named(event),
            Aggregation::Count
            | Aggregation::ActiveDays
            | Aggregation::DaysSinceLast
            | Aggregation::DaysToFirst
            | Aggregation::FirstWithin(_)
            | Aggregation::ValueSum
            | Aggregation::ValueMean,
        ) => Some(event),
        _ => None,
    }
}

/// What the prepared tables must hold for the definitions: the event sets the daily table counts (with
/// their latest time where a "days since" reads it), the limit periods, and the events counted one by one.
pub fn daily_needs(defs: &[FeatureDef], config: &pql_data::Config) -> DailyNeeds {
    let mut needs = DailyNeeds {
        sets: Vec::new(),
        with_last: Vec::new(),
        limits: config.limits.iter().map(|l| (l.event.clone(), l.period)).collect(),
        named: Vec::new(),
    };
    for def in defs {
        if let Some(event) = reads_event_days(def) {
            if !needs.named.iter().any(|e| e == event) {
                needs.named.push(event.to_string());
            }
            continue;
        }
        let set = match &def.aggregation {
            Aggregation::Count | Aggregation::ActiveDays | Aggregation::DaysSinceLast | Aggregation::Trend(_) => {
                def.events.clone()
            }
            Aggregation::LimitUsage { event, .. } | Aggregation::LimitMaxUsage { event, .. } => {
                EventSet::Named(event.clone())
            }
            _ => continue,
        };
        let last = def.aggregation == Aggregation::DaysSinceLast;
        match needs.sets.iter().position(|s| *s == set) {
            Some(k) => needs.with_last[k] |= last,
            None => {
                needs.sets.push(set);
                needs.with_last.push(last);
            }
        }
    }
    needs
}

/// The day spans `(first, last]` (epoch days) the windowed distinct-event features of these snapshots read.
pub fn recent_spans(defs: &[FeatureDef], snapshot_days: &[i64]) -> Vec<(i64, i64)> {
    let widest = defs
        .iter()
        .filter_map(|d| match (&d.aggregation, d.window) {
            (Aggregation::DistinctEvents, Window::LastDays(n)) => Some(i64::from(n)),
            _ => None,
        })
        .max();
    match widest {
        Some(n) => snapshot_days.iter().map(|&k| (k - n, k)).collect(),
        None => Vec::new(),
    }
}

/// The window as a predicate on the daily table's `day` for snapshot day `k`.
fn on_days(window: Window, k: i64) -> Expr {
    match window {
        Window::Lifetime | Window::FirstDaysAfterSignup(_) => lit(true),
        Window::LastDays(n) => col("day").gt(lit(k - i64::from(n))),
        Window::Between { from, to } => col("day")
            .gt(lit(k - i64::from(to)))
            .and(col("day").lt_eq(lit(k - i64::from(from)))),
    }
}

/// Distinct product events any account had used by `t`.
fn product_catalog_size(prepared: &Prepared, t: i64) -> f64 {
    prepared.catalog.partition_point(|&first| first <= t) as f64
}

/// `values` on the days of the window, null on others (the daily table is already cut at `k`).
fn on_days_only(values: Expr, window: Window, k: i64) -> Expr {
    match window {
        Window::Lifetime | Window::FirstDaysAfterSignup(_) => values,
        _ => where_(on_days(window, k), values),
    }
}

/// Per-account aggregations of one prepared table. Inputs are computed as columns first and then reduced
/// with plain sums, minima and maxima, which polars runs on its fast grouped kernels.
#[derive(Default)]
struct Aggregates {
    inputs: Vec<Expr>,
    reductions: Vec<Expr>,
}

impl Aggregates {
    fn add(&mut self, name: &str, input: Expr, reduce: fn(Expr) -> Expr) {
        let column = format!("{name}_in");
        self.inputs.push(input.alias(&column));
        self.reductions.push(reduce(col(&column)).alias(name));
    }

    fn sum(&mut self, name: &str, input: Expr) {
        self.add(name, input, |c| c.sum().cast(DataType::Float64));
    }

    fn min(&mut self, name: &str, input: Expr) {
        self.add(name, input, Expr::min);
    }

    fn max(&mut self, name: &str, input: Expr) {
        self.add(name, input, Expr::max);
    }

    /// The per-account aggregates over `table`, or `None` when nothing reads it.
    fn over(self, table: LazyFrame) -> Option<LazyFrame> {
        if self.inputs.is_empty() {
            return None;
        }
        let mut inputs = vec![col("acc")];
        inputs.extend(self.inputs);
        Some(table.select(inputs).group_by([col("acc")]).agg(self.reductions))
    }
}

/// The per-account aggregates of the individually counted events: one grouped pass over
/// [`Prepared::event_days`] by account and event, then one frame per event with its columns.
#[derive(Default)]
struct EventDayAggregates {
    /// The grouped aggregations, named `a<j>`.
    aggregations: Vec<Expr>,
    /// For each event index: (aggregation column, output column).
    outputs: Vec<(u32, String, String)>,
}

impl EventDayAggregates {
    /// Adds the aggregate `def` (a count, active days, latest or first time, value sum or mean of event
    /// `index`) as column `name`, and returns it.
    fn add(&mut self, index: usize, name: &str, def: &FeatureDef, k: i64) -> Expr {
        let sum = |column: &str| on_days_only(col(column), def.window, k).sum().cast(DataType::Float64);
        let aggregation = match def.aggregation {
            Aggregation::Count => sum("n"),
            Aggregation::ActiveDays => col("n")
                .gt(lit(0))
                .and(on_days(def.window, k))
                .cast(DataType::UInt32)
                .sum(),
            Aggregation::ValueSum => sum("value"),
            Aggregation::ValueMean => where_(sum("valued").gt(lit(0.0)), sum("value") / sum("valued")),
            Aggregation::DaysToFirst | Aggregation::FirstWithin(_) => col("first").min(),
            _ => col("last").max(),
        };
        let position = match self.aggregations.iter().position(|a| *a == aggregation) {
            Some(j) => j,
            None => {
                self.aggregations.push(aggregation);
                self.aggregations.len() - 1
            }
        };
        self.outputs
            .push((index as u32, format!("a{position}"), name.to_string()));
        col(name)
    }

    /// One frame with `acc` and every output column (as `f64`) for the `accounts` accounts from index
    /// `first`, over the rows up to day `k`, built eagerly from one grouped pass: a lazy join per event
    /// would nest the plan once per event.
    fn frame(self, event_days: &DataFrame, first: u32, accounts: usize, k: i64) -> PolarsResult<Option<LazyFrame>> {
        if self.outputs.is_empty() {
            return Ok(None);
        }
        let aggregations: Vec<Expr> = self
            .aggregations
            .into_iter()
            .enumerate()
            .map(|(j, a)| a.cast(DataType::Float64).alias(format!("a{j}")))
            .collect();
        let grouped = event_days
            .clone()
            .lazy()
            .filter(col("day").lt_eq(lit(k)))
            .group_by([col("key")])
            .agg(aggregations)
            .collect()?;
        let keys = grouped.column("key")?.u64()?;
        let mut by_event: Vec<Vec<usize>> = Vec::new();
        let mut sources = Vec::with_capacity(self.outputs.len());
        for (o, (event, from, _)) in self.outputs.iter().enumerate() {
            let event = *event as usize;
            if by_event.len() <= event {
                by_event.resize(event + 1, Vec::new());
            }
            by_event[event].push(o);
            sources.push(grouped.column(from)?.f64()?);
        }
        let mut values: Vec<Vec<Option<f64>>> = vec![vec![None; accounts]; self.outputs.len()];
        for (key, row) in keys.into_no_null_iter().zip(0..) {
            let (acc, ev) = account_and_event(key);
            for &o in by_event.get(ev as usize).map_or(&[][..], Vec::as_slice) {
                values[o][(acc - first) as usize] = sources[o].get(row);
            }
        }
        let mut columns = vec![Column::new(
            "acc".into(),
            (first..first + accounts as u32).collect::<Vec<_>>(),
        )];
        columns.extend(
            self.outputs
                .iter()
                .zip(values)
                .map(|((_, _, to), v)| Column::new(to.as_str().into(), v)),
        );
        Ok(Some(DataFrame::new(accounts, columns)?.lazy()))
    }
}

/// `value` where `condition` holds, null elsewhere: a filter that keeps aggregations on polars' fast path.
fn where_(condition: Expr, value: Expr) -> Expr {
    when(condition).then(value).otherwise(lit(NULL))
}

/// Clips negative values to zero, keeping nulls.
fn non_negative(expr: Expr) -> Expr {
    when(expr.clone().lt(lit(0.0))).then(lit(0.0)).otherwise(expr)
}

/// The feature column of `value`: its missing-value rule applied, then its milestone threshold.
fn finish(value: Expr, def: &FeatureDef, tenure: &Expr) -> Expr {
    let value = match def.missing {
        Missing::Zero => value.fill_null(lit(0.0)),
        Missing::Tenure => value.fill_null(tenure.clone()),
    };
    let value = match def.threshold {
        Some(threshold) => value.gt_eq(lit(threshold)),
        None => value,
    };
    value.cast(DataType::Float64).alias(def.name.as_str())
}

/// 1 where `since_signup` (days, null when the event never came) is at most `n` days, else 0.
fn within_days(since_signup: Expr, n: u32) -> Expr {
    since_signup
        .lt_eq(lit(f64::from(n)))
        .fill_null(lit(false))
        .cast(DataType::Float64)
}

/// `value` for accounts on one of `plans` (every account when empty), 0 for the others.
fn on_plans(value: Expr, plans: &[String]) -> Expr {
    if plans.is_empty() {
        return value;
    }
    let plans = Series::new("plans".into(), plans);
    when(col(PLAN).is_in(lit(plans).implode(false), false).fill_null(lit(false)))
        .then(value)
        .otherwise(lit(0.0))
}

fn days(expr: Expr) -> Expr {
    expr.cast(DataType::Float64) / lit(DAY_US as f64)
}

/// Computes the feature rows of one snapshot for the accounts of `prepared`: those eligible at `T` =
/// midnight starting epoch day `k`, with label (none when `T + horizon` is after `observation_end`) and
/// features in `defs` order.
pub fn snapshot(
    prepared: &Prepared,
    defs: &[FeatureDef],
    k: i64,
    horizon_days: u32,
    observation_end: i64,
) -> PolarsResult<DataFrame> {
    let t = k * DAY_US;
    let horizon_end = t + i64::from(horizon_days) * DAY_US;
    let set_index = |set: &EventSet| {
        prepared
            .needs
            .sets
            .iter()
            .position(|s| s == set)
            .expect("daily_needs lists every set the definitions read")
    };

    let mut daily = Aggregates::default();
    let mut first = Aggregates::default();
    let mut extra_frames: Vec<LazyFrame> = Vec::new();
    let mut finals: Vec<Expr> = Vec::new();

    let tenure = days(lit(t) - col("signup"));
    let mut per_event = EventDayAggregates::default();
    for (i, def) in defs.iter().enumerate() {
        let tmp = format!("__{i}");
        if let Some(event) = reads_event_days(def) {
            let index = prepared
                .needs
                .named
                .iter()
                .position(|e| e == event)
                .expect("daily_needs lists every named event");
            let value = per_event.add(index, &tmp, def, k);
            let value = match def.aggregation {
                Aggregation::DaysSinceLast => days(lit(t) - value),
                Aggregation::DaysToFirst => non_negative(days(value - col("signup"))),
                Aggregation::FirstWithin(n) => within_days(days(value - col("signup")), n),
                _ => value,
            };
            finals.push(finish(value, def, &tenure));
            continue;
        }
        let value = match &def.aggregation {
            Aggregation::Tenure => tenure.clone(),
            Aggregation::Count => {
                let k_set = set_index(&def.events);
                daily.sum(&tmp, on_days_only(col(format!("n_{k_set}")), def.window, k));
                col(&tmp)
            }
            Aggregation::ActiveDays => {
                let k_set = set_index(&def.events);
                let active = col(format!("n_{k_set}")).gt(lit(0)).and(on_days(def.window, k));
                daily.sum(&tmp, active.cast(DataType::UInt32));
                col(&tmp)
            }
            Aggregation::Sessions => {
                daily.sum(&tmp, on_days_only(col("sessions"), def.window, k));
                col(&tmp)
            }
            Aggregation::DaysSinceLast => {
                let k_set = set_index(&def.events);
                daily.max(&tmp, col(format!("last_{k_set}")));
                days(lit(t) - col(&tmp))
            }
            Aggregation::DistinctEvents => match def.window {
                Window::LastDays(n) => {
                    extra_frames.push(
                        prepared
                            .recent
                            .clone()
                            .lazy()
                            .filter(col("day").gt(lit(k - i64::from(n))).and(col("day").lt_eq(lit(k))))
                            .group_by([col("acc")])
                            .agg([col("ev").n_unique().cast(DataType::Float64).alias(&tmp)]),
                    );
                    col(&tmp)
                }
                Window::FirstDaysAfterSignup(n) => {
                    let early = col("is_product").and(col("since_signup").lt_eq(lit(i64::from(n) * DAY_US)));
                    first.sum(&tmp, early.cast(DataType::UInt32));
                    col(&tmp)
                }
                _ => {
                    first.sum(&tmp, col("is_product").cast(DataType::UInt32));
                    col(&tmp)
                }
            },
            Aggregation::DistinctShare => {
                first.sum(&tmp, col("is_product").cast(DataType::UInt32));
                let catalog = product_catalog_size(prepared, t);
                if catalog > 0.0 {
                    col(&tmp) / lit(catalog)
                } else {
                    lit(0.0)
                }
            }
            Aggregation::DaysToFirst => {
                first.min(&tmp, where_(col("is_key"), col("since_signup")));
                non_negative(days(col(&tmp)))
            }
            Aggregation::FirstWithin(n) => {
                first.min(&tmp, where_(col("is_key"), col("since_signup")));
                within_days(days(col(&tmp)), *n)
            }
            Aggregation::DaysToNthDistinct(n) => {
                first.min(&tmp, where_(col("product_rank").eq(lit(*n)), col("since_signup")));
                non_negative(days(col(&tmp)))
            }
            Aggregation::DistinctUsers => col("__users"),
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
                let n = format!("n_{}", set_index(&EventSet::Named(event.clone())));
                let index = prepared
                    .needs
                    .limits
                    .iter()
                    .position(|(e, p)| e == event && p == period)
                    .expect("every limit has a period column");
                let period_column = format!("period_{index}");
                let current_period = period_id(k, *period);
                let current = prepared
                    .daily
                    .clone()
                    .lazy()
                    .filter(
                        col(period_column.as_str())
                            .eq(lit(current_period))
                            .and(col("day").lt_eq(lit(k))),
                    )
                    .group_by([col("acc")])
                    .agg([col(&n).sum()]);
                extra_frames.push(match def.aggregation {
                    Aggregation::LimitUsage { .. } => current.select([col("acc"), col(&n).alias(&tmp)]),
                    _ => {
                        let earlier = prepared.period_totals[index]
                            .clone()
                            .lazy()
                            .filter(col("period").lt(lit(current_period)))
                            .select([col("acc"), col(&n)]);
                        concat([earlier, current], UnionArgs::default())?
                            .group_by([col("acc")])
                            .agg([col(&n).max().alias(&tmp)])
                    }
                });
                on_plans(col(&tmp).cast(DataType::Float64) / lit(*limit as f64), plans)
            }
            Aggregation::TrialDaysLeft { days, trial } => {
                on_plans(non_negative(lit(f64::from(*days)) - tenure.clone()), trial)
            }
            Aggregation::Trend(n) => {
                let k_set = set_index(&def.events);
                let recent = Window::LastDays(*n);
                let before = Window::Between { from: *n, to: 2 * n };
                let (a, b) = (format!("{tmp}a"), format!("{tmp}b"));
                daily.sum(&a, on_days_only(col(format!("n_{k_set}")), recent, k));
                daily.sum(&b, on_days_only(col(format!("n_{k_set}")), before, k));
                let (a, b) = (col(&a).fill_null(lit(0.0)), col(&b).fill_null(lit(0.0)));
                when((a.clone() + b.clone()).gt(lit(0.0)))
                    .then((a.clone() - b.clone()) / (a + b))
                    .otherwise(lit(0.0))
            }
            Aggregation::ValueSum | Aggregation::ValueMean => {
                unreachable!("the catalog gives values to named events only, which read the event-day table")
            }
            Aggregation::NumericAttribute(name) => col(name.as_str()),
            Aggregation::AttributeMissing(name) => col(name.as_str()).is_null().cast(DataType::Float64),
            Aggregation::AttributeLevel { attribute, level } => col(attribute.as_str())
                .eq(lit(level.as_str()))
                .fill_null(lit(false))
                .cast(DataType::Float64),
            Aggregation::AttributeOther { attribute, levels } => {
                let known = Series::new("levels".into(), levels);
                col(attribute.as_str())
                    .is_not_null()
                    .and(col(attribute.as_str()).is_in(lit(known).implode(false), false).not())
                    .cast(DataType::Float64)
            }
        };
        finals.push(finish(value, def, &tenure));
    }

    let eligible = prepared
        .accounts
        .clone()
        .lazy()
        .filter(
            col("signup")
                .lt_eq(lit(t))
                .and(col("converted").is_null().or(col("converted").gt(lit(t)))),
        )
        .with_column(
            // An incomplete horizon gives no label, even when a conversion was already seen in it:
            // keeping only the positives would bias training.
            when(lit(horizon_end > observation_end))
                .then(lit(NULL).cast(DataType::Int32))
                .when(col("converted").lt_eq(lit(horizon_end)))
                .then(lit(1i32))
                .otherwise(lit(0i32))
                .alias("label"),
        );
    // Accounts are numbered in account_id order; keeping the left order keeps the rows sorted.
    let join = |left: LazyFrame, right: LazyFrame| {
        let args = JoinArgs {
            maintain_order: MaintainOrderJoin::Left,
            ..JoinArgs::new(JoinType::Left)
        };
        left.join(right, [col("acc")], [col("acc")], args)
    };
    let mut frame = eligible;
    if let Some(aggregated) = daily.over(prepared.daily.clone().lazy().filter(col("day").lt_eq(lit(k)))) {
        frame = join(frame, aggregated);
    }
    if let Some(aggregated) = first.over(prepared.first_use.clone().lazy().filter(col("first_ts").lt_eq(lit(t)))) {
        frame = join(frame, aggregated);
    }
    if defs.iter().any(|d| d.aggregation == Aggregation::DistinctUsers) {
        let users = prepared
            .users
            .clone()
            .lazy()
            .filter(col("first_ts").lt_eq(lit(t)))
            .group_by([col("acc")])
            .agg([len().cast(DataType::Float64).alias("__users")]);
        frame = join(frame, users);
    }
    for extra in extra_frames {
        frame = join(frame, extra);
    }
    if let Some(extra) = per_event.frame(&prepared.event_days, prepared.first_acc, prepared.accounts.height(), k)? {
        frame = join(frame, extra);
    }

    let mut select = vec![
        col("account_id"),
        lit(t)
            .cast(DataType::Datetime(TimeUnit::Microseconds, None))
            .alias("as_of"),
        col("label"),
    ];
    select.extend(finals);
    frame.select(select).collect()
}
