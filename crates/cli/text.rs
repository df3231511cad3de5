//! Text for people: the tables and summaries the commands print.

use std::fmt::Write;

/// What training found, for people: the data parts, each family on validation, the backtest, the top
/// features and the rule baselines.
pub fn training_report(artifact: &pql_train::Artifact) -> String {
    let mut out = String::new();
    let t = &artifact.training;
    for (name, part) in [
        ("fit", &t.fit),
        ("validation", &t.validation),
        ("refit (all)", &t.window),
    ] {
        let _ = writeln!(
            out,
            "{name:<12} {} .. {}  {:>3} snapshots  {:>9} rows  base rate {:.2}%",
            part.first,
            part.last,
            part.snapshots,
            part.rows,
            100.0 * part.base_rate
        );
    }
    let _ = writeln!(
        out,
        "\n{:<10} {:>8} {:>8} {:>8} {:>8}  settings",
        "family", "ROC AUC", "PR AUC", "log loss", "ECE"
    );
    for c in &artifact.candidates {
        let m = &c.validation;
        let settings = match c.settings {
            pql_train::model::Settings::Logistic { l2 } => format!("l2 {l2}"),
            pql_train::model::Settings::Boosted { params } => format!("{} trees", params.max_trees),
        };
        let _ = writeln!(
            out,
            "{:<10} {:>8.4} {:>8.4} {:>8.5} {:>8.4}  {settings} (raw, validation){}",
            c.settings.kind().to_string(),
            m.roc_auc,
            m.pr_auc,
            m.log_loss,
            m.ece,
            if m.no_better_than_chance() {
                "  NO BETTER THAN CHANCE"
            } else {
                ""
            }
        );
    }
    let m = &artifact.metrics;
    let _ = writeln!(
        out,
        "chosen: {} with {} calibration; validation lift@10% {:.2}, top 10% capture {:.1}%, top 20% {:.1}%",
        artifact.kind,
        artifact.calibration.name(),
        m.lift_at_10,
        100.0 * m.recall_at_10,
        100.0 * m.recall_at_20
    );
    if !artifact.backtest.is_empty() {
        let _ = writeln!(
            out,
            "\nbacktest    {:>9} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8}",
            "train", "rows", "ROC AUC", "PR AUC", "log loss", "ECE", "lift@10"
        );
        for b in &artifact.backtest {
            let m = &b.metrics;
            let _ = writeln!(
                out,
                "{:<11} {:>9} {:>9} {:>8.4} {:>8.4} {:>9.5} {:>8.4} {:>8.2}",
                b.as_of, b.train_rows, m.rows, m.roc_auc, m.pr_auc, m.log_loss, m.ece, m.lift_at_10
            );
        }
    }
    let mut top: Vec<&pql_train::importance::Importance> = artifact.importances.iter().collect();
    top.sort_by(|a, b| b.permutation.total_cmp(&a.permutation));
    let _ = writeln!(out, "\ntop features (drop in validation ROC AUC when shuffled, ± std)");
    for i in top.iter().take(10) {
        let _ = writeln!(
            out,
            "  {:<40} {:.4} ± {:.4}",
            i.feature, i.permutation, i.permutation_std
        );
    }
    if !artifact.rules.is_empty() {
        let _ = writeln!(
            out,
            "\nrule baselines on validation: flagged, rule precision/recall, model precision/recall at the same volume"
        );
        for r in &artifact.rules {
            let _ = writeln!(
                out,
                "  {:<24} {:>8}  rule {:>5.1}% / {:>5.1}%   model {:>5.1}% / {:>5.1}%",
                r.name,
                r.flagged,
                100.0 * r.rule_precision,
                100.0 * r.rule_recall,
                100.0 * r.model_precision,
                100.0 * r.model_recall
            );
        }
    }
    out.push('\n');
    out
}

