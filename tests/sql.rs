//! The SQL of `pql sql` on real engines: DuckDB and Spark in local mode (the Python packages, in an environment
//! the test creates; Spark needs Java 17) run the generated scripts over the input tables, and their feature
//! rows must equal `pql features` (same rows and columns, values to 1e-9) and their scores `pql score` (same
//! probabilities to 1e-9, tiers, flags and, for the logistic model, reasons), on the hand-made edge cases of
//! the feature tests, on a generated history with an unknown category, and on the bundled sample. Their input
//! reports (`pql sql --input-report`) must equal the one `pql features` keeps in its output's metadata, and
//! count by hand the rows pql refuses.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::*;
use serde_json::{json, Value};

use crate::util::{optional_floats, python_environment, read, Dir};

const ENGINES: [&str; 2] = ["duckdb", "spark"];

/// Runs `tests/engines/run_sql.py` on the jobs (see there) with one engine.
fn run(venv: &Path, engine: &str, dir: &Dir, jobs: &[Value]) {
    let file = dir.join(&format!("jobs-{engine}.json"));
    std::fs::write(&file, serde_json::to_string(jobs).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engines/run_sql.py");
    let out = Command::new(venv.join("bin/python"))
        .arg(script)
        .arg(engine)
        .arg(&file)
        .env("TZ", "UTC")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{engine}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The text of a column, row by row (NULL as `None`; timestamps in ISO form, as the engine runner writes them).
fn texts(frame: &DataFrame, name: &str) -> Vec<Option<String>> {
    let column = frame.column(name).unwrap();
    let column = match column.dtype() {
        DataType::Datetime(..) => column
            .as_materialized_series()
            .datetime()
            .unwrap()
            .to_string("%Y-%m-%dT%H:%M:%S")
            .unwrap()
            .into_column(),
        _ => column.cast(&DataType::String).unwrap(),
    };
    column.str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
}

/// Row indices sorted by `(as_of, account_id)`.
fn order(frame: &DataFrame) -> Vec<usize> {
    let (ids, times) = (texts(frame, "account_id"), texts(frame, "as_of"));
    let mut order: Vec<usize> = (0..frame.height()).collect();
    order.sort_by(|&a, &b| (&times[a], &ids[a]).cmp(&(&times[b], &ids[b])));
    order
}

/// An engine's feature rows against `pql features`: the same columns in the same order, the same
/// `(account_id, as_of)` rows and labels, every feature within 1e-9.
fn assert_same_features(engine: &DataFrame, expected: &DataFrame, what: &str) {
    let names = |f: &DataFrame| -> Vec<String> { f.get_column_names().iter().map(|n| n.to_string()).collect() };
    assert_eq!(names(engine), names(expected), "{what}: columns");
    assert_eq!(engine.height(), expected.height(), "{what}: rows");
    let (a, b) = (order(engine), order(expected));
    for key in ["account_id", "as_of", "label"] {
        let (x, y) = (texts(engine, key), texts(expected, key));
        for (&i, &j) in a.iter().zip(&b) {
            assert_eq!(x[i], y[j], "{what}: {key} of row {j}");
        }
    }
    let ids = texts(expected, "account_id");
    let mut largest = 0.0f64;
    for name in names(expected).iter().skip(3) {
        let (x, y) = (optional_floats(engine, name), optional_floats(expected, name));
        for (&i, &j) in a.iter().zip(&b) {
            let (x, y) = (x[i].unwrap_or(f64::NAN), y[j].expect("pql features has no nulls"));
            let difference = (x - y).abs();
            assert!(difference < 1e-9, "{what}: {name} of {:?}: {x} instead of {y}", ids[j]);
            largest = largest.max(difference);
        }
    }
    eprintln!("{what}: {} rows equal, largest difference {largest:e}", a.len());
}

/// An engine's scores against `pql score`: most probable first, the same rows, probabilities within 1e-9,
/// the same tier, flag and model id, and the same reasons when `reasons` (else none).
fn assert_same_scores(engine: &DataFrame, expected: &DataFrame, reasons: bool, what: &str) {
    let probabilities: Vec<f64> = optional_floats(engine, "probability")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert!(
        probabilities.windows(2).all(|w| w[0] >= w[1]),
        "{what}: most probable first"
    );
    let names = |f: &DataFrame| -> Vec<String> { f.get_column_names().iter().map(|n| n.to_string()).collect() };
    assert_eq!(names(engine), names(expected), "{what}: columns");
    assert_eq!(engine.height(), expected.height(), "{what}: rows");
    let (a, b) = (order(engine), order(expected));
    let (p, q) = (
        optional_floats(engine, "probability"),
        optional_floats(expected, "probability"),
    );
    let mut largest = 0.0f64;
    for (&i, &j) in a.iter().zip(&b) {
        largest = largest.max((p[i].unwrap() - q[j].unwrap()).abs());
    }
    assert!(largest < 1e-9, "{what}: largest probability difference {largest}");
    let mut columns = vec!["account_id", "as_of", "tier", "is_pql", "model_id"];
    if reasons {
        columns.extend(["reason_1", "reason_2", "reason_3"]);
    } else {
        for k in ["reason_1", "reason_2", "reason_3"] {
            assert!(texts(engine, k).iter().all(Option::is_none), "{what}: no reasons");
        }
    }
    for name in columns {
        let (x, y) = (texts(engine, name), texts(expected, name));
        for (&i, &j) in a.iter().zip(&b) {
            assert_eq!(x[i], y[j], "{what}: {name} of {:?}", y[j]);
        }
    }
    eprintln!(
        "{what}: {} scores equal, largest probability difference {largest:e}",
        a.len()
    );
}

/// One comparison to make once the engines ran: an engine output file against pql's.
enum Check {
    Features {
        engine_csv: String,
        pql: PathBuf,
    },
    Scores {
        engine_csv: String,
        pql: PathBuf,
        reasons: bool,
    },
    /// The input report against these counts (0 for a count not named).
    Report {
        engine_csv: String,
        expected: serde_json::Map<String, Value>,
    },
}

/// The input report `pql features` keeps in a Parquet feature table's metadata.
fn pql_input_report(path: &Path) -> serde_json::Map<String, Value> {
    let metadata = ParquetReader::new(File::open(path).unwrap())
        .get_metadata()
        .unwrap()
        .key_value_metadata
        .clone()
        .unwrap_or_default();
    let report = metadata
        .iter()
        .find(|kv| kv.key == "pql.input_report")
        .and_then(|kv| kv.value.clone())
        .expect("an input report");
    serde_json::from_str(&report).unwrap()
}

/// An engine's input report: one row, every count of `expected` (others 0), no other column.
fn assert_same_report(engine: &DataFrame, expected: &serde_json::Map<String, Value>, what: &str) {
    assert_eq!(engine.height(), 1, "{what}: one row");
    let names: Vec<&str> = engine.get_column_names().iter().map(|n| n.as_str()).collect();
    let expected_names: Vec<&str> = pql_sql::INPUT_REPORT_COLUMNS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, expected_names, "{what}: columns");
    for key in expected.keys() {
        assert!(names.contains(&key.as_str()), "{what}: no column {key}");
    }
    for name in names {
        let got = optional_floats(engine, name)[0];
        let want = expected.get(name).and_then(Value::as_f64).unwrap_or(0.0);
        assert_eq!(got, Some(want), "{what}: {name}");
    }
    eprintln!("{what}: input report equal");
}

/// Adds the job and check of the input report of `config` over `tables` on each engine.
fn plan_report(
    plan: &mut Plan,
    dir: &Dir,
    config: &Path,
    tables: &Value,
    expected: &serde_json::Map<String, Value>,
    what: &str,
) {
    for engine in ENGINES {
        let script = dir.join(&format!("{engine}-{what}-report.sql"));
        dir.pql_ok(&[
            "sql",
            "--config",
            config.to_str().unwrap(),
            "--dialect",
            engine,
            "--input-report",
            "--out",
            script.to_str().unwrap(),
        ]);
        let engine_csv = dir
            .join(&format!("{engine}-{what}-report.csv"))
            .to_str()
            .unwrap()
            .to_string();
        plan.jobs.push((
            engine.into(),
            json!({"tables": tables, "script": script, "out": engine_csv}),
        ));
        plan.checks.push((
            format!("{engine} {what}, input report"),
            Check::Report {
                engine_csv,
                expected: expected.clone(),
            },
        ));
    }
}

/// The engine jobs and checks of one data set.
#[derive(Default)]
struct Plan {
    jobs: Vec<(String, Value)>,
    checks: Vec<(String, Check)>,
}

impl Plan {
    /// Runs the jobs, each engine's in one go (its job file in `dir`), then makes the checks.
    fn run(&self, venv: &Path, dir: &Dir) {
        for engine in ENGINES {
            let jobs: Vec<Value> = self
                .jobs
                .iter()
                .filter(|(e, _)| e == engine)
                .map(|(_, job)| job.clone())
                .collect();
            if !jobs.is_empty() {
                run(venv, engine, dir, &jobs);
            }
        }
        for (what, check) in &self.checks {
            match check {
                Check::Features { engine_csv, pql } => {
                    assert_same_features(&read(Path::new(engine_csv)), &read(pql), what)
                }
                Check::Scores {
                    engine_csv,
                    pql,
                    reasons,
                } => assert_same_scores(&read(Path::new(engine_csv)), &read(pql), *reasons, what),
                Check::Report { engine_csv, expected } => {
                    assert_same_report(&read(Path::new(engine_csv)), expected, what)
                }
            }
        }
    }
}

fn tables(dir: &Dir, extension: &str) -> Value {
    let path = |name: &str| dir.join(&format!("{name}.{extension}")).to_str().unwrap().to_string();
    json!({"events": path("events"), "accounts": path("accounts"), "conversions": path("conversions")})
}

/// Trains a model of `kind` on the bundled sample; returns its directory.
fn sample_model(dir: &Dir, kind: &str) -> PathBuf {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/pql.toml");
    dir.pql_ok(&[
        "train",
        "--config",
        sample.to_str().unwrap(),
        "--model",
        kind,
        "--backtest",
        "0",
        "--out",
        kind,
    ]);
    let registry: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(kind).join("registry.json")).unwrap()).unwrap();
    dir.join(kind).join(registry["champion"].as_str().unwrap())
}

