//! The analyst notebooks run headless (`jupyter-execute`) against fresh outputs of the bundled sample, in a
//! Python environment the test creates from `notebooks/requirements.txt` on first use.

use std::path::Path;
use std::process::Command;

use crate::util::{python_environment, Dir};

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
    let venv = python_environment("notebook-venv", &root.join("notebooks/requirements.txt"));
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
