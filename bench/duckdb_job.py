"""The DuckDB peer: DuckDB's own JSON reader over the .json.gz files, unnesting Records,
keeping kms.amazonaws.com records and writing the key columns to zstd Parquet. Its best
shot: Records declared as JSON[] (no schema inference over heterogeneous records) and
json_extract_string on the few fields needed; all threads.

Usage: duckdb_job.py FILE_LIST OUT_FILE [MAX_OBJECT_BYTES]
(FILE_LIST: one .json.gz path per line; MAX_OBJECT_BYTES: DuckDB's maximum_object_size,
which must exceed the largest uncompressed log file and which DuckDB allocates per file
being read)
"""

import sys

import duckdb


def main():
    files = [l.strip() for l in open(sys.argv[1]) if l.strip()]
    out = sys.argv[2]
    max_object = int(sys.argv[3]) if len(sys.argv) > 3 else 300_000_000
    con = duckdb.connect()
    # Its best configuration for a big batch job: all the memory it may take, no ordering.
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET memory_limit = '18GB'")
    file_list = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    con.execute(f"""
        COPY (
          SELECT
            json_extract_string(r, '$.eventID') AS event_id,
            json_extract_string(r, '$.eventTime') AS event_time,
            json_extract_string(r, '$.eventName') AS event_name,
            json_extract_string(r, '$.resources[0].ARN') AS key_arn,
            coalesce(json_extract_string(r, '$.userIdentity.arn'), json_extract_string(r, '$.userIdentity.invokedBy')) AS principal,
            json_extract_string(r, '$.errorCode') AS error_code,
            json_extract_string(r, '$.requestParameters.encryptionContext."aws:proton:template"') AS proton_template,
            json_extract_string(r, '$.requestParameters.encryptionContext."aws:proton:resource"') AS proton_resource
          FROM (
            SELECT unnest(Records) AS r
            FROM read_json({file_list},
                           columns = {{'Records': 'JSON[]'}}, format = 'unstructured',
                           maximum_object_size = {max_object})
          )
          WHERE json_extract_string(r, '$.eventSource') = 'kms.amazonaws.com'
        ) TO '{out}' (FORMAT parquet, COMPRESSION zstd)
    """)
    n = con.sql(f"SELECT count(*) FROM read_parquet('{out}')").fetchall()[0][0]
    print(f"duckdb: {n} KMS rows")


if __name__ == "__main__":
    main()
