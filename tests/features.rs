//! `pql features`: hand-computed values for every family, point-in-time properties, eligibility and label
//! boundaries, input-problem counts, and agreement with the generator's truth.

use std::collections::HashMap;
use std::fs::File;

use polars::prelude::*;

use crate::util::{read, Dir};

const CONFIG: &str = r#"
[inputs]
events = "events.csv"
accounts = "accounts.csv"
conversions = "conversions.csv"

[[attributes]]
name = "size"
kind = "numeric"

[[attributes]]
name = "industry"
kind = "categorical"

[events]
key = ["report_shared"]
hand_raise = ["pricing_viewed"]
collaboration = ["invite_sent"]
ignore = ["email_opened"]

[[limits]]
event = "task_created"
limit = 4
period = "week"
reached_event = "limit_hit"

[label]
horizon_days = 10
# The events end on 2025-03-10; the conversions are known to be complete up to A's repeat on 2025-04-01.
observed_until = "2025-04-01"
"#;

const ACCOUNTS: &str = "account_id,signup_at,size,industry
A,2025-03-01T10:00:00Z,12,tech
B,2025-02-01T00:00:00Z,,tech
C,2025-03-10T00:00:00Z,3,retail
D,2025-03-01T00:00:00Z,5,
E,2025-03-10T00:00:01Z,7,retail
F,2025-03-01T00:00:00Z,2,retail
";

const CONVERSIONS: &str = "account_id,converted_at
A,2025-03-20T00:00:00Z
C,2025-03-20T00:00:01Z
D,2025-03-09T00:00:00Z
Z,2025-03-01T00:00:00Z
A,2025-04-01T00:00:00Z
F,2025-03-25T00:00:00Z
";

const EVENTS: &str = "account_id,user_id,event,timestamp
A,u1,task_created,2025-03-01T10:00:00Z
A,u1,task_created,2025-03-01T10:10:00Z
A,u1,board_viewed,2025-03-01T11:00:00Z
A,u2,report_shared,2025-03-03T09:00:00Z
A,u1,task_created,2025-03-04T08:00:00Z
A,u1,task_created,2025-03-04T08:05:00Z
A,u1,limit_hit,2025-03-04T08:06:00Z
A,u1,email_opened,2025-03-04T08:07:00Z
A,u1,pricing_viewed,2025-03-05T12:00:00Z
A,u1,pricing_viewed,2025-03-05T12:00:00Z
A,u3,invite_sent,2025-03-08T15:00:00Z
A,u1,task_created,2025-03-10T00:00:00Z
A,u1,board_viewed,2025-03-10T00:00:01Z
A,u1,board_viewed,1999-12-31T00:00:00Z
B,u9,search_done,2025-02-01T12:00:00Z
B,u9,search_done,2025-01-31T12:00:00Z
Z,u7,board_viewed,2025-03-02T00:00:00Z
";

/// The hand-made history of these tests: every family, duplicates, ignored events, events before signup (one
/// in 1999) and of unknown accounts, accounts without events, conversions on the horizon's edges.
pub fn fixture() -> Dir {
    history(CONFIG, ACCOUNTS, CONVERSIONS, EVENTS)
}

/// A folder with `pql.toml` and the three CSV tables it names.
pub fn history(config: &str, accounts: &str, conversions: &str, events: &str) -> Dir {
    let dir = Dir::new();
    dir.write("pql.toml", config);
    dir.write("accounts.csv", accounts);
    dir.write("conversions.csv", conversions);
    dir.write("events.csv", events);
    dir
}

/// Every value of one row, by column name.
fn row(frame: &DataFrame, account: &str, as_of: &str) -> HashMap<String, Option<f64>> {
    let t = pql_data::input::parse_timestamp(as_of).unwrap();
    let ids = frame.column("account_id").unwrap().str().unwrap();
    let times = frame
        .column("as_of")
        .unwrap()
        .as_materialized_series()
        .to_physical_repr();
    let times = times.i64().unwrap();
    let index = (0..frame.height())
        .find(|&i| ids.get(i) == Some(account) && times.get(i) == Some(t))
        .unwrap_or_else(|| panic!("no row for {account} at {as_of}"));
    frame
        .columns()
        .iter()
        .skip(2)
        .map(|c| {
            let value = c.as_materialized_series().cast(&DataType::Float64).unwrap();
            (c.name().to_string(), value.f64().unwrap().get(index))
        })
        .collect()
}

