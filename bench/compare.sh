#!/usr/bin/env bash
# Side-by-side throughput and peak memory on one generated corpus (>= 1 GB uncompressed):
#   keytrail analyze at 1 thread and at all cores;
#   DuckDB doing the same job (read the .json.gz, keep KMS records, write Parquet);
#   a Python json(orjson) + pyarrow pipeline, as a Python Lambda would do it;
#   the floor: gzip decompression alone (libdeflate-gunzip -c, one process over all files).
# Prints a table (MB/s of uncompressed input, records/s, peak RSS, ratios keytrail/peer)
# and, with SCALING=1 (default), keytrail's throughput and memory against input size as
# bench/out/scaling.csv and bench/out/scaling.svg.
# Usage: bench/compare.sh            (SIZE_MB=1100 WORK=/tmp/keytrail-bench SCALING=1)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1100}
WORK=${WORK:-/tmp/keytrail-bench}
SCALING=${SCALING:-1}
OUT=bench/out
mkdir -p "$WORK" "$OUT"

if ! command -v libdeflate-gunzip >/dev/null; then
  apt-get install -y -qq libdeflate-tools >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libdeflate-tools; }
fi
if [[ ! -x .venv-bench/bin/python ]]; then python3 -m venv .venv-bench; fi
.venv-bench/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
cargo build --release --quiet
KT=target/release/keytrail

corpus() { # corpus SIZE_MB -> prints its folder, generating it once
  local dir="$WORK/corpus-$1"
  if [[ ! -f "$dir/.done" ]]; then
    rm -rf "$dir"
    "$KT" gen --out "$dir" --size-mb "$1" --seed 42 > "$dir.gen.txt"
    touch "$dir/.done"
  fi
  echo "$dir"
}

measure() { # measure NAME CMD... -> appends "name seconds peak_kb" to $RESULTS; fails softly
  local name=$1; shift
  sync
  if /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > "$WORK/$name.stdout" 2> "$WORK/$name.stderr"; then
    echo "$name $(tail -1 "$WORK/time.txt")" >> "$RESULTS"
  else
    echo "$name failed: $(grep -m1 -E 'Error|error' "$WORK/$name.stderr" | cut -c1-200)"
    return 1
  fi
}

MAIN=$(corpus "$SIZE_MB")
BYTES=$(awk '{for(i=1;i<=NF;i++) if($i=="MB" && $(i+1)=="uncompressed,") print $(i-1)}' "$MAIN.gen.txt")
RECORDS=$(awk '{for(i=1;i<=NF;i++) if($i=="records") print $(i-1)}' "$MAIN.gen.txt")
find "$MAIN" -name '*.json.gz' -path '*/CloudTrail/*' | sort > "$WORK/files.txt"
RESULTS="$WORK/results.txt"; : > "$RESULTS"; : > "$WORK/notes.txt"

echo "corpus: $MAIN ($BYTES MB uncompressed, $RECORDS records, $(wc -l < "$WORK/files.txt") files)"
cat "$WORK/files.txt" > /dev/null   # warm the page cache once for everyone
xargs -a "$WORK/files.txt" cat > /dev/null
measure gunzip-floor sh -c "xargs -a '$WORK/files.txt' libdeflate-gunzip -c > /dev/null"
measure keytrail-1-thread "$KT" analyze "$MAIN" --out "$WORK/kt1" --threads 1 --no-progress
measure keytrail-all-cores "$KT" analyze "$MAIN" --out "$WORK/ktn" --threads 0 --no-progress
if ! measure duckdb .venv-bench/bin/python bench/duckdb_job.py "$WORK/files.txt" "$WORK/duckdb.parquet"; then
  # DuckDB holds a whole JSON document in memory: a 256 MB log file is one document. Then it
  # is measured on the files under 32 MB (its share of the input is accounted for).
  find "$MAIN" -name '*.json.gz' -path '*/CloudTrail/*' -size -6M | sort > "$WORK/small.txt"
  SMALL_MB=$(xargs -a "$WORK/small.txt" libdeflate-gunzip -c | wc -c | awk '{printf "%.0f", $1/1000000}')
  echo "duckdb_subset_mb $SMALL_MB" >> "$WORK/notes.txt"
  measure duckdb-small-files .venv-bench/bin/python bench/duckdb_job.py "$WORK/small.txt" "$WORK/duckdb.parquet" 40000000 || true