#[test]
fn duckdb_and_spark_compute_the_features_and_scores_of_pql() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = python_environment("engines-venv", &root.join("tests/engines/requirements.txt"));
    let models = Dir::new();
    let mut plan = Plan::default();

    // The feature tests' edge cases: as_of on an event's instant, conversions on the horizon's end and just
    // after, accounts without events, duplicates, ignored, early, late and orphan events.
    let edges = crate::features::fixture();
    for (name, range) in [
        ("range", &["--from", "2025-03-03", "--to", "2025-03-17"][..]),
        ("one", &["--as-of", "2025-03-10"][..]),
    ] {
        let pql = edges.join(&format!("pql-{name}.parquet"));
        let mut args = vec!["features", "--config", "pql.toml", "--out", pql.to_str().unwrap()];
        args.extend(range);
        edges.pql_ok(&args);
        for engine in ENGINES {
            let script = format!("{engine}-{name}.sql");
            let mut args = vec!["sql", "--config", "pql.toml", "--dialect", engine, "--out", &script];
            args.extend(range);
            edges.pql_ok(&args);
            let engine_csv = edges
                .join(&format!("{engine}-{name}.csv"))
                .to_str()
                .unwrap()
                .to_string();
            plan.jobs.push((
                engine.into(),
                json!({"tables": tables(&edges, "csv"), "script": edges.join(&script), "out": engine_csv}),
            ));
            plan.checks.push((
                format!("{engine} edge cases, {name}"),
                Check::Features {
                    engine_csv,
                    pql: pql.clone(),
                },
            ));
        }
    }

    let report = pql_input_report(&edges.join("pql-one.parquet"));
    assert_eq!(
        report["duplicate_events"], 1,
        "the fixture has every kind of dropped row"
    );
    plan_report(
        &mut plan,
        &edges,
        &edges.join("pql.toml"),
        &tables(&edges, "csv"),
        &report,
        "edge cases",
    );

    // Rows pql refuses, which an engine reads regardless: events without an account, event name or time, an
    // account without a signup time and one repeated, a conversion without a time, and one before signup.
    let refused = crate::features::fixture();
    for (file, rows) in [
        (
            "events.csv",
            ",u1,board_viewed,2025-03-02T00:00:00Z\nA,u1,,2025-03-02T00:00:00Z\nA,u1,board_viewed,\n",
        ),
        ("accounts.csv", "G,,1,tech\nC,2025-03-11T00:00:00Z,3,retail\n"),
        ("conversions.csv", "E,\nB,2025-01-15T00:00:00Z\n"),
    ] {
        let text = std::fs::read_to_string(refused.join(file)).unwrap();
        std::fs::write(refused.join(file), text + rows).unwrap();
    }
    let mut expected = report.clone();
    for (name, value) in [
        ("events_read", 20),
        ("events_missing_values", 3),
        ("accounts", 8),
        ("accounts_missing_values", 1),
        ("duplicate_accounts", 1),
        ("conversions_read", 8),
        ("conversions_missing_values", 1),
        ("conversions_before_signup", 1),
    ] {
        expected.insert(name.into(), value.into());
    }
    assert_eq!(expected["events_used"], 12);
    plan_report(
        &mut plan,
        &refused,
        &refused.join("pql.toml"),
        &tables(&refused, "csv"),
        &expected,
        "refused rows",
    );

    // A generated history (CSV, text times) scored by models of the sample; one industry renamed so the
    // model meets a category it has never seen (its `industry_other`).
    let generated = Dir::new();
    generated.pql_ok(&[
        "generate",
        "--accounts",
        "1500",
        "--seed",
        "11",
        "--weeks",
        "16",
        "--format",
        "csv",
        "--out",
        ".",
    ]);
    let accounts = std::fs::read_to_string(generated.join("accounts.csv")).unwrap();
    assert!(accounts.contains(",finance,"));
    std::fs::write(
        generated.join("accounts.csv"),
        accounts.replace(",finance,", ",fintech,"),
    )
    .unwrap();
    for kind in ["logistic", "boosted"] {
        let model = sample_model(&models, kind);
        let model = model.to_str().unwrap();
        let range = ["--from", "2025-03-03", "--to", "2025-04-21"];
        let features = generated.join(&format!("pql-{kind}.parquet"));
        let mut args = vec![
            "features",
            "--config",
            "pql.toml",
            "--model",
            model,
            "--out",
            features.to_str().unwrap(),
        ];
        args.extend(range);
        generated.pql_ok(&args);
        let frame = read(&features);
        assert!(optional_floats(&frame, "industry_other").contains(&Some(1.0)));
        let scores = generated.join(&format!("pql-{kind}-scores.parquet"));
        generated.pql_ok(&[
            "score",
            "--model",
            model,
            "--features",
            features.to_str().unwrap(),
            "--out",
            scores.to_str().unwrap(),
        ]);
        for engine in ENGINES {
            let script = format!("{engine}-{kind}.sql");
            let mut args = vec![
                "sql",
                "--config",
                "pql.toml",
                "--model",
                model,
                "--dialect",
                engine,
                "--out",
                &script,
            ];
            args.extend(range);
            generated.pql_ok(&args);
            let out = |what: &str| {
                generated
                    .join(&format!("{engine}-{kind}-{what}.csv"))
                    .to_str()
                    .unwrap()
                    .to_string()
            };
            plan.jobs.push((
                engine.into(),
                json!({
                    "tables": tables(&generated, "csv"),
                    "script": generated.join(&script),
                    "out": out("scores"),
                    "views": {"pql_features": out("features")},
                }),
            ));
            plan.checks.push((
                format!("{engine} generated {kind}, features"),
                Check::Features {
                    engine_csv: out("features"),
                    pql: features.clone(),
                },
            ));
            plan.checks.push((
                format!("{engine} generated {kind}, scores"),
                Check::Scores {
                    engine_csv: out("scores"),
                    pql: scores.clone(),
                    reasons: kind == "logistic",
                },
            ));
        }
    }

    let report = pql_input_report(&generated.join("pql-logistic.parquet"));
    plan_report(
        &mut plan,
        &generated,
        &generated.join("pql.toml"),
        &tables(&generated, "csv"),
        &report,
        "generated",
    );

    // The bundled sample (Parquet, timestamps in UTC) for two snapshots: the features and scores of the
    // script, and a feature table the engine already holds, scored with --features-table.
    let sample_dir = root.join("data/sample");
    let sample = sample_dir.join("pql.toml");
    let model = sample_model(&models, "logistic");
    let model = model.to_str().unwrap();
    let range = ["--from", "2025-06-23", "--to", "2025-06-30"];
    let held = Dir::new();
    let mut args = vec![
        "features",
        "--config",
        sample.to_str().unwrap(),
        "--model",
        model,
        "--out",
        "features.parquet",
    ];
    args.extend(range);
    held.pql_ok(&args);
    held.pql_ok(&[
        "score",
        "--model",
        model,
        "--features",
        "features.parquet",
        "--out",
        "pql.parquet",
    ]);
    let sample_tables = json!({
        "events": sample_dir.join("events.parquet"),
        "accounts": sample_dir.join("accounts.parquet"),
        "conversions": sample_dir.join("conversions.parquet"),
    });
    for engine in ENGINES {
        let out = |what: &str| held.join(&format!("{engine}-{what}.csv")).to_str().unwrap().to_string();
        let script = held.join(&format!("{engine}.sql"));
        let mut args = vec![
            "sql",
            "--config",
            sample.to_str().unwrap(),
            "--model",
            model,
            "--dialect",
            engine,
            "--out",
            script.to_str().unwrap(),
        ];
        args.extend(range);
        held.pql_ok(&args);
        plan.jobs.push((
            engine.into(),
            json!({
                "tables": sample_tables,
                "script": script,
                "out": out("scores"),
                "views": {"pql_features": out("features")},
            }),
        ));
        plan.checks.push((
            format!("{engine} sample, features"),
            Check::Features {
                engine_csv: out("features"),
                pql: held.join("features.parquet"),
            },
        ));
        plan.checks.push((
            format!("{engine} sample, scores"),
            Check::Scores {
                engine_csv: out("scores"),
                pql: held.join("pql.parquet"),
                reasons: true,
            },
        ));

        let script = held.join(&format!("{engine}-held.sql"));
        let printed = held.pql_ok(&[
            "sql",
            "--model",
            model,
            "--dialect",
            engine,
            "--features-table",
            "features",
            "--out",
            script.to_str().unwrap(),
        ]);
        assert!(printed.contains("scoring SQL of model"), "{printed}");
        plan.jobs.push((
            engine.into(),
            json!({
                "tables": {"features": held.join("features.parquet")},
                "script": script,
                "out": out("held-scores"),
            }),
        ));
        plan.checks.push((
            format!("{engine} sample feature table, scores"),
            Check::Scores {
                engine_csv: out("held-scores"),
                pql: held.join("pql.parquet"),
                reasons: true,
            },
        ));
    }

    let report = pql_input_report(&held.join("features.parquet"));
    plan_report(&mut plan, &held, &sample, &sample_tables, &report, "sample");

    plan.run(&venv, &models);
}

