//! Reading the three input tables into the data contract.
//!
//! Each table is a file or a folder of files (Parquet, CSV or NDJSON, chosen by extension; in a folder,
//! names starting with `.` or `_`, such as Spark's `_SUCCESS`, are skipped). Every file is read on its own,
//! its mapped columns are converted to the contract types, and the files are stacked in name order.
//! Conversions are strict: a value that cannot be read fails with the file, column, 1-based data row and
//! the value itself; nothing is dropped. A Parquet file's page checksums, where it carries them, are
//! verified before it is read: a damaged page is refused, naming its column, row group and page.
//!
//! Contract types after reading:
//! - events: `account_id` str, `user_id` str (null when empty), `event` str, `timestamp` datetime[μs], and
//!   `value` f64 (null when empty) when mapped;
//! - accounts: `account_id` str (unique), `signup_at` datetime[μs], `plan` str (null when absent), then
//!   each declared attribute (numeric as f64, categorical as str, null when empty);
//! - conversions: `account_id` str, `converted_at` datetime[μs].
//!
//! All datetimes are UTC instants stored without a zone, in microseconds. Typed columns may be Parquet (or
//! Arrow) timestamps of any unit (s, ms, μs, ns; nanoseconds are floored to the microsecond), zone-less
//! (taken as UTC) or in any zone, or dates (midnight UTC). Text timestamps may be RFC 3339
//! (`2025-01-06T09:30:00Z`, any offset), a zone-less date-time taken as UTC (`2025-01-06 09:30:00`), or a
//! date taken as midnight UTC (`2025-01-06`). Any time from year 1 to year 9999 is accepted (the range of
//! Spark's and most warehouses' timestamps); a time outside it is an error, not a dropped row.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use polars::prelude::*;

use crate::config::{AttributeKind, Config};
use crate::error::InputError;

/// The three input tables, read and checked.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Events, in the contract's column names and types.
    pub events: DataFrame,
    /// Accounts, one row per account.
    pub accounts: DataFrame,
    /// Conversions, as recorded (an account may appear more than once).
    pub conversions: DataFrame,
}

impl Dataset {
    /// Reads all three tables named by the config.
    pub fn read(config: &Config) -> Result<Dataset, InputError> {
        Ok(Dataset {
            events: read_events(config)?,
            accounts: read_accounts(config)?,
            conversions: read_conversions(config)?,
        })
    }
}

/// How one contract column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Non-empty text; integers are accepted and written as text.
    Id,
    /// Text; empty becomes null.
    OptionalText,
    /// A required UTC timestamp.
    Timestamp,
    /// A number; empty becomes null.
    Number,
}

/// One column of a table: its output name, its source name, the config key that maps it, how it is read,
/// and whether a file may lack it.
#[derive(Debug, Clone)]
struct ColumnSpec {
    name: String,
    source: String,
    key: String,
    kind: Kind,
    optional: bool,
}

impl ColumnSpec {
    fn required(table: &str, contract: &str, source: &str, kind: Kind) -> Self {
        Self {
            name: contract.to_string(),
            source: source.to_string(),
            key: format!("[columns.{table}] {contract}"),
            kind,
            optional: false,
        }
    }
}

/// The columns of the events table.
fn event_specs(config: &Config) -> Vec<ColumnSpec> {
    const TABLE: &str = "events";
    let c = &config.columns.events;
    let mut specs = vec![
        ColumnSpec::required(TABLE, "account_id", &c.account_id, Kind::Id),
        ColumnSpec::required(TABLE, "user_id", &c.user_id, Kind::OptionalText),
        ColumnSpec::required(TABLE, "event", &c.event, Kind::Id),
        ColumnSpec::required(TABLE, "timestamp", &c.timestamp, Kind::Timestamp),
    ];
    if let Some(value) = &c.value {
        specs.push(ColumnSpec::required(TABLE, "value", value, Kind::Number));
    }
    specs
}

/// Reads the events table: `account_id`, `user_id`, `event`, `timestamp`, and `value` (f64, null when
/// empty) when `[columns.events] value` maps it.
pub fn read_events(config: &Config) -> Result<DataFrame, InputError> {
    let specs = event_specs(config);
    read_table(&config.inputs.events, &specs, |_, _| Ok(()))
}

