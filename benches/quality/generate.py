"""Three synthetic product histories that pql did not write, for benches/quality.

    python generate.py teamchat --accounts 20000 --seed 1 --out DIR
    python generate.py shop     --accounts 25000 --seed 1 --out DIR
    python generate.py devapi   --accounts 15000 --seed 1 --out DIR

Each shape writes events, accounts and conversions in its own layout and vocabulary, a `pql.toml` that maps
them onto pql's data contract, and `meta.json` (the history's dates, sizes, the first Monday after the start
and the latest event's day, and the share of converted rows at weekly snapshots).

The simulation is day by day and vectorised over accounts. Every account has a hidden intent `z` that no
table shows, an activity scale (lognormal, or Pareto for devapi's API traffic), and a quiet/active state
(many accounts go quiet after their first day; some come back). Each day the shape draws its events from
the account's state, then the account converts with a daily hazard computed from a hidden model of its
behaviour: exponential moving averages with their own half-lives (not pql's 7/30-day windows), thresholds,
saturating effects, interactions, quantities pql cannot see (order amounts, API error shares, demand), the
latent intent and daily noise. Converted accounts stop producing events (pql only scores accounts that
have not converted). Nothing here reads pql's feature dictionary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

DAY_NS = 86_400 * 10**9


def log(msg: str) -> None:
    print(f"[generate {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ema(old, new, half_life_days):
    a = 1.0 - 0.5 ** (1.0 / half_life_days)
    return old + a * (new - old)


# --------------------------------------------------------------------------------------------------------
# Engine: signups, quiet/active states, event timing, conversion


class Shape:
    """What a product shape provides to the engine."""

    name = ""
    events: list[str] = []          # event vocabulary, index = code
    uniform_events: set[str] = set()  # timed uniformly over the (diurnal) day, not in sessions
    diurnal: np.ndarray             # 24 hourly weights
    default_accounts = 16000
    default_weeks = 36
    default_start = "2024-01-03"
    quiet_first_day = 0.4           # share that goes quiet after the signup day (scaled by intent)
    quiet_daily = 0.01
    revive_daily = 0.004

    def init(self, rng, n, start: date, days: int) -> dict: ...
    def step(self, st, idx, d, new, rng) -> np.ndarray: ...     # counts (len(idx), E)
    def hazard_logit(self, st, idx, d, counts) -> np.ndarray: ...
    def users(self, st, acct, code, rng) -> np.ndarray: ...      # user index per event, -1 = none
    def amounts(self, st, acct, code, rng): return None


def signup_days(rng, n, days):
    """Signup times (days since start): growing over the history, fewer at weekends, none in the last week."""
    span = days - 7
    # density ∝ 1 + 1.5 t/span
    u = rng.random(n)
    a, b = 1.0, 1.5
    t = (-a + np.sqrt(a * a + 2 * b * u * (a + b / 2))) / b * span
    return np.sort(t)


def simulate(shape: Shape, n: int, seed: int, start: date, weeks: int):
    rng = np.random.default_rng(seed)
    days = weeks * 7
    st = shape.init(rng, n, start, days)
    signup = st["signup"]
    sday = np.floor(signup).astype(np.int64)
    st["alive"] = np.ones(n, dtype=bool)
    conv = np.full(n, np.nan)
    E = len(shape.events)
    uniform = np.array([e in shape.uniform_events for e in shape.events])
    hours = shape.diurnal / shape.diurnal.sum()
    chunks = []
    st["start"] = start
    t0 = time.perf_counter()
    for d in range(days):
        st["weekday"] = (start + timedelta(days=d)).weekday()
        st["date"] = start + timedelta(days=d)
        idx = np.flatnonzero((sday <= d) & np.isnan(conv))
        if len(idx) == 0:
            continue
        new = sday[idx] == d
        counts = shape.step(st, idx, d, new, rng)
        logit = shape.hazard_logit(st, idx, d, counts)
        h = sigmoid(logit)
        h[new] *= 0.3  # few buy on the day they sign up
        converts = rng.random(len(idx)) < h
        # events of the day
        k, e = np.nonzero(counts)
        if len(k):
            c = counts[k, e]
            acct_local = np.repeat(k, c)
            code = np.repeat(e, c).astype(np.int16)
            acct = idx[acct_local]
            lo = np.where(new, signup[idx] - d, 0.0)  # fraction of the day before signup
            # sessions per account-day
            total = counts.sum(axis=1)
            n_sess = 1 + rng.poisson(0.25 * np.power(total, 0.55))
            sess_start_off = np.concatenate([[0], np.cumsum(n_sess)[:-1]])
            hour = rng.choice(24, size=int(n_sess.sum()), p=hours)
            frac = (hour + rng.random(len(hour))) / 24.0
            owner = np.repeat(np.arange(len(idx)), n_sess)
            frac = lo[owner] + (1.0 - lo[owner]) * frac
            which = (rng.random(len(acct_local)) * n_sess[acct_local]).astype(np.int64)
            start_frac = frac[sess_start_off[acct_local] + which]
            offset = rng.exponential(6.0 / 1440.0, size=len(acct_local))
            tf = start_frac + offset
            over = tf >= 1.0  # a session running past midnight: the event goes to a random time of the day
            tf[over] = (lo[acct_local] + (1.0 - lo[acct_local]) * rng.random(len(tf)))[over]
            # uniform (system) events: any diurnal time after signup
            uni = uniform[code]
            if uni.any():
                hu = rng.choice(24, size=int(uni.sum()), p=hours)
                fu = (hu + rng.random(len(hu))) / 24.0
                lu = lo[acct_local[uni]]
                tf[uni] = lu + (1.0 - lu) * fu
            tf = np.maximum(tf, lo[acct_local] + 1e-7)
            t = d + tf
            user = shape.users(st, acct, code, rng)
            amount = shape.amounts(st, acct, code, rng)
            chunks.append((acct.astype(np.int32), code, user.astype(np.int32), t, amount))
        # conversions: at a time of the day after the account's last event of the day
        if converts.any():
            ci = idx[converts]
            last = np.full(n, np.nan)
            if len(k):
                df_last = pd.Series(t).groupby(acct).max()
                last[df_last.index.to_numpy()] = df_last.to_numpy()
            base = np.where(np.isnan(last[ci]), np.maximum(signup[ci], d), last[ci])
            ct = base + rng.random(len(ci)) * (d + 1 - base)
            conv[ci] = np.minimum(ct, d + 1 - 1e-7)
        # quiet / active transitions
        alive = st["alive"]
        a = alive[idx]
        z = st["z"][idx]
        p_quiet = np.where(new, shape.quiet_first_day * np.exp(-0.4 * z), shape.quiet_daily * np.exp(-0.3 * z))
        go_quiet = a & (rng.random(len(idx)) < p_quiet)
        revive = ~a & (rng.random(len(idx)) < shape.revive_daily)
        alive[idx[go_quiet]] = False
        alive[idx[revive]] = True
        if d % 28 == 27:
            ev = sum(len(c[0]) for c in chunks)
            log(f"{shape.name}: day {d + 1}/{days}, {len(idx)} accounts open, {ev} events, "
                f"{int((~np.isnan(conv)).sum())} converted, {time.perf_counter() - t0:.0f} s")
    acct = np.concatenate([c[0] for c in chunks])
    code = np.concatenate([c[1] for c in chunks])
    user = np.concatenate([c[2] for c in chunks])
    t = np.concatenate([c[3] for c in chunks])
    amount = None
    if chunks[0][4] is not None:
        amount = np.concatenate([c[4] for c in chunks])
    return st, {"acct": acct, "code": code, "user": user, "t": t, "amount": amount}, conv


def to_ns(start: date, t_days: np.ndarray, unit: str) -> np.ndarray:
    """Days since start -> int64 nanoseconds since 1970, floored to the unit."""
    base = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp()) * 10**9
    ns = base + np.floor(t_days * DAY_NS).astype(np.int64)
    q = {"ns": 1, "us": 1000, "ms": 10**6, "s": 10**9}[unit]
    return ns // q * q


def dedupe(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    before = len(df)
    df = df.drop_duplicates(subset=keys, keep="first")
    if len(df) != before:
        log(f"removed {before - len(df)} exact duplicate events (after rounding the times)")
    return df


def label_rates(signup_ns, conv_ns, last_event_ns, first_monday: date, horizon_days: int) -> dict:
    """Share of eligible (account, Monday) rows converting within the horizon, over labelled snapshots."""
    end = (last_event_ns // DAY_NS + 1) * DAY_NS  # midnight after the latest event's day
    T = int(datetime(first_monday.year, first_monday.month, first_monday.day, tzinfo=timezone.utc).timestamp()) * 10**9
    h = horizon_days * DAY_NS
    rows = pos = snaps = 0
    conv = np.where(np.isnan(conv_ns), np.inf, conv_ns)
    while T + h <= end:
        elig = (signup_ns <= T) & (conv > T)
        rows += int(elig.sum())
        pos += int((elig & (conv <= T + h)).sum())
        snaps += 1
        T += 7 * DAY_NS
    return {"labelled_snapshots": snaps, "labelled_rows": rows, "positives": pos,
            "base_rate": pos / rows if rows else None}


# --------------------------------------------------------------------------------------------------------
# teamchat: a team messaging SaaS


class TeamChat(Shape):
    name = "teamchat"
    product = [
        # (event, share of activity for a "chatty" workspace)
        ("message_sent", 0.42), ("reaction_added", 0.11), ("thread_replied", 0.07), ("user_logged_in", 0.05),
        ("mention_used", 0.045), ("message_edited", 0.03), ("notification_clicked", 0.03),
        ("file_previewed", 0.028), ("search_performed", 0.028), ("file_shared", 0.026), ("dm_started", 0.03),
        ("channel_joined", 0.02), ("huddle_joined", 0.013), ("message_deleted", 0.01), ("status_set", 0.01),
        ("workflow_run", 0.006), ("huddle_started", 0.008), ("reminder_created", 0.005),
        ("bookmark_added", 0.004), ("profile_updated", 0.003), ("screen_shared", 0.004),
        ("channel_created", 0.004), ("message_pinned", 0.003), ("canvas_created", 0.0025),
        ("poll_created", 0.0018), ("emoji_uploaded", 0.0015), ("channel_archived", 0.001),
        ("app_installed", 0.0009), ("workflow_created", 0.0007), ("integration_added", 0.0006),
        ("old_message_hidden", 0.0),
    ]
    hand_raise = ["pricing_viewed", "plan_compared", "upgrade_clicked"]
    collab = ["member_invited", "member_joined", "guest_invited"]
    reached = ["message_limit_reached"]
    ignore = ["bot_message", "email_digest_sent"]
    events = [e for e, _ in product] + hand_raise + collab + reached + ignore
    uniform_events = {"bot_message", "email_digest_sent"}
    diurnal = np.array([1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 10, 9, 10, 10, 10, 9, 7, 5, 4, 3, 2, 2, 1], float)
    default_accounts = 16000
    default_weeks = 36
    default_start = "2024-01-03"  # a Wednesday
    limit = 400                   # free plan: the latest 400 messages are visible (lifetime count)
    ONBOARD = {"channel_created", "app_installed", "profile_updated", "integration_added", "emoji_uploaded",
               "status_set", "workflow_created"}
    STYLE = {  # multipliers for the meeting- and automation-minded workspaces
        "meeting": {"huddle_started": 6, "huddle_joined": 6, "screen_shared": 6, "message_sent": 0.6,
                    "thread_replied": 0.6, "canvas_created": 2},
        "automation": {"workflow_created": 6, "workflow_run": 8, "app_installed": 5, "integration_added": 6,
                       "bot_message": 1, "reminder_created": 3},
    }

    def init(self, rng, n, start, days):
        E = len(self.events)
        ix = {e: i for i, e in enumerate(self.events)}
        self.ix = ix
        base = np.zeros(E)
        for e, w in self.product:
            base[ix[e]] = w
        mult = np.ones((3, E))
        for s, (name, m) in enumerate(self.STYLE.items(), start=1):
            for e, v in m.items():
                mult[s, ix[e]] = v
        style = rng.dirichlet([0.6, 0.4, 0.4], size=n)
        st = {
            "signup": signup_days(rng, n, days),
            "z": rng.normal(size=n),
            "rate": rng.lognormal(np.log(0.65), 1.25, size=n),       # events per member-day
            "weights": (style @ mult) * base,                        # (n, E)
            "target_team": np.maximum(1, np.round(rng.lognormal(np.log(4), 1.0, size=n))).astype(int),
            "members": np.ones(n, dtype=np.int32),
            "pending": np.zeros(n, dtype=np.int32),
            "messages": np.zeros(n),
            "limit_day": np.full(n, -1e9),
            "upgrade_day": np.full(n, -1e9),
            "integrations": np.zeros(n),
            "huddles": np.zeros(n),
            "files": np.zeros(n),
            "ema_msg": np.zeros(n),
            "ema_hr": np.zeros(n),
            "ema_members": np.zeros(n),
            "region": rng.choice(["NA", "EU", "APAC", "LATAM", "MEA"], size=n, p=[0.4, 0.3, 0.18, 0.08, 0.04]),
            "source": rng.choice(["organic", "invite", "ads", "partner", "referral"], size=n,
                                 p=[0.45, 0.2, 0.2, 0.05, 0.1]),
        }
        declared = np.round(st["target_team"] * rng.lognormal(0, 0.5, size=n))
        declared[rng.random(n) < 0.35] = np.nan
        st["declared_team_size"] = declared
        st["automation"] = style[:, 2]
        return st

    def step(self, st, idx, d, new, rng):
        ix = self.ix
        alive = st["alive"][idx]
        tenure = d - st["signup"][idx]
        m = st["members"][idx]
        z = st["z"][idx]
        wk = 0.25 if st["weekday"] >= 5 else 1.0
        scale = st["rate"][idx] * np.power(m, 0.85) * wk * np.where(alive, 1.0, 0.02)
        scale *= 1.0 + 0.8 * np.exp(-tenure / 5.0)
        lam = st["weights"][idx] * scale[:, None]
        onboard = [ix[e] for e in self.ONBOARD]
        lam[:, onboard] *= (1.0 + 8.0 * np.exp(-tenure / 3.0))[:, None]
        limited = st["messages"][idx] >= self.limit
        lam[:, ix["old_message_hidden"]] = limited * (0.6 * lam[:, ix["search_performed"]] + 0.05 * alive)
        recent_limit = (d - st["limit_day"][idx]) <= 21
        hr = 0.012 * np.exp(0.8 * z) * (1 + 3.0 * recent_limit + 0.5 * limited) * (1 + m / 12.0) * np.where(alive, 1, 0.15)
        lam[:, ix["pricing_viewed"]] = hr
        lam[:, ix["plan_compared"]] = 0.35 * hr
        lam[:, ix["upgrade_clicked"]] = 0.12 * hr * np.exp(0.5 * z)
        room = np.maximum(st["target_team"][idx] - m - st["pending"][idx], 0) / st["target_team"][idx]
        lam[:, ix["member_invited"]] = (0.6 * room * np.exp(-tenure / 15.0) + 0.004 * room) * np.where(alive, 1, 0.05)
        lam[:, ix["guest_invited"]] = 0.004 * np.sqrt(m) * alive
        lam[:, ix["member_joined"]] = 0.0
        lam[:, ix["message_limit_reached"]] = 0.0
        lam[:, ix["bot_message"]] = 0.3 * st["integrations"][idx] * (0.3 + st["automation"][idx]) * wk
        lam[:, ix["email_digest_sent"]] = 0.05
        counts = rng.poisson(lam)
        # invitations become members after a few days (70% eventually)
        pending = st["pending"][idx] + counts[:, ix["member_invited"]]
        joins = rng.binomial(pending, 0.3)
        expire = rng.binomial(pending - joins, 0.03)
        counts[:, ix["member_joined"]] = joins
        st["pending"][idx] = pending - joins - expire
        st["members"][idx] = m + joins
        # the lifetime message count crossing the free plan's history limit
        msgs = counts[:, ix["message_sent"]]
        before = st["messages"][idx]
        after = before + msgs
        crossed = (before < self.limit) & (after >= self.limit)
        counts[:, ix["message_limit_reached"]] = crossed
        st["messages"][idx] = after
        st["limit_day"][idx[crossed]] = d
        st["upgrade_day"][idx[counts[:, ix["upgrade_clicked"]] > 0]] = d
        st["integrations"][idx] += counts[:, ix["integration_added"]] + counts[:, ix["app_installed"]]
        st["huddles"][idx] += counts[:, ix["huddle_started"]]
        st["files"][idx] += counts[:, ix["file_shared"]]
        st["ema_msg"][idx] = ema(st["ema_msg"][idx], msgs, 6.0)
        st["ema_hr"][idx] = ema(st["ema_hr"][idx], counts[:, [ix[e] for e in self.hand_raise]].sum(1), 4.0)
        senders = np.minimum(m, rng.poisson(np.minimum(m, 1 + msgs / 15.0)))
        st["ema_members"][idx] = ema(st["ema_members"][idx], senders, 10.0)
        return counts

    def hazard_logit(self, st, idx, d, counts):
        z = st["z"][idx]
        tenure = d - st["signup"][idx]
        m = st["members"][idx]
        alive = st["alive"][idx]
        x = -7.9 + 0.8 * z
        lm = np.log1p(st["ema_msg"][idx])
        x += 0.5 * np.tanh(lm / 1.5 - 1.3) + 0.8 * np.exp(-(((lm - 2.5) / 0.8) ** 2))  # busiest teams go to sales
        x += 0.5 * np.tanh(st["ema_members"][idx] / 3.0)
        x += 1.2 * ((m >= 3) & (st["integrations"][idx] >= 1))
        x += 1.3 * ((d - st["limit_day"][idx]) <= 30) * (1 + 0.5 * (m >= 5))
        x += 1.0 * np.minimum(st["ema_hr"][idx] * 4.0, 1.0)
        x += 1.0 * ((d - st["upgrade_day"][idx]) <= 3)
        x -= 1.0 * ((st["huddles"][idx] >= 4) & (m <= 2))
        x += 0.5 * (st["files"][idx] >= 25)
        x += np.where(tenure < 3, -0.8, np.where(tenure <= 60, np.where(tenure >= 10, 0.3, 0.0),
                                                 np.where(tenure > 120, -0.4, 0.0)))
        x += 0.5 * (st["source"][idx] == "partner") - 0.2 * (st["source"][idx] == "ads")
        dts = st["declared_team_size"][idx]
        x += np.where(np.isnan(dts), 0.0, 0.15 * np.log1p(np.nan_to_num(dts)))
        x += np.where(alive, 0.0, -1.3)
        x += np.random.default_rng(d * 7919 + 1).normal(0, 0.4, size=len(idx))
        return x

    def users(self, st, acct, code, rng):
        m = st["members"][acct]
        u = np.floor(m * rng.random(len(acct)) ** 2).astype(np.int64)
        ix = self.ix
        admin = np.isin(code, [ix[e] for e in self.hand_raise + ["member_invited", "integration_added",
                                                                   "app_installed", "message_limit_reached"]])
        u[admin & (rng.random(len(acct)) < 0.85)] = 0
        joined = code == ix["member_joined"]
        u[joined] = m[joined] - 1 - np.floor(rng.random(joined.sum()) * 0.999).astype(np.int64)
        u[np.isin(code, [ix[e] for e in self.ignore])] = -1
        return u

    def write(self, out, st, ev, conv, start, args):
        n = len(st["z"])
        ws = np.array([f"W{i:06X}" for i in range(n)])  # hex-looking workspace ids
        ts = to_ns(start, ev["t"], "ns")
        member = np.where(ev["user"] >= 0,
                          np.char.add(np.char.add(ws[ev["acct"]], "-U"), ev["user"].astype(str)), None)
        df = pd.DataFrame({
            "workspace_id": ws[ev["acct"]],
            "member_id": member,
            "action": pd.Categorical.from_codes(ev["code"], self.events),
            "ts": pd.to_datetime(ts, unit="ns"),  # datetime64[ns], no zone
            "client": pd.Categorical.from_codes(
                np.random.default_rng(args.seed + 5).choice(3, size=len(ts), p=[0.55, 0.35, 0.10]),
                ["desktop", "web", "mobile"]),
        })
        df = dedupe(df, ["workspace_id", "member_id", "action", "ts"])
        df = df.sort_values("ts", kind="stable").reset_index(drop=True)  # a time-ordered log, not by workspace
        df["action"] = df["action"].astype(str)
        df.to_parquet(os.path.join(out, "events.parquet"), index=False)  # pandas default: ns timestamps
        signup_ns = to_ns(start, st["signup"], "ns")
        accounts = pd.DataFrame({
            "workspace_id": ws,
            "created": pd.to_datetime(signup_ns, unit="ns", utc=True),
            "tier": "free",
            "declared_team_size": st["declared_team_size"],
            "region": st["region"],
            "signup_source": st["source"],
        })
        accounts.to_parquet(os.path.join(out, "workspaces.parquet"), index=False)
        ok = ~np.isnan(conv)
        conv_ns = to_ns(start, conv[ok], "ns")
        conversions = pd.DataFrame({"workspace_id": ws[ok], "upgraded_at": pd.to_datetime(conv_ns, unit="ns"),
                                    "new_plan": np.where(np.random.default_rng(3).random(ok.sum()) < 0.8,
                                                         "pro", "business")})
        conversions.to_parquet(os.path.join(out, "upgrades.parquet"), index=False)
        return df, signup_ns, np.where(ok, to_ns(start, np.nan_to_num(conv), "ns").astype(float), np.nan), int(ts.max())

    def config(self, horizon):
        return f"""# pql configuration for benches/quality teamchat: a team messaging SaaS (workspaces, members),
