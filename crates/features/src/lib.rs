//! Point-in-time feature extraction: event histories → one row per eligible `(account_id, as_of)` with a
//! label and the features of the dictionary (`docs/features.md`).
//!
//! Features are data ([`catalog::FeatureDef`]), compiled to polars expressions (`compile.rs`) over tables
//! prepared once for all snapshots (`prepare.rs`). Only events with `timestamp <= as_of` reach a row.
//!
//! ```no_run
//! use pql_features::{build, Snapshots};
//! let config = pql_data::Config::load("data/sample/pql.toml")?;
//! let date = chrono::NaiveDate::from_ymd_opt(2025, 5, 5).unwrap();
//! let table = build(&config, &Snapshots::Range { from: date, to: date + chrono::Days::new(49) })?;
//! println!("{} rows, {} features", table.frame.height(), table.defs.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod catalog;
mod compile;
pub mod error;
mod prepare;
mod reorder;

use std::path::Path;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use pql_data::config::{AttributeKind, Config};
use pql_data::FrameWriter;

pub use catalog::{FeatureDef, Levels, Roles, Vocabulary};
pub use error::FeatureError;
/// The ingestion rules other compilers of the definitions (the SQL of `pql-sql`) write out.
pub use pql_data::input::{FUTURE_TOLERANCE_US, MAX_TS, MIN_TS};
pub use prepare::{period_id, DAY_US};
pub use prepare::{InputReport, InputWarning};

/// Which snapshots to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snapshots {
    /// One snapshot at 00:00 UTC of this date.
    One(NaiveDate),
    /// Every configured snapshot weekday in `[from, to]`.
    Range {
        /// First date considered.
        from: NaiveDate,
        /// Last date considered.
        to: NaiveDate,
    },
}

impl Snapshots {
    /// The snapshot dates, in order.
    pub fn dates(&self, config: &Config) -> Result<Vec<NaiveDate>, FeatureError> {
        match *self {
            Snapshots::One(date) => Ok(vec![date]),
            Snapshots::Range { from, to } => {
                if from > to {
                    return Err(FeatureError::Snapshots(format!("--from {from} is after --to {to}")));
                }
                let weekday = config.snapshots.weekday.to_chrono();
                let dates: Vec<NaiveDate> = from
                    .iter_days()
                    .take_while(|d| *d <= to)
                    .filter(|d| d.weekday() == weekday)
                    .collect();
                if dates.is_empty() {
                    return Err(FeatureError::Snapshots(format!(
                        "no {weekday} between {from} and {to}: snapshots fall on the configured weekday ([snapshots] weekday)"
                    )));
                }
                Ok(dates)
            }
        }
    }
}

/// A feature table and how it was made.
pub struct FeatureTable {
    /// `account_id`, `as_of`, `label`, then one float column per definition.
    pub frame: DataFrame,
    /// The definitions of the feature columns, in order.
    pub defs: Vec<FeatureDef>,
    /// What was read and left out.
    pub report: InputReport,
}

/// Prepared inputs that yield the feature rows one snapshot at a time, so a large table can be written as
/// it is computed.
pub struct FeatureBuilder {
    prepared: prepare::PreparedInputs,
    defs: Vec<FeatureDef>,
    days: Vec<i64>,
    horizon_days: u32,
    progress: Option<Box<dyn Fn() + Send + Sync>>,
}

