//! The feature dictionary as data: every feature is a [`FeatureDef`] record (name, family, event set, window,
//! aggregation, unit, missing-value rule, description). [`catalog`] lists the records a config implies, in
//! output order; the polars compiler (`compile.rs`), `--describe` and the docs all read these records, so
//! adding a feature is adding a record.

use std::fmt;

use pql_data::config::{
    AttributeKind, Config, DeclaredAggregation, DeclaredFeature, DeclaredRole, DeclaredWindow, LimitPeriod,
};
use serde::{Deserialize, Serialize};

/// Sessions end after this much inactivity.
pub const SESSION_GAP_MINUTES: i64 = 30;
/// `days_to_N_features` uses this N.
pub const BREADTH_MILESTONE: u32 = 3;
/// Categorical attributes get one column for each of their most frequent levels, up to this many.
pub const MAX_LEVELS: usize = 10;
/// The accounts' plan column as the features read it (`[plan]`), whatever its source name.
pub const PLAN: &str = "plan";

/// The family a feature belongs to, for documentation and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Family {
    TimeInProduct,
    FeatureBreadth,
    EventUsage,
    AdoptionSpeed,
    LimitProximity,
    HandRaising,
    Collaboration,
    Trend,
    Firmographics,
    Plan,
    Declared,
}

/// Which events a feature aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSet {
    /// Every event that is not ignored.
    Activity,
    /// Product events: not ignored, not hand-raise, collaboration or limit-reached.
    Product,
    /// Configured key events.
    Key,
    /// Every hand-raise event.
    HandRaise,
    /// One named event.
    Named(String),
}

/// The event names a config gives each role, which decide what the event sets hold: `ignore` is left
/// out of [`EventSet::Activity`], every role but `key` out of [`EventSet::Product`], and `key` and
/// `hand_raise` are [`EventSet::Key`] and [`EventSet::HandRaise`]. A model records the roles it was trained
/// with, since the same feature under other roles means something else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    /// `events.key`, sorted.
    pub key: Vec<String>,
    /// `events.hand_raise`, sorted.
    pub hand_raise: Vec<String>,
    /// `events.collaboration`, sorted.
    pub collaboration: Vec<String>,
    /// `events.ignore`, sorted.
    pub ignore: Vec<String>,
    /// Every `limits.reached_event`, sorted.
    pub limit_reached: Vec<String>,
}

/// One role whose events differ between two [`Roles`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    /// The config key, e.g. `events.key`.
    pub role: &'static str,
    /// Events in the role now, not before.
    pub added: Vec<String>,
    /// Events in the role before, not now.
    pub removed: Vec<String>,
}

impl Roles {
    /// The roles of a config.
    pub fn of(config: &Config) -> Roles {
        fn sorted<'a>(events: impl IntoIterator<Item = &'a String>) -> Vec<String> {
            let mut events: Vec<String> = events.into_iter().cloned().collect();
            events.sort();
            events.dedup();
            events
        }
        let events = &config.events;
        Roles {
            key: sorted(&events.key),
            hand_raise: sorted(&events.hand_raise),
            collaboration: sorted(&events.collaboration),
            ignore: sorted(&events.ignore),
            limit_reached: sorted(config.limits.iter().filter_map(|l| l.reached_event.as_ref())),
        }
    }

    /// How the roles `now` differ from these, one change per role that differs, in config order.
    pub fn changes(&self, now: &Roles) -> Vec<RoleChange> {
        let missing_from =
            |a: &[String], b: &[String]| -> Vec<String> { a.iter().filter(|e| !b.contains(e)).cloned().collect() };
        [
            ("events.key", &self.key, &now.key),
            ("events.hand_raise", &self.hand_raise, &now.hand_raise),
            ("events.collaboration", &self.collaboration, &now.collaboration),
            ("events.ignore", &self.ignore, &now.ignore),
            ("limits.reached_event", &self.limit_reached, &now.limit_reached),
        ]
        .into_iter()
        .map(|(role, before, after)| RoleChange {
            role,
            added: missing_from(after, before),
            removed: missing_from(before, after),
        })
        .filter(|change| !change.added.is_empty() || !change.removed.is_empty())
        .collect()
    }
}