/// Scans the events table lazily, in the contract's names and types, for pipelines that stream over large
/// histories. Parquet files with typed columns and CSV files are scanned without loading them (CSV values
/// are converted chunk by chunk with the checks of [`read_events`]); NDJSON files and Parquet files with
/// text timestamps are read and checked eagerly first, exactly as [`read_events`] does. Unlike
/// [`read_events`], a missing required value in Parquet is left as null for the caller to count. A scan that
/// fails on a bad CSV value names no row: [`unreadable_event_file`] finds it.
pub fn scan_events(config: &Config) -> Result<LazyFrame, InputError> {
    let specs = event_specs(config);
    let mut frames = Vec::new();
    for file in data_files(&config.inputs.events)? {
        let lazy = match Format::of(&file) {
            Some(Format::Parquet) => scan_parquet(&file, &specs)?,
            Some(Format::Csv) => Some(scan_csv(&file, &specs)?),
            _ => None,
        };
        frames.push(match lazy {
            Some(lazy) => lazy,
            None => read_file(&file, &specs)?.lazy(),
        });
    }
    concat(frames, UnionArgs::default()).map_err(|e| unreadable(&config.inputs.events, e))
}

/// The error of the first events file that cannot be read whole, naming that file (and, in a CSV file, the
/// row and value): for when a scan fails (polars' message names no file). Every value of the mapped columns
/// is decoded, so this reads the files through, in bounded memory; `None` when each reads on its own.
pub fn unreadable_event_file(config: &Config) -> Option<InputError> {
    let specs = event_specs(config);
    for file in data_files(&config.inputs.events).ok()? {
        let scan = match Format::of(&file) {
            Some(Format::Parquet) => match scan_parquet(&file, &specs) {
                Ok(Some(scan)) => scan,
                Ok(None) => continue, // read eagerly, with its own errors
                Err(err) => return Some(err),
            },
            Some(Format::Csv) => match csv_error(&file, &specs) {
                Some(err) => return Some(err),
                None => continue,
            },
            _ => continue,
        };
        let every_value: Vec<Expr> = specs.iter().map(|s| col(s.name.as_str()).max()).collect();
        if let Err(err) = scan.select(every_value).collect_with_engine(Engine::Streaming) {
            return Some(unreadable(&file, err));
        }
    }
    None
}

