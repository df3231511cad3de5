//! `pql train` end to end on the bundled sample: every report section, determinism of the artifact, the
//! same model from a precomputed feature table, and clear errors.

use crate::util::Dir;

fn sample_config() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/sample/pql.toml")
        .to_str()
        .unwrap()
        .to_string()
}

/// The one model directory under `models`.
fn model_dir(dir: &Dir, models: &str) -> std::path::PathBuf {
    let entries: Vec<_> = std::fs::read_dir(dir.join(models))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(entries.len(), 1, "one model directory: {entries:?}");
    entries[0].clone()
}

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn training_on_the_sample_writes_a_calibrated_model_with_every_report_section() {
    let dir = Dir::new();
    let config = sample_config();
    let out = dir.pql_ok(&["train", "--config", &config, "--out", "models", "--backtest", "2"]);
    let model = model_dir(&dir, "models");
    assert!(
        out.contains(&format!(
            "written to models/{}",
            model.file_name().unwrap().to_str().unwrap()
        )),
        "{out}"
    );
    for section in [
        "validation",
        "backtest",
        "top features",
        "rule baselines",
        "near the limit",
    ] {
        assert!(out.contains(section), "missing `{section}` in:\n{out}");
    }
    let artifact = json(&model.join("model.json"));
    assert_eq!(artifact["format_version"], 5);
    assert_eq!(
        artifact["training"]["event_roles"]["key"],
        serde_json::json!(["automation_created", "dashboard_created", "integration_connected"])
    );
    assert_eq!(
        artifact["training"]["event_roles"]["limit_reached"],
        serde_json::json!(["limit_reached"])
    );
    // Of the table's 112 features, the sample's accounts all have a country: `country_missing` is constant.
    assert_eq!(artifact["features"].as_array().unwrap().len(), 111);
    assert_eq!(
        artifact["training"]["constant_features"],
        serde_json::json!(["country_missing"])
    );
    assert_eq!(artifact["backtest"].as_array().unwrap().len(), 2);
    assert_eq!(artifact["rules"].as_array().unwrap().len(), 3);
    let metrics = json(&model.join("metrics.json"));
    let auc = metrics["validation"]["roc_auc"].as_f64().unwrap();
    assert!(
        auc > 0.65,
        "the model ranks converters first (P of the positive class): AUC {auc}"
    );
    for row in metrics["backtest"].as_array().unwrap() {
        assert!(row["metrics"]["roc_auc"].as_f64().unwrap() > 0.55, "{row}");
    }
    let importances = std::fs::read_to_string(model.join("importances.csv")).unwrap();
    assert!(importances.starts_with("feature,permutation_auc_drop,"));
    assert_eq!(importances.lines().count(), 112);
}

#[test]
fn the_same_inputs_give_a_byte_identical_model_from_events_or_from_a_feature_table() {
    let dir = Dir::new();
    let config = sample_config();
    let window = ["--from", "2025-01-06", "--to", "2025-07-06"];
    let mut args = vec!["train", "--config", &config, "--backtest", "1", "--model", "logistic"];
    args.extend(window);
    dir.pql_ok(&[&args[..], &["--out", "a"]].concat());
    dir.pql_ok(&[&args[..], &["--out", "b"]].concat());
    dir.pql_ok(&[&["features", "--config", &config, "--out", "f.parquet"], &window[..]].concat());
    dir.pql_ok(&[&["features", "--config", &config, "--out", "f.csv"], &window[..]].concat());
    let from_table = ["train", "--config", &config, "--backtest", "1", "--model", "logistic"];
    dir.pql_ok(&[&from_table[..], &["--features", "f.parquet", "--out", "c"]].concat());
    dir.pql_ok(&[&from_table[..], &["--features", "f.csv", "--out", "d"]].concat());
    // Thinned negatives: recorded, and validation still reads every row.
    dir.pql_ok(
        &[
            &from_table[..],
            &["--features", "f.parquet", "--negative-rate", "0.5", "--out", "e"],
        ]
        .concat(),
    );
    let (full, thinned) = (
        json(&model_dir(&dir, "a").join("model.json")),
        json(&model_dir(&dir, "e").join("model.json")),
    );
    assert_eq!(full["training"]["negative_rate"], 1.0);
    assert_eq!(thinned["training"]["negative_rate"], 0.5);
    assert_eq!(thinned["training"]["validation"], full["training"]["validation"]);
    assert!(thinned["training"]["window"]["rows"].as_u64() < full["training"]["window"]["rows"].as_u64());
    // Thinned while reading Parquet, after reading CSV, or in the fits from events: the same model.
    let thin = |source: &[&str], out: &str| {
        dir.pql_ok(&[source, &["--negative-rate", "0.5", "--out", out]].concat());
        json(&model_dir(&dir, out).join("model.json"))
    };
    let csv = thin(&[&from_table[..], &["--features", "f.csv"]].concat(), "g");
    assert_eq!(csv, thinned, "Parquet and CSV tables thin to the same rows");
    let events = thin(&args, "h");
    assert_eq!(
        events["model"], thinned["model"],
        "thinning while reading keeps what the fits keep"
    );
    assert_eq!(events["training"]["window"], thinned["training"]["window"]);
    let err = dir.pql_err(
        &[
            &from_table[..],
            &["--features", "f.parquet", "--negative-rate", "0", "--out", "x"],
        ]
        .concat(),
    );
    assert!(
        err.contains("negative rate must be above 0 and at most 1, got 0"),
        "{err}"
    );
    let a = model_dir(&dir, "a");
    for other in ["b", "c", "d"] {
        let other = model_dir(&dir, other);
        assert_eq!(a.file_name(), other.file_name(), "same content, same model id");
        for file in ["model.json", "metrics.json", "importances.csv"] {
            assert!(
                std::fs::read(a.join(file)).unwrap() == std::fs::read(other.join(file)).unwrap(),
                "{file} differs between {} and {}",
                a.display(),
                other.display()
            );
        }
    }
}

#[test]
fn training_errors_are_one_clear_line() {
    let dir = Dir::new();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let text = std::fs::read_to_string(sample.join("pql.toml"))
        .unwrap()
        .replace("\"events.parquet\"", &format!("{:?}", sample.join("events.parquet")))
        .replace(
            "\"accounts.parquet\"",
            &format!("{:?}", sample.join("accounts.parquet")),
        )
        .replace(
            "\"conversions.parquet\"",
            &format!("{:?}", sample.join("conversions.parquet")),
        )
        .replace("key_events >= 3", "key_event >= 3");
    dir.write("pql.toml", &text);
    let err = dir.pql_err(&["train", "--config", "pql.toml", "--backtest", "0"]);
    assert!(
        err.contains("rule `activated team`: `key_event` is not a feature of this table"),
        "{err}"
    );

    let err = dir.pql_err(&[
        "train",
        "--config",
        &sample_config(),
        "--from",
        "2025-01-06",
        "--to",
        "2025-02-10",
    ]);
    assert!(err.contains("no snapshot's 30-day labels had closed"), "{err}");

    dir.write("plain.csv", "account_id,as_of,label,x\na,2025-01-06,1,2.0\n");
    let err = dir.pql_err(&["train", "--config", &sample_config(), "--features", "plain.csv"]);
    assert!(err.contains("plain.csv: no feature dictionary"), "{err}");
    assert!(!dir.join("models").exists(), "no model is written on failure");
}
