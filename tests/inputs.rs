//! Real-world inputs: exports pql did not write must give pql's answer or one clear error, never a quiet
//! wrong one. Each test is named after a case that once went wrong (issue #19): nanosecond and zoned
//! Parquet times, a history from 1997, times no calendar holds, a far-future conversion, an event in the
//! future, a lone late event, most events dropped, and stale scoring dates.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use crate::util::{input_report, read, Dir};

/// A generated history in `data/` (Parquet, times in milliseconds with zone UTC), small enough for debug
/// builds: 300 accounts over 16 weeks from 2025-01-06.
fn generated() -> Dir {
    generated_with(300)
}

/// A generated history like [`generated`]'s with `accounts` accounts.
fn generated_with(accounts: usize) -> Dir {
    let dir = Dir::new();
    dir.pql_ok(&[
        "generate",
        "--accounts",
        &accounts.to_string(),
        "--seed",
        "19",
        "--weeks",
        "16",
        "--out",
        "data",
    ]);
    dir
}

fn write(path: &Path, mut frame: DataFrame) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ParquetWriter::new(File::create(path).unwrap())
        .finish(&mut frame)
        .unwrap();
}

/// Copies `data/` to `to/`, passing each table (`events`, `accounts`, `conversions`) through `change`.
fn variant(dir: &Dir, to: &str, change: impl Fn(&str, DataFrame) -> DataFrame) {
    for table in ["events", "accounts", "conversions"] {
        let frame = read(&dir.join(&format!("data/{table}.parquet")));
        write(&dir.join(&format!("{to}/{table}.parquet")), change(table, frame));
    }
    std::fs::copy(dir.join("data/pql.toml"), dir.join(&format!("{to}/pql.toml"))).unwrap();
}

/// The time columns of a table.
fn time_columns(table: &str) -> &'static [&'static str] {
    match table {
        "events" => &["timestamp"],
        "accounts" => &["signup_at"],
        _ => &["converted_at"],
    }
}

/// Every time column of `frame` cast to `dtype` (the same instants in another unit or zone).
fn with_times(table: &str, frame: DataFrame, dtype: &DataType) -> DataFrame {
    let casts: Vec<Expr> = time_columns(table)
        .iter()
        .map(|name| col(*name).cast(dtype.clone()))
        .collect();
    frame.lazy().with_columns(casts).collect().unwrap()
}

/// `pql features` for `data/`'s config in `folder`, weekly from `from` to `to`; returns the table and
/// stderr.
fn features(dir: &Dir, folder: &str, from: &str, to: &str) -> (DataFrame, String) {
    let out = format!("{folder}/features.parquet");
    let output = dir.pql(&[
        "features",
        "--config",
        &format!("{folder}/pql.toml"),
        "--from",
        from,
        "--to",
        to,
        "--out",
        &out,
    ]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "pql features on {folder} failed:\n{stderr}");
    (read(&dir.join(&out)), stderr)
}

/// The `account_id` column of `data/<table>.parquet`.
fn account_ids(dir: &Dir, table: &str) -> Vec<String> {
    let frame = read(&dir.join(&format!("data/{table}.parquet")));
    let ids = frame.column("account_id").unwrap().str().unwrap().clone();
    ids.iter().flatten().map(str::to_string).collect()
}

/// Copies `data/` to `to/` with one more `task_created` event of its first account at `at`.
fn with_one_more_event(dir: &Dir, to: &str, at: &str) {
    let account = account_ids(dir, "accounts").swap_remove(0);
    variant(dir, to, |table, frame| match table {
        "events" => append(frame, &[&[account.as_str(), "u", "task_created", at]]),
        _ => frame,
    });
}

