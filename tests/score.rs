//! `pql score`, `pql explain` and `pql quickstart` end to end: generate → features → train → score →
//! explain on a generated history, checked against the generator's list of eligible accounts, the model's
//! thresholds and an earlier run; and clear errors for a model that does not fit the config.

use std::collections::HashSet;
use std::fs::File;

use polars::prelude::*;

use crate::util::{floats, read, strings, Dir};

fn bools(frame: &DataFrame, name: &str) -> Vec<bool> {
    let column = frame.column(name).unwrap().cast(&DataType::Boolean).unwrap();
    column.bool().unwrap().iter().map(|v| v.unwrap()).collect()
}

/// A generated history, its features for every week, and a logistic model trained on them.
struct Trained {
    dir: Dir,
    model: std::path::PathBuf,
    artifact: serde_json::Value,
}

fn trained() -> Trained {
    let dir = Dir::new();
    dir.pql_ok(&[
        "generate",
        "--accounts",
        "2500",
        "--seed",
        "11",
        "--weeks",
        "20",
        "--out",
        "data",
    ]);
    dir.pql_ok(&[
        "features",
        "--config",
        "data/pql.toml",
        "--from",
        "2025-01-06",
        "--to",
        "2025-05-26",
        "--out",
        "features.parquet",
    ]);
    train_on_table(&dir, "logistic");
    let model = std::fs::read_dir(dir.join("models"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let artifact = serde_json::from_str(&std::fs::read_to_string(model.join("model.json")).unwrap()).unwrap();
    Trained { dir, model, artifact }
}

/// `pql score --config data/pql.toml --model <model> --as-of <as_of> --out <out>` with `extra` flags.
fn score_args<'a>(model: &'a str, as_of: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "score",
        "--config",
        "data/pql.toml",
        "--model",
        model,
        "--as-of",
        as_of,
        "--out",
        out,
    ];
    args.extend(extra);
    args
}

/// `pql train` of one family on `features.parquet` into `models/`, without a backtest.
fn train_on_table(dir: &Dir, kind: &str) {
    dir.pql_ok(&[
        "train",
        "--config",
        "data/pql.toml",
        "--features",
        "features.parquet",
        "--model",
        kind,
        "--backtest",
        "0",
        "--out",
        "models",
    ]);
}

/// The accounts eligible at `as_of` according to the generator's truth table.
fn eligible(dir: &Dir, as_of: &str) -> HashSet<String> {
    let truth = read(&dir.join("data/truth.parquet"));
    let dates = strings(&truth, "as_of");
    strings(&truth, "account_id")
        .into_iter()
        .zip(dates)
        .filter(|(_, d)| d.as_deref().is_some_and(|d| d.starts_with(as_of)))
        .map(|(id, _)| id.unwrap())
        .collect()
}

