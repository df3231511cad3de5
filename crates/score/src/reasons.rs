//! A feature's value in words a salesperson can read ("pricing page viewed 3 times in the last 7 days"),
//! made from the feature's definition record, so every feature a config implies has a phrase.

use pql_data::config::LimitPeriod;
use pql_features::catalog::{Aggregation, EventSet, Window};
use pql_features::FeatureDef;

/// The value of `def` for one account, in words.
pub fn phrase(def: &FeatureDef, value: f64) -> String {
    match def.threshold {
        Some(threshold) => milestone_phrase(def, threshold, value != 0.0),
        None => aggregate_phrase(def, value),
    }
}

/// A milestone flag in words: `reached: message sent 2000 times in the last 30 days` (or `not yet: …`).
pub fn milestone_phrase(def: &FeatureDef, threshold: f64, reached: bool) -> String {
    let prefix = if reached { "reached" } else { "not yet" };
    format!("{prefix}: {}", aggregate_phrase(def, threshold))
}

/// The aggregate of `def` at `value`, in words (without its threshold).
fn aggregate_phrase(def: &FeatureDef, value: f64) -> String {
    use Aggregation::*;
    let window = window_words(def.window);
    let n = number(value);
    match &def.aggregation {
        Tenure => format!("signed up {} ago", days(value)),
        Count => match &def.events {
            EventSet::Named(event) => format!("{} {}{window}", words(event), times(value)),
            set => format!("{n} {}{window}", set_words(set, value != 1.0)),
        },
        ActiveDays => format!("active on {n} {}{window}", plural("day", value)),
        Sessions => format!("{n} {}{window}", plural("session", value)),
        DaysSinceLast => match &def.events {
            EventSet::Activity => format!("last active {} ago", days(value)),
            EventSet::Named(event) => format!("last {} {} ago", words(event), days(value)),
            set => format!("last {} {} ago", set_words(set, false), days(value)),
        },
        DistinctEvents => match &def.events {
            EventSet::Product | EventSet::Activity => {
                format!("used {n} product {}{window}", plural("feature", value))
            }
            set => format!("{n} distinct {}{window}", set_words(set, value != 1.0)),
        },
        DistinctShare => format!("used {} of the product features in use", percent(value)),
        DaysToFirst => format!("first {} {} after signup", set_words(&def.events, false), days(value)),
        FirstWithin(days) => match value != 0.0 {
            true => format!("first {} within {days} days of signup", set_words(&def.events, false)),
            false => format!("no {} within {days} days of signup", set_words(&def.events, false)),
        },
        TrialDaysLeft { .. } => format!("{} left in the trial", days_left(value)),
        DaysToNthDistinct(k) => format!("used {k} product features {} after signup", days(value)),
        DistinctUsers => format!("{n} active {}{window}", plural("user", value)),
        LimitUsage {
            event, limit, period, ..
        } => format!(
            "at {} of the {} limit of {limit} {}",
            percent(value),
            period_words(*period),
            words(event)
        ),
        LimitMaxUsage {
            event, limit, period, ..
        } => format!(
            "peaked at {} of the {} limit of {limit} {}",
            percent(value),
            period_words(*period),
            words(event)
        ),
        Trend(days) => {
            let direction = if value > 0.0 {
                "more"
            } else if value < 0.0 {
                "less"
            } else {
                "as much"
            };
            format!("{direction} activity in the last {days} days than the {days} before (trend {value:+.2})")
        }
        ValueSum => format!("{} values total {n}{window}", set_words(&def.events, false)),
        ValueMean => format!("{} values average {n}", set_words(&def.events, false)),
        NumericAttribute(attribute) => format!("{} is {n}", words(attribute)),
        AttributeMissing(attribute) => match value != 0.0 {
            true => format!("{} unknown", words(attribute)),
            false => format!("{} known", words(attribute)),
        },
        AttributeLevel { attribute, level } => match value != 0.0 {
            true => format!("{} is {level}", words(attribute)),
            false => format!("{} is not {level}", words(attribute)),
        },
        AttributeOther { attribute, .. } => match value != 0.0 {
            true => format!("{} is an uncommon value", words(attribute)),
            false => format!("{} is not an uncommon value", words(attribute)),
        },
    }
}

