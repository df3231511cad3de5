"""Shared by the peer implementations: reading `pql.toml`, the snapshot dates, the command line and the
output column names, as defined in docs/features.md and data/README.md.

Only the configuration, the names, the input report's wording and its refusal rule live here; each peer
computes the table and the counts on its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

US = 1_000_000
DAY_US = 86_400 * US
SESSION_GAP_US = 30 * 60 * US
# Times are used from year 1 to year 9999; a time outside is an error (there is no calendar range).
MIN_TS_US = (dt.date(1, 1, 1) - dt.date(1970, 1, 1)).days * DAY_US
MAX_TS_US = ((dt.date(9999, 12, 31) - dt.date(1970, 1, 1)).days + 1) * DAY_US
# Events dated more than this after the clock of the run are in the future (devices' clock skew allowed).
FUTURE_TOLERANCE_US = DAY_US
TOP_LEVELS = 10

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PERIODS = ("week", "month", "lifetime")


@dataclass
class Limit:
    event: str
    limit: int
    period: str
    reached_event: str | None


@dataclass
class Config:
    path: Path
    events_path: Path
    accounts_path: Path
    conversions_path: Path
    event_cols: dict[str, str]
    account_cols: dict[str, str]
    conversion_cols: dict[str, str]
    attributes: list[tuple[str, str]]  # (name, "numeric" | "categorical")
    key: list[str]
    hand_raise: list[str]
    collaboration: list[str]
    ignore: list[str]
    limits: list[Limit]
    weekday: int  # Monday = 0
    horizon_days: int
    observed_until: dt.date | None  # [label] observed_until: the last day the data holds in full
    max_dropped_share: float  # [inputs] max_dropped_share
    reached: list[str] = field(default_factory=list)  # distinct reached events, in config order

    def non_product(self) -> set[str]:
        """Events in an exclusive role: never product events."""
        return set(self.hand_raise) | set(self.collaboration) | set(self.ignore) | set(self.reached)

    def is_product(self, event: str) -> bool:
        return event not in self.non_product()

    def is_key(self, event: str) -> bool:
        return event in self.key and self.is_product(event)


def load_config(path: str | Path) -> Config:
    path = Path(path)
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    base = path.parent
    inputs = raw["inputs"]
    columns = raw.get("columns", {})

    def cols(table: str, defaults: list[str]) -> dict[str, str]:
        given = columns.get(table, {})
        return {name: given.get(name, name) for name in defaults}

    events = raw.get("events", {})
    limits = [
        Limit(
            event=l["event"],
            limit=int(l["limit"]),
            period=l["period"],
            reached_event=l.get("reached_event"),
        )
        for l in raw.get("limits", [])
    ]
    for l in limits:
        if l.period not in PERIODS:
            raise SystemExit(f"{path}: unknown limit period {l.period!r}")
    reached: list[str] = []
    for l in limits:
        if l.reached_event is not None and l.reached_event not in reached:
            reached.append(l.reached_event)
    snapshots = raw.get("snapshots", {})
    label = raw.get("label", {})
    observed_until = label.get("observed_until")
    if observed_until is not None:
        observed_until = dt.date.fromisoformat(observed_until)
    cadence = snapshots.get("cadence", "weekly")
    if cadence != "weekly":
        raise SystemExit(f"{path}: unknown cadence {cadence!r}")
    return Config(
        path=path,
        events_path=base / inputs["events"],
        accounts_path=base / inputs["accounts"],
        conversions_path=base / inputs["conversions"],
        event_cols=cols("events", ["account_id", "user_id", "event", "timestamp"]),
        account_cols=cols("accounts", ["account_id", "signup_at", "plan"]),
        conversion_cols=cols("conversions", ["account_id", "converted_at"]),
        attributes=[(a["name"], a["kind"]) for a in raw.get("attributes", [])],
        key=list(events.get("key", [])),
        hand_raise=list(events.get("hand_raise", [])),
        collaboration=list(events.get("collaboration", [])),
        ignore=list(events.get("ignore", [])),
        limits=limits,
        weekday=WEEKDAYS.index(snapshots.get("weekday", "monday")),
        horizon_days=int(label.get("horizon_days", 30)),
        observed_until=observed_until,
        max_dropped_share=float(inputs.get("max_dropped_share", 0.5)),
        reached=reached,
    )


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--config", required=True, help="the pql.toml")
    p.add_argument("--out", required=True, help="output Parquet file")
    p.add_argument("--as-of", type=dt.date.fromisoformat, help="one snapshot at 00:00 UTC that day")
    p.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, help="first snapshot date")
    p.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, help="last snapshot date")
    p.add_argument("--levels-from", help="a pql model.json whose categorical levels to use (as `pql features --model`)")
    args = p.parse_args()
    if (args.as_of is None) == (args.date_from is None or args.date_to is None):
        p.error("give either --as-of DATE or both --from DATE and --to DATE")
    return args


def snapshot_dates(args: argparse.Namespace, config: Config) -> list[dt.date]:
    """`--as-of` gives one snapshot; `--from A --to B` every configured weekday in [A, B]."""
    if args.as_of is not None:
        return [args.as_of]
    days = (args.date_to - args.date_from).days
    every = (args.date_from + dt.timedelta(days=i) for i in range(days + 1))
    return [d for d in every if d.weekday() == config.weekday]


def date_to_us(d: dt.date) -> int:
    """Microseconds since the epoch of 00:00 UTC on a date."""
    return (d - dt.date(1970, 1, 1)).days * DAY_US


def future_from_us() -> int:
    """The instant (μs) after which an event is dated in the future: the clock of the run plus a day."""
    return time.time_ns() // 1000 + FUTURE_TOLERANCE_US


def observation_end_us(config: Config, latest_event_us: int) -> int:
    """The observation end: the midnight after `[label] observed_until`, or else the midnight ending the day
    of the latest event used (an event at midnight belongs to the day ending there)."""
    if config.observed_until is not None:
        return date_to_us(config.observed_until) + DAY_US
    return -(-latest_event_us // DAY_US) * DAY_US


def check_time_range(config: Config, first_us: int | None, last_us: int | None) -> None:
    """Times outside years 1 to 9999 are an error, as in pql."""
    for ts in (first_us, last_us):
        if ts is not None and not MIN_TS_US <= ts < MAX_TS_US:
            raise SystemExit(f"{config.events_path}: timestamp {ts} μs since the epoch is outside years 1 to 9999")


# The input report, in pql's order: (key, what it counts). Each peer fills in the counts on its own.
REPORT = [
    ("events_read", "events read"),
    ("events_used", "events used"),
    ("ignored", "events ignored by the config"),
    ("missing", "events with a missing account, event or timestamp (dropped)"),
    ("future", "events dated more than a day after this run's clock (dropped)"),
    ("unknown", "events of accounts missing from the accounts table (dropped)"),
    ("before_signup", "events before their account's signup (dropped)"),
    ("duplicate", "duplicate events (dropped)"),
    ("conversions_read", "conversions read"),
    ("conversions_unknown", "conversions of unknown accounts (dropped)"),
    ("conversions_repeated", "repeated conversions (the first counts)"),
    ("conversions_before_signup", "accounts converted before signup (never eligible)"),
    ("conversions_after_end", "conversions after the observation end (no label reaches them)"),
]


def report_and_check(config: Config, counts: dict[str, int]) -> None:
    """Prints the input report to stderr and refuses the run, as pql does, when the rules that lose data
    (missing values, unknown accounts, before signup, in the future) drop more than `max_dropped_share` of
    the event rows, or no event is left to use."""
    print("; ".join(f"{what}: {counts[key]}" for key, what in REPORT), file=sys.stderr, flush=True)
    dropped = sum(counts[k] for k in ("missing", "unknown", "before_signup", "future"))
    share = dropped / max(counts["events_read"], 1)
    if counts["events_used"] == 0 or share > config.max_dropped_share:
        raise SystemExit(
            f"{config.events_path}: {counts['events_used']} events used; {dropped} of {counts['events_read']} "
            f"event rows ({100 * share:.1f}%) dropped, more than [inputs] max_dropped_share = "
            f"{config.max_dropped_share} allows, or none left"
        )


def model_levels(path: str | Path) -> dict[str, list[str]]:
    """The categorical levels of a pql model: those of each `<attribute>_other` feature."""
    import json

    features = json.loads(Path(path).read_text())["features"]
    return {
        f["aggregation"]["attribute_other"]["attribute"]: f["aggregation"]["attribute_other"]["levels"]
        for f in features
        if isinstance(f["aggregation"], dict) and "attribute_other" in f["aggregation"]
    }


def top_levels(counts: dict[str, int]) -> list[str]:
    """The categorical levels that get a column: the 10 most frequent non-missing values, ties by name,
    in that order."""
    ranked = sorted(((n, v) for v, n in counts.items()), key=lambda x: (-x[0], x[1]))
    return [v for _, v in ranked[:TOP_LEVELS]]


def feature_names(config: Config, levels: dict[str, list[str]]) -> list[str]:
    """Output feature columns in dictionary order. Per-event and per-limit features come grouped by event
    or limit, in config order: `limit_e_p_usage, limit_e_p_max_usage` for each limit, then
    `<r>_count, <r>_7d, days_since_<r>` for each reached event, then `<h>_7d, <h>_30d` for each
    hand-raise event."""
    names = [
        "tenure_days",
        "events",
        "active_days",
        "active_days_7d",
        "active_days_30d",
        "sessions",
        "sessions_7d",
        "days_since_last_activity",
        "features_used",
        "feature_share",
        "features_used_7d",
        "key_events",
        "days_to_first_key_event",
        "features_first_3d",
        "features_first_7d",
        "days_to_3_features",
    ]
    for l in config.limits:
        names += [f"limit_{l.event}_{l.period}_usage", f"limit_{l.event}_{l.period}_max_usage"]
    for r in config.reached:
        names += [f"{r}_count", f"{r}_7d", f"days_since_{r}"]
    for h in config.hand_raise:
        names += [f"{h}_7d", f"{h}_30d"]
    names += ["days_since_hand_raise", "active_users"]
    names += [f"{c}_count" for c in config.collaboration]
    names += ["events_7d", "events_prev_7d", "activity_trend"]
    for name, kind in config.attributes:
        if kind == "numeric":
            names += [name, f"{name}_missing"]
        else:
            names += [f"{name}={v}" for v in levels[name]]
            names += [f"{name}_other", f"{name}_missing"]
    return names


def input_files(path: Path) -> list[Path]:
    """A table is a Parquet file or a folder of Parquet files (names starting with `.` or `_` skipped)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if not p.name.startswith((".", "_")))
    else:
        files = [path]
    for f in files:
        if f.suffix not in (".parquet", ".pq"):
            raise SystemExit(f"{f}: the peers read Parquet only")
    if not files:
        raise SystemExit(f"{path}: no input files")
    return files