fn assert_values(row: &HashMap<String, Option<f64>>, expected: &[(&str, f64)]) {
    for (name, want) in expected {
        let got = row
            .get(*name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .unwrap_or(f64::NAN);
        assert!((got - want).abs() < 1e-9, "{name}: got {got}, expected {want}");
    }
}

#[test]
fn every_family_matches_hand_computed_values() {
    let dir = fixture();
    dir.pql_ok(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-03-10",
        "--out",
        "f.parquet",
    ]);
    let frame = read(&dir.join("f.parquet"));
    // Eligible at 2025-03-10T00:00Z: A, B, C (signed up exactly at as_of) and F; not D (converted before),
    // not E (signed up one second after).
    let ids: Vec<&str> = frame
        .column("account_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(ids, ["A", "B", "C", "F"]);

    let a = row(&frame, "A", "2025-03-10");
    assert_values(
        &a,
        &[
            ("label", 1.0), // converts exactly at as_of + 10 days
            ("tenure_days", 8.0 + 14.0 / 24.0),
            ("events", 10.0), // ignored, duplicate, later and pre-signup events left out; the one at as_of kept
            ("active_days", 6.0),
            ("active_days_7d", 5.0),
            ("active_days_30d", 6.0),
            ("sessions", 7.0),
            ("sessions_7d", 5.0),
            ("days_since_last_activity", 0.0),
            ("features_used", 3.0),
            ("feature_share", 0.75), // task_created, board_viewed, report_shared of 4 (B's search_done)
            ("features_used_7d", 2.0),
            ("task_created_count", 5.0),
            ("task_created_7d", 3.0), // the days ending 2025-03-05 (two) and 2025-03-10
            ("task_created_30d", 5.0),
            ("days_since_task_created", 0.0),
            ("board_viewed_count", 1.0), // the one after as_of and the one before signup left out
            ("board_viewed_7d", 0.0),
            ("days_since_board_viewed", 8.0 + 13.0 / 24.0),
            ("report_shared_7d", 1.0),
            ("days_since_report_shared", 6.0 + 15.0 / 24.0),
            ("search_done_count", 0.0),
            ("days_since_search_done", 8.0 + 14.0 / 24.0), // never used: censored at tenure
            ("key_events", 1.0),
            ("days_to_first_key_event", 47.0 / 24.0),
            ("features_first_3d", 3.0),
            ("features_first_7d", 3.0),
            ("days_to_3_features", 47.0 / 24.0),
            ("limit_task_created_week_usage", 0.75), // 3 in the week of Monday 2025-03-03, limit 4
            ("limit_task_created_week_max_usage", 0.75),
            ("limit_hit_count", 1.0),
            ("limit_hit_7d", 1.0),
            ("days_since_limit_hit", 5.0 + 954.0 / 1440.0),
            ("pricing_viewed_7d", 1.0),
            ("pricing_viewed_30d", 1.0),
            ("days_since_hand_raise", 4.5),
            ("active_users", 3.0),
            ("invite_sent_count", 1.0),
            ("events_7d", 7.0),
            ("events_prev_7d", 3.0),
            ("activity_trend", 0.4),
            ("size", 12.0),
            ("size_missing", 0.0),
            ("industry=tech", 1.0),
            ("industry=retail", 0.0),
            ("industry_other", 0.0),
            ("industry_missing", 0.0),
        ],
    );

    let b = row(&frame, "B", "2025-03-10");
    assert_values(
        &b,
        &[
            ("label", 0.0),
            ("tenure_days", 37.0),
            ("events", 1.0), // the event before signup is left out
            ("active_days_7d", 0.0),
            ("days_since_last_activity", 36.5),
            ("feature_share", 0.25),
            ("search_done_count", 1.0),
            ("days_since_search_done", 36.5),
            ("key_events", 0.0),
            ("days_to_first_key_event", 37.0), // censored at tenure
            ("days_to_3_features", 37.0),
            ("days_since_limit_hit", 37.0),
            ("days_since_hand_raise", 37.0),
            ("limit_task_created_week_usage", 0.0),
            ("activity_trend", 0.0),
            ("size", 0.0),
            ("size_missing", 1.0),
            ("industry=tech", 1.0),
        ],
    );

    // Event usage for the product events by rows in the file up to as_of (also Z's
    // board_viewed, B's event before signup), most frequent first, between breadth and adoption speed.
    let names: Vec<&str> = frame.get_column_names().into_iter().map(|n| n.as_str()).collect();
    let start = names.iter().position(|n| *n == "features_used_7d").unwrap() + 1;
    assert_eq!(
        names[start..start + 17],
        [
            "task_created_count",
            "task_created_7d",
            "task_created_30d",
            "days_since_task_created",
            "board_viewed_count",
            "board_viewed_7d",
            "board_viewed_30d",
            "days_since_board_viewed",
            "search_done_count",
            "search_done_7d",
            "search_done_30d",
            "days_since_search_done",
            "report_shared_count",
            "report_shared_7d",
            "report_shared_30d",
            "days_since_report_shared",
            "key_events",
        ]
    );

    let c = row(&frame, "C", "2025-03-10");
    assert_values(
        &c,
        &[
            ("label", 0.0), // converts one second after the horizon
            ("tenure_days", 0.0),
            ("events", 0.0),
            ("days_since_last_activity", 0.0),
            ("industry=retail", 1.0),
        ],
    );
}

#[test]
fn labels_are_null_when_the_horizon_is_not_observed() {
    let dir = fixture();
    dir.pql_ok(&[
        "features",
        "--config",
        "pql.toml",
        "--from",
        "2025-03-24",
        "--to",
        "2025-03-24",
        "--out",
        "f.parquet",
    ]);
    let frame = read(&dir.join("f.parquet"));
    let ids: Vec<&str> = frame
        .column("account_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(ids, ["B", "E", "F"]);
    // The data is observed until 2025-04-01 (the config says so); 2025-03-24 + 10 days is later. F converts
    // inside that unobserved horizon, and still gets no label: keeping only seen positives would bias
    // training.
    assert_eq!(frame.column("label").unwrap().null_count(), 3);
}

#[test]
fn input_problems_are_counted_and_kept_in_the_metadata() {
    let dir = fixture();
    let out = dir.pql(
        "features --config pql.toml --as-of 2025-03-10 --out f.csv"
            .split(' ')
            .collect::<Vec<_>>()
            .as_slice(),
    );
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    for line in [
        "read 17 events, used 12",
        "1 events ignored by the config",
        "1 events of accounts missing from the accounts table",
        "2 events before their account's signup",
        "1 duplicate events",
        "1 conversions of unknown accounts",
        "1 repeated conversions",
        "6 accounts; 6 conversions",
    ] {
        assert!(stderr.contains(line), "missing {line:?} in\n{stderr}");
    }
    let meta = std::fs::read_to_string(dir.join("f.csv.meta.json")).unwrap();
    assert!(meta.contains("\"duplicate_events\": 1"), "{meta}");
    assert!(meta.contains("\"events_before_signup\": 2"), "{meta}");
}

#[test]
fn events_after_as_of_never_change_a_row() {
    use rand::{Rng, SeedableRng};
    let dir = Dir::new();
    dir.pql_ok(&[
        "generate",
        "--accounts",
        "150",
        "--seed",
        "21",
        "--weeks",
        "12",
        "--out",
        "gen",
    ]);
    let as_of = "2025-02-17";
    let t_ms = pql_data::input::parse_timestamp(as_of).unwrap() / 1000;
    dir.pql_ok(&[
        "features",
        "--config",
        "gen/pql.toml",
        "--as-of",
        as_of,
        "--out",
        "base.parquet",
    ]);
    let base = read(&dir.join("base.parquet")).drop("label").unwrap();
    let events = read(&dir.join("gen/events.parquet"));
    let names = [
        "board_viewed",
        "task_created",
        "limit_reached",
        "pricing_page_viewed",
        "teammate_invited",
        "integration_connected",
    ];
    for trial in 0..3u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(trial);
        // Remove a random share of the later events, then add random later ones (some exactly one
        // millisecond after as_of, some for accounts that have no events yet).
        let times = events
            .column("timestamp")
            .unwrap()
            .as_materialized_series()
            .to_physical_repr();
        let keep: BooleanChunked = times
            .i64()
            .unwrap()
            .into_no_null_iter()
            .map(|ts| ts <= t_ms || rng.gen_bool(0.5))
            .collect();
        let mut changed = events.filter(&keep).unwrap();
        let n = 500;
        let extra = df!(
            "account_id" => (0..n).map(|_| format!("acc_{:07}", rng.gen_range(0..150))).collect::<Vec<_>>(),
            "user_id" => (0..n).map(|i| format!("new_user_{i}")).collect::<Vec<_>>(),
            "event" => (0..n).map(|_| names[rng.gen_range(0..names.len())]).collect::<Vec<_>>(),
            "timestamp" => (0..n).map(|i| if i % 10 == 0 { t_ms + 1 } else { t_ms + rng.gen_range(1..60 * 86_400_000) }).collect::<Vec<i64>>(),
        )
        .unwrap();
        let extra = extra
            .lazy()
            .with_column(col("timestamp").cast(DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))))
            .collect()
            .unwrap();
        changed.vstack_mut_owned(extra).unwrap();
        let path = dir.join("gen/events.parquet");
        ParquetWriter::new(File::create(&path).unwrap())
            .finish(&mut changed)
            .unwrap();
        dir.pql_ok(&[
            "features",
            "--config",
            "gen/pql.toml",
            "--as-of",
            as_of,
            "--out",
            "changed.parquet",
        ]);
        let after = read(&dir.join("changed.parquet")).drop("label").unwrap();
        assert!(
            base.equals_missing(&after),
            "trial {trial}: a feature changed after adding or removing later events"
        );
    }
}

