//! What a command shows besides its files: progress bars on a terminal (never in a pipe or a log), notes
//! on stderr, results on stdout, and `tracing` logs with `-v`. `--quiet` keeps only errors.

use std::fmt::Display;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Output settings of one run.
pub struct Ui {
    quiet: bool,
}

impl Ui {
    /// Sets up output, and logs at warn level, or info, debug, trace with `-v`, `-vv`, `-vvv`.
    pub fn new(quiet: bool, verbose: u8) -> Ui {
        let level = match (quiet, verbose) {
            (true, _) => tracing::Level::ERROR,
            (false, 0) => tracing::Level::WARN,
            (false, 1) => tracing::Level::INFO,
            (false, 2) => tracing::Level::DEBUG,
            (false, _) => tracing::Level::TRACE,
        };
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
        Ui { quiet }
    }

    /// A line on stderr about how the work went.
    pub fn note(&self, text: impl Display) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// A result on stdout.
    pub fn result(&self, text: impl Display) {
        if !self.quiet {
            println!("{text}");
        }
    }

    /// A spinner with the elapsed time, for a step of unknown length.
    fn spinner(&self, message: &'static str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        bar.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"));
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// A bar over `len` steps.
    fn bar(&self, len: usize, message: &'static str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(len as u64), self.target());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message(message);
        bar
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.quiet {
            ProgressDrawTarget::hidden()
        } else {
            // Hidden by indicatif itself when stderr is not a terminal.
            ProgressDrawTarget::stderr()
        }
    }
}

impl pql_pipeline::Progress for Ui {
    fn inputs(&self, report: &pql_features::InputReport) {
        self.note(crate::text::report_text(report).trim_end());
    }

    fn note(&self, text: &str) {
        Ui::note(self, text);
    }

    fn warn(&self, text: &str) {
        tracing::warn!("{text}");
    }

    fn step(&self, what: &'static str, steps: Option<usize>) -> Box<dyn pql_pipeline::Step> {
        Box::new(Step(match steps {
            Some(len) => self.bar(len, what),
            None => self.spinner(what),
        }))
    }
}

/// A spinner or a bar, cleared when its step is done or dropped.
struct Step(ProgressBar);

impl pql_pipeline::Step for Step {
    fn advance(&self) {
        self.0.inc(1);
        if self.0.position() == self.0.length().unwrap_or(0) {
            self.0.finish_and_clear();
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