/// Appends rows (all columns as text, cast to the table's types) to a frame.
fn append(frame: DataFrame, rows: &[&[&str]]) -> DataFrame {
    let schema = frame.schema().clone();
    let columns: Vec<Column> = schema
        .iter()
        .enumerate()
        .map(|(i, (name, dtype))| {
            let text: Vec<&str> = rows.iter().map(|row| row[i]).collect();
            let series = match dtype {
                DataType::Datetime(..) => {
                    let millis: Vec<i64> = text
                        .iter()
                        .map(|t| {
                            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
                                .unwrap()
                                .and_utc()
                                .timestamp_millis()
                        })
                        .collect();
                    Series::new(name.clone(), millis)
                        .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                        .unwrap()
                }
                _ => Series::new(name.clone(), text),
            };
            series.cast(dtype).unwrap().into_column()
        })
        .collect();
    let extra = DataFrame::new(rows.len(), columns).unwrap();
    frame.vstack(&extra).unwrap()
}

#[test]
fn nanosecond_and_zoned_parquet_timestamps_give_the_features_of_milliseconds() {
    let dir = generated();
    let (expected, _) = features(&dir, "data", "2025-02-03", "2025-04-14");
    let nanos = DataType::Datetime(TimeUnit::Nanoseconds, None);
    variant(&dir, "ns", |table, frame| with_times(table, frame, &nanos));
    // pandas' default for tz-aware columns: nanoseconds in the zone of the data.
    let zoned = DataType::Datetime(
        TimeUnit::Nanoseconds,
        Some(unsafe { TimeZone::from_static("America/New_York") }),
    );
    variant(&dir, "zoned", |table, frame| with_times(table, frame, &zoned));
    let micros = DataType::Datetime(TimeUnit::Microseconds, None);
    variant(&dir, "us", |table, frame| with_times(table, frame, &micros));
    for folder in ["ns", "zoned", "us"] {
        let (got, _) = features(&dir, folder, "2025-02-03", "2025-04-14");
        assert!(got.equals_missing(&expected), "{folder}: features differ");
        let check = dir.pql_ok(&["check", "--config", &format!("{folder}/pql.toml")]);
        assert!(check.contains("event span   2025-01-06"), "{folder}: {check}");
    }
}

#[test]
fn a_history_from_1997_gives_the_features_of_the_same_history_in_2025() {
    let dir = generated();
    let (expected, _) = features(&dir, "data", "2025-02-03", "2025-04-14");
    // 28 years: 10,227 days, a whole number of weeks, with the same months and weekdays (1997 to 2025 holds
    // seven leap days), so every snapshot, week and month maps onto its twin.
    let shift = lit(10_227i64 * 86_400_000).cast(DataType::Duration(TimeUnit::Milliseconds));
    variant(&dir, "y1997", |table, frame| {
        let shifted: Vec<Expr> = time_columns(table)
            .iter()
            .map(|name| col(*name) - shift.clone())
            .collect();
        frame.lazy().with_columns(shifted).collect().unwrap()
    });
    let (got, stderr) = features(&dir, "y1997", "1997-02-03", "1997-04-14");
    assert!(!stderr.contains("dropped"), "{stderr}");
    assert_eq!(got.height(), expected.height());
    assert!(got.height() > 1000, "{}", got.height());
    let without_dates = |frame: &DataFrame| frame.drop("as_of").unwrap();
    assert!(without_dates(&got).equals_missing(&without_dates(&expected)));
    let labelled = got.column("label").unwrap().as_materialized_series().drop_nulls().len();
    assert!(labelled > 500, "{labelled} labelled rows");
}

