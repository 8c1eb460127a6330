#!/usr/bin/env bash
# jobs.sh: the job store's costs against the targets of issue 12, on the corpus of compare.sh.
#
#   benches/jobs.sh                    # 1 GiB corpus (target/bench-corpus-1G), 5 runs each
#   SIZE=64M RUNS=1 benches/jobs.sh    # a smoke run
#
# 1. Job overhead: `jobs create` against `collect` of the same request, interleaved, median of
#    the paired ratios (target <= 1.05).
# 2. Retry: the request plus one process whose log directory is missing (one FAILURE child out
#    of the corpus's children); the directory then appears with a small log, and `jobs retry`
#    is timed against the first run (target <= 0.1): it re-collects one child and copies the
#    rest of the archive.
# 3. `jobs list` with 10,000 jobs in the store (rows cloned in SQL from one real job), median
#    wall time (target <= 50 ms); peak RSS of every job operation (target <= 64 MiB).
# Exit status: 0 when every target holds, 3 when one does not, 1 on an error.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SIZE=${SIZE:-1G}
RUNS=${RUNS:-5}
CORPUS=${CORPUS:-target/bench-corpus-$SIZE}
OUT_DIR=${OUT_DIR:-target/bench-jobs}
THREADS=${THREADS:-$(nproc)}

cargo build --release >&2
cargo build --release --example gen_corpus >&2
LOGPACK="$ROOT/target/release/logpack"
if ! grep -qs '"complete": true' "$CORPUS/corpus.json"; then
    echo "== generating the corpus in $CORPUS" >&2
    "$ROOT/target/release/examples/gen_corpus" --size "$SIZE" --out "$CORPUS" >&2
fi
CORPUS=$(cd "$CORPUS" && pwd)
rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
trap 'rm -rf "$OUT_DIR"' EXIT
find "$CORPUS/hosts" -type f -print0 | xargs -0 cat | cat >/dev/null

timed() { # timed CMD...: sets WALL (s) and RSS (KiB); keeps the exit status in RC
    local t0 t1
    t0=$EPOCHREALTIME
    RC=0
    /usr/bin/time -f '%M' -o "$OUT_DIR/time" "$@" >"$OUT_DIR/stdout" 2>"$OUT_DIR/stderr" || RC=$?
    t1=$EPOCHREALTIME
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}')
    RSS=$(tail -n1 "$OUT_DIR/time")
}
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
MAX_RSS=0
track() { [ "$RSS" -gt "$MAX_RSS" ] && MAX_RSS=$RSS; return 0; }

echo "== 1. job overhead" >&2
RATIOS=""
CREATE_W=""
COLLECT_W=""
for ((r = 1; r <= RUNS; r++)); do
    rm -rf "$OUT_DIR/spool" "$OUT_DIR/c.tar.gz"
    timed "$LOGPACK" collect "$CORPUS/request.json" -o "$OUT_DIR/c.tar.gz" --quiet --threads "$THREADS"
    [ "$RC" -eq 0 ] || { cat "$OUT_DIR/stderr" >&2; exit 1; }
    c=$WALL
    timed "$LOGPACK" jobs --spool "$OUT_DIR/spool" create "$CORPUS/request.json" --quiet --threads "$THREADS"
    [ "$RC" -eq 0 ] || { cat "$OUT_DIR/stderr" >&2; exit 1; }
    track
    j=$WALL
    CREATE_W+="$j "
    COLLECT_W+="$c "
    RATIOS+="$(awk -v a="$j" -v b="$c" 'BEGIN {printf "%.4f", a / b}') "
    echo "   round $r: collect ${c}s, jobs create ${j}s" >&2
done
R_CREATE=$(median <<<"$RATIOS")

echo "== 2. retry of one failed child" >&2
python3 - "$CORPUS/request.json" "$OUT_DIR/retry.json" "$OUT_DIR/late" <<'PY'
import json, os, sys
src, dst, late = sys.argv[1:]
req = json.load(open(src))
base = os.path.dirname(os.path.abspath(src))
for h in req["hosts"]:
    for k in ("agentLogDir", "omLogDir"):
        if k in h:
            h[k] = os.path.join(base, h[k])
    for p in h.get("processes", []):
        for k in ("logPath", "dbPath"):
            if k in p:
                p[k] = os.path.join(base, p[k])
req["hosts"][0]["processes"].append(
    {"type": "mongod", "replicaSet": "late", "port": 29999, "logPath": os.path.join(late, "mongod.log")})