impl FeatureBuilder {
    /// Reads and prepares the inputs for the snapshots. The columns are those of `vocabulary` (e.g. a
    /// model's, [`Vocabulary::of_defs`]), or when `None` the data's: the most frequent categorical levels in
    /// the accounts table and the most frequent product events (see [`vocabulary_of`]).
    pub fn new(config: &Config, snapshots: &Snapshots, vocabulary: Option<&Vocabulary>) -> Result<Self, FeatureError> {
        check_declared(config)?;
        let dates = snapshots.dates(config)?;
        let days: Vec<i64> = dates.iter().map(|d| epoch_day(*d)).collect();
        let mut events = match vocabulary {
            Some(vocabulary) => Vocabulary {
                levels: Vec::new(),
                ..vocabulary.clone()
            },
            None => frequent_events(config, days.iter().max().map(|&k| k * prepare::DAY_US))?,
        };
        // The definitions depend on levels only through attribute columns, which preparation does not read.
        let provisional = catalog::catalog(config, &events);
        let needs = compile::daily_needs(&provisional, config);
        let spans = compile::recent_spans(&provisional, &days);
        let prepared = prepare::prepare(config, &needs, &spans)?;
        tracing::info!(report = ?prepared.report, snapshots = days.len(), "inputs prepared");
        events.levels = match vocabulary {
            Some(vocabulary) => vocabulary.levels.clone(),
            None => levels_of(&prepared.accounts, config)?,
        };
        Ok(FeatureBuilder {
            prepared,
            defs: catalog::catalog(config, &events),
            days,
            horizon_days: config.label.horizon_days,
            progress: None,
        })
    }

    /// Calls `done` after each snapshot is computed (e.g. to advance a progress bar).
    pub fn on_snapshot(mut self, done: impl Fn() + Send + Sync + 'static) -> Self {
        self.progress = Some(Box::new(done));
        self
    }

    /// Labels only what was known at 00:00 UTC of `date`, as a run on that day would: a snapshot is
    /// labelled when `as_of + horizon` is at or before it. By default the data's own end decides (the
    /// day of its latest event or conversion).
    pub fn known_at(mut self, date: NaiveDate) -> Self {
        let end = epoch_day(date) * prepare::DAY_US;
        self.prepared.observation_end = self.prepared.observation_end.min(end);
        self
    }

    /// The number of parts [`FeatureBuilder::snapshots`] yields: the snapshots, times the account ranges
    /// of a large history.
    pub fn snapshot_count(&self) -> usize {
        self.days.len() * self.prepared.range_count()
    }

    /// The account ranges the inputs were prepared in: 1, or more for a history of more kept events than
    /// `[inputs] events_per_range`.
    pub fn range_count(&self) -> usize {
        self.prepared.range_count()
    }

    /// The feature definitions, in column order.
    pub fn defs(&self) -> &[FeatureDef] {
        &self.defs
    }

    /// What was read and left out.
    pub fn report(&self) -> &InputReport {
        &self.prepared.report
    }

    /// What the user should know about the inputs (not errors).
    pub fn warnings(&self) -> &[InputWarning] {
        &self.prepared.warnings
    }

    /// The latest event used, if any.
    pub fn latest_event(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.prepared
            .latest_event
            .and_then(chrono::DateTime::from_timestamp_micros)
    }