fi
measure python-orjson-pyarrow .venv-bench/bin/python bench/python_pipeline.py "$MAIN" "$WORK/python.parquet"

.venv-bench/bin/python - "$RESULTS" "$BYTES" "$RECORDS" "$WORK/notes.txt" > "$OUT/comparison.md" <<'PY'
import sys, platform, os
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
mb, recs = float(sys.argv[2]), float(sys.argv[3])
notes = dict(l.split() for l in open(sys.argv[4]) if l.strip())
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
res = {n: (float(s), int(k) / 1024) for n, s, k in rows}
kt1 = res["keytrail-1-thread"][0]
print(f"Machine: {cpu}, {os.cpu_count()} cores. Corpus: {mb:.0f} MB uncompressed, {recs:.0f} records.\n")
print("| run | seconds | MB/s | records/s | peak RSS (MB) | keytrail 1-thread speed / this |")
print("|---|---|---|---|---|---|")
kt1_rate = mb / kt1
for n, (s, rss) in res.items():
    m = float(notes["duckdb_subset_mb"]) if n == "duckdb-small-files" else mb
    r = recs * m / mb
    print(f"| {n} | {s:.2f} | {m/s:.0f} | {r/s:,.0f} | {rss:.0f} | {kt1_rate / (m/s):.2f}x |")
if "duckdb_subset_mb" in notes:
    print(f"\nDuckDB ran out of memory on the full corpus (it holds a whole JSON document, and a 256 MB log file is one); it is measured on the files under 6 MB compressed ({notes['duckdb_subset_mb']} MB uncompressed).")
PY
cat "$OUT/comparison.md"

if [[ "$SCALING" == 1 ]]; then
  echo "size_mb,seconds,mb_per_s,peak_rss_mb" > "$OUT/scaling.csv"
  for size in 100 300 "$SIZE_MB"; do
    dir=$(corpus "$size")
    mbs=$(awk '{for(i=1;i<=NF;i++) if($i=="MB" && $(i+1)=="uncompressed,") print $(i-1)}' "$dir.gen.txt")
    /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$KT" analyze "$dir" --out "$WORK/scale" --threads 1 --no-progress > /dev/null 2>&1
    read -r secs kb < "$WORK/time.txt"
    awk -v m="$mbs" -v s="$secs" -v k="$kb" 'BEGIN { printf "%s,%s,%.1f,%.1f\n", m, s, m/s, k/1024 }' >> "$OUT/scaling.csv"
  done
  .venv-bench/bin/python - "$OUT/scaling.csv" "$OUT/scaling.svg" <<'PY'
import sys, csv
rows = list(csv.DictReader(open(sys.argv[1])))
W, H, P = 640, 320, 50
xs = [float(r["size_mb"]) for r in rows]
def line(key, color, scale):
    pts = " ".join(f"{P + (W - 2*P) * x / max(xs):.1f},{H - P - (H - 2*P) * float(r[key]) / scale:.1f}" for x, r in zip(xs, rows))
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>'
tmax = max(float(r["mb_per_s"]) for r in rows) * 1.2
mmax = max(float(r["peak_rss_mb"]) for r in rows) * 1.2
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{P}" y1="{H-P}" x2="{W-P}" y2="{H-P}" stroke="black"/><line x1="{P}" y1="{P}" x2="{P}" y2="{H-P}" stroke="black"/>',
       line("mb_per_s", "steelblue", tmax), line("peak_rss_mb", "firebrick", mmax),
       f'<text x="{W/2}" y="{H-15}" text-anchor="middle">input size (MB uncompressed), up to {max(xs):.0f}</text>',
       f'<text x="{P+5}" y="{P-20}" fill="steelblue">throughput, MB/s (top = {tmax:.0f})</text>',
       f'<text x="{P+5}" y="{P-5}" fill="firebrick">peak RSS, MB (top = {mmax:.0f})</text>', '</svg>']
open(sys.argv[2], "w").write("\n".join(svg))
PY
  echo; echo "keytrail at 1 thread against input size (bench/out/scaling.csv, .svg):"; cat "$OUT/scaling.csv"
fi
