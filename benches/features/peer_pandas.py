#!/usr/bin/env python3
"""A pandas peer of `pql features`: the same point-in-time feature table (docs/features.md), written the way
a data scientist would in pandas: clean the events once, precompute the per-account "first time" tables,
then one pass of vectorised groupbys per snapshot.

    python peer_pandas.py --config pql.toml --from 2025-05-05 --to 2025-06-23 --out features.parquet
    python peer_pandas.py --config pql.toml --as-of 2025-03-03 --out features.parquet
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from peer_config import (
    check_time_range,
    feature_names,
    future_from_us,
    input_files,
    load_config,
    observation_end_us,
    parse_args,
    report_and_check,
    snapshot_dates,
    top_levels,
)

ONE_DAY = pd.Timedelta(days=1)
SESSION_GAP = pd.Timedelta(minutes=30)
EPOCH = pd.Timestamp(0, tz="UTC").as_unit("us")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def read_table(path, columns: dict[str, str]) -> pd.DataFrame:
    """Reads a Parquet file or folder, keeping the mapped source columns under their contract names."""
    frames = [pd.read_parquet(f, columns=list(columns.values())) for f in input_files(path)]
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return df.rename(columns={src: name for name, src in columns.items()})


def as_utc(s: pd.Series, missing_ok: bool = False) -> pd.Series:
    """Any timestamp-like column as datetime64[us, UTC] (zone-less values are taken as UTC). Missing values
    are an error unless `missing_ok`."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(s.dtype):
        s = s.dt.tz_localize("UTC")
    else:  # dates or text
        s = pd.to_datetime(s.astype(str).where(s.notna()), utc=True, format="ISO8601")
    if not missing_ok and s.isna().any():
        raise SystemExit(f"column {s.name!r} has missing timestamps")
    return s.dt.as_unit("us")


def micros(ts) -> int:
    """Microseconds since the epoch of a UTC timestamp."""
    return (pd.Timestamp(ts).as_unit("us") - EPOCH) // pd.Timedelta(microseconds=1)


def from_micros(us: int) -> pd.Timestamp:
    """The UTC timestamp of microseconds since the epoch (any year 1 to 9999)."""
    return pd.Timestamp(np.datetime64(us, "us")).tz_localize("UTC")


def as_text(s: pd.Series) -> pd.Series:
    """Text as is; integer ids as text; missing values stay missing."""
    return s if pd.api.types.is_string_dtype(s.dtype) else s.astype("str").where(s.notna())


def days(delta) -> pd.Series:
    return delta / ONE_DAY