/// A lazy scan of a Parquet file converted to the contract, or `None` when its columns need the eager,
/// checked conversion (text timestamps, unusual types).
fn scan_parquet(path: &Path, specs: &[ColumnSpec]) -> Result<Option<LazyFrame>, InputError> {
    let file = File::open(path).map_err(|source| InputError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let schema = ParquetReader::new(file).schema().map_err(|e| unreadable(path, e))?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    check_present(path, specs, &names)?;
    let schema = Schema::from_arrow_schema(&schema);
    let mut exprs = Vec::with_capacity(specs.len());
    for spec in specs {
        let dtype = schema.get(spec.source.as_str()).cloned().unwrap_or(DataType::Null);
        let source = col(spec.source.as_str());
        let expr = match (spec.kind, &dtype) {
            (Kind::Id, DataType::String) => source,
            (Kind::Id, d) if d.is_integer() => source.cast(DataType::String),
            (Kind::OptionalText, DataType::String) => when(source.clone().eq(lit("")))
                .then(lit(NULL).cast(DataType::String))
                .otherwise(source),
            (Kind::OptionalText, d) if d.is_integer() => source.cast(DataType::String),
            (Kind::OptionalText, DataType::Null) => source.cast(DataType::String),
            (Kind::Timestamp, DataType::Datetime(unit, _)) => {
                let micros = source.to_physical();
                let micros = match unit {
                    // Floor division (as the eager path's `div_euclid`), from `/`, which truncates.
                    TimeUnit::Nanoseconds => when(micros.clone().gt_eq(lit(0i64)))
                        .then(micros.clone() / lit(1_000i64))
                        .otherwise((micros - lit(999i64)) / lit(1_000i64)),
                    TimeUnit::Microseconds => micros,
                    TimeUnit::Milliseconds => micros * lit(1_000i64),
                };
                micros.cast(DataType::Datetime(TimeUnit::Microseconds, None))
            }
            (Kind::Timestamp, DataType::Date) => (source.to_physical().cast(DataType::Int64) * lit(86_400_000_000i64))
                .cast(DataType::Datetime(TimeUnit::Microseconds, None)),
            // NaN and infinities are missing values, not numbers (as the eager path).
            (Kind::Number, d) if d.is_primitive_numeric() => {
                let number = source.cast(DataType::Float64);
                when(number.clone().is_finite())
                    .then(number)
                    .otherwise(lit(NULL).cast(DataType::Float64))
            }
            _ => return Ok(None),
        };
        exprs.push(expr.alias(spec.name.as_str()));
    }
    crate::parquet_check::verify(path)?;
    let path_ref = PlRefPath::try_from_path(path).map_err(|e| unreadable(path, e))?;
    let scan = LazyFrame::scan_parquet(path_ref, ScanArgsParquet::default()).map_err(|e| unreadable(path, e))?;
    Ok(Some(scan.select(exprs)))
}

/// A lazy scan of a CSV file converted to the contract: the file is read as text in chunks and each
/// chunk's values are converted by [`convert`], so a bad value fails the scan (see [`csv_error`]).
fn scan_csv(path: &Path, specs: &[ColumnSpec]) -> Result<LazyFrame, InputError> {
    let mut text = csv_text(path)?;
    let schema = text.collect_schema().map_err(|e| csv_unreadable(path, e))?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    check_present(path, specs, &names)?;
    let exprs: Vec<Expr> = specs
        .iter()
        .map(|spec| {
            let name = spec.name.as_str();
            if !names.contains(&spec.source) {
                return lit(NULL).cast(contract_dtype(spec.kind)).alias(name);
            }
            let (path, spec) = (path.to_path_buf(), spec.clone());
            let dtype = contract_dtype(spec.kind);
            col(spec.source.as_str())
                .map(
                    move |column| match convert(&path, &spec, column.as_materialized_series(), 0) {
                        Ok(series) => Ok(series.into_column()),
                        Err(err) => Err(polars_err!(ComputeError: "{err}")),
                    },
                    move |_, field| Ok(Field::new(field.name().clone(), dtype.clone())),
                )
                .alias(name)
        })
        .collect();
    Ok(text.select(exprs))
}

/// A CSV file's columns as text, scanned lazily.
fn csv_text(path: &Path) -> Result<LazyFrame, InputError> {
    let path_ref = PlRefPath::try_from_path(path).map_err(|e| unreadable(path, e))?;
    LazyCsvReader::new(path_ref)
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .finish()
        .map_err(|e| csv_unreadable(path, e))
}

/// The error of a CSV file polars could not read: its first malformed record, else polars' message.
fn csv_unreadable(path: &Path, err: PolarsError) -> InputError {
    malformed_csv(path).unwrap_or_else(|| unreadable(path, err))
}

/// The first error of a CSV file's mapped columns, naming the data row and value: the file is streamed in
/// chunks and each is converted as [`scan_csv`] does, counting rows. `None` when the file reads.
fn csv_error(path: &Path, specs: &[ColumnSpec]) -> Option<InputError> {
    let mut text = match csv_text(path) {
        Ok(text) => text,
        Err(err) => return Some(err),
    };
    let names: Vec<String> = match text.collect_schema() {
        Ok(schema) => schema.iter_names().map(|n| n.to_string()).collect(),
        Err(err) => return Some(csv_unreadable(path, err)),
    };
    if let Err(err) = check_present(path, specs, &names) {
        return Some(err);
    }
    let present: Vec<&ColumnSpec> = specs.iter().filter(|s| names.contains(&s.source)).collect();
    let columns: Vec<Expr> = present.iter().map(|s| col(s.source.as_str())).collect();
    let batches = match text
        .select(columns)
        .collect_batches(Engine::Streaming, true, None, false)
    {
        Ok(batches) => batches,
        Err(err) => return Some(csv_unreadable(path, err)),
    };
    let mut first_row = 0;
    for batch in batches {
        let batch = match batch {
            Ok(batch) => batch,
            Err(err) => return Some(csv_unreadable(path, err)),
        };
        for spec in &present {
            let column = batch.column(&spec.source).expect("selected");
            if let Err(err) = convert(path, spec, column.as_materialized_series(), first_row) {
                return Some(err);
            }
        }
        first_row += batch.height();
    }
    None
}

/// The contract type a column of this kind is converted to.
fn contract_dtype(kind: Kind) -> DataType {
    match kind {
        Kind::Id | Kind::OptionalText => DataType::String,
        Kind::Timestamp => DataType::Datetime(TimeUnit::Microseconds, None),
        Kind::Number => DataType::Float64,
    }
}

/// Reads the accounts table: `account_id`, `signup_at`, `plan`, then the declared attributes in order.
/// An account id that appears twice is an error.
pub fn read_accounts(config: &Config) -> Result<DataFrame, InputError> {
    const TABLE: &str = "accounts";
    let c = &config.columns.accounts;
    let mut specs = vec![
        ColumnSpec::required(TABLE, "account_id", &c.account_id, Kind::Id),
        ColumnSpec::required(TABLE, "signup_at", &c.signup_at, Kind::Timestamp),
        ColumnSpec {
            optional: true,
            ..ColumnSpec::required(TABLE, "plan", &c.plan, Kind::OptionalText)
        },
    ];
    for (i, attribute) in config.attributes.iter().enumerate() {
        specs.push(ColumnSpec {
            name: attribute.name.clone(),
            source: attribute.name.clone(),
            key: format!("attributes[{i}].name"),
            kind: match attribute.kind {
                AttributeKind::Numeric => Kind::Number,
                AttributeKind::Categorical => Kind::OptionalText,
            },
            optional: false,
        });
    }
    let mut seen = HashSet::new();
    read_table(&config.inputs.accounts, &specs, |path, frame| {
        let ids = frame
            .column("account_id")
            .and_then(|c| c.str())
            .map_err(|e| InputError::Unreadable {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        for (i, id) in ids.iter().enumerate() {
            let id = id.unwrap_or_default();
            if !seen.insert(id.to_string()) {
                return Err(InputError::DuplicateAccount {
                    path: path.to_path_buf(),
                    column: c.account_id.clone(),
                    row: i + 1,
                    account_id: id.to_string(),
                });
            }
        }
        Ok(())
    })
}

/// Reads the conversions table: `account_id`, `converted_at`.
pub fn read_conversions(config: &Config) -> Result<DataFrame, InputError> {
    const TABLE: &str = "conversions";
    let c = &config.columns.conversions;
    let specs = [
        ColumnSpec::required(TABLE, "account_id", &c.account_id, Kind::Id),
        ColumnSpec::required(TABLE, "converted_at", &c.converted_at, Kind::Timestamp),
    ];
    read_table(&config.inputs.conversions, &specs, |_, _| Ok(()))
}

/// The data files a table's path names: the file itself, or a folder's data files in name order.
pub fn data_files(path: &Path) -> Result<Vec<PathBuf>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let file = entry.map_err(io)?.path();
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') || name.starts_with('_') || file.is_dir() {
            continue;
        }
        if Format::of(&file).is_none() {
            return Err(InputError::UnknownFormat { path: file });
        }
        files.push(file);
    }
    if files.is_empty() {
        return Err(InputError::NoFiles {
            path: path.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

/// A supported file format, from the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.parquet` or `.pq`
    Parquet,
    /// `.csv`
    Csv,
    /// `.ndjson`, `.jsonl` or `.json` (one object per line)
    Ndjson,
}

impl Format {
    /// The format a path's extension names, if any.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" | "pq" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            _ => None,
        }
    }
}

/// Reads every file of a table, converts each to the contract and stacks them.
fn read_table(
    path: &Path,
    specs: &[ColumnSpec],
    mut check: impl FnMut(&Path, &DataFrame) -> Result<(), InputError>,
) -> Result<DataFrame, InputError> {
    let mut stacked: Option<DataFrame> = None;
    for file in data_files(path)? {
        let frame = read_file(&file, specs)?;
        check(&file, &frame)?;
        match stacked.as_mut() {
            None => stacked = Some(frame),
            Some(all) => {
                all.vstack_mut_owned(frame).map_err(|e| unreadable(&file, e))?;
            }
        }
    }
    let mut frame = stacked.expect("data_files returns at least one file");
    frame.rechunk_mut_par();
    Ok(frame)
}

/// The reader's message, cut to its first line (polars appends plans and whole records).
pub(crate) fn unreadable(path: &Path, err: PolarsError) -> InputError {
    const LONGEST: usize = 300;
    let text = err.to_string();
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let message = match line.char_indices().nth(LONGEST) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    };
    InputError::Unreadable {
        path: path.to_path_buf(),
        message,
    }
}

