"""Writes a large event history for benches/features/large.sh from a smaller one (any generator's).

    python scale_history.py HISTORY_DIR OUT_DIR --copies N [--csv]

HISTORY_DIR holds a `pql.toml` and the three tables it names. OUT_DIR gets N copies of every table, copy k
renaming each account `<id>~k` (separate populations on the same calendar), and a `pql.toml` naming the
new files. Events are written copy after copy, each copy in the input's order, so a history that was in
per-account time order is not any more: pql takes its out-of-order path. With `--csv` the events are
written as one CSV file (timestamps as ISO text); otherwise as Parquet, one row group per copy. Peak memory
is one copy of the events.
"""

import argparse
import os
import re
import tomllib

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq


def read(path: str) -> pa.Table:
    if path.endswith(".csv"):
        return pcsv.read_csv(path)
    return pq.read_table(path)


def renamed(table: pa.Table, column: str, k: int) -> pa.Table:
    ids = pc.cast(table[column], pa.string())
    i = table.schema.get_field_index(column)
    return table.set_column(i, column, pc.binary_join_element_wise(ids, pa.scalar(f"~{k}"), ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("history")
    parser.add_argument("out")
    parser.add_argument("--copies", type=int, required=True)
    parser.add_argument("--csv", action="store_true", help="write the events as one CSV file")
    args = parser.parse_args()

    config_text = open(os.path.join(args.history, "pql.toml")).read()
    config = tomllib.loads(config_text)
    os.makedirs(args.out, exist_ok=True)
    for table in ["events", "accounts", "conversions"]:
        source = os.path.join(args.history, config["inputs"][table])
        column = config.get("columns", {}).get(table, {}).get("account_id", "account_id")
        name = "events.csv" if table == "events" and args.csv else f"{table}.parquet"
        target = os.path.join(args.out, name)
        data = read(source)
        writer = None
        for k in range(args.copies):
            copy = renamed(data, column, k)
            if writer is None:
                if name.endswith(".csv"):
                    writer = pcsv.CSVWriter(target, copy.schema)
                else:
                    writer = pq.ParquetWriter(target, copy.schema)
            writer.write_table(copy)
        writer.close()
        config_text = re.sub(
            rf'^{table}\s*=\s*".*"', f'{table} = "{name}"', config_text, count=1, flags=re.MULTILINE
        )
        print(f"{target}: {data.num_rows * args.copies} rows")
    with open(os.path.join(args.out, "pql.toml"), "w") as f:
        f.write(config_text)


if __name__ == "__main__":
    main()