    /// The rows of each snapshot in date order, accounts in `account_id` order. A history with more kept
    /// events than `[inputs] events_per_range` is prepared one range of accounts at a time, to bound
    /// memory: then each part is one snapshot of one range, the ranges in account order, each in date order.
    pub fn snapshots(&self) -> impl Iterator<Item = Result<DataFrame, FeatureError>> + '_ {
        let ranges = self.prepared.range_count();
        let mut tables = None;
        (0..ranges * self.days.len()).map(move |part| {
            let (range, day) = (part / self.days.len(), part % self.days.len());
            if day == 0 {
                tables = None; // the previous range's tables are dropped before the next are built
                tables = Some(self.prepared.range(range)?);
            }
            let prepared = tables.as_ref().expect("built at the range's first day");
            let k = self.days[day];
            let frame = compile::snapshot(
                prepared,
                &self.defs,
                k,
                self.horizon_days,
                self.prepared.observation_end,
            )?;
            tracing::debug!(range, epoch_day = k, rows = frame.height(), "snapshot computed");
            if let Some(done) = &self.progress {
                done();
            }
            Ok(frame)
        })
    }

    /// Computes every snapshot and writes them to `path` (Parquet or CSV by extension, atomically) as they
    /// come: a second thread encodes one snapshot while the next is computed. The file carries what
    /// [`StoredTable`] and [`read_table`] read back: the dictionary ([`DICTIONARY_KEY`]), the input report
    /// ([`INPUT_REPORT_KEY`]) and the version ([`VERSION_KEY`]), in the Parquet footer or a CSV's
    /// `<path>.meta.json`.
    pub fn write(&self, path: &Path) -> Result<Written, FeatureError> {
        let encoding_error = |e: serde_json::Error| FeatureError::Table {
            path: path.to_path_buf(),
            message: format!("cannot encode its metadata: {e}"),
        };
        let metadata = vec![
            (VERSION_KEY.to_string(), env!("CARGO_PKG_VERSION").to_string()),
            (
                INPUT_REPORT_KEY.to_string(),
                serde_json::to_string(self.report()).map_err(encoding_error)?,
            ),
            (
                DICTIONARY_KEY.to_string(),
                serde_json::to_string(&self.defs).map_err(encoding_error)?,
            ),
        ];
        let metadata = &metadata;
        enum Message {
            Rows(DataFrame),
            Done,
        }
        std::thread::scope(|scope| {
            let (send, receive) = std::sync::mpsc::sync_channel::<Message>(1);
            let writer = scope.spawn(move || -> Result<Written, FeatureError> {
                let mut file: Option<FrameWriter> = None;
                let mut written = Written::default();
                for message in receive {
                    let frame = match message {
                        Message::Rows(frame) => frame,
                        Message::Done => {
                            if let Some(file) = file {
                                file.finish()?;
                            }
                            return Ok(written);
                        }
                    };
                    let file = match file.as_mut() {
                        Some(file) => file,
                        None => file.insert(FrameWriter::create(path, frame.schema(), metadata)?),
                    };
                    file.write(&frame)?;
                    written.count(&frame)?;
                }
                // The sender stopped without `Done`: a snapshot failed, and no file may appear.
                Ok(written)
            });
            let mut failure = None;
            for snapshot in self.snapshots() {
                match snapshot {
                    Ok(frame) => {
                        if send.send(Message::Rows(frame)).is_err() {
                            break; // the writer failed; its error is reported below
                        }
                    }
                    Err(err) => {
                        failure = Some(err);
                        break;
                    }
                }
            }
            if failure.is_none() {
                send.send(Message::Done).ok();
            }
            drop(send);
            let written = writer.join().expect("the writer thread does not panic")?;
            match failure {
                Some(err) => Err(err),
                None => Ok(written),
            }
        })
    }

    /// All rows in one table.
    pub fn collect(self) -> Result<FeatureTable, FeatureError> {
        let mut frame: Option<DataFrame> = None;
        for snapshot in self.snapshots() {
            let snapshot = snapshot?;
            match frame.as_mut() {
                None => frame = Some(snapshot),
                Some(all) => {
                    all.vstack_mut_owned(snapshot)?;
                }
            }
        }
        let mut frame = frame.expect("there is at least one snapshot");
        frame.rechunk_mut_par();
        Ok(FeatureTable {
            frame,
            defs: self.defs,
            report: self.prepared.report,
        })
    }
}

/// Counts of the rows [`FeatureBuilder::write`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Rows.
    pub rows: usize,
    /// Rows with a label.
    pub labelled: usize,
    /// Rows labelled 1.
    pub positives: usize,
}

impl Written {
    fn count(&mut self, frame: &DataFrame) -> PolarsResult<()> {
        let labels = frame.column("label")?.as_materialized_series();
        self.rows += frame.height();
        self.labelled += labels.len() - labels.null_count();
        self.positives += labels.cast(&DataType::UInt64)?.sum::<u64>()? as usize;
        Ok(())
    }
}

/// Builds the feature table for the snapshots. Categorical levels come from the accounts table.
pub fn build(config: &Config, snapshots: &Snapshots) -> Result<FeatureTable, FeatureError> {
    FeatureBuilder::new(config, snapshots, None)?.collect()
}