/// The first malformed record of a CSV file polars could not read: a row with another number of fields
/// than the header (as an unterminated quote makes), or text that is not UTF-8. `None` when every record
/// is well-formed (the caller then reports polars' own message).
fn malformed_csv(path: &Path) -> Option<InputError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_path(path).ok()?;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(err) => {
                let row = err.position().map_or(0, |p| p.record() as usize);
                let message = match err.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => format!(
                        "row {row} has {len} fields where the header has {expected_len} (a stray comma, or a quote \
                         that is never closed)"
                    ),
                    csv::ErrorKind::Utf8 { .. } => {
                        format!("row {row} is not UTF-8 text (re-export the file as UTF-8)")
                    }
                    _ => format!("row {row}: {err}"),
                };
                return Some(InputError::Malformed {
                    path: path.to_path_buf(),
                    message,
                });
            }
        }
    }
}

/// The first line of an NDJSON file that is not a JSON object. `None` when every line is one.
fn malformed_ndjson(path: &Path) -> Option<InputError> {
    use std::io::BufRead;
    let reader = std::io::BufReader::new(File::open(path).ok()?);
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.ok()?;
        let problem = match std::str::from_utf8(&line) {
            Err(_) => Some("is not UTF-8 text".to_string()),
            Ok(text) if text.trim().is_empty() => None,
            Ok(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(_)) => None,
                Ok(_) => Some("is not a JSON object".to_string()),
                Err(e) => Some(format!("is not valid JSON ({e})")),
            },
        };
        if let Some(problem) = problem {
            return Some(InputError::Malformed {
                path: path.to_path_buf(),
                message: format!("line {} {problem}", i + 1),
            });
        }
    }
    None
}

