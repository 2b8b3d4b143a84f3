#!/usr/bin/env bash
# Side-by-side throughput and peak memory on one generated corpus (>= 1 GB uncompressed):
#   keytrail analyze at 1 thread and at all cores;
#   DuckDB doing the same job (read the .json.gz, keep KMS records, write Parquet);
#   a Python json(orjson) + pyarrow pipeline, as a Python Lambda would do it;
#   the floor: gzip decompression alone (libdeflate-gunzip -c, one process over all files).
#   the floor's own scaling: the same gunzip as two processes over two halves of the files
#   (what two cores of this machine give to a job that shares nothing).
# keytrail and the floor are run REPEAT times, interleaved, and the median is kept (shared
# machines drift by tens of percent within minutes).
# Prints a table (MB/s of uncompressed input, records/s, peak RSS, ratios keytrail/peer),
# the issue's targets met or missed with their figures (bench/out/targets.md), and, with
# SCALING=1 (default): keytrail's throughput and memory against input size
# (bench/out/scaling.csv, .svg), peak RSS for one file of LARGE_MB, and peak RSS of
# `analyze` and `findings --tables` over archives of ARCHIVE_SIZES MB (bench/out/archive.csv).
# Usage: bench/compare.sh   (SIZE_MB=1100 REPEAT=3 WORK=/tmp/keytrail-bench SCALING=1
#                            LARGE_MB=2048 ARCHIVE_SIZES="1000 4000 16000")
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1100}
WORK=${WORK:-/tmp/keytrail-bench}
SCALING=${SCALING:-1}
REPEAT=${REPEAT:-3}
LARGE_MB=${LARGE_MB:-2048}
ARCHIVE_SIZES=${ARCHIVE_SIZES:-1000 4000 16000}
OUT=bench/out
mkdir -p "$WORK" "$OUT"

if ! command -v libdeflate-gunzip >/dev/null; then
  apt-get install -y -qq libdeflate-tools >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libdeflate-tools; }
fi
if [[ ! -x .venv-bench/bin/python ]]; then python3 -m venv .venv-bench; fi
.venv-bench/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
cargo build --release --quiet
KT=target/release/keytrail

corpus() { # corpus SIZE_MB [LARGE_FILE_MB] -> prints its folder, generating it once
  local dir="$WORK/corpus-$1${2:+-large$2}"
  if [[ ! -f "$dir/.done" ]]; then
    rm -rf "$dir"
    "$KT" gen --out "$dir" --size-mb "$1" --seed 42 ${2:+--large-file-mb "$2"} > "$dir.gen.txt"
    touch "$dir/.done"
  fi
  echo "$dir"
}
uncompressed_mb() { awk '{for(i=1;i<=NF;i++) if($i=="MB" && $(i+1)=="uncompressed,") print $(i-1)}' "$1.gen.txt"; }

measure() { # measure NAME CMD... -> appends "name seconds peak_kb" to $RESULTS; fails softly
  local name=$1; shift
  sync
  if /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$@" > "$WORK/$name.stdout" 2> "$WORK/$name.stderr"; then
    echo "$name $(tail -1 "$WORK/time.txt")" >> "$RESULTS"
  else
    echo "$name failed: $(grep -m1 -E 'Error|error' "$WORK/$name.stderr" | cut -c1-200)"
    return 1
  fi
}

MAIN=$(corpus "$SIZE_MB")
BYTES=$(uncompressed_mb "$MAIN")
RECORDS=$(awk '{for(i=1;i<=NF;i++) if($i=="records") print $(i-1)}' "$MAIN.gen.txt")
find "$MAIN" -name '*.json.gz' -path '*/CloudTrail/*' | sort > "$WORK/files.txt"
RESULTS="$WORK/results.txt"; : > "$RESULTS"; : > "$WORK/notes.txt"

