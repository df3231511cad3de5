//! The analyst notebooks run headless (`jupyter-execute`) against fresh outputs of the bundled sample, in a
//! Python environment the test creates from `notebooks/requirements.txt` on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::Dir;

/// The Python environment of the notebooks: `target/tmp/notebook-venv`, (re)built when missing or when the
/// requirements changed since it was built.
fn notebook_environment() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let requirements = std::fs::read_to_string(root.join("notebooks/requirements.txt")).unwrap();
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("notebook-venv");
    let stamp = venv.join("installed-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str()) {
        return venv;
    }
    let run = |command: &mut Command, what: &str| {
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("{what}: {e} (the notebook test needs python3)"));
        assert!(
            out.status.success(),
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let _ = std::fs::remove_dir_all(&venv);
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    );
    run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(root.join("notebooks/requirements.txt")),
        "pip install -r notebooks/requirements.txt",
    );
    std::fs::write(&stamp, requirements).unwrap();
    venv
}

#[test]
fn the_explore_model_notebook_runs_on_the_sample_outputs() {
    let dir = Dir::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = root.join("data/sample/pql.toml");
    let sample = sample.to_str().unwrap();
    dir.pql_ok(&["quickstart", "--out", "qs", "--config", sample]);
    dir.pql_ok(&[
        "train",
        "--config",
        sample,
        "--model",
        "boosted",
        "--backtest",
        "4",
        "--out",
        "qs/models",
    ]);
    let venv = notebook_environment();
    // Executed in place on a copy, so the repository's notebook keeps no outputs.
    let notebook = dir.join("executed.ipynb");
    std::fs::copy(root.join("notebooks/explore_model.ipynb"), &notebook).unwrap();
    let out = Command::new(venv.join("bin/jupyter-execute"))
        .arg("--inplace")
        .arg(&notebook)
        .env("PQL_OUTPUTS", dir.join("qs"))
        .env("PQL_DATA", root.join("data/sample"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the notebook failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every code cell ran, the charts were drawn, and the comparison found the second model.
    let executed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("executed.ipynb")).unwrap()).unwrap();
    let cells = executed["cells"].as_array().unwrap();
    let outputs: Vec<&serde_json::Value> = cells
        .iter()
        .filter(|c| c["cell_type"] == "code")
        .flat_map(|c| c["outputs"].as_array().unwrap())
        .collect();
    assert!(outputs.iter().all(|o| o["output_type"] != "error"));
    let images = outputs.iter().filter(|o| o["data"]["image/png"].is_string()).count();
    assert_eq!(images, 4, "importances, scores, industry and backtest charts");
    let text = serde_json::to_string(&outputs).unwrap();
    assert!(
        text.contains("Spearman correlation of the importance ranks"),
        "two models compared"
    );
}