# free plan with a history limit of the latest {self.limit:,} messages.

[inputs]
events = "events.parquet"
accounts = "workspaces.parquet"
conversions = "upgrades.parquet"

[columns.events]
account_id = "workspace_id"
user_id = "member_id"
event = "action"
timestamp = "ts"

[columns.accounts]
account_id = "workspace_id"
signup_at = "created"
plan = "tier"

[columns.conversions]
account_id = "workspace_id"
converted_at = "upgraded_at"

[[attributes]]
name = "declared_team_size"
kind = "numeric"

[[attributes]]
name = "region"
kind = "categorical"

[[attributes]]
name = "signup_source"
kind = "categorical"

[events]
key = ["integration_added", "workflow_created", "channel_created"]
hand_raise = {json.dumps(self.hand_raise)}
collaboration = {json.dumps(self.collab)}
ignore = {json.dumps(self.ignore)}

[[limits]]
event = "message_sent"
limit = {self.limit}
period = "lifetime"
reached_event = "message_limit_reached"

[snapshots]
cadence = "weekly"
weekday = "monday"

[label]
horizon_days = {horizon}

[[rules]]
name = "hit the history limit"
when = "message_limit_reached_count >= 1"

[[rules]]
name = "pricing interest"
when = "pricing_viewed_7d >= 1 or upgrade_clicked_7d >= 1"
"""


# --------------------------------------------------------------------------------------------------------
# shop: a B2C purchase history; conversion = subscribing to the paid membership


class Shop(Shape):
    name = "shop"
    events = ["home_viewed", "search_performed", "category_viewed", "view_item", "wishlist_add", "add_to_cart",
              "remove_from_cart", "checkout_started", "purchase", "coupon_applied", "gift_card_redeemed",
              "review_written", "return_requested", "support_contacted", "price_alert_set", "app_installed",
              "membership_page_viewed", "free_shipping_info_viewed", "referral_sent", "newsletter_opened"]
    hand_raise = ["membership_page_viewed", "free_shipping_info_viewed"]
    collab = ["referral_sent"]
    ignore = ["newsletter_opened"]
    uniform_events = {"newsletter_opened", "review_written", "return_requested"}
    diurnal = np.array([2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 7, 6, 6, 6, 7, 9, 11, 12, 11, 8, 4], float)
    default_accounts = 20000
    default_weeks = 40
    default_start = "2009-12-01"  # like the UCI Online Retail II span (2009-12 .. 2011-12: --weeks 105)
    quiet_first_day = 0.45
    quiet_daily = 0.006
    revive_daily = 0.006
    FREE_SHIPPING = 49.0

    def init(self, rng, n, start, days):
        self.ix = {e: i for i, e in enumerate(self.events)}
        age = rng.choice(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"], size=n,
                         p=[0.14, 0.28, 0.22, 0.16, 0.12, 0.08]).astype(object)
        age[rng.random(n) < 0.25] = None
        return {
            "signup": signup_days(rng, n, days),
            "z": rng.normal(size=n),
            "visit_rate": rng.lognormal(np.log(0.07), 1.0, size=n),
            "basket": rng.lognormal(np.log(38), 0.55, size=n),
            "coupon": rng.beta(1.0, 4.0, size=n),
            "returns_p": rng.beta(1.0, 10.0, size=n),
            "buy_p": rng.beta(2.0, 5.0, size=n),
            "optin": (rng.random(n) < 0.4).astype(float),
            "app": np.zeros(n, dtype=bool),
            "ema_purch": np.zeros(n),
            "ema_small": np.zeros(n),
            "ema_spend": np.zeros(n),
            "ema_coupon": np.zeros(n),
            "ema_returns": np.zeros(n),
            "ema_hr": np.zeros(n),
            "purchases": np.zeros(n),
            "recent_purch": np.zeros(n),
            "country": rng.choice(["GB", "DE", "FR", "NL", "IE", "ES", "BE", "CH", "PT", "IT", "AU", "NO", "US"],
                                  size=n, p=[0.55, 0.08, 0.07, 0.05, 0.04, 0.04, 0.03, 0.03, 0.03, 0.03, 0.02, 0.02, 0.01]),
            "age_band": age,
            "channel": rng.choice(["search", "social", "email", "affiliate", "direct"], size=n,
                                  p=[0.35, 0.2, 0.1, 0.1, 0.25]),
            "today_amount": {},
        }

    def season(self, day: date) -> float:
        md = (day.month, day.day)
        if (11, 20) <= md <= (12, 22):
            return 1.9
        if day.month == 1:
            return 0.8
        return 1.0

    def step(self, st, idx, d, new, rng):
        ix = self.ix
        k = len(idx)
        alive = st["alive"][idx]
        tenure = d - st["signup"][idx]
        wk = 1.25 if st["weekday"] >= 5 else 1.0
        s = self.season(st["date"])
        v = rng.poisson(st["visit_rate"][idx] * s * wk * np.where(alive, 1.0, 0.03) * (1 + 2.0 * np.exp(-tenure / 4)))
        v[new] = np.maximum(v[new], 1)
        c = np.zeros((k, len(self.events)), dtype=np.int64)
        c[:, ix["home_viewed"]] = rng.binomial(v, 0.6)
        c[:, ix["search_performed"]] = rng.poisson(0.9 * v)
        c[:, ix["category_viewed"]] = rng.poisson(1.3 * v)
        c[:, ix["view_item"]] = rng.poisson(2.5 * v)
        c[:, ix["wishlist_add"]] = rng.poisson(0.08 * v)
        atc = rng.poisson(v * 0.5 * (0.3 + 1.4 * st["buy_p"][idx]))
        c[:, ix["add_to_cart"]] = atc
        c[:, ix["remove_from_cart"]] = rng.binomial(atc, 0.2)
        chk = rng.binomial(np.minimum(atc, v), 0.55)
        c[:, ix["checkout_started"]] = chk
        pur = rng.binomial(chk, 0.75)
        c[:, ix["purchase"]] = pur
        c[:, ix["coupon_applied"]] = rng.binomial(pur, st["coupon"][idx])
        c[:, ix["gift_card_redeemed"]] = rng.binomial(pur, 0.02)
        rp = st["recent_purch"][idx]
        c[:, ix["review_written"]] = rng.poisson(0.015 * rp * np.where(alive, 1, 0.3))
        ret = rng.poisson(0.02 * rp * st["returns_p"][idx] * 3)
        c[:, ix["return_requested"]] = ret
        c[:, ix["support_contacted"]] = rng.poisson(0.02 * v + 0.4 * ret)
        c[:, ix["price_alert_set"]] = rng.poisson(0.03 * v)
        app_new = (~st["app"][idx]) & (v > 0) & (rng.random(k) < 0.015)
        c[:, ix["app_installed"]] = app_new
        st["app"][idx[app_new]] = True
        pain = np.clip(st["ema_small"][idx] * 6, 0, 2)
        hr = v * 0.03 * np.exp(0.7 * st["z"][idx]) * (1 + pain) * (1 + 0.6 * (s > 1))
        c[:, ix["membership_page_viewed"]] = rng.poisson(hr)
        c[:, ix["free_shipping_info_viewed"]] = rng.poisson(v * 0.04 * (0.3 + pain))
        c[:, ix["referral_sent"]] = rng.poisson(0.012 * v * (1 + (st["purchases"][idx] > 3)))
        c[:, ix["newsletter_opened"]] = rng.poisson(0.12 * st["optin"][idx])
        # order amounts: lognormal around the customer's basket; only the shop knows them
        n_pur = pur[pur > 0]
        spend = np.zeros(k)
        small = np.zeros(k)
        if n_pur.size:
            # per-purchase amounts for this day, in account order (used by amounts())
            reps = np.repeat(np.arange((pur > 0).sum()), n_pur)
            basket = st["basket"][idx][pur > 0][reps]
            amt = np.round(rng.lognormal(np.log(basket), 0.45), 2)
            owner = np.flatnonzero(pur > 0)[reps]
            np.add.at(spend, owner, amt)
            np.add.at(small, owner, amt < self.FREE_SHIPPING)
            st["today_amount"] = {"owner_global": idx[owner], "amount": amt}
        else:
            st["today_amount"] = {"owner_global": np.zeros(0, int), "amount": np.zeros(0)}
        st["purchase_today"] = np.zeros(len(st["z"]), dtype=bool)
        st["purchase_today"][idx[pur > 0]] = True
        st["purchases"][idx] += pur
        st["recent_purch"][idx] = ema(rp, pur * 30.0, 30.0)  # ~ purchases in the last month
        st["ema_purch"][idx] = ema(st["ema_purch"][idx], pur * 45.0, 45.0)
        st["ema_small"][idx] = ema(st["ema_small"][idx], small, 40.0)
        st["ema_spend"][idx] = ema(st["ema_spend"][idx], spend * 90.0, 60.0)
        st["ema_coupon"][idx] = ema(st["ema_coupon"][idx], c[:, ix["coupon_applied"]] * 60.0, 60.0)
        st["ema_returns"][idx] = ema(st["ema_returns"][idx], ret * 90.0, 60.0)
        st["ema_hr"][idx] = ema(st["ema_hr"][idx], c[:, ix["membership_page_viewed"]] + c[:, ix["free_shipping_info_viewed"]], 5.0)
        return c

    def hazard_logit(self, st, idx, d, counts):
        z = st["z"][idx]
        tenure = d - st["signup"][idx]
        purch = st["ema_purch"][idx]     # ~ purchases in 45 days
        x = -7.8 + 0.8 * z
        x += 0.9 * np.tanh(purch - 1.0)
        x += 1.1 * ((st["ema_small"][idx] * 60 >= 1.5) & (st["purchases"][idx] >= 3))
        x += 0.45 * np.log1p(st["ema_spend"][idx] / 120.0)
        share = st["ema_coupon"][idx] / np.maximum(purch * 60 / 45, 0.5)
        x -= 0.9 * np.clip(share, 0, 1) * (st["purchases"][idx] >= 2)
        x -= 0.7 * (st["ema_returns"][idx] >= 1.5)
        x += 1.4 * np.minimum(st["ema_hr"][idx] * 3.0, 1.0)
        x += 0.7 * (self.season(st["date"]) > 1.5)
        x += 1.0 * st["purchase_today"][idx]
        x += 0.4 * st["app"][idx]
        age = st["age_band"][idx]
        x += 0.3 * np.isin(age, ["25-34", "35-44"]) - 0.4 * (age == "65+")
        x += np.where(tenure < 2, -0.5, 0.0)
        x += np.where(st["alive"][idx], 0.0, -1.0)
        x += np.random.default_rng(d * 7919 + 2).normal(0, 0.4, size=len(idx))
        return x

    def users(self, st, acct, code, rng):
        return np.full(len(acct), -1)

    def amounts(self, st, acct, code, rng):
        amount = np.full(len(acct), np.nan)
        pur = np.flatnonzero(code == self.ix["purchase"])
        if len(pur):
            # assign the day's amounts to the day's purchase rows of each account
            ta = st["today_amount"]
            order_rows = pur[np.argsort(acct[pur], kind="stable")]
            order_amt = np.argsort(ta["owner_global"], kind="stable")
            assert len(order_rows) == len(order_amt)
            amount[order_rows] = ta["amount"][order_amt]
        return amount

    def write(self, out, st, ev, conv, start, args):
        n = len(st["z"])
        rng = np.random.default_rng(args.seed + 11)
        ids = np.sort(rng.choice(np.arange(12346, 12346 + 4 * n), size=n, replace=False))  # numeric customer ids
        ids = rng.permutation(ids)
        ts = to_ns(start, ev["t"], "s")

        def pg(ns):  # PostgreSQL text export: 2009-03-01 10:00:00+00
            s = np.datetime_as_string(ns.astype("datetime64[ns]"), unit="s")
            return np.char.add(np.char.replace(s, "T", " "), "+00")

        df = pd.DataFrame({
            "customer_id": ids[ev["acct"]],
            "user_id": "",
            "event_type": pd.Categorical.from_codes(ev["code"], self.events).astype(str),
            "ts_ns": ts,
            "amount": ev["amount"],
        })
        df = dedupe(df, ["customer_id", "event_type", "ts_ns"])
        df = df.sort_values(["customer_id", "ts_ns"], kind="stable").reset_index(drop=True)
        df.insert(3, "event_time", pg(df["ts_ns"].to_numpy()))
        last = int(df["ts_ns"].max())
        df = df.drop(columns=["ts_ns"])
        df.to_csv(os.path.join(out, "events.csv"), index=False, float_format="%.2f")
        signup_ns = to_ns(start, st["signup"], "s")
        accounts = pd.DataFrame({
            "customer_id": ids,
            "created_at": pg(signup_ns),
            "customer_type": "registered",
            "country": st["country"],
            "age_band": st["age_band"],
            "acquisition_channel": st["channel"],
            "newsletter_opt_in": st["optin"].astype(int),
        })
        accounts.to_csv(os.path.join(out, "customers.csv"), index=False)
        ok = ~np.isnan(conv)
        conv_ns = to_ns(start, conv[ok], "s")
        conversions = pd.DataFrame({"customer_id": ids[ok], "subscribed_at": pg(conv_ns),
                                    "membership": "plus"})
        conversions.to_csv(os.path.join(out, "memberships.csv"), index=False)
        conv_all = np.full(n, np.nan)
        conv_all[ok] = conv_ns
        return df, signup_ns, conv_all, last

    def config(self, horizon, value=False):
        note = ("# pql-amount.toml: the same, with the events' `amount` column (order value of purchases) mapped as the\n"
                "# event value ([columns.events] value), which adds per-event value sums and means."
                if value else
                "# The events' `amount` column (order value of purchases) is not mapped: pql ignores it\n"
                "# (pql-amount.toml maps it).")
        value_line = 'value = "amount"\n' if value else ""
        return f"""# pql configuration for benches/quality shop: a B2C shop's purchase history (customers are the
