//! The compiler from [`FeatureDef`] records to polars expressions, and the per-snapshot query that runs them.
//!
//! Each aggregation reads the prepared table that holds what it needs (daily aggregates, first uses, users,
//! recent product events) filtered to what was known at `T`; a final projection turns the aggregates into
//! the features in dictionary order, applying each record's missing-value rule.

use polars::prelude::*;

use crate::catalog::{Aggregation, EventSet, FeatureDef, Missing, Period, Window};
use crate::prepare::{Prepared, DAY_US};

/// The event sets whose daily counts and latest times the definitions read.
pub fn daily_sets(defs: &[FeatureDef]) -> Vec<EventSet> {
    let mut sets: Vec<EventSet> = Vec::new();
    for def in defs {
        let set = match &def.aggregation {
            Aggregation::Count | Aggregation::ActiveDays | Aggregation::DaysSinceLast | Aggregation::Trend(_) => {
                def.events.clone()
            }
            Aggregation::LimitUsage { event, .. } | Aggregation::LimitMaxUsage { event, .. } => {
                EventSet::Named(event.clone())
            }
            _ => continue,
        };
        if !sets.contains(&set) {
            sets.push(set);
        }
    }
    sets
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

/// The id of the limit period that contains the day ending at midnight `day` (epoch days): Monday-start
/// weeks, calendar months, or one period for life.
fn period_of(day: Expr, period: Period) -> Expr {
    let date = day - lit(1i64); // the calendar day [day - 1, day)
    match period {
        // 1970-01-01 was a Thursday: shifting by 3 makes weeks start on Monday.
        Period::Week => (date + lit(3i64)).floor_div(lit(7i64)),
        Period::Month => {
            let datetime = (date * lit(DAY_US)).cast(DataType::Datetime(TimeUnit::Microseconds, None));
            datetime.clone().dt().year().cast(DataType::Int64) * lit(12i64)
                + datetime.dt().month().cast(DataType::Int64)
        }
        Period::Lifetime => lit(0i64),
    }
}

/// Distinct product events any account had used by `t`.
fn product_catalog_size(prepared: &Prepared, t: i64) -> PolarsResult<f64> {
    let catalog = prepared
        .first_use
        .clone()
        .lazy()
        .filter(col("is_product").and(col("first_ts").lt_eq(lit(t))))
        .select([col("ev").n_unique().cast(DataType::Float64)])
        .collect()?;
    Ok(catalog.columns()[0].f64()?.get(0).unwrap_or(0.0))
}

/// Clips negative values to zero, keeping nulls.
fn non_negative(expr: Expr) -> Expr {
    when(expr.clone().lt(lit(0.0))).then(lit(0.0)).otherwise(expr)
}

fn days(expr: Expr) -> Expr {
    expr.cast(DataType::Float64) / lit(DAY_US as f64)
}

/// Computes the feature rows of one snapshot: eligible accounts at `T` = midnight starting epoch day `k`,
/// with label and features in `defs` order.
pub fn snapshot(prepared: &Prepared, defs: &[FeatureDef], k: i64, horizon_days: u32) -> PolarsResult<DataFrame> {
    let t = k * DAY_US;
    let horizon_end = t + i64::from(horizon_days) * DAY_US;
    let set_index = |set: &EventSet| {
        prepared
            .sets
            .iter()
            .position(|s| s == set)
            .expect("daily_sets lists every set the definitions read")
    };

    let mut daily_aggs: Vec<Expr> = Vec::new();
    let mut first_aggs: Vec<Expr> = Vec::new();
    let mut recent_aggs: Vec<Expr> = Vec::new();
    let mut limit_frames: Vec<LazyFrame> = Vec::new();
    let mut finals: Vec<Expr> = Vec::new();

    let tenure = days(lit(t) - col("signup"));
    for (i, def) in defs.iter().enumerate() {
        let tmp = format!("__{i}");
        let value = match &def.aggregation {
            Aggregation::Tenure => tenure.clone(),
            Aggregation::Count => {
                let k_set = set_index(&def.events);
                daily_aggs.push(
                    col(format!("n_{k_set}"))
                        .filter(on_days(def.window, k))
                        .sum()
                        .alias(&tmp),
                );
                col(&tmp)
            }
            Aggregation::ActiveDays => {
                let k_set = set_index(&def.events);
                daily_aggs.push(
                    col(format!("n_{k_set}"))
                        .gt(lit(0.0))
                        .and(on_days(def.window, k))
                        .sum()
                        .cast(DataType::Float64)
                        .alias(&tmp),
                );
                col(&tmp)
            }
            Aggregation::Sessions => {
                daily_aggs.push(col("sessions").filter(on_days(def.window, k)).sum().alias(&tmp));
                col(&tmp)
            }
            Aggregation::DaysSinceLast => {
                let k_set = set_index(&def.events);
                daily_aggs.push(col(format!("last_{k_set}")).max().alias(&tmp));
                days(lit(t) - col(&tmp))
            }
            Aggregation::DistinctEvents => match def.window {
                Window::LastDays(n) => {
                    recent_aggs.push(
                        col("ev")
                            .filter(col("day").gt(lit(k - i64::from(n))))
                            .n_unique()
                            .cast(DataType::Float64)
                            .alias(&tmp),
                    );
                    col(&tmp)
                }
                Window::FirstDaysAfterSignup(n) => {
                    first_aggs.push(
                        col("is_product")
                            .and(col("since_signup").lt_eq(lit(i64::from(n) * DAY_US)))
                            .sum()
                            .cast(DataType::Float64)
                            .alias(&tmp),
                    );
                    col(&tmp)
                }
                _ => {
                    first_aggs.push(col("is_product").sum().cast(DataType::Float64).alias(&tmp));
                    col(&tmp)
                }
            },
            Aggregation::DistinctShare => {
                first_aggs.push(col("is_product").sum().cast(DataType::Float64).alias(&tmp));
                let catalog = product_catalog_size(prepared, t)?;
                if catalog > 0.0 {
                    col(&tmp) / lit(catalog)
                } else {
                    lit(0.0)
                }
            }
            Aggregation::DaysToFirst => {
                first_aggs.push(col("since_signup").filter(col("is_key")).min().alias(&tmp));
                non_negative(days(col(&tmp)))
            }
            Aggregation::DaysToNthDistinct(n) => {
                first_aggs.push(
                    col("since_signup")
                        .filter(col("product_rank").eq(lit(*n)))
                        .min()
                        .alias(&tmp),
                );
                non_negative(days(col(&tmp)))
            }
            Aggregation::DistinctUsers => col("__users"),
            Aggregation::LimitUsage { event, limit, period } | Aggregation::LimitMaxUsage { event, limit, period } => {
                let n = format!("n_{}", set_index(&EventSet::Named(event.clone())));
                let current = matches!(def.aggregation, Aggregation::LimitUsage { .. });
                let per_period = prepared
                    .daily
                    .clone()
                    .lazy()
                    .filter(col("day").lt_eq(lit(k)))
                    .group_by([col("acc"), period_of(col("day"), *period).alias("period")])
                    .agg([col(&n).sum()]);
                let aggregated = if current {
                    let now = period_of(lit(k), *period);
                    per_period
                        .filter(col("period").eq(now))
                        .select([col("acc"), col(&n).alias(&tmp)])
                } else {
                    per_period.group_by([col("acc")]).agg([col(&n).max().alias(&tmp)])
                };
                limit_frames.push(aggregated);
                col(&tmp) / lit(*limit as f64)
            }
            Aggregation::Trend(n) => {
                let k_set = set_index(&def.events);
                let recent = Window::LastDays(*n);
                let before = Window::Between { from: *n, to: 2 * n };
                let (a, b) = (format!("{tmp}a"), format!("{tmp}b"));
                daily_aggs.push(col(format!("n_{k_set}")).filter(on_days(recent, k)).sum().alias(&a));
                daily_aggs.push(col(format!("n_{k_set}")).filter(on_days(before, k)).sum().alias(&b));
                let (a, b) = (col(&a).fill_null(lit(0.0)), col(&b).fill_null(lit(0.0)));
                when((a.clone() + b.clone()).gt(lit(0.0)))
                    .then((a.clone() - b.clone()) / (a + b))
                    .otherwise(lit(0.0))
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
        let value = match def.missing {
            Missing::Zero => value.fill_null(lit(0.0)),
            Missing::Tenure => value.fill_null(tenure.clone()),
        };
        finals.push(value.cast(DataType::Float64).alias(def.name.as_str()));
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
            when(lit(horizon_end > prepared.observation_end))
                .then(lit(NULL).cast(DataType::Int32))
                .when(col("converted").lt_eq(lit(horizon_end)))
                .then(lit(1i32))
                .otherwise(lit(0i32))
                .alias("label"),
        );
    let join =
        |left: LazyFrame, right: LazyFrame| left.join(right, [col("acc")], [col("acc")], JoinArgs::new(JoinType::Left));
    let mut frame = eligible;
    if !daily_aggs.is_empty() {
        let daily = prepared
            .daily
            .clone()
            .lazy()
            .filter(col("day").lt_eq(lit(k)))
            .group_by([col("acc")])
            .agg(daily_aggs);
        frame = join(frame, daily);
    }
    if !first_aggs.is_empty() {
        let first = prepared
            .first_use
            .clone()
            .lazy()
            .filter(col("first_ts").lt_eq(lit(t)))
            .group_by([col("acc")])
            .agg(first_aggs);
        frame = join(frame, first);
    }
    if !recent_aggs.is_empty() {
        let recent = prepared
            .recent
            .clone()
            .lazy()
            .filter(col("day").lt_eq(lit(k)))
            .group_by([col("acc")])
            .agg(recent_aggs);
        frame = join(frame, recent);
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
    for limit in limit_frames {
        frame = join(frame, limit);
    }

    let mut select = vec![
        col("account_id"),
        lit(t)
            .cast(DataType::Datetime(TimeUnit::Microseconds, None))
            .alias("as_of"),
        col("label"),
    ];
    select.extend(finals);
    frame
        .select(select)
        .sort(["account_id"], SortMultipleOptions::default())
        .collect()
}