/// E.g. ``events.key added `a`, `b`, removed `c` ``.
impl fmt::Display for RoleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |events: &[String]| events.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ");
        let mut parts = Vec::new();
        if !self.added.is_empty() {
            parts.push(format!("added {}", quoted(&self.added)));
        }
        if !self.removed.is_empty() {
            parts.push(format!("removed {}", quoted(&self.removed)));
        }
        write!(f, "{} {}", self.role, parts.join(", "))
    }
}

/// The time span a feature looks at, relative to the snapshot instant `T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// Everything up to `T`.
    Lifetime,
    /// `(T - days, T]`.
    LastDays(u32),
    /// `(T - to, T - from]`, e.g. the 7 days before the last 7: `from = 7, to = 14`.
    Between {
        /// Days before `T` where the span ends.
        from: u32,
        /// Days before `T` where the span starts.
        to: u32,
    },
    /// From signup to `signup + days`, and up to `T`.
    FirstDaysAfterSignup(u32),
}

/// How the events of the set and window become one number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// `T - signup_at`, in days.
    Tenure,
    /// Number of events.
    Count,
    /// Number of distinct days with events.
    ActiveDays,
    /// Number of sessions started.
    Sessions,
    /// `T -` the latest event, in days.
    DaysSinceLast,
    /// Number of distinct event names.
    DistinctEvents,
    /// Distinct event names used by the account / by any account.
    DistinctShare,
    /// The first event `- signup_at`, in days.
    DaysToFirst,
    /// Time from signup to the first use of the `n`-th distinct event name, in days.
    DaysToNthDistinct(u32),
    /// Number of distinct non-empty users.
    DistinctUsers,
    /// 1 when the first event came within this many days of signup.
    FirstWithin(u32),
    /// Metered events in the current limit period / limit; 0 for accounts on other plans than `plans`.
    LimitUsage {
        /// The metered event.
        event: String,
        /// The limit.
        limit: u64,
        /// The period.
        period: Period,
        /// The plans the limit applies to (every account when empty).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        plans: Vec<String>,
    },
    /// The largest period count so far / limit; 0 for accounts on other plans than `plans`.
    LimitMaxUsage {
        /// The metered event.
        event: String,
        /// The limit.
        limit: u64,
        /// The period.
        period: Period,
        /// The plans the limit applies to (every account when empty).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        plans: Vec<String>,
    },
    /// `days - tenure` (0 once negative) for accounts on one of the `trial` plans, else 0.
    TrialDaysLeft {
        /// The trial's length.
        days: u32,
        /// The trial plans.
        trial: Vec<String>,
    },
    /// `(a - b) / (a + b)` of the event counts in the last `days` and the `days` before.
    Trend(u32),
    /// The sum of the events' values (`[columns.events] value`; events without one add nothing).
    ValueSum,
    /// The mean value of the events that have one.
    ValueMean,
    /// A numeric account attribute.
    NumericAttribute(String),
    /// 1 if a numeric or categorical attribute is missing.
    AttributeMissing(String),
    /// 1 if a categorical attribute equals the level.
    AttributeLevel {
        /// The attribute column.
        attribute: String,
        /// The level.
        level: String,
    },
    /// 1 if a categorical attribute is present but not one of the listed levels.
    AttributeOther {
        /// The attribute column.
        attribute: String,
        /// The levels that have their own column.
        levels: Vec<String>,
    },
}

/// A plan-limit period (see [`LimitPeriod`]).
pub type Period = LimitPeriod;

/// The unit of a feature's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Unit {
    Days,
    Count,
    Ratio,
    Flag,
    Value,
}

/// The value a feature takes when it is undefined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Zero (counts and ratios of nothing, absent flags, missing numbers).
    Zero,
    /// The account's tenure: a "days since/to" whose event has not happened is censored at the time the
    /// account has been observable.
    Tenure,
}

/// One feature, fully described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDef {
    /// Output column name.
    pub name: String,
    /// Family.
    pub family: Family,
    /// Events aggregated (activity for features that do not read events).
    pub events: EventSet,
    /// Window.
    pub window: Window,
    /// Aggregation.
    pub aggregation: Aggregation,
    /// Unit of the value.
    pub unit: Unit,
    /// Value when undefined.
    pub missing: Missing,
    /// One line for people.
    pub description: String,
    /// A milestone: the feature is 1 when the aggregate is at least this, else 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

