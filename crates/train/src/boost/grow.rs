//! Growing one tree leaf-wise from gradient histograms.

use std::ops::{Add, Range, Sub};

use ndarray::parallel::prelude::*;
use rayon::slice::{ParallelSlice, ParallelSliceMut};

use super::bins::Binned;
use super::tree::{Node, Tree};
use super::{BoostParams, BLOCK_ROWS, CHUNK_ROWS, GROUP};

/// Sums of gradients, hessians and rows over a histogram bin or a leaf.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    g: f64,
    h: f64,
    n: u32,
}

impl Add for Sums {
    type Output = Sums;
    fn add(self, other: Sums) -> Sums {
        Sums {
            g: self.g + other.g,
            h: self.h + other.h,
            n: self.n + other.n,
        }
    }
}

impl Sub for Sums {
    type Output = Sums;
    fn sub(self, other: Sums) -> Sums {
        Sums {
            g: self.g - other.g,
            h: self.h - other.h,
            n: self.n - other.n,
        }
    }
}

/// Adds rows to the histograms of a group of features; counts the rows only if `COUNT` (the root's counts
/// are known from the start).
#[inline(always)]
fn fill<const COUNT: bool>(hist: &mut [[Sums; 256]; GROUP], columns: [&[u8]; GROUP], rows: &[u32], pairs: &[[f32; 2]]) {
    for (&row, &[g, h]) in rows.iter().zip(pairs) {
        let (g, h) = (f64::from(g), f64::from(h));
        for (bins, column) in hist.iter_mut().zip(columns) {
            let sums = &mut bins[usize::from(column[row as usize])];
            sums.g += g;
            sums.h += h;
            if COUNT {
                sums.n += 1;
            }
        }
    }
}

/// Per group of [`GROUP`] features, per feature, the sums of each of the 256 possible bins (a last,
/// short group has unused entries).
type Histogram = Vec<[[Sums; 256]; GROUP]>;

/// The best split of a leaf: rows with a bin `<= bin` of `feature` go left.
#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    bin: u8,
    gain: f64,
    left: Sums,
}

/// A leaf of the tree being grown: its node, its rows `rows[range]`, their sums, and, while it can still
/// be split, its histogram and best split.
struct Growing {
    node: usize,
    range: Range<usize>,
    sums: Sums,
    split: Option<(Histogram, Split)>,
}

/// The leaves of a grown tree: each one's rows (a range of [`Grower::rows`]) and value.
type LeafRows = Vec<(Range<usize>, f64)>;

/// Grows trees on one binned matrix, reusing its buffers.
pub(super) struct Grower<'a> {
    params: &'a BoostParams,
    data: &'a Binned,
    /// Row indices, each leaf's rows contiguous and increasing after a tree is grown.
    pub(super) rows: Vec<u32>,
}

impl<'a> Grower<'a> {
    pub(super) fn new(params: &'a BoostParams, data: &'a Binned) -> Self {
        Grower {
            params,
            data,
            rows: Vec::with_capacity(data.rows),
        }
    }

