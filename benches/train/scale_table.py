"""Writes a large feature table for benches/train/large.sh from a smaller one written by `pql features`.

    python scale_table.py FEATURES.parquet CONFIG OUT.parquet --labelled ROWS [--features N]

The output holds copies of the input's rows until it has at least ROWS labelled rows; copy k renames every
account `<id>~k` (so each copy is a separate population of accounts, on the same snapshots). It keeps N
feature columns: those the config's rules read, then the others in dictionary order; the stored feature
dictionary (`pql.features`) is cut to match, so `pql train --features OUT.parquet` reads it as a table
`pql features` wrote. The output is written one snapshot at a time (its copies together, one row group),
so it is ordered by snapshot as `pql features` writes it, and peak memory is one snapshot's rows.
"""

import argparse
import json
import re
import tomllib

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

KEYS = ["account_id", "as_of", "label"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features")
    parser.add_argument("config")
    parser.add_argument("out")
    parser.add_argument("--labelled", type=int, required=True, help="labelled rows to reach, at least")
    parser.add_argument("--features", dest="count", type=int, default=70, help="feature columns to keep")
    args = parser.parse_args()

    source = pq.ParquetFile(args.features)
    metadata = source.metadata.metadata or {}  # the file's key-value metadata, where pql stores its dictionary
    dictionary = json.loads(metadata[b"pql.features"])
    names = [d["name"] for d in dictionary]
    with open(args.config, "rb") as f:
        rules = tomllib.load(f).get("rules", [])
    ruled = [n for n in names if any(re.search(rf"\b{re.escape(n)}\b", r["when"]) for r in rules)]
    kept = (ruled + [n for n in names if n not in ruled])[: args.count]
    kept = [n for n in names if n in kept]  # dictionary order
    table = source.read(columns=KEYS + kept)
    table = table.set_column(0, "account_id", table.column("account_id").cast(pa.large_string()))
    labelled = table.num_rows - table.column("label").null_count
    copies = -(-args.labelled // labelled)
    metadata = {b"pql.features": json.dumps([d for d in dictionary if d["name"] in kept]).encode()}
    schema = table.schema.with_metadata(metadata)
    table = table.sort_by([("as_of", "ascending"), ("account_id", "ascending")])
    snapshots = pc.unique(table.column("as_of"))
    with pq.ParquetWriter(args.out, schema) as writer:
        for snapshot in snapshots:
            rows = table.filter(pc.equal(table.column("as_of"), snapshot))
            ids = rows.column("account_id")
            parts = [
                rows.set_column(0, "account_id", pc.binary_join_element_wise(ids, pa.scalar(f"~{k}", pa.large_string()), pa.scalar("", pa.large_string())))
                for k in range(copies)
            ]
            writer.write_table(pa.concat_tables(parts).cast(schema))
    print(
        f"{args.out}: {copies} copies of {table.num_rows} rows ({labelled} labelled): "
        f"{copies * table.num_rows} rows, {copies * labelled} labelled, {len(kept)} features"
    )


if __name__ == "__main__":
    main()