#[test]
fn histories_prepared_in_account_ranges_give_the_same_rows() {
    let dir = generated_history();
    let features = |config: &str, out: &str, dates: &[&str]| {
        let output = dir.pql(&[&["features", "--config", config, "--out", out][..], dates].concat());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(output.status.success(), "{stderr}");
        stderr
    };
    // The counts of what was read and left out.
    let counts = |stderr: &str| {
        let lines = stderr
            .lines()
            .filter(|l| !l.contains(" in ") && !l.starts_with("prepared in "));
        lines.collect::<Vec<_>>().join("\n")
    };
    let range = ["--from", "2025-01-13", "--to", "2025-03-31"];
    let whole = features("gen/pql.toml", "whole.parquet", &range);
    // At most 2,000 kept events per range: the generated history (about 100 per account) comes in many
    // account ranges, each replayed from disk-backed buckets.
    let config = std::fs::read_to_string(dir.join("gen/pql.toml")).unwrap();
    dir.write(
        "gen/ranges.toml",
        &config.replacen("[inputs]", "[inputs]\nevents_per_range = 2000", 1),
    );
    let ranged = features("gen/ranges.toml", "ranges.parquet", &range);
    assert!(!whole.contains("account ranges"), "{whole}");
    assert!(
        ranged.contains("account ranges ([inputs] events_per_range = 2000)"),
        "{ranged}"
    );
    assert_eq!(counts(&whole), counts(&ranged), "the same input report");
    let by_row = |name: &str| {
        read(&dir.join(name))
            .sort(["as_of", "account_id"], SortMultipleOptions::default())
            .unwrap()
    };
    let (whole_rows, ranged_rows) = (by_row("whole.parquet"), by_row("ranges.parquet"));
    assert!(whole_rows.height() > 1000);
    assert!(whole_rows.equals_missing(&ranged_rows));
    // The ranges come in account order: one snapshot's rows are in the same order.
    features("gen/pql.toml", "one.parquet", &["--as-of", "2025-03-31"]);
    features("gen/ranges.toml", "one-ranged.parquet", &["--as-of", "2025-03-31"]);
    assert!(read(&dir.join("one.parquet")).equals_missing(&read(&dir.join("one-ranged.parquet"))));
}