/// The feature dictionary as an aligned table.
pub fn dictionary(defs: &[pql_features::FeatureDef]) -> String {
    let width = defs.iter().map(|d| d.name.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<width$}  {:<16} {:<7} {:<7}  description\n",
        "name", "family", "unit", "missing"
    );
    for def in defs {
        let _ = writeln!(
            out,
            "{:<width$}  {:<16} {:<7} {:<7}  {}",
            def.name,
            def.family.to_string(),
            def.unit.to_string(),
            def.missing.to_string(),
            def.description
        );
    }
    out
}

/// The input report as lines, naming only what happened.
pub fn report_text(report: &pql_features::InputReport) -> String {
    let mut text = format!(
        "read {} events, used {}; {} accounts; {} conversions\n",
        report.events_read, report.events_used, report.accounts, report.conversions_read
    );
    let skipped = [
        (report.ignored_events, "events ignored by the config"),
        (
            report.events_missing_values,
            "events with a missing account, event or timestamp (dropped)",
        ),
        (
            report.events_of_unknown_accounts,
            "events of accounts missing from the accounts table (dropped)",
        ),
        (
            report.events_before_signup,
            "events before their account's signup (dropped)",
        ),
        (report.duplicate_events, "duplicate events (dropped)"),
        (
            report.events_in_future,
            "events dated more than a day after this run's clock (dropped)",
        ),
        (
            report.conversions_of_unknown_accounts,
            "conversions of unknown accounts (dropped)",
        ),
        (report.repeated_conversions, "repeated conversions (the first counts)"),
        (
            report.conversions_before_signup,
            "accounts converted before signup (never eligible)",
        ),
        (
            report.conversions_after_observation_end,
            "conversions after the observation end (no label reaches them)",
        ),
    ];
    for (count, what) in skipped {
        if count > 0 {
            text.push_str(&format!("  {count} {what}\n"));
        }
    }
    text
}

pub fn human_bytes(bytes: u64) -> String {
    let mut value = bytes as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if value < 1024.0 || unit == "GiB" {
            return format!("{value:.1} {unit}");
        }
        value /= 1024.0;
    }
    unreachable!("the loop returns at GiB")
}

/// The model card and every feature's importance, most important first (`pql explain`).
pub fn importances(artifact: &pql_train::Artifact) -> String {
    let t = &artifact.training;
    let mut out = format!(
        "model {} ({}, pql {}), trained on {} .. {}: {} snapshots, {} rows, base rate {:.2}%, horizon {} days\n\
         validation ROC AUC {:.4}, log loss {:.5}, lift@10% {:.2}\n\n",
        artifact.model_id,
        artifact.kind,
        artifact.pql_version,
        t.window.first,
        t.window.last,
        t.window.snapshots,
        t.window.rows,
        100.0 * t.window.base_rate,
        t.horizon_days,
        artifact.metrics.roc_auc,
        artifact.metrics.log_loss,
        artifact.metrics.lift_at_10,
    );
    let mut rows: Vec<(&pql_train::importance::Importance, &pql_features::FeatureDef)> =
        artifact.importances.iter().zip(&artifact.features).collect();
    rows.sort_by(|a, b| b.0.permutation.total_cmp(&a.0.permutation));
    let width = rows.iter().map(|(i, _)| i.feature.len()).max().unwrap_or(7).max(7);
    let (label, detail): (&str, fn(&pql_train::importance::Importance) -> String) = match artifact.kind {
        pql_train::ModelKind::Logistic => ("coefficient ± se", |i| {
            format!(
                "{:+.4} ± {:.4}",
                i.coefficient.unwrap_or(f64::NAN),
                i.coefficient_se.unwrap_or(f64::NAN)
            )
        }),
        pql_train::ModelKind::Boosted => ("gain share", |i| {
            format!("{:.1}%", 100.0 * i.gain_share.unwrap_or(f64::NAN))
        }),
    };
    let _ = writeln!(
        out,
        "{:>4}  {:<width$}  {:>17}  {:>18}  description",
        "rank", "feature", "AUC drop ± std", label
    );
    for (rank, (i, def)) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>4}  {:<width$}  {:>8.4} ± {:<6.4}  {:>18}  {}",
            rank + 1,
            i.feature,
            i.permutation,
            i.permutation_std,
            detail(i),
            def.description
        );
    }
    out.push_str(
        "\nAUC drop: how much the validation ROC AUC falls when the feature's values are shuffled (mean ± std \
         over repeats).\n",
    );
    out
}