impl FeatureDef {
    /// Whether the feature moves as accounts age, whatever they do: the tenure itself, and the "days since
    /// the latest" features that fall back to it for accounts that never had the event. Such a feature's
    /// drift is expected, not a warning. (A "days to the first" feature also falls back to the tenure, but
    /// an account that adopted keeps its value: its drift says adoption changed.)
    pub fn grows_with_age(&self) -> bool {
        self.aggregation == Aggregation::Tenure
            || (self.aggregation == Aggregation::DaysSinceLast && self.missing == Missing::Tenure)
    }
}

/// The levels of each categorical attribute, in column order.
pub type Levels = Vec<(String, Vec<String>)>;

/// What the data decides about the dictionary: the columns of each categorical attribute and the product
/// events with per-event features. [`catalog`] turns a config and a vocabulary into the definitions, and
/// [`Vocabulary::of_defs`] gives back the vocabulary of a model's definitions, so scoring makes the same
/// columns whatever the new data holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    /// The levels of each categorical attribute.
    pub levels: Levels,
    /// The product events of the [`Family::EventUsage`] features, most frequent first.
    pub events: Vec<String>,
    /// Those of `events` whose rows carry values: they also have value features (when the config maps
    /// `[columns.events] value`).
    pub valued: Vec<String>,
}

impl Vocabulary {
    /// The vocabulary a list of definitions was made with.
    pub fn of_defs(defs: &[FeatureDef]) -> Vocabulary {
        let mut events: Vec<String> = Vec::new();
        let mut valued: Vec<String> = Vec::new();
        for def in defs.iter().filter(|d| d.family == Family::EventUsage) {
            if let EventSet::Named(event) = &def.events {
                if !events.contains(event) {
                    events.push(event.clone());
                }
                if def.aggregation == Aggregation::ValueSum && !valued.contains(event) {
                    valued.push(event.clone());
                }
            }
        }
        Vocabulary {
            levels: levels_in(defs),
            events,
            valued,
        }
    }
}

/// The [`Family::EventUsage`] features of one product event: its count over the lifetime, the last 7 and
/// the last 30 days, and the days since its latest use; with `values`, also the sum of its values over
/// the lifetime and the last 30 days, and their mean.
fn event_usage(event: &str, values: bool) -> Vec<FeatureDef> {
    let named = || EventSet::Named(event.to_string());
    let count = |name: String, window: Window, description: String| {
        def(
            name,
            Family::EventUsage,
            named(),
            window,
            Aggregation::Count,
            Unit::Count,
            Missing::Zero,
            description,
        )
    };
    let value = |name: String, window: Window, aggregation: Aggregation, description: String| {
        def(
            name,
            Family::EventUsage,
            named(),
            window,
            aggregation,
            Unit::Value,
            Missing::Zero,
            description,
        )
    };
    let values = match values {
        true => vec![
            value(
                format!("{event}_value_sum"),
                Window::Lifetime,
                Aggregation::ValueSum,
                format!("sum of the values of {event} events"),
            ),
            value(
                format!("{event}_value_30d"),
                Window::LastDays(30),
                Aggregation::ValueSum,
                format!("sum of the values of {event} events in the last 30 days"),
            ),
            value(
                format!("{event}_value_mean"),
                Window::Lifetime,
                Aggregation::ValueMean,
                format!("mean value of the {event} events that have one (0 when none has)"),
            ),
        ],
        false => Vec::new(),
    };
    let mut defs = vec![
        count(format!("{event}_count"), Window::Lifetime, format!("{event} events")),
        count(
            format!("{event}_7d"),
            Window::LastDays(7),
            format!("{event} events in the last 7 days"),
        ),
        count(
            format!("{event}_30d"),
            Window::LastDays(30),
            format!("{event} events in the last 30 days"),
        ),
        def(
            format!("days_since_{event}"),
            Family::EventUsage,
            named(),
            Window::Lifetime,
            Aggregation::DaysSinceLast,
            Unit::Days,
            Missing::Tenure,
            format!("days since the latest {event}"),
        ),
    ];
    defs.extend(values);
    defs
}

#[allow(clippy::too_many_arguments)]
fn def(
    name: impl Into<String>,
    family: Family,
    events: EventSet,
    window: Window,
    aggregation: Aggregation,
    unit: Unit,
    missing: Missing,
    description: impl Into<String>,
) -> FeatureDef {
    FeatureDef {
        name: name.into(),
        family,
        events,
        window,
        aggregation,
        unit,
        missing,
        description: description.into(),
        threshold: None,
    }
}

