//! Atomic output: every file pql writes is written to a temporary file beside its destination and renamed
//! into place only when complete, so a crash never leaves a half-written model, table or score file.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use polars::prelude::*;

use crate::error::OutputError;
use crate::input::Format;

/// A new temporary file in `path`'s folder (created if needed), to be renamed over `path` when complete.
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile, OutputError> {
    let io = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    tempfile::Builder::new()
        .prefix(".pql-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(io)
}

/// Writes `path` atomically: `write` fills a buffered temporary file in the same folder, which is flushed,
/// synced and renamed over `path` only if `write` succeeds.
pub fn write_atomically<E>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
) -> Result<(), OutputError>
where
    E: std::fmt::Display,
{
    let io = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let temp = temp_beside(path)?;
    let mut out = BufWriter::new(temp.reopen().map_err(io)?);
    write(&mut out).map_err(|e| OutputError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    temp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Writes a frame atomically as Parquet (zstd) or CSV, chosen by `path`'s extension, with key/value
/// metadata (see [`FrameWriter`]).
pub fn write_frame(frame: &DataFrame, path: &Path, metadata: &[(String, String)]) -> Result<(), OutputError> {
    let mut writer = FrameWriter::create(path, frame.schema(), metadata)?;
    writer.write(frame)?;
    writer.finish()
}

/// A table written in batches to a temporary file beside `path`, and moved into place by
/// [`FrameWriter::finish`] only; dropping it unfinished leaves no file. Parquet (zstd, key/value metadata in
/// the footer) or CSV (RFC 3339 UTC datetimes, metadata in a sidecar `<path>.meta.json`), by extension.
pub struct FrameWriter {
    path: std::path::PathBuf,
    temp: tempfile::NamedTempFile,
    encoder: Encoder,
    metadata: Vec<(String, String)>,
}

enum Encoder {
    Parquet(Box<polars::io::parquet::write::BatchedWriter<BufWriter<File>>>),
    Csv(polars::io::csv::write::BatchedWriter<BufWriter<File>>),
}

impl FrameWriter {
    /// Opens a writer for frames of `schema`.
    pub fn create(path: &Path, schema: &Schema, metadata: &[(String, String)]) -> Result<Self, OutputError> {
        let io = |source| OutputError::Io {
            path: path.to_path_buf(),
            source,
        };
        let encode = |e: PolarsError| OutputError::Encode {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let format = Format::of(path)
            .filter(|f| *f != Format::Ndjson)
            .ok_or_else(|| OutputError::Encode {
                path: path.to_path_buf(),
                message: "unsupported output extension (use .parquet or .csv)".into(),
            })?;
        let temp = temp_beside(path)?;
        let file = BufWriter::new(temp.reopen().map_err(io)?);
        let encoder = match format {
            Format::Parquet => {
                let kv = (!metadata.is_empty()).then(|| KeyValueMetadata::from_static(metadata.to_vec()));
                Encoder::Parquet(Box::new(
                    ParquetWriter::new(file)
                        .with_compression(ParquetCompression::Zstd(None))
                        .with_key_value_metadata(kv)
                        .batched(schema)
                        .map_err(encode)?,
                ))
            }
            _ => Encoder::Csv(
                CsvWriter::new(file)
                    .include_header(true)
                    .with_datetime_format(Some(CSV_DATETIME_FORMAT.into()))
                    .batched(schema)
                    .map_err(encode)?,
            ),
        };
        Ok(FrameWriter {
            path: path.to_path_buf(),
            temp,
            encoder,
            metadata: metadata.to_vec(),
        })
    }

    /// Appends a frame.
    pub fn write(&mut self, frame: &DataFrame) -> Result<(), OutputError> {
        // The encoders need every column split into chunks at the same rows.
        let mut frame = frame.clone();
        frame.align_chunks_par();
        match &mut self.encoder {
            Encoder::Parquet(w) => w.write_batch(&frame),
            Encoder::Csv(w) => w.write_batch(&frame),
        }
        .map_err(|e| OutputError::Encode {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }

    /// Completes the file, syncs it and moves it into place (with its CSV metadata sidecar).
    pub fn finish(self) -> Result<(), OutputError> {
        let path = &self.path;
        let io = |source| OutputError::Io {
            path: path.to_path_buf(),
            source,
        };
        let encode = |e: PolarsError| OutputError::Encode {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let csv = matches!(self.encoder, Encoder::Csv(_));
        match self.encoder {
            Encoder::Parquet(w) => w.finish().map(|_| ()).map_err(encode)?,
            Encoder::Csv(mut w) => w.finish().map_err(encode)?,
        }
        self.temp.as_file().sync_all().map_err(io)?;
        self.temp.persist(path).map_err(|e| io(e.error))?;
        if csv && !self.metadata.is_empty() {
            let mut sidecar = path.as_os_str().to_owned();
            sidecar.push(".meta.json");
            // Values that are JSON documents are embedded as such; others as strings.
            let fields: serde_json::Map<String, serde_json::Value> = self
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::from_str(v).unwrap_or_else(|_| v.clone().into())))
                .collect();
            write_atomically(Path::new(&sidecar), |out| serde_json::to_writer_pretty(out, &fields))?;
        }
        Ok(())
    }
}

/// The `strftime` format for zone-less UTC datetimes in CSV output: RFC 3339 with milliseconds.
pub const CSV_DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_no_file_and_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        std::fs::write(&path, "old").unwrap();
        let result = write_atomically(&path, |out| {
            use std::io::Write;
            out.write_all(b"half").map_err(|e| e.to_string())?;
            Err("encoder crashed".to_string())
        });
        assert!(result.unwrap_err().to_string().contains("encoder crashed"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temporary file left behind: {names:?}");
    }

    #[test]
    fn successful_write_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.txt");
        write_atomically(&path, |out| {
            use std::io::Write;
            out.write_all(b"new")
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}
