//! The input tables as both queries read them, and the input report: what the engine's tables hold that
//! the feature query leaves out, and why, counted as `pql features` counts it in its input report, plus the
//! rows pql refuses outright (a warehouse cannot stop the query on them, so they are counted instead).

use std::fmt::Write;

use pql_data::config::{AttributeKind, Config};
use pql_features::{epoch_day, DAY_US, FUTURE_TOLERANCE_US, MAX_TS, MIN_TS};

use crate::{comment, Dialect, Tables};

/// Common table expressions, as `(name, comment, body)`, written out as one `WITH` clause.
#[derive(Default)]
pub(crate) struct Ctes {
    ctes: Vec<(String, String, String)>,
}

impl Ctes {
    /// Adds the CTE `name`, introduced by a `--` comment.
    pub(crate) fn add(&mut self, name: &str, comment: &str, body: String) {
        self.ctes.push((name.into(), comment.into(), body));
    }

    /// The `WITH` clause followed by `select`.
    pub(crate) fn then(&self, select: &str) -> String {
        let mut sql = String::from("WITH\n");
        let last = self.ctes.len().saturating_sub(1);
        for (i, (name, text, body)) in self.ctes.iter().enumerate() {
            let comma = if i < last { "," } else { "" };
            let _ = writeln!(sql, "{}\n{name} AS (\n  {body}\n){comma}", comment(text));
        }
        sql.push_str(select);
        sql
    }
}

/// Adds `accounts_in`, `conversions_in` and `events_in`: the three input tables in pql's names and types
/// (ids as text, times as microseconds since the epoch, empty user ids and categories as NULL, numeric
/// attributes NULL unless finite). Nothing is filtered yet.
pub(crate) fn add_inputs(ctes: &mut Ctes, config: &Config, tables: &Tables, dialect: Dialect) {
    let columns = &config.columns;
    let text = dialect.text_type();
    let q = |name: &str| dialect.quote(name);
    let mut attributes = String::new();
    if config.plan.is_some() {
        let _ = write!(
            attributes,
            ",\n    NULLIF(CAST(a.{} AS {text}), '') AS {}",
            q(&columns.accounts.plan),
            q(pql_features::catalog::PLAN)
        );
    }
    for attribute in &config.attributes {
        let name = q(&attribute.name);
        let _ = match attribute.kind {
            AttributeKind::Numeric => write!(
                attributes,
                ",\n    CASE WHEN {} THEN CAST(a.{name} AS DOUBLE) END AS {name}",
                dialect.is_finite(&format!("CAST(a.{name} AS DOUBLE)"))
            ),
            AttributeKind::Categorical => {
                write!(attributes, ",\n    NULLIF(CAST(a.{name} AS {text}), '') AS {name}")
            }
        };
    }
    ctes.add(
        "accounts_in",
        "the accounts table in pql's names and types; missing and non-finite numbers are NULL",
        format!(
            "SELECT CAST(a.{id} AS {text}) AS account_id, {signup} AS signup{attributes}\n  FROM {table} a",
            id = q(&columns.accounts.account_id),
            signup = dialect.epoch_us(&format!("a.{}", q(&columns.accounts.signup_at))),
            table = tables.accounts.sql(dialect),
        ),
    );
    ctes.add(
        "conversions_in",
        "every conversion row",
        format!(
            "SELECT CAST(c.{id} AS {text}) AS account_id, {at} AS converted\n  FROM {table} c",
            id = q(&columns.conversions.account_id),
            at = dialect.epoch_us(&format!("c.{}", q(&columns.conversions.converted_at))),
            table = tables.conversions.sql(dialect),
        ),
    );
    ctes.add(
        "events_in",
        "every event row",
        format!(
            "SELECT CAST(x.{account} AS {text}) AS account_id, NULLIF(CAST(x.{user} AS {text}), '') AS user_id,\n    \
             CAST(x.{event} AS {text}) AS event, {ts} AS ts, {value} AS value\n  FROM {table} x",
            value = match &columns.events.value {
                // NaN and infinities are missing values, as pql reads them.
                Some(v) => {
                    let v = format!("CAST(x.{} AS DOUBLE)", q(v));
                    format!("CASE WHEN {} THEN {v} END", dialect.is_finite(&v))
                }
                None => "CAST(NULL AS DOUBLE)".to_string(),
            },
            account = q(&columns.events.account_id),
            user = q(&columns.events.user_id),
            event = q(&columns.events.event),
            ts = dialect.epoch_us(&format!("x.{}", q(&columns.events.timestamp))),
            table = tables.events.sql(dialect),
        ),
    );
}

/// The instant (μs) after which an event counts as dated in the future: the engine's clock when the query
/// runs (as pql's when it reads), plus pql's tolerance.
pub(crate) fn future_from(dialect: Dialect) -> String {
    format!("({} + {FUTURE_TOLERANCE_US})", dialect.epoch_us("CURRENT_TIMESTAMP"))
}