/// One account's score, feature by feature (`pql explain --account`).
pub fn explanation(account: &str, as_of: &str, artifact: &pql_train::Artifact, e: &pql_score::Explanation) -> String {
    let tier = if e.probability >= artifact.thresholds.pql_threshold {
        "hot (PQL)"
    } else if e.probability >= artifact.thresholds.warm_threshold {
        "warm"
    } else {
        "cold"
    };
    let total: f64 = e.contributions.iter().map(|c| c.log_odds).sum();
    let mut out = format!(
        "account {account} as of {as_of}: probability {:.4}, {tier} by the model's thresholds\n\
         log-odds {:+.4} = baseline {:+.4} + contributions {:+.4} (before calibration)\n\n",
        e.probability,
        e.baseline + total,
        e.baseline,
        total
    );
    let width = e
        .contributions
        .iter()
        .map(|c| c.feature.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let _ = writeln!(
        out,
        "{:<width$}  {:>12}  {:>10}  in words",
        "feature", "value", "log-odds"
    );
    for c in &e.contributions {
        let _ = writeln!(
            out,
            "{:<width$}  {:>12}  {:>+10.4}  {}",
            c.feature,
            format_value(c.value),
            c.log_odds,
            c.phrase
        );
    }
    out
}

fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e12 {
        format!("{value:.0}")
    } else {
        format!("{value:.4}")
    }
}

/// What a scoring run produced, in one paragraph.
pub fn score_summary(summary: &pql_score::Summary, policy: &str) -> String {
    let share = |n: usize| 100.0 * n as f64 / summary.rows.max(1) as f64;
    let mut out = format!(
        "scored {} eligible accounts: {} PQLs (hot, {:.1}%), {} warm ({:.1}%), {} cold; mean probability {:.2}%\n\
         tiers: {policy}",
        summary.rows,
        summary.hot,
        share(summary.hot),
        summary.warm,
        share(summary.warm),
        summary.cold,
        100.0 * summary.mean_probability
    );
    if let Some(cut) = summary.pql_cut {
        let _ = write!(out, "; lowest PQL probability {cut:.4}");
    }
    if let Some(newly) = summary.newly_qualified {
        let _ = write!(out, "\n{newly} newly qualified (PQL now, not in the previous run)");
    }
    out
}

/// The models of a registry, champion first, then newest first.
pub fn registry(registry: &pql_train::registry::Registry) -> String {
    if registry.models.is_empty() {
        return "no models registered in this folder yet (pql train --out <folder> registers them)\n".to_string();
    }
    let mut out = format!(
        "{:<16}  {:<8}  {:<9}  {:<22}  {:>9}  {:>7}  {:>8}  note\n",
        "model", "kind", "status", "training window", "rows", "ROC AUC", "log loss"
    );
    let mut entries: Vec<&pql_train::registry::Entry> = registry.models.iter().rev().collect();
    entries.sort_by_key(|e| e.status != pql_train::registry::Status::Champion);
    for e in entries {
        let _ = writeln!(
            out,
            "{:<16}  {:<8}  {:<9}  {} .. {}  {:>9}  {:>7.4}  {:>8.5}  {}",
            e.model_id,
            e.kind.to_string(),
            e.status.to_string(),
            e.window_first,
            e.window_last,
            e.rows,
            e.roc_auc,
            e.log_loss,
            e.note
        );
    }
    out
}

