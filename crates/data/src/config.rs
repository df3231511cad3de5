//! The typed `pql.toml` configuration: inputs, column mapping, event roles, plan limits, snapshot cadence
//! and label horizon.
//!
//! A file is parsed into [`RawConfig`] (serde, unknown keys rejected), then checked once by
//! [`RawConfig::check`] into a [`Config`] whose invariants later stages rely on: paths resolved against the
//! config file's folder, every event in at most one exclusive role, positive limits and horizon. Every
//! error names the offending key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The checked configuration every stage receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this configuration was read from (used in messages).
    pub source: PathBuf,
    /// Input locations, resolved against the config file's folder.
    pub inputs: Inputs,
    /// Source column names for each table.
    pub columns: Columns,
    /// Declared account attributes (firmographics).
    pub attributes: Vec<Attribute>,
    /// What each event name means to the model.
    pub events: EventRoles,
    /// Free-plan usage limits.
    pub limits: Vec<Limit>,
    /// When snapshots are taken.
    pub snapshots: Snapshots,
    /// How labels are defined.
    pub label: Label,
    /// PQL rules as the team writes them today, reported beside the model.
    pub rules: Vec<Rule>,
    /// When scoring warns that the population has moved away from the model's training data.
    pub drift: Drift,
    /// Features the team declares, beside the built-in dictionary.
    pub features: Vec<DeclaredFeature>,
    /// Whether and how the accounts' plan column becomes features.
    pub plan: Option<Plan>,
}

/// The unchecked form of `pql.toml`, exactly as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[inputs]`: where the three tables live.
    pub inputs: Inputs,
    /// `[columns.*]`: source column names, when they differ from the contract's.
    #[serde(default)]
    pub columns: Columns,
    /// `[[attributes]]`: account attribute columns to use as features.
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    /// `[events]`: event roles.
    #[serde(default)]
    pub events: EventRoles,
    /// `[[limits]]`: free-plan limits.
    #[serde(default)]
    pub limits: Vec<Limit>,
    /// `[snapshots]`: snapshot cadence.
    #[serde(default)]
    pub snapshots: Snapshots,
    /// `[label]`: label definition.
    #[serde(default)]
    pub label: Label,
    /// `[[rules]]`: rule baselines.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// `[drift]`: drift warning thresholds.
    #[serde(default)]
    pub drift: Drift,
    /// `[[features]]`: declared features.
    #[serde(default)]
    pub features: Vec<DeclaredFeature>,
    /// `[plan]`: the plan column as features.
    #[serde(default)]
    pub plan: Option<Plan>,
}

/// `[inputs]`: each entry is a file or a folder of Parquet, CSV or NDJSON files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Event history: one row per product event.
    pub events: PathBuf,
    /// One row per account, with its signup time and attributes.
    pub accounts: PathBuf,
    /// One row per conversion to paid; accounts without a row never converted.
    pub conversions: PathBuf,
    /// The largest share of event rows that may be dropped by the input rules (missing values, unknown
    /// accounts, before signup, in the future) before every command refuses the data. Default 0.5; raise
    /// it when, say, the events cover paid accounts the accounts table leaves out.
    #[serde(default = "default_max_dropped_share")]
    pub max_dropped_share: f64,
    /// Kept events above which `pql features` prepares the accounts in ranges of at most this many events
    /// each (memory grows with a range, not with the history; the rows then come range by range). Default
    /// 16,000,000 (about 1.5 GiB a range).
    #[serde(default = "default_events_per_range")]
    pub events_per_range: u64,
}

fn default_max_dropped_share() -> f64 {
    0.5
}

fn default_events_per_range() -> u64 {
    16_000_000
}

/// `[columns.*]`: the source column that holds each contract column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// `[columns.events]`
    #[serde(default)]
    pub events: EventColumns,
    /// `[columns.accounts]`
    #[serde(default)]
    pub accounts: AccountColumns,
    /// `[columns.conversions]`
    #[serde(default)]
    pub conversions: ConversionColumns,
}

/// Source column names of the events table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventColumns {
    /// The scored entity (workspace, company, or the user for B2C). Default `account_id`.
    pub account_id: String,
    /// The acting user; may be empty. Default `user_id`.
    pub user_id: String,
    /// The event name. Default `event`.
    pub event: String,
    /// When it happened (UTC). Default `timestamp`.
    pub timestamp: String,
    /// An optional number the event carries (an amount spent, seats added, messages in a batch): when
    /// mapped, per-event features also sum and average it. Not mapped by default.
    pub value: Option<String>,
}