#[test]
fn times_outside_years_1_to_9999_are_an_error_naming_the_value() {
    let dir = generated();
    // An event in the year 20000 (a unit mix-up: microseconds written as milliseconds, say).
    variant(&dir, "far", |table, frame| match table {
        "events" => {
            let times = frame
                .column("timestamp")
                .unwrap()
                .as_materialized_series()
                .to_physical_repr();
            let mut millis: Vec<i64> = times.i64().unwrap().into_no_null_iter().collect();
            let middle = millis.len() / 2;
            millis[middle] = 568_000_000_000_000; // about the year 19969
            let times = Series::new("timestamp".into(), millis)
                .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                .unwrap();
            let mut frame = frame;
            frame.with_column(times.into_column()).unwrap();
            frame
        }
        _ => frame,
    });
    for command in [
        vec!["check", "--config", "far/pql.toml"],
        vec![
            "features",
            "--config",
            "far/pql.toml",
            "--as-of",
            "2025-03-03",
            "--out",
            "f.parquet",
        ],
    ] {
        let err = dir.pql_err(&command);
        assert!(err.contains("events.parquet"), "{err}");
        assert!(err.contains("column `timestamp`"), "{err}");
        assert!(err.contains("outside years 1 to 9999"), "{err}");
        assert!(!dir.join("f.parquet").exists());
    }
    // In text, the row is named.
    dir.write(
        "csv/pql.toml",
        "[inputs]\nevents = \"events.csv\"\naccounts = \"accounts.csv\"\nconversions = \"conversions.csv\"\n",
    );
    dir.write(
        "csv/events.csv",
        "account_id,user_id,event,timestamp\nA,u,x,2025-01-02T00:00:00Z\n",
    );
    dir.write("csv/accounts.csv", "account_id,signup_at\nA,2025-01-01\nB,0000-12-31\n");
    dir.write("csv/conversions.csv", "account_id,converted_at\n");
    let err = dir.pql_err(&["check", "--config", "csv/pql.toml"]);
    assert!(err.contains("accounts.csv: column `signup_at`, row 2"), "{err}");
}

#[test]
fn a_far_future_conversion_does_not_move_the_observation_end_or_change_a_label() {
    let dir = generated();
    let (expected, _) = features(&dir, "data", "2025-02-03", "2025-04-21");
    let converted = account_ids(&dir, "conversions");
    let never = account_ids(&dir, "accounts")
        .into_iter()
        .find(|id| !converted.contains(id))
        .unwrap();
    variant(&dir, "future", |table, frame| match table {
        "conversions" => append(
            frame,
            &[
                &["nobody", "2031-01-01 00:00:00"],
                &[never.as_str(), "2030-06-01 00:00:00"],
            ],
        ),
        _ => frame,
    });
    let (got, stderr) = features(&dir, "future", "2025-02-03", "2025-04-21");
    assert!(got.equals_missing(&expected), "labels or features changed");
    assert!(stderr.contains("1 conversions of unknown accounts"), "{stderr}");
    assert!(stderr.contains("1 conversions after the observation end"), "{stderr}");
    let report = input_report(&dir.join("future/features.parquet"));
    assert_eq!(report["conversions_after_observation_end"], 1);
}

#[test]
fn an_event_in_the_future_is_dropped_and_counted_and_labels_stay() {
    let dir = generated();
    let (expected, _) = features(&dir, "data", "2025-02-03", "2025-04-21");
    with_one_more_event(&dir, "future", "2099-01-01 00:00:00");
    let (got, stderr) = features(&dir, "future", "2025-02-03", "2025-04-21");
    assert!(got.equals_missing(&expected), "labels or features changed");
    assert!(
        stderr.contains("1 events dated more than a day after this run's clock (dropped)"),
        "{stderr}"
    );
    assert_eq!(
        input_report(&dir.join("future/features.parquet"))["events_in_future"],
        1
    );
    let check = dir.pql_ok(&["check", "--config", "future/pql.toml"]);
    assert!(
        !check.contains("2099"),
        "the event span leaves the future out:\n{check}"
    );
}

