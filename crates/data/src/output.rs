//! Atomic output: every file pql writes is written to a temporary file beside its destination and renamed
//! into place only when complete, so a crash never leaves a half-written model, table or score file.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use polars::prelude::*;

use crate::error::OutputError;
use crate::input::Format;

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
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let temp = tempfile::Builder::new()
        .prefix(".pql-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(io)?;
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
/// metadata: in the Parquet footer, or for CSV in a sidecar `<path>.meta.json` (also written atomically).
/// Datetimes in CSV are written as RFC 3339 UTC text.
pub fn write_frame(frame: &mut DataFrame, path: &Path, metadata: &[(String, String)]) -> Result<(), OutputError> {
    match Format::of(path) {
        Some(Format::Parquet) => write_atomically(path, |out| {
            let metadata = (!metadata.is_empty()).then(|| KeyValueMetadata::from_static(metadata.to_vec()));
            ParquetWriter::new(out)
                .with_compression(ParquetCompression::Zstd(None))
                .with_key_value_metadata(metadata)
                .finish(frame)
                .map(|_| ())
        }),
        Some(Format::Csv) => {
            write_atomically(path, |out| {
                CsvWriter::new(out)
                    .include_header(true)
                    .with_datetime_format(Some(CSV_DATETIME_FORMAT.into()))
                    .finish(frame)
            })?;
            if metadata.is_empty() {
                return Ok(());
            }
            let mut sidecar = path.as_os_str().to_owned();
            sidecar.push(".meta.json");
            // Values that are JSON documents are embedded as such; others as strings.
            let fields: serde_json::Map<String, serde_json::Value> = metadata
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::from_str(v).unwrap_or_else(|_| v.clone().into())))
                .collect();
            write_atomically(Path::new(&sidecar), |out| serde_json::to_writer_pretty(out, &fields))
        }
        _ => Err(OutputError::Encode {
            path: path.to_path_buf(),
            message: "unsupported output extension (use .parquet or .csv)".into(),
        }),
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
