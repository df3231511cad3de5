//! Turning simulated chunks into contract tables and appending them to the output files.

use std::path::Path;

use polars::prelude::*;
use pql_data::FrameWriter;

use crate::product::EVENT_NAMES;
use crate::simulate::{AccountHistory, Calendar};
use crate::{GenerateError, OutputFormat, Totals};

const DAY_MS: i64 = 86_400_000;

/// A chunk of simulated accounts, numbered from `first_index`.
pub(crate) struct Chunk<'a> {
    pub first_index: u64,
    pub histories: &'a [AccountHistory],
    pub calendar: &'a Calendar,
    pub snapshot_days: &'a [u32],
    pub horizon_days: u32,
}

/// File names of the events, accounts and conversions tables.
pub(crate) fn table_names(format: OutputFormat) -> [String; 3] {
    ["events", "accounts", "conversions"].map(|t| format!("{t}.{}", format.extension()))
}

/// The account id of account `index`.
fn account_id(index: u64) -> String {
    format!("acc_{index:07}")
}

/// The user id of user `user` of account `index`.
fn user_id(index: u64, user: u16) -> String {
    format!("usr_{index:07}_{user}")
}

/// The four open output files.
pub(crate) struct Writers {
    tables: Vec<FrameWriter>,
    format: OutputFormat,
}

fn time_zone(format: OutputFormat) -> Option<TimeZone> {
    match format {
        OutputFormat::Parquet => Some(TimeZone::UTC),
        OutputFormat::Csv => None,
    }
}

fn datetime(format: OutputFormat) -> DataType {
    DataType::Datetime(TimeUnit::Milliseconds, time_zone(format))
}

impl Writers {
    /// Opens the four files in `dir`; each appears only when [`Writers::finish`] completes it.
    pub fn create(dir: &Path, format: OutputFormat) -> Result<Writers, GenerateError> {
        let [events, accounts, conversions] = table_names(format);
        let schemas = [
            (
                events,
                Schema::from_iter([
                    Field::new("account_id".into(), DataType::String),
                    Field::new("user_id".into(), DataType::String),
                    Field::new("event".into(), DataType::String),
                    Field::new("timestamp".into(), datetime(format)),
                ]),
            ),
            (
                accounts,
                Schema::from_iter([
                    Field::new("account_id".into(), DataType::String),
                    Field::new("signup_at".into(), datetime(format)),
                    Field::new("plan".into(), DataType::String),
                    Field::new("company_size".into(), DataType::Float64),
                    Field::new("industry".into(), DataType::String),
                    Field::new("country".into(), DataType::String),
                ]),
            ),
            (
                conversions,
                Schema::from_iter([
                    Field::new("account_id".into(), DataType::String),
                    Field::new("converted_at".into(), datetime(format)),
                ]),
            ),
            (
                "truth.parquet".to_string(),
                Schema::from_iter([
                    Field::new("account_id".into(), DataType::String),
                    Field::new("as_of".into(), datetime(OutputFormat::Parquet)),
                    Field::new("probability".into(), DataType::Float64),
                ]),
            ),
        ];
        let tables = schemas
            .into_iter()
            .map(|(name, schema)| FrameWriter::create(&dir.join(name), &schema, &[]))
            .collect::<Result<_, _>>()?;
        Ok(Writers { tables, format })
    }

    /// Appends one chunk to every table; returns the chunk's totals.
    pub fn write(&mut self, chunk: &Chunk) -> Result<Totals, GenerateError> {
        let (frames, totals) = frames(chunk, self.format).map_err(|e| GenerateError::Write {
            path: "events".into(),
            message: e.to_string(),
        })?;
        for (writer, frame) in self.tables.iter_mut().zip(frames) {
            writer.write(&frame)?;
        }
        Ok(totals)
    }

    /// Completes every file and moves it into place.
    pub fn finish(self) -> Result<(), GenerateError> {
        for writer in self.tables {
            writer.finish()?;
        }
        Ok(())
    }
}

fn timestamps(name: &str, millis: Vec<i64>, format: OutputFormat) -> Column {
    Int64Chunked::from_vec(name.into(), millis)
        .into_datetime(TimeUnit::Milliseconds, time_zone(format))
        .into_column()
}