/// Adds, for each of `engines`, the feature script of `dir`'s pql.toml with `options` (snapshots, tables) run
/// over `tables` (engine name to file), checked against the `pql features` table `pql`.
fn plan_features(plan: &mut Plan, dir: &Dir, engines: &[&str], options: &[&str], tables: &Value, pql: &Path) {
    for &engine in engines {
        let script = dir.join(&format!("{engine}.sql"));
        let mut args = vec![
            "sql",
            "--config",
            "pql.toml",
            "--dialect",
            engine,
            "--out",
            script.to_str().unwrap(),
        ];
        args.extend(options);
        dir.pql_ok(&args);
        let engine_csv = dir.join(&format!("{engine}.csv")).to_str().unwrap().to_string();
        plan.jobs.push((
            engine.into(),
            json!({"tables": tables, "script": script, "out": engine_csv}),
        ));
        plan.checks.push((
            format!("{engine} {options:?}"),
            Check::Features {
                engine_csv,
                pql: pql.to_path_buf(),
            },
        ));
    }
}

#[test]
fn sql_hostile_table_name_is_refused() {
    let dir = crate::features::fixture();
    let hostile = "events=events; DROP TABLE accounts; --";
    let stderr = dir.pql_err(&[
        "sql",
        "--config",
        "pql.toml",
        "--dialect",
        "duckdb",
        "--as-of",
        "2025-03-10",
        "--table",
        hostile,
        "--out",
        "features.sql",
    ]);
    assert!(
        stderr.contains(&format!("--table {hostile:?}")) && stderr.contains("';' is not allowed in a relation name"),
        "{stderr}"
    );
    assert!(!dir.join("features.sql").exists(), "no script written");
    for (flag, value, refusal) in [
        ("--table", "accounts=lake.x\"y", "'\"' is not allowed"),
        ("--table", "conversions=a.b.c.d", "4 dot-separated parts"),
        ("--table", "events=lake..events", "an empty part"),
    ] {
        let stderr = dir.pql_err(&[
            "sql",
            "--config",
            "pql.toml",
            "--dialect",
            "spark",
            "--as-of",
            "2025-03-10",
            flag,
            value,
        ]);
        assert!(
            stderr.contains(&format!("{flag} {value:?}")) && stderr.contains(refusal),
            "{stderr}"
        );
    }
    // The feature table to score is a relation name too, not SQL; it is checked before the model is read.
    let query = "read_parquet('features.parquet')";
    let stderr = dir.pql_err(&[
        "sql",
        "--model",
        "no-such-model",
        "--dialect",
        "duckdb",
        "--features-table",
        query,
    ]);
    assert!(
        stderr.contains(&format!("--features-table {query:?}")) && stderr.contains("'(' is not allowed"),
        "{stderr}"
    );
}