/// The drift table: every feature's PSI, largest first, with the probability's.
pub fn drift(drift: &pql_score::drift::Drift, thresholds: &pql_data::config::Drift) -> String {
    let flag = |psi: f64, warn: f64| {
        if psi > warn {
            "WARN"
        } else if psi > 0.1 {
            "moderate"
        } else {
            ""
        }
    };
    let mut out = format!(
        "population stability index against the training data, on {} accounts (warn above {} for a feature, {} \
         for the probability)\n\n{:<40} {:>7}\n",
        drift.rows, thresholds.feature_psi, thresholds.score_psi, "column", "PSI"
    );
    let _ = writeln!(
        out,
        "{:<40} {:>7.4}  {}",
        "(calibrated probability)",
        drift.probability,
        flag(drift.probability, thresholds.score_psi)
    );
    let mut features: Vec<_> = drift.features.iter().collect();
    features.sort_by(|a, b| b.psi.total_cmp(&a.psi));
    for f in features {
        let flag = match f.grows_with_age {
            true => "(grows as accounts age; never warned)",
            false => flag(f.psi, thresholds.feature_psi),
        };
        let _ = writeln!(out, "{:<40} {:>7.4}  {flag}", f.name, f.psi);
    }
    out
}

/// The line `pql features` ends with.
pub fn features_written(written: &pql_pipeline::features::FeaturesWritten, out: &std::path::Path) -> String {
    let w = &written.written;
    format!(
        "wrote {} rows ({} labelled, {:.2}% positive) x {} features to {} in {:.1} s",
        w.rows,
        w.labelled,
        100.0 * w.positives as f64 / w.labelled.max(1) as f64,
        written.features,
        out.display(),
        written.elapsed.as_secs_f64()
    )
}

/// What `pql train` prints: the training report and where the model went.
pub fn trained(trained: &pql_pipeline::train::Trained) -> String {
    let artifact = &trained.artifact;
    let status = if trained.is_champion() {
        "the folder's champion"
    } else {
        "a candidate; the champion is unchanged"
    };
    format!(
        "{}\n\nmodel {} ({}) written to {} in {:.1} s; registered as {status}",
        training_report(artifact).trim_end(),
        artifact.model_id,
        artifact.kind,
        trained.dir.display(),
        trained.elapsed.as_secs_f64()
    )
}

/// What `pql score` prints: the tier counts and where the scores went.
pub fn scored(scored: &pql_pipeline::score::Scored, artifact: &pql_train::Artifact, out: &std::path::Path) -> String {
    format!(
        "{}\nmodel {} ({}); {} rows {} written to {} in {:.1} s",
        score_summary(&scored.summary, &scored.tiers),
        artifact.model_id,
        artifact.kind,
        scored.summary.rows,
        scored.scope,
        out.display(),
        scored.elapsed.as_secs_f64()
    )
}

/// The outcome of `pql retrain` in a sentence.
pub fn retrained(retrained: &pql_pipeline::retrain::Retrained, models: &std::path::Path) -> String {
    use pql_pipeline::retrain::Outcome;
    use pql_train::registry::Decision;
    let challenger = &retrained.challenger.artifact.model_id;
    let champion = retrained.champion.as_deref().unwrap_or("none");
    match &retrained.outcome {
        Outcome::FirstChampion => format!("{challenger} is the folder's first champion"),
        Outcome::ChampionChanged { before, now } => format!(
            "{challenger} {}",
            Outcome::champion_changed(before.as_deref(), now.as_deref())
        ),
        Outcome::SameModel => {
            "the challenger is the champion itself (same data and settings): nothing to compare".to_string()
        }
        Outcome::ChampionCannotScore(mismatch) => format!(
            "kept champion {champion}: it cannot score this config's data ({mismatch}); review the challenger \
             {challenger} and promote it with `pql models --models {} --promote {challenger}`",
            models.display()
        ),
        Outcome::Decided(Decision::Promote(why)) => format!("promoted {challenger} to champion: {why}"),
        Outcome::Decided(Decision::Keep(why)) => format!("kept champion {champion}: {why}"),
    }
}