#[test]
fn scores_every_eligible_account_with_consistent_tiers_reasons_and_newly_qualified() {
    let Trained { dir, model, artifact } = trained();
    let model = model.to_str().unwrap();
    let model_id = artifact["model_id"].as_str().unwrap();
    let out = dir.pql_ok(&score_args(model, "2025-04-14", "week1.csv", &[]));
    let week1 = read(&dir.join("week1.csv"));
    assert!(
        out.contains(&format!("scored {} eligible accounts", week1.height())),
        "{out}"
    );

    // One row per eligible account, as the generator counts them.
    let ids: Vec<String> = strings(&week1, "account_id").into_iter().map(Option::unwrap).collect();
    assert_eq!(
        ids.iter().cloned().collect::<HashSet<_>>(),
        eligible(&dir, "2025-04-14")
    );
    assert_eq!(ids.len(), week1.height(), "no account twice");
    assert_eq!(
        week1.get_column_names().iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        [
            "account_id",
            "as_of",
            "probability",
            "tier",
            "is_pql",
            "reason_1",
            "reason_2",
            "reason_3",
            "model_id"
        ]
    );

    // Probabilities in [0, 1], highest first; tiers follow the model's thresholds.
    let p = floats(&week1, "probability");
    assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(p.windows(2).all(|w| w[0] >= w[1]));
    let hot = artifact["thresholds"]["pql_threshold"].as_f64().unwrap();
    let warm = artifact["thresholds"]["warm_threshold"].as_f64().unwrap();
    let tiers = strings(&week1, "tier");
    let is_pql = bools(&week1, "is_pql");
    for ((p, tier), pql) in p.iter().zip(&tiers).zip(&is_pql) {
        let want = if *p >= hot {
            "hot"
        } else if *p >= warm {
            "warm"
        } else {
            "cold"
        };
        assert_eq!(tier.as_deref(), Some(want), "probability {p}");
        assert_eq!(*pql, *p >= hot);
    }
    assert!(is_pql.iter().any(|&x| x) && !is_pql.iter().all(|&x| x));

    // Reasons: every PQL has three, in words rather than column names, and distinct.
    let reasons: Vec<Vec<Option<String>>> = (1..=3).map(|k| strings(&week1, &format!("reason_{k}"))).collect();
    for row in (0..week1.height()).filter(|&i| is_pql[i]) {
        let texts: Vec<&str> = reasons.iter().map(|r| r[row].as_deref().unwrap()).collect();
        assert!(texts.iter().all(|t| !t.is_empty() && !t.contains('_')), "{texts:?}");
        assert_eq!(texts.iter().collect::<HashSet<_>>().len(), 3, "{texts:?}");
    }
    assert!(strings(&week1, "model_id")
        .iter()
        .all(|m| m.as_deref() == Some(model_id)));

    // The same rows from a precomputed table score identically.
    dir.pql_ok(&[
        "score",
        "--model",
        model,
        "--features",
        "features.parquet",
        "--as-of",
        "2025-04-14",
        "--out",
        "from_table.parquet",
    ]);
    let from_table = read(&dir.join("from_table.parquet"));
    assert_eq!(strings(&from_table, "account_id"), strings(&week1, "account_id"));
    for (a, b) in floats(&from_table, "probability").iter().zip(&p) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    // A week later: newly qualified = PQL now and not a PQL the week before.
    let previous: HashSet<String> = ids
        .iter()
        .zip(&is_pql)
        .filter(|(_, &q)| q)
        .map(|(id, _)| id.clone())
        .collect();
    let out = dir.pql_ok(&score_args(
        model,
        "2025-04-21",
        "week2.parquet",
        &["--previous", "week1.csv"],
    ));
    let week2 = read(&dir.join("week2.parquet"));
    let newly = bools(&week2, "newly_qualified");
    let pql2 = bools(&week2, "is_pql");
    let mut count = 0;
    for ((id, pql), newly) in strings(&week2, "account_id").iter().zip(&pql2).zip(&newly) {
        let want = *pql && !previous.contains(id.as_deref().unwrap());
        assert_eq!(*newly, want, "{id:?}");
        count += usize::from(want);
    }
    assert!(count > 0 && count < pql2.iter().filter(|&&q| q).count(), "{count}");
    assert!(out.contains(&format!("{count} newly qualified")), "{out}");

    // Overrides: exactly the top 25, or every account at or above 0.2.
    dir.pql_ok(&score_args(model, "2025-04-14", "top.csv", &["--top", "25"]));
    assert_eq!(
        bools(&read(&dir.join("top.csv")), "is_pql")
            .iter()
            .filter(|&&q| q)
            .count(),
        25
    );
    dir.pql_ok(&score_args(model, "2025-04-14", "cut.csv", &["--threshold", "0.2"]));
    let cut = read(&dir.join("cut.csv"));
    for (p, pql) in floats(&cut, "probability").iter().zip(bools(&cut, "is_pql")) {
        assert_eq!(pql, *p >= 0.2);
    }
}

