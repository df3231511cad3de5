//! Atomic output: every file pql writes is written to a temporary file beside its destination and renamed
//! into place only when complete, so a crash never leaves a half-written model, table or score file.
//!
//! Temporary files and folders are named `.pql-<kind>-<pid>-<random>`: a run that is killed leaves them
//! behind, and the next run that writes into the same folder removes those of processes that no longer
//! run (or, where that cannot be told, that are more than a day old). They get the modes of any new file
//! or folder (0666 or 0777 less the umask), not the owner-only modes of temporary files, so the outputs
//! renamed from them are readable as the umask allows.

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
    staging_file(dir, "out").map_err(io)
}

/// The name start of this process's temporary files and folders of `kind`.
fn staging_prefix(kind: &str) -> String {
    format!(".pql-{kind}-{}-", std::process::id())
}

/// A temporary file in `dir`, to be renamed into place (mode 0666 less the umask). Leftovers of killed runs
/// in `dir` are removed first.
pub fn staging_file(dir: &Path, kind: &str) -> std::io::Result<tempfile::NamedTempFile> {
    remove_leftovers(dir);
    let prefix = staging_prefix(kind);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".partial");
    with_mode(&mut builder, 0o666);
    builder.tempfile_in(dir)
}

/// A temporary folder in `dir`, to be renamed into place (mode 0777 less the umask). Leftovers of killed
/// runs in `dir` are removed first.
pub fn staging_dir(dir: &Path, kind: &str) -> std::io::Result<tempfile::TempDir> {
    remove_leftovers(dir);
    let prefix = staging_prefix(kind);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    with_mode(&mut builder, 0o777);
    builder.tempdir_in(dir)
}

fn with_mode(builder: &mut tempfile::Builder, mode: u32) {
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
    #[cfg(not(unix))]
    let _ = (builder, mode); // no modes: the folder's defaults apply
}

/// Removes the temporary files and folders in `dir` that runs no longer running left behind. Best effort:
/// what cannot be removed stays for a later run.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(".pql-")) else {
            continue;
        };
        if !is_leftover(rest, &entry) {
            continue;
        }
        let path = entry.path();
        let removed = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        if removed.is_ok() {
            tracing::info!(path = %path.display(), "removed what a killed pql run left behind");
        }
    }
}

/// Whether `.pql-<rest>` was left by a run that is gone: its process id (`<kind>-<pid>-…`) names no running
/// process, or, where processes cannot be listed or the name holds no id, it is more than a day old.
fn is_leftover(rest: &str, entry: &std::fs::DirEntry) -> bool {
    let pid = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
    let processes = Path::new("/proc/self").exists();
    match pid {
        Some(pid) if processes => pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists(),
        _ => entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 86_400),
    }
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