#[test]
fn a_lone_late_event_is_warned_about_and_observed_until_restores_the_labels() {
    let dir = generated();
    let (expected, _) = features(&dir, "data", "2025-02-03", "2025-04-21");
    let events = read(&dir.join("data/events.parquet"));
    let last = events
        .column("timestamp")
        .unwrap()
        .as_materialized_series()
        .max_reduce()
        .unwrap();
    let last = chrono::DateTime::from_timestamp_millis(last.value().extract::<i64>().unwrap()).unwrap();
    with_one_more_event(&dir, "late", "2026-01-15 12:00:00");
    let (late, stderr) = features(&dir, "late", "2025-02-03", "2025-04-21");
    assert!(stderr.contains("the latest events, on 2026-01-15, come"), "{stderr}");
    assert!(stderr.contains("set [label] observed_until"), "{stderr}");
    let labelled = |frame: &DataFrame| {
        frame
            .column("label")
            .unwrap()
            .as_materialized_series()
            .drop_nulls()
            .len()
    };
    assert!(
        labelled(&late) > labelled(&expected),
        "the lone event labels unobserved horizons"
    );

    let config = std::fs::read_to_string(dir.join("late/pql.toml")).unwrap();
    let observed = format!("[label]\nobserved_until = \"{}\"", last.format("%Y-%m-%d"));
    assert!(config.contains("[label]"), "{config}");
    std::fs::write(dir.join("late/pql.toml"), config.replace("[label]", &observed)).unwrap();
    let (got, stderr) = features(&dir, "late", "2025-02-03", "2025-04-21");
    assert!(!stderr.contains("the latest events"), "{stderr}");
    // The late event itself is after every snapshot: the rows equal the original ones.
    assert!(got.equals_missing(&expected), "labels differ with observed_until");
}

#[test]
fn most_events_dropped_fails_every_command_naming_the_rule() {
    let dir = generated();
    // An accounts export with other ids (a prefix the events lack): nothing can be used.
    variant(&dir, "renamed", |table, frame| match table {
        "accounts" | "conversions" => frame
            .lazy()
            .with_column((lit("crm-") + col("account_id")).alias("account_id"))
            .collect()
            .unwrap(),
        _ => frame,
    });
    for command in [
        vec!["check", "--config", "renamed/pql.toml"],
        vec![
            "features",
            "--config",
            "renamed/pql.toml",
            "--as-of",
            "2025-03-03",
            "--out",
            "f.parquet",
        ],
        vec!["train", "--config", "renamed/pql.toml", "--out", "models"],
    ] {
        let err = dir.pql_err(&command);
        assert!(err.contains("renamed/events.parquet: no event can be used"), "{err}");
        assert!(
            err.contains("as events of accounts missing from the accounts table"),
            "{err}"
        );
        assert_eq!(
            err.trim_end().lines().filter(|l| l.starts_with("error")).count(),
            1,
            "{err}"
        );
    }
    assert!(!dir.join("models").exists() && !dir.join("f.parquet").exists());

    // An accounts table holding a third of the accounts: most events are dropped.
    variant(&dir, "third", |table, frame| match table {
        "accounts" => {
            let n = frame.height();
            frame.slice(0, n / 3)
        }
        _ => frame,
    });
    let err = dir.pql_err(&[
        "features",
        "--config",
        "third/pql.toml",
        "--as-of",
        "2025-03-03",
        "--out",
        "f.parquet",
    ]);
    assert!(err.contains("max_dropped_share = 0.5"), "{err}");
    let config = std::fs::read_to_string(dir.join("third/pql.toml")).unwrap();
    let raised = config.replace("[inputs]", "[inputs]\nmax_dropped_share = 0.9");
    std::fs::write(dir.join("third/pql.toml"), raised).unwrap();
    dir.pql_ok(&[
        "features",
        "--config",
        "third/pql.toml",
        "--as-of",
        "2025-03-03",
        "--out",
        "f.parquet",
    ]);
}

#[test]
fn scoring_long_after_the_latest_event_warns_and_strict_fails() {
    let dir = generated_with(1500);
    dir.pql_ok(&[
        "train",
        "--config",
        "data/pql.toml",
        "--out",
        "models",
        "--model",
        "logistic",
        "--backtest",
        "0",
    ]);
    let stale = [
        "score",
        "--config",
        "data/pql.toml",
        "--model",
        "models/champion",
        "--as-of",
        "2030-01-07",
    ];
    let output = dir.pql(&[&stale[..], &["--out", "stale.csv"]].concat());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("stale data: --as-of 2030-01-07 is"), "{stderr}");
    let err = dir.pql_err(&[&stale[..], &["--out", "strict.csv", "--strict"]].concat());
    assert!(err.contains("days after the latest event"), "{err}");
    assert!(!dir.join("strict.csv").exists());
    // A week after the data is fine.
    let fresh = dir.pql(&[
        "score",
        "--config",
        "data/pql.toml",
        "--model",
        "models/champion",
        "--as-of",
        "2025-04-28",
        "--out",
        "fresh.csv",
        "--strict",
    ]);
    let stderr = String::from_utf8(fresh.stderr).unwrap();
    assert!(fresh.status.success(), "{stderr}");
    assert!(!stderr.contains("stale"), "{stderr}");
}

