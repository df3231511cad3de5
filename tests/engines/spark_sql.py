"""Runs scoring queries on Spark in local mode: for each (features.parquet, query.sql, out.csv) triple of
arguments, registers the Parquet file as the view `features`, runs the query and writes its rows to the CSV
(floats with repr, which round-trips)."""

import csv
import sys

from pyspark.sql import SparkSession

spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
args = sys.argv[1:]
for features, query, out in zip(args[0::3], args[1::3], args[2::3]):
    spark.read.parquet(features).createOrReplaceTempView("features")
    result = spark.sql(open(query).read())
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(result.columns)
        for row in result.collect():
            writer.writerow([repr(v) if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else v for v in row])
spark.stop()