/// What `pql quickstart` prints: each stage's result and a summary for a first look.
pub fn quickstart(q: &pql_pipeline::quickstart::Quickstart) -> String {
    let artifact = &q.trained.artifact;
    let dir = q.trained.dir.display();
    let backtest = artifact
        .backtest
        .last()
        .map(|b| format!("backtest ROC AUC {:.3} on {}, ", b.metrics.roc_auc, b.as_of))
        .unwrap_or_default();
    format!(
        "1/3 features: every {} from {} to {}\n{}\n\n2/3 training\n{}\n\n3/3 scoring the accounts eligible on {}\n{}\n\n\
         summary\n  model quality: {backtest}validation ROC AUC {:.3}, PQLs convert {:.1}x as often as average \
         (lift@10%)\n  top drivers: {}\n  PQLs on {}: {} of {} eligible accounts (see reason_1..3 in the scores)\n  \
         files: {} (features), {dir} (model), {} (scores)\n  done in {:.1} s; next: pql explain --model {dir}",
        q.weekday,
        q.first,
        q.latest,
        features_written(&q.features, &q.features_path),
        trained(&q.trained),
        q.latest,
        scored(&q.scored, artifact, &q.scores_path),
        artifact.metrics.roc_auc,
        artifact.metrics.lift_at_10,
        q.drivers.join("; "),
        q.latest,
        q.scored.summary.hot,
        q.scored.summary.rows,
        q.features_path.display(),
        q.scores_path.display(),
        q.elapsed.as_secs_f64(),
    )
}

/// What `pql generate` prints: what it simulated and the files it wrote.
pub fn generated(summary: &pql_generate::Summary, horizon_days: u32) -> String {
    let seconds = summary.elapsed.as_secs_f64();
    let mut out = format!(
        "generated {} accounts, {} users, {} events, {} conversions in {seconds:.1} s ({:.1} M events/s)\n\
         truth: {} eligible (account, as_of) rows; {:.2}% converted within {horizon_days} days (truth mean {:.2}%)",
        summary.accounts,
        summary.users,
        summary.events,
        summary.conversions,
        summary.events as f64 / seconds.max(1e-9) / 1e6,
        summary.truth_rows,
        100.0 * summary.label_rate,
        100.0 * summary.mean_probability
    );
    for (path, size) in &summary.files {
        let _ = write!(out, "\n  {:>10}  {}", human_bytes(*size), path.display());
    }
    let total: u64 = summary.files.iter().map(|(_, size)| size).sum();
    let _ = write!(out, "\n  {:>10}  total", human_bytes(total));
    out
}

/// The outcome of `pql retrain --json`: `outcome` (first_champion, promoted, kept, champion_changed,
/// same_model or champion_cannot_score), `promoted`, the models, the `reason` in words, the `comparison`
/// (snapshots and both models' pooled metrics) when one was fair, and the champion's `probability_psi`.
pub fn retrained_json(run: &pql_pipeline::retrain::Retrained, models: &std::path::Path) -> String {
    use pql_pipeline::retrain::Outcome;
    use pql_train::registry::Decision;
    let outcome = match &run.outcome {
        Outcome::FirstChampion => "first_champion",
        Outcome::ChampionChanged { .. } => "champion_changed",
        Outcome::SameModel => "same_model",
        Outcome::ChampionCannotScore(_) => "champion_cannot_score",
        Outcome::Decided(Decision::Promote(_)) => "promoted",
        Outcome::Decided(Decision::Keep(_)) => "kept",
    };
    let metrics = |e: &pql_train::registry::Evaluation| serde_json::json!({ "rows": e.rows, "log_loss": e.log_loss, "ece": e.ece });
    let comparison = run.compared.as_ref().map(|c| {
        serde_json::json!({
            "snapshots": c.snapshots.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "champion": metrics(&c.champion),
            "challenger": metrics(&c.challenger),
        })
    });
    serde_json::json!({
        "outcome": outcome,
        "promoted": matches!(run.outcome, Outcome::FirstChampion | Outcome::Decided(Decision::Promote(_))),
        "challenger": run.challenger.artifact.model_id,
        "champion": run.champion,
        "reason": retrained(run, models),
        "comparison": comparison,
        "probability_psi": run.probability_psi,
        "models": models.display().to_string(),
    })
    .to_string()
}
