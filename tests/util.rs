//! Helpers to run the `pql` binary in a temporary folder and inspect what it did.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary working folder that runs `pql` commands.
pub struct Dir {
    root: tempfile::TempDir,
}

impl Dir {
    /// A fresh, empty folder.
    pub fn new() -> Dir {
        Dir {
            root: tempfile::tempdir().expect("create temporary folder"),
        }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// A path inside the folder.
    pub fn join(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Writes a file inside the folder.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent folder");
        }
        std::fs::write(&path, contents).expect("write fixture");
        path
    }

    /// Runs `pql` with `args` in the folder.
    pub fn pql(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pql"))
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("run pql")
    }

    /// Runs `pql` and asserts it succeeds; returns its stdout.
    pub fn pql_ok(&self, args: &[&str]) -> String {
        let out = self.pql(args);
        assert!(
            out.status.success(),
            "pql {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs `pql`, asserts it fails with exit code 1 and ends with an `error: ` message (after any progress
    /// lines); returns stderr.
    pub fn pql_err(&self, args: &[&str]) -> String {
        let out = self.pql(args);
        assert_eq!(out.status.code(), Some(1), "pql {args:?} should fail");
        let stderr = String::from_utf8(out.stderr).expect("utf-8 output");
        assert!(
            stderr.starts_with("error: ") || stderr.contains("\nerror: "),
            "{stderr}"
        );
        stderr
    }
}

/// A Python environment `target/tmp/<name>` with `requirements` installed, (re)built when missing or when the
/// requirements changed since it was built. Needs `python3` with `venv` and the package index.
pub fn python_environment(name: &str, requirements: &Path) -> PathBuf {
    // Tests run in parallel threads: the first builds the environment while the others wait for it.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _building = BUILDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let wanted = std::fs::read_to_string(requirements).unwrap();
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let stamp = venv.join("installed-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return venv;
    }
    let run = |command: &mut Command, what: &str| {
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("{what}: {e} (this test needs python3)"));
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
            .arg(requirements),
        &format!("pip install -r {}", requirements.display()),
    );
    std::fs::write(&stamp, wanted).unwrap();
    venv
}

/// The input report stored in a Parquet feature table's footer.
pub fn input_report(path: &Path) -> serde_json::Value {
    use polars::prelude::SerReader;
    let file = std::fs::File::open(path).expect("open the feature table");
    let metadata = polars::prelude::ParquetReader::new(file)
        .get_metadata()
        .unwrap()
        .clone();
    let value = metadata
        .key_value_metadata
        .iter()
        .flatten()
        .find(|kv| kv.key == pql_features::INPUT_REPORT_KEY)
        .and_then(|kv| kv.value.clone())
        .expect("an input report in the footer");
    serde_json::from_str(&value).unwrap()
}

/// A Parquet or CSV file (by extension) as a frame; CSV types are inferred from every row.
pub fn read(path: &Path) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => ParquetReader::new(std::fs::File::open(path).expect("open"))
            .finish()
            .unwrap(),
        _ => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(None)
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .unwrap()
            .finish()
            .unwrap(),
    }
}

/// A column as text.
pub fn strings(frame: &polars::prelude::DataFrame, name: &str) -> Vec<Option<String>> {
    let column = frame
        .column(name)
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    column.str().unwrap().iter().map(|s| s.map(str::to_string)).collect()
}

/// A column as numbers, nulls as `None`.
pub fn optional_floats(frame: &polars::prelude::DataFrame, name: &str) -> Vec<Option<f64>> {
    let column = frame
        .column(name)
        .unwrap()
        .cast(&polars::prelude::DataType::Float64)
        .unwrap();
    column.f64().unwrap().iter().collect()
}

/// A column of numbers without nulls.
pub fn floats(frame: &polars::prelude::DataFrame, name: &str) -> Vec<f64> {
    let values = optional_floats(frame, name);
    values
        .into_iter()
        .map(|v| v.unwrap_or_else(|| panic!("a null in `{name}`")))
        .collect()
}

/// The model registry of `folder` (in the folder `dir`), as JSON.
pub fn registry(dir: &Dir, folder: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(folder).join("registry.json")).expect("a registry");
    serde_json::from_str(&text).unwrap()
}