/// Reads one file's mapped columns and converts them to the contract.
fn read_file(path: &Path, specs: &[ColumnSpec]) -> Result<DataFrame, InputError> {
    let format = Format::of(path).ok_or_else(|| InputError::UnknownFormat {
        path: path.to_path_buf(),
    })?;
    let raw = match format {
        Format::Parquet => {
            crate::parquet_check::verify(path)?;
            let file = File::open(path).map_err(|source| InputError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let mut reader = ParquetReader::new(file);
            let schema = reader.schema().map_err(|e| unreadable(path, e))?;
            let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
            let present = check_present(path, specs, &names)?;
            reader
                .with_columns(Some(present))
                .finish()
                .map_err(|e| unreadable(path, e))?
        }
        Format::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
            .map_err(|e| malformed_csv(path).unwrap_or_else(|| unreadable(path, e)))?,
        Format::Ndjson => {
            let file = File::open(path).map_err(|source| InputError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            JsonReader::new(file)
                .with_json_format(JsonFormat::JsonLines)
                .finish()
                .map_err(|e| malformed_ndjson(path).unwrap_or_else(|| unreadable(path, e)))?
        }
    };
    let names: Vec<String> = raw.get_column_names().iter().map(|n| n.to_string()).collect();
    check_present(path, specs, &names)?;
    let height = raw.height();
    let mut columns = Vec::with_capacity(specs.len());
    for spec in specs {
        let name = spec.name.as_str();
        let column = match raw.column(&spec.source) {
            Ok(column) => convert(path, spec, column.as_materialized_series(), 0)?,
            Err(_) => Series::full_null(name.into(), height, &DataType::String),
        };
        columns.push(column.with_name(name.into()).into_column());
    }
    DataFrame::new(height, columns).map_err(|e| unreadable(path, e))
}

/// Checks that every required source column exists; returns the source columns to read.
fn check_present(path: &Path, specs: &[ColumnSpec], names: &[String]) -> Result<Vec<String>, InputError> {
    let mut present = Vec::new();
    for spec in specs {
        if names.iter().any(|n| n == &spec.source) {
            present.push(spec.source.clone());
        } else if !spec.optional {
            return Err(InputError::MissingColumn {
                path: path.to_path_buf(),
                key: spec.key.clone(),
                column: spec.source.clone(),
                found: names.join(", "),
            });
        }
    }
    Ok(present)
}

/// The earliest time pql represents: 0001-01-01 00:00 UTC, in μs since the epoch.
pub const MIN_TS: i64 = -62_135_596_800_000_000;
/// The end of the times pql represents (exclusive): 10000-01-01 00:00 UTC, in μs since the epoch.
pub const MAX_TS: i64 = 253_402_300_800_000_000;

/// Events may be this far (one day, in μs) after the clock of the run that reads them, for devices' clock
/// skew, before they count as dated in the future.
pub const FUTURE_TOLERANCE_US: i64 = 86_400_000_000;

/// The instant (μs) after which an event read now is dated in the future: the clock plus
/// [`FUTURE_TOLERANCE_US`].
pub fn future_from() -> i64 {
    chrono::Utc::now().timestamp_micros() + FUTURE_TOLERANCE_US
}

/// A time in μs since the epoch as RFC 3339 text, or the raw number when no calendar holds it.
pub fn format_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
        .unwrap_or_else(|| format!("{micros} μs since 1970-01-01"))
}

const TIMESTAMP_EXPECTED: &str =
    "a UTC timestamp (RFC 3339 such as 2025-01-06T09:30:00Z, or 2025-01-06 09:30:00, or 2025-01-06)";
const NUMBER_EXPECTED: &str = "a number";

/// Converts one source column to its contract type, failing on the first value that does not fit.
/// Converts one column to the contract; errors name data rows counted from `first_row` (0 for a whole file).
fn convert(path: &Path, spec: &ColumnSpec, series: &Series, first_row: usize) -> Result<Series, InputError> {
    // A column with no value at all (e.g. an NDJSON key that is always null) has no type; read it as text.
    let series = &match series.dtype() {
        DataType::Null => series.cast(&DataType::String).map_err(|e| unreadable(path, e))?,
        _ => series.clone(),
    };
    let bad_type = |expected: &'static str| InputError::BadType {
        path: path.to_path_buf(),
        column: spec.source.clone(),
        dtype: series.dtype().to_string(),
        expected,
    };
    let missing = |row: usize| InputError::MissingValue {
        path: path.to_path_buf(),
        column: spec.source.clone(),
        row: first_row + row + 1,
    };
    match spec.kind {
        Kind::Id | Kind::OptionalText => {
            let text = match series.dtype() {
                DataType::String => series.clone(),
                dtype if dtype.is_integer() => series.cast(&DataType::String).map_err(|e| unreadable(path, e))?,
                dtype if spec.kind == Kind::OptionalText && (dtype.is_primitive_numeric() || dtype.is_bool()) => {
                    series.cast(&DataType::String).map_err(|e| unreadable(path, e))?
                }
                _ => return Err(bad_type("text or integer")),
            };
            let values = text.str().map_err(|e| unreadable(path, e))?;
            if spec.kind == Kind::Id {
                if let Some(row) = values.iter().position(|v| v.is_none_or(|v| v.trim().is_empty())) {
                    return Err(missing(row));
                }
                Ok(text)
            } else {
                Ok(values
                    .iter()
                    .map(|v| v.filter(|v| !v.is_empty()))
                    .collect::<StringChunked>()
                    .into_series())
            }
        }
        Kind::Timestamp => {
            let micros: Int64Chunked = match series.dtype() {
                DataType::Datetime(unit, _) => {
                    let values = series.datetime().map_err(|e| unreadable(path, e))?;
                    let scale = match unit {
                        TimeUnit::Nanoseconds => |v: i64| v.div_euclid(1_000),
                        TimeUnit::Microseconds => |v: i64| v,
                        TimeUnit::Milliseconds => |v: i64| v.saturating_mul(1_000),
                    };
                    values.physical().apply_values(scale)
                }
                DataType::Date => {
                    let days = series.date().map_err(|e| unreadable(path, e))?;
                    days.physical()
                        .iter()
                        .map(|d| d.map(|d| i64::from(d).saturating_mul(86_400_000_000)))
                        .collect()
                }
                DataType::String => {
                    let values = series.str().map_err(|e| unreadable(path, e))?;
                    let mut out = Vec::with_capacity(values.len());
                    for (row, value) in values.iter().enumerate() {
                        let value = value.ok_or_else(|| missing(row))?;
                        let micros = parse_timestamp(value).ok_or_else(|| InputError::BadValue {
                            path: path.to_path_buf(),
                            column: spec.source.clone(),
                            row: first_row + row + 1,
                            value: value.to_string(),
                            expected: TIMESTAMP_EXPECTED,
                        })?;
                        out.push(micros);
                    }
                    Int64Chunked::from_vec(PlSmallStr::EMPTY, out)
                }
                _ => return Err(bad_type("a timestamp, a date or RFC 3339 text")),
            };
            if let Some(row) = micros.iter().position(|v| v.is_none()) {
                return Err(missing(row));
            }
            if let Some((row, ts)) = micros
                .into_no_null_iter()
                .enumerate()
                .find(|(_, ts)| !(MIN_TS..MAX_TS).contains(ts))
            {
                return Err(InputError::OutOfRange {
                    path: path.to_path_buf(),
                    column: spec.source.clone(),
                    row: Some(first_row + row + 1),
                    value: format_micros(ts),
                });
            }
            Ok(micros.into_datetime(TimeUnit::Microseconds, None).into_series())
        }
        Kind::Number => match series.dtype() {
            dtype if dtype.is_primitive_numeric() => {
                // NaN and infinities are missing values, not numbers.
                let values = series.cast(&DataType::Float64).map_err(|e| unreadable(path, e))?;
                let values = values.f64().map_err(|e| unreadable(path, e))?;
                Ok(values
                    .iter()
                    .map(|v| v.filter(|x| x.is_finite()))
                    .collect::<Float64Chunked>()
                    .into_series())
            }
            DataType::String => {
                let values = series.str().map_err(|e| unreadable(path, e))?;
                let mut out = Vec::with_capacity(values.len());
                for (row, value) in values.iter().enumerate() {
                    let number = match value.map(str::trim) {
                        None | Some("") => None,
                        Some(text) => Some(text.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                            InputError::BadValue {
                                path: path.to_path_buf(),
                                column: spec.source.clone(),
                                row: first_row + row + 1,
                                value: text.to_string(),
                                expected: NUMBER_EXPECTED,
                            }
                        })?),
                    };
                    out.push(number);
                }
                Ok(Float64Chunked::from_iter_options(PlSmallStr::EMPTY, out.into_iter()).into_series())
            }
            _ => Err(bad_type("a number")),
        },
    }
}

