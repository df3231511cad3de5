//! The `pql` command: parses arguments ([`flags`]), calls the workflows of `pql-pipeline` and prints their
//! results ([`text`]). Any failure ends with a one-line cause on stderr and exit code 1.

mod flags;
mod text;
mod ui;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use flags::{Cli, Command};
use pql_data::Config;
use pql_features::{Snapshots, Vocabulary};
use pql_pipeline::score::{load_model, FeatureInput};
use pql_pipeline::{features, quickstart, report, retrain, score, sql, train};
use ui::Ui;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ui = Ui::new(cli.quiet, cli.verbose);
    match run(cli.command, &ui) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error_text(&err));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, leaving out a cause its error already says (library errors often
/// include their source's message, e.g. `cannot read x: No such file or directory (os error 2)`).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// The snapshots of `--as-of` or `--from/--to`.
fn snapshots(args: &flags::SnapshotArgs) -> anyhow::Result<Snapshots> {
    args.snapshots().context("give --as-of DATE or --from DATE --to DATE")
}

fn run(command: Command, ui: &Ui) -> anyhow::Result<()> {
    match command {
        Command::Generate {
            accounts,
            seed,
            out,
            format,
            start,
            weeks,
            horizon_days,
            shift_on,
        } => {
            let mut params = pql_generate::GeneratorParams::new(accounts);
            if let Some(date) = shift_on {
                params = params.shift_on(date);
            }
            let params = params
                .seed(seed)
                .start(start)
                .weeks(weeks)
                .horizon_days(horizon_days)
                .format(format.into())
                .check()?;
            let simulating = pql_pipeline::Progress::step(ui, "simulating accounts", None);
            let summary = pql_generate::generate(&params, &out)?;
            drop(simulating);
            ui.result(text::generated(&summary, horizon_days));
        }
        Command::Features {
            config,
            out,
            snapshots: dates,
            describe,
            model,
        } => {
            let config = Config::load(&config)?;
            let vocabulary = match model {
                Some(model) => {
                    // The features are for this model: refused if the config changed what they mean.
                    let artifact = pql_train::Artifact::load(&model)?;
                    pql_score::Scorer::for_config(&artifact, &config)?;
                    Some(Vocabulary::of_defs(&artifact.features))
                }
                None => None,
            };
            if describe {
                print!("{}", text::dictionary(&pql_features::describe(&config)?));
                return Ok(());
            }
            let out = out.context("--out is required")?;
            let written = features::write(ui, &config, &snapshots(&dates)?, vocabulary.as_ref(), &out)?;
            ui.result(text::features_written(&written, &out));
        }
        Command::Train {
            config,
            out,
            features,
            from,
            to,
            training,
        } => {
            let source = match features {
                Some(path) => train::TrainingSource::Table(path),
                None => train::TrainingSource::Events {
                    from,
                    to,
                    known_at: None,
                },
            };
            let trained = train::train(ui, &config, &source, training.params(), &out)?;
            ui.result(text::trained(&trained));
        }
        Command::Score {
            config,
            model,
            as_of,
            features,
            out,
            threshold,
            top,
            previous,
            strict,
        } => {
            let policy = flags::tier_policy(threshold, top.as_deref())?;
            let artifact = load_model(&model)?;
            let input = match (features, config, as_of) {
                (Some(path), _, as_of) => FeatureInput::Table { path, as_of },
                (None, Some(config), Some(as_of)) => FeatureInput::Events {
                    config: Box::new(Config::load(&config)?),
                    as_of,
                    strict,
                },
                _ => anyhow::bail!("give --config and --as-of, or --features"),
            };
            let scored = score::score(ui, &artifact, input, &policy, previous.as_deref(), &out)?;
            ui.result(text::scored(&scored, &artifact, &out));
        }
        Command::Explain {
            model,
            account,
            as_of,
            config,
            features,
        } => {
            let artifact = load_model(&model)?;
            let (Some(account), Some(as_of)) = (account, as_of) else {
                print!("{}", text::importances(&artifact));
                return Ok(());
            };
            let input = match (features, config) {
                (Some(path), _) => FeatureInput::Table {
                    path,
                    as_of: Some(as_of),
                },
                (None, Some(config)) => FeatureInput::Events {
                    config: Box::new(Config::load(&config)?),
                    as_of,
                    strict: false,
                },
                (None, None) => anyhow::bail!("give --config or --features to compute the account's features"),
            };
            let explanation = score::explain(ui, &artifact, input, &account)?;
            let as_of = as_of.to_string();
            print!("{}", text::explanation(&account, &as_of, &artifact, &explanation));
        }
        Command::Report { model, scores, out } => {
            let artifact = load_model(&model)?;
            let bytes = report::write(&artifact, scores.as_deref(), &out)?;
            ui.result(format!(
                "report of model {} written to {} ({} KiB)",
                artifact.model_id,
                out.display(),
                bytes.div_ceil(1024)
            ));
        }
        Command::Sql {
            config,
            dialect,
            model,
            snapshots: dates,
            tables,
            features_table,
            input_report,
            out,
        } => {
            // The relation names first: they are checked before anything is read.
            let features_table = features_table
                .map(|name| pql_sql::Relation::parse(&name).with_context(|| format!("--features-table {name:?}")))
                .transpose()?;
            let tables = flags::tables(&tables)?;
            let artifact = model.as_deref().map(load_model).transpose()?;
            let config = config.map(Config::load).transpose()?;
            let snapshots = match (&config, &features_table, input_report) {
                (Some(_), None, false) => Some(snapshots(&dates)?),
                _ => None,
            };
            let request = match (&features_table, &config, &snapshots) {
                (Some(features), _, _) => sql::Request::Scores {
                    model: artifact.as_ref().context("--features-table needs --model")?,
                    features,
                },
                (None, Some(config), None) => sql::Request::InputReport {
                    config,
                    tables: &tables,
                },
                (None, Some(config), Some(snapshots)) => sql::Request::Features {
                    config,
                    snapshots,
                    model: artifact.as_ref(),
                    tables: &tables,
                },
                (None, None, _) => anyhow::bail!("give --config (features) or --features-table (scores only)"),
            };
            let script = sql::script(request, dialect.into())?;
            match out {
                Some(path) => {
                    pql_data::write_atomically(&path, |file| file.write_all(script.sql.as_bytes()))?;
                    ui.result(format!("{} written to {}", script.kind, path.display()));
                }
                None => print!("{}", script.sql),
            }
        }
        Command::Quickstart { out, config } => {
            ui.result(text::quickstart(&quickstart::run(ui, &config, &out)?));
        }
        Command::Retrain {
            config,
            models,
            as_of,
            margin,
            max_ece,
            json,
            training,
        } => {
            let comparison = retrain::Comparison { margin, max_ece };
            let retrained = retrain::retrain(ui, &config, &models, as_of, &comparison, training.params())?;
            if json {
                println!("{}", text::retrained_json(&retrained, &models));
            } else {
                ui.result(text::trained(&retrained.challenger));
                ui.result(text::retrained(&retrained, &models));
            }
        }
        Command::Drift { model, config, as_of } => {
            let artifact = load_model(&model)?;
            let config = Config::load(&config)?;
            let drift = score::drift(ui, &artifact, &config, as_of)?;
            print!("{}", text::drift(&drift, &config.drift));
        }
        Command::Models { models, promote } => {
            let registry = match promote {
                None => pql_train::registry::Registry::load(&models)?,
                Some(id) => train::promote(ui, &models, &id)?,
            };
            print!("{}", text::registry(&registry));
        }
        Command::Check { config } => {
            let checked = pql_pipeline::check::check(&Config::load(&config)?)?;
            print!("{}\n{}", checked.summary, text::report_text(&checked.report));
            for warning in checked.warnings {
                println!("warning: {warning}");
            }
        }
    }
    Ok(())
}
