//! End-to-end tests: they run the real `pql` binary on fixture data in temporary folders.

mod contract;
mod features;
mod generate;
mod inputs;
mod notebooks;
mod registry;
mod report;
mod retrain;
mod score;
mod sql;
mod train;
mod util;
