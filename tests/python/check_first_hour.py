"""A new user's first hour, with the real tools a user has.

1. The README's quick start, run verbatim: the commands are read from README.md's
   "Quick start" block (not a copy of them) and run in a fresh copy of the working tree.
2. DuckDB's `read_parquet('DIR/**/*.parquet')` over an output folder while a run is staging
   into it and after that run is interrupted: it reads the old tables, never a staged file.
3. The progress bar in a pseudo-terminal: it moves inside one large file, then shows a
   "writing tables" phase.
4. Access denied, in one line: moto's S3 server with its IAM checks on
   (INITIAL_NO_AUTH_ACTION_COUNT=0) refuses an unknown access key.

Usage: python tests/python/check_first_hour.py ./target/debug/keytrail
"""
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import duckdb

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEYTRAIL = os.path.abspath(sys.argv[1])


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def ok(msg):
    print(f"ok: {msg}")


def quick_start_commands(readme):
    """The shell lines of the first ```sh block under '## Quick start', comments cut."""
    m = re.search(r"^## Quick start\n(.*?)^## ", readme, re.S | re.M)
    if not m:
        fail("README.md has no '## Quick start' section")
    section = m.group(1)
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    if not block:
        fail("the Quick start section has no ```sh block")
    cmds = []
    for line in block.group(1).splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line:
            cmds.append(line)
    return section, cmds


def check_quick_start():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section, cmds = quick_start_commands(readme)
    if not any(c.startswith("cargo run -- analyze") for c in cmds):
        fail(f"the quick start lost its analyze command: {cmds}")
    # The prose's own commands (`cargo run -- ...` in backticks) are run too.
    prose = re.findall(r"`(cargo run -- [^`]+)`", section.split("```")[-1])
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split("\n")
    with tempfile.TemporaryDirectory(prefix="keytrail-readme-") as tmp:
        clone = os.path.join(tmp, "keytrail")
        for f in filter(None, files):
            src = os.path.join(ROOT, f)
            if not os.path.isfile(src):
                continue
            dst = os.path.join(clone, f)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
        env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(ROOT, "target"), NO_COLOR="1")
        for cmd in cmds + prose:
            if cmd == "scripts/test.sh":
                # The command that is running this check.
                continue
            t0 = time.time()
            r = subprocess.run(cmd, shell=True, cwd=clone, env=env, capture_output=True, text=True)
            took = time.time() - t0
            if r.returncode != 0:
                fail(f"README command `{cmd}` exited {r.returncode}:\n{r.stderr[-3000:]}")
            tail = r.stdout.strip().splitlines()[-1:] or [""]
            ok(f"README command `{cmd}` ({took:.0f} s): {tail[0][:100]}")
            if " analyze " in cmd:
                out = os.path.join(clone, cmd.split("--out", 1)[1].split()[0])
                tables = sorted(d for d in os.listdir(out) if not d.startswith("_"))
                want = ["findings", "grants", "key_policies", "key_states", "kms_events", "proton_usage"]
                if tables != want:
                    fail(f"`{cmd}` wrote {tables}, not the six tables")
                claimed = re.search(r"reads the (\d+) sample log files", section)
                if claimed and f"files: {int(claimed.group(1)) - 3} read, 3 skipped" not in r.stdout:
                    # 3 of the sample files are the digest and insight files it skips.
                    fail(f"the README says {claimed.group(1)} sample files; the summary says:\n{r.stdout}")
            if " findings " in cmd:
                claimed = re.search(r"prints the (\d+) findings", section)
                heads = [l for l in r.stdout.splitlines()[1:] if l and not l.startswith(" ")]
                if not claimed or int(claimed.group(1)) != len(heads):
                    fail(f"the README claims {claimed and claimed.group(1)} findings; `{cmd}` printed {len(heads)}")
                ok(f"`{cmd}` printed the {len(heads)} findings the README promises")


def parquet_count(dir_):
    con = duckdb.connect()
    return con.execute(
        f"SELECT count(*) FROM read_parquet('{dir_}/**/*.parquet', union_by_name=true)"
    ).fetchone()[0]


