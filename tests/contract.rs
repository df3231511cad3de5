//! Bad inputs and bad configs fail with messages that name the file, key, column and row.

use crate::util::Dir;

const CONFIG: &str = r#"
[inputs]
events = "events.csv"
accounts = "accounts.csv"
conversions = "conversions.csv"

[[attributes]]
name = "company_size"
kind = "numeric"
"#;

const ACCOUNTS: &str = "account_id,signup_at,company_size\nA,2025-01-01T08:00:00Z,12\nB,2025-01-02,\n";
const CONVERSIONS: &str = "account_id,converted_at\nB,2025-02-01T10:00:00+02:00\n";
const EVENTS: &str = "account_id,user_id,event,timestamp\n\
    A,u1,task_created,2025-01-01T09:00:00Z\n\
    A,,notification_sent,2025-01-01 10:00:00\n\
    B,u2,board_viewed,2025-01-03T11:30:00.5Z\n";

fn fixture(events: &str, accounts: &str) -> Dir {
    let dir = Dir::new();
    dir.write("pql.toml", CONFIG);
    dir.write("events.csv", events);
    dir.write("accounts.csv", accounts);
    dir.write("conversions.csv", CONVERSIONS);
    dir
}

#[test]
fn valid_csv_inputs_are_summarised() {
    let dir = fixture(EVENTS, ACCOUNTS);
    let out = dir.pql_ok(&["check", "--config", "pql.toml"]);
    assert!(out.contains("events                  3 rows from 2 accounts"), "{out}");
    assert!(
        out.contains("event span   2025-01-01 09:00:00 UTC .. 2025-01-03 11:30:00 UTC"),
        "{out}"
    );
}

#[test]
fn bad_timestamp_names_file_column_row_and_value() {
    let events = EVENTS.replace("2025-01-03T11:30:00.5Z", "2025-01-32T11:30:00Z");
    let dir = fixture(&events, ACCOUNTS);
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(err.contains("events.csv"), "{err}");
    assert!(err.contains("column `timestamp`, row 3"), "{err}");
    assert!(err.contains("2025-01-32T11:30:00Z"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn missing_column_names_file_column_and_config_key() {
    let events = EVENTS.replace("account_id,user_id,event,timestamp", "account_id,user_id,event,ts");
    let dir = fixture(&events, ACCOUNTS);
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(err.contains("events.csv: missing column `timestamp`"), "{err}");
    assert!(err.contains("[columns.events] timestamp"), "{err}");
    assert!(err.contains("columns found: account_id, user_id, event, ts"), "{err}");
}

#[test]
fn remapped_columns_are_read() {
    let events = EVENTS.replace("account_id,user_id,event,timestamp", "workspace,actor,name,ts");
    let dir = fixture(&events, ACCOUNTS);
    let config = format!(
        "{CONFIG}\n[columns.events]\naccount_id = \"workspace\"\nuser_id = \"actor\"\nevent = \"name\"\ntimestamp = \"ts\"\n"
    );
    dir.write("pql.toml", &config);
    let out = dir.pql_ok(&["check", "--config", "pql.toml"]);
    assert!(out.contains("3 rows from 2 accounts"), "{out}");
}

#[test]
fn bad_number_and_missing_id_name_their_rows() {
    let dir = fixture(EVENTS, &ACCOUNTS.replace(",12\n", ",twelve\n"));
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(
        err.contains("accounts.csv: column `company_size`, row 1") && err.contains("twelve"),
        "{err}"
    );

    let dir = fixture(&EVENTS.replace("B,u2,board_viewed", ",u2,board_viewed"), ACCOUNTS);
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(
        err.contains("events.csv: column `account_id`, row 3: value is missing"),
        "{err}"
    );
}

#[test]
fn duplicate_account_is_named() {
    let dir = fixture(EVENTS, &format!("{ACCOUNTS}A,2025-01-05,3\n"));
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(
        err.contains("row 3") && err.contains("\"A\" appears more than once"),
        "{err}"
    );
}

#[test]
fn config_errors_name_the_key() {
    let dir = fixture(EVENTS, ACCOUNTS);
    dir.write("pql.toml", &format!("{CONFIG}\n[label]\nhorizon = 30\n"));
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(
        err.contains("pql.toml") && err.contains("unknown field `horizon`"),
        "{err}"
    );

    dir.write(
        "pql.toml",
        &format!("{CONFIG}\n[[limits]]\nevent = \"task_created\"\nlimit = 10\nperiod = \"fortnight\"\n"),
    );
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(err.contains("fortnight") && err.contains("period"), "{err}");

    dir.write("pql.toml", "[inputs]\nevents = \"events.csv\"\n");
    let err = dir.pql_err(&["check", "--config", "pql.toml"]);
    assert!(err.contains("missing field `accounts`"), "{err}");
}

#[test]
fn folders_of_files_and_ndjson_are_read() {
    let dir = fixture(EVENTS, ACCOUNTS);
    dir.write(
        "events/part-0.csv",
        "account_id,user_id,event,timestamp\nA,u1,task_created,2025-01-01T09:00:00Z\n",
    );
    dir.write(
        "events/part-1.ndjson",
        "{\"account_id\":\"B\",\"user_id\":null,\"event\":\"board_viewed\",\"timestamp\":\"2025-01-04T00:00:00Z\"}\n",
    );
    dir.write("events/_SUCCESS", "");
    dir.write("pql.toml", &CONFIG.replace("events.csv", "events"));
    let out = dir.pql_ok(&["check", "--config", "pql.toml"]);
    assert!(out.contains("2 rows from 2 accounts"), "{out}");
}