# accounts, no users), exported from PostgreSQL as CSV; conversion = subscribing to the paid membership.
{note}

[inputs]
events = "events.csv"
accounts = "customers.csv"
conversions = "memberships.csv"

[columns.events]
account_id = "customer_id"
event = "event_type"
timestamp = "event_time"
{value_line}
[columns.accounts]
account_id = "customer_id"
signup_at = "created_at"
plan = "customer_type"

[columns.conversions]
account_id = "customer_id"
converted_at = "subscribed_at"

[[attributes]]
name = "country"
kind = "categorical"

[[attributes]]
name = "age_band"
kind = "categorical"

[[attributes]]
name = "acquisition_channel"
kind = "categorical"

[[attributes]]
name = "newsletter_opt_in"
kind = "numeric"

[events]
key = ["purchase", "app_installed"]
hand_raise = {json.dumps(self.hand_raise)}
collaboration = {json.dumps(self.collab)}
ignore = {json.dumps(self.ignore)}

[snapshots]
cadence = "weekly"
weekday = "monday"

[label]
horizon_days = {horizon}

[[rules]]
name = "membership page"
when = "membership_page_viewed_7d >= 1"

[[rules]]
name = "repeat buyer"
when = "purchase_30d >= 2"
"""


# --------------------------------------------------------------------------------------------------------
# devapi: a developer API platform with a monthly free quota


class DevApi(Shape):
    name = "devapi"
    console = [("docs_viewed", 0.22), ("dashboard_viewed", 0.14), ("log_viewed", 0.10),
               ("sandbox_request", 0.12), ("usage_page_viewed", 0.03), ("project_created", 0.015),
               ("key_created", 0.01), ("key_rotated", 0.004), ("sdk_installed", 0.006),
               ("quickstart_completed", 0.0), ("webhook_configured", 0.0), ("status_page_viewed", 0.008),
               ("support_ticket_opened", 0.004)]
    system = ["api_call", "api_error"]
    hand_raise = ["billing_page_viewed", "pricing_calculator_used"]
    collab = ["team_member_invited", "team_member_added"]
    reached = ["quota_exceeded"]
    ignore = ["webhook_delivered"]
    events = [e for e, _ in console] + system + hand_raise + collab + reached + ignore
    uniform_events = {"api_call", "api_error", "webhook_delivered"}
    diurnal = np.array([3, 3, 3, 3, 3, 4, 5, 6, 8, 9, 9, 9, 9, 9, 10, 10, 9, 8, 7, 6, 5, 4, 4, 3], float)
    default_accounts = 12000
    default_weeks = 30
    default_start = "2025-03-05"  # a Wednesday
    quota = 500                   # free tier: 500 calls a calendar month (soft: served, then nagged)
    cap_per_day = 2000            # the free tier's hard daily rate limit
    quiet_first_day = 0.45

    def init(self, rng, n, start, days):
        self.ix = {e: i for i, e in enumerate(self.events)}
        E = len(self.events)
        base = np.zeros(E)
        for e, w in self.console:
            base[self.ix[e]] = w
        domain = rng.choice(["business", "freemail", "edu"], size=n, p=[0.45, 0.45, 0.10])
        employees = np.round(rng.lognormal(np.log(40), 1.6, size=n))
        employees[(domain != "business") | (rng.random(n) < 0.3)] = np.nan
        # daily API demand once integrated: Pareto (alpha 1.05), most accounts a few calls a day
        demand = 0.6 * (rng.pareto(1.05, size=n) + 1.0)
        return {
            "signup": signup_days(rng, n, days),
            "z": rng.normal(size=n),
            "dev_rate": rng.lognormal(np.log(1.5), 0.9, size=n),
            "base": base,
            "demand": demand,
            "err": rng.beta(1.0, 25.0, size=n),
            "first_key": np.full(n, np.nan),
            "traffic_on": np.zeros(n, dtype=bool),
            "webhook": np.zeros(n, dtype=bool),
            "quickstart": np.zeros(n, dtype=bool),
            "keys": np.zeros(n),
            "team": np.zeros(n, dtype=np.int32),
            "pending": np.zeros(n, dtype=np.int32),
            "month": np.full(n, -1),
            "month_calls": np.zeros(n),
            "quota_day": np.full(n, -1e9),
            "docs_3d": np.zeros(n),
            "ema_calls": np.zeros(n),
            "ema_err": np.zeros(n),
            "ema_hr": np.zeros(n),
            "domain": domain,
            "employees": employees,
            "country": rng.choice(["US", "IN", "DE", "GB", "BR", "FR", "CA", "NG", "JP", "PL", "VN", "ID"], size=n,
                                  p=[0.3, 0.16, 0.07, 0.07, 0.06, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.04]),
            "signup_source": rng.choice(["github", "google", "email", "partner"], size=n, p=[0.4, 0.3, 0.25, 0.05]),
        }

    def step(self, st, idx, d, new, rng):
        ix = self.ix
        k = len(idx)
        alive = st["alive"][idx]
        tenure = d - st["signup"][idx]
        z = st["z"][idx]
        wk = 0.35 if st["weekday"] >= 5 else 1.0
        scale = st["dev_rate"][idx] * wk * np.where(alive, 1.0, 0.02) * (1 + 2.5 * np.exp(-tenure / 4))
        lam = np.outer(scale, st["base"])
        nokey = np.isnan(st["first_key"][idx])
        lam[:, ix["key_created"]] += nokey * alive * 0.35 * np.exp(-tenure / 6)
        lam[:, ix["quickstart_completed"]] = (~st["quickstart"][idx]) * alive * 0.25 * np.exp(-tenure / 5)
        lam[:, ix["sandbox_request"]] *= np.where(nokey, 2.0, 0.5)
        traffic = st["traffic_on"][idx]
        lam[:, ix["webhook_configured"]] = (~st["webhook"][idx]) * traffic * alive * 0.02
        lam[:, ix["sdk_installed"]] *= np.where(nokey, 0.3, 1.5)
        near = st["month_calls"][idx] / self.quota
        lam[:, ix["usage_page_viewed"]] *= 1 + 4 * np.clip(near - 0.5, 0, 1)
        err = st["ema_err"][idx]
        lam[:, ix["log_viewed"]] *= 1 + 20 * err
        lam[:, ix["status_page_viewed"]] *= 1 + 30 * err
        hr = 0.02 * np.exp(0.8 * z) * (1 + 2 * np.clip(near - 0.6, 0, 1) + 2 * ((d - st["quota_day"][idx]) <= 10)) \
            * np.where(alive, 1.0, 0.1) * (1 + 0.3 * st["team"][idx])
        lam[:, ix["billing_page_viewed"]] = hr
        lam[:, ix["pricing_calculator_used"]] = 0.4 * hr
        lam[:, ix["team_member_invited"]] = 0.03 * alive * (st["domain"][idx] == "business") * np.exp(-tenure / 30) \
            * (1 + ~nokey) + 0.002 * alive
        counts = rng.poisson(lam)
        # API traffic, from the day after the first key, ramping up over two weeks; it can stop
        first_key_today = nokey & (counts[:, ix["key_created"]] > 0)
        st["first_key"][idx[first_key_today]] = d
        fk = st["first_key"][idx]
        starts = ~traffic & ~np.isnan(fk) & (rng.random(k) < 0.6 * alive)
        traffic = traffic | starts
        stops = traffic & (rng.random(k) < np.where(alive, 0.004, 0.02))
        traffic = traffic & ~stops
        st["traffic_on"][idx] = traffic
        ramp = np.clip((d - fk) / 14.0, 0.05, 1.0)
        ramp = np.nan_to_num(ramp)
        demand = st["demand"][idx] * ramp * (1 + st["webhook"][idx]) * (0.6 if st["weekday"] >= 5 else 1.0)
        calls = rng.poisson(demand * traffic)
        limited = np.maximum(calls - self.cap_per_day, 0)
        calls = np.minimum(calls, self.cap_per_day)
        counts[:, ix["api_call"]] = calls
        counts[:, ix["api_error"]] = rng.binomial(calls, st["err"][idx]) + (limited > 0)
        counts[:, ix["webhook_delivered"]] = rng.poisson(0.05 * calls * st["webhook"][idx])
        # the calendar month's quota
        month = st["date"].year * 12 + st["date"].month
        reset = st["month"][idx] != month
        mc = np.where(reset, 0.0, st["month_calls"][idx])
        st["month"][idx] = month
        crossed = (mc < self.quota) & (mc + calls >= self.quota)
        counts[:, ix["quota_exceeded"]] = crossed
        st["month_calls"][idx] = mc + calls
        st["quota_day"][idx[crossed]] = d
        # team
        pending = st["pending"][idx] + counts[:, ix["team_member_invited"]]
        joins = rng.binomial(pending, 0.25)
        st["pending"][idx] = pending - joins - rng.binomial(pending - joins, 0.05)
        counts[:, ix["team_member_added"]] = joins
        st["team"][idx] += joins
        st["webhook"][idx[counts[:, ix["webhook_configured"]] > 0]] = True
        st["quickstart"][idx[counts[:, ix["quickstart_completed"]] > 0]] = True
        st["keys"][idx] += counts[:, ix["key_created"]]
        st["docs_3d"][idx] += counts[:, ix["docs_viewed"]] * (tenure <= 3)
        st["ema_calls"][idx] = ema(st["ema_calls"][idx], calls, 7.0)
        st["ema_err"][idx] = ema(st["ema_err"][idx], counts[:, ix["api_error"]] / (calls + 5.0), 7.0)
        st["ema_hr"][idx] = ema(st["ema_hr"][idx], counts[:, [ix[e] for e in self.hand_raise]].sum(1), 5.0)
        return counts

    def hazard_logit(self, st, idx, d, counts):
        z = st["z"][idx]
        tenure = d - st["signup"][idx]
        team = st["team"][idx]
        heavy_solo = (team == 0) & (st["demand"][idx] > 150)  # scrapers and hobby bots rarely pay
        near = st["month_calls"][idx] / self.quota
        x = -8.0 + 0.9 * z
        usage = 1.2 * sigmoid((near - 0.7) * 8) + 1.0 * ((d - st["quota_day"][idx]) <= 20)
        x += np.where(heavy_solo, 0.2 * usage - 1.0, usage)
        x += 0.4 * np.tanh(np.log1p(st["ema_calls"][idx]) / 3)
        x += 0.8 * (st["webhook"][idx] & (st["keys"][idx] >= 2))
        x += 1.4 * np.minimum(st["ema_hr"][idx] * 4, 1.0)
        x += 0.25 * np.log1p(st["docs_3d"][idx])
        x -= 6.0 * np.minimum(st["ema_err"][idx], 0.3)
        dom = st["domain"][idx]
        x += 0.5 * (dom == "business") - 0.7 * (dom == "edu") - 0.2 * (dom == "freemail")
        x += 0.4 * (team >= 2)
        x += np.where(tenure < 7, -1.0, np.where((tenure >= 20) & (tenure <= 90), 0.3, 0.0))
        x += np.where(st["alive"][idx], 0.0, np.where(st["traffic_on"][idx], -0.3, -1.0))
        x += np.random.default_rng(d * 7919 + 3).normal(0, 0.4, size=len(idx))
        return x

    def users(self, st, acct, code, rng):
        team = st["team"][acct]
        u = np.floor((team + 1) * rng.random(len(acct)) ** 1.5).astype(np.int64)
        ix = self.ix
        joined = code == ix["team_member_added"]
        u[joined] = team[joined]
        u[np.isin(code, [ix["api_call"], ix["api_error"], ix["quota_exceeded"], ix["webhook_delivered"]])] = -1
        return u

    def write(self, out, st, ev, conv, start, args):
        n = len(st["z"])
        ids = np.array([f"acct_{i:05d}" for i in range(n)])
        ts = to_ns(start, ev["t"], "ms")
        user = np.where(ev["user"] >= 0, np.char.add(np.char.add(ids[ev["acct"]], ".dev"), ev["user"].astype(str)), None)
        df = pd.DataFrame({"account": ids[ev["acct"]], "actor": user,
                           "type": pd.Categorical.from_codes(ev["code"], self.events).astype(str), "ts_ms": ts})
        df = dedupe(df, ["account", "actor", "type", "ts_ms"])
        df = df.sort_values("ts_ms", kind="stable").reset_index(drop=True)
        folder = os.path.join(out, "events")
        os.makedirs(folder, exist_ok=True)
        month = df["ts_ms"].to_numpy().astype("datetime64[ns]").astype("datetime64[M]")
        schema = pa.schema([("account", pa.string()), ("actor", pa.string()), ("type", pa.string()),
                            ("occurred_at", pa.timestamp("ms", tz="UTC"))])
        for mth in np.unique(month):
            part = df[month == mth]
            table = pa.Table.from_pandas(part[["account", "actor", "type"]], preserve_index=False)
            table = table.append_column("occurred_at", pa.array(part["ts_ms"].to_numpy() // 10**6,
                                                                type=pa.timestamp("ms", tz="UTC")))
            table = table.cast(schema)
            pq.write_table(table, os.path.join(folder, f"part-{str(mth)}.parquet"))
        signup_ms = to_ns(start, st["signup"], "ms")

        def iso_ms(ns):
            return np.char.add(np.datetime_as_string(ns.astype("datetime64[ns]"), unit="ms"), "Z")

        employees = [None if np.isnan(e) else int(e) for e in st["employees"]]
        with open(os.path.join(out, "accounts.ndjson"), "w") as f:
            for i in range(n):
                f.write(json.dumps({"id": ids[i], "created_at": str(iso_ms(signup_ms[i:i + 1])[0]), "plan": "free",
                                    "email_domain_type": st["domain"][i], "employees": employees[i],
                                    "country": st["country"][i], "signup_source": st["signup_source"][i]}) + "\n")
        ok = np.flatnonzero(~np.isnan(conv))
        conv_all = np.full(n, np.nan)
        with open(os.path.join(out, "subscriptions.ndjson"), "w") as f:
            for i in ok:
                c = to_ns(start, conv[i:i + 1], "ms")
                conv_all[i] = c[0]
                f.write(json.dumps({"id": ids[i], "started_at": str(iso_ms(c)[0]), "plan": "developer"}) + "\n")
        return df, signup_ms, conv_all, int(df["ts_ms"].max())

    def config(self, horizon):
        return f"""# pql configuration for benches/quality devapi: a developer API platform, free tier with a monthly