/// A folder with `pql generate`'s history of 300 accounts over 12 weeks in `gen/`.
fn generated_history() -> Dir {
    let dir = Dir::new();
    dir.pql_ok(&[
        "generate",
        "--accounts",
        "300",
        "--seed",
        "8",
        "--weeks",
        "12",
        "--out",
        "gen",
    ]);
    dir
}

#[test]
fn a_table_written_by_the_library_reads_back_with_its_dictionary() {
    let dir = fixture();
    let config = pql_data::Config::load(dir.join("pql.toml")).unwrap();
    let date = "2025-03-10".parse::<chrono::NaiveDate>().unwrap();
    let builder = pql_features::FeatureBuilder::new(&config, &pql_features::Snapshots::One(date), None).unwrap();
    for name in ["library.parquet", "library.csv"] {
        let path = dir.join(name);
        let written = builder.write(&path).unwrap();
        let (frame, defs) = pql_features::read_table(&path).unwrap();
        assert_eq!(defs, builder.defs(), "{name}");
        assert_eq!(frame.height(), written.rows, "{name}");
        assert_eq!(pql_features::StoredTable::open(&path).unwrap().defs, builder.defs());
    }
    let report = crate::util::input_report(&dir.join("library.parquet"));
    assert_eq!(report["events_read"], serde_json::json!(builder.report().events_read));
}

