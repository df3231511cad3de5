//! `pql report` on the bundled sample: the HTML parses without errors, every section and chart is there,
//! and the numbers shown are the artifact's and the scores file's.

use std::collections::HashMap;

use polars::prelude::*;
use scraper::{ElementRef, Html, Selector};

use crate::util::Dir;

fn select<'a>(doc: &'a Html, css: &str) -> Vec<ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

fn text(element: &ElementRef) -> String {
    element.text().collect::<String>().trim().to_string()
}

/// The body rows of the table `css`, as cell texts.
fn rows(doc: &Html, css: &str) -> Vec<Vec<String>> {
    let table = select(doc, css);
    assert_eq!(table.len(), 1, "one table {css}");
    let tr = Selector::parse("tbody tr").unwrap();
    let td = Selector::parse("td").unwrap();
    table[0]
        .select(&tr)
        .map(|row| row.select(&td).map(|c| text(&c)).collect())
        .collect()
}

fn f4(value: &serde_json::Value) -> String {
    format!("{:.4}", value.as_f64().unwrap())
}

#[test]
fn the_report_shows_every_section_with_the_numbers_of_the_artifact_and_the_scores() {
    let dir = Dir::new();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/pql.toml");
    let sample = sample.to_str().unwrap();
    dir.pql_ok(&[
        "train",
        "--config",
        sample,
        "--model",
        "logistic",
        "--backtest",
        "2",
        "--out",
        "models",
    ]);
    dir.pql_ok(&[
        "score",
        "--config",
        sample,
        "--model",
        "models/champion",
        "--as-of",
        "2025-06-30",
        "--out",
        "scores.csv",
    ]);
    let out = dir.pql_ok(&[
        "report",
        "--model",
        "models/champion",
        "--scores",
        "scores.csv",
        "--out",
        "report.html",
    ]);
    assert!(out.contains("written to report.html"), "{out}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let doc = Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    for link in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(link), "nothing is fetched from a network: {link}");
    }

    let registry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("models/registry.json")).unwrap()).unwrap();
    let id = registry["champion"].as_str().unwrap();
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("models").join(id).join("model.json")).unwrap())
            .unwrap();

    for section in [
        "card",
        "quality",
        "importances",
        "dependence",
        "rules",
        "backtest",
        "scores",
    ] {
        assert_eq!(
            select(&doc, &format!("section#{section} > h2")).len(),
            1,
            "section {section}"
        );
    }
    for chart in [
        "roc",
        "precision-recall",
        "calibration",
        "gains",
        "importance",
        "score-distribution",
    ] {
        assert_eq!(select(&doc, &format!("figure#{chart} > svg")).len(), 1, "chart {chart}");
        assert!(!text(&select(&doc, &format!("figure#{chart} > figcaption"))[0]).is_empty());
    }
    let dependence = model["dependence"].as_array().unwrap();
    assert_eq!(dependence.len(), 6);
    assert_eq!(
        select(&doc, "section#dependence figure > svg").len() + select(&doc, "section#dependence p[id]").len(),
        6
    );

    // Model card and metrics.
    let card: HashMap<String, String> = rows(&doc, "table.card")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_eq!(card["model id"], id);
    assert_eq!(card["labelled rows"], model["training"]["window"]["rows"].to_string());
    assert_eq!(card["config hash"], model["training"]["config_hash"].as_str().unwrap());
    assert_eq!(card["horizon"], "converts within 30 days");
    assert!(card["training window"].starts_with(model["training"]["window"]["first"].as_str().unwrap()));
    let metrics: HashMap<String, String> = rows(&doc, "table.metrics")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let m = &model["metrics"];
    assert_eq!(metrics["ROC AUC"], f4(&m["roc_auc"]));
    assert_eq!(metrics["PR AUC (average precision)"], f4(&m["pr_auc"]));
    assert_eq!(metrics["log loss"], f4(&m["log_loss"]));
    assert_eq!(metrics["calibration error (ECE)"], f4(&m["ece"]));
    assert_eq!(
        metrics["lift in the top 10%"],
        format!("{:.2}", m["lift_at_10"].as_f64().unwrap())
    );

    // Every importance, most important first, with the artifact's numbers.
    let importances = rows(&doc, "table.importances");
    let stored = model["importances"].as_array().unwrap();
    assert_eq!(importances.len(), stored.len());
    for row in &importances {
        let imp = stored.iter().find(|i| i["feature"] == row[0].as_str()).unwrap();
        assert_eq!(row[1], f4(&imp["permutation"]), "{row:?}");
        assert_eq!(row[2], f4(&imp["permutation_std"]), "{row:?}");
        assert_eq!(
            row[3],
            format!("{:+.4}", imp["coefficient"].as_f64().unwrap()),
            "{row:?}"
        );
    }
    let drops: Vec<f64> = importances.iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(drops.windows(2).all(|w| w[0] >= w[1]));

    // Rules and backtest rows.
    let rules = rows(&doc, "table.rules");
    let stored = model["rules"].as_array().unwrap();
    assert_eq!(rules.len(), stored.len());
    for (row, rule) in rules.iter().zip(stored) {
        assert_eq!(row[0], rule["name"].as_str().unwrap());
        assert_eq!(row[2], rule["flagged"].to_string());
        assert_eq!(row[3], f4(&rule["rule_precision"]));
        assert_eq!(row[4], f4(&rule["model_precision"]));
    }
    let backtest = rows(&doc, "table.backtest");
    let stored = model["backtest"].as_array().unwrap();
    assert_eq!(backtest.len(), 2);
    for (row, b) in backtest.iter().zip(stored) {
        assert_eq!(row[0], b["as_of"].as_str().unwrap());
        assert_eq!(row[3], f4(&b["metrics"]["roc_auc"]));
    }

    // Scores: tier counts and the top accounts are the scores file's.
    let scores = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(dir.join("scores.csv")))
        .unwrap()
        .finish()
        .unwrap();
    let column = |name: &str| -> Vec<String> {
        let c = scores.column(name).unwrap().cast(&DataType::String).unwrap();
        c.str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect()
    };
    let (ids, probabilities, tier) = (column("account_id"), column("probability"), column("tier"));
    let tiers = rows(&doc, "table.tiers");
    assert_eq!(tiers.len(), 3);
    for row in &tiers {
        let count = tier.iter().filter(|t| **t == row[0]).count();
        assert_eq!(row[1], count.to_string(), "{row:?}");
    }
    let top = rows(&doc, "table.top-accounts");
    assert_eq!(top.len(), 25);
    // The scores file is sorted by probability, so its first rows are the top accounts.
    for (k, row) in top.iter().enumerate() {
        assert_eq!(row[0], ids[k]);
        assert_eq!(row[1], format!("{:.4}", probabilities[k].parse::<f64>().unwrap()));
    }
    assert!(
        top.iter().filter(|r| r[2] == "hot").all(|r| !r[3].is_empty()),
        "PQLs have reasons"
    );
}

#[test]
fn a_file_that_is_not_a_scores_file_is_refused_by_name() {
    let dir = Dir::new();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/pql.toml");
    dir.pql_ok(&[
        "train",
        "--config",
        sample.to_str().unwrap(),
        "--model",
        "logistic",
        "--backtest",
        "0",
        "--out",
        "models",
    ]);
    dir.write("other.csv", "account_id,score\na,0.5\n");
    let err = dir.pql_err(&[
        "report",
        "--model",
        "models/champion",
        "--scores",
        "other.csv",
        "--out",
        "report.html",
    ]);
    assert!(
        err.contains("other.csv") && err.contains("no column `probability`"),
        "{err}"
    );
    assert!(!dir.join("report.html").exists());
}
