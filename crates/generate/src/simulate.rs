//! One account's life, simulated day by day.
//!
//! Each account draws observable firmographics and hidden traits (latent purchase intent, engagement,
//! retention, team potential, a segment: *tourists* who go quiet after day one, *hobbyists* who are busy
//! but never buy, and *regulars*). Its free-plan activity path is then simulated day by day: sessions of
//! product events, feature adoption, the monthly task limit, teammate invites, and hand-raising driven by
//! intent and by hitting the limit.
//!
//! Every day `d` has a conversion hazard `λ_d` that depends only on the hidden traits and the path up to the
//! end of day `d - 1`, through thresholds and interactions (limit hits matter more for teams, breadth above
//! five features, trial ending). The conversion time is drawn from that hazard. The path itself does not
//! depend on whether the account converted, so the probability of converting in `(T, T + h]` given that it
//! had not converted by `T` is exactly `1 - exp(-Σ λ_d)` over the days of that window: the generator's
//! truth. After converting, the account is on the paid plan: its limit no longer blocks tasks and it stops
//! raising its hand.

use rand::Rng;
use rand_distr::{Distribution, Exp1, LogNormal, Normal, Poisson};
use rand_pcg::Pcg64Mcg;

use crate::product::{
    EventCode, CONTACT_SALES_REQUESTED, COUNTRIES, FEATURES, INDUSTRIES, KEY_FEATURES, LIMIT_REACHED,
    NOTIFICATION_SENT, PRICING_PAGE_VIEWED, TASKS_PER_MONTH, TASK_CREATED, TEAMMATE_INVITED, TEAMMATE_JOINED,
    TRIAL_DAYS, UPGRADE_CLICKED,
};

const DAY_MS: i64 = 86_400_000;

/// The calendar the simulation runs on.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// Midnight UTC of the first day, in milliseconds since the epoch.
    pub start_ms: i64,
    /// Number of simulated days.
    pub days: u32,
    /// Weekday of the first day (0 = Monday).
    pub start_weekday: u32,
    /// Month index (months since year 0) of every day, for the monthly limit.
    pub month_of_day: Vec<u32>,
    /// Cumulative signup weight of every day, normalised to end at 1.
    pub signup_cdf: Vec<f64>,
    /// First day of the changed product (see [`Calendar::with_shift`]), if it changes.
    pub shift_day: Option<u32>,
}

impl Calendar {
    /// A calendar of `days` days from `start` (midnight UTC), with signups growing over time and lower at
    /// weekends.
    pub fn new(start: chrono::NaiveDate, days: u32) -> Calendar {
        use chrono::Datelike;
        let start_ms = start
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis();
        let start_weekday = start.weekday().num_days_from_monday();
        let mut month_of_day = Vec::with_capacity(days as usize);
        let mut signup_cdf = Vec::with_capacity(days as usize);
        let mut total = 0.0;
        for d in 0..days {
            let date = start + chrono::Days::new(u64::from(d));
            month_of_day.push(date.year() as u32 * 12 + date.month0());
            let growth = 1.0 + 0.8 * f64::from(d) / f64::from(days.max(1));
            let weekend = if (start_weekday + d) % 7 >= 5 { 0.45 } else { 1.0 };
            total += growth * weekend;
            signup_cdf.push(total);
        }
        for c in &mut signup_cdf {
            *c /= total;
        }
        Calendar {
            start_ms,
            days,
            start_weekday,
            month_of_day,
            signup_cdf,
            shift_day: None,
        }
    }

    /// The product changes from day `day` on: a guided onboarding shows new accounts three features in
    /// their first session, the free plan's monthly task limit halves, conversion becomes likelier overall
    /// (a cheaper self-serve plan), hitting the limit pushes harder towards buying, and hand-raising,
    /// breadth and key features matter less. Behaviour before that day is unchanged.
    pub fn with_shift(mut self, day: u32) -> Calendar {
        self.shift_day = Some(day);
        self
    }

