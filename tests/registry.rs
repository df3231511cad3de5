//! Runs writing into one models folder at once: `pql train` four at a time registers every model and makes
//! exactly one champion, a retrain whose champion changed meanwhile promotes nothing, and the registry and
//! model files get the modes of any new file.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::util::{registry, Dir};

/// A generated history `data/` and its weekly features `features.parquet`.
fn history() -> Dir {
    let dir = Dir::new();
    dir.pql_ok(&[
        "generate",
        "--accounts",
        "1500",
        "--seed",
        "5",
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
    dir
}

/// `pql train` on the features into `models/` with `seed` (each seed gives another model id).
fn train_args(seed: &str) -> Vec<&str> {
    vec![
        "train",
        "--config",
        "data/pql.toml",
        "--features",
        "features.parquet",
        "--model",
        "logistic",
        "--backtest",
        "0",
        "--seed",
        seed,
        "--out",
        "models",
    ]
}

fn ids_with_status(registry: &serde_json::Value, status: &str) -> Vec<String> {
    let models = registry["models"].as_array().unwrap();
    models
        .iter()
        .filter(|e| e["status"] == status)
        .map(|e| e["model_id"].as_str().unwrap().to_string())
        .collect()
}

/// The `model <id> (` of `pql train`'s last line.
fn trained_id(stdout: &str) -> String {
    let line = stdout.lines().rfind(|l| l.starts_with("model ")).unwrap();
    line["model ".len()..].split(' ').next().unwrap().to_string()
}

#[test]
fn registry_lock_four_parallel_trains() {
    let dir = history();
    let children: Vec<_> = ["1", "2", "3", "4"]
        .map(|seed| {
            Command::new(env!("CARGO_BIN_EXE_pql"))
                .args(train_args(seed))
                .current_dir(dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .into_iter()
        .collect();
    let outputs: Vec<String> = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "a parallel train failed:\n{stderr}");
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    let mut trained: Vec<String> = outputs.iter().map(|out| trained_id(out)).collect();
    let champions: Vec<&String> = outputs
        .iter()
        .filter(|out| out.contains("registered as the folder's champion"))
        .collect();
    assert_eq!(
        champions.len(),
        1,
        "exactly one run made the first champion: {outputs:#?}"
    );

    let registry = registry(&dir, "models");
    let mut listed: Vec<String> = registry["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["model_id"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    trained.sort();
    trained.dedup();
    assert_eq!(trained.len(), 4, "four seeds, four models: {trained:?}");
    assert_eq!(listed, trained, "every model is registered, once");
    let champion = registry["champion"].as_str().unwrap();
    assert_eq!(ids_with_status(&registry, "champion"), [champion]);
    assert_eq!(ids_with_status(&registry, "candidate").len(), 3);
    assert_eq!(trained_id(champions[0]), champion);

    // The registry and the model directories are readable like any new file and folder (tempfile's
    // owner-only 0600 and 0700 would hide them from the team's scoring job).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        std::fs::write(dir.join("any-file"), "").unwrap();
        std::fs::create_dir(dir.join("any-folder")).unwrap();
        let (file, folder) = (mode(&dir.join("any-file")), mode(&dir.join("any-folder")));
        assert_eq!(mode(&dir.join("models/registry.json")), file);
        let model = dir.join("models").join(champion);
        assert_eq!(mode(&model), folder);
        for name in ["model.json", "metrics.json", "importances.csv"] {
            assert_eq!(mode(&model.join(name)), file, "{name}");
        }
    }
}

#[test]
fn a_retrain_whose_champion_changed_during_the_run_promotes_nothing() {
    let dir = history();
    let first = trained_id(&dir.pql_ok(&train_args("1")));
    let second = trained_id(&dir.pql_ok(&train_args("2")));
    assert_eq!(registry(&dir, "models")["champion"], first.as_str());

    // Hold the folder's lock as another writer would, so the retrain (which has read the champion `first`)
    // stops at registering its challenger and says that it waits.
    let lock = std::fs::File::options()
        .write(true)
        .open(dir.join("models/.registry.lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pql"))
        .args([
            "retrain",
            "--config",
            "data/pql.toml",
            "--models",
            "models",
            "--model",
            "logistic",
            "--backtest",
            "0",
            "--seed",
            "3",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut before = Vec::new();
    let waiting = loop {
        match stderr.next() {
            Some(line) if line.as_ref().unwrap().contains("waiting for") => break line.unwrap(),
            Some(line) => before.push(line.unwrap()),
            None => panic!("the retrain ended without waiting for the lock:\n{}", before.join("\n")),
        }
    };
    assert!(
        waiting.contains("models/.registry.lock: another pql run is changing the registry of models"),
        "{waiting}"
    );
    let rest = std::thread::spawn(move || stderr.map(Result::unwrap).collect::<Vec<_>>());

    // Meanwhile the other writer names `second` the champion, then releases the lock.
    let path = dir.join("models/registry.json");
    let changed = std::fs::read_to_string(&path).unwrap().replace(
        &format!("\"champion\": \"{first}\""),
        &format!("\"champion\": \"{second}\""),
    );
    std::fs::write(&path, changed).unwrap();
    drop(lock);

    let out = child.wait_with_output().unwrap();
    let stderr = rest.join().unwrap().join("\n");
    assert!(out.status.success(), "retrain failed:\n{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let note = format!("not promoted: the champion changed from {first} to {second} during this run; rerun to compare");
    assert!(stdout.contains(&note), "{stdout}");
    let registry = registry(&dir, "models");
    assert_eq!(registry["champion"], second.as_str());
    let challenger = registry["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["model_id"] != first.as_str() && e["model_id"] != second.as_str())
        .expect("the challenger is registered");
    assert_eq!(challenger["status"], "candidate");
    assert_eq!(challenger["note"], note.as_str());
}