impl Default for EventColumns {
    fn default() -> Self {
        Self {
            account_id: "account_id".into(),
            user_id: "user_id".into(),
            event: "event".into(),
            timestamp: "timestamp".into(),
            value: None,
        }
    }
}

/// Source column names of the accounts table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountColumns {
    /// Default `account_id`.
    pub account_id: String,
    /// Signup time (UTC). Default `signup_at`.
    pub signup_at: String,
    /// Current or starting plan; optional in the data. Default `plan`.
    pub plan: String,
}

impl Default for AccountColumns {
    fn default() -> Self {
        Self {
            account_id: "account_id".into(),
            signup_at: "signup_at".into(),
            plan: "plan".into(),
        }
    }
}

/// Source column names of the conversions table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversionColumns {
    /// Default `account_id`.
    pub account_id: String,
    /// Conversion time (UTC). Default `converted_at`.
    pub converted_at: String,
}

impl Default for ConversionColumns {
    fn default() -> Self {
        Self {
            account_id: "account_id".into(),
            converted_at: "converted_at".into(),
        }
    }
}

/// `[[attributes]]`: an account column used as a feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    /// Column name in the accounts table.
    pub name: String,
    /// How the column is read and encoded.
    pub kind: AttributeKind,
}

/// How an account attribute is interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeKind {
    /// A number (e.g. `company_size`), used as is.
    Numeric,
    /// A label (e.g. `industry`), one-hot encoded by the features stage.
    Categorical,
}

/// `[events]`: what event names mean. Every event not named in `hand_raise`, `collaboration`, `ignore` or
/// as a limit's `reached_event` counts as product feature usage; `key` events may also be product features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventRoles {
    /// Key (activation) events: the actions that show an account got value.
    pub key: Vec<String>,
    /// Hand-raise events: pricing page, upgrade click, contact sales.
    pub hand_raise: Vec<String>,
    /// Collaboration events: teammate invited or joined.
    pub collaboration: Vec<String>,
    /// Events that carry no signal (system notifications, emails) and are left out of every feature.
    pub ignore: Vec<String>,
    /// Per-event features (count, last 7 and 30 days, days since) for this many of the most frequent product
    /// events; 0 turns the family off.
    pub per_event: usize,
}

/// The default of `[events] per_event`.
pub const PER_EVENT_DEFAULT: usize = 30;

impl Default for EventRoles {
    fn default() -> Self {
        EventRoles {
            key: Vec::new(),
            hand_raise: Vec::new(),
            collaboration: Vec::new(),
            ignore: Vec::new(),
            per_event: PER_EVENT_DEFAULT,
        }
    }
}

/// `[[limits]]`: a free-plan usage limit on one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// The metered event (e.g. `task_created`).
    pub event: String,
    /// How many of them the free plan allows per period.
    pub limit: u64,
    /// The period over which usage is counted.
    pub period: LimitPeriod,
    /// The event the product logs when the limit is hit (e.g. `limit_reached`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached_event: Option<String>,
    /// The plans (values of the accounts' plan column) the limit applies to; empty (the default) means
    /// every account. Accounts on other plans get 0 for the limit's usage features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<String>,
}

/// The period of a plan limit; weeks start on Monday, months on the 1st, both at 00:00 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitPeriod {
    /// Calendar week (Monday to Sunday, UTC).
    Week,
    /// Calendar month (UTC).
    Month,
    /// The account's whole life.
    Lifetime,
}

/// `[[features]]`: a feature the team declares, e.g. "messages sent in the last 30 days" or "reached 2,000
/// messages", compiled by the same compiler as the built-in dictionary (polars and SQL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredFeature {
    /// The output column name; unique among all features.
    pub name: String,
    /// The one event it reads; give this or `role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The events of a role it reads; give this or `event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<DeclaredRole>,
    /// `"lifetime"` (the default) or `"<N>d"`: the last N days before the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// How the events become one number.
    pub aggregation: DeclaredAggregation,
    /// For `first_within`: the days after signup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// Turns the feature into a milestone flag: 1 when the aggregate is at least this, else 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// One line for people; a generated one by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The event roles a declared feature can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredRole {
    /// Every event that is not ignored.
    Activity,
    /// Product events (see [`EventRoles`]).
    Product,
    /// `events.key`.
    Key,
    /// `events.hand_raise`.
    HandRaise,
}