    fn is_shifted(&self, day: u32) -> bool {
        self.shift_day.is_some_and(|shift| day >= shift)
    }

    fn is_weekend(&self, day: u32) -> bool {
        (self.start_weekday + day) % 7 >= 5
    }
}

/// How an account behaves, hidden from every model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// Tries the product on day one and rarely returns.
    Tourist,
    /// Uses the product a lot but has no budget or need to buy.
    Hobbyist,
    /// Everyone else.
    Regular,
}

/// One event: time (ms since epoch), acting user (`None` for system events) and event code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds since the Unix epoch, UTC.
    pub ts_ms: i64,
    /// Index of the acting user within the account.
    pub user: Option<u16>,
    /// Index into [`crate::product::EVENT_NAMES`].
    pub code: EventCode,
}

/// Everything generated for one account.
#[derive(Debug, Clone)]
pub struct AccountHistory {
    /// Signup time, ms since epoch.
    pub signup_ms: i64,
    /// Day of signup (index into the calendar).
    pub signup_day: u32,
    /// `"free"` or `"trial"`.
    pub plan: &'static str,
    /// Employees, if known.
    pub company_size: Option<f64>,
    /// Industry, if known.
    pub industry: Option<&'static str>,
    /// Country code.
    pub country: &'static str,
    /// Hidden segment.
    pub segment: Segment,
    /// Number of users who ever acted (the signup user and joined teammates).
    pub users: u16,
    /// Events in time order, already in paid mode after conversion.
    pub events: Vec<Event>,
    /// Conversion time, ms since epoch, if it happened inside the calendar.
    pub converted_ms: Option<i64>,
    /// Conversion hazard of each day from the signup day to the calendar's end.
    pub hazards: Vec<f64>,
}

impl AccountHistory {
    /// The generator's probability of converting in `(T, T + horizon]` for `T` = midnight starting
    /// calendar day `day`, given no conversion by `T`; `None` unless the account had signed up by `T` and the
    /// window lies inside the calendar.
    pub fn conversion_probability(&self, day: u32, horizon_days: u32) -> Option<f64> {
        if self.signup_day >= day {
            return None;
        }
        let from = (day - self.signup_day) as usize;
        let window = self.hazards.get(from..from + horizon_days as usize)?;
        Some(-(-window.iter().sum::<f64>()).exp_m1())
    }
}

