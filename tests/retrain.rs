//! Weekly retraining end to end: `pql retrain` week by week on generated histories, one in which the
//! product changes (`pql generate --shift-on`) and one in which it does not, plus a broken event feed and a
//! retrain killed at random moments.

use std::fs::File;
use std::time::Duration;

use polars::prelude::*;

use crate::util::{registry, Dir};

/// The product changes on this date in `shifted/`; `stable/` is the same seeded history without it.
const SHIFT: &str = "2025-05-19";

fn champion(dir: &Dir, folder: &str) -> String {
    registry(dir, folder)["champion"].as_str().unwrap().to_string()
}

/// `pql retrain` as of `date` on `data/` into `models/`; returns (stdout, stderr).
fn retrain(dir: &Dir, data: &str, models: &str, date: &str) -> (String, String) {
    let config = format!("{data}/pql.toml");
    let out = dir.pql(&[
        "retrain", "--config", &config, "--models", models, "--as-of", date, "--model", "logistic",
    ]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "retrain {data} {date} failed:\n{stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// `pql retrain --json` on `shifted/` as of `date` into `models/`: the outcome object.
fn retrain_json(dir: &Dir, models: &str, date: &str) -> serde_json::Value {
    let out = dir.pql_ok(&[
        "retrain",
        "--config",
        "shifted/pql.toml",
        "--models",
        models,
        "--as-of",
        date,
        "--model",
        "logistic",
        "--json",
    ]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Copies the files of folder `from` (one level, as a model registry is) to `to`.
fn copy_folder(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn generate(dir: &Dir, out: &str, shift: bool) {
    let mut args = vec![
        "generate",
        "--accounts",
        "4000",
        "--seed",
        "13",
        "--weeks",
        "34",
        "--out",
        out,
    ];
    if shift {
        args.extend(["--shift-on", SHIFT]);
    }
    dir.pql_ok(&args);
}

/// Copies `from/` to `to/` without the events at or after 00:00 UTC of `date` but those named in `still`
/// (a product's tracking that stopped while its server-side events went on).
fn events_stop(dir: &Dir, from: &str, to: &str, date: chrono::NaiveDate, still: &[&str]) {
    std::fs::create_dir_all(dir.join(to)).unwrap();
    for file in ["accounts.parquet", "conversions.parquet", "pql.toml"] {
        std::fs::copy(dir.join(from).join(file), dir.join(to).join(file)).unwrap();
    }
    let events = ParquetReader::new(File::open(dir.join(from).join("events.parquet")).unwrap())
        .finish()
        .unwrap();
    let DataType::Datetime(unit, _) = events.column("timestamp").unwrap().dtype().clone() else {
        panic!("timestamps are datetimes")
    };
    let midnight = date.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let end = match unit {
        TimeUnit::Milliseconds => midnight.timestamp_millis(),
        TimeUnit::Microseconds => midnight.timestamp_micros(),
        TimeUnit::Nanoseconds => midnight.timestamp_nanos_opt().unwrap(),
    };
    let mut kept = events
        .lazy()
        .filter(
            col("timestamp")
                .cast(DataType::Int64)
                .lt(lit(end))
                .or(col("event").is_in(lit(Series::new("still".into(), still)).implode(false), false)),
        )
        .collect()
        .unwrap();
    ParquetWriter::new(File::create(dir.join(to).join("events.parquet")).unwrap())
        .finish(&mut kept)
        .unwrap();
}

#[test]
fn weekly_retrain_promotes_after_a_product_change_and_keeps_the_champion_otherwise() {
    let dir = Dir::new();
    generate(&dir, "shifted", true);
    generate(&dir, "stable", false);

    // Week 0: the first champion of each folder.
    for (data, models) in [("shifted", "m-shifted"), ("stable", "m-stable")] {
        let (out, _) = retrain(&dir, data, models, "2025-05-26");
        assert!(out.contains("is the folder's first champion"), "{out}");
    }
    let first = champion(&dir, "m-shifted");
    copy_folder(&dir.join("m-shifted"), &dir.join("m-fair"));

    // Week 1: no snapshot starts after the champion's labels ended yet, so nothing is compared.
    let (out, _) = retrain(&dir, "shifted", "m-shifted", "2025-06-02");
    assert!(
        out.contains(&format!("kept champion {first}: none of the challenger's backtest")),
        "{out}"
    );
    assert_eq!(champion(&dir, "m-shifted"), first);

    // Five weeks on, the challenger's latest backtest snapshot (2025-05-26) is labelled after the champion's
    // labels ended, but its backtest model learnt from exactly the champion's snapshots: no fair comparison,
    // so the champion stays and `--json` says so. A week later, 2025-06-02's backtest model has learnt from
    // a snapshot the champion never saw, and both are compared on it.
    let unfair = retrain_json(&dir, "m-fair", "2025-06-30");
    assert_eq!(unfair["outcome"], "kept", "{unfair}");
    assert_eq!(unfair["promoted"], false);
    assert_eq!(unfair["champion"], first.as_str());
    assert!(unfair["comparison"].is_null(), "{unfair}");
    let reason = unfair["reason"].as_str().unwrap();
    assert!(reason.contains("one on or after 2025-05-28 is needed"), "{reason}");
    assert!(unfair["probability_psi"].as_f64().unwrap() > 0.0, "{unfair}");
    let fair = retrain_json(&dir, "m-fair", "2025-07-07");
    let comparison = &fair["comparison"];
    assert_eq!(comparison["snapshots"], serde_json::json!(["2025-06-02"]), "{fair}");
    let (champion_loss, challenger_loss) = (
        comparison["champion"]["log_loss"].as_f64().unwrap(),
        comparison["challenger"]["log_loss"].as_f64().unwrap(),
    );
    assert!((champion_loss - challenger_loss).abs() > 1e-9, "{fair}");
    assert_eq!(
        comparison["champion"]["rows"], comparison["challenger"]["rows"],
        "{fair}"
    );
    assert!(
        ["kept", "promoted"].contains(&fair["outcome"].as_str().unwrap()),
        "{fair}"
    );

    // Fifteen weeks on. The changed product: drift is warned about (the guided onboarding moves the
    // adoption features) and the challenger, which has learnt the new conversion pattern, is promoted.
    let (out, warnings) = retrain(&dir, "shifted", "m-shifted", "2025-09-01");
    assert!(out.contains("promoted "), "{out}");
    assert!(warnings.contains("drift: `features_first_3d` has moved"), "{warnings}");
    let promoted = champion(&dir, "m-shifted");
    assert_ne!(promoted, first);
    let listed = dir.pql_ok(&["models", "--models", "m-shifted"]);
    assert!(listed.contains(&format!("retired for {promoted}")), "{listed}");
    // `--model champion` now scores with the new champion.
    let scored = dir.pql_ok(&[
        "score",
        "--config",
        "shifted/pql.toml",
        "--model",
        "m-shifted/champion",
        "--as-of",
        "2025-09-01",
        "--out",
        "scores.csv",
    ]);
    assert!(scored.contains(&promoted), "{scored}");

    // The unchanged product: the adoption features have not moved, and the challenger is not better by the
    // margin, so the champion stays and the registry says why.
    let (out, warnings) = retrain(&dir, "stable", "m-stable", "2025-09-01");
    let first = champion(&dir, "m-stable");
    assert!(
        out.contains(&format!(
            "kept champion {first}: the challenger is not better by the margin"
        )),
        "{out}"
    );
    assert!(!warnings.contains("features_first_3d"), "{warnings}");
    assert_eq!(champion(&dir, "m-stable"), first);
    let entries = registry(&dir, "m-stable")["models"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["status"], "candidate");
    assert!(
        entries[1]["note"].as_str().unwrap().starts_with("not promoted: "),
        "{entries:?}"
    );

    // The product's tracking stopped two weeks before the challenger's last training snapshot while the
    // server-side hand-raise events went on (so the data still reaches September): the weekly product
    // features are all zero there, and the challenger is kept out whatever its log loss. (Had every event
    // stopped, the observation end would have stopped with them, and no such snapshot would be labelled.)
    events_stop(
        &dir,
        "stable",
        "broken",
        chrono::NaiveDate::from_ymd_opt(2025, 7, 14).unwrap(),
        &["pricing_page_viewed", "upgrade_clicked", "contact_sales_requested"],
    );
    let (out, _) = retrain(&dir, "broken", "m-stable", "2025-09-01");
    assert!(
        out.contains("fails sanity checks: features that varied for the champion are constant"),
        "{out}"
    );
    assert!(out.contains("features_used_7d"), "{out}");
    assert_eq!(champion(&dir, "m-stable"), first);
}

#[test]
fn drift_is_flagged_on_a_shifted_week_and_not_on_a_stable_one() {
    let dir = Dir::new();
    generate(&dir, "shifted", true);
    generate(&dir, "stable", false);
    let (out, _) = retrain(&dir, "stable", "models", "2025-05-26");
    assert!(out.contains("first champion"), "{out}");
    let drift = |data: &str, date: &str| {
        let config = format!("{data}/pql.toml");
        dir.pql_ok(&[
            "drift",
            "--model",
            "models/champion",
            "--config",
            &config,
            "--as-of",
            date,
        ])
    };
    let flagged = |table: &str| -> Vec<String> {
        table
            .lines()
            .filter(|l| l.ends_with("WARN"))
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect()
    };
    // The week after the champion's profile snapshot (its last training snapshot, 2025-04-21): stable.
    let window_last = registry(&dir, "models")["models"][0]["window_last"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(window_last, "2025-04-21");
    assert_eq!(flagged(&drift("stable", "2025-04-28")), Vec::<String>::new());
    // Six weeks after the change, the adoption features have moved in the changed product only.
    let shifted = flagged(&drift("shifted", "2025-06-30"));
    let stable = flagged(&drift("stable", "2025-06-30"));
    for feature in ["days_to_3_features", "features_first_3d"] {
        assert!(shifted.iter().any(|f| f == feature), "{shifted:?}");
        assert!(!stable.iter().any(|f| f == feature), "{stable:?}");
    }
}

#[test]
fn a_retrain_killed_at_any_moment_leaves_a_consistent_registry() {
    let dir = Dir::new();
    generate(&dir, "shifted", true);
    retrain(&dir, "shifted", "models", "2025-05-26");
    let first = champion(&dir, "models");
    // Kill retrains at increasing moments until one completes; after every kill, the registry must parse,
    // name a loadable champion, and every model it lists must be complete.
    let mut delay = Duration::from_millis(50);
    let mut completed = false;
    while !completed {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pql"))
            .args([
                "retrain",
                "--config",
                "shifted/pql.toml",
                "--models",
                "models",
                "--as-of",
                "2025-09-01",
                "--model",
                "logistic",
                "--quiet",
            ])
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        completed = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();
        let registry = registry(&dir, "models");
        let champion = registry["champion"].as_str().unwrap();
        assert!(registry["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["model_id"] == champion));
        for entry in registry["models"].as_array().unwrap() {
            let id = entry["model_id"].as_str().unwrap();
            let explained = dir.pql_ok(&["explain", "--model", &format!("models/{id}")]);
            assert!(explained.contains(id), "{explained}");
        }
        delay = delay.mul_f64(1.6);
    }
    assert_ne!(
        champion(&dir, "models"),
        first,
        "the completed retrain promoted its challenger"
    );
}
