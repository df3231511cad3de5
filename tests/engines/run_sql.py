"""Runs SQL scripts written by `pql sql` on a real engine, for the differential tests (tests/sql.rs).

Usage: run_sql.py duckdb|spark JOBS.json

JOBS.json lists jobs, each {"tables": {"name": "path", ...}, "script": "x.sql", "out": "x.csv", "views":
{"name": "y.csv", ...}} ("views" optional: views the script creates, also written out). Each table
is registered as a view over a Parquet or CSV file (on DuckDB the name may be dotted, each part quoted, so
reserved words work); CSV columns are read as text, except the contract's time
columns (timestamp, signup_at, converted_at), which are cast to timestamps as a warehouse would hold them.
The script's statements (ending with `;` at the end of a line) run in order and the rows of the last are
written to the CSV: floats with repr (which round-trips), booleans as true/false, timestamps in ISO form,
NULL as an empty field. Spark runs in local[2] mode, one session for every job.
"""

import csv
import json
import sys

TIME_COLUMNS = {"timestamp", "signup_at", "converted_at"}


def cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def statements(path):
    text = open(path).read()
    parts, current = [], []
    for line in text.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            parts.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    if any(line.strip() and not line.strip().startswith("--") for line in current):
        parts.append("\n".join(current))
    return parts


def write(out, columns, rows):
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(v) for v in row])


def quoted(name):
    """A DuckDB relation name with every dot-separated part quoted."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def run_duckdb(jobs):
    import duckdb

    for job in jobs:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for name, path in job["tables"].items():
            if path.endswith(".csv"):
                columns = con.sql(f"SELECT * FROM read_csv('{path}', all_varchar = true)").columns
                select = ", ".join(
                    f'CAST("{c}" AS TIMESTAMPTZ) AS "{c}"' if c in TIME_COLUMNS else f'"{c}"' for c in columns
                )
                con.execute(f"CREATE VIEW {quoted(name)} AS SELECT {select} FROM read_csv('{path}', all_varchar = true)")
            else:
                con.execute(f"CREATE VIEW {quoted(name)} AS SELECT * FROM read_parquet('{path}')")
        result = None
        for statement in statements(job["script"]):
            result = con.sql(statement)
        write(job["out"], result.columns, result.fetchall())
        for view, out in job.get("views", {}).items():
            rows = con.sql(f"SELECT * FROM {quoted(view)}")
            write(out, rows.columns, rows.fetchall())


def run_spark(jobs):
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    for job in jobs:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        for name, path in job["tables"].items():
            if path.endswith(".csv"):
                frame = spark.read.option("header", True).csv(path)
                for c in frame.columns:
                    if c in TIME_COLUMNS:
                        frame = frame.withColumn(c, F.col(c).cast("timestamp"))
            else:
                frame = spark.read.parquet(path)
            frame.createOrReplaceTempView(name)
        result = None
        for statement in statements(job["script"]):
            result = spark.sql(statement)
        write(job["out"], result.columns, result.collect())
        for view, out in job.get("views", {}).items():
            rows = spark.sql(f"SELECT * FROM {view}")
            write(out, rows.columns, rows.collect())
    spark.stop()


if __name__ == "__main__":
    engine, jobs = sys.argv[1], json.load(open(sys.argv[2]))
    {"duckdb": run_duckdb, "spark": run_spark}[engine](jobs)