/// Reads a feature table written by `pql features` (Parquet, or CSV with its `.meta.json` sidecar) with
/// the dictionary stored beside it; `as_of` comes back as a UTC datetime (μs), as [`build`] makes it.
pub fn read_table(path: &Path) -> Result<(DataFrame, Vec<FeatureDef>), FeatureError> {
    let table = StoredTable::open(path)?;
    let frame = match table.csv {
        Some(frame) => frame,
        None => {
            let file = std::fs::File::open(path).map_err(|e| table.error(e.to_string()))?;
            let frame = ParquetReader::new(file).finish().map_err(|e| table.polars_error(e))?;
            table.with_dates(frame)?
        }
    };
    Ok((frame, table.defs))
}

/// The metadata key of a feature table's dictionary (JSON [`FeatureDef`]s), written by
/// [`FeatureBuilder::write`] and required by [`StoredTable`].
pub const DICTIONARY_KEY: &str = "pql.features";
/// The metadata key of a feature table's [`InputReport`] (JSON).
pub const INPUT_REPORT_KEY: &str = "pql.input_report";
/// The metadata key of the pql version that wrote a file.
pub const VERSION_KEY: &str = "pql.version";

/// The key columns of a feature table: what a row is ([`StoredTable::keys`]).
pub const KEY_COLUMNS: [&str; 3] = ["account_id", "as_of", "label"];

/// A feature table written by `pql features`, opened to be read in parts: its dictionary, its
/// [`KEY_COLUMNS`], then a few feature columns at a time, so that a large table never needs to be held
/// whole. A Parquet table is read column by column as asked; a CSV one is read whole when opened.
pub struct StoredTable {
    path: std::path::PathBuf,
    /// The feature dictionary stored with the table.
    pub defs: Vec<FeatureDef>,
    /// A CSV table's rows.
    csv: Option<DataFrame>,
}

impl StoredTable {
    /// Opens the table and reads its dictionary (and a CSV table's rows).
    pub fn open(path: &Path) -> Result<StoredTable, FeatureError> {
        let mut table = StoredTable {
            path: path.to_path_buf(),
            defs: Vec::new(),
            csv: None,
        };
        let dictionary = match pql_data::input::Format::of(path) {
            Some(pql_data::input::Format::Parquet) => {
                let file = std::fs::File::open(path).map_err(|e| table.error(e.to_string()))?;
                ParquetReader::new(file)
                    .get_metadata()
                    .map_err(|e| table.polars_error(e))?
                    .key_value_metadata
                    .iter()
                    .flatten()
                    .find(|kv| kv.key == DICTIONARY_KEY)
                    .and_then(|kv| kv.value.clone())
            }
            Some(pql_data::input::Format::Csv) => {
                let mut sidecar = path.as_os_str().to_owned();
                sidecar.push(".meta.json");
                let frame = CsvReadOptions::default()
                    .with_has_header(true)
                    .try_into_reader_with_file_path(Some(path.to_path_buf()))
                    .and_then(|r| r.finish())
                    .map_err(|e| table.polars_error(e))?;
                table.csv = Some(table.with_dates(frame)?);
                std::fs::read_to_string(&sidecar)
                    .ok()
                    .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                    .and_then(|meta| meta.get(DICTIONARY_KEY).map(|v| v.to_string()))
            }
            _ => return Err(table.error("a feature table is a .parquet or .csv file".into())),
        };
        let dictionary = dictionary.ok_or_else(|| {
            table.error(format!(
                "no feature dictionary (`{DICTIONARY_KEY}`) stored with it; write it with `pql features`"
            ))
        })?;
        table.defs =
            serde_json::from_str(&dictionary).map_err(|e| table.error(format!("damaged feature dictionary: {e}")))?;
        Ok(table)
    }

    /// The [`KEY_COLUMNS`] of every row, `as_of` as a UTC datetime (μs).
    pub fn keys(&self) -> Result<DataFrame, FeatureError> {
        let names = KEY_COLUMNS.map(String::from);
        let keys = self.columns(&names, None)?;
        match self.csv {
            Some(_) => Ok(keys),
            None => self.with_dates(keys),
        }
    }