#[test]
fn sql_quotes_and_backslashes_in_event_names_and_levels_match_pql() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = python_environment("engines-venv", &root.join("tests/engines/requirements.txt"));
    // The fixture's key, hand-raise, ignored, limit and limit-hit events and its industries renamed with
    // single quotes, backslashes (one ending a name, as it ends a comment), `;` and `--`: they reach the
    // script as string literals, column names and comments.
    let dir = crate::features::fixture();
    let renames = [
        ("report_shared", r"it's_shared"),
        ("pricing_viewed", r"pricing\'viewed"),
        ("email_opened", r"e'mail; --opened"),
        ("task_created", r"task_created\"),
        ("limit_hit", r"limit'hit\\"),
        ("tech", "O'Reilly"),
        ("retail", r"back\slash"),
    ];
    for file in ["events.csv", "accounts.csv", "pql.toml"] {
        let mut text = std::fs::read_to_string(dir.join(file)).unwrap();
        for (from, to) in renames {
            text = match file {
                // The config names events as TOML basic strings.
                "pql.toml" => text.replace(&format!("\"{from}\""), &format!("\"{}\"", to.replace('\\', "\\\\"))),
                _ => text.replace(from, to),
            };
        }
        std::fs::write(dir.join(file), text).unwrap();
    }
    let pql = dir.join("pql.parquet");
    dir.pql_ok(&[
        "features",
        "--config",
        "pql.toml",
        "--from",
        "2025-03-03",
        "--to",
        "2025-03-17",
        "--out",
        pql.to_str().unwrap(),
    ]);
    let frame = read(&pql);
    let names: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    for name in [
        "industry=O'Reilly",
        r"industry=back\slash",
        r"limit_task_created\_week_usage",
        r"pricing\'viewed_7d",
        r"days_since_limit'hit\\",
    ] {
        assert!(names.iter().any(|n| n == name), "no column {name:?} in {names:?}");
    }
    let mut plan = Plan::default();
    let options = ["--from", "2025-03-03", "--to", "2025-03-17"];
    plan_features(&mut plan, &dir, &ENGINES, &options, &tables(&dir, "csv"), &pql);
    let report = pql_input_report(&pql);
    assert_eq!(report["ignored_events"], 1, "the ignored event's literal matches");
    plan_report(
        &mut plan,
        &dir,
        &dir.join("pql.toml"),
        &tables(&dir, "csv"),
        &report,
        "quoted names",
    );
    plan.run(&venv, &dir);
}