/// The categorical levels a list of definitions was made with (e.g. a model's features), so [`catalog`]
/// can make the same columns again: each attribute's levels are those of its `_other` feature, else of its
/// `attribute=level` features in order.
pub fn levels_in(defs: &[FeatureDef]) -> Levels {
    let mut levels: Levels = Vec::new();
    for def in defs {
        match &def.aggregation {
            Aggregation::AttributeOther { attribute, levels: l } => {
                levels.retain(|(a, _)| a != attribute);
                levels.push((attribute.clone(), l.clone()));
            }
            Aggregation::AttributeLevel { attribute, level } => match levels.iter_mut().find(|(a, _)| a == attribute) {
                Some((_, l)) => {
                    if !l.contains(level) {
                        l.push(level.clone());
                    }
                }
                None => levels.push((attribute.clone(), vec![level.clone()])),
            },
            _ => {}
        }
    }
    levels
}

/// Every feature the config implies, in output order, with the columns the vocabulary gives (see
/// [`crate::vocabulary_of`]). A per-event feature whose name another feature already has is left out (e.g.
/// `events_7d` of an event named `events`); [`Vocabulary::of_defs`] then no longer lists its event.
pub fn catalog(config: &Config, vocabulary: &Vocabulary) -> Vec<FeatureDef> {
    let mut defs = fixed_catalog(config, &vocabulary.levels);
    let declared = declared(config);
    let mut usage = Vec::new();
    let values = config.columns.events.value.is_some();
    for event in &vocabulary.events {
        let features = event_usage(event, values && vocabulary.valued.contains(event));
        let taken = |f: &FeatureDef| {
            defs.iter()
                .chain(&usage)
                .chain(&declared)
                .any(|d: &FeatureDef| d.name == f.name)
        };
        if !features.iter().any(taken) {
            usage.extend(features);
        }
    }
    let at = defs
        .iter()
        .position(|d| d.family == Family::AdoptionSpeed)
        .unwrap_or(defs.len());
    defs.splice(at..at, usage);
    defs.extend(declared);
    defs
}

/// The first declared feature whose name a built-in feature of the config already has, as
/// `(index in [[features]], name)`. (Per-event features give way to a declared one instead.)
pub fn clashing_declared(config: &Config) -> Option<(usize, String)> {
    let fixed = fixed_catalog(config, &Vec::new());
    config
        .features
        .iter()
        .position(|f| fixed.iter().any(|d| d.name == f.name))
        .map(|i| (i, config.features[i].name.clone()))
}

/// The config's declared features (`[[features]]`), as records.
pub fn declared(config: &Config) -> Vec<FeatureDef> {
    config.features.iter().map(declared_def).collect()
}

fn declared_def(feature: &DeclaredFeature) -> FeatureDef {
    use DeclaredAggregation as D;
    let events = match (&feature.event, feature.role) {
        (Some(event), _) => EventSet::Named(event.clone()),
        (None, Some(DeclaredRole::Product)) => EventSet::Product,
        (None, Some(DeclaredRole::Key)) => EventSet::Key,
        (None, Some(DeclaredRole::HandRaise)) => EventSet::HandRaise,
        (None, _) => EventSet::Activity,
    };
    let window = match feature.window() {
        DeclaredWindow::Lifetime => Window::Lifetime,
        DeclaredWindow::LastDays(n) => Window::LastDays(n),
    };
    let (aggregation, unit, missing) = match feature.aggregation {
        D::Count => (Aggregation::Count, Unit::Count, Missing::Zero),
        D::DistinctDays => (Aggregation::ActiveDays, Unit::Days, Missing::Zero),
        D::ValueSum => (Aggregation::ValueSum, Unit::Value, Missing::Zero),
        D::ValueMean => (Aggregation::ValueMean, Unit::Value, Missing::Zero),
        D::DaysSince => (Aggregation::DaysSinceLast, Unit::Days, Missing::Tenure),
        D::DaysToFirst => (Aggregation::DaysToFirst, Unit::Days, Missing::Tenure),
        D::FirstWithin => (
            Aggregation::FirstWithin(feature.days.unwrap_or(1)),
            Unit::Flag,
            Missing::Zero,
        ),
    };
    let what = match &events {
        EventSet::Named(event) => format!("{event} events"),
        set => format!("{set} events"),
    };
    let in_window = match window {
        Window::LastDays(n) => format!(" in the last {n} days"),
        _ => String::new(),
    };
    let generated = match feature.aggregation {
        D::Count => format!("{what}{in_window}"),
        D::DistinctDays => format!("days with {what}{in_window}"),
        D::ValueSum => format!("sum of the values of {what}{in_window}"),
        D::ValueMean => format!("mean value of the {what}{in_window} that have one"),
        D::DaysSince => format!("days since the latest of the {what}"),
        D::DaysToFirst => format!("days from signup to the first of the {what}"),
        D::FirstWithin => format!(
            "1 if the first of the {what} came within {} days of signup",
            feature.days.unwrap_or(1)
        ),
    };
    let generated = match feature.threshold {
        Some(threshold) => format!("1 if {generated} reach {threshold}"),
        None => generated,
    };
    FeatureDef {
        name: feature.name.clone(),
        family: Family::Declared,
        events,
        window,
        aggregation,
        unit: if feature.threshold.is_some() { Unit::Flag } else { unit },
        missing,
        description: feature.description.clone().unwrap_or(generated),
        threshold: feature.threshold,
    }
}