# quota of {self.quota:,} API calls (soft: served, with a quota_exceeded event when crossed).

[inputs]
events = "events"
accounts = "accounts.ndjson"
conversions = "subscriptions.ndjson"

[columns.events]
account_id = "account"
user_id = "actor"
event = "type"
timestamp = "occurred_at"

[columns.accounts]
account_id = "id"
signup_at = "created_at"

[columns.conversions]
account_id = "id"
converted_at = "started_at"

[[attributes]]
name = "email_domain_type"
kind = "categorical"

[[attributes]]
name = "employees"
kind = "numeric"

[[attributes]]
name = "country"
kind = "categorical"

[[attributes]]
name = "signup_source"
kind = "categorical"

[events]
key = ["key_created", "webhook_configured", "sdk_installed"]
hand_raise = {json.dumps(self.hand_raise)}
collaboration = {json.dumps(self.collab)}
ignore = {json.dumps(self.ignore)}

[[limits]]
event = "api_call"
limit = {self.quota}
period = "month"
reached_event = "quota_exceeded"

[snapshots]
cadence = "weekly"
weekday = "monday"

[label]
horizon_days = {horizon}

[[rules]]
name = "over quota"
when = "quota_exceeded_7d >= 1"

[[rules]]
name = "billing interest"
when = "billing_page_viewed_7d >= 1"
"""


SHAPES = {"teamchat": TeamChat, "shop": Shop, "devapi": DevApi}
HORIZON = {"teamchat": 30, "shop": 45, "devapi": 30}


def first_monday_after(day: date) -> date:
    ahead = (7 - day.weekday()) % 7
    return day + timedelta(days=ahead or 7)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shape", choices=sorted(SHAPES))
    ap.add_argument("--accounts", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weeks", type=int)
    ap.add_argument("--start", help="first day of the history (YYYY-MM-DD)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    shape = SHAPES[args.shape]()
    n = args.accounts or shape.default_accounts
    weeks = args.weeks or shape.default_weeks
    start = date.fromisoformat(args.start or shape.default_start)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    log(f"{args.shape}: {n} accounts, {weeks} weeks from {start}, seed {args.seed}")
    st, ev, conv = simulate(shape, n, args.seed, start, weeks)
    log(f"{args.shape}: simulated {len(ev['t'])} events in {time.perf_counter() - t0:.0f} s; writing")
    df, signup_ns, conv_ns, last_ns = shape.write(args.out, st, ev, conv, start, args)
    horizon = HORIZON[args.shape]
    with open(os.path.join(args.out, "pql.toml"), "w") as f:
        f.write(shape.config(horizon))
    if args.shape == "shop":
        with open(os.path.join(args.out, "pql-amount.toml"), "w") as f:
            f.write(shape.config(horizon, value=True))
    monday = first_monday_after(start)
    last_day = datetime.fromtimestamp(last_ns / 1e9, tz=timezone.utc).date()
    rates = label_rates(np.asarray(signup_ns, dtype=np.float64), np.asarray(conv_ns, dtype=np.float64),
                        last_ns, monday, horizon)
    code = df.iloc[:, 2] if args.shape != "shop" else df["event_type"]
    per_event = pd.Series(code).value_counts()
    meta = {
        "shape": args.shape, "accounts": n, "seed": args.seed, "weeks": weeks, "start": start.isoformat(),
        "first_monday": monday.isoformat(), "last_event_day": last_day.isoformat(), "horizon_days": horizon,
        "events": int(len(df)), "event_types": int(per_event.size),
        "converted_accounts": int((~np.isnan(conv)).sum()),
        "label": rates,
        "events_per_type": {str(k): int(v) for k, v in per_event.items()},
        "generate_s": round(time.perf_counter() - t0, 1),
    }
    if args.shape == "devapi":
        calls = df[df["type"] == "api_call"].groupby("account").size()
        meta["api_calls_per_account"] = {q: float(calls.quantile(q)) for q in [0.5, 0.9, 0.99, 0.999]} | {
            "max": int(calls.max()), "accounts_over_100k": int((calls > 100_000).sum()),
            "accounts_with_calls": int(len(calls))}
        meta["quota_exceeded_accounts"] = int(df.loc[df["type"] == "quota_exceeded", "account"].nunique())
    if args.shape == "teamchat":
        meta["limit_reached_workspaces"] = int(df.loc[df["action"] == "message_limit_reached", "workspace_id"].nunique())
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    log(f"{args.shape}: {len(df)} events, {meta['converted_accounts']} converted accounts, label base rate "
        f"{rates['base_rate']:.4f} over {rates['labelled_snapshots']} labelled snapshots "
        f"({rates['labelled_rows']} rows), last event {last_day}; {meta['generate_s']} s")


if __name__ == "__main__":
    main()