/// The aggregations of a declared feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredAggregation {
    /// Number of events in the window.
    Count,
    /// Number of distinct days with events in the window.
    DistinctDays,
    /// Sum of the events' values in the window (needs `[columns.events] value` and `event`).
    ValueSum,
    /// Mean value of the events in the window that have one (needs `[columns.events] value` and `event`).
    ValueMean,
    /// Days since the latest event (the tenure when there is none).
    DaysSince,
    /// Days from signup to the first event (the tenure when there is none); `event` or `role = "key"`.
    DaysToFirst,
    /// 1 when the first event came within `days` days of signup; `event` or `role = "key"`.
    FirstWithin,
}

impl DeclaredAggregation {
    /// The name in `pql.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeclaredAggregation::Count => "count",
            DeclaredAggregation::DistinctDays => "distinct_days",
            DeclaredAggregation::ValueSum => "value_sum",
            DeclaredAggregation::ValueMean => "value_mean",
            DeclaredAggregation::DaysSince => "days_since",
            DeclaredAggregation::DaysToFirst => "days_to_first",
            DeclaredAggregation::FirstWithin => "first_within",
        }
    }
}

/// A declared feature's window, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredWindow {
    /// Everything up to the snapshot.
    Lifetime,
    /// The last N days.
    LastDays(u32),
}

impl DeclaredFeature {
    /// The window (checked when the config is loaded).
    pub fn window(&self) -> DeclaredWindow {
        parse_window(self.window.as_deref()).unwrap_or(DeclaredWindow::Lifetime)
    }
}

fn parse_window(text: Option<&str>) -> Option<DeclaredWindow> {
    let text = match text {
        None => return Some(DeclaredWindow::Lifetime),
        Some(text) => text.trim(),
    };
    if text == "lifetime" {
        return Some(DeclaredWindow::Lifetime);
    }
    let days: u32 = text.strip_suffix('d')?.parse().ok()?;
    (1..=3660).contains(&days).then_some(DeclaredWindow::LastDays(days))
}

/// `[plan]`: the accounts' plan column (`[columns.accounts] plan`) as features: one flag per frequent
/// plan, and the days left in a trial. The column must hold the plan each account *started* on (at
/// signup): a current plan would tell the model who converted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Plan {
    /// The plan values that are trials. Default `["trial"]`.
    pub trial: Vec<String>,
    /// The trial's length in days: adds `trial_days_left` (the length minus the tenure, 0 once over, for
    /// accounts on a trial plan). Not set by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial_days: Option<u32>,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            trial: vec!["trial".into()],
            trial_days: None,
        }
    }
}

/// `[snapshots]`: when training and scoring snapshots are taken. A snapshot "as of" a date is taken at
/// 00:00 UTC that day and sees events strictly up to and including that instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Snapshots {
    /// Only `weekly` for now.
    pub cadence: Cadence,
    /// The weekday weekly snapshots fall on. Default `monday`.
    pub weekday: Weekday,
}

impl Default for Snapshots {
    fn default() -> Self {
        Self {
            cadence: Cadence::Weekly,
            weekday: Weekday::Monday,
        }
    }
}

/// Snapshot cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// One snapshot a week.
    Weekly,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// The chrono weekday.
    pub fn to_chrono(self) -> chrono::Weekday {
        match self {
            Weekday::Monday => chrono::Weekday::Mon,
            Weekday::Tuesday => chrono::Weekday::Tue,
            Weekday::Wednesday => chrono::Weekday::Wed,
            Weekday::Thursday => chrono::Weekday::Thu,
            Weekday::Friday => chrono::Weekday::Fri,
            Weekday::Saturday => chrono::Weekday::Sat,
            Weekday::Sunday => chrono::Weekday::Sun,
        }
    }

    /// The weekday of a chrono weekday.
    pub fn from_chrono(day: chrono::Weekday) -> Self {
        match day {
            chrono::Weekday::Mon => Weekday::Monday,
            chrono::Weekday::Tue => Weekday::Tuesday,
            chrono::Weekday::Wed => Weekday::Wednesday,
            chrono::Weekday::Thu => Weekday::Thursday,
            chrono::Weekday::Fri => Weekday::Friday,
            chrono::Weekday::Sat => Weekday::Saturday,
            chrono::Weekday::Sun => Weekday::Sunday,
        }
    }
}

/// `[label]`: an eligible snapshot is labelled 1 when the account converts in `(as_of, as_of + horizon]`,
/// 0 when it does not, and left empty when the data does not cover the whole horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Label {
    /// Horizon in days. Default 30.
    pub horizon_days: u32,
    /// The last day (`"YYYY-MM-DD"`, UTC) whose conversions the data is known to hold in full. By default
    /// the day of the latest event used: conversions are not trusted to say how far the data reaches (a
    /// conversion table may run ahead of the event export, or hold a mistyped date).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_until: Option<String>,
}