#[test]
fn eligible_rows_are_the_generators_truth_rows() {
    let dir = generated_history();
    dir.pql_ok(&[
        "features",
        "--config",
        "gen/pql.toml",
        "--from",
        "2025-01-13",
        "--to",
        "2025-03-31",
        "--out",
        "f.parquet",
    ]);
    let features = read(&dir.join("f.parquet"));
    let truth = read(&dir.join("gen/truth.parquet"))
        .lazy()
        .with_column(col("as_of").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .collect()
        .unwrap();
    let labelled = features
        .clone()
        .lazy()
        .filter(col("label").is_not_null())
        .select([col("account_id"), col("as_of"), col("label")])
        .collect()
        .unwrap();
    // Same (account, as_of) rows: the generator's eligibility and horizon rules are pql's.
    let joined = truth
        .lazy()
        .join(
            labelled.clone().lazy(),
            [col("account_id"), col("as_of")],
            [col("account_id"), col("as_of")],
            JoinArgs::new(JoinType::Full),
        )
        .select([
            col("probability").null_count().alias("only_features"),
            col("label").null_count().alias("only_truth"),
            col("probability").mean().alias("truth_mean"),
            col("label").cast(DataType::Float64).mean().alias("label_mean"),
        ])
        .collect()
        .unwrap();
    let get = |name: &str| joined.column(name).unwrap().get(0).unwrap().extract::<f64>().unwrap();
    assert!(labelled.height() > 400, "{} labelled rows", labelled.height());
    assert_eq!(get("only_features"), 0.0);
    assert_eq!(get("only_truth"), 0.0);
    assert!(
        (get("truth_mean") - get("label_mean")).abs() < 0.03,
        "{} vs {}",
        get("truth_mean"),
        get("label_mean")
    );
    // No NaN and no null in any feature.
    for column in features.columns().iter().skip(3) {
        let values = column.f64().unwrap();
        assert_eq!(values.null_count(), 0, "{}", column.name());
        assert!(values.into_no_null_iter().all(f64::is_finite), "{}", column.name());
    }
}

#[test]
fn snapshot_range_errors_are_clear() {
    let dir = fixture();
    let err = dir.pql_err(&[
        "features",
        "--config",
        "pql.toml",
        "--from",
        "2025-03-12",
        "--to",
        "2025-03-10",
        "--out",
        "f.csv",
    ]);
    assert!(err.contains("--from 2025-03-12 is after --to 2025-03-10"), "{err}");
    let err = dir.pql_err(&[
        "features",
        "--config",
        "pql.toml",
        "--from",
        "2025-03-11",
        "--to",
        "2025-03-12",
        "--out",
        "f.csv",
    ]);
    assert!(err.contains("no Mon between"), "{err}");
    assert!(!dir.join("f.csv").exists());
}

#[test]
fn describe_prints_the_dictionary() {
    let dir = fixture();
    let out = dir.pql_ok(&["features", "--config", "pql.toml", "--describe"]);
    assert!(
        out.contains("limit_task_created_week_usage") && out.contains("limit proximity"),
        "{out}"
    );
    assert!(out.contains("industry=tech") && out.contains("industry_other"), "{out}");
}

#[test]
fn per_event_caps_the_event_usage_family_and_a_given_vocabulary_keeps_its_events() {
    let dir = fixture();
    dir.write("pql.toml", &CONFIG.replace("ignore = [", "per_event = 2\nignore = ["));
    let out = dir.pql_ok(&["features", "--config", "pql.toml", "--describe"]);
    assert!(
        out.contains("task_created_30d") && out.contains("days_since_board_viewed"),
        "{out}"
    );
    assert!(
        !out.contains("search_done_count") && !out.contains("report_shared_count"),
        "{out}"
    );

    // A model's events, also one the data no longer holds: that one counts 0 and its "days since" is the
    // tenure, and the data's own frequent events get no columns.
    let config = pql_data::Config::load(dir.join("pql.toml")).unwrap();
    let vocabulary = pql_features::Vocabulary {
        levels: vec![("industry".to_string(), vec!["retail".to_string()])],
        events: vec!["search_done".to_string(), "retired_feature".to_string()],
        valued: Vec::new(),
    };
    let date = "2025-03-10".parse::<chrono::NaiveDate>().unwrap();
    let table = pql_features::FeatureBuilder::new(&config, &pql_features::Snapshots::One(date), Some(&vocabulary))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(pql_features::Vocabulary::of_defs(&table.defs), vocabulary);
    assert!(table.frame.column("task_created_count").is_err());
    let b = row(&table.frame, "B", "2025-03-10");
    assert_values(
        &b,
        &[
            ("search_done_count", 1.0),
            ("retired_feature_count", 0.0),
            ("retired_feature_30d", 0.0),
            ("days_since_retired_feature", 37.0),
        ],
    );
}

/// A purchase history with a value column (`amount`, mapped in `[columns.events]`): a repeated purchase
/// with the same amount (a duplicate), one at the same instant with another amount (not one), a purchase
/// without an amount, one outside the last 30 days, and an event type that never has values.
pub fn valued_fixture() -> Dir {
    history(
        "[inputs]\nevents = \"events.csv\"\naccounts = \"accounts.csv\"\nconversions = \"conversions.csv\"\n\
         [columns.events]\nvalue = \"amount\"\n[events]\nhand_raise = [\"membership_viewed\"]\n\
         [label]\nhorizon_days = 10\nobserved_until = \"2025-04-01\"\n",
        "account_id,signup_at\nA,2025-01-01T00:00:00Z\nB,2025-02-01T00:00:00Z\nC,2025-03-01T00:00:00Z\n",
        "account_id,converted_at\nB,2025-03-12T00:00:00Z\n",
        "account_id,user_id,event,timestamp,amount
A,,purchase,2025-01-15T09:00:00Z,100
A,,purchase,2025-03-01T10:00:00Z,10
A,,purchase,2025-03-01T10:00:00Z,10
A,,purchase,2025-03-01T10:00:00Z,5.5
A,,view_item,2025-03-02T10:00:00Z,
A,,purchase,2025-03-05T10:00:00Z,
A,,membership_viewed,2025-03-06T10:00:00Z,
B,,view_item,2025-02-02T10:00:00Z,
B,,purchase,2025-03-09T23:00:00Z,-2.5
C,,view_item,2025-03-02T10:00:00Z,
",
    )
}

#[test]
fn event_values_are_summed_and_averaged_and_tell_duplicates_apart() {
    let dir = valued_fixture();
    // Runs `pql features` as of 2025-03-10 into `out`; returns its stderr (the input report).
    let features = |out: &str| {
        let run = dir.pql(&[
            "features",
            "--config",
            "pql.toml",
            "--as-of",
            "2025-03-10",
            "--out",
            out,
        ]);
        assert!(run.status.success());
        String::from_utf8(run.stderr).unwrap()
    };
    let report = features("out.parquet");
    assert!(report.contains("1 duplicate events"), "{report}");
    let frame = read(&dir.join("out.parquet"));
    assert!(
        frame.column("view_item_value_sum").is_err(),
        "an event without values has no value features"
    );
    assert_values(
        &row(&frame, "A", "2025-03-10"),
        &[
            ("purchase_count", 4.0),
            ("purchase_value_sum", 115.5),
            ("purchase_value_30d", 15.5),
            ("purchase_value_mean", 115.5 / 3.0),
            ("view_item_count", 1.0),
        ],
    );
    assert_values(
        &row(&frame, "B", "2025-03-10"),
        &[
            ("purchase_value_sum", -2.5),
            ("purchase_value_30d", -2.5),
            ("purchase_value_mean", -2.5),
        ],
    );
    assert_values(
        &row(&frame, "C", "2025-03-10"),
        &[
            ("purchase_count", 0.0),
            ("purchase_value_sum", 0.0),
            ("purchase_value_mean", 0.0),
        ],
    );
    // Without the mapping the amounts are not read, and the equal-time purchases of A are duplicates.
    dir.write(
        "pql.toml",
        &std::fs::read_to_string(dir.join("pql.toml"))
            .unwrap()
            .replace("value = \"amount\"", ""),
    );
    let report = features("plain.parquet");
    assert!(report.contains("2 duplicate events"), "{report}");
    let plain = read(&dir.join("plain.parquet"));
    assert!(plain.column("purchase_value_sum").is_err());
    assert_values(&row(&plain, "A", "2025-03-10"), &[("purchase_count", 3.0)]);
}

#[test]
fn shuffled_events_give_the_same_rows() {
    let dir = fixture();
    dir.pql_ok(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-03-10",
        "--out",
        "sorted.parquet",
    ]);
    let mut lines: Vec<&str> = EVENTS.lines().skip(1).collect();
    lines.reverse();
    lines.rotate_left(5);
    dir.write(
        "events.csv",
        &format!("account_id,user_id,event,timestamp\n{}\n", lines.join("\n")),
    );
    dir.pql_ok(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-03-10",
        "--out",
        "shuffled.parquet",
    ]);
    assert!(read(&dir.join("sorted.parquet")).equals_missing(&read(&dir.join("shuffled.parquet"))));
}