/// Parses a UTC timestamp from text (see the module docs for the accepted forms), in microseconds since
/// the Unix epoch.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    // Warehouse exports: offsets as +00, +0530 or +05:30, after the time or a space (PostgreSQL,
    // Snowflake), and BigQuery's ` UTC` suffix.
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f %#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.timestamp_micros());
        }
    }
    let text = text.strip_suffix(" UTC").unwrap_or(text);
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| {
        d.and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_micros()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_accepted_form() {
        let expected = 1_736_155_800_000_000; // 2025-01-06T09:30:00Z
        assert_eq!(parse_timestamp("2025-01-06T09:30:00Z"), Some(expected));
        assert_eq!(parse_timestamp("2025-01-06T10:30:00+01:00"), Some(expected));
        assert_eq!(parse_timestamp("2025-01-06T09:30:00.250Z"), Some(expected + 250_000));
        assert_eq!(parse_timestamp("2025-01-06 09:30:00"), Some(expected));
        assert_eq!(parse_timestamp("2025-01-06T09:30:00"), Some(expected));
        assert_eq!(parse_timestamp("2025-01-06"), Some(expected - 34_200_000_000));
        // As warehouses export them.
        assert_eq!(parse_timestamp("2025-01-06 09:30:00+00"), Some(expected), "PostgreSQL");
        assert_eq!(
            parse_timestamp("2025-01-06 15:00:00+05:30"),
            Some(expected),
            "PostgreSQL"
        );
        assert_eq!(
            parse_timestamp("2025-01-06 01:30:00.000 -0800"),
            Some(expected),
            "Snowflake"
        );
        assert_eq!(parse_timestamp("2025-01-06 09:30:00 UTC"), Some(expected), "BigQuery");
        assert_eq!(
            parse_timestamp("2025-01-06 09:30:00.000000 UTC"),
            Some(expected),
            "BigQuery"
        );
        assert_eq!(parse_timestamp("2025-01-06T10:30:00+0100"), Some(expected));
        assert_eq!(parse_timestamp("2025-01-06 09:30:00Z"), Some(expected));
        assert_eq!(parse_timestamp("1997-03-02T00:00:00Z"), Some(857_260_800_000_000));
    }

    #[test]
    fn malformed_timestamps_are_rejected() {
        for bad in [
            "",
            "yesterday",
            "2025-13-01T00:00:00Z",
            "2025-01-06T25:00:00Z",
            "1736155800",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(Format::of(Path::new("a/b.PARQUET")), Some(Format::Parquet));
        assert_eq!(Format::of(Path::new("x.csv")), Some(Format::Csv));
        assert_eq!(Format::of(Path::new("x.jsonl")), Some(Format::Ndjson));
        assert_eq!(Format::of(Path::new("x.txt")), None);
    }
}