/// ` (plans free, trial)`, or nothing for a limit on every plan.
fn plans_words(plans: &[String]) -> String {
    match plans.is_empty() {
        true => String::new(),
        false => format!(" (plans {})", plans.join(", ")),
    }
}

/// The features that do not depend on which events the data holds.
fn fixed_catalog(config: &Config, levels: &Levels) -> Vec<FeatureDef> {
    use Aggregation::*;
    use EventSet::*;
    use Family::*;
    use Window::*;
    let mut defs = vec![
        def(
            "tenure_days",
            TimeInProduct,
            Activity,
            Lifetime,
            Tenure,
            Unit::Days,
            Missing::Zero,
            "days since signup",
        ),
        def(
            "events",
            TimeInProduct,
            Activity,
            Lifetime,
            Count,
            Unit::Count,
            Missing::Zero,
            "activity events",
        ),
        def(
            "active_days",
            TimeInProduct,
            Activity,
            Lifetime,
            ActiveDays,
            Unit::Days,
            Missing::Zero,
            "days with activity",
        ),
        def(
            "active_days_7d",
            TimeInProduct,
            Activity,
            LastDays(7),
            ActiveDays,
            Unit::Days,
            Missing::Zero,
            "days with activity in the last 7 days",
        ),
        def(
            "active_days_30d",
            TimeInProduct,
            Activity,
            LastDays(30),
            ActiveDays,
            Unit::Days,
            Missing::Zero,
            "days with activity in the last 30 days",
        ),
        def(
            "sessions",
            TimeInProduct,
            Activity,
            Lifetime,
            Sessions,
            Unit::Count,
            Missing::Zero,
            "sessions started (30 minutes of inactivity ends one)",
        ),
        def(
            "sessions_7d",
            TimeInProduct,
            Activity,
            LastDays(7),
            Sessions,
            Unit::Count,
            Missing::Zero,
            "sessions started in the last 7 days",
        ),
        def(
            "days_since_last_activity",
            TimeInProduct,
            Activity,
            Lifetime,
            DaysSinceLast,
            Unit::Days,
            Missing::Tenure,
            "days since the latest activity",
        ),
        def(
            "features_used",
            FeatureBreadth,
            Product,
            Lifetime,
            DistinctEvents,
            Unit::Count,
            Missing::Zero,
            "distinct product features used",
        ),
        def(
            "feature_share",
            FeatureBreadth,
            Product,
            Lifetime,
            DistinctShare,
            Unit::Ratio,
            Missing::Zero,
            "share of the product features any account has used",
        ),
        def(
            "features_used_7d",
            FeatureBreadth,
            Product,
            LastDays(7),
            DistinctEvents,
            Unit::Count,
            Missing::Zero,
            "distinct product features used in the last 7 days",
        ),
        def(
            "key_events",
            AdoptionSpeed,
            Key,
            Lifetime,
            Count,
            Unit::Count,
            Missing::Zero,
            "key (activation) events",
        ),
        def(
            "days_to_first_key_event",
            AdoptionSpeed,
            Key,
            Lifetime,
            DaysToFirst,
            Unit::Days,
            Missing::Tenure,
            "days from signup to the first key event",
        ),
        def(
            "features_first_3d",
            AdoptionSpeed,
            Product,
            FirstDaysAfterSignup(3),
            DistinctEvents,
            Unit::Count,
            Missing::Zero,
            "distinct product features first used within 3 days of signup",
        ),
        def(
            "features_first_7d",
            AdoptionSpeed,
            Product,
            FirstDaysAfterSignup(7),
            DistinctEvents,
            Unit::Count,
            Missing::Zero,
            "distinct product features first used within 7 days of signup",
        ),
        def(
            format!("days_to_{BREADTH_MILESTONE}_features"),
            AdoptionSpeed,
            Product,
            Lifetime,
            DaysToNthDistinct(BREADTH_MILESTONE),
            Unit::Days,
            Missing::Tenure,
            format!("days from signup to using {BREADTH_MILESTONE} distinct product features"),
        ),
    ];

    for limit in &config.limits {
        let stem = format!("limit_{}_{}", limit.event, limit.period);
        let usage = LimitUsage {
            event: limit.event.clone(),
            limit: limit.limit,
            period: limit.period,
            plans: limit.plans.clone(),
        };
        let max = LimitMaxUsage {
            event: limit.event.clone(),
            limit: limit.limit,
            period: limit.period,
            plans: limit.plans.clone(),
        };
        defs.push(def(
            format!("{stem}_usage"),
            LimitProximity,
            Named(limit.event.clone()),
            Lifetime,
            usage,
            Unit::Ratio,
            Missing::Zero,
            format!(
                "{} in the current {} / {}{}",
                limit.event,
                limit.period,
                limit.limit,
                plans_words(&limit.plans)
            ),
        ));
        defs.push(def(
            format!("{stem}_max_usage"),
            LimitProximity,
            Named(limit.event.clone()),
            Lifetime,
            max,
            Unit::Ratio,
            Missing::Zero,
            format!(
                "largest {} count in any {} so far / {}{}",
                limit.event,
                limit.period,
                limit.limit,
                plans_words(&limit.plans)
            ),
        ));
    }
    let mut reached: Vec<&String> = Vec::new();
    for event in config.limits.iter().filter_map(|l| l.reached_event.as_ref()) {
        if !reached.contains(&event) {
            reached.push(event);
        }
    }
    for event in reached {
        defs.push(def(
            format!("{event}_count"),
            LimitProximity,
            Named(event.clone()),
            Lifetime,
            Count,
            Unit::Count,
            Missing::Zero,
            format!("{event} events (limit hits)"),
        ));
        defs.push(def(
            format!("{event}_7d"),
            LimitProximity,
            Named(event.clone()),
            LastDays(7),
            Count,
            Unit::Count,
            Missing::Zero,
            format!("{event} events in the last 7 days"),
        ));
        defs.push(def(
            format!("days_since_{event}"),
            LimitProximity,
            Named(event.clone()),
            Lifetime,
            DaysSinceLast,
            Unit::Days,
            Missing::Tenure,
            format!("days since the latest {event}"),
        ));
    }

    for event in &config.events.hand_raise {
        for days in [7, 30] {
            defs.push(def(
                format!("{event}_{days}d"),
                HandRaising,
                Named(event.clone()),
                LastDays(days),
                Count,
                Unit::Count,
                Missing::Zero,
                format!("{event} events in the last {days} days"),
            ));
        }
    }
    defs.push(def(
        "days_since_hand_raise",
        HandRaising,
        HandRaise,
        Lifetime,
        DaysSinceLast,
        Unit::Days,
        Missing::Tenure,
        "days since the latest hand-raise event of any kind",
    ));

    defs.push(def(
        "active_users",
        Collaboration,
        Activity,
        Lifetime,
        DistinctUsers,
        Unit::Count,
        Missing::Zero,
        "distinct users with activity",
    ));
    for event in &config.events.collaboration {
        defs.push(def(
            format!("{event}_count"),
            Collaboration,
            Named(event.clone()),
            Lifetime,
            Count,
            Unit::Count,
            Missing::Zero,
            format!("{event} events"),
        ));
    }

    defs.push(def(
        "events_7d",
        Family::Trend,
        Activity,
        LastDays(7),
        Count,
        Unit::Count,
        Missing::Zero,
        "activity events in the last 7 days",
    ));
    defs.push(def(
        "events_prev_7d",
        Family::Trend,
        Activity,
        Between { from: 7, to: 14 },
        Count,
        Unit::Count,
        Missing::Zero,
        "activity events in the 7 days before the last 7",
    ));
    defs.push(def(
        "activity_trend",
        Family::Trend,
        Activity,
        LastDays(14),
        Aggregation::Trend(7),
        Unit::Ratio,
        Missing::Zero,
        "(events_7d - events_prev_7d) / (events_7d + events_prev_7d)",
    ));

    for attribute in &config.attributes {
        let name = &attribute.name;
        match attribute.kind {
            AttributeKind::Numeric => {
                defs.push(def(
                    name.clone(),
                    Firmographics,
                    Activity,
                    Lifetime,
                    NumericAttribute(name.clone()),
                    Unit::Value,
                    Missing::Zero,
                    format!("account attribute {name}"),
                ));
                defs.push(def(
                    format!("{name}_missing"),
                    Firmographics,
                    Activity,
                    Lifetime,
                    AttributeMissing(name.clone()),
                    Unit::Flag,
                    Missing::Zero,
                    format!("1 if {name} is missing"),
                ));
            }
            AttributeKind::Categorical => {
                let attribute_levels = levels
                    .iter()
                    .find(|(a, _)| a == name)
                    .map(|(_, l)| l.clone())
                    .unwrap_or_default();
                for level in &attribute_levels {
                    defs.push(def(
                        format!("{name}={level}"),
                        Firmographics,
                        Activity,
                        Lifetime,
                        AttributeLevel {
                            attribute: name.clone(),
                            level: level.clone(),
                        },
                        Unit::Flag,
                        Missing::Zero,
                        format!("1 if {name} is {level}"),
                    ));
                }
                defs.push(def(
                    format!("{name}_other"),
                    Firmographics,
                    Activity,
                    Lifetime,
                    AttributeOther {
                        attribute: name.clone(),
                        levels: attribute_levels,
                    },
                    Unit::Flag,
                    Missing::Zero,
                    format!("1 if {name} is another value"),
                ));
                defs.push(def(
                    format!("{name}_missing"),
                    Firmographics,
                    Activity,
                    Lifetime,
                    AttributeMissing(name.clone()),
                    Unit::Flag,
                    Missing::Zero,
                    format!("1 if {name} is missing"),
                ));
            }
        }
    }
    if let Some(plan) = &config.plan {
        let plan_levels = levels
            .iter()
            .find(|(a, _)| a == PLAN)
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        for level in &plan_levels {
            defs.push(def(
                format!("{PLAN}={level}"),
                Family::Plan,
                Activity,
                Lifetime,
                AttributeLevel {
                    attribute: PLAN.into(),
                    level: level.clone(),
                },
                Unit::Flag,
                Missing::Zero,
                format!("1 if the account started on plan {level}"),
            ));
        }
        defs.push(def(
            format!("{PLAN}_other"),
            Family::Plan,
            Activity,
            Lifetime,
            AttributeOther {
                attribute: PLAN.into(),
                levels: plan_levels,
            },
            Unit::Flag,
            Missing::Zero,
            "1 if the account started on another plan",
        ));
        defs.push(def(
            format!("{PLAN}_missing"),
            Family::Plan,
            Activity,
            Lifetime,
            AttributeMissing(PLAN.into()),
            Unit::Flag,
            Missing::Zero,
            "1 if the plan is missing",
        ));
        if let Some(days) = plan.trial_days {
            defs.push(def(
                "trial_days_left",
                Family::Plan,
                Activity,
                Lifetime,
                TrialDaysLeft {
                    days,
                    trial: plan.trial.clone(),
                },
                Unit::Days,
                Missing::Zero,
                format!(
                    "days left in the {days}-day trial for accounts on plan {} (0 once over or on another plan)",
                    plan.trial.join(", ")
                ),
            ));
        }
    }
    defs
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::TimeInProduct => "time in product",
            Family::FeatureBreadth => "feature breadth",
            Family::EventUsage => "event usage",
            Family::AdoptionSpeed => "adoption speed",
            Family::LimitProximity => "limit proximity",
            Family::HandRaising => "hand-raising",
            Family::Collaboration => "collaboration",
            Family::Trend => "trend",
            Family::Firmographics => "firmographics",
            Family::Plan => "plan",
            Family::Declared => "declared",
        })
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Days => "days",
            Unit::Count => "count",
            Unit::Ratio => "ratio",
            Unit::Flag => "flag",
            Unit::Value => "value",
        })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Lifetime => f.write_str("lifetime"),
            Window::LastDays(d) => write!(f, "last {d} days"),
            Window::Between { from, to } => write!(f, "days {from}..{to} before"),
            Window::FirstDaysAfterSignup(d) => write!(f, "first {d} days"),
        }
    }
}