def main() -> None:
    args = parse_args(__doc__)
    cfg = load_config(args.config)
    dates = snapshot_dates(args, cfg)
    started = time.perf_counter()

    # --- accounts -------------------------------------------------------------------------------------
    ac = cfg.account_cols
    acc = read_table(
        cfg.accounts_path,
        {"account_id": ac["account_id"], "signup_at": ac["signup_at"]} | {a: a for a, _ in cfg.attributes},
    )
    acc["account_id"] = as_text(acc["account_id"])
    if acc["account_id"].duplicated().any():
        raise SystemExit(f"duplicate account_id {acc.account_id[acc.account_id.duplicated()].iloc[0]!r}")
    acc["signup_at"] = as_utc(acc["signup_at"])
    acc = acc.reset_index(drop=True)  # row position = the account's integer id below
    ids = pd.Index(acc["account_id"])

    # --- conversions: known accounts only, the first one counts ------------------------------------------
    cv = read_table(cfg.conversions_path, cfg.conversion_cols)
    problems = {"conversions_read": len(cv)}
    cv["acc"] = ids.get_indexer(as_text(cv["account_id"]))
    cv["converted_at"] = as_utc(cv["converted_at"])
    problems["conversions_unknown"] = int((cv.acc < 0).sum())
    cv = cv[cv.acc >= 0]
    first_conv = cv.groupby("acc").converted_at.min().reindex(acc.index)
    problems["conversions_repeated"] = int(len(cv) - first_conv.notna().sum())
    problems["conversions_before_signup"] = int((first_conv < acc.signup_at).sum())

    # --- events: clean, each row counted under the first rule that drops it ----------------------------
    ev = read_table(cfg.events_path, cfg.event_cols)
    problems["events_read"] = len(ev)
    # Integer account ids and categorical names first: every later copy of the frame is then small.
    account = as_text(ev.pop("account_id"))
    ev["acc"] = ids.get_indexer(account)
    ev["event"] = as_text(ev["event"]).astype("category")
    ev["user_id"] = as_text(ev["user_id"]).astype("category")
    if "" in ev["user_id"].cat.categories:
        ev["user_id"] = ev["user_id"].cat.remove_categories([""])
    ev["timestamp"] = as_utc(ev["timestamp"], missing_ok=True)
    missing = account.isna().to_numpy() | ev.event.isna().to_numpy() | ev.timestamp.isna().to_numpy()
    problems["missing"] = int(missing.sum())
    ev = ev[~missing]
    ignored = ev.event.isin(cfg.ignore)
    problems["ignored"] = int(ignored.sum())
    ev = ev[~ignored]
    if len(ev):
        check_time_range(cfg, micros(ev.timestamp.min()), micros(ev.timestamp.max()))
    future = ev.timestamp > from_micros(future_from_us())
    problems["future"] = int(future.sum())
    ev = ev[~future]
    problems["unknown"] = int((ev.acc < 0).sum())
    ev = ev[ev.acc >= 0]
    before_signup = ev.timestamp < acc.signup_at.array.take(ev.acc.to_numpy())
    problems["before_signup"] = int(before_signup.sum())
    ev = ev[~before_signup]
    ev["event"] = ev["event"].cat.remove_unused_categories()
    ev = ev[["acc", "user_id", "event", "timestamp"]]
    n = len(ev)
    ev = ev.drop_duplicates()
    problems["duplicate"] = n - len(ev)
    problems["events_used"] = len(ev)

    # --- observation end: [label] observed_until, or the midnight ending the day of the latest used event
    obs_end = None
    problems["conversions_after_end"] = 0
    if len(ev):
        obs_end = from_micros(observation_end_us(cfg, micros(ev.timestamp.max())))
        problems["conversions_after_end"] = int((cv.converted_at > obs_end).sum())
    report_and_check(cfg, problems)

    # --- events: roles, days, sessions -------------------------------------------------------------
    names = ev.event.cat.categories
    product = [e for e in names if cfg.is_product(e)]
    ev["is_product"] = ev.event.isin(product)
    ev["is_key"] = ev.event.isin([e for e in names if cfg.is_key(e)])
    ev["hand_raise_at"] = ev.timestamp.where(ev.event.isin(cfg.hand_raise))
    for e in cfg.reached:
        ev[f"{e}_at"] = ev.timestamp.where(ev.event == e)
    role_counts = {e: ev.event == e for e in cfg.hand_raise + cfg.collaboration + cfg.reached}
    for e, flag in role_counts.items():
        ev[f"is:{e}"] = flag
    ev["day"] = ev.timestamp.dt.ceil("D")  # the day (D - 1, D] is named by the midnight D ending it

    ev = ev.sort_values(["acc", "timestamp"])
    gap = ev.groupby("acc").timestamp.diff()
    ev["new_session"] = gap.isna() | (gap > SESSION_GAP)
    ev = ev.sort_values("timestamp", kind="stable").reset_index(drop=True)
    ts = ev.timestamp

    # --- "first time" tables: each is point-in-time as is (a first use before T is the same at any later T)
    active_days = ev[["acc", "day"]].drop_duplicates()
    first_use = ev[ev.is_product].groupby(["acc", "event"], observed=True).timestamp.min().reset_index()
    event_first_use = first_use.groupby("event", observed=True).timestamp.min()
    first_use["after_signup"] = first_use.timestamp - acc.signup_at.array.take(first_use.acc.to_numpy())
    third_feature = (
        first_use.sort_values(["acc", "timestamp"]).groupby("acc").nth(2).set_index("acc").timestamp
    )
    product_days = ev.loc[ev.is_product, ["acc", "event", "day"]].drop_duplicates()
    first_key = ev[ev.is_key].groupby("acc").timestamp.min()
    first_user = ev.dropna(subset=["user_id"]).groupby(["acc", "user_id"], observed=True).timestamp.min()
    first_user = first_user.reset_index()

    metered = []
    for lim in cfg.limits:
        m = ev.loc[ev.event == lim.event, ["acc", "timestamp", "day"]].copy()
        date = m.day - ONE_DAY  # the calendar date of the event's day
        if lim.period == "week":
            m["period"] = date.dt.tz_localize(None).dt.to_period("W-SUN")
        elif lim.period == "month":
            m["period"] = date.dt.tz_localize(None).dt.to_period("M")
        else:
            m["period"] = 0
        metered.append(m)

    # --- attributes -------------------------------------------------------------------------------
    attr = pd.DataFrame(index=acc.index)
    levels: dict[str, list[str]] = {}
    for name, kind in cfg.attributes:
        if kind == "numeric":
            v = pd.to_numeric(acc[name]).astype("float64")
            attr[name] = v.fillna(0.0)
            attr[f"{name}_missing"] = v.isna().astype("float64")
        else:
            v = acc[name].astype("str").where(acc[name].notna())
            v = v.where(v != "")
            levels[name] = top_levels(v.value_counts().to_dict())
            for level in levels[name]:
                attr[f"{name}={level}"] = (v == level).astype("float64")
            attr[f"{name}_other"] = (v.notna() & ~v.isin(levels[name])).astype("float64")
            attr[f"{name}_missing"] = v.isna().astype("float64")
    columns = feature_names(cfg, levels)

    # --- one table per snapshot ---------------------------------------------------------------------
    tables = []
    for d in dates:
        T = pd.Timestamp(d, tz="UTC")
        eligible = (acc.signup_at <= T) & ~(first_conv <= T)
        rows = acc.index[eligible.to_numpy()]
        f = pd.DataFrame(index=rows)
        signup = acc.signup_at[rows]
        tenure = days(T - signup)

        def count(s: pd.Series) -> pd.Series:
            return s.reindex(rows, fill_value=0).astype("float64")

        def since(latest: pd.Series) -> pd.Series:
            return days(T - latest.reindex(rows)).fillna(tenure)

        seen = ev.iloc[: ts.searchsorted(T, side="right")]
        last7 = ev.iloc[ts.searchsorted(T - 7 * ONE_DAY, side="right") : len(seen)]
        last14 = ev.iloc[ts.searchsorted(T - 14 * ONE_DAY, side="right") : len(seen)]
        last30 = ev.iloc[ts.searchsorted(T - 30 * ONE_DAY, side="right") : len(seen)]

        g = seen.groupby("acc").agg(
            events=("timestamp", "size"),
            sessions=("new_session", "sum"),
            last=("timestamp", "max"),
            key_events=("is_key", "sum"),
            hand_raise_at=("hand_raise_at", "max"),
            **{f"{e}_count": (f"is:{e}", "sum") for e in cfg.reached + cfg.collaboration},
            **{f"{e}_at": (f"{e}_at", "max") for e in cfg.reached},
        )
        g7 = last7.groupby("acc").agg(
            events=("timestamp", "size"),
            sessions=("new_session", "sum"),
            **{e: (f"is:{e}", "sum") for e in cfg.reached + cfg.hand_raise},
        )
        g30 = last30[[f"is:{e}" for e in cfg.hand_raise]].groupby(last30.acc).sum()
        events_14d = count(last14.groupby("acc").size())

        t = T.normalize()
        ad = active_days[active_days.day <= t]
        fu = first_use[first_use.timestamp <= T]
        pdays = product_days[(product_days.day <= t) & (product_days.day > t - 7 * ONE_DAY)]

        f["tenure_days"] = tenure
        f["events"] = count(g.events)
        f["active_days"] = count(ad.groupby("acc").size())
        f["active_days_7d"] = count(ad[ad.day > t - 7 * ONE_DAY].groupby("acc").size())
        f["active_days_30d"] = count(ad[ad.day > t - 30 * ONE_DAY].groupby("acc").size())
        f["sessions"] = count(g.sessions)
        f["sessions_7d"] = count(g7.sessions)
        f["days_since_last_activity"] = since(g["last"])
        f["features_used"] = count(fu.groupby("acc").size())
        used_by_anyone = int((event_first_use <= T).sum())
        f["feature_share"] = f.features_used / used_by_anyone if used_by_anyone else 0.0
        f["features_used_7d"] = count(pdays.groupby("acc").event.nunique())
        f["key_events"] = count(g.key_events)
        fk = first_key.reindex(rows)
        f["days_to_first_key_event"] = days(fk - signup).clip(lower=0).where(fk <= T, tenure)
        f["features_first_3d"] = count(fu[fu.after_signup <= 3 * ONE_DAY].groupby("acc").size())
        f["features_first_7d"] = count(fu[fu.after_signup <= 7 * ONE_DAY].groupby("acc").size())
        third = third_feature.reindex(rows)
        f["days_to_3_features"] = days(third - signup).clip(lower=0).where(third <= T, tenure)

        usage, max_usage = {}, {}
        for lim, m in zip(cfg.limits, metered):
            m = m[m.timestamp <= T]
            per_period = m.groupby(["acc", "period"]).size()
            name = f"limit_{lim.event}_{lim.period}"
            if lim.period == "lifetime":
                current = m
            else:
                today = (t - ONE_DAY).tz_localize(None)
                current = m[m.period == today.to_period("W-SUN" if lim.period == "week" else "M")]
            usage[f"{name}_usage"] = count(current.groupby("acc").size()) / lim.limit
            max_usage[f"{name}_max_usage"] = count(per_period.groupby(level="acc").max()) / lim.limit
        for k, v in (usage | max_usage).items():
            f[k] = v

        for e in cfg.reached:
            f[f"{e}_count"] = count(g[f"{e}_count"])
        for e in cfg.reached:
            f[f"{e}_7d"] = count(g7[e])
        for e in cfg.reached:
            f[f"days_since_{e}"] = since(g[f"{e}_at"])
        for e in cfg.hand_raise:
            f[f"{e}_7d"] = count(g7[e])
        for e in cfg.hand_raise:
            f[f"{e}_30d"] = count(g30[f"is:{e}"])
        f["days_since_hand_raise"] = since(g.hand_raise_at)
        f["active_users"] = count(first_user[first_user.timestamp <= T].groupby("acc").size())
        for e in cfg.collaboration:
            f[f"{e}_count"] = count(g[f"{e}_count"])
        f["events_7d"] = count(g7.events)
        f["events_prev_7d"] = events_14d - f.events_7d
        total = f.events_7d + f.events_prev_7d
        f["activity_trend"] = ((f.events_7d - f.events_prev_7d) / total).where(total > 0, 0.0)
        f = f.join(attr)

        horizon_end = T + cfg.horizon_days * ONE_DAY
        conv = first_conv[rows]
        label = pd.Series(((conv > T) & (conv <= horizon_end)).astype("int32").to_numpy(), index=rows)
        if horizon_end > obs_end:
            label = pd.Series(pd.NA, index=rows, dtype="Int32")

        f = f[columns].astype("float64")
        f.insert(0, "label", label.astype("Int32"))
        f.insert(0, "as_of", T)
        f.insert(0, "account_id", acc.account_id[rows])
        tables.append(f.sort_values("account_id"))
        log(f"as_of {d}: {len(f)} rows")

    out = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["account_id", "as_of", "label"] + columns)
    schema = pa.schema(
        [("account_id", pa.string()), ("as_of", pa.timestamp("us", tz="UTC")), ("label", pa.int32())]
        + [(c, pa.float64()) for c in columns]
    )
    pq.write_table(pa.Table.from_pandas(out, schema=schema, preserve_index=False), args.out)
    log(f"wrote {len(out)} rows x {len(out.columns)} columns to {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