#[test]
fn sql_reserved_words_as_table_names_work_on_duckdb() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = python_environment("engines-venv", &root.join("tests/engines/requirements.txt"));
    let dir = crate::features::fixture();
    let pql = dir.join("pql.parquet");
    dir.pql_ok(&[
        "features",
        "--config",
        "pql.toml",
        "--as-of",
        "2025-03-10",
        "--out",
        pql.to_str().unwrap(),
    ]);
    let path = |name: &str| dir.join(&format!("{name}.csv")).to_str().unwrap().to_string();
    let tables =
        json!({"order": path("events"), "main.select": path("accounts"), "memory.main.from": path("conversions")});
    let mut plan = Plan::default();
    let options = [
        "--as-of",
        "2025-03-10",
        "--table",
        "events=order",
        "--table",
        "accounts=main.select",
        "--table",
        "conversions=memory.main.from",
    ];
    plan_features(&mut plan, &dir, &["duckdb"], &options, &tables, &pql);
    let script = std::fs::read_to_string(dir.join("duckdb.sql")).unwrap();
    assert!(script.contains(r#"FROM "main"."select" a"#), "{script}");
    plan.run(&venv, &dir);
}

#[test]
fn sql_history_before_1970_matches_pql() {
    // Times before the epoch are negative: days and weeks must round down, as pql's do.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = python_environment("engines-venv", &root.join("tests/engines/requirements.txt"));
    let dir = crate::features::fixture();
    for name in ["pql.toml", "events.csv", "accounts.csv", "conversions.csv"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        std::fs::write(dir.join(name), text.replace("2025-", "1965-")).unwrap();
    }
    let pql = dir.join("pql.parquet");
    let options = ["--from", "1965-03-01", "--to", "1965-03-31"];
    dir.pql_ok(
        &[
            &["features", "--config", "pql.toml", "--out", pql.to_str().unwrap()][..],
            &options,
        ]
        .concat(),
    );
    assert!(read(&pql).height() > 10);
    let mut plan = Plan::default();
    plan_features(&mut plan, &dir, &ENGINES, &options, &tables(&dir, "csv"), &pql);
    plan.run(&venv, &dir);
}

/// Asserts that every engine's SQL gives the fixture's `pql features` rows over three weekly snapshots, after
/// checking that pql wrote `column`.
fn assert_fixture_sql_matches_pql(dir: &Dir, column: &str) {
    assert_fixture_tables_match_pql(dir, column, "csv", &ENGINES);
}

/// [`assert_fixture_sql_matches_pql`] with `engines` reading the fixture's `<table>.<extension>` files.
fn assert_fixture_tables_match_pql(dir: &Dir, column: &str, extension: &str, engines: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = python_environment("engines-venv", &root.join("tests/engines/requirements.txt"));
    let pql = dir.join("pql.parquet");
    let options = ["--from", "2025-03-03", "--to", "2025-03-17"];
    dir.pql_ok(
        &[
            &["features", "--config", "pql.toml", "--out", pql.to_str().unwrap()][..],
            &options,
        ]
        .concat(),
    );
    assert!(read(&pql).column(column).is_ok(), "no {column}");
    let mut plan = Plan::default();
    plan_features(&mut plan, dir, engines, &options, &tables(dir, extension), &pql);
    plan.run(&venv, dir);
}

#[test]
fn sql_event_values_match_pql() {
    assert_fixture_sql_matches_pql(&crate::features::valued_fixture(), "purchase_value_mean");
}

#[test]
fn sql_declared_and_plan_features_match_pql() {
    assert_fixture_sql_matches_pql(&crate::features::declared_fixture(), "trial_days_left");
}

#[test]
fn sql_reads_nanosecond_utc_timestamps_as_pql_does() {
    // pandas writes `timestamp[ns, tz=UTC]`; DuckDB has no `epoch_us` of that type. DuckDB reads the
    // fixture as Parquet with such columns (7 ns past each μs), pql the same instants from its CSV files.
    // (Spark does not read nanosecond Parquet timestamps at all.)
    let dir = crate::features::declared_fixture();
    for (name, time) in [
        ("events", "timestamp"),
        ("accounts", "signup_at"),
        ("conversions", "converted_at"),
    ] {
        let mut frame = read(&dir.join(&format!("{name}.csv")));
        let instants: Vec<Option<i64>> = frame
            .column(time)
            .unwrap()
            .cast(&DataType::String)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|t| t.and_then(pql_data::input::parse_timestamp).map(|us| us * 1_000 + 7))
            .collect();
        let instants = Series::new(time.into(), instants)
            .cast(&DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC)))
            .unwrap();
        frame.with_column(instants.into_column()).unwrap();
        ParquetWriter::new(File::create(dir.join(&format!("{name}.parquet"))).unwrap())
            .finish(&mut frame)
            .unwrap();
    }
    assert_fixture_tables_match_pql(&dir, "trial_days_left", "parquet", &["duckdb"]);
}

