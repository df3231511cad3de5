//! The training matrix as per-feature bins.

use ndarray::parallel::prelude::*;
use ndarray::{ArrayView2, Axis};
use rayon::slice::ParallelSlice;

use crate::matrix::Value;

use super::{BoostError, BIN_SAMPLE_ROWS, CHUNK_ROWS};

/// The training matrix as bins, column-major.
pub(super) struct Binned {
    /// Rows.
    pub(super) rows: usize,
    /// Bin of every value: column `j` is `bins[j * rows..(j + 1) * rows]`.
    pub(super) bins: Vec<u8>,
    /// Per feature, the increasing cuts: bin `b` holds the values in `(cuts[b − 1], cuts[b]]`.
    pub(super) cuts: Vec<Vec<f64>>,
    /// Per feature, the rows in each bin.
    pub(super) counts: Vec<[u32; 256]>,
}

impl Binned {
    /// Cuts every feature into at most `max_bins` bins and bins the matrix (rows in parallel chunks, then
    /// columns in parallel), failing on the first value, in row-major order, that is not finite.
    pub(super) fn new<A: Value>(x: ArrayView2<A>, max_bins: usize) -> Result<Binned, BoostError> {
        let (n, d) = x.dim();
        let sample = x.slice(ndarray::s![..;n.div_ceil(BIN_SAMPLE_ROWS), ..]);
        let cuts: Vec<Vec<f64>> = (0..d)
            .into_par_iter()
            .map(|j| {
                bin_cuts(
                    sample
                        .column(j)
                        .iter()
                        .map(|&v| v.into())
                        .filter(|v: &f64| v.is_finite())
                        .collect(),
                    max_bins,
                )
            })
            .collect();
        // Each chunk of rows writes its part of every column: disjoint slices of the column-major bins.
        let mut bins = vec![0u8; n * d];
        let mut parts: Vec<Vec<&mut [u8]>> = (0..n.div_ceil(CHUNK_ROWS)).map(|_| Vec::with_capacity(d)).collect();
        for column in bins.chunks_mut(n) {
            for (part, slice) in parts.iter_mut().zip(column.chunks_mut(CHUNK_ROWS)) {
                part.push(slice);
            }
        }
        let chunks: Vec<Result<(), BoostError>> = parts
            .into_par_iter()
            .zip(x.axis_chunks_iter(Axis(0), CHUNK_ROWS))
            .enumerate()
            .map(|(chunk, (mut columns, rows))| {
                for (r, row) in rows.rows().into_iter().enumerate() {
                    for (column, ((&v, cuts), out)) in row.iter().zip(&cuts).zip(columns.iter_mut()).enumerate() {
                        let v: f64 = v.into();
                        if !v.is_finite() {
                            let row = chunk * CHUNK_ROWS + r;
                            return Err(BoostError::NotFinite { row, column });
                        }
                        out[r] = bin_of(cuts, v);
                    }
                }
                Ok(())
            })
            .collect();
        chunks.into_iter().collect::<Result<(), _>>()?;
        let counts = bins
            .par_chunks(n)
            .map(|column| {
                let mut counts = [0; 256];
                column.iter().for_each(|&bin| counts[usize::from(bin)] += 1);
                counts
            })
            .collect();
        Ok(Binned {
            rows: n,
            bins,
            cuts,
            counts,
        })
    }

    /// The bins of column `j`.
    pub(super) fn column(&self, j: usize) -> &[u8] {
        &self.bins[j * self.rows..(j + 1) * self.rows]
    }
}

/// The bin of a value: the number of cuts below it, so `bin_of(v) <= b` iff `v <= cuts[b]`.
fn bin_of(cuts: &[f64], v: f64) -> u8 {
    cuts.partition_point(|&cut| cut < v) as u8
}

/// At most `max_bins − 1` increasing cuts for a feature's (finite) sample values: between every two
/// neighbouring distinct values if there are at most `max_bins`, else greedily closing a bin once it holds
/// its share of the rows not yet binned.
fn bin_cuts(mut values: Vec<f64>, max_bins: usize) -> Vec<f64> {
    values.sort_unstable_by(f64::total_cmp);
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for v in values {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| midpoint(w[0].0, w[1].0)).collect();
    }
    let mut remaining: usize = distinct.iter().map(|&(_, count)| count).sum();
    let mut in_bin = 0;
    let mut cuts = Vec::with_capacity(max_bins - 1);
    for w in distinct.windows(2) {
        in_bin += w[0].1;
        if in_bin * (max_bins - cuts.len()) >= remaining {
            cuts.push(midpoint(w[0].0, w[1].0));
            remaining -= in_bin;
            in_bin = 0;
            if cuts.len() + 1 == max_bins {
                break;
            }
        }
    }
    cuts
}

/// A cut `t` with `a <= t < b`: halfway, or `a` when rounding leaves no room between them.
fn midpoint(a: f64, b: f64) -> f64 {
    let m = a * 0.5 + b * 0.5;
    if a < m && m < b {
        m
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_at_a_cut_stays_in_the_lower_bin() {
        let cuts = bin_cuts(vec![3.0, 1.0, 2.0, 2.0, 1.0, f64::MAX, 1.0 + f64::EPSILON], 255);
        assert_eq!(cuts, vec![1.0, 1.5, 2.5, 3.0 * 0.5 + f64::MAX * 0.5]);
        for (b, &cut) in cuts.iter().enumerate() {
            assert_eq!(usize::from(bin_of(&cuts, cut)), b);
            let above = f64::from_bits(cut.to_bits() + 1); // the next float (cuts here are positive)
            assert_eq!(usize::from(bin_of(&cuts, above)), b + 1);
        }
        assert_eq!(bin_of(&cuts, f64::MIN), 0);
        assert_eq!(bin_of(&cuts, f64::MAX), 4);
    }

    #[test]
    fn many_distinct_values_get_quantile_bins_and_a_heavy_value_its_own() {
        // Half zeros, then 1..=10,000: the zeros fill the first bin, the rest share the others evenly.
        let values: Vec<f64> = (0..10_000).map(|_| 0.0).chain((1..=10_000).map(f64::from)).collect();
        let cuts = bin_cuts(values, 11);
        assert_eq!(cuts.len(), 10);
        assert_eq!(cuts[0], 0.5);
        assert_eq!(cuts[1], 1000.5);
        assert_eq!(cuts[9], 9000.5);
    }
}
