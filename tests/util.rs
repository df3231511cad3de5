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
