//! Events that do not arrive in per-account time order, put in that order in bounded memory.
//!
//! Each event goes to one of [`BUCKETS`] buckets by its account (contiguous ranges of the account index, so
//! the buckets in turn hold the accounts in order). While the buffered events exceed [`BUFFER_BYTES`], the
//! buckets are appended to temporary files (in `TMPDIR`). At the end each bucket is read back whole, sorted
//! by account and time (a stable sort: events at the same instant keep their file order) and replayed. Peak
//! memory is the buffer plus the largest bucket, not the history; a history that fits the buffer never
//! touches the disk.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::ops::Range;
use std::path::PathBuf;

use rayon::slice::ParallelSliceMut;

/// Buckets of accounts.
pub(crate) const BUCKETS: usize = 64;
/// Buffered events (in bytes of [`Event`] records) above which the buckets are spilled to disk.
pub(crate) const BUFFER_BYTES: usize = 256 << 20;
/// The bytes of one spilled event.
const RECORD: usize = 28;

/// One event kept by the screening, with its account index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Event {
    pub acc: u32,
    pub user: u32,
    pub ev: u32,
    pub ts: i64,
    pub value: f64,
}

impl Event {
    fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&self.acc.to_le_bytes())?;
        out.write_all(&self.user.to_le_bytes())?;
        out.write_all(&self.ev.to_le_bytes())?;
        out.write_all(&self.ts.to_le_bytes())?;
        out.write_all(&self.value.to_le_bytes())
    }

    fn read(record: &[u8]) -> Event {
        let u32_at = |i: usize| u32::from_le_bytes(record[i..i + 4].try_into().expect("4 bytes"));
        let bytes8 = |i: usize| -> [u8; 8] { record[i..i + 8].try_into().expect("8 bytes") };
        Event {
            acc: u32_at(0),
            user: u32_at(4),
            ev: u32_at(8),
            ts: i64::from_le_bytes(bytes8(12)),
            value: f64::from_le_bytes(bytes8(20)),
        }
    }
}

/// Events gathered in any order, replayed in per-account time order.
pub(crate) struct Reorder {
    accounts: u32,
    /// Accounts per bucket.
    per_bucket: u32,
    /// Events per bucket.
    counts: Vec<u64>,
    buffered: Vec<Vec<Event>>,
    buffered_events: usize,
    buffer_events: usize,
    /// The spill directory and each bucket's file, once the buffer has overflowed.
    spilled: Option<(tempfile::TempDir, Vec<PathBuf>)>,
}

impl Reorder {
    /// A reorder for `accounts` accounts, spilling above `buffer_bytes` of buffered events.
    pub fn new(accounts: usize, buffer_bytes: usize) -> Self {
        Reorder {
            accounts: accounts as u32,
            per_bucket: accounts.div_ceil(BUCKETS).max(1) as u32,
            counts: vec![0; BUCKETS],
            buffered: vec![Vec::new(); BUCKETS],
            buffered_events: 0,
            buffer_events: (buffer_bytes / RECORD).max(1),
            spilled: None,
        }
    }

    /// Takes one event.
    pub fn push(&mut self, event: Event) -> std::io::Result<()> {
        let bucket = (event.acc / self.per_bucket) as usize;
        self.buffered[bucket].push(event);
        self.counts[bucket] += 1;
        self.buffered_events += 1;
        if self.buffered_events >= self.buffer_events {
            self.spill()?;
        }
        Ok(())
    }