impl Default for Label {
    fn default() -> Self {
        Self {
            horizon_days: 30,
            observed_until: None,
        }
    }
}

impl Label {
    /// `observed_until` as a date (checked when the config is loaded).
    pub fn observed_until(&self) -> Option<chrono::NaiveDate> {
        self.observed_until.as_deref().and_then(parse_day)
    }
}

/// A `YYYY-MM-DD` date.
fn parse_day(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// `[drift]`: population stability index (PSI) above which `pql score` warns. PSI compares the shares of
/// rows in ten bins of the training data (deciles) with the scored population's:
/// `Σ (scored − training) · ln(scored / training)`; by common practice under 0.1 is stable, 0.1–0.25 a
/// moderate shift, above 0.25 a major one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Drift {
    /// Warn for a feature whose PSI exceeds this. Default 0.25.
    pub feature_psi: f64,
    /// Warn when the PSI of the calibrated probabilities exceeds this. Default 0.1.
    pub score_psi: f64,
}

impl Default for Drift {
    fn default() -> Self {
        Self {
            feature_psi: 0.25,
            score_psi: 0.1,
        }
    }
}

/// `[[rules]]`: a hand-written PQL rule over feature names, e.g.
/// `when = "limit_task_created_month_usage >= 0.8 and teammate_invited_count >= 1"`. Training parses it
/// (comparisons `>= > <= < == !=` against numbers, joined by `and`, then `or`) and reports its precision and
/// recall beside the model's at the same number of flagged accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A short name for reports.
    pub name: String,
    /// The condition.
    pub when: String,
}

impl Config {
    /// Reads and checks a `pql.toml` file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks configuration text; `path` locates relative inputs and names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|err| ConfigError::Parse {
            path: path.to_path_buf(),
            message: err.to_string().trim_end().to_string(),
        })?;
        raw.check(path)
    }

    /// The exclusive role of an event name (`hand_raise`, `collaboration`, `ignore` or `limit_reached`), or
    /// `None` when it counts as product-feature usage.
    pub fn exclusive_role(&self, event: &str) -> Option<&'static str> {
        let named = |list: &[String]| list.iter().any(|e| e == event);
        if named(&self.events.hand_raise) {
            Some("hand_raise")
        } else if named(&self.events.collaboration) {
            Some("collaboration")
        } else if named(&self.events.ignore) {
            Some("ignore")
        } else if self.limits.iter().any(|l| l.reached_event.as_deref() == Some(event)) {
            Some("limit_reached")
        } else {
            None
        }
    }
}