echo "corpus: $MAIN ($BYTES MB uncompressed, $RECORDS records, $(wc -l < "$WORK/files.txt") files)"
cat "$WORK/files.txt" > /dev/null   # warm the page cache once for everyone
xargs -a "$WORK/files.txt" cat > /dev/null
# Two halves of the files with about the same bytes each, for the floor's two-process run.
xargs -a "$WORK/files.txt" stat -c '%s %n' | sort -rn | awk '{ if (a <= b) { a += $1; print $2 > "'"$WORK"'/half-a.txt" } else { b += $1; print $2 > "'"$WORK"'/half-b.txt" } }'
CORES=$(nproc)
for _ in $(seq "$REPEAT"); do
  measure gunzip-floor sh -c "xargs -a '$WORK/files.txt' libdeflate-gunzip -c > /dev/null"
  measure gunzip-floor-2-processes sh -c "xargs -a '$WORK/half-a.txt' libdeflate-gunzip -c > /dev/null & xargs -a '$WORK/half-b.txt' libdeflate-gunzip -c > /dev/null; wait"
  rm -rf "$WORK/kt1" "$WORK/kt2" "$WORK/ktn"
  measure keytrail-1-thread "$KT" analyze "$MAIN" --out "$WORK/kt1" --threads 1 --no-progress
  measure keytrail-2-threads "$KT" analyze "$MAIN" --out "$WORK/kt2" --threads 2 --no-progress
  if [[ "$CORES" -gt 2 ]]; then
    measure keytrail-all-cores "$KT" analyze "$MAIN" --out "$WORK/ktn" --threads 0 --no-progress
  fi
done
# Every thread count writes the same bytes.
(cd "$WORK/kt1" && find . -type f | sort | xargs sha256sum) > "$WORK/kt1.sum"
(cd "$WORK/kt2" && find . -type f | sort | xargs sha256sum) > "$WORK/kt2.sum"
cmp -s "$WORK/kt1.sum" "$WORK/kt2.sum" && echo "same_bytes_1_2 yes" >> "$WORK/notes.txt" || echo "same_bytes_1_2 NO" >> "$WORK/notes.txt"
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
import sys, platform, os, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
mb, recs = float(sys.argv[2]), float(sys.argv[3])
notes = dict(l.split(None, 1) for l in open(sys.argv[4]) if l.strip())
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
runs = {}
for n, s, k, u, sy in rows:
    runs.setdefault(n, []).append((float(s), int(k) / 1024, float(u) + float(sy)))
res = {n: tuple(statistics.median(x[i] for x in v) for i in range(3)) for n, v in runs.items()}
kt1 = res["keytrail-1-thread"][0]
print(f"Machine: {cpu}, {os.cpu_count()} cores. Corpus: {mb:.0f} MB uncompressed, {recs:.0f} records. Medians of {max(len(v) for v in runs.values())} runs where repeated.\n")
print("| run | seconds | CPU seconds | MB/s | records/s | peak RSS (MB) | keytrail 1-thread speed / this |")
print("|---|---|---|---|---|---|---|")
kt1_rate = mb / kt1
for n, (s, rss, c) in res.items():
    m = float(notes["duckdb_subset_mb"]) if n == "duckdb-small-files" else mb
    r = recs * m / mb
    print(f"| {n} | {s:.2f} | {c:.2f} | {m/s:.0f} | {r/s:,.0f} | {rss:.0f} | {kt1_rate / (m/s):.2f}x |")
if "duckdb_subset_mb" in notes:
    print(f"\nDuckDB ran out of memory on the full corpus (it holds a whole JSON document, and a 256 MB log file is one); it is measured on the files under 6 MB compressed ({notes['duckdb_subset_mb'].strip()} MB uncompressed).")
floor = res["gunzip-floor"][0]
t = [("keytrail 1 thread / gunzip floor (target >= 0.30)", floor / kt1, 0.30)]
if "keytrail-2-threads" in res:
    t.append(("keytrail 2 threads / 1 thread (target >= 1.7)", kt1 / res["keytrail-2-threads"][0], 1.7))
    t.append(("  for reference: floor 2 processes / 1 process (what 2 cores give)", floor / res["gunzip-floor-2-processes"][0], None))
with open(os.path.join(os.path.dirname(sys.argv[4]), "targets.txt"), "w") as f:
    for name, v, goal in t:
        f.write(f"{name}|{v:.2f}|{'' if goal is None else ('met' if v >= goal else 'MISSED')}\n")