#[test]
fn explain_shows_importances_and_one_accounts_contributions_adding_up_to_its_score() {
    let Trained { dir, model, artifact } = trained();
    let model = model.to_str().unwrap();
    let global = dir.pql_ok(&["explain", "--model", model]);
    assert!(
        global.contains("AUC drop ± std") && global.contains("coefficient ± se"),
        "{global}"
    );
    let features = artifact["features"].as_array().unwrap();
    for feature in features {
        assert!(global.contains(feature["name"].as_str().unwrap()));
    }

    dir.pql_ok(&score_args(model, "2025-04-14", "scores.csv", &[]));
    let scores = read(&dir.join("scores.csv"));
    let account = strings(&scores, "account_id")[0].clone().unwrap();
    let probability = floats(&scores, "probability")[0];
    // With -v, logs on stderr; the result on stdout is unchanged.
    let run = dir.pql(&[
        "-v",
        "explain",
        "--model",
        model,
        "--config",
        "data/pql.toml",
        "--account",
        &account,
        "--as-of",
        "2025-04-14",
    ]);
    assert!(run.status.success());
    let logs = String::from_utf8(run.stderr).unwrap();
    assert!(logs.contains("INFO") && logs.contains("inputs prepared"), "{logs}");
    let out = String::from_utf8(run.stdout).unwrap();
    assert!(
        out.contains(&format!(
            "account {account} as of 2025-04-14: probability {probability:.4}"
        )),
        "{out}"
    );
    // One line per feature after the header, and the reasons of the scores file among them.
    let lines: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("feature")).skip(1).collect();
    assert_eq!(lines.len(), features.len(), "{out}");
    let reason = strings(&scores, "reason_1")[0].clone().unwrap();
    assert!(out.contains(&reason), "{reason} not in {out}");
    // log-odds = baseline + contributions, and the sum of the listed contributions agrees.
    let total: f64 = lines
        .iter()
        .map(|l| l.split_whitespace().nth(2).unwrap().parse::<f64>().unwrap())
        .sum();
    let header = out.lines().nth(1).unwrap();
    let stated: f64 = header
        .split("contributions ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (total - stated).abs() < 1e-3 * features.len() as f64,
        "{total} vs {header}"
    );

    let err = dir.pql_err(&[
        "explain",
        "--model",
        model,
        "--config",
        "data/pql.toml",
        "--account",
        "nobody",
        "--as-of",
        "2025-04-14",
    ]);
    assert!(err.contains("account \"nobody\" has no row as of 2025-04-14"), "{err}");
}

#[test]
fn a_model_the_config_cannot_feed_is_refused_naming_the_features() {
    let Trained { dir, model, .. } = trained();
    let model = model.to_str().unwrap();
    let config = std::fs::read_to_string(dir.join("data/pql.toml")).unwrap();
    let changed = config
        .replace("limit = 50", "limit = 100")
        .replace("[[attributes]]\nname = \"company_size\"\nkind = \"numeric\"\n", "");
    assert_ne!(changed, config);
    std::fs::write(dir.join("data/other.toml"), changed).unwrap();
    let mut args = score_args(model, "2025-04-14", "scores.csv", &[]);
    args[2] = "data/other.toml";
    let err = dir.pql_err(&args);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("missing `company_size`, `company_size_missing`"), "{err}");
    assert!(
        err.contains("defined differently `limit_task_created_month_usage`"),
        "{err}"
    );
    assert!(!dir.join("scores.csv").exists());

    for (args, want) in [
        (vec!["--top", "lots"], "--top \"lots\": give a number of accounts"),
        (
            vec!["--threshold", "2"],
            "--threshold 2: a probability is between 0 and 1",
        ),
        (vec!["--previous", "missing.csv"], "missing.csv"),
    ] {
        let err = dir.pql_err(&score_args(model, "2025-04-14", "scores.csv", &args));
        assert!(err.contains(want), "{err}");
    }
    let err = dir.pql_err(&score_args(model, "2020-01-06", "scores.csv", &[]));
    assert!(err.contains("no eligible accounts as of 2020-01-06"), "{err}");
    assert!(!dir.join("scores.csv").exists());
    let err = dir.pql_err(&score_args("data", "2025-04-14", "scores.csv", &[]));
    assert!(err.contains("model.json"), "{err}");
}