/// A one-account CSV history whose events file is `events` (`pql.toml` names `events.csv`).
fn csv_history(events: &str) -> Dir {
    let dir = Dir::new();
    dir.write(
        "pql.toml",
        "[inputs]\nevents = \"events.csv\"\naccounts = \"accounts.csv\"\nconversions = \"conversions.csv\"\n",
    );
    dir.write("accounts.csv", "account_id,signup_at\nA,2025-01-01\n");
    dir.write("conversions.csv", "account_id,converted_at\n");
    dir.write("events.csv", events);
    dir
}

/// `n` well-formed event rows after a header, with row `bad` (1-based) replaced.
fn events_with(n: usize, bad: usize, row: &str) -> String {
    let mut text = String::from("account_id,user_id,event,timestamp\n");
    for i in 1..=n {
        if i == bad {
            text.push_str(row);
        } else {
            text.push_str(&format!("A,u,task,2025-01-{:02}T10:00:00Z", i % 28 + 1));
        }
        text.push('\n');
    }
    text
}

#[test]
fn an_unterminated_csv_quote_is_one_line_naming_the_row() {
    let dir = csv_history(&events_with(4000, 1500, "A,u,\"task,2025-01-02T10:00:00Z"));
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("events.csv: row 1500 has 3 fields where the header has 4"),
        "{err}"
    );
}