print(f"\nSame output bytes at 1 and 2 threads: {notes.get('same_bytes_1_2', '?').strip()}.")
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

if [[ "$SCALING" == 1 ]]; then
  # One file of LARGE_MB uncompressed, alone: peak RSS at 1 thread (target < 128 MB).
  one=$(corpus "$((LARGE_MB + 50))" "$LARGE_MB")
  big=$(find "$one" -name '*.json.gz' -path '*/CloudTrail/*' -printf '%s %p\n' | sort -rn | head -1 | cut -d' ' -f2)
  big_mb=$(gzip -dc "$big" | wc -c | awk '{printf "%.0f", $1/1000000}')
  rm -rf "$WORK/one"
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$KT" analyze "$big" --out "$WORK/one" --threads 1 --no-progress > /dev/null 2>&1
  read -r secs kb < "$WORK/time.txt"
  echo "peak RSS, one ${big_mb} MB file at 1 thread, MB (target < 128)|$((kb / 1024))|$([[ $((kb / 1024)) -lt 128 ]] && echo met || echo MISSED)" >> "$WORK/targets.txt"

  # About 5 MB of gzip in one object (27 MB of JSON): what the Lambda does with one
  # object, as the CLI does it (process start and local file included; target < 250 ms).
  five=$(corpus 60 27)
  obj=$(find "$five" -name '*.json.gz' -path '*/CloudTrail/*' -printf '%s %p\n' | sort -rn | head -1 | cut -d' ' -f2)
  best=999999
  for _ in 1 2 3 4 5; do
    rm -rf "$WORK/five"
    /usr/bin/time -f "%e" -o "$WORK/time.txt" "$KT" analyze "$obj" --out "$WORK/five" --threads 1 --no-progress > /dev/null 2>&1
    ms=$(awk '{printf "%.0f", $1 * 1000}' "$WORK/time.txt"); [[ "$ms" -lt "$best" ]] && best=$ms
  done
  echo "one $(($(stat -c %s "$obj") / 1000000)) MB .json.gz object, 1 thread, ms (best of 5; target < 250)|$best|$([[ "$best" -lt 250 ]] && echo met || echo MISSED)" >> "$WORK/targets.txt"

  # Peak RSS against archive size: analyze, then findings --tables over what it wrote
  # (target: within 1.5x from smallest to largest, and under 512 MB).
  echo "size_mb,analyze_rss_mb,findings_tables_rss_mb" > "$OUT/archive.csv"
  for size in $ARCHIVE_SIZES; do
    dir=$(corpus "$size")
    rm -rf "$WORK/archive"
    /usr/bin/time -f "%M" -o "$WORK/a.txt" "$KT" analyze "$dir" --out "$WORK/archive" --threads 0 --no-progress > /dev/null 2>&1
    /usr/bin/time -f "%M" -o "$WORK/f.txt" "$KT" findings --tables "$WORK/archive" --format json > /dev/null 2>&1
    echo "$(uncompressed_mb "$dir"),$(($(tail -1 "$WORK/a.txt") / 1024)),$(($(tail -1 "$WORK/f.txt") / 1024))" >> "$OUT/archive.csv"
    rm -rf "$WORK/archive"
  done
  awk -F, 'NR == 2 { a0 = $2; f0 = $3 } NR > 1 { a = $2; f = $3; m = (a > f ? a : f); if (m > mx) mx = m }
    END { ra = a / a0; rf = f / f0; r = (ra > rf ? ra : rf);
          printf "peak RSS, largest / smallest archive (target <= 1.5)|%.2f|%s\n", r, (r <= 1.5 ? "met" : "MISSED");
          printf "peak RSS, largest archive, MB (target < 512)|%d|%s\n", mx, (mx < 512 ? "met" : "MISSED") }' \
    "$OUT/archive.csv" >> "$WORK/targets.txt"
  echo; echo "peak RSS against archive size (bench/out/archive.csv):"; cat "$OUT/archive.csv"
fi

{
  echo "| target | figure | |"
  echo "|---|---|---|"
  awk -F'|' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$WORK/targets.txt"
} > "$OUT/targets.md"
echo; echo "targets (bench/out/targets.md):"; cat "$OUT/targets.md"
