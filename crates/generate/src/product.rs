//! The simulated product: a freemium task-management tool with a 14-day trial. This module owns its event
//! catalogue, the free-plan limit, the firmographic levels, and the `pql.toml` that describes it.

/// A product feature: its event name, how often an adopter uses it, and how early it tends to be adopted.
pub struct Feature {
    /// Event name logged on each use.
    pub name: &'static str,
    /// Relative frequency of use once adopted.
    pub frequency: f64,
    /// Relative weight of being adopted early.
    pub adoption: f64,
}

/// Product features, in event-code order (codes `0..FEATURES.len()`).
pub const FEATURES: [Feature; 13] = [
    Feature {
        name: "board_viewed",
        frequency: 10.0,
        adoption: 12.0,
    },
    Feature {
        name: "task_created",
        frequency: 8.0,
        adoption: 10.0,
    },
    Feature {
        name: "task_completed",
        frequency: 6.0,
        adoption: 6.0,
    },
    Feature {
        name: "project_created",
        frequency: 1.5,
        adoption: 8.0,
    },
    Feature {
        name: "comment_added",
        frequency: 4.0,
        adoption: 3.0,
    },
    Feature {
        name: "search_performed",
        frequency: 3.0,
        adoption: 3.0,
    },
    Feature {
        name: "file_uploaded",
        frequency: 2.0,
        adoption: 2.0,
    },
    Feature {
        name: "template_used",
        frequency: 1.0,
        adoption: 2.0,
    },
    Feature {
        name: "report_exported",
        frequency: 0.8,
        adoption: 1.0,
    },
    Feature {
        name: "dashboard_created",
        frequency: 0.6,
        adoption: 1.0,
    },
    Feature {
        name: "calendar_synced",
        frequency: 0.5,
        adoption: 0.8,
    },
    Feature {
        name: "integration_connected",
        frequency: 0.3,
        adoption: 0.7,
    },
    Feature {
        name: "automation_created",
        frequency: 0.4,
        adoption: 0.6,
    },
];

/// An event code: an index into [`EVENT_NAMES`].
pub type EventCode = u8;

/// Code of the metered feature (`task_created`).
pub const TASK_CREATED: EventCode = 1;
/// Codes of the key (activation) features.
pub const KEY_FEATURES: [EventCode; 3] = [9, 11, 12];
/// A user invited a teammate.
pub const TEAMMATE_INVITED: EventCode = 13;
/// An invited teammate joined.
pub const TEAMMATE_JOINED: EventCode = 14;
/// Pricing page viewed (hand-raise).
pub const PRICING_PAGE_VIEWED: EventCode = 15;
/// Upgrade button clicked (hand-raise).
pub const UPGRADE_CLICKED: EventCode = 16;
/// Contact-sales form sent (hand-raise).
pub const CONTACT_SALES_REQUESTED: EventCode = 17;
/// A metered action was blocked by the free-plan limit.
pub const LIMIT_REACHED: EventCode = 18;
/// A system notification (no user, no signal).
pub const NOTIFICATION_SENT: EventCode = 19;

/// Every event name, indexed by code.
pub const EVENT_NAMES: [&str; 20] = [
    FEATURES[0].name,
    FEATURES[1].name,
    FEATURES[2].name,
    FEATURES[3].name,
    FEATURES[4].name,
    FEATURES[5].name,
    FEATURES[6].name,
    FEATURES[7].name,
    FEATURES[8].name,
    FEATURES[9].name,
    FEATURES[10].name,
    FEATURES[11].name,
    FEATURES[12].name,
    "teammate_invited",
    "teammate_joined",
    "pricing_page_viewed",
    "upgrade_clicked",
    "contact_sales_requested",
    "limit_reached",
    "notification_sent",
];

/// Free-plan limit: `task_created` events per calendar month.
pub const TASKS_PER_MONTH: u32 = 50;
/// Length of the trial, in days; trial accounts are not limited during it.
pub const TRIAL_DAYS: u32 = 14;

/// Industries: name, share of signups, effect on latent purchase intent.
pub const INDUSTRIES: [(&str, f64, f64); 11] = [
    ("software", 0.22, 0.35),
    ("agency", 0.12, 0.15),
    ("ecommerce", 0.10, 0.10),
    ("education", 0.10, -0.60),
    ("consulting", 0.08, 0.20),
    ("finance", 0.07, 0.25),
    ("healthcare", 0.07, 0.0),
    ("manufacturing", 0.06, -0.10),
    ("nonprofit", 0.06, -0.50),
    ("media", 0.05, 0.0),
    ("other", 0.07, -0.20),
];