/// The events, accounts, conversions and truth frames of a chunk.
fn frames(chunk: &Chunk, format: OutputFormat) -> PolarsResult<([DataFrame; 4], Totals)> {
    let ids: Vec<String> = (0..chunk.histories.len() as u64)
        .map(|i| account_id(chunk.first_index + i))
        .collect();
    let mut totals = Totals::default();

    // Events.
    let n_events: usize = chunk.histories.iter().map(|h| h.events.len()).sum();
    let users: Vec<Vec<String>> = chunk
        .histories
        .iter()
        .enumerate()
        .map(|(i, h)| (0..h.users).map(|u| user_id(chunk.first_index + i as u64, u)).collect())
        .collect();
    let account_ids = StringChunked::from_iter_values(
        "account_id".into(),
        chunk
            .histories
            .iter()
            .zip(&ids)
            .flat_map(|(h, id)| std::iter::repeat_n(id.as_str(), h.events.len())),
    );
    let user_ids = StringChunked::from_iter_options(
        "user_id".into(),
        chunk
            .histories
            .iter()
            .zip(&users)
            .flat_map(|(h, u)| h.events.iter().map(move |e| e.user.map(|k| u[k as usize].as_str()))),
    );
    let events = StringChunked::from_iter_values(
        "event".into(),
        chunk
            .histories
            .iter()
            .flat_map(|h| h.events.iter().map(|e| EVENT_NAMES[e.code as usize])),
    );
    let mut times = Vec::with_capacity(n_events);
    for h in chunk.histories {
        times.extend(h.events.iter().map(|e| e.ts_ms));
    }
    let events = DataFrame::new(
        n_events,
        vec![
            account_ids.into_column(),
            user_ids.into_column(),
            events.into_column(),
            timestamps("timestamp", times, format),
        ],
    )?;

    // Accounts.
    let h = chunk.histories;
    let accounts = DataFrame::new(
        h.len(),
        vec![
            StringChunked::from_iter_values("account_id".into(), ids.iter().map(String::as_str)).into_column(),
            timestamps("signup_at", h.iter().map(|a| a.signup_ms).collect(), format),
            StringChunked::from_iter_values("plan".into(), h.iter().map(|a| a.plan)).into_column(),
            Float64Chunked::from_iter_options("company_size".into(), h.iter().map(|a| a.company_size)).into_column(),
            StringChunked::from_iter_options("industry".into(), h.iter().map(|a| a.industry)).into_column(),
            StringChunked::from_iter_values("country".into(), h.iter().map(|a| a.country)).into_column(),
        ],
    )?;

    // Conversions.
    let converted: Vec<(usize, i64)> = h
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.converted_ms.map(|t| (i, t)))
        .collect();
    let conversions = DataFrame::new(
        converted.len(),
        vec![
            StringChunked::from_iter_values("account_id".into(), converted.iter().map(|&(i, _)| ids[i].as_str()))
                .into_column(),
            timestamps("converted_at", converted.iter().map(|&(_, t)| t).collect(), format),
        ],
    )?;

    // Truth: every eligible (account, snapshot) whose horizon lies inside the history.
    let mut truth_ids = Vec::new();
    let mut truth_as_of = Vec::new();
    let mut truth_p = Vec::new();
    for (i, a) in h.iter().enumerate() {
        totals.users += u64::from(a.users);
        totals.events += a.events.len() as u64;
        totals.conversions += u64::from(a.converted_ms.is_some());
        for &day in chunk.snapshot_days {
            let as_of = chunk.calendar.start_ms + i64::from(day) * DAY_MS;
            if a.converted_ms.is_some_and(|t| t <= as_of) {
                continue;
            }
            let Some(p) = a.conversion_probability(day, chunk.horizon_days) else {
                continue;
            };
            let horizon_end = as_of + i64::from(chunk.horizon_days) * DAY_MS;
            if a.converted_ms.is_some_and(|t| t <= horizon_end) {
                totals.positives += 1.0;
            }
            totals.probability_sum += p;
            truth_ids.push(ids[i].as_str());
            truth_as_of.push(as_of);
            truth_p.push(p);
        }
    }
    totals.truth_rows = truth_p.len() as u64;
    let truth = DataFrame::new(
        truth_p.len(),
        vec![
            StringChunked::from_iter_values("account_id".into(), truth_ids.into_iter()).into_column(),
            timestamps("as_of", truth_as_of, OutputFormat::Parquet),
            Float64Chunked::from_vec("probability".into(), truth_p).into_column(),
        ],
    )?;

    Ok(([events, accounts, conversions, truth], totals))
}