def check_duckdb_never_sees_staging(tmp):
    out = os.path.join(tmp, "tables")
    subprocess.run([KEYTRAIL, "analyze", os.path.join(ROOT, "testdata/trail"), "--out", out, "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    before = parquet_count(out)
    corpus = os.path.join(tmp, "corpus")
    subprocess.run([KEYTRAIL, "gen", "--out", corpus, "--size-mb", "40", "--large-file-mb", "20"],
                   check=True, stdout=subprocess.DEVNULL)
    p = subprocess.Popen([KEYTRAIL, "analyze", corpus, "--out", out, "--threads", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    staging = os.path.join(tmp, ".tables.keytrail-staging")
    t0 = time.time()
    staged = []
    while not staged:
        if time.time() - t0 > 60:
            fail("the run never staged a Parquet file")
        for d, _, fs in os.walk(staging):
            staged += [os.path.join(d, f) for f in fs if f.endswith(".parquet")]
        time.sleep(0.02)
    during = parquet_count(out)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    if p.returncode != 130:
        fail(f"SIGINT: exit {p.returncode}: {err}")
    after = parquet_count(out)
    if not (before == during == after):
        fail(f"DuckDB's glob saw {before}, {during} (while staging), {after} rows")
    if os.path.exists(staging):
        fail("the interrupted run left its staging folder")
    ok(f"DuckDB glob over DIR: {before} rows before, while {len(staged)} files were staged beside it, "
       f"and after SIGINT ({err.strip()})")
    return corpus


def check_progress_in_a_pty(tmp, corpus):
    largest = max((os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in fs),
                  key=os.path.getsize)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(KEYTRAIL, [KEYTRAIL, "analyze", largest, "--out", os.path.join(tmp, "p")])
    buf = b""
    while True:
        try:
            r, _, _ = select.select([fd], [], [], 1)
            if r:
                d = os.read(fd, 65536)
                if not d:
                    break
                buf += d
        except OSError:
            break
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        fail(f"analyze in a pty exited {status}")
    frames = [f.decode("utf-8", "replace") for f in re.split(rb"\r|\n|\x1b\[[0-9]*[AK]", buf)]
    inside = [f for f in frames if "files 0/1" in f and "ETA" in f]
    amounts = {re.search(r"([\d.]+ [KMG]?i?B)/", f).group(1) for f in inside if re.search(r"([\d.]+ [KMG]?i?B)/", f)}
    clocks = {re.search(r"\[(\d\d:\d\d:\d\d)\]", f).group(1) for f in inside if re.search(r"\[(\d\d:\d\d:\d\d)\]", f)}
    if len(amounts) < 3:
        fail(f"the bar did not move inside one file: {sorted(amounts)}")
    if not any("writing tables" in f for f in frames):
        fail("no 'writing tables' phase")
    ok(f"progress in a pty: {len(amounts)} byte counts and {len(clocks)} clock readings inside one "
       f"{os.path.getsize(largest) // 1_000_000} MB file, then 'writing tables'")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_access_denied_is_one_line(tmp):
    import socket
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")
    moto = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=open(os.path.join(tmp, "moto.log"), "w"), stderr=subprocess.STDOUT, env=env)
    try:
        t0 = time.time()
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() - t0 > 60:
                    fail("moto_server did not start")
                time.sleep(0.2)
        kenv = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="AKIAUNKNOWNKEY000000",
                    AWS_SECRET_ACCESS_KEY="unknown", AWS_REGION="us-east-1")
        kenv.pop("NO_COLOR", None)
        r = subprocess.run([KEYTRAIL, "findings", "s3://trail-bucket/AWSLogs/"], capture_output=True, text=True, env=kenv)
        lines = r.stderr.splitlines()
        if r.returncode != 3 or len(lines) != 1 or not lines[0].startswith("error: access denied to s3://trail-bucket/AWSLogs") \
                or "{" in r.stderr or "\x1b" in r.stderr:
            fail(f"access denied: exit {r.returncode}, stderr {r.stderr!r}")
        ok(f"access denied is one line, exit 3: {lines[0]}")
    finally:
        moto.terminate()
        moto.wait(timeout=30)


def main():
    check_quick_start()
    with tempfile.TemporaryDirectory(prefix="keytrail-first-hour-") as tmp:
        corpus = check_duckdb_never_sees_staging(tmp)
        check_progress_in_a_pty(tmp, corpus)
        check_access_denied_is_one_line(tmp)


if __name__ == "__main__":
    main()