    /// Runs of buckets in order, each holding at most `events` events unless one bucket alone has more.
    pub fn ranges(&self, events: u64) -> Vec<Range<usize>> {
        let mut ranges: Vec<Range<usize>> = Vec::new();
        let mut held = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            match ranges.last_mut() {
                Some(range) if held + count <= events => {
                    range.end = bucket + 1;
                    held += count;
                }
                _ => {
                    ranges.push(bucket..bucket + 1);
                    held = count;
                }
            }
        }
        ranges
    }

    /// The account indices of a run of buckets.
    pub fn accounts_of(&self, buckets: Range<usize>) -> Range<u32> {
        let bound = |bucket: usize| (bucket as u32).saturating_mul(self.per_bucket).min(self.accounts);
        bound(buckets.start)..bound(buckets.end)
    }

    /// Appends every buffered bucket to its file, so that memory holds none of its events.
    pub fn spill(&mut self) -> std::io::Result<()> {
        if self.spilled.is_none() {
            let dir = tempfile::Builder::new().prefix("pql-events-").tempdir()?;
            let files = (0..BUCKETS).map(|b| dir.path().join(format!("{b}.bin"))).collect();
            self.spilled = Some((dir, files));
        }
        let (_, files) = self.spilled.as_ref().expect("created above");
        for (events, path) in self.buffered.iter_mut().zip(files) {
            if events.is_empty() {
                continue;
            }
            let file = File::options().create(true).append(true).open(path)?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            for event in events.iter() {
                event.write(&mut out)?;
            }
            out.flush()?;
            events.clear();
        }
        self.buffered_events = 0;
        Ok(())
    }

    /// Calls `visit` on every event of the buckets, ordered by account, then time, then arrival.
    pub fn replay(&self, buckets: Range<usize>, mut visit: impl FnMut(&Event)) -> std::io::Result<()> {
        for bucket in buckets {
            let mut events = Vec::new();
            if let Some((_, files)) = &self.spilled {
                match File::open(&files[bucket]) {
                    Ok(file) => {
                        let mut bytes = Vec::new();
                        BufReader::new(file).read_to_end(&mut bytes)?;
                        events.reserve(bytes.len() / RECORD + self.buffered[bucket].len());
                        events.extend(bytes.chunks_exact(RECORD).map(Event::read));
                    }
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {} // never spilled to
                    Err(err) => return Err(err),
                }
            }
            events.extend_from_slice(&self.buffered[bucket]);
            events.par_sort_by_key(|e| (e.acc, e.ts));
            events.iter().for_each(&mut visit);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrambled(n: u32, accounts: u32) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mixed = i.wrapping_mul(2_654_435_761);
                Event {
                    acc: mixed % accounts,
                    user: i,
                    ev: mixed % 7,
                    ts: i64::from(mixed % 50),
                    value: f64::from(i) / 3.0,
                }
            })
            .collect()
    }

    fn replayed(events: &[Event], accounts: u32, buffer_bytes: usize) -> (Vec<Event>, bool) {
        let mut reorder = Reorder::new(accounts as usize, buffer_bytes);
        for &event in events {
            reorder.push(event).unwrap();
        }
        let spilled = reorder.spilled.is_some();
        let mut out = Vec::new();
        reorder.replay(0..BUCKETS, |e| out.push(*e)).unwrap();
        (out, spilled)
    }

    #[test]
    fn spilled_events_come_back_in_account_time_and_arrival_order() {
        let events = scrambled(20_000, 300);
        let mut expected = events.clone();
        expected.sort_by_key(|e| (e.acc, e.ts)); // stable: arrival order within an instant
        let (in_memory, spilled) = replayed(&events, 300, usize::MAX);
        assert!(!spilled);
        assert_eq!(in_memory, expected);
        let (on_disk, spilled) = replayed(&events, 300, 1000 * RECORD);
        assert!(spilled);
        assert_eq!(
            on_disk, expected,
            "every value survives the round trip through the files"
        );
    }

    #[test]
    fn runs_of_buckets_cover_every_account_once_within_the_bound() {
        let accounts = 1000;
        let mut reorder = Reorder::new(accounts as usize, usize::MAX);
        for event in scrambled(50_000, accounts) {
            reorder.push(event).unwrap();
        }
        let ranges = reorder.ranges(10_000);
        assert!(ranges.len() >= 5, "{ranges:?}");
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, BUCKETS);
        let mut replayed = Vec::new();
        let mut next_account = 0;
        for range in ranges {
            let accounts_range = reorder.accounts_of(range.clone());
            assert_eq!(accounts_range.start, next_account, "contiguous account ranges");
            next_account = accounts_range.end;
            let mut events = 0;
            reorder
                .replay(range, |e| {
                    assert!(accounts_range.contains(&e.acc));
                    events += 1;
                    replayed.push(*e);
                })
                .unwrap();
            assert!(events <= 10_000);
        }
        assert_eq!(next_account, accounts);
        let mut expected = scrambled(50_000, accounts);
        expected.sort_by_key(|e| (e.acc, e.ts));
        assert_eq!(replayed, expected, "the runs replay every event once, in order");
    }

    #[test]
    fn a_single_account_and_more_buckets_than_accounts_are_handled() {
        for accounts in [1, 3] {
            let events = scrambled(500, accounts);
            let mut expected = events.clone();
            expected.sort_by_key(|e| (e.acc, e.ts));
            assert_eq!(replayed(&events, accounts, 10 * RECORD).0, expected);
        }
    }
}