    /// Grows one tree on the gradient pairs of all rows. Returns it with each leaf's rows (a range of
    /// [`Grower::rows`]) and value, or `None` when the root has no valid split.
    pub(super) fn grow(&mut self, gradients: &[[f32; 2]]) -> Option<(Tree, LeafRows)> {
        let params = self.params;
        self.rows.clear();
        self.rows.extend(0..self.data.rows as u32);
        let hist = self.histogram(gradients, 0..self.data.rows);
        let sums = hist.first()?[0].iter().fold(Sums::default(), |total, &bin| total + bin);
        let root_split = self.best_split(&hist, sums)?;
        let mut nodes = vec![Node::Leaf { value: 0.0, rows: 0 }];
        let mut leaves = vec![Growing {
            node: 0,
            range: 0..self.data.rows,
            sums,
            split: Some((hist, root_split)),
        }];
        while leaves.len() < params.max_leaves {
            // The leaf with the largest gain; ties go to the first.
            let pick = leaves
                .iter()
                .enumerate()
                .filter_map(|(k, leaf)| leaf.split.as_ref().map(|(_, split)| (k, split.gain)))
                .reduce(|best, next| if next.1 > best.1 { next } else { best });
            let Some((k, _)) = pick else { break };
            let leaf = &mut leaves[k];
            let Some((mut hist, split)) = leaf.split.take() else {
                break;
            };
            let (node, range, sums) = (leaf.node, leaf.range.clone(), leaf.sums);
            let middle = range.start + self.partition(range.clone(), split.feature, split.bin);
            let first = nodes.len();
            nodes[node] = Node::Split {
                feature: split.feature,
                threshold: self.data.cuts[split.feature][usize::from(split.bin)],
                left: first,
                right: first + 1,
                gain: split.gain,
                rows: sums.n,
            };
            nodes.extend([Node::Leaf { value: 0.0, rows: 0 }; 2]);
            let children = [
                (range.start..middle, split.left),
                (middle..range.end, sums - split.left),
            ];
            // Histograms only for children that may still split: the smaller child's from its rows, the
            // larger's as the parent's minus it.
            let may_split = leaves.len() + 1 < params.max_leaves;
            let open = children.each_ref().map(|(_, sums)| may_split && self.splittable(*sums));
            let small = usize::from(children[1].1.n < children[0].1.n);
            let mut hists = [None, None];
            if open[0] || open[1] {
                let small_hist = self.histogram(gradients, children[small].0.clone());
                if open[1 - small] {
                    for (parent, &small) in hist
                        .iter_mut()
                        .flatten()
                        .flatten()
                        .zip(small_hist.iter().flatten().flatten())
                    {
                        *parent = *parent - small;
                    }
                    hists[1 - small] = Some(hist);
                }
                if open[small] {
                    hists[small] = Some(small_hist);
                }
            }
            let [left, right] = [0, 1].map(|c| {
                let (range, sums) = children[c].clone();
                let split = hists[c]
                    .take()
                    .and_then(|hist| self.best_split(&hist, sums).map(|split| (hist, split)));
                Growing {
                    node: first + c,
                    range,
                    sums,
                    split,
                }
            });
            leaves[k] = left;
            leaves.push(right);
        }
        let leaves = leaves
            .into_iter()
            .map(|leaf| {
                let value = -leaf.sums.g / (leaf.sums.h + params.l2) * params.learning_rate;
                nodes[leaf.node] = Node::Leaf {
                    value,
                    rows: leaf.sums.n,
                };
                (leaf.range, value)
            })
            .collect();
        Some((Tree { nodes }, leaves))
    }

    /// Whether a leaf with these sums has enough rows and hessian for two children.
    fn splittable(&self, sums: Sums) -> bool {
        sums.n as usize / 2 >= self.params.min_leaf_rows && sums.h >= 2.0 * self.params.min_leaf_hessian
    }