#[test]
fn model_json_flipped_intercept_is_refused() {
    let Trained { dir, model, artifact } = trained();
    let id = artifact["model_id"].as_str().unwrap();
    let path = model.join("model.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let model = model.to_str().unwrap();
    let mut flipped = artifact.clone();
    let intercept = flipped["model"]["intercept"].as_f64().unwrap();
    flipped["model"]["intercept"] = (-intercept).into();
    std::fs::write(&path, serde_json::to_string_pretty(&flipped).unwrap()).unwrap();
    for args in [
        score_args(model, "2025-04-14", "scores.csv", &[]),
        vec!["explain", "--model", model],
    ] {
        let err = dir.pql_err(&args);
        assert!(
            err.contains(&format!("model.json: model_id {id} does not match its content (hash ")),
            "{err}"
        );
        assert!(err.contains("edited or damaged: retrain, or restore it"), "{err}");
    }
    assert!(!dir.join("scores.csv").exists());

    // Hashed again after losing a scale: the shape checks refuse it (explain used to panic on it).
    let mut short = artifact.clone();
    short["model"]["standardizer"]["scales"].as_array_mut().unwrap().pop();
    let mut short: pql_train::Artifact = serde_json::from_value(short).unwrap();
    short.model_id = short.content_id();
    std::fs::write(&path, serde_json::to_string_pretty(&short).unwrap()).unwrap();
    let n = artifact["features"].as_array().unwrap().len();
    let err = dir.pql_err(&[
        "explain",
        "--model",
        model,
        "--config",
        "data/pql.toml",
        "--account",
        "a",
        "--as-of",
        "2025-04-14",
    ]);
    assert!(
        err.contains(&format!(
            "model.json: model.standardizer.scales: {} values for {n} features",
            n - 1
        )),
        "{err}"
    );

    std::fs::write(&path, original).unwrap();
    dir.pql_ok(&score_args(model, "2025-04-14", "scores.csv", &[]));
}

#[test]
fn score_with_changed_event_roles_is_refused() {
    let Trained { dir, model, artifact } = trained();
    let id = artifact["model_id"].as_str().unwrap();
    let model = model.to_str().unwrap();
    let config = std::fs::read_to_string(dir.join("data/pql.toml")).unwrap();
    let key = "key = [\"dashboard_created\", \"integration_connected\", \"automation_created\"]";
    let ignore = "ignore = [\"notification_sent\"]";
    assert!(config.contains(key) && config.contains(ignore), "{config}");
    let changed = config
        .replace(
            key,
            "key = [\"dashboard_created\", \"integration_connected\", \"report_exported\"]",
        )
        .replace(ignore, "ignore = [\"notification_sent\", \"email_sent\"]");
    dir.write("data/changed.toml", &changed);
    let want = format!(
        "model {id} was trained with a different event configuration: events.key added `report_exported`, \
         removed `automation_created`; events.ignore added `email_sent`; retrain, or restore these roles in \
         pql.toml"
    );
    let on = |config: &'static str| -> Vec<Vec<&str>> {
        let mut score = score_args(model, "2025-04-14", "scores.csv", &[]);
        score[2] = config;
        vec![
            score,
            vec!["drift", "--model", model, "--config", config, "--as-of", "2025-04-14"],
            vec![
                "explain",
                "--model",
                model,
                "--config",
                config,
                "--account",
                "a",
                "--as-of",
                "2025-04-14",
            ],
            vec![
                "features",
                "--config",
                config,
                "--model",
                model,
                "--as-of",
                "2025-04-14",
                "--out",
                "f.parquet",
            ],
            vec![
                "sql",
                "--config",
                config,
                "--model",
                model,
                "--dialect",
                "duckdb",
                "--as-of",
                "2025-04-14",
            ],
        ]
    };
    for args in on("data/changed.toml") {
        let err = dir.pql_err(&args);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&want), "{args:?}: {err}");
    }
    assert!(!dir.join("scores.csv").exists() && !dir.join("f.parquet").exists());

    // The same roles in another order, and other drift thresholds, do not change what a feature means.
    let same = config.replace(
        key,
        "key = [\"automation_created\", \"dashboard_created\", \"integration_connected\"]",
    ) + "\n[drift]\nfeature_psi = 0.5\n";
    assert_ne!(same, config);
    dir.write("data/same.toml", &same);
    let mut args = score_args(model, "2025-04-14", "scores.csv", &[]);
    args[2] = "data/same.toml";
    dir.pql_ok(&args);
    dir.pql_ok(&score_args(model, "2025-04-14", "scores.csv", &[]));
}