    /// The named columns, of the rows where `rows` is true (every row with `None`).
    pub fn columns(&self, names: &[String], rows: Option<&BooleanChunked>) -> Result<DataFrame, FeatureError> {
        let frame = match &self.csv {
            Some(frame) => frame.select(names.iter().map(String::as_str)),
            None => PlRefPath::try_from_path(&self.path)
                .and_then(|path| LazyFrame::scan_parquet(path, ScanArgsParquet::default()))
                .and_then(|scan| {
                    scan.select(names.iter().map(|n| col(n.as_str())).collect::<Vec<_>>())
                        .collect()
                }),
        }
        .map_err(|e| self.polars_error(e))?;
        match rows {
            Some(rows) => frame.filter(rows).map_err(|e| self.polars_error(e)),
            None => Ok(frame),
        }
    }

    fn error(&self, message: String) -> FeatureError {
        FeatureError::Table {
            path: self.path.clone(),
            message,
        }
    }

    fn polars_error(&self, e: PolarsError) -> FeatureError {
        self.error(e.to_string().lines().next().unwrap_or_default().to_string())
    }

    /// `frame` with its `as_of` column as a UTC datetime (μs), read from text if it is text (CSV).
    fn with_dates(&self, mut frame: DataFrame) -> Result<DataFrame, FeatureError> {
        let as_of = frame.column("as_of").map_err(|e| self.polars_error(e))?;
        let as_of = match as_of.dtype() {
            DataType::String => {
                let text = as_of.str().map_err(|e| self.polars_error(e))?;
                let micros = text
                    .iter()
                    .enumerate()
                    .map(|(row, t)| {
                        t.and_then(pql_data::input::parse_timestamp).ok_or_else(|| {
                            self.error(format!("column `as_of`, row {}: cannot read {t:?} as a date", row + 1))
                        })
                    })
                    .collect::<Result<Vec<i64>, _>>()?;
                Column::new("as_of".into(), micros)
            }
            _ => as_of.clone(),
        };
        let as_of = as_of
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .map_err(|e| self.polars_error(e))?;
        frame.with_column(as_of).map_err(|e| self.polars_error(e))?;
        Ok(frame)
    }
}

/// Reads the inputs as every feature run does and returns what was read and left out, and the warnings:
/// the same checks (and errors) as [`FeatureBuilder::new`], without computing any snapshot.
pub fn inspect(config: &Config) -> Result<(InputReport, Vec<InputWarning>), FeatureError> {
    let needs = prepare::DailyNeeds {
        sets: Vec::new(),
        with_last: Vec::new(),
        limits: Vec::new(),
        named: Vec::new(),
    };
    let prepared = prepare::prepare(config, &needs, &[])?;
    Ok((prepared.report, prepared.warnings))
}

/// The feature dictionary for a config, with the vocabulary of its data ([`vocabulary_of`]).
pub fn describe(config: &Config) -> Result<Vec<FeatureDef>, FeatureError> {
    check_declared(config)?;
    Ok(catalog::catalog(config, &vocabulary_of(config)?))
}

/// The feature dictionary `pql features` computes for the snapshots `dates`: its per-event features are
/// the most frequent product events up to the latest of them, as [`FeatureBuilder::new`] chooses them.
pub fn describe_for(config: &Config, dates: &[NaiveDate]) -> Result<Vec<FeatureDef>, FeatureError> {
    check_declared(config)?;
    let until = dates.iter().max().map(|&d| epoch_day(d) * prepare::DAY_US);
    Ok(catalog::catalog(config, &vocabulary_until(config, until)?))
}

/// Refuses a declared feature named like a built-in one.
fn check_declared(config: &Config) -> Result<(), FeatureError> {
    match catalog::clashing_declared(config) {
        Some((index, name)) => Err(FeatureError::DeclaredName {
            path: config.source.clone(),
            index,
            name,
        }),
        None => Ok(()),
    }
}

/// The columns the data gives the dictionary: the most frequent levels of each categorical attribute in the
/// accounts table, and the `[events] per_event` most frequent product events of the events file.
pub fn vocabulary_of(config: &Config) -> Result<Vocabulary, FeatureError> {
    vocabulary_until(config, None)
}