/// Adds `observation`: the observation end, as pql sets it: the midnight after `[label] observed_until`, or
/// else the midnight ending the day of the latest event used (`latest`: a query of one column `latest`).
pub(crate) fn add_observation(ctes: &mut Ctes, config: &Config, dialect: Dialect, latest: &str) {
    match config.label.observed_until() {
        Some(day) => ctes.add(
            "observation",
            "the midnight after [label] observed_until: a label needs its horizon to end by then",
            format!("SELECT {} AS observation_end", (epoch_day(day) + 1) * DAY_US),
        ),
        None => ctes.add(
            "observation",
            "the midnight ending the day of the latest event used: a label needs its horizon to end by then",
            format!(
                "SELECT ({}) * {DAY_US} AS observation_end\n  FROM ({latest}) e",
                dialect.int_div(&format!("e.latest + {}", DAY_US - 1), &DAY_US.to_string()),
            ),
        ),
    }
}

/// The columns of [`input_report_query`], in order, with what each counts.
pub const INPUT_REPORT_COLUMNS: [(&str, &str); 18] = [
    ("events_read", "event rows read"),
    ("events_used", "event rows the features use"),
    ("ignored_events", "events named in events.ignore"),
    (
        "events_missing_values",
        "events without an account, event name or timestamp",
    ),
    (
        "events_of_unknown_accounts",
        "events of accounts missing from the accounts table",
    ),
    ("events_before_signup", "events before their account's signup"),
    (
        "duplicate_events",
        "exact repeats of an event (account, user, event, timestamp)",
    ),
    (
        "events_in_future",
        "events dated more than a day after the engine's clock",
    ),
    ("accounts", "account rows read"),
    ("conversions_read", "conversion rows read"),
    (
        "conversions_of_unknown_accounts",
        "conversions of accounts missing from the accounts table",
    ),
    ("repeated_conversions", "conversions after an account's first"),
    (
        "conversions_before_signup",
        "accounts whose first conversion precedes their signup",
    ),
    (
        "conversions_after_observation_end",
        "conversions of known accounts after the observation end",
    ),
    (
        "events_out_of_range",
        "events outside years 1 to 9999 (pql refuses them)",
    ),
    (
        "accounts_missing_values",
        "account rows without an id or signup time (pql refuses them)",
    ),
    (
        "duplicate_accounts",
        "account rows repeating an earlier id (pql refuses them)",
    ),
    (
        "conversions_missing_values",
        "conversion rows without an account or time (pql refuses them)",
    ),
];