#[test]
fn key_events_in_another_role_count_in_that_role_only() {
    let dir = fixture();
    dir.write(
        "pql.toml",
        &CONFIG.replace(
            "key = [\"report_shared\"]",
            "key = [\"report_shared\", \"pricing_viewed\"]",
        ),
    );
    dir.pql_ok(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-03-10",
        "--out",
        "f.parquet",
    ]);
    let a = row(&read(&dir.join("f.parquet")), "A", "2025-03-10");
    assert_values(
        &a,
        &[("key_events", 1.0), ("pricing_viewed_7d", 1.0), ("features_used", 3.0)],
    );
}

#[test]
fn nan_attributes_are_missing_and_numeric_levels_are_categories() {
    let dir = fixture();
    let mut accounts = df!(
        "account_id" => ["A", "B"],
        "signup_at" => [1_740_823_200_000_000i64, 1_738_368_000_000_000],
        "size" => [f64::NAN, 4.0],
        "industry" => [1.5f64, 2.0],
    )
    .unwrap()
    .lazy()
    .with_column(col("signup_at").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
    .collect()
    .unwrap();
    ParquetWriter::new(File::create(dir.join("accounts.parquet")).unwrap())
        .finish(&mut accounts)
        .unwrap();
    dir.write("pql.toml", &CONFIG.replace("accounts.csv", "accounts.parquet"));
    dir.pql_ok(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-03-10",
        "--out",
        "f.parquet",
    ]);
    let frame = read(&dir.join("f.parquet"));
    assert_values(
        &row(&frame, "A", "2025-03-10"),
        &[
            ("size", 0.0),
            ("size_missing", 1.0),
            ("industry=1.5", 1.0),
            ("industry=2.0", 0.0),
        ],
    );
    assert_values(&row(&frame, "B", "2025-03-10"), &[("size", 4.0), ("size_missing", 0.0)]);
}

#[test]
fn features_for_eight_weeks_of_the_bundled_sample() {
    let dir = Dir::new();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/pql.toml");
    let config = config.to_str().unwrap();
    let out = dir.pql_ok(&[
        "features",
        "--config",
        config,
        "--from",
        "2025-05-05",
        "--to",
        "2025-06-23",
        "--out",
        "out/features.parquet",
    ]);
    assert!(out.contains("x 112 features"), "{out}");
    let frame = read(&dir.join("out/features.parquet"));
    assert_eq!(frame.column("as_of").unwrap().n_unique().unwrap(), 8);
    let labels = frame.column("label").unwrap();
    assert!(
        labels.null_count() > 0 && labels.null_count() < frame.height(),
        "some labels open, some closed"
    );
}

#[test]
fn labels_known_at_a_date_are_those_whose_horizon_had_closed_and_features_do_not_change() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/pql.toml");
    let config = pql_data::Config::load(&path).unwrap();
    let date = |d: &str| d.parse::<chrono::NaiveDate>().unwrap();
    let snapshots = pql_features::Snapshots::Range {
        from: date("2025-04-21"),
        to: date("2025-06-02"),
    };
    let build = |known_at: Option<&str>| {
        let mut builder = pql_features::FeatureBuilder::new(&config, &snapshots, None).unwrap();
        if let Some(day) = known_at {
            builder = builder.known_at(date(day));
        }
        builder.collect().unwrap().frame
    };
    let all = build(None);
    // A run on 2025-06-02 knows the 30-day labels of snapshots up to 2025-05-03: 04-21 and 04-28.
    let then = build(Some("2025-06-02"));
    assert!(all.drop("label").unwrap().equals_missing(&then.drop("label").unwrap()));
    let as_of = all.column("as_of").unwrap().cast(&DataType::String).unwrap();
    let (label_all, label_then) = (
        all.column("label").unwrap().i32().unwrap(),
        then.column("label").unwrap().i32().unwrap(),
    );
    let mut closed = 0;
    for i in 0..all.height() {
        let day = as_of.str().unwrap().get(i).unwrap();
        if day < "2025-05-03" {
            assert_eq!(label_then.get(i), label_all.get(i), "row {i} ({day})");
            assert!(label_all.get(i).is_some());
            closed += 1;
        } else {
            assert_eq!(label_then.get(i), None, "row {i} ({day}) was not labelled yet");
        }
    }
    assert!(closed > 0 && closed < all.height());
    // A date after the data's end changes nothing.
    assert!(all.equals_missing(&build(Some("2030-01-01"))));
}