/// SplitMix64's finaliser: a bijection on `u64` that scatters nearby inputs.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The random stream of one account: independent of every other account's and of the chunking.
fn account_rng(seed: u64, index: u64) -> Pcg64Mcg {
    let low = splitmix64(index ^ 0xA076_1D64_78BD_642F);
    let high = splitmix64(seed ^ splitmix64(index));
    Pcg64Mcg::new(u128::from(high) << 64 | u128::from(low))
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn pick_weighted<T>(rng: &mut Pcg64Mcg, items: &[T], weight: impl Fn(&T) -> f64) -> usize {
    let total: f64 = items.iter().map(&weight).sum();
    let mut u = rng.gen::<f64>() * total;
    for (i, item) in items.iter().enumerate() {
        u -= weight(item);
        if u < 0.0 {
            return i;
        }
    }
    items.len() - 1
}

fn poisson(rng: &mut Pcg64Mcg, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    Poisson::new(mean).map(|p| p.sample(rng) as u32).unwrap_or(0)
}

/// A time of day (ms after midnight) for a session: mostly business hours, sometimes any time.
fn session_start_ms(rng: &mut Pcg64Mcg) -> i64 {
    let hours: f64 = if rng.gen_bool(0.8) {
        Normal::new(14.0, 3.0).expect("valid normal").sample(rng)
    } else {
        rng.gen_range(0.0..24.0)
    };
    (hours.clamp(0.0, 23.9) * 3_600_000.0) as i64
}

/// A random time on calendar day `day_start`, no earlier than `not_before` (the signup, on day zero).
fn time_on_day(rng: &mut Pcg64Mcg, day_start: i64, not_before: i64) -> i64 {
    let ts = day_start + session_start_ms(rng);
    if ts > not_before {
        ts
    } else {
        not_before + rng.gen_range(1..(day_start + DAY_MS - not_before).max(2))
    }
}

/// Simulates account `index` of `accounts`; the result depends only on the seed, the index and the
/// calendar.
pub fn simulate(seed: u64, index: u64, accounts: u64, calendar: &Calendar) -> AccountHistory {
    let mut rng = account_rng(seed, index);

    // Signup: accounts are numbered in signup order, spread by the calendar's signup weights.
    let quantile = (index as f64 + rng.gen::<f64>()) / accounts as f64;
    let signup_day = (calendar.signup_cdf.partition_point(|&c| c < quantile) as u32).min(calendar.days - 1);
    let signup_ms = calendar.start_ms + i64::from(signup_day) * DAY_MS + session_start_ms(&mut rng).max(1_000);

    // Firmographics (observable) and hidden traits.
    let company_size = rng.gen_bool(0.92).then(|| {
        LogNormal::new(6f64.ln(), 1.3)
            .expect("valid lognormal")
            .sample(&mut rng)
            .clamp(1.0, 50_000.0)
            .round()
    });
    let industry_index = pick_weighted(&mut rng, &INDUSTRIES, |i| i.1);
    let industry = rng.gen_bool(0.95).then_some(INDUSTRIES[industry_index].0);
    let country_index = pick_weighted(&mut rng, &COUNTRIES, |c| c.1);
    let plan = if rng.gen_bool(0.3) { "trial" } else { "free" };
    let size = company_size.unwrap_or(6.0);

    let segment = match rng.gen::<f64>() {
        u if u < 0.42 => Segment::Tourist,
        u if u < 0.48 => Segment::Hobbyist,
        _ => Segment::Regular,
    };
    let mut intent = rng.sample::<f64, _>(rand_distr::StandardNormal)
        + INDUSTRIES[industry_index].2
        + COUNTRIES[country_index].2
        + 0.3 * size.log10()
        - 0.35;
    if segment == Segment::Hobbyist {
        intent -= 2.0;
    }
    let mut engagement = LogNormal::new(0.0, 0.6).expect("valid lognormal").sample(&mut rng);
    let mut retention_days = 3.0 + 25.0 * rng.sample::<f64, _>(Exp1);
    if segment == Segment::Hobbyist {
        engagement *= 2.5;
        retention_days = 10.0 + 60.0 * rng.sample::<f64, _>(Exp1);
    }
    let base_activity = (0.25 + 0.15 * engagement + 0.05 * intent).clamp(0.05, 0.9);
    let team_potential = match segment {
        Segment::Tourist => 0,
        _ => poisson(&mut rng, 0.25 * size.powf(0.4)).min(25),
    };
    let adopt_rate = (0.15 + 0.1 * engagement + 0.05 * intent).clamp(0.02, 0.6);

    // Feature adoption order: a weighted random permutation (Efraimidis–Spirakis keys).
    let mut order: Vec<(f64, EventCode)> = FEATURES
        .iter()
        .enumerate()
        .map(|(i, f)| (rng.gen::<f64>().powf(1.0 / f.adoption), i as EventCode))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    let order: Vec<EventCode> = order.into_iter().map(|(_, code)| code).collect();

    let conversion_draw: f64 = rng.sample(Exp1);
    let life_days = calendar.days - signup_day;
    let mut state = State::default();
    let mut hazards = Vec::with_capacity(life_days as usize);
    let mut events = Vec::new();
    let mut cumulative_hazard = 0.0;
    let mut converted_ms = None;
    let mut pending_joins: Vec<u32> = Vec::new();
    let end_ms = calendar.start_ms + i64::from(calendar.days) * DAY_MS;

    for d in 0..life_days {
        let day = signup_day + d;
        let day_start = calendar.start_ms + i64::from(day) * DAY_MS;
        let in_trial = plan == "trial" && d < TRIAL_DAYS;
        let shifted = calendar.is_shifted(day);

        // Conversion hazard from the traits and the path up to yesterday.
        let recent = |last: Option<u32>, within: u32| last.is_some_and(|l| d - l <= within);
        let mut eta = -6.7 + 0.9 * intent;
        if recent(state.last_hand_raise, 3) {
            eta += if shifted { 0.3 } else { 1.3 };
        }
        if recent(state.last_upgrade_click, 3) {
            eta += 0.7;
        }
        if recent(state.last_limit_hit, 7) {
            eta += if state.teammates >= 1 { 1.1 } else { 0.5 } + if shifted { 1.0 } else { 0.0 };
        }
        if state.breadth >= 5 {
            eta += if shifted { 0.2 } else { 0.6 };
        }
        if state.key_event && !shifted {
            eta += 0.4;
        }
        if shifted {
            eta += 1.2;
        }
        if plan == "trial" && (11..=15).contains(&d) {
            eta += 0.7;
        }
        eta += 0.3 * f64::from(state.active_last_7(d)).ln_1p();
        if state.last_active.is_some_and(|l| d - l > 14) {
            eta -= 1.0;
        }
        if segment == Segment::Hobbyist {
            eta -= 2.0;
        }
        let hazard = eta.exp().min(0.25);
        hazards.push(hazard);
        if converted_ms.is_none() && cumulative_hazard + hazard > conversion_draw {
            let fraction = (conversion_draw - cumulative_hazard) / hazard;
            let from = if d == 0 { signup_ms } else { day_start };
            let span = day_start + DAY_MS - from;
            converted_ms = Some((from + 1 + (fraction * (span - 2) as f64) as i64).min(end_ms - 1));
        }
        cumulative_hazard += hazard;

        // Activity today.
        let joins_today = pending_joins.iter().filter(|&&j| j == d).count();
        pending_joins.retain(|&j| j != d);
        let active = d == 0
            || joins_today > 0
            || match segment {
                Segment::Tourist => rng.gen_bool(0.004),
                _ => {
                    let decay = 0.15 + 0.85 * (-f64::from(d) / retention_days).exp();
                    let weekend = if calendar.is_weekend(day) { 0.35 } else { 1.0 };
                    rng.gen_bool((base_activity * decay * weekend).min(1.0))
                }
            };
        if !active {
            continue;
        }
        state.mark_active(d);
        for _ in 0..joins_today {
            let user = state.users;
            state.users += 1;
            state.teammates += 1;
            let ts = time_on_day(&mut rng, day_start, signup_ms);
            events.push(Event {
                ts_ms: ts,
                user: Some(user),
                code: TEAMMATE_JOINED,
            });
        }
        let sessions = if segment == Segment::Tourist {
            1
        } else {
            1 + poisson(&mut rng, 0.6 * engagement)
        };
        let mut limit_hit_today = false;
        let mut last_ts = day_start;
        for s in 0..sessions {
            let user = if state.users > 1 && rng.gen_bool(0.5) {
                rng.gen_range(1..state.users)
            } else {
                0
            };
            let mut ts = if d == 0 && s == 0 {
                signup_ms
            } else {
                time_on_day(&mut rng, day_start, signup_ms)
            };
            let mut n = 1 + poisson(&mut rng, 3.0 * engagement).min(200);
            // The changed product's guided onboarding shows three features in the first session.
            let new_features = if shifted && d == 0 && s == 0 {
                3
            } else {
                usize::from(state.breadth < FEATURES.len() && (state.breadth == 0 || rng.gen_bool(adopt_rate)))
            };
            for i in 0..new_features.min(FEATURES.len() - state.breadth) {
                if i > 0 {
                    ts += 1_000;
                }
                let code = order[state.breadth];
                state.breadth += 1;
                state.key_event |= KEY_FEATURES.contains(&code);
                events.push(Event {
                    ts_ms: ts,
                    user: Some(user),
                    code,
                });
                n = n.saturating_sub(1);
            }
            let adopted = &order[..state.breadth];
            for _ in 0..n {
                ts += 1_000 + (45_000.0 * rng.sample::<f64, _>(Exp1)) as i64;
                let mut code = adopted[pick_weighted(&mut rng, adopted, |&c| FEATURES[c as usize].frequency)];
                if code == TASK_CREATED && !in_trial {
                    let month = calendar.month_of_day[day as usize];
                    if state.limit_month != month {
                        state.limit_month = month;
                        state.tasks_this_month = 0;
                    }
                    let limit = if shifted { TASKS_PER_MONTH / 2 } else { TASKS_PER_MONTH };
                    if state.tasks_this_month >= limit {
                        // Blocked: the first attempt of the day shows the limit; most users then give up
                        // on creating tasks for the day.
                        if limit_hit_today && rng.gen_bool(0.8) {
                            continue;
                        }
                        code = LIMIT_REACHED;
                        limit_hit_today = true;
                    } else {
                        state.tasks_this_month += 1;
                    }
                }
                events.push(Event {
                    ts_ms: ts,
                    user: Some(user),
                    code,
                });
            }
            if u32::from(state.invites) < team_potential && rng.gen_bool(0.15) {
                ts += 5_000;
                state.invites += 1;
                events.push(Event {
                    ts_ms: ts,
                    user: Some(user),
                    code: TEAMMATE_INVITED,
                });
                if rng.gen_bool(0.65) {
                    pending_joins.push(d + rng.gen_range(1..=3));
                }
            }
            last_ts = last_ts.max(ts);
        }

        // Hand-raising, driven by intent, the limit and the trial's end.
        let limit_recent = limit_hit_today || recent(state.last_limit_hit, 7);
        let trial_ending = plan == "trial" && (10..=TRIAL_DAYS).contains(&d);
        let pricing = rng.gen_bool(sigmoid(
            -4.0 + 0.8 * intent
                + if limit_recent { 1.5 } else { 0.0 }
                + if trial_ending { 1.0 } else { 0.0 }
                + 0.3 * (state.breadth as f64).ln_1p(),
        ));
        let upgrade = rng.gen_bool(sigmoid(
            -5.5 + 0.9 * intent
                + if limit_hit_today || recent(state.last_limit_hit, 3) {
                    2.0
                } else {
                    0.0
                }
                + if pricing { 1.0 } else { 0.0 },
        ));
        let contact = rng.gen_bool(sigmoid(
            -7.0 + 0.7 * intent + 0.5 * (size + 1.0).log10() + if state.teammates >= 3 { 0.8 } else { 0.0 },
        ));
        for (raised, code) in [
            (pricing, PRICING_PAGE_VIEWED),
            (upgrade, UPGRADE_CLICKED),
            (contact, CONTACT_SALES_REQUESTED),
        ] {
            if raised {
                last_ts += 2_000 + rng.gen_range(0..60_000);
                events.push(Event {
                    ts_ms: last_ts,
                    user: Some(0),
                    code,
                });
                state.last_hand_raise = Some(d);
            }
        }
        if upgrade {
            state.last_upgrade_click = Some(d);
        }
        if limit_hit_today {
            state.last_limit_hit = Some(d);
        }
        for _ in 0..poisson(&mut rng, 0.4) {
            let ts = day_start.max(signup_ms) + rng.gen_range(0..DAY_MS / 2);
            events.push(Event {
                ts_ms: ts,
                user: None,
                code: NOTIFICATION_SENT,
            });
        }
    }

    // The export ends at the calendar's end; after converting, the account is on the paid plan.
    events.retain(|e| e.ts_ms < end_ms);
    if let Some(converted) = converted_ms {
        events.retain_mut(|e| {
            if e.ts_ms <= converted {
                return true;
            }
            match e.code {
                LIMIT_REACHED => {
                    e.code = TASK_CREATED;
                    true
                }
                PRICING_PAGE_VIEWED | UPGRADE_CLICKED | CONTACT_SALES_REQUESTED => false,
                _ => true,
            }
        });
    }
    events.sort_by_key(|e| e.ts_ms);

    AccountHistory {
        signup_ms,
        signup_day,
        plan,
        company_size,
        industry,
        country: COUNTRIES[country_index].0,
        segment,
        users: state.users,
        events,
        converted_ms,
        hazards,
    }
}

/// The path state the hazard and behaviour depend on.
struct State {
    users: u16,
    teammates: u16,
    invites: u16,
    breadth: usize,
    key_event: bool,
    active_days: [u32; 7],
    last_active: Option<u32>,
    last_hand_raise: Option<u32>,
    last_upgrade_click: Option<u32>,
    last_limit_hit: Option<u32>,
    limit_month: u32,
    tasks_this_month: u32,
}

impl Default for State {
    fn default() -> Self {
        State {
            users: 1,
            teammates: 0,
            invites: 0,
            breadth: 0,
            key_event: false,
            active_days: [u32::MAX; 7],
            last_active: None,
            last_hand_raise: None,
            last_upgrade_click: None,
            last_limit_hit: None,
            limit_month: u32::MAX,
            tasks_this_month: 0,
        }
    }
}

impl State {
    fn mark_active(&mut self, day: u32) {
        self.active_days[day as usize % 7] = day;
        self.last_active = Some(day);
    }

    /// Active days among the seven before `day`.
    fn active_last_7(&self, day: u32) -> u32 {
        self.active_days
            .iter()
            .filter(|&&a| a != u32::MAX && a < day && day - a <= 7)
            .count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calendar() -> Calendar {
        Calendar::new(chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap(), 26 * 7)
    }

    #[test]
    fn same_seed_and_index_give_the_same_account() {
        let c = calendar();
        let a = simulate(7, 42, 1000, &c);
        let b = simulate(7, 42, 1000, &c);
        assert_eq!(a.events, b.events);
        assert_eq!(a.converted_ms, b.converted_ms);
        assert_ne!(simulate(8, 42, 1000, &c).events, a.events);
    }

    #[test]
    fn events_are_ordered_inside_the_calendar_and_after_signup() {
        let c = calendar();
        let end = c.start_ms + i64::from(c.days) * DAY_MS;
        for i in 0..300 {
            let a = simulate(1, i, 300, &c);
            assert!(a.events.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
            assert!(
                a.events.iter().all(|e| e.ts_ms >= a.signup_ms && e.ts_ms < end),
                "account {i}"
            );
            assert_eq!(a.hazards.len() as u32, c.days - a.signup_day);
            if let Some(t) = a.converted_ms {
                assert!(t > a.signup_ms && t < end);
                let paid = a.events.iter().filter(|e| e.ts_ms > t);
                assert!(paid
                    .clone()
                    .all(|e| e.code != LIMIT_REACHED && e.code != PRICING_PAGE_VIEWED));
            }
        }
    }

    #[test]
    fn truth_is_a_probability_only_for_eligible_windows() {
        let c = calendar();
        let a = simulate(3, 10, 1000, &c);
        assert_eq!(a.conversion_probability(a.signup_day, 30), None);
        let p = a.conversion_probability(a.signup_day + 1, 30).unwrap();
        assert!((0.0..1.0).contains(&p));
        assert_eq!(a.conversion_probability(c.days - 10, 30), None);
    }

    #[test]
    fn tourists_go_quiet_and_the_limit_blocks_tasks() {
        let c = calendar();
        let histories: Vec<_> = (0..2000).map(|i| simulate(5, i, 2000, &c)).collect();
        let tourists: Vec<_> = histories.iter().filter(|h| h.segment == Segment::Tourist).collect();
        let quiet = tourists
            .iter()
            .filter(|h| {
                h.events
                    .iter()
                    .filter(|e| e.user.is_some())
                    .all(|e| e.ts_ms < h.signup_ms + DAY_MS)
            })
            .count();
        assert!(quiet * 10 > tourists.len() * 5, "{quiet} of {}", tourists.len());
        assert!(histories
            .iter()
            .any(|h| h.events.iter().any(|e| e.code == LIMIT_REACHED)));
    }
}