json.dump(req, open(dst, "w"))
PY
FIRST_W=""
RETRY_W=""
RR=""
for ((r = 1; r <= RUNS; r++)); do
    rm -rf "$OUT_DIR/spool2" "$OUT_DIR/late"
    timed "$LOGPACK" jobs --spool "$OUT_DIR/spool2" create "$OUT_DIR/retry.json" --quiet --threads "$THREADS"
    [ "$RC" -eq 3 ] || { echo "jobs.sh: the first run should fail one child (exit $RC)" >&2; cat "$OUT_DIR/stderr" >&2; exit 1; }
    track
    f=$WALL
    id=$(head -n1 "$OUT_DIR/stdout" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    mkdir -p "$OUT_DIR/late"
    echo '{"t":{"$date":"2026-11-20T10:00:00.000+00:00"},"s":"I","c":"NETWORK","id":1,"ctx":"x","msg":"late"}' >"$OUT_DIR/late/mongod.log"
    timed "$LOGPACK" jobs --spool "$OUT_DIR/spool2" retry "$id" --quiet --threads "$THREADS"
    [ "$RC" -eq 0 ] || { echo "jobs.sh: the retry failed (exit $RC)" >&2; cat "$OUT_DIR/stderr" >&2; exit 1; }
    track
    FIRST_W+="$f "
    RETRY_W+="$WALL "
    RR+="$(awk -v a="$WALL" -v b="$f" 'BEGIN {printf "%.4f", a / b}') "
    echo "   round $r: first run ${f}s, retry ${WALL}s" >&2
done
"$LOGPACK" jobs --spool "$OUT_DIR/spool2" download "$id" -o "$OUT_DIR/retried.tar.gz" 2>/dev/null
"$LOGPACK" verify "$OUT_DIR/retried.tar.gz" >&2
CHILDREN=$(tar -xzOf "$OUT_DIR/retried.tar.gz" manifest.json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["childJobs"]))')
R_RETRY=$(median <<<"$RR")

echo "== 3. jobs list with 10,000 jobs" >&2
python3 - "$OUT_DIR/spool/logpack.db" <<'PY'
import sqlite3, sys, secrets
db = sqlite3.connect(sys.argv[1])
cols = [r[1] for r in db.execute("PRAGMA table_info(jobs)")]
row = db.execute("SELECT * FROM jobs LIMIT 1").fetchone()
n = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
rows = []
for i in range(10000 - n):
    r = list(row)
    r[cols.index("id")] = secrets.token_hex(12)
    r[cols.index("created_ms")] = row[cols.index("created_ms")] - i * 1000
    rows.append(r)
db.executemany("INSERT INTO jobs VALUES (%s)" % ",".join("?" * len(cols)), rows)
db.commit()
print(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
PY
LIST_W=""
for ((r = 1; r <= RUNS * 4; r++)); do
    timed "$LOGPACK" jobs --spool "$OUT_DIR/spool" list
    [ "$RC" -eq 0 ] || { cat "$OUT_DIR/stderr" >&2; exit 1; }
    track
    LIST_W+="$WALL "
done
grep -q '"totalCount": 10000' "$OUT_DIR/stdout"
M_LIST=$(median <<<"$LIST_W")
timed "$LOGPACK" jobs --spool "$OUT_DIR/spool" list --items-per-page 500 --verbose
track

fail=0
verdict() { # verdict LABEL VALUE LIMIT SHOWN
    local ok
    ok=$(awk -v v="$2" -v l="$3" 'BEGIN {print (v <= l) ? "PASS" : "FAIL"}')
    [ "$ok" = PASS ] || fail=1
    echo "| $1 | $4 | <= $3 | **$ok** |"
}
echo
echo "## Job store costs ($SIZE corpus, $RUNS runs, $(nproc) cores, logpack $(git rev-parse --short HEAD 2>/dev/null))"
echo
echo "| what | median |"
echo "|---|---:|"
echo "| \`collect\` | $(median <<<"$COLLECT_W") s |"
echo "| \`jobs create\` | $(median <<<"$CREATE_W") s |"
echo "| first run with 1 of $CHILDREN children failing | $(median <<<"$FIRST_W") s |"
echo "| \`jobs retry\` of that child | $(median <<<"$RETRY_W") s |"
echo "| \`jobs list\` (10,000 jobs, 100 a page) | $(awk -v m="$M_LIST" 'BEGIN {printf "%.1f", m * 1000}') ms |"
echo
echo "| target (issue 12) | measured | limit | result |"
echo "|---|---:|---:|---|"
verdict "jobs create wall / collect wall" "$R_CREATE" 1.05 "$(printf '%.3f' "$R_CREATE")"
verdict "retry wall / first run wall" "$R_RETRY" 0.1 "$(printf '%.3f' "$R_RETRY")"
verdict "jobs list with 10,000 jobs (s)" "$M_LIST" 0.05 "$(awk -v m="$M_LIST" 'BEGIN {printf "%.1f ms", m * 1000}')"
verdict "peak RSS of any job operation (MiB)" "$(awk -v k="$MAX_RSS" 'BEGIN {print k / 1024}')" 64 "$(awk -v k="$MAX_RSS" 'BEGIN {printf "%.1f", k / 1024}')"
[ "$fail" -eq 0 ] || exit 3
