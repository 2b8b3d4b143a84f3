#!/usr/bin/env bash
# Runs every test of keytrail: formatting, lints, Rust unit/integration/property tests,
# and the Parquet read-back in pyarrow and DuckDB (Python tools in .venv, pinned).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== python test tools (.venv: moto for cargo test, pyarrow, DuckDB, sqlglot, cargo-lambda)"
if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import pyarrow, duckdb' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt

echo "== rustfmt"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test (the S3, DynamoDB and fault tests start moto_server from .venv)"
cargo test --workspace --locked


echo "== tables read back in pyarrow and DuckDB"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build --locked --quiet
./target/debug/keytrail analyze testdata/trail --out "$out/tables" > "$out/summary.txt"
.venv/bin/python tests/python/check_tables.py ./target/debug/keytrail "$out/tables" testdata/expected/findings.jsonl
echo "== first hour: the README's quick start verbatim, DuckDB never sees a staged file, progress in a pty"
.venv/bin/python tests/python/check_first_hour.py ./target/debug/keytrail
echo "== queries/: sqlglot (Trino/Athena), trino-sql-validator, DuckDB runs and findings_recomputed == CLI"
.venv/bin/python tests/python/check_queries.py ./target/debug/keytrail

echo "== Lambda end to end: moto S3 on loopback + the real runtime loop under cargo lambda"
PATH="$PWD/.venv/bin:$PATH" .venv/bin/python tests/python/lambda_e2e.py
echo "== keytrail snapshot end to end: moto KMS on loopback, read back with --check, a failed run keeps the old file"
PATH="$PWD/.venv/bin:$PATH" .venv/bin/python tests/python/snapshot_e2e.py

echo "== template.yaml: cfn-lint, sam validate --lint, checkov"
for v in iac checkov; do
  if [[ ! -x .venv-$v/bin/python ]]; then python3 -m venv .venv-$v; fi
  .venv-$v/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements-$v.txt
done
.venv-iac/bin/cfn-lint template.yaml
SAM_CLI_TELEMETRY=0 .venv-iac/bin/sam validate --lint --region us-east-1 -t template.yaml
.venv-checkov/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download
.venv-iac/bin/python tests/python/check_template.py template.yaml

echo "== fuzzing: a short pass of every target (scripts/fuzz.sh; longer runs: scripts/fuzz.sh 600)"
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"

echo "== all tests passed"
