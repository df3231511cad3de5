//! `pql generate`: the contract round trip, determinism and the truth file.

use polars::prelude::*;
use pql_data::{Config, Dataset};

use crate::util::Dir;

const FILES: [&str; 5] = [
    "events.parquet",
    "accounts.parquet",
    "conversions.parquet",
    "truth.parquet",
    "pql.toml",
];

#[test]
fn generated_data_reads_back_through_the_contract() {
    let dir = Dir::new();
    let stdout = dir.pql_ok(&["generate", "--accounts", "400", "--seed", "3", "--out", "gen"]);
    assert!(stdout.contains("generated 400 accounts"), "{stdout}");

    let config = Config::load(dir.join("gen/pql.toml")).unwrap();
    let data = Dataset::read(&config).unwrap();
    assert_eq!(data.accounts.height(), 400);
    let events_line = stdout.lines().next().unwrap();
    assert!(
        events_line.contains(&format!("{} events", data.events.height())),
        "{events_line}"
    );
    assert_eq!(
        data.events
            .schema()
            .iter_names()
            .map(|n| n.as_str())
            .collect::<Vec<_>>(),
        ["account_id", "user_id", "event", "timestamp"]
    );
    assert_eq!(
        data.events.column("timestamp").unwrap().dtype(),
        &DataType::Datetime(TimeUnit::Microseconds, None)
    );
    assert_eq!(
        data.accounts
            .schema()
            .iter_names()
            .map(|n| n.as_str())
            .collect::<Vec<_>>(),
        ["account_id", "signup_at", "plan", "company_size", "industry", "country"]
    );
    // Every event belongs to a known account and happens at or after its signup.
    let joined = data
        .events
        .clone()
        .lazy()
        .join(
            data.accounts.clone().lazy(),
            [col("account_id")],
            [col("account_id")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col("signup_at").null_count().alias("unknown"),
            (col("timestamp").lt(col("signup_at"))).sum().alias("before_signup"),
        ])
        .collect()
        .unwrap();
    assert_eq!(
        joined.column("unknown").unwrap().get(0).unwrap().extract::<u64>(),
        Some(0)
    );
    assert_eq!(
        joined.column("before_signup").unwrap().get(0).unwrap().extract::<u64>(),
        Some(0)
    );
    // The generated config's roles cover events that occur.
    let check = dir.pql_ok(&["check", "--config", "gen/pql.toml"]);
    assert!(
        check.contains("pricing_page_viewed") && check.contains("hand_raise"),
        "{check}"
    );
    assert!(!check.contains("warning: the config names"), "{check}");
}

#[test]
fn csv_output_reads_back_to_the_same_tables() {
    let dir = Dir::new();
    dir.pql_ok(&["generate", "--accounts", "150", "--seed", "9", "--out", "pq"]);
    dir.pql_ok(&[
        "generate",
        "--accounts",
        "150",
        "--seed",
        "9",
        "--out",
        "csv",
        "--format",
        "csv",
    ]);
    let parquet = Dataset::read(&Config::load(dir.join("pq/pql.toml")).unwrap()).unwrap();
    let csv = Dataset::read(&Config::load(dir.join("csv/pql.toml")).unwrap()).unwrap();
    assert!(parquet.events.equals_missing(&csv.events));
    assert!(parquet.accounts.equals_missing(&csv.accounts));
    assert!(parquet.conversions.equals_missing(&csv.conversions));
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let dir = Dir::new();
    for (out, seed) in [("a", "5"), ("b", "5"), ("c", "6")] {
        dir.pql_ok(&["generate", "--accounts", "300", "--seed", seed, "--out", out]);
    }
    for file in FILES {
        let a = std::fs::read(dir.join(&format!("a/{file}"))).unwrap();
        let b = std::fs::read(dir.join(&format!("b/{file}"))).unwrap();
        assert!(a == b, "{file} differs between two runs with the same seed");
    }
    let a = std::fs::read(dir.join("a/events.parquet")).unwrap();
    let c = std::fs::read(dir.join("c/events.parquet")).unwrap();
    assert_ne!(a, c);
}

#[test]
fn truth_covers_exactly_the_eligible_snapshots() {
    let dir = Dir::new();
    dir.pql_ok(&[
        "generate",
        "--accounts",
        "300",
        "--seed",
        "4",
        "--weeks",
        "10",
        "--out",
        "gen",
    ]);
    let config = Config::load(dir.join("gen/pql.toml")).unwrap();
    let data = Dataset::read(&config).unwrap();
    let truth = ParquetReader::new(std::fs::File::open(dir.join("gen/truth.parquet")).unwrap())
        .finish()
        .unwrap();
    let p = truth.column("probability").unwrap().f64().unwrap();
    assert!(p.into_no_null_iter().all(|p| (0.0..1.0).contains(&p)));
    // Rows are eligible: signed up by as_of and not converted by then.
    let check = truth
        .lazy()
        .with_column(col("as_of").cast(DataType::Datetime(TimeUnit::Microseconds, None)))
        .join(
            data.accounts.lazy(),
            [col("account_id")],
            [col("account_id")],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            data.conversions.lazy(),
            [col("account_id")],
            [col("account_id")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col("as_of").n_unique().alias("snapshots"),
            col("signup_at").gt(col("as_of")).sum().alias("not_signed_up"),
            col("converted_at").lt_eq(col("as_of")).sum().alias("already_converted"),
        ])
        .collect()
        .unwrap();
    // 10 weeks (70 days), 30-day horizon: snapshots on days 7, 14, 21, 28 and 35 (35 + 30 <= 70 < 42 + 30).
    assert_eq!(
        check.column("snapshots").unwrap().get(0).unwrap().extract::<u64>(),
        Some(5)
    );
    assert_eq!(
        check.column("not_signed_up").unwrap().get(0).unwrap().extract::<u64>(),
        Some(0)
    );
    assert_eq!(
        check
            .column("already_converted")
            .unwrap()
            .get(0)
            .unwrap()
            .extract::<u64>(),
        Some(0)
    );
}

#[test]
fn bundled_sample_is_what_the_documented_command_writes() {
    let dir = Dir::new();
    dir.pql_ok(&["generate", "--accounts", "4000", "--seed", "7", "--out", "sample"]);
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    for file in FILES {
        let fresh = std::fs::read(dir.join(&format!("sample/{file}"))).unwrap();
        let bundled = std::fs::read(committed.join(file)).unwrap();
        assert!(
            fresh == bundled,
            "data/sample/{file} is stale: regenerate it with `pql generate --accounts 4000 --seed 7 --out data/sample`"
        );
    }
}