/// One row counting what the feature query of the same config reads and leaves out, and why: the first
/// thirteen columns are pql's input report (`pql.input_report` in a feature table's metadata), counted by the
/// same rules in the same order, so on tables pql accepts they equal it. The last three count rows that pql
/// refuses with an error; where they are not 0 the engine's feature rows cannot be trusted (a repeated
/// account id, for one, repeats its rows). Columns as in [`INPUT_REPORT_COLUMNS`], all BIGINT.
pub fn input_report_query(config: &Config, tables: &Tables, dialect: Dialect) -> String {
    let mut ctes = Ctes::default();
    add_inputs(&mut ctes, config, tables, dialect);
    ctes.add(
        "known_accounts",
        "each account id once, with its earliest signup",
        "SELECT account_id, MIN(signup) AS signup\n  FROM accounts_in\n  \
         WHERE account_id IS NOT NULL\n  GROUP BY account_id"
            .into(),
    );
    ctes.add(
        "event_fates",
        "each event row with the first of pql's rules that drops it, in pql's order, or 'used'",
        format!(
            "SELECT e.account_id, e.user_id, e.event, e.ts, e.value,\n    \
             CASE WHEN e.account_id IS NULL OR e.event IS NULL OR e.ts IS NULL THEN 'missing_values'\n      \
             WHEN {ignored} THEN 'ignored'\n      \
             WHEN e.ts < {MIN_TS} OR e.ts >= {MAX_TS} THEN 'out_of_range'\n      \
             WHEN e.ts > {future} THEN 'in_future'\n      \
             WHEN a.account_id IS NULL THEN 'unknown_account'\n      \
             WHEN e.ts >= a.signup THEN 'used'\n      \
             ELSE 'before_signup' END AS fate\n  \
             FROM events_in e\n  LEFT JOIN known_accounts a ON a.account_id = e.account_id",
            ignored = dialect.is_in("e.event", &config.events.ignore),
            future = future_from(dialect),
        ),
    );
    ctes.add(
        "event_counts",
        "events by fate; exact repeats of a used event count once as used",
        "SELECT COUNT(*) AS events_read,\n    \
         SUM(CASE WHEN fate = 'ignored' THEN 1 ELSE 0 END) AS ignored_events,\n    \
         SUM(CASE WHEN fate = 'missing_values' THEN 1 ELSE 0 END) AS events_missing_values,\n    \
         SUM(CASE WHEN fate = 'unknown_account' THEN 1 ELSE 0 END) AS events_of_unknown_accounts,\n    \
         SUM(CASE WHEN fate = 'before_signup' THEN 1 ELSE 0 END) AS events_before_signup,\n    \
         SUM(CASE WHEN fate = 'out_of_range' THEN 1 ELSE 0 END) AS events_out_of_range,\n    \
         SUM(CASE WHEN fate = 'in_future' THEN 1 ELSE 0 END) AS events_in_future,\n    \
         SUM(CASE WHEN fate = 'used' THEN 1 ELSE 0 END) AS events_kept\n  \
         FROM event_fates"
            .into(),
    );
    ctes.add(
        "used_events",
        "the distinct used events",
        "SELECT COUNT(*) AS events_used\n  FROM (SELECT DISTINCT account_id, user_id, event, ts, value FROM event_fates \
         WHERE fate = 'used') u"
            .into(),
    );
    ctes.add(
        "account_counts",
        "account rows, those without an id or signup, and repeated ids",
        "SELECT COUNT(*) AS accounts,\n    \
         SUM(CASE WHEN account_id IS NULL OR signup IS NULL THEN 1 ELSE 0 END) AS accounts_missing_values,\n    \
         COUNT(account_id) - COUNT(DISTINCT account_id) AS duplicate_accounts\n  \
         FROM accounts_in"
            .into(),
    );
    ctes.add(
        "conversion_counts",
        "conversion rows: without an account or time, of unknown accounts, and after the account's first",
        "SELECT COUNT(*) AS conversions_read,\n    \
         SUM(CASE WHEN c.account_id IS NULL OR c.converted IS NULL THEN 1 ELSE 0 END) AS conversions_missing_values,\n    \
         SUM(CASE WHEN c.converted IS NOT NULL AND c.account_id IS NOT NULL AND a.account_id IS NULL THEN 1 ELSE 0 END)\n      \
         AS conversions_of_unknown_accounts,\n    \
         COUNT(CASE WHEN c.converted IS NOT NULL THEN a.account_id END)\n      \
         - COUNT(DISTINCT CASE WHEN c.converted IS NOT NULL THEN a.account_id END) AS repeated_conversions\n  \
         FROM conversions_in c\n  LEFT JOIN known_accounts a ON a.account_id = c.account_id"
            .into(),
    );
    ctes.add(
        "converted_early",
        "accounts whose first conversion precedes their signup",
        "SELECT COUNT(*) AS conversions_before_signup\n  \
         FROM known_accounts a\n  \
         JOIN (SELECT account_id, MIN(converted) AS converted FROM conversions_in GROUP BY account_id) c\n    \
         ON c.account_id = a.account_id\n  WHERE c.converted < a.signup"
            .into(),
    );
    add_observation(
        &mut ctes,
        config,
        dialect,
        "SELECT MAX(ts) AS latest FROM event_fates WHERE fate = 'used'",
    );
    ctes.add(
        "converted_late",
        "conversions of known accounts after the observation end",
        "SELECT COUNT(*) AS conversions_after_observation_end\n  \
         FROM conversions_in c\n  JOIN known_accounts a ON a.account_id = c.account_id\n  \
         CROSS JOIN observation o\n  WHERE c.converted > o.observation_end"
            .into(),
    );
    let mut select = String::new();
    for (i, (name, meaning)) in INPUT_REPORT_COLUMNS.iter().enumerate() {
        // Column names are unique across the joined counts.
        let value = match *name {
            "duplicate_events" => "events_kept - events_used",
            name => name,
        };
        let comma = if i + 1 < INPUT_REPORT_COLUMNS.len() { "," } else { "" };
        let _ = write!(
            select,
            "\n  CAST(COALESCE({value}, 0) AS BIGINT) AS {name}{comma}  {}",
            comment(meaning)
        );
    }
    ctes.then(&format!(
        "SELECT{select}\nFROM event_counts\nCROSS JOIN used_events\nCROSS JOIN account_counts\n\
         CROSS JOIN conversion_counts\nCROSS JOIN converted_early\nCROSS JOIN converted_late"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_selects_its_columns_in_order() {
        let config = pql_data::Config::parse(
            "[inputs]\nevents = \"e.csv\"\naccounts = \"a.csv\"\nconversions = \"c.csv\"\n",
            std::path::Path::new("pql.toml"),
        )
        .unwrap();
        for dialect in [Dialect::DuckDb, Dialect::Spark] {
            let sql = input_report_query(&config, &Tables::default(), dialect);
            let select = &sql[sql.rfind("\nSELECT").unwrap()..];
            let aliases: Vec<&str> = select
                .lines()
                .filter_map(|line| line.split("  --").next()?.rsplit_once(" AS "))
                .map(|(_, alias)| alias.trim_end_matches(','))
                .collect();
            let names: Vec<&str> = INPUT_REPORT_COLUMNS.iter().map(|(name, _)| *name).collect();
            assert_eq!(aliases, names);
            // No event is ignored by this config: the rule is written as FALSE, not as an empty IN list.
            assert!(sql.contains("WHEN FALSE THEN 'ignored'"), "{sql}");
        }
    }
}