#[test]
fn readme_main_job_quickstart_runs_the_pipeline_on_the_bundled_sample() {
    let dir = Dir::new();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/pql.toml");
    let out = dir.pql_ok(&["quickstart", "--out", "qs", "--config", sample.to_str().unwrap()]);
    for part in [
        "1/3 features",
        "2/3 training",
        "3/3 scoring",
        "model quality:",
        "top drivers:",
        "PQLs on",
    ] {
        assert!(out.contains(part), "missing {part:?} in\n{out}");
    }
    let scores = read(&dir.join("qs/scores.csv"));
    assert!(scores.height() > 1000);
    assert!(dir.join("qs/features.parquet").exists());
    let mut names: Vec<String> = std::fs::read_dir(dir.join("qs/models"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(
        names.len() == 3 && names[0] == ".registry.lock" && names[2] == "registry.json",
        "the lock, a model and the registry: {names:?}"
    );
    let quiet = dir.pql(&[
        "--quiet",
        "quickstart",
        "--out",
        "qs2",
        "--config",
        sample.to_str().unwrap(),
    ]);
    assert!(quiet.status.success());
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty(), "{quiet:?}");
}

#[test]
fn training_registers_models_and_the_champion_scores() {
    let Trained { dir, artifact, .. } = trained();
    let first = artifact["model_id"].as_str().unwrap().to_string();
    train_on_table(&dir, "boosted");
    let listed = dir.pql_ok(&["models", "--models", "models"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(
        lines[1].starts_with(&first) && lines[1].contains("champion"),
        "{listed}"
    );
    assert!(
        lines[2].contains("candidate") && lines[2].contains("boosted"),
        "{listed}"
    );
    dir.pql_ok(&score_args("models/champion", "2025-04-14", "champion.csv", &[]));
    let scores = read(&dir.join("champion.csv"));
    assert!(strings(&scores, "model_id")
        .iter()
        .all(|m| m.as_deref() == Some(first.as_str())));
    let err = dir.pql_err(&score_args("elsewhere/champion", "2025-04-14", "x.csv", &[]));
    assert!(err.contains("no champion model yet"), "{err}");
}

#[test]
fn drift_is_flagged_when_usage_doubles_and_not_on_the_training_population() {
    let Trained { dir, model, artifact } = trained();
    let model = model.to_str().unwrap();
    let latest = artifact["training"]["window"]["last"].as_str().unwrap().to_string();
    // The latest training snapshot itself: nothing has moved.
    let run = dir.pql(&score_args(model, &latest, "same.csv", &[]));
    assert!(run.status.success());
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(!stderr.contains("drift"), "{stderr}");
    let table = dir.pql_ok(&[
        "drift",
        "--model",
        model,
        "--config",
        "data/pql.toml",
        "--as-of",
        &latest,
    ]);
    assert!(!table.contains("WARN"), "{table}");

    double_every_event(&dir);
    let mut args = score_args(model, &latest, "doubled.csv", &[]);
    args[2] = "doubled/pql.toml";
    let run = dir.pql(&args);
    assert!(run.status.success());
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(stderr.contains("WARN drift: `events`"), "{stderr}");
    let table = dir.pql_ok(&[
        "drift",
        "--model",
        model,
        "--config",
        "doubled/pql.toml",
        "--as-of",
        &latest,
    ]);
    let events_line = table.lines().find(|l| l.starts_with("events ")).unwrap();
    assert!(events_line.ends_with("WARN"), "{table}");
    args.insert(0, "--quiet");
    let quiet = dir.pql(&args);
    assert!(quiet.stderr.is_empty(), "--quiet hides warnings too");
}

/// `doubled/`: the generated data with every event happening twice, a second apart (usage counts double,
/// as if the product changed).
fn double_every_event(dir: &Dir) {
    std::fs::create_dir_all(dir.join("doubled")).unwrap();
    for file in ["accounts.parquet", "conversions.parquet", "pql.toml"] {
        std::fs::copy(dir.join("data").join(file), dir.join("doubled").join(file)).unwrap();
    }
    let events = read(&dir.join("data/events.parquet"));
    let again = events
        .clone()
        .lazy()
        .with_column(col("timestamp") + lit(Duration::parse("1s")))
        .collect()
        .unwrap();
    let mut doubled = events.vstack(&again).unwrap();
    ParquetWriter::new(File::create(dir.join("doubled/events.parquet")).unwrap())
        .finish(&mut doubled)
        .unwrap();
}
