//! Typed errors of the data contract. Every message names the file and, where it applies, the config key,
//! the column, the row and the offending value, so a user can fix the input without a debugger.

use std::path::PathBuf;

use thiserror::Error;

/// A `pql.toml` that cannot be read or does not make sense.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema (unknown key, wrong type, missing key).
    #[error("{path}: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The parser's message, which names the key and line.
        message: String,
    },
    /// A value is well-formed but not acceptable.
    #[error("{path}: `{key}` {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The dotted key, e.g. `limits[0].period`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// An input table that cannot be read into the data contract.
#[derive(Debug, Error)]
pub enum InputError {
    /// A file or folder could not be opened or listed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A folder holds no data file.
    #[error("{path}: no .parquet, .csv or .ndjson files in this folder")]
    NoFiles {
        /// The folder.
        path: PathBuf,
    },
    /// A file's extension names no supported format.
    #[error("{path}: unknown file format (expected .parquet, .csv, .ndjson or .jsonl)")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The reader failed on the file as a whole (corrupt Parquet, malformed CSV or JSON).
    #[error("{path}: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The reader's message.
        message: String,
    },
    /// A record of a text file is malformed (ragged CSV row, unclosed quote, bad UTF-8, bad JSON line).
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Which row or line, and what is wrong with it.
        message: String,
    },
    /// A required column is absent.
    #[error("{path}: missing column `{column}` (named by {key} in the config); columns found: {found}")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The config key that names the column, e.g. `[columns.events] timestamp`.
        key: String,
        /// The source column name that was looked for.
        column: String,
        /// The columns the file has, comma-separated.
        found: String,
    },
    /// A column has a type that cannot hold the contract column.
    #[error("{path}: column `{column}` has type {dtype}, expected {expected}")]
    BadType {
        /// The file.
        path: PathBuf,
        /// The source column.
        column: String,
        /// The type found.
        dtype: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A value cannot be parsed.
    #[error("{path}: column `{column}`, row {row}: cannot read {value:?} as {expected}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The source column.
        column: String,
        /// 1-based data row (the header is not counted).
        row: usize,
        /// The offending text.
        value: String,
        /// What was expected, with an example.
        expected: &'static str,
    },
    /// A time outside what pql represents (years 1 to 9999).
    #[error(
        "{path}: column `{column}`{}: the time {value} is outside years 1 to 9999, which pql (like Spark and most \
         warehouses) cannot represent",
        .row.map(|r| format!(", row {r}")).unwrap_or_default()
    )]
    OutOfRange {
        /// The file (or folder, when the row is not known).
        path: PathBuf,
        /// The source column.
        column: String,
        /// 1-based data row, when known.
        row: Option<usize>,
        /// The time, as far as it can be written.
        value: String,
    },
    /// A required value is missing.
    #[error("{path}: column `{column}`, row {row}: value is missing but required")]
    MissingValue {
        /// The file.
        path: PathBuf,
        /// The source column.
        column: String,
        /// 1-based data row (the header is not counted).
        row: usize,
    },
    /// An account appears twice in the accounts table.
    #[error(
        "{path}: column `{column}`, row {row}: account {account_id:?} appears more than once in the accounts table"
    )]
    DuplicateAccount {
        /// The file.
        path: PathBuf,
        /// The source column.
        column: String,
        /// 1-based data row of the repeat.
        row: usize,
        /// The repeated id.
        account_id: String,
    },
    /// A Parquet page does not match the checksum its header carries: the file was damaged after it was
    /// written.
    #[error(
        "{path}: column `{column}`, row group {row_group}, page {page}: checksum mismatch (the file is damaged; \
         re-export it)"
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The column (a dotted path for a nested column).
        column: String,
        /// The row group, counted from 0.
        row_group: usize,
        /// The page within the column chunk, counted from 0 in file order (a dictionary page included).
        page: usize,
    },
}

/// A failure while writing an output file.
#[derive(Debug, Error)]
pub enum OutputError {
    /// The file could not be created, written or moved into place.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The destination.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The encoder failed.
    #[error("cannot write {path}: {message}")]
    Encode {
        /// The destination.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
}
