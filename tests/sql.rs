//! The scoring SQL of `pql sql` on real engines: DuckDB and Spark in local mode (the Python packages, in an
//! environment the test creates; Spark needs Java 17) run the query over the feature table `pql features`
//! wrote, and their scores must equal `pql score` on the same table to 1e-9, with the same tiers and flags,
//! for both model families.

use std::fs::File;
use std::path::Path;
use std::process::Command;

use polars::prelude::*;

use crate::util::{python_environment, Dir};

fn read(path: &Path) -> DataFrame {
    ParquetReader::new(File::open(path).unwrap()).finish().unwrap()
}

/// Runs `tests/engines/spark_sql.py` on `jobs` (feature table, query file, output CSV) in one local session.
fn spark(venv: &Path, dir: &Dir, jobs: &[[String; 3]]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engines/spark_sql.py");
    let out = Command::new(venv.join("bin/python"))
        .arg(script)
        .args(jobs.iter().flatten())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "spark: {}", String::from_utf8_lossy(&out.stderr));
}

fn read_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap()
}

/// Checks an engine's scores against pql's: same accounts, probabilities within 1e-9, same tier, flag and
/// model id, most probable first.
fn assert_same_scores(engine: &DataFrame, expected: &DataFrame, what: &str) {
    let probabilities = engine.column("probability").unwrap().f64().unwrap().clone();
    let sorted: Vec<f64> = probabilities.into_no_null_iter().collect();
    assert!(sorted.windows(2).all(|w| w[0] >= w[1]), "{what}: most probable first");
    let (got, want) = (rows(engine), rows(expected));
    assert_eq!(got.len(), want.len(), "{what}: one row per account");
    assert!(got.len() > 1000);
    let mut largest = 0.0f64;
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0);
        largest = largest.max((g.1 - w.1).abs());
        assert_eq!((&g.2, g.3, &g.4), (&w.2, w.3, &w.4), "{what}: account {}", g.0);
    }
    eprintln!(
        "{what}: largest probability difference {largest:e} over {} accounts",
        got.len()
    );
    assert!(largest < 1e-9, "{what}: largest difference {largest}");
}

/// Rows sorted by account, as (account, probability, tier, is_pql, model_id).
fn rows(frame: &DataFrame) -> Vec<(String, f64, String, bool, String)> {
    let text = |name: &str| -> Vec<String> {
        let c = frame.column(name).unwrap().cast(&DataType::String).unwrap();
        c.str().unwrap().iter().map(|v| v.unwrap().to_string()).collect()
    };
    let p = frame.column("probability").unwrap().f64().unwrap().clone();
    let flag = frame.column("is_pql").unwrap().bool().unwrap().clone();
    let (ids, tiers, models) = (text("account_id"), text("tier"), text("model_id"));
    let mut rows: Vec<_> = (0..frame.height())
        .map(|i| {
            (
                ids[i].clone(),
                p.get(i).unwrap(),
                tiers[i].clone(),
                flag.get(i).unwrap(),
                models[i].clone(),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

#[test]
fn duckdb_and_spark_run_the_scoring_query_to_the_same_scores_as_pql_for_both_families() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = python_environment("engines-venv", &root.join("tests/engines/requirements.txt"));
    let dir = Dir::new();
    let sample = root.join("data/sample/pql.toml");
    let sample = sample.to_str().unwrap();
    let (mut spark_jobs, mut expectations) = (Vec::new(), Vec::new());
    for kind in ["logistic", "boosted"] {
        dir.pql_ok(&[
            "train",
            "--config",
            sample,
            "--model",
            kind,
            "--backtest",
            "0",
            "--out",
            kind,
        ]);
        let registry: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(kind).join("registry.json")).unwrap()).unwrap();
        let model = dir.join(kind).join(registry["champion"].as_str().unwrap());
        let model_arg = model.to_str().unwrap();
        let features = format!("features-{kind}.parquet");
        dir.pql_ok(&[
            "features",
            "--config",
            sample,
            "--model",
            model_arg,
            "--as-of",
            "2025-06-30",
            "--out",
            &features,
        ]);
        let expected = format!("pql-{kind}.parquet");
        dir.pql_ok(&[
            "score",
            "--model",
            model_arg,
            "--features",
            &features,
            "--out",
            &expected,
        ]);

        let out = dir.pql_ok(&[
            "sql",
            "--model",
            model_arg,
            "--dialect",
            "duckdb",
            "--features-table",
            &format!("read_parquet('{features}')"),
            "--out",
            &format!("score-{kind}.sql"),
        ]);
        assert!(out.contains("scoring SQL of model"), "{out}");
        let engine = format!("duckdb-{kind}.parquet");
        let out = Command::new(venv.join("bin/python"))
            .args([
                "-c",
                "import sys, duckdb; duckdb.sql(open(sys.argv[1]).read()).write_parquet(sys.argv[2])",
                &format!("score-{kind}.sql"),
                &engine,
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{kind}: {}", String::from_utf8_lossy(&out.stderr));

        let expected = read(&dir.join(&expected));
        assert_same_scores(&read(&dir.join(&engine)), &expected, &format!("duckdb {kind}"));

        let spark_sql = dir.pql_ok(&[
            "sql",
            "--model",
            model_arg,
            "--dialect",
            "spark",
            "--features-table",
            "features",
        ]);
        assert!(spark_sql.contains("`industry=software`"), "Spark quotes with backticks");
        std::fs::write(dir.join(&format!("spark-{kind}.sql")), spark_sql).unwrap();
        spark_jobs.push([features, format!("spark-{kind}.sql"), format!("spark-{kind}.csv")]);
        expectations.push((kind, expected));
    }
    spark(&venv, &dir, &spark_jobs);
    for (kind, expected) in expectations {
        assert_same_scores(
            &read_csv(&dir.join(&format!("spark-{kind}.csv"))),
            &expected,
            &format!("spark {kind}"),
        );
    }
}