impl RawConfig {
    /// Validates the configuration once, resolving input paths against `path`'s folder.
    pub fn check(self, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        let base = path.parent().unwrap_or(Path::new(""));
        let resolve = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        for (key, p) in [
            ("inputs.events", &self.inputs.events),
            ("inputs.accounts", &self.inputs.accounts),
            ("inputs.conversions", &self.inputs.conversions),
        ] {
            if p.as_os_str().is_empty() {
                return Err(invalid(key.into(), "must name a file or folder".into()));
            }
        }
        let inputs = Inputs {
            events: resolve(&self.inputs.events),
            accounts: resolve(&self.inputs.accounts),
            conversions: resolve(&self.inputs.conversions),
            max_dropped_share: self.inputs.max_dropped_share,
            events_per_range: self.inputs.events_per_range,
        };
        if inputs.events_per_range == 0 {
            return Err(invalid("inputs.events_per_range".into(), "must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&inputs.max_dropped_share) {
            return Err(invalid(
                "inputs.max_dropped_share".into(),
                format!("must be between 0 and 1, got {}", inputs.max_dropped_share),
            ));
        }

        check_columns(&self.columns, &invalid)?;

        let mut attribute_names = BTreeMap::new();
        for (i, attribute) in self.attributes.iter().enumerate() {
            let key = format!("attributes[{i}].name");
            if attribute.name.trim().is_empty() {
                return Err(invalid(key, "must name a column of the accounts table".into()));
            }
            let reserved = [
                &self.columns.accounts.account_id,
                &self.columns.accounts.signup_at,
                &self.columns.accounts.plan,
            ];
            if reserved.contains(&&attribute.name) {
                return Err(invalid(
                    key,
                    format!(
                        "`{}` is a contract column of the accounts table, not an attribute",
                        attribute.name
                    ),
                ));
            }
            if self.plan.is_some() && attribute.name == "plan" {
                return Err(invalid(
                    key,
                    "`plan` is the name [plan] gives the plan column; rename the attribute's column".into(),
                ));
            }
            if let Some(first) = attribute_names.insert(attribute.name.clone(), i) {
                return Err(invalid(
                    key,
                    format!("`{}` is already declared in attributes[{first}]", attribute.name),
                ));
            }
        }

        // Event roles: hand_raise, collaboration, ignore and limit signals are mutually exclusive.
        let mut owner: BTreeMap<String, String> = BTreeMap::new();
        let mut claim = |event: &str, key: String| -> Result<(), ConfigError> {
            if event.trim().is_empty() {
                return Err(invalid(key, "event names cannot be empty".into()));
            }
            if let Some(previous) = owner.get(event) {
                return Err(invalid(
                    key,
                    format!("event `{event}` is already given a role by {previous}"),
                ));
            }
            owner.insert(event.to_string(), key);
            Ok(())
        };
        for (role, list) in [
            ("hand_raise", &self.events.hand_raise),
            ("collaboration", &self.events.collaboration),
            ("ignore", &self.events.ignore),
        ] {
            for (i, event) in list.iter().enumerate() {
                claim(event, format!("events.{role}[{i}]"))?;
            }
        }
        for (i, limit) in self.limits.iter().enumerate() {
            if let Some(reached) = &limit.reached_event {
                let already_reached = self.limits[..i]
                    .iter()
                    .any(|l| l.reached_event.as_ref() == Some(reached));
                if !already_reached {
                    claim(reached, format!("limits[{i}].reached_event"))?;
                }
            }
        }
        for (i, event) in self.events.key.iter().enumerate() {
            let key = format!("events.key[{i}]");
            if event.trim().is_empty() {
                return Err(invalid(key, "event names cannot be empty".into()));
            }
            if self.events.ignore.contains(event) {
                return Err(invalid(key, format!("event `{event}` is also in events.ignore")));
            }
        }
        for (i, limit) in self.limits.iter().enumerate() {
            if limit.event.trim().is_empty() {
                return Err(invalid(
                    format!("limits[{i}].event"),
                    "event names cannot be empty".into(),
                ));
            }
            if let Some(role) = owner.get(limit.event.as_str()) {
                return Err(invalid(
                    format!("limits[{i}].event"),
                    format!("the metered event `{}` is also listed in {role}", limit.event),
                ));
            }
            if limit.limit == 0 {
                return Err(invalid(format!("limits[{i}].limit"), "must be at least 1".into()));
            }
            if self.limits[..i]
                .iter()
                .any(|l| l.event == limit.event && l.period == limit.period)
            {
                return Err(invalid(
                    format!("limits[{i}]"),
                    format!("a {} limit on `{}` is declared twice", limit.period, limit.event),
                ));
            }
        }
        if self.label.horizon_days == 0 || self.label.horizon_days > 3660 {
            return Err(invalid(
                "label.horizon_days".into(),
                format!("must be between 1 and 3660 days, got {}", self.label.horizon_days),
            ));
        }
        if let Some(text) = &self.label.observed_until {
            if parse_day(text).is_none() {
                return Err(invalid(
                    "label.observed_until".into(),
                    format!("must be a date such as \"2025-06-30\", got {text:?}"),
                ));
            }
        }
        for (key, value) in [
            ("drift.feature_psi", self.drift.feature_psi),
            ("drift.score_psi", self.drift.score_psi),
        ] {
            if !(value > 0.0 && value.is_finite()) {
                return Err(invalid(key.into(), format!("must be a positive number, got {value}")));
            }
        }

        for (i, rule) in self.rules.iter().enumerate() {
            if rule.name.trim().is_empty() {
                return Err(invalid(format!("rules[{i}].name"), "must not be empty".into()));
            }
            if rule.when.trim().is_empty() {
                return Err(invalid(format!("rules[{i}].when"), "must state a condition".into()));
            }
            if let Some(first) = self.rules[..i].iter().position(|r| r.name == rule.name) {
                return Err(invalid(
                    format!("rules[{i}].name"),
                    format!("`{}` is already the name of rules[{first}]", rule.name),
                ));
            }
        }

        for (i, limit) in self.limits.iter().enumerate() {
            if limit.plans.iter().any(|p| p.trim().is_empty()) {
                return Err(invalid(
                    format!("limits[{i}].plans"),
                    "plan names cannot be empty".into(),
                ));
            }
        }
        if let Some(plan) = &self.plan {
            if plan.trial.iter().any(|p| p.trim().is_empty()) {
                return Err(invalid("plan.trial".into(), "plan names cannot be empty".into()));
            }
            if let Some(days) = plan.trial_days {
                if days == 0 || days > 3660 {
                    return Err(invalid(
                        "plan.trial_days".into(),
                        format!("must be between 1 and 3660 days, got {days}"),
                    ));
                }
            }
        }
        for (i, feature) in self.features.iter().enumerate() {
            check_declared(feature, i, &self, &invalid)?;
        }

        Ok(Config {
            source: path.to_path_buf(),
            inputs,
            columns: self.columns,
            attributes: self.attributes,
            events: self.events,
            limits: self.limits,
            snapshots: self.snapshots,
            label: self.label,
            rules: self.rules,
            drift: self.drift,
            features: self.features,
            plan: self.plan,
        })
    }
}

/// The checks of `features[i]` that need no data: a new name, one event or role, a window, and the
/// options its aggregation takes.
fn check_declared(
    feature: &DeclaredFeature,
    i: usize,
    raw: &RawConfig,
    invalid: &impl Fn(String, String) -> ConfigError,
) -> Result<(), ConfigError> {
    use DeclaredAggregation::*;
    let key = |field: &str| format!("features[{i}].{field}");
    let name = feature.name.trim();
    if name.is_empty() || name != feature.name {
        return Err(invalid(
            key("name"),
            "must be a column name without surrounding spaces".into(),
        ));
    }
    if name.contains('=') {
        return Err(invalid(
            key("name"),
            format!("`{name}`: `=` is kept for the attribute level flags (e.g. `industry=retail`)"),
        ));
    }
    if let Some(first) = raw.features[..i].iter().position(|f| f.name == feature.name) {
        return Err(invalid(
            key("name"),
            format!("`{name}` is already the name of features[{first}]"),
        ));
    }
    let aggregation = feature.aggregation.as_str();
    match (&feature.event, feature.role) {
        (Some(_), Some(_)) => return Err(invalid(key("role"), "give `event` or `role`, not both".into())),
        (None, None) => {
            return Err(invalid(
                key("event"),
                "give the event (or the `role`) the feature reads".into(),
            ))
        }
        (Some(event), None) => {
            if event.trim().is_empty() {
                return Err(invalid(key("event"), "event names cannot be empty".into()));
            }
            if raw.events.ignore.contains(event) {
                return Err(invalid(
                    key("event"),
                    format!("`{event}` is in events.ignore, which no feature reads"),
                ));
            }
        }
        (None, Some(role)) => {
            let by_event = matches!(feature.aggregation, ValueSum | ValueMean)
                || (matches!(feature.aggregation, DaysToFirst | FirstWithin) && role != DeclaredRole::Key);
            if by_event {
                let roles = match feature.aggregation {
                    ValueSum | ValueMean => "an `event`",
                    _ => "an `event` or `role = \"key\"`",
                };
                return Err(invalid(key("role"), format!("{aggregation} reads {roles}")));
            }
        }
    }
    let Some(window) = parse_window(feature.window.as_deref()) else {
        return Err(invalid(
            key("window"),
            format!(
                "must be \"lifetime\" or a number of days such as \"30d\" (1 to 3660), got {:?}",
                feature.window.as_deref().unwrap_or_default()
            ),
        ));
    };
    if window != DeclaredWindow::Lifetime && matches!(feature.aggregation, DaysSince | DaysToFirst | FirstWithin) {
        return Err(invalid(
            key("window"),
            format!("{aggregation} reads the whole history: leave `window` out"),
        ));
    }
    if matches!(feature.aggregation, ValueSum | ValueMean) && raw.columns.events.value.is_none() {
        return Err(invalid(
            key("aggregation"),
            format!("{aggregation} needs the events' value column: map it in [columns.events] value"),
        ));
    }
    match (feature.aggregation, feature.days) {
        (FirstWithin, None) => {
            return Err(invalid(
                key("days"),
                "first_within needs `days`, the days after signup".into(),
            ))
        }
        (FirstWithin, Some(days)) if days == 0 || days > 3660 => {
            return Err(invalid(key("days"), format!("must be between 1 and 3660, got {days}")))
        }
        (FirstWithin, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(invalid(key("days"), format!("is for first_within, not {aggregation}"))),
    }
    if let Some(threshold) = feature.threshold {
        if feature.aggregation == FirstWithin {
            return Err(invalid(key("threshold"), "first_within is a flag already".into()));
        }
        if !threshold.is_finite() {
            return Err(invalid(key("threshold"), format!("must be a number, got {threshold}")));
        }
    }
    Ok(())
}

fn check_columns(columns: &Columns, invalid: &impl Fn(String, String) -> ConfigError) -> Result<(), ConfigError> {
    let tables: [(&str, Vec<(&str, &String)>); 3] = [
        (
            "events",
            vec![
                ("account_id", &columns.events.account_id),
                ("user_id", &columns.events.user_id),
                ("event", &columns.events.event),
                ("timestamp", &columns.events.timestamp),
            ]
            .into_iter()
            .chain(columns.events.value.as_ref().map(|v| ("value", v)))
            .collect(),
        ),
        (
            "accounts",
            vec![
                ("account_id", &columns.accounts.account_id),
                ("signup_at", &columns.accounts.signup_at),
                ("plan", &columns.accounts.plan),
            ],
        ),
        (
            "conversions",
            vec![
                ("account_id", &columns.conversions.account_id),
                ("converted_at", &columns.conversions.converted_at),
            ],
        ),
    ];
    for (table, mapping) in tables {
        for (i, (name, source)) in mapping.iter().enumerate() {
            let key = format!("columns.{table}.{name}");
            if source.trim().is_empty() {
                return Err(invalid(key, "must name a source column".into()));
            }
            if let Some((other, _)) = mapping[..i].iter().find(|(_, s)| s == source) {
                return Err(invalid(
                    key,
                    format!("source column `{source}` is already mapped to columns.{table}.{other}"),
                ));
            }
        }
    }
    Ok(())
}

impl fmt::Display for LimitPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitPeriod::Week => "week",
            LimitPeriod::Month => "month",
            LimitPeriod::Lifetime => "lifetime",
        })
    }
}

