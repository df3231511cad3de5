//! The pql data contract: the typed `pql.toml` configuration, validated reading of the events, accounts
//! and conversions tables from Parquet, CSV or NDJSON, and atomic output.
//!
//! ```no_run
//! let config = pql_data::Config::load("data/sample/pql.toml")?;
//! let data = pql_data::Dataset::read(&config)?;
//! println!("{} events", data.events.height());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod config;
pub mod error;
pub mod input;
pub mod output;
mod parquet_check;
pub mod summary;

pub use config::{Config, RawConfig};
pub use error::{ConfigError, InputError, OutputError};
pub use input::Dataset;
pub use output::{write_atomically, write_frame, FrameWriter};
pub use summary::InputSummary;