/// A history for declared features and plan features: messages and purchases with values, a key event, a
/// hand-raise, accounts on a free plan, a trial and no plan, a plan-scoped lifetime limit, and one message
/// after the snapshot.
pub fn declared_fixture() -> Dir {
    history(
        r#"[inputs]
events = "events.csv"
accounts = "accounts.csv"
conversions = "conversions.csv"
[columns.events]
value = "amount"
[events]
key = ["report"]
hand_raise = ["pricing"]
per_event = 0
[[limits]]
event = "message"
limit = 4
period = "lifetime"
plans = ["free"]
[plan]
trial_days = 14
[[features]]
name = "messages_7d"
event = "message"
window = "7d"
aggregation = "count"
[[features]]
name = "message_days"
event = "message"
aggregation = "distinct_days"
[[features]]
name = "reached_3_messages"
event = "message"
aggregation = "count"
threshold = 3
[[features]]
name = "spend"
event = "purchase"
aggregation = "value_sum"
[[features]]
name = "spend_mean_30d"
event = "purchase"
window = "30d"
aggregation = "value_mean"
[[features]]
name = "days_since_pricing"
role = "hand_raise"
aggregation = "days_since"
[[features]]
name = "days_to_first_message"
event = "message"
aggregation = "days_to_first"
[[features]]
name = "report_in_first_week"
role = "key"
aggregation = "first_within"
days = 7
[[features]]
name = "message_in_first_3_days"
event = "message"
aggregation = "first_within"
days = 3
[label]
horizon_days = 10
observed_until = "2025-04-01"
"#,
        "account_id,signup_at,plan\nA,2025-03-01T00:00:00Z,free\nB,2025-03-05T00:00:00Z,trial\nC,2025-02-01T00:00:00Z,\n",
        "account_id,converted_at\nB,2025-03-15T00:00:00Z\n",
        "account_id,user_id,event,timestamp,amount
A,u1,message,2025-03-01T10:00:00Z,
A,u1,message,2025-03-01T11:00:00Z,
A,u1,purchase,2025-03-02T10:00:00Z,20
A,u1,message,2025-03-06T10:00:00Z,
A,u1,pricing,2025-03-08T12:00:00Z,
A,u1,report,2025-03-09T10:00:00Z,
A,u1,purchase,2025-03-09T10:00:00Z,10
A,u1,message,2025-03-11T10:00:00Z,
B,u2,report,2025-03-06T00:00:00Z,
B,u2,message,2025-03-09T10:00:00Z,
C,,purchase,2025-02-10T10:00:00Z,
",
    )
}

#[test]
fn declared_and_plan_features_match_hand_computed_values() {
    let dir = declared_fixture();
    dir.pql_ok(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-03-10",
        "--out",
        "out.parquet",
    ]);
    let frame = read(&dir.join("out.parquet"));
    let names: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    let declared = names.iter().position(|n| n == "messages_7d").unwrap();
    assert_eq!(
        names[declared..],
        [
            "messages_7d",
            "message_days",
            "reached_3_messages",
            "spend",
            "spend_mean_30d",
            "days_since_pricing",
            "days_to_first_message",
            "report_in_first_week",
            "message_in_first_3_days"
        ],
        "declared features come last, in config order"
    );
    assert_values(
        &row(&frame, "A", "2025-03-10"),
        &[
            ("messages_7d", 1.0),
            ("message_days", 2.0),
            ("reached_3_messages", 1.0),
            ("spend", 30.0),
            ("spend_mean_30d", 15.0),
            ("days_since_pricing", 1.5),
            ("days_to_first_message", 10.0 / 24.0),
            ("report_in_first_week", 0.0),
            ("message_in_first_3_days", 1.0),
            ("plan=free", 1.0),
            ("plan=trial", 0.0),
            ("plan_other", 0.0),
            ("plan_missing", 0.0),
            ("trial_days_left", 0.0),
            ("limit_message_lifetime_usage", 0.75),
        ],
    );
    assert_values(
        &row(&frame, "B", "2025-03-10"),
        &[
            ("messages_7d", 1.0),
            ("reached_3_messages", 0.0),
            ("spend", 0.0),
            ("spend_mean_30d", 0.0),
            ("days_since_pricing", 5.0),
            ("days_to_first_message", 4.0 + 10.0 / 24.0),
            ("report_in_first_week", 1.0),
            ("message_in_first_3_days", 0.0),
            ("plan=trial", 1.0),
            ("trial_days_left", 9.0),
            ("limit_message_lifetime_usage", 0.0),
        ],
    );
    assert_values(
        &row(&frame, "C", "2025-03-10"),
        &[
            ("message_days", 0.0),
            ("spend", 0.0),
            ("days_since_pricing", 37.0),
            ("days_to_first_message", 37.0),
            ("message_in_first_3_days", 0.0),
            ("plan_missing", 1.0),
            ("trial_days_left", 0.0),
            ("limit_message_lifetime_usage", 0.0),
        ],
    );
    let describe = dir.pql_ok(&["features", "--config", "pql.toml", "--describe"]);
    assert!(
        describe.contains("reached_3_messages") && describe.contains("1 if message events reach 3"),
        "{describe}"
    );
}

