//! End-to-end tests: they run the real `pql` binary on fixture data in temporary folders.

mod contract;
mod features;
mod generate;
mod notebooks;
mod report;
mod retrain;
mod score;
mod train;
mod util;
