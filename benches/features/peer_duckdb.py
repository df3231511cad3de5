#!/usr/bin/env python3
"""A DuckDB peer of `pql features`: the same point-in-time feature table (docs/features.md) computed by one
SQL query (built from the config) and written by DuckDB's `COPY ... TO` as Parquet.

    python peer_duckdb.py --config pql.toml --from 2025-05-05 --to 2025-06-23 --out features.parquet
    python peer_duckdb.py --config pql.toml --as-of 2025-03-03 --out features.parquet

Before the query, the accounts and the cleaned events are made temporary tables, one aggregate query
counts the input problems (printed to stderr, and checked against `[inputs] max_dropped_share`), and one
small query over the accounts finds the top levels of each categorical attribute, since they name output
columns. DuckDB uses its default number of threads.
"""

from __future__ import annotations

import os
import sys
import time

import duckdb

from peer_config import (
    DAY_US,
    SESSION_GAP_US,
    TOP_LEVELS,
    check_time_range,
    date_to_us,
    feature_names,
    future_from_us,
    input_files,
    load_config,
    model_levels,
    observation_end_us,
    parse_args,
    report_and_check,
    snapshot_dates,
)


def lit(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def ident(s: str) -> str:
    """A SQL identifier."""
    return '"' + s.replace('"', '""') + '"'


def in_list(values) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


def is_in(expr: str, values) -> str:
    values = list(values)
    return f"{expr} IN {in_list(values)}" if values else "FALSE"


def not_in(expr: str, values) -> str:
    values = list(values)
    return f"{expr} NOT IN {in_list(values)}" if values else "TRUE"


DAYS = f"{DAY_US}::DOUBLE"  # divide microseconds by this for days (a DOUBLE, not a DECIMAL literal)


def scan(path) -> str:
    return "read_parquet([" + ", ".join(lit(str(f)) for f in input_files(path)) + "])"


def ts_us(column: str) -> str:
    """Microseconds since the epoch of any timestamp-like column (zone-less values taken as UTC)."""
    return f"epoch_us(CAST({ident(column)} AS TIMESTAMPTZ))"


def text(column: str) -> str:
    return f"CAST({ident(column)} AS VARCHAR)"


def floor_div(x: str, d: int) -> str:
    """Integer division rounding down, exact for BIGINT (DuckDB's `//` rounds toward zero, which is wrong
    for times before 1970)."""
    return f"(({x}) - ((({x}) % {d}) + {d}) % {d}) // {d}"


def period_of(day: str, period: str) -> str:
    """The plan-limit period of the day ending at midnight number `day` (days since the epoch): the calendar
    week (Monday to Sunday) or month containing the date that day covers, as a number."""
    date = f"(DATE '1970-01-01' + CAST({day} - 1 AS INTEGER))"
    if period == "week":
        return floor_div(f"{day} + 2", 7)  # 1970-01-01 was a Thursday
    if period == "month":
        return f"(year({date}) * 12 + month({date}))"
    return "0"


def accounts_table(cfg) -> str:
    """The accounts, numbered by `aid`."""
    ac = cfg.account_cols
    attr_cols = "".join(f", {ident(name)}" for name, _ in cfg.attributes)
    return f"""
CREATE TEMP TABLE acc AS
SELECT {text(ac['account_id'])} AS account_id, {ts_us(ac['signup_at'])} AS signup, row_number() OVER () AS aid{attr_cols}
FROM {scan(cfg.accounts_path)}
"""


def raw_events(cfg) -> str:
    """The events as read, under their contract names (`ts` in μs)."""
    ec = cfg.event_cols
    return f"""
    SELECT {text(ec['account_id'])} AS account_id, nullif({text(ec['user_id'])}, '') AS user_id,
           {text(ec['event'])} AS event, {ts_us(ec['timestamp'])} AS ts
    FROM {scan(cfg.events_path)}"""


def counts_query(cfg, future: int) -> str:
    """Every event row under the first rule that drops it (missing values, ignored, in the future, unknown
    account, before signup), the rows left (`kept`, before deduplication), and the earliest and latest time
    of the rows that are neither missing nor ignored."""
    return f"""
WITH raw AS ({raw_events(cfg)}
),
fate AS (
    SELECT r.ts, CASE
        WHEN r.account_id IS NULL OR r.event IS NULL OR r.ts IS NULL THEN 'missing'
        WHEN {is_in('r.event', cfg.ignore)} THEN 'ignored'
        WHEN r.ts > {future} THEN 'future'
        WHEN a.aid IS NULL THEN 'unknown'
        WHEN r.ts < a.signup THEN 'before_signup'
        ELSE 'kept' END AS fate
    FROM raw r LEFT JOIN acc a ON a.account_id = r.account_id
)
SELECT
    count(*) AS events_read,
    count(*) FILTER (fate = 'missing') AS missing,
    count(*) FILTER (fate = 'ignored') AS ignored,
    count(*) FILTER (fate = 'future') AS future,
    count(*) FILTER (fate = 'unknown') AS unknown,
    count(*) FILTER (fate = 'before_signup') AS before_signup,
    count(*) FILTER (fate = 'kept') AS kept,
    min(ts) FILTER (fate NOT IN ('missing', 'ignored')) AS first_ts,
    max(ts) FILTER (fate NOT IN ('missing', 'ignored')) AS last_ts
FROM fate
"""


def conversion_counts_query(cfg) -> str:
    """Conversion rows read, of unknown accounts, repeated, and the accounts converted before signup."""
    cc = cfg.conversion_cols
    return f"""
WITH conv_read AS (
    SELECT {text(cc['account_id'])} AS account_id, {ts_us(cc['converted_at'])} AS converted_at
    FROM {scan(cfg.conversions_path)}
),
conv AS (
    SELECT c.account_id, count(*) AS n, min(c.converted_at) AS first_conv, any_value(a.signup) AS signup
    FROM conv_read c JOIN acc a USING (account_id) GROUP BY c.account_id
)
SELECT
    (SELECT count(*) FROM conv_read) AS conversions_read,
    (SELECT count(*) FROM conv_read WHERE account_id NOT IN (SELECT account_id FROM acc)) AS conversions_unknown,
    (SELECT coalesce(sum(n - 1), 0) FROM conv) AS conversions_repeated,
    (SELECT count(*) FROM conv WHERE first_conv < signup) AS conversions_before_signup
"""


def events_table(cfg, future: int) -> str:
    """The events used: named and timed, not ignored, not in the future, of a known account, not before its
    signup, without exact duplicates; with their day and session starts."""
    return f"""
CREATE TEMP TABLE ev AS
WITH raw AS ({raw_events(cfg)}
),
clean AS (
    SELECT DISTINCT a.aid, r.user_id, r.event, r.ts
    FROM raw r JOIN acc a ON a.account_id = r.account_id
    WHERE r.event IS NOT NULL AND r.ts IS NOT NULL AND {not_in('r.event', cfg.ignore)}
      AND r.ts <= {future} AND r.ts >= a.signup
)
SELECT aid, user_id, event, ts,
       {floor_div(f"ts + {DAY_US - 1}", DAY_US)} AS day,  -- the day (D - 1, D] ends at midnight number D
       CASE WHEN ts - lag(ts) OVER (PARTITION BY aid ORDER BY ts) <= {SESSION_GAP_US}
            THEN 0 ELSE 1 END AS new_session
FROM clean
"""


def conversions_after_query(cfg, obs_end: int) -> str:
    """Conversion rows of known accounts after the observation end."""
    cc = cfg.conversion_cols
    return f"""
SELECT count(*) FROM {scan(cfg.conversions_path)}
WHERE {text(cc['account_id'])} IN (SELECT account_id FROM acc) AND {ts_us(cc['converted_at'])} > {obs_end}
"""


def build_query(cfg, dates, levels, obs_end: int) -> str:
    cc = cfg.conversion_cols
    snaps = ", ".join(f"({date_to_us(d)}::BIGINT, {date_to_us(d) // DAY_US}::BIGINT)" for d in dates)
    product_filter = not_in("event", sorted(cfg.non_product()))
    key_filter = is_in("event", [k for k in cfg.key if cfg.is_key(k)])
    role_events = cfg.hand_raise + cfg.collaboration + cfg.reached

    daily_cols = [
        "count(*) AS n",
        "sum(new_session) AS sessions",
        "max(ts) AS last_ts",
        f"count(*) FILTER ({key_filter}) AS n_key",
        f"max(ts) FILTER ({is_in('event', cfg.hand_raise)}) AS last_hand_raise",
    ]
    for i, e in enumerate(role_events):
        daily_cols.append(f"count(*) FILTER (event = {lit(e)}) AS n_role{i}")
    for i, e in enumerate(cfg.reached):
        daily_cols.append(f"max(ts) FILTER (event = {lit(e)}) AS last_reached{i}")

    role = {e: f"n_role{i}" for i, e in enumerate(role_events)}
    w7 = "d.day > s.sday - 7"
    agg_cols = [
        "sum(n) AS events",
        "count(*) AS active_days",
        f"count(*) FILTER ({w7}) AS active_days_7d",
        "count(*) FILTER (d.day > s.sday - 30) AS active_days_30d",
        "sum(sessions) AS sessions",
        f"sum(sessions) FILTER ({w7}) AS sessions_7d",
        "max(last_ts) AS last_ts",
        "sum(n_key) AS key_events",
        "max(last_hand_raise) AS last_hand_raise",
        f"sum(n) FILTER ({w7}) AS events_7d",
        "sum(n) FILTER (d.day > s.sday - 14 AND d.day <= s.sday - 7) AS events_prev_7d",
    ]
    for i, e in enumerate(cfg.reached):
        agg_cols += [
            f"sum({role[e]}) AS reached{i}_count",
            f"sum({role[e]}) FILTER ({w7}) AS reached{i}_7d",
            f"max(last_reached{i}) AS last_reached{i}",
        ]
    for i, e in enumerate(cfg.hand_raise):
        agg_cols += [
            f"sum({role[e]}) FILTER ({w7}) AS hand{i}_7d",
            f"sum({role[e]}) FILTER (d.day > s.sday - 30) AS hand{i}_30d",
        ]
    for i, e in enumerate(cfg.collaboration):
        agg_cols.append(f"sum({role[e]}) AS collab{i}_count")

    limit_ctes, limit_joins, usage_cols, max_usage_cols = [], [], [], []
    for i, lim in enumerate(cfg.limits):
        limit_ctes.append(
            f"""
lim{i}_daily AS (
    SELECT aid, day, {period_of('day', lim.period)} AS period, count(*) AS n
    FROM ev WHERE event = {lit(lim.event)} GROUP BY ALL
),
lim{i}_periods AS (
    SELECT s.T, d.aid, d.period, sum(d.n) AS n, any_value({period_of('s.sday', lim.period)}) AS current
    FROM snap s JOIN lim{i}_daily d ON d.day <= s.sday GROUP BY s.T, d.aid, d.period
),
lim{i} AS (
    SELECT T, aid, sum(n) FILTER (period = current) AS current_n, max(n) AS max_n
    FROM lim{i}_periods GROUP BY ALL
),"""
        )
        limit_joins.append(f"LEFT JOIN lim{i} USING (aid, T)")
        name = f"limit_{lim.event}_{lim.period}"
        usage_cols.append(f"coalesce(lim{i}.current_n, 0) / {lim.limit}::DOUBLE AS {ident(name + '_usage')}")
        max_usage_cols.append(f"coalesce(lim{i}.max_n, 0) / {lim.limit}::DOUBLE AS {ident(name + '_max_usage')}")

    def days_since(latest: str) -> str:
        return f"coalesce((r.T - {latest}) / {DAYS}, tenure_days)"

    cnt = lambda col: f"coalesce({col}, 0)"  # noqa: E731
    select = [
        f"(r.T - r.signup) / {DAYS} AS tenure_days",
        f"{cnt('events')} AS events",
        f"{cnt('active_days')} AS active_days",
        f"{cnt('active_days_7d')} AS active_days_7d",
        f"{cnt('active_days_30d')} AS active_days_30d",
        f"{cnt('sessions')} AS sessions",
        f"{cnt('sessions_7d')} AS sessions_7d",
        f"{days_since('last_ts')} AS days_since_last_activity",
        f"{cnt('features_used')} AS features_used",
        f"CASE WHEN coalesce(sh.used, 0) = 0 THEN 0 ELSE {cnt('features_used')} / sh.used END AS feature_share",
        f"{cnt('features_used_7d')} AS features_used_7d",
        f"{cnt('key_events')} AS key_events",
        f"CASE WHEN fk.first_key <= r.T THEN greatest(fk.first_key - r.signup, 0) / {DAYS}"
        " ELSE tenure_days END AS days_to_first_key_event",
        f"{cnt('features_first_3d')} AS features_first_3d",
        f"{cnt('features_first_7d')} AS features_first_7d",
        f"CASE WHEN th.third <= r.T THEN greatest(th.third - r.signup, 0) / {DAYS}"
        " ELSE tenure_days END AS days_to_3_features",
    ]
    select += usage_cols + max_usage_cols
    select += [f"{cnt(f'reached{i}_count')} AS {ident(e + '_count')}" for i, e in enumerate(cfg.reached)]
    select += [f"{cnt(f'reached{i}_7d')} AS {ident(e + '_7d')}" for i, e in enumerate(cfg.reached)]
    select += [f"{days_since(f'last_reached{i}')} AS {ident('days_since_' + e)}" for i, e in enumerate(cfg.reached)]
    select += [f"{cnt(f'hand{i}_7d')} AS {ident(e + '_7d')}" for i, e in enumerate(cfg.hand_raise)]
    select += [f"{cnt(f'hand{i}_30d')} AS {ident(e + '_30d')}" for i, e in enumerate(cfg.hand_raise)]
    select.append(f"{days_since('last_hand_raise')} AS days_since_hand_raise")
    select.append(f"{cnt('active_users')} AS active_users")
    select += [f"{cnt(f'collab{i}_count')} AS {ident(e + '_count')}" for i, e in enumerate(cfg.collaboration)]
    select += [
        f"{cnt('events_7d')} AS events_7d",
        f"{cnt('events_prev_7d')} AS events_prev_7d",
        f"CASE WHEN {cnt('events_7d')} + {cnt('events_prev_7d')} = 0 THEN 0"
        f" ELSE ({cnt('events_7d')} - {cnt('events_prev_7d')}) / ({cnt('events_7d')} + {cnt('events_prev_7d')}) END"
        " AS activity_trend",
    ]
    for name, kind in cfg.attributes:
        col = f"r.{ident(name)}"
        if kind == "numeric":
            num = f"CAST({col} AS DOUBLE)"
            missing = f"({num} IS NULL OR isnan({num}))"
            select += [
                f"CASE WHEN {missing} THEN 0 ELSE {num} END AS {ident(name)}",
                f"CASE WHEN {missing} THEN 1 ELSE 0 END AS {ident(name + '_missing')}",
            ]
        else:
            val = f"nullif(CAST({col} AS VARCHAR), '')"
            select += [f"CASE WHEN {val} = {lit(v)} THEN 1 ELSE 0 END AS {ident(f'{name}={v}')}" for v in levels[name]]
            select += [
                f"CASE WHEN {val} IS NOT NULL AND {not_in(val, levels[name])} THEN 1 ELSE 0 END"
                f" AS {ident(name + '_other')}",
                f"CASE WHEN {val} IS NULL THEN 1 ELSE 0 END AS {ident(name + '_missing')}",
            ]

    columns = feature_names(cfg, levels)
    sep = ",\n    "
    features = sep.join(f"CAST({ident(c)} AS DOUBLE) AS {ident(c)}" for c in columns)
    select_sql = sep.join(select)
    limit_join_sql = "\n    ".join(limit_joins)
    horizon = cfg.horizon_days * DAY_US

    return f"""
WITH
snap(T, sday) AS (VALUES {snaps}),
conv_read AS (
    SELECT {text(cc['account_id'])} AS account_id, {ts_us(cc['converted_at'])} AS converted_at
    FROM {scan(cfg.conversions_path)}
),
conv AS (
    SELECT account_id, min(converted_at) AS first_conv
    FROM conv_read
    WHERE account_id IN (SELECT account_id FROM acc)
    GROUP BY account_id
),
daily AS (
    SELECT aid, day,
        {", ".join(daily_cols)}
    FROM ev GROUP BY aid, day
),
agg AS (
    SELECT s.T, d.aid,
        {", ".join(agg_cols)}
    FROM snap s JOIN daily d ON d.day <= s.sday
    GROUP BY s.T, d.aid
),
first_use AS (
    SELECT e.aid, e.event, min(e.ts) AS first_ts, min(e.ts) - any_value(a.signup) AS after_signup
    FROM ev e JOIN acc a USING (aid)
    WHERE {product_filter}
    GROUP BY e.aid, e.event
),
used AS (
    SELECT s.T, f.aid, count(*) AS features_used,
           count(*) FILTER (f.after_signup <= {3 * DAY_US}) AS features_first_3d,
           count(*) FILTER (f.after_signup <= {7 * DAY_US}) AS features_first_7d
    FROM snap s JOIN first_use f ON f.first_ts <= s.T
    GROUP BY s.T, f.aid
),
share AS (
    SELECT s.T, count(DISTINCT f.event) AS used
    FROM snap s JOIN first_use f ON f.first_ts <= s.T
    GROUP BY s.T
),
third AS (
    SELECT aid, first_ts AS third
    FROM first_use
    QUALIFY row_number() OVER (PARTITION BY aid ORDER BY first_ts) = 3
),
product_days AS (
    SELECT DISTINCT aid, event, day FROM ev WHERE {product_filter}
),
used_7d AS (
    SELECT s.T, p.aid, count(DISTINCT p.event) AS features_used_7d
    FROM snap s JOIN product_days p ON p.day <= s.sday AND p.day > s.sday - 7
    GROUP BY s.T, p.aid
),
first_key AS (
    SELECT aid, min(ts) AS first_key FROM ev WHERE {key_filter} GROUP BY aid
),
first_user AS (
    SELECT aid, user_id, min(ts) AS first_ts FROM ev WHERE user_id IS NOT NULL GROUP BY ALL
),
users AS (
    SELECT s.T, u.aid, count(*) AS active_users
    FROM snap s JOIN first_user u ON u.first_ts <= s.T
    GROUP BY s.T, u.aid
),{"".join(limit_ctes)}
rows_ AS (
    SELECT s.T, a.*, c.first_conv
    FROM snap s JOIN acc a ON a.signup <= s.T LEFT JOIN conv c USING (account_id)
    WHERE c.first_conv IS NULL OR c.first_conv > s.T
),
wide AS (
    SELECT r.account_id, r.T, r.first_conv,
    {select_sql}
    FROM rows_ r
    LEFT JOIN agg USING (aid, T)
    LEFT JOIN used USING (aid, T)
    LEFT JOIN used_7d USING (aid, T)
    LEFT JOIN users USING (aid, T)
    LEFT JOIN share sh ON sh.T = r.T
    LEFT JOIN third th ON th.aid = r.aid
    LEFT JOIN first_key fk ON fk.aid = r.aid
    {limit_join_sql}
)
SELECT
    account_id,
    make_timestamptz(T) AS as_of,
    CAST(CASE WHEN T + {horizon} > {obs_end} THEN NULL
              WHEN first_conv > T AND first_conv <= T + {horizon} THEN 1 ELSE 0 END AS INTEGER) AS label,
    {features}
FROM wide
ORDER BY T, account_id
"""


def categorical_levels(con, cfg) -> dict[str, list[str]]:
    levels = {}
    for name, kind in cfg.attributes:
        if kind != "categorical":
            continue
        val = f"nullif(CAST({ident(name)} AS VARCHAR), '')"
        rows = con.execute(
            f"""SELECT {val} AS v, count(*) AS n FROM {scan(cfg.accounts_path)}
                WHERE {val} IS NOT NULL
                GROUP BY v ORDER BY n DESC, v LIMIT {TOP_LEVELS}"""
        ).fetchall()
        levels[name] = [v for v, _ in rows]
    return levels


def main() -> None:
    args = parse_args(__doc__)
    cfg = load_config(args.config)
    dates = snapshot_dates(args, cfg)
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    future = future_from_us()  # one clock for the counts and the table
    con.execute(accounts_table(cfg))
    counts = {}
    for query in (counts_query(cfg, future), conversion_counts_query(cfg)):
        cur = con.execute(query)
        counts |= dict(zip([d[0] for d in cur.description], cur.fetchone()))
    check_time_range(cfg, counts["first_ts"], counts["last_ts"])
    con.execute(events_table(cfg, future))
    used, latest = con.execute("SELECT count(*), max(ts) FROM ev").fetchone()
    counts |= {"events_used": used, "duplicate": counts["kept"] - used, "conversions_after_end": 0}
    obs_end = None
    if used:
        obs_end = observation_end_us(cfg, latest)
        counts["conversions_after_end"] = con.execute(conversions_after_query(cfg, obs_end)).fetchone()[0]
    report_and_check(cfg, counts)
    levels = model_levels(args.levels_from) if args.levels_from else categorical_levels(con, cfg)
    query = build_query(cfg, dates, levels, obs_end)
    if os.environ.get("PEER_SHOW_SQL"):
        print(query, file=sys.stderr)
    con.execute(f"COPY ({query}) TO {lit(args.out)} (FORMAT parquet)")
    n = con.execute(f"SELECT count(*) FROM read_parquet({lit(args.out)})").fetchone()[0]
    print(f"wrote {n} rows to {args.out} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