impl fmt::Display for EventSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventSet::Activity => f.write_str("activity"),
            EventSet::Product => f.write_str("product"),
            EventSet::Key => f.write_str("key"),
            EventSet::HandRaise => f.write_str("hand-raise"),
            EventSet::Named(e) => f.write_str(e),
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Missing::Zero => "0",
            Missing::Tenure => "tenure",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_levels_of_a_catalog_give_back_the_same_catalog() {
        let config = Config::parse(
            "[inputs]\nevents = \"e.csv\"\naccounts = \"a.csv\"\nconversions = \"c.csv\"\n\
             [[attributes]]\nname = \"industry\"\nkind = \"categorical\"\n\
             [[attributes]]\nname = \"segment\"\nkind = \"categorical\"\n",
            std::path::Path::new("pql.toml"),
        )
        .unwrap();
        let levels = vec![
            ("industry".to_string(), vec!["b".to_string(), "a".to_string()]),
            ("segment".to_string(), vec![]),
        ];
        let vocabulary = Vocabulary {
            levels,
            events: vec!["export".to_string(), "events".to_string(), "share".to_string()],
            valued: Vec::new(),
        };
        let defs = catalog(&config, &vocabulary);
        let again = Vocabulary::of_defs(&defs);
        assert_eq!(again.levels, vocabulary.levels);
        assert_eq!(
            again.events,
            ["export", "share"],
            "`events_7d` is taken: `events` has no family"
        );
        assert_eq!(catalog(&config, &again), defs);
    }

    #[test]
    fn names_are_unique_even_when_levels_look_like_buckets() {
        let text = r#"
            [inputs]
            events = "e.csv"
            accounts = "a.csv"
            conversions = "c.csv"
            [[attributes]]
            name = "industry"
            kind = "categorical"
            [events]
            hand_raise = ["pricing"]
            collaboration = ["invite"]
            [[limits]]
            event = "task"
            limit = 5
            period = "week"
            reached_event = "hit"
            [[limits]]
            event = "task"
            limit = 50
            period = "month"
            reached_event = "hit"
        "#;
        let config = Config::parse(text, std::path::Path::new("/x/pql.toml")).unwrap();
        let levels = vec![("industry".to_string(), vec!["other".to_string(), "missing".to_string()])];
        let vocabulary = Vocabulary {
            levels,
            events: vec!["task".to_string()],
            valued: Vec::new(),
        };
        let defs = catalog(&config, &vocabulary);
        let mut names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "duplicate feature names");
        assert!(names.contains(&"industry=other") && names.contains(&"industry_other"));
        assert_eq!(
            defs.iter().filter(|d| d.name.starts_with("hit_")).count(),
            2,
            "one set per reached event"
        );
    }

    #[test]
    fn roles_list_each_changed_role_with_its_added_and_removed_events() {
        let config = |events: &str| {
            Config::parse(
                &format!(
                    "[inputs]\nevents = \"e.csv\"\naccounts = \"a.csv\"\nconversions = \"c.csv\"\n[events]\n{events}\n\
                     [[limits]]\nevent = \"task\"\nlimit = 3\nperiod = \"month\"\nreached_event = \"limit_hit\"\n"
                ),
                std::path::Path::new("pql.toml"),
            )
            .unwrap()
        };
        let trained = Roles::of(&config("key = [\"b\", \"a\"]\nignore = [\"mail\"]"));
        assert_eq!(trained.key, ["a", "b"]);
        assert_eq!(trained.limit_reached, ["limit_hit"]);
        let reordered = Roles::of(&config("key = [\"a\", \"b\", \"a\"]\nignore = [\"mail\"]"));
        assert_eq!(trained.changes(&reordered), []);
        let now = Roles::of(&config(
            "key = [\"a\", \"c\", \"d\"]\nignore = [\"mail\", \"spam\"]\nhand_raise = [\"b\"]",
        ));
        let changes: Vec<String> = trained.changes(&now).iter().map(ToString::to_string).collect();
        assert_eq!(
            changes,
            [
                "events.key added `c`, `d`, removed `b`",
                "events.hand_raise added `b`",
                "events.ignore added `spam`"
            ]
        );
    }
}
