#!/usr/bin/env python3
"""Compares two feature tables written by `pql features` or a peer (Parquet files or folders of parts).

    python compare.py A.parquet B.parquet [--tolerance 1e-9] [--show 5]

Checks: the same columns in the same order; the same rows, keyed by (account_id, as_of); equal labels
(nulls equal); every feature equal within the absolute tolerance (NaN only equals NaN). Prints the first
mismatches of each column with the account, the as_of and both values, and exits 1 on any mismatch
(0 when equal, 2 on a usage error).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

KEY = ["account_id", "as_of"]


def as_of_us(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """`as_of` as microseconds since the epoch, whatever its unit, zone or type (date or timestamp)."""
    t = col.type
    if pa.types.is_timestamp(t):
        return col.cast(pa.timestamp("us", tz=t.tz)).cast(pa.int64())
    if pa.types.is_date(t):
        return col.cast(pa.timestamp("us")).cast(pa.int64())
    raise SystemExit(f"as_of has unexpected type {t}")


def load(path: str) -> pa.Table:
    t = pq.read_table(path)
    for k in KEY:
        if k not in t.column_names:
            raise SystemExit(f"{path}: no column {k!r}")
    t = t.set_column(t.column_names.index("account_id"), "account_id", t["account_id"].cast(pa.string()))
    t = t.set_column(t.column_names.index("as_of"), "as_of", as_of_us(t["as_of"]))
    return t.sort_by([("as_of", "ascending"), ("account_id", "ascending")])


def fmt_as_of(us: int) -> str:
    return str(np.datetime64(int(us), "us"))[:19].replace("T", " ") if us is not None else "null"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--tolerance", type=float, default=1e-9, help="absolute tolerance (default 1e-9)")
    p.add_argument("--show", type=int, default=5, help="mismatches shown per column (default 5)")
    args = p.parse_args()

    raw_a, raw_b = pq.ParquetDataset(args.a).schema, pq.ParquetDataset(args.b).schema  # a file or a folder
    a, b = load(args.a), load(args.b)
    ok = True

    if a.column_names != b.column_names:
        ok = False
        print("columns differ:")
        only_a = [c for c in a.column_names if c not in b.column_names]
        only_b = [c for c in b.column_names if c not in a.column_names]
        if only_a:
            print(f"  only in A: {only_a}")
        if only_b:
            print(f"  only in B: {only_b}")
        common = [c for c in a.column_names if c in b.column_names]
        order_b = [c for c in b.column_names if c in a.column_names]
        if common != order_b:
            for i, (x, y) in enumerate(zip(common, order_b)):
                if x != y:
                    print(f"  order differs from common position {i}: A has {x!r}, B has {y!r}")
                    break
    for c in a.column_names:
        if c in b.column_names and c not in KEY:
            ta, tb = raw_a.field(c).type, raw_b.field(c).type
            if ta != tb:
                print(f"note: column {c!r} is {ta} in A and {tb} in B (compared by value)")

    # Rows, by key.
    for name, t in (("A", a), ("B", b)):
        keys = pa.table({"account_id": t["account_id"], "as_of": t["as_of"]})
        dup = keys.group_by(KEY).aggregate([([], "count_all")]).filter(pc.field("count_all") > 1)
        if dup.num_rows:
            ok = False
            r = dup.slice(0, 1).to_pylist()[0]
            print(f"{name} has {dup.num_rows} repeated (account_id, as_of) keys, e.g. "
                  f"{r['account_id']} {fmt_as_of(r['as_of'])}")
    ka = pa.table({"account_id": a["account_id"], "as_of": a["as_of"], "_a": pa.array(np.arange(a.num_rows))})
    kb = pa.table({"account_id": b["account_id"], "as_of": b["as_of"], "_b": pa.array(np.arange(b.num_rows))})
    joined = ka.join(kb, KEY, join_type="full outer")
    only_a = joined.filter(pc.is_null(joined["_b"]))
    only_b = joined.filter(pc.is_null(joined["_a"]))
    for name, rows in (("A", only_a), ("B", only_b)):
        if rows.num_rows:
            ok = False
            print(f"{rows.num_rows} rows only in {name}, e.g.:")
            for r in rows.slice(0, args.show).to_pylist():
                print(f"  {r['account_id']} {fmt_as_of(r['as_of'])}")
    both = joined.filter(pc.and_(pc.is_valid(joined["_a"]), pc.is_valid(joined["_b"])))
    both = both.sort_by([("as_of", "ascending"), ("account_id", "ascending")])
    ia = both["_a"].to_numpy()
    ib = both["_b"].to_numpy()
    ids = both["account_id"].to_numpy(zero_copy_only=False)
    as_ofs = both["as_of"].to_numpy()
    print(f"rows: A {a.num_rows}, B {b.num_rows}, in both {both.num_rows}")

    def report(column: str, bad: np.ndarray, va, vb) -> None:
        idx = np.flatnonzero(bad)
        print(f"column {column!r}: {len(idx)} mismatches, e.g.:")
        for i in idx[: args.show]:
            print(f"  {ids[i]} {fmt_as_of(as_ofs[i])}: A={va[i]!r} B={vb[i]!r}")

    mismatched = 0
    for c in a.column_names:
        if c in KEY or c not in b.column_names:
            continue
        ca = a[c].take(pa.array(ia))
        cb = b[c].take(pa.array(ib))
        na = ca.is_null().to_numpy(zero_copy_only=False)
        nb = cb.is_null().to_numpy(zero_copy_only=False)
        try:
            va = ca.cast(pa.float64()).fill_null(np.nan).to_numpy()
            vb = cb.cast(pa.float64()).fill_null(np.nan).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            va = np.array(ca.to_pylist(), dtype=object)
            vb = np.array(cb.to_pylist(), dtype=object)
            bad = (na != nb) | (~na & ~nb & (va != vb))
        else:
            if c == "label":
                bad = (na != nb) | (~na & ~nb & (va != vb))
            else:
                nan_a = np.isnan(va) & ~na
                nan_b = np.isnan(vb) & ~nb
                with np.errstate(invalid="ignore"):
                    far = ~(np.abs(va - vb) <= args.tolerance)
                bad = (na != nb) | (nan_a != nan_b) | (~na & ~nb & ~nan_a & ~nan_b & far)
            if c == "label":
                va = np.where(na, None, np.nan_to_num(va).astype("int64"))
                vb = np.where(nb, None, np.nan_to_num(vb).astype("int64"))
            else:
                va = np.where(na, None, va)
                vb = np.where(nb, None, vb)
        if bad.any():
            ok = False
            mismatched += 1
            report(c, bad, va, vb)

    if ok:
        print(f"equal: {len(a.column_names)} columns, {a.num_rows} rows (tolerance {args.tolerance:g})")
        return 0
    print(f"NOT equal ({mismatched} columns with value mismatches)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