impl fmt::Display for AttributeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttributeKind::Numeric => "numeric",
            AttributeKind::Categorical => "categorical",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [inputs]
        events = "events"
        accounts = "accounts.csv"
        conversions = "/abs/conversions.parquet"
    "#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/project/pql.toml"))
    }

    fn error_of(text: &str) -> String {
        parse(text).expect_err("config should be rejected").to_string()
    }

    #[test]
    fn minimal_config_gets_documented_defaults_and_resolved_paths() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.inputs.events, Path::new("/project/events"));
        assert_eq!(config.inputs.accounts, Path::new("/project/accounts.csv"));
        assert_eq!(config.inputs.conversions, Path::new("/abs/conversions.parquet"));
        assert_eq!(config.columns.events.timestamp, "timestamp");
        assert_eq!(config.label.horizon_days, 30);
        assert_eq!(config.snapshots.cadence, Cadence::Weekly);
        assert_eq!(config.snapshots.weekday, Weekday::Monday);
        assert!(config.limits.is_empty() && config.attributes.is_empty());
    }

    #[test]
    fn observed_until_and_dropped_share_are_checked() {
        let config = parse(&format!("{MINIMAL}\n[label]\nobserved_until = \"2025-06-30\"\n")).unwrap();
        assert_eq!(
            config.label.observed_until(),
            chrono::NaiveDate::from_ymd_opt(2025, 6, 30)
        );
        assert_eq!(config.inputs.max_dropped_share, 0.5);
        let err = error_of(&format!("{MINIMAL}\n[label]\nobserved_until = \"30/06/2025\"\n"));
        assert!(
            err.contains("label.observed_until") && err.contains("30/06/2025"),
            "{err}"
        );
        let err = error_of(&MINIMAL.replace("[inputs]", "[inputs]\nmax_dropped_share = 1.5"));
        assert!(err.contains("inputs.max_dropped_share"), "{err}");
        let err = error_of(&MINIMAL.replace("[inputs]", "[inputs]\nevents_per_range = 0"));
        assert!(err.contains("inputs.events_per_range"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = error_of(&format!("{MINIMAL}\n[label]\nhorizon_day = 30\n"));
        assert!(err.contains("horizon_day"), "{err}");
        assert!(err.contains("/project/pql.toml"), "{err}");
    }

    #[test]
    fn missing_section_is_named() {
        let err = error_of("[label]\nhorizon_days = 30\n");
        assert!(err.contains("inputs"), "{err}");
    }

    #[test]
    fn bad_enum_value_is_named() {
        let err = error_of(&format!(
            "{MINIMAL}\n[[limits]]\nevent = \"task_created\"\nlimit = 5\nperiod = \"year\"\n"
        ));
        assert!(err.contains("period") && err.contains("year"), "{err}");
    }

    #[test]
    fn zero_horizon_names_the_key() {
        let err = error_of(&format!("{MINIMAL}\n[label]\nhorizon_days = 0\n"));
        assert!(err.contains("label.horizon_days"), "{err}");
    }

    #[test]
    fn event_in_two_roles_names_both_keys() {
        let err = error_of(&format!(
            "{MINIMAL}\n[events]\nhand_raise = [\"pricing\"]\nignore = [\"x\", \"pricing\"]\n"
        ));
        assert!(err.contains("events.ignore[1]"), "{err}");
        assert!(err.contains("events.hand_raise[0]"), "{err}");
    }

    #[test]
    fn zero_limit_names_the_key() {
        let err = error_of(&format!(
            "{MINIMAL}\n[[limits]]\nevent = \"task_created\"\nlimit = 0\nperiod = \"month\"\n"
        ));
        assert!(err.contains("limits[0].limit"), "{err}");
    }

    #[test]
    fn metered_event_cannot_be_ignored() {
        let err = error_of(&format!(
            "{MINIMAL}\n[events]\nignore = [\"task_created\"]\n[[limits]]\nevent = \"task_created\"\nlimit = 3\nperiod = \"week\"\n"
        ));
        assert!(err.contains("limits[0].event"), "{err}");
    }

    #[test]
    fn duplicate_column_mapping_is_named() {
        let err = error_of(&format!(
            "{MINIMAL}\n[columns.events]\nevent = \"name\"\nuser_id = \"name\"\n"
        ));
        assert!(err.contains("columns.events"), "{err}");
    }

    #[test]
    fn attribute_shadowing_a_contract_column_is_named() {
        let err = error_of(&format!(
            "{MINIMAL}\n[[attributes]]\nname = \"plan\"\nkind = \"categorical\"\n"
        ));
        assert!(err.contains("attributes[0].name"), "{err}");
    }

    #[test]
    fn roles_classify_events() {
        let config = parse(&format!(
            "{MINIMAL}\n[events]\nkey = [\"report\"]\nhand_raise = [\"pricing\"]\n[[limits]]\nevent = \"task\"\nlimit = 3\nperiod = \"month\"\nreached_event = \"limit_hit\"\n"
        ))
        .unwrap();
        assert_eq!(config.exclusive_role("pricing"), Some("hand_raise"));
        assert_eq!(config.exclusive_role("limit_hit"), Some("limit_reached"));
        assert_eq!(config.exclusive_role("report"), None);
        assert_eq!(config.exclusive_role("task"), None);
    }

    #[test]
    fn declared_features_are_checked_key_by_key() {
        let feature = |body: &str| format!("{MINIMAL}\n[[features]]\nname = \"f\"\n{body}\n");
        let config = parse(&feature(
            "event = \"sent\"\nwindow = \"30d\"\naggregation = \"count\"\nthreshold = 2000",
        ))
        .unwrap();
        assert_eq!(config.features[0].window(), DeclaredWindow::LastDays(30));
        assert_eq!(config.features[0].threshold, Some(2000.0));
        let cases = [
            ("aggregation = \"count\"", "features[0].event"),
            (
                "event = \"a\"\nrole = \"key\"\naggregation = \"count\"",
                "features[0].role",
            ),
            (
                "event = \"a\"\nwindow = \"0d\"\naggregation = \"count\"",
                "features[0].window",
            ),
            (
                "event = \"a\"\nwindow = \"7d\"\naggregation = \"days_since\"",
                "features[0].window",
            ),
            ("event = \"a\"\naggregation = \"value_sum\"", "[columns.events] value"),
            (
                "role = \"product\"\naggregation = \"days_to_first\"",
                "features[0].role",
            ),
            ("event = \"a\"\naggregation = \"count\"\ndays = 3", "features[0].days"),
            (
                "event = \"a\"\naggregation = \"first_within\"\ndays = 3\nthreshold = 1",
                "features[0].threshold",
            ),
        ];
        for (body, key) in cases {
            let err = error_of(&feature(body));
            assert!(err.contains(key), "{body}: {err}");
        }
        let err = error_of(&format!("{MINIMAL}\n[plan]\ntrial_days = 0\n"));
        assert!(err.contains("plan.trial_days"), "{err}");
        let err = error_of(&format!(
            "{MINIMAL}\n[plan]\n[[attributes]]\nname = \"plan\"\nkind = \"categorical\"\n"
        ));
        assert!(err.contains("attributes[0].name"), "{err}");
    }
}