#[test]
fn sql_per_event_features_are_those_pql_features_computes_for_the_same_dates() {
    // `b` outnumbers `a` only after the snapshot: `pql features --as-of` counts `a` one by one, and so
    // must the script of `pql sql --as-of`.
    let dir = crate::features::history(
        "[inputs]\nevents = \"events.csv\"\naccounts = \"accounts.csv\"\nconversions = \"conversions.csv\"\n\
         [events]\nper_event = 1\n[label]\nhorizon_days = 7\n",
        "account_id,signup_at\nA,2025-03-01T00:00:00Z\n",
        "account_id,converted_at\n",
        "account_id,user_id,event,timestamp\nA,u1,a,2025-03-02T10:00:00Z\nA,u1,a,2025-03-03T10:00:00Z\n\
         A,u1,b,2025-03-04T10:00:00Z\nA,u1,b,2025-03-20T10:00:00Z\nA,u1,b,2025-03-21T10:00:00Z\n",
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
    let features = read(&dir.join("f.parquet"));
    assert!(features.column("a_count").is_ok() && features.column("b_count").is_err());
    dir.pql_ok(&[
        "sql",
        "--config",
        "pql.toml",
        "--dialect",
        "duckdb",
        "--as-of",
        "2025-03-10",
        "--out",
        "f.sql",
    ]);
    let script = std::fs::read_to_string(dir.join("f.sql")).unwrap();
    assert!(script.contains("a_count") && !script.contains("b_count"), "{script}");
}