#[test]
fn ragged_and_non_utf8_csv_rows_and_bad_ndjson_lines_are_named() {
    let dir = csv_history(&events_with(50, 20, "A,u,task,2025-01-02T10:00:00Z,extra"));
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(
        err.contains("events.csv: row 20 has 5 fields where the header has 4"),
        "{err}"
    );

    let mut latin1 = events_with(50, 30, "A,u\u{e9},task,2025-01-02T10:00:00Z").into_bytes();
    let at = latin1.windows(2).position(|w| w == "\u{e9}".as_bytes()).unwrap();
    latin1.splice(at..at + 2, [0xe9]); // é in Latin-1
    std::fs::write(dir.join("events.csv"), latin1).unwrap();
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(err.contains("events.csv: row 30 is not UTF-8 text"), "{err}");

    let line = |day: usize| {
        format!(r#"{{"account_id": "A", "user_id": "u", "event": "task", "timestamp": "2025-01-{day:02}T10:00:00Z"}}"#)
    };
    let mut lines: Vec<String> = (1..=20).map(line).collect();
    lines[11] = lines[11].trim_end_matches('}').to_string();
    dir.write("events.ndjson", &(lines.join("\n") + "\n"));
    let config = std::fs::read_to_string(dir.join("pql.toml"))
        .unwrap()
        .replace("events.csv", "events.ndjson");
    std::fs::write(dir.join("pql.toml"), config).unwrap();
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(err.contains("events.ndjson: line 12 is not valid JSON"), "{err}");
}

#[test]
fn a_bad_value_deep_in_a_streamed_csv_names_its_row() {
    // Large enough that polars reads the file in several chunks: the row is counted across them.
    let rows = 300_000;
    let bad = 250_001;
    let dir = csv_history(&events_with(rows, bad, "A,u,task,2025-13-02T10:00:00Z"));
    let features = [
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-02-03",
        "--out",
        "f.csv",
    ];
    let err = dir.pql_err(&features);
    assert!(
        err.contains(&format!(
            "events.csv: column `timestamp`, row {bad}: cannot read \"2025-13-02T10:00:00Z\""
        )),
        "{err}"
    );
    assert!(!dir.join("f.csv").exists());
    // A missing account id deep in the file too.
    dir.write("events.csv", &events_with(rows, bad, ",u,task,2025-01-02T10:00:00Z"));
    let err = dir.pql_err(&features);
    assert!(
        err.contains(&format!("events.csv: column `account_id`, row {bad}")),
        "{err}"
    );
    // The same file without the bad row reads.
    dir.write("events.csv", &events_with(rows, 0, ""));
    dir.pql_ok(&features);
}

#[test]
fn a_missing_file_names_the_os_error_once() {
    let dir = Dir::new();
    let err = dir.pql_err(&["check", "--config", "nowhere.toml"]);
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    let dir = csv_history(&events_with(5, 0, ""));
    std::fs::remove_file(dir.join("accounts.csv")).unwrap();
    let err = dir.pql_err(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-01-06",
        "--out",
        "f.csv",
    ]);
    assert!(err.contains("accounts.csv"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

#[test]
fn check_parses_the_rules_and_warns_about_events_that_never_occur() {
    let dir = csv_history(&events_with(5, 0, ""));
    let config = std::fs::read_to_string(dir.join("pql.toml")).unwrap();
    dir.write(
        "pql.toml",
        &format!(
            "{config}[events]\nkey = [\"report_shared\"]\n\n[[rules]]\nname = \"busy\"\nwhen = \"events_7d >= 3\"\n"
        ),
    );
    let out = dir.pql_ok(&["check", "--config", "pql.toml"]);
    assert!(
        out.contains("warning: events.key[0] names event `report_shared`, which never occurs"),
        "{out}"
    );
    let features = dir.pql(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-01-06",
        "--out",
        "f.csv",
    ]);
    assert!(String::from_utf8_lossy(&features.stderr).contains("`report_shared`, which never occurs"));
    let config = std::fs::read_to_string(dir.join("pql.toml")).unwrap();
    std::fs::write(dir.join("pql.toml"), config.replace("events_7d >= 3", "events_7 >= 3")).unwrap();
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(
        err.contains("[[rules]]") && err.contains("rule `busy`") && err.contains("events_7"),
        "{err}"
    );
}

#[test]
fn a_corrupt_parquet_part_in_a_folder_is_named() {
    let dir = generated();
    let events = read(&dir.join("data/events.parquet"));
    let quarter = events.height() / 4;
    for part in 0..4 {
        let path = dir.join(&format!("parts/events/part-{part}.parquet"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut rows = events.slice(
            (part * quarter) as i64,
            quarter + if part == 3 { events.height() % 4 } else { 0 },
        );
        // Snappy, as pyarrow and Spark write by default: damage shows when a page is decompressed.
        ParquetWriter::new(File::create(path).unwrap())
            .with_compression(ParquetCompression::Snappy)
            .finish(&mut rows)
            .unwrap();
    }
    let mut bytes = std::fs::read(dir.join("parts/events/part-2.parquet")).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle - 500..middle + 500] {
        *byte ^= 0x5a;
    }
    std::fs::write(dir.join("parts/events/part-2.parquet"), bytes).unwrap();
    for table in ["accounts", "conversions"] {
        std::fs::copy(
            dir.join(&format!("data/{table}.parquet")),
            dir.join(&format!("parts/{table}.parquet")),
        )
        .unwrap();
    }
    let config = std::fs::read_to_string(dir.join("data/pql.toml")).unwrap();
    dir.write("parts/pql.toml", &config.replace("events.parquet", "events"));
    for command in [
        vec!["check", "--config", "parts/pql.toml"],
        vec![
            "features",
            "--config",
            "parts/pql.toml",
            "--as-of",
            "2025-03-03",
            "--out",
            "f.parquet",
        ],
    ] {
        let err = dir.pql_err(&command);
        assert!(err.contains("part-2.parquet"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

#[test]
fn leftovers_of_a_killed_run_are_removed_and_outputs_get_the_umask_mode() {
    let dir = generated_with(1500);
    // What a killed run leaves: a partial output and a model staging folder of a process that is gone, and
    // an old file from an earlier pql without a process id.
    let gone = "4000000000"; // above any process id
    dir.write(&format!(".pql-out-{gone}-x1.partial"), "half");
    dir.write(&format!("models/.pql-model-{gone}-x2/model.json"), "{");
    dir.write("models/.pql-fresh.partial", "recent, of no known run: kept a day");
    dir.pql_ok(&[
        "features",
        "--config",
        "data/pql.toml",
        "--from",
        "2025-01-06",
        "--to",
        "2025-04-21",
        "--out",
        "f.parquet",
    ]);
    dir.pql_ok(&[
        "train",
        "--config",
        "data/pql.toml",
        "--features",
        "f.parquet",
        "--out",
        "models",
        "--model",
        "logistic",
        "--backtest",
        "0",
    ]);
    let left: Vec<String> = [dir.path(), &dir.join("models")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pql-"))
        .collect();
    assert_eq!(left, [".pql-fresh.partial"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let plain = dir.write("plain.txt", "");
        assert_eq!(
            mode(&dir.join("f.parquet")),
            mode(&plain),
            "the umask decides, not 0600"
        );
    }
}

#[test]
fn an_output_that_is_an_input_is_refused() {
    let dir = generated();
    let before = std::fs::read(dir.join("data/events.parquet")).unwrap();
    for out in [
        "data/events.parquet",
        "data/pql.toml",
        "./data/../data/accounts.parquet",
    ] {
        let err = dir.pql_err(&[
            "features",
            "--config",
            "data/pql.toml",
            "--as-of",
            "2025-03-03",
            "--out",
            out,
        ]);
        assert!(err.contains("is an input of this command"), "{err}");
    }
    assert_eq!(std::fs::read(dir.join("data/events.parquet")).unwrap(), before);
}

#[test]
fn a_parquet_page_that_fails_its_checksum_is_refused_naming_file_and_column() {
    // pyarrow files with page checksums (tests/fixtures/parquet_crc/make.py); the damaged copy has one bit
    // flipped in a timestamp, which readers that skip the checksum read as a time one microsecond off.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parquet_crc");
    let dir = Dir::new();
    dir.write(
        "pql.toml",
        "[inputs]\nevents = \"events\"\naccounts = \"accounts.csv\"\nconversions = \"conversions.csv\"\n",
    );
    dir.write(
        "accounts.csv",
        "account_id,signup_at\nA0,2025-01-01\nA1,2025-01-01\nA2,2025-01-01\n",
    );
    dir.write("conversions.csv", "account_id,converted_at\n");
    std::fs::create_dir(dir.join("events")).unwrap();
    std::fs::copy(fixtures.join("events.parquet"), dir.join("events/part-0.parquet")).unwrap();
    dir.pql_ok(&["check", "--config", "pql.toml"]);

    // A damaged part of a folder of events (read lazily) is named with its column, row group and page.
    std::fs::copy(
        fixtures.join("events-damaged.parquet"),
        dir.join("events/part-1.parquet"),
    )
    .unwrap();
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "events/part-1.parquet: column `timestamp`, row group 0, page 3: checksum mismatch (the file is \
             damaged; re-export it)"
        ),
        "{err}"
    );

    // So is a damaged table read eagerly: the same file as the conversions, its `timestamp` the conversion time.
    std::fs::remove_file(dir.join("events/part-1.parquet")).unwrap();
    std::fs::copy(fixtures.join("events-damaged.parquet"), dir.join("conversions.parquet")).unwrap();
    dir.write(
        "pql.toml",
        "[inputs]\nevents = \"events\"\naccounts = \"accounts.csv\"\nconversions = \"conversions.parquet\"\n\
         [columns.conversions]\nconverted_at = \"timestamp\"\n",
    );
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("conversions.parquet: column `timestamp`, row group 0, page 3: checksum mismatch"),
        "{err}"
    );
}