    /// The histogram of the leaf holding `rows[range]`. Its gradient pairs are first gathered in row
    /// order; then each unit of work, [`GROUP`] features over a block of [`BLOCK_ROWS`] rows, fills a small
    /// histogram of its own (the rows are read once for four features, whose sums do not wait on each
    /// other), in parallel; a group's blocks are added up in block order.
    fn histogram(&self, gradients: &[[f32; 2]], range: Range<usize>) -> Histogram {
        let rows = &self.rows[range];
        let gathered: Vec<[f32; 2]>;
        let root = rows.len() == self.data.rows; // every row, in order
        let pairs = if root {
            gradients
        } else {
            gathered = rows.par_iter().map(|&i| gradients[i as usize]).collect();
            &gathered
        };
        let d = self.data.cuts.len();
        let blocks = rows.len().div_ceil(BLOCK_ROWS);
        let mut units = vec![[[Sums::default(); 256]; GROUP]; d.div_ceil(GROUP) * blocks];
        units.par_iter_mut().enumerate().for_each(|(unit, hist)| {
            let (group, block) = (unit / blocks, unit % blocks);
            // A last, short group repeats its last feature; the copies are never read.
            let columns: [&[u8]; GROUP] = std::array::from_fn(|k| self.data.column((group * GROUP + k).min(d - 1)));
            let block = block * BLOCK_ROWS..((block + 1) * BLOCK_ROWS).min(rows.len());
            if root {
                fill::<false>(hist, columns, &rows[block.clone()], &pairs[block]);
            } else {
                fill::<true>(hist, columns, &rows[block.clone()], &pairs[block]);
            }
        });
        units.par_chunks_mut(blocks).for_each(|group| {
            let (first, rest) = group.split_at_mut(1);
            for block in rest {
                for (sums, &more) in first[0].iter_mut().flatten().zip(block.iter().flatten()) {
                    *sums = *sums + more;
                }
            }
        });
        let mut hist: Histogram = units.into_iter().step_by(blocks).collect();
        if root {
            for (j, bins) in hist.iter_mut().flatten().enumerate() {
                for (sums, &n) in bins.iter_mut().zip(&self.data.counts[j.min(d - 1)]) {
                    sums.n = n;
                }
            }
        }
        hist
    }

    /// The split of largest positive gain of a leaf with these sums, features in parallel; ties go to the
    /// lowest feature, then the lowest bin.
    fn best_split(&self, hist: &Histogram, sums: Sums) -> Option<Split> {
        let BoostParams {
            min_leaf_rows,
            min_leaf_hessian,
            l2,
            ..
        } = *self.params;
        let score = |s: Sums| s.g * s.g / (s.h + l2);
        let parent = score(sums);
        let features: Vec<&[Sums; 256]> = hist.iter().flatten().take(self.data.cuts.len()).collect();
        let per_feature: Vec<Option<Split>> = features
            .into_par_iter()
            .enumerate()
            .map(|(feature, bins)| {
                let mut best: Option<Split> = None;
                let mut left = Sums::default();
                for (bin, &sums_in_bin) in bins.iter().enumerate().take(self.data.cuts[feature].len()) {
                    left = left + sums_in_bin;
                    let right = sums - left;
                    if (right.n as usize) < min_leaf_rows {
                        break;
                    }
                    if (left.n as usize) < min_leaf_rows || left.h < min_leaf_hessian || right.h < min_leaf_hessian {
                        continue;
                    }
                    let gain = score(left) + score(right) - parent;
                    if gain > 0.0 && best.is_none_or(|b| gain > b.gain) {
                        best = Some(Split {
                            feature,
                            bin: bin as u8,
                            gain,
                            left,
                        });
                    }
                }
                best
            })
            .collect();
        per_feature
            .into_iter()
            .flatten()
            .reduce(|best, split| if split.gain > best.gain { split } else { best })
    }

    /// Stably partitions `rows[range]` into the rows with a bin `<= bin` of `feature`, then the others;
    /// returns how many go left. Fixed chunks run in parallel, branch-free (each row is written to both
    /// sides and one side advances), and are joined in order.
    fn partition(&mut self, range: Range<usize>, feature: usize, bin: u8) -> usize {
        let column = self.data.column(feature);
        let sides: Vec<(Vec<u32>, Vec<u32>)> = self.rows[range.clone()]
            .par_chunks(CHUNK_ROWS)
            .map(|rows| {
                let (mut left, mut right) = (vec![0; rows.len()], vec![0; rows.len()]);
                let (mut l, mut r) = (0, 0);
                for &row in rows {
                    let goes_left = column[row as usize] <= bin;
                    left[l] = row;
                    right[r] = row;
                    l += usize::from(goes_left);
                    r += usize::from(!goes_left);
                }
                left.truncate(l);
                right.truncate(r);
                (left, right)
            })
            .collect();
        let mut at = range.start;
        for part in sides
            .iter()
            .map(|(left, _)| left)
            .chain(sides.iter().map(|(_, right)| right))
        {
            self.rows[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        sides.iter().map(|(left, _)| left.len()).sum()
    }
}