/// [`vocabulary_of`] with the events counted up to `until` (μs; every event when `None`).
fn vocabulary_until(config: &Config, until: Option<i64>) -> Result<Vocabulary, FeatureError> {
    let accounts = pql_data::input::read_accounts(config)?;
    Ok(Vocabulary {
        levels: levels_of(&accounts, config)?,
        ..frequent_events(config, until)?
    })
}

/// The `[events] per_event` product events with the most rows in the events file up to `until` (μs, e.g. the
/// latest snapshot; every row when `None`), ties by name: events in no other role (hand-raise,
/// collaboration, limit-reached, ignored). Events after `until` never change the choice, and neither do the
/// cleaning rules: every row counts. Returned as a vocabulary without levels, whose `valued` events are
/// those with at least one value (when `[columns.events] value` is mapped).
pub fn frequent_events(config: &Config, until: Option<i64>) -> Result<Vocabulary, FeatureError> {
    let limit = config.events.per_event;
    if limit == 0 {
        return Ok(Vocabulary::default());
    }
    let roles = Roles::of(config);
    let other_roles: Vec<&String> = roles
        .hand_raise
        .iter()
        .chain(&roles.collaboration)
        .chain(&roles.ignore)
        .chain(&roles.limit_reached)
        .collect();
    let counts = pql_data::input::scan_events(config)?
        .select([
            col("event").cast(DataType::String),
            col("timestamp").to_physical().alias("ts"),
            match config.columns.events.value {
                Some(_) => col("value").is_not_null(),
                None => lit(false),
            }
            .alias("valued"),
        ])
        .filter(match until {
            Some(until) => col("event").is_not_null().and(col("ts").lt_eq(lit(until))),
            None => col("event").is_not_null(),
        })
        .group_by([col("event")])
        .agg([len().alias("n"), col("valued").any(true).alias("valued")])
        .collect_with_engine(Engine::Streaming)
        .map_err(|err| match pql_data::input::unreadable_event_file(config) {
            Some(err) => FeatureError::Input(err),
            None => FeatureError::Compute(err),
        })?
        .unwrap_single();
    let names = counts.column("event")?.str()?;
    let n = counts.column("n")?.u32()?;
    let valued = counts.column("valued")?.bool()?;
    let mut events: Vec<(u32, String, bool)> = names
        .iter()
        .zip(n.iter())
        .zip(valued.iter())
        .filter_map(|((name, n), valued)| Some((n?, name?.to_string(), valued == Some(true))))
        .filter(|(_, name, _)| !other_roles.contains(&name))
        .collect();
    events.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    events.truncate(limit);
    Ok(Vocabulary {
        levels: Vec::new(),
        valued: events.iter().filter(|e| e.2).map(|e| e.1.clone()).collect(),
        events: events.into_iter().map(|e| e.1).collect(),
    })
}

/// The most frequent levels of each categorical attribute and of the plan (with `[plan]`), ties by name, up
/// to [`catalog::MAX_LEVELS`].
pub fn levels_of(accounts: &DataFrame, config: &Config) -> Result<Levels, FeatureError> {
    let mut levels = Vec::new();
    let categorical = config
        .attributes
        .iter()
        .filter(|a| a.kind == AttributeKind::Categorical)
        .map(|a| a.name.as_str());
    let plan = config.plan.as_ref().map(|_| catalog::PLAN);
    for attribute in categorical.chain(plan) {
        let counts = accounts
            .clone()
            .lazy()
            .select([col(attribute).alias("level")])
            .filter(col("level").is_not_null())
            .group_by([col("level")])
            .agg([len().alias("n")])
            .sort(
                ["n", "level"],
                SortMultipleOptions::default().with_order_descending_multi([true, false]),
            )
            .limit(catalog::MAX_LEVELS as u32)
            .collect()?;
        let names = counts
            .column("level")?
            .str()?
            .iter()
            .flatten()
            .map(str::to_string)
            .collect();
        levels.push((attribute.to_string(), names));
    }
    Ok(levels)
}

/// Days since 1970-01-01 of a date.
pub fn epoch_day(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce() - 719_163)
}
