//! Page checksums of Parquet input files.
//!
//! A Parquet page header may carry a CRC-32 of the page's bytes as stored (after compression, without the
//! header). Spark and other parquet-java writers store one by default, pyarrow with
//! `write_page_checksum=True`. polars reads past it, and a damaged page then decodes into wrong values
//! without any error, so [`verify`] checks every checksum a file carries before the file is read. Pages
//! without a checksum (polars, DuckDB and pyarrow by default write none) cannot be checked and are
//! accepted.
//!
//! The pages checked are those a reader decodes: from the start of each column chunk, page after page,
//! until the chunk's values are all counted. Only the page headers and the checksummed pages are read.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use polars::prelude::*;
use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
use polars_parquet_format::{PageHeader, PageType};

use crate::error::InputError;
use crate::input::unreadable;

/// Checks the checksum of every page of a Parquet file that carries one; the first page that fails is an
/// [`InputError::Checksum`] naming its column, row group and page. A page header that cannot be read, or a
/// page that runs past its column chunk, is an [`InputError::Unreadable`] naming the same.
pub(crate) fn verify(path: &Path) -> Result<(), InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let metadata = ParquetReader::new(file.try_clone().map_err(io)?)
        .get_metadata()
        .map_err(|e| unreadable(path, e))?
        .clone();
    let mut reader = BufReader::new(file);
    for (row_group, group) in metadata.row_groups.iter().enumerate() {
        for chunk in group.parquet_columns() {
            let location = Location {
                column: chunk.descriptor().path_in_schema.join("."),
                row_group,
                page: 0,
            };
            verify_chunk(path, &mut reader, chunk.byte_range(), chunk.num_values(), location)?;
        }
    }
    Ok(())
}

/// Where a page is: its column (dotted path for nested columns), row group and page, all counted from 0;
/// the pages of a column chunk are counted in file order, a dictionary page included.
struct Location {
    column: String,
    row_group: usize,
    page: usize,
}

/// Checks the pages of one column chunk, which spans `range` of the file and holds `num_values` values.
fn verify_chunk(
    path: &Path,
    reader: &mut BufReader<File>,
    range: std::ops::Range<u64>,
    num_values: i64,
    mut at: Location,
) -> Result<(), InputError> {
    let damaged = |at: &Location, problem: String| InputError::Unreadable {
        path: path.to_path_buf(),
        message: format!(
            "column `{}`, row group {}, page {}: {problem} (the file is damaged; re-export it)",
            at.column, at.row_group, at.page
        ),
    };
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    reader.seek(SeekFrom::Start(range.start)).map_err(io)?;
    let mut position = range.start;
    let mut seen = 0i64;
    while seen < num_values {
        let chunk_left = range.end.saturating_sub(position);
        let header = {
            let mut protocol = TCompactInputProtocol::new(&mut *reader, chunk_left as usize);
            PageHeader::read_from_in_protocol(&mut protocol)
                .map_err(|e| damaged(&at, format!("the page header cannot be read ({e})")))?
        };
        position = reader.stream_position().map_err(io)?;
        let size = u64::try_from(header.compressed_page_size)
            .map_err(|_| damaged(&at, format!("negative page size {}", header.compressed_page_size)))?;
        if position + size > range.end {
            return Err(damaged(&at, "the page runs past its column chunk".to_string()));
        }
        match header.crc {
            Some(expected) => {
                let actual = crc32(reader, size).map_err(|e| match e.kind() {
                    ErrorKind::UnexpectedEof => damaged(&at, "the page runs past the end of the file".to_string()),
                    _ => io(e),
                })?;
                // The header stores the CRC's 32 bits as a signed integer.
                if actual != expected as u32 {
                    return Err(InputError::Checksum {
                        path: path.to_path_buf(),
                        column: at.column,
                        row_group: at.row_group,
                        page: at.page,
                    });
                }
            }
            None => reader.seek_relative(size as i64).map_err(io)?,
        }
        position += size;
        seen += match header.type_ {
            PageType::DATA_PAGE => header.data_page_header.map_or(0, |h| h.num_values),
            PageType::DATA_PAGE_V2 => header.data_page_header_v2.map_or(0, |h| h.num_values),
            _ => 0,
        } as i64;
        at.page += 1;
    }
    Ok(())
}

/// The CRC-32 (IEEE, as zlib computes it) of the next `len` bytes of `reader`.
fn crc32(reader: &mut impl Read, mut len: u64) -> std::io::Result<u32> {
    let mut hasher = crc32fast::Hasher::new();
    let mut buffer = [0u8; 64 * 1024];
    while len > 0 {
        let n = len.min(buffer.len() as u64) as usize;
        reader.read_exact(&mut buffer[..n])?;
        hasher.update(&buffer[..n]);
        len -= n as u64;
    }
    Ok(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/parquet_crc")
            .join(name)
    }

    #[test]
    fn an_intact_file_with_checksums_passes() {
        verify(&fixture("events.parquet")).unwrap();
    }

    #[test]
    fn a_flipped_bit_in_a_data_page_names_its_column_row_group_and_page() {
        let err = verify(&fixture("events-damaged.parquet")).unwrap_err();
        match &err {
            InputError::Checksum {
                column,
                row_group,
                page,
                ..
            } => assert_eq!((column.as_str(), *row_group, *page), ("timestamp", 0, 3), "{err}"),
            _ => panic!("not a checksum error: {err}"),
        }
    }

    #[test]
    fn a_file_without_checksums_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.parquet");
        let mut frame = df!("a" => [1i64, 2, 3], "b" => ["x", "y", "z"]).unwrap();
        ParquetWriter::new(File::create(&path).unwrap())
            .finish(&mut frame)
            .unwrap();
        verify(&path).unwrap();
    }

    #[test]
    fn the_checksum_is_crc32_as_zlib_computes_it() {
        let mut bytes: &[u8] = b"123456789";
        assert_eq!(crc32(&mut bytes, 9).unwrap(), 0xCBF4_3926);
    }
}