/// `task_created` → `task created`.
pub fn words(name: &str) -> String {
    name.replace('_', " ")
}

/// A window as the end of a phrase: ` in the last 7 days`, or nothing for the lifetime.
pub fn window_words(window: Window) -> String {
    match window {
        Window::Lifetime => String::new(),
        Window::LastDays(1) => " in the last day".to_string(),
        Window::LastDays(days) => format!(" in the last {days} days"),
        Window::Between { from, to } => format!(" in the {} days before the last {from}", to - from),
        Window::FirstDaysAfterSignup(days) => format!(" in the first {days} days after signup"),
    }
}

/// An event set as a noun, plural when `many`.
pub fn set_words(set: &EventSet, many: bool) -> String {
    let noun = match set {
        EventSet::Activity => "event",
        EventSet::Product => "product event",
        EventSet::Key => "key event",
        EventSet::HandRaise => "hand-raise",
        EventSet::Named(event) => return words(event),
    };
    if many {
        format!("{noun}s")
    } else {
        noun.to_string()
    }
}

/// A limit period as an adjective: `weekly`, `monthly`, `lifetime`.
pub fn period_words(period: LimitPeriod) -> &'static str {
    match period {
        LimitPeriod::Week => "weekly",
        LimitPeriod::Month => "monthly",
        LimitPeriod::Lifetime => "lifetime",
    }
}

/// A whole number as is, else two decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        (value as i64).to_string()
    } else {
        format!("{value:.2}")
    }
}