#[test]
fn declared_and_plan_features_refuse_what_they_cannot_compute() {
    let dir = declared_fixture();
    let config = std::fs::read_to_string(dir.join("pql.toml")).unwrap();
    let with = |extra: &str| {
        dir.write("bad.toml", &format!("{config}{extra}"));
        dir.pql_err(&[
            "features",
            "--config",
            "bad.toml",
            "--as-of",
            "2025-03-10",
            "--out",
            "x.parquet",
        ])
    };
    let err = with("[[features]]\nname = \"events_7d\"\nrole = \"activity\"\naggregation = \"count\"\n");
    assert!(err.contains("features[9].name") && err.contains("built-in"), "{err}");
    let err = with("[[features]]\nname = \"x\"\nrole = \"product\"\naggregation = \"value_sum\"\n");
    assert!(
        err.contains("features[9].role") && err.contains("value_sum reads an `event`"),
        "{err}"
    );
    let err = with("[[features]]\nname = \"x\"\nevent = \"message\"\nwindow = \"week\"\naggregation = \"count\"\n");
    assert!(err.contains("features[9].window") && err.contains("\"30d\""), "{err}");
    let err = with("[[features]]\nname = \"x\"\nevent = \"message\"\naggregation = \"first_within\"\n");
    assert!(err.contains("features[9].days"), "{err}");
    let err = with("[[features]]\nname = \"spend\"\nevent = \"message\"\naggregation = \"count\"\n");
    assert!(err.contains("features[9].name") && err.contains("features[3]"), "{err}");

    // A plan column that is the current plan: every "pro" account converted.
    let mut accounts = String::from("account_id,signup_at,plan\nA,2025-03-01T00:00:00Z,free\n");
    let mut conversions = String::from("account_id,converted_at\n");
    for i in 0..10 {
        accounts.push_str(&format!("P{i},2025-02-01T00:00:00Z,pro\n"));
        conversions.push_str(&format!("P{i},2025-02-20T00:00:00Z\n"));
    }
    dir.write("accounts.csv", &accounts);
    dir.write("conversions.csv", &conversions);
    let err = dir.pql_err(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-03-10",
        "--out",
        "x.parquet",
    ]);
    assert!(
        err.contains("accounts.csv") && err.contains("`plan`") && err.contains("current plan"),
        "{err}"
    );
    dir.write("accounts.csv", "account_id,signup_at\nA,2025-03-01T00:00:00Z\n");
    let err = dir.pql_err(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-03-10",
        "--out",
        "x.parquet",
    ]);
    assert!(err.contains("holds no plan"), "{err}");
}

/// The rows of the dictionary table in `docs/features.md`: (name pattern, family, unit, when undefined).
fn documented_features() -> Vec<[String; 4]> {
    let docs =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/features.md")).unwrap();
    let table = docs
        .split("## Features, in output order")
        .nth(1)
        .expect("the dictionary section");
    table
        .lines()
        .skip_while(|l| !l.starts_with("| `"))
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let cell = |i: usize| cells[i].trim_matches('`').to_string();
            [cell(0), cell(1), cell(cells.len() - 2), cell(cells.len() - 1)]
        })
        .collect()
}

/// Whether `name` matches `pattern`, where each `<...>` stands for one or more characters.
fn matches_pattern(name: &str, pattern: &str) -> bool {
    let mut literals = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').map(|c| open + c).expect("a closed <...>");
        literals.push(&rest[..open]);
        rest = &rest[close + 1..];
    }
    if literals.is_empty() {
        return name == pattern;
    }
    let Some(mut tail) = name.strip_prefix(literals[0]) else {
        return false;
    };
    for literal in &literals[1..] {
        match tail.get(1..).and_then(|t| t.find(literal)) {
            Some(at) => tail = &tail[1 + at + literal.len()..],
            None => return false,
        }
    }
    tail.len() > rest.len() && tail.ends_with(rest)
}

#[test]
fn the_documented_dictionary_describes_every_feature_pql_computes() {
    let documented = documented_features();
    assert!(documented.len() > 40, "{documented:?}");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/pql.toml");
    let (valued, declared) = (valued_fixture(), declared_fixture());
    let configs = [sample, valued.join("pql.toml"), declared.join("pql.toml")];
    let mut used = vec![false; documented.len()];
    for path in &configs {
        let config = pql_data::Config::load(path).unwrap();
        for def in pql_features::describe(&config).unwrap() {
            let family = def.family.to_string();
            // The most specific of the matching patterns (`<event>_value_30d` before `<event>_30d`).
            let literal_length = |pattern: &str| {
                pattern
                    .split('<')
                    .map(|p| p.rsplit('>').next().unwrap().len())
                    .sum::<usize>()
            };
            let row = (0..documented.len())
                .filter(|&i| documented[i][1] == family && matches_pattern(&def.name, &documented[i][0]))
                .max_by_key(|&i| literal_length(&documented[i][0]));
            let Some(row) = row else {
                panic!(
                    "{}: `{}` ({family}) is not in docs/features.md",
                    path.display(),
                    def.name
                )
            };
            used[row] = true;
            let [pattern, _, unit, undefined] = &documented[row];
            if !["per aggregation", "as given"].contains(&unit.as_str()) {
                assert_eq!(
                    *unit,
                    def.unit.to_string(),
                    "the unit of `{}` (documented as `{pattern}`)",
                    def.name
                );
            }
            let missing = def.missing.to_string();
            if undefined != "per aggregation" && (undefined == "tenure" || missing == "tenure") {
                assert_eq!(
                    *undefined, missing,
                    "`{}` when undefined (documented as `{pattern}`)",
                    def.name
                );
            }
        }
    }
    let unused: Vec<&String> = documented
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(d, _)| &d[0])
        .collect();
    assert!(
        unused.len() <= 10,
        "documented but computed by none of the configs: {unused:?}"
    );
}
