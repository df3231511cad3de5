#!/usr/bin/env python3
"""Runs a script written by `pql sql` on DuckDB or Spark (local mode) and writes its last result as Parquet.

    python run_engine.py duckdb|spark --table events=PATH --table accounts=PATH ... \
        --script features.sql --out OUT.parquet

Each `--table NAME=PATH` registers a view over a Parquet file or folder. The script's statements (each
ending with `;` at the end of a line) run in order; the last one's rows are written with the engine's own
Parquet writer (DuckDB: `COPY ... TO`, one file; Spark: `DataFrameWriter.parquet`, a folder of parts), so
the timing covers the whole query and no rows pass through Python. Prints `startup_s` (session start) and
`query_s` (statements and write) to stdout.

Spark runs with `--master` (default local[2]) and `--driver-memory` (default 8g: in local mode the driver
is the executor), `--conf KEY=VALUE` settings, the others at their defaults (adaptive query execution on),
UI off; it also prints `jvm_peak_rss_kb`, the JVM's peak resident memory, which GNU time does not see.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

# The tests' runner splits scripts into statements; the benchmark splits them the same way.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "engines"))
from run_sql import statements  # noqa: E402


def run_duckdb(tables: dict[str, str], script: list[str], out: str) -> tuple[float, float]:
    import duckdb

    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, path in tables.items():
        source = f"{path}/**/*.parquet" if os.path.isdir(path) else path
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{source}')")
    ready = time.perf_counter()
    for statement in script[:-1]:
        con.execute(statement)
    con.execute(f"COPY ({script[-1]}) TO '{out}' (FORMAT parquet)")
    return ready - start, time.perf_counter() - ready


def run_spark(
    tables: dict[str, str], script: list[str], out: str, master: str, memory: str, conf: dict[str, str]
) -> tuple[float, float]:
    from pyspark.sql import SparkSession

    start = time.perf_counter()
    builder = (
        SparkSession.builder.master(master)
        .config("spark.driver.memory", memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for name, path in tables.items():
        spark.read.parquet(path).createOrReplaceTempView(name)
    ready = time.perf_counter()
    for statement in script[:-1]:
        spark.sql(statement)
    shutil.rmtree(out, ignore_errors=True)
    spark.sql(script[-1]).write.parquet(out)
    query = time.perf_counter() - ready
    # GNU time sees the Python process only: the JVM's own peak resident memory, from Linux.
    jvm = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    for line in open(f"/proc/{jvm}/status"):
        if line.startswith("VmHWM:"):
            print(f"jvm_peak_rss_kb {line.split()[1]}")
    spark.stop()
    return ready - start, query


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("engine", choices=["duckdb", "spark"])
    p.add_argument("--table", action="append", default=[], metavar="NAME=PATH", help="a view over Parquet")
    p.add_argument("--script", required=True, help="the SQL written by `pql sql`")
    p.add_argument("--out", required=True, help="Parquet file (DuckDB) or folder (Spark) for the last result")
    p.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    p.add_argument("--driver-memory", default="8g", help="Spark driver memory (default 8g)")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting; repeatable")
    args = p.parse_args()

    def pairs(items: list[str], flag: str, what: str) -> dict[str, str]:
        result = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key or not value:
                p.error(f"{flag} {item!r}: expected {what}")
            result[key] = value
        return result

    tables = pairs(args.table, "--table", "NAME=PATH")
    conf = pairs(args.conf, "--conf", "KEY=VALUE")
    script = statements(args.script)
    if not script:
        p.error(f"{args.script}: no SQL statement")

    if args.engine == "duckdb":
        startup, query = run_duckdb(tables, script, args.out)
    else:
        startup, query = run_spark(tables, script, args.out, args.master, args.driver_memory, conf)
    print(f"startup_s {startup:.3f}")
    print(f"query_s {query:.3f}")


if __name__ == "__main__":
    main()