/// Countries: ISO code, share of signups, effect on latent purchase intent.
pub const COUNTRIES: [(&str, f64, f64); 20] = [
    ("US", 0.30, 0.15),
    ("GB", 0.08, 0.10),
    ("DE", 0.07, 0.10),
    ("IN", 0.08, -0.35),
    ("FR", 0.05, 0.0),
    ("CA", 0.05, 0.10),
    ("BR", 0.05, -0.30),
    ("AU", 0.04, 0.10),
    ("NL", 0.03, 0.10),
    ("ES", 0.03, -0.05),
    ("JP", 0.03, 0.0),
    ("MX", 0.03, -0.20),
    ("PL", 0.02, -0.10),
    ("SE", 0.02, 0.10),
    ("IT", 0.02, -0.05),
    ("SG", 0.02, 0.10),
    ("NG", 0.02, -0.40),
    ("ZA", 0.02, -0.15),
    ("IE", 0.02, 0.10),
    ("AR", 0.02, -0.30),
];

/// The `pql.toml` that fits the generated data, for the given events file name and horizon.
pub fn config_toml(events_file: &str, accounts_file: &str, conversions_file: &str, horizon_days: u32) -> String {
    let quoted = |codes: &[EventCode]| {
        codes
            .iter()
            .map(|&c| format!("\"{}\"", EVENT_NAMES[c as usize]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"# pql configuration for data written by `pql generate`: a freemium task-management product with a
# {TRIAL_DAYS}-day trial and a free-plan limit of {TASKS_PER_MONTH} tasks a month.

[inputs]
events = "{events_file}"
accounts = "{accounts_file}"
conversions = "{conversions_file}"

[[attributes]]
name = "company_size"
kind = "numeric"

[[attributes]]
name = "industry"
kind = "categorical"

[[attributes]]
name = "country"
kind = "categorical"

[events]
key = [{key}]
hand_raise = [{hand_raise}]
collaboration = [{collaboration}]
ignore = [{ignore}]

[[limits]]
event = "{task}"
limit = {TASKS_PER_MONTH}
period = "month"
reached_event = "{reached}"

[snapshots]
cadence = "weekly"
weekday = "monday"

[label]
horizon_days = {horizon_days}

# PQL rules of the kind teams write by hand; `pql train` reports them beside the model.
[[rules]]
name = "near the limit"
when = "limit_{task}_month_usage >= 0.8"

[[rules]]
name = "hand-raiser"
when = "{pricing}_7d >= 1 or {upgrade}_7d >= 1 or {contact}_7d >= 1"

[[rules]]
name = "activated team"
when = "key_events >= 3 and {invited}_count >= 1"
"#,
        key = quoted(&KEY_FEATURES),
        hand_raise = quoted(&[PRICING_PAGE_VIEWED, UPGRADE_CLICKED, CONTACT_SALES_REQUESTED]),
        collaboration = quoted(&[TEAMMATE_INVITED, TEAMMATE_JOINED]),
        ignore = quoted(&[NOTIFICATION_SENT]),
        task = EVENT_NAMES[TASK_CREATED as usize],
        reached = EVENT_NAMES[LIMIT_REACHED as usize],
        pricing = EVENT_NAMES[PRICING_PAGE_VIEWED as usize],
        upgrade = EVENT_NAMES[UPGRADE_CLICKED as usize],
        contact = EVENT_NAMES[CONTACT_SALES_REQUESTED as usize],
        invited = EVENT_NAMES[TEAMMATE_INVITED as usize],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_one() {
        let industries: f64 = INDUSTRIES.iter().map(|i| i.1).sum();
        let countries: f64 = COUNTRIES.iter().map(|c| c.1).sum();
        assert!((industries - 1.0).abs() < 1e-9, "{industries}");
        assert!((countries - 1.0).abs() < 1e-9, "{countries}");
    }

    #[test]
    fn generated_config_is_valid_and_names_the_roles() {
        let text = config_toml("events.parquet", "accounts.parquet", "conversions.parquet", 30);
        let config = pql_data::Config::parse(&text, std::path::Path::new("/x/pql.toml")).unwrap();
        assert_eq!(config.exclusive_role("pricing_page_viewed"), Some("hand_raise"));
        assert_eq!(config.exclusive_role("limit_reached"), Some("limit_reached"));
        assert_eq!(config.exclusive_role("notification_sent"), Some("ignore"));
        assert_eq!(config.exclusive_role("task_created"), None);
        assert_eq!(config.events.key.len(), 3);
        assert_eq!(config.limits[0].limit, u64::from(TASKS_PER_MONTH));
    }
}