fn plural(noun: &str, count: f64) -> String {
    if count == 1.0 {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}

fn times(count: f64) -> String {
    match count {
        1.0 => "once".to_string(),
        2.0 => "twice".to_string(),
        _ => format!("{} times", number(count)),
    }
}

/// A duration in days, whole days for people.
fn days(value: f64) -> String {
    if value < 1.0 {
        "less than a day".to_string()
    } else {
        let whole = value.floor();
        format!("{} {}", number(whole), plural("day", whole))
    }
}

/// Days left, rounded up: `3 days`, `1 day`, `no days`.
fn days_left(value: f64) -> String {
    match value.ceil() {
        whole if whole <= 0.0 => "no days".to_string(),
        whole => format!("{} {}", number(whole), plural("day", whole)),
    }
}

fn percent(ratio: f64) -> String {
    format!("{:.0}%", 100.0 * ratio)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pql_features::catalog::{Family, Missing, Unit};

    fn def(events: EventSet, window: Window, aggregation: Aggregation) -> FeatureDef {
        FeatureDef {
            name: "f".into(),
            family: Family::Trend,
            events,
            window,
            aggregation,
            unit: Unit::Count,
            missing: Missing::Zero,
            description: String::new(),
            threshold: None,
        }
    }

    #[test]
    fn phrases_read_as_sentences() {
        let named = |e: &str| EventSet::Named(e.to_string());
        let cases = [
            (
                def(named("pricing_page_viewed"), Window::LastDays(7), Aggregation::Count),
                3.0,
                "pricing page viewed 3 times in the last 7 days",
            ),
            (
                def(named("report_exported"), Window::Lifetime, Aggregation::DaysSinceLast),
                3.2,
                "last report exported 3 days ago",
            ),
            (
                def(named("purchase"), Window::LastDays(30), Aggregation::ValueSum),
                1250.5,
                "purchase values total 1250.50 in the last 30 days",
            ),
            (
                def(named("purchase"), Window::Lifetime, Aggregation::ValueMean),
                42.0,
                "purchase values average 42",
            ),
            (
                def(named("limit_reached"), Window::LastDays(7), Aggregation::Count),
                1.0,
                "limit reached once in the last 7 days",
            ),
            (
                def(EventSet::Key, Window::Lifetime, Aggregation::Count),
                4.0,
                "4 key events",
            ),
            (
                def(EventSet::Activity, Window::LastDays(30), Aggregation::ActiveDays),
                12.0,
                "active on 12 days in the last 30 days",
            ),
            (
                def(EventSet::Activity, Window::Lifetime, Aggregation::DaysSinceLast),
                0.4,
                "last active less than a day ago",
            ),
            (
                def(EventSet::HandRaise, Window::Lifetime, Aggregation::DaysSinceLast),
                2.7,
                "last hand-raise 2 days ago",
            ),
            (
                def(EventSet::Product, Window::LastDays(7), Aggregation::DistinctEvents),
                5.0,
                "used 5 product features in the last 7 days",
            ),
            (
                def(EventSet::Activity, Window::Lifetime, Aggregation::Tenure),
                1.0,
                "signed up 1 day ago",
            ),
            (
                def(EventSet::Product, Window::Lifetime, Aggregation::DaysToNthDistinct(3)),
                2.0,
                "used 3 product features 2 days after signup",
            ),
            (
                def(EventSet::Key, Window::Lifetime, Aggregation::DaysToFirst),
                6.5,
                "first key event 6 days after signup",
            ),
            (
                def(EventSet::Activity, Window::Lifetime, Aggregation::DistinctUsers),
                4.0,
                "4 active users",
            ),
            (
                def(
                    named("task_created"),
                    Window::Lifetime,
                    Aggregation::LimitUsage {
                        event: "task_created".into(),
                        limit: 50,
                        period: LimitPeriod::Month,
                        plans: Vec::new(),
                    },
                ),
                0.92,
                "at 92% of the monthly limit of 50 task created",
            ),
            (
                def(EventSet::Activity, Window::Lifetime, Aggregation::Trend(7)),
                0.4,
                "more activity in the last 7 days than the 7 before (trend +0.40)",
            ),
            (
                def(
                    EventSet::Activity,
                    Window::Lifetime,
                    Aggregation::NumericAttribute("company_size".into()),
                ),
                120.0,
                "company size is 120",
            ),
            (
                def(
                    EventSet::Activity,
                    Window::Lifetime,
                    Aggregation::AttributeLevel {
                        attribute: "industry".into(),
                        level: "software".into(),
                    },
                ),
                1.0,
                "industry is software",
            ),
            (
                def(
                    EventSet::Activity,
                    Window::Lifetime,
                    Aggregation::AttributeLevel {
                        attribute: "industry".into(),
                        level: "software".into(),
                    },
                ),
                0.0,
                "industry is not software",
            ),
        ];
        for (def, value, want) in cases {
            assert_eq!(phrase(&def, value), want);
        }
    }

    #[test]
    fn declared_and_plan_features_read_as_sentences() {
        let sent = EventSet::Named("message_sent".into());
        let milestone = FeatureDef {
            threshold: Some(2000.0),
            ..def(sent.clone(), Window::LastDays(30), Aggregation::Count)
        };
        assert_eq!(
            phrase(&milestone, 1.0),
            "reached: message sent 2000 times in the last 30 days"
        );
        assert_eq!(
            phrase(&milestone, 0.0),
            "not yet: message sent 2000 times in the last 30 days"
        );
        let early = def(sent, Window::Lifetime, Aggregation::FirstWithin(7));
        assert_eq!(phrase(&early, 1.0), "first message sent within 7 days of signup");
        assert_eq!(phrase(&early, 0.0), "no message sent within 7 days of signup");
        let trial = def(
            EventSet::Activity,
            Window::Lifetime,
            Aggregation::TrialDaysLeft {
                days: 14,
                trial: vec!["trial".into()],
            },
        );
        assert_eq!(phrase(&trial, 8.5), "9 days left in the trial");
        assert_eq!(phrase(&trial, 0.0), "no days left in the trial");
    }
}
