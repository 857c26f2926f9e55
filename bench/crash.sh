#!/usr/bin/env bash
# Crash-safety test: does every write the service acknowledged survive a crash, exactly once?
# 32 clients (bench/loadgen.rs --mode crash) send attendance + screening pairs to the release
# build, each request retried with the same body and the same idempotency key until it is
# acknowledged. Mid-load the service is killed (kill -9) and restarted; on PostgreSQL the database
# is then stopped as a crash would (pg_ctl stop -m immediate) and restarted; on SQLite the service
# is killed a second time instead. Then the load stops and bench/crash_check.py holds every
# client's ledger against the database: nothing acknowledged lost, nothing duplicated, every
# pathway summary and 7-day fact equal to a recomputation from the source tables. See
# bench/README.md, "Crash safety".
#
#   bench/crash.sh                                   # both backends, about 75 s each
#   CRASH_BACKENDS=sqlite bench/crash.sh
#   CRASH_PHASE_SECONDS=60 CRASH_CYCLES=3 bench/crash.sh   # longer, three rounds of crashes
#
# Settings (environment): CRASH_BACKENDS ("postgres sqlite"), CRASH_CLIENTS (32),
# CRASH_PHASE_SECONDS (20: load before each crash and after the last), CRASH_DOWN_SECONDS (2: how
# long the crashed process stays down), CRASH_CYCLES (1: rounds of crashes), CRASH_PATIENTS (20000:
# patients the attendances are spread over), CRASH_DRAIN_SECONDS (60), BENCH_SKIP_BUILD,
# PAT_SERVICE_BIN, LOADGEN_BIN (default: the release build in CARGO_TARGET_DIR, else target/),
# PG_FIRST_PORT (the first port tried for PostgreSQL).
# Raw results go to bench/results/crash-<UTC time>/ (not committed). Exits non-zero if anything
# acknowledged was lost or duplicated, a summary or an audit count is wrong, or a request was
# refused.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

BACKENDS="${CRASH_BACKENDS:-postgres sqlite}"
CLIENTS="${CRASH_CLIENTS:-32}"
PHASE="${CRASH_PHASE_SECONDS:-20}"
DOWN="${CRASH_DOWN_SECONDS:-2}"
CYCLES="${CRASH_CYCLES:-1}"
PATIENTS="${CRASH_PATIENTS:-20000}"
DRAIN="${CRASH_DRAIN_SECONDS:-60}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SERVICE_BIN="${PAT_SERVICE_BIN:-$TARGET_DIR/release/pat-service}"
LOADGEN_BIN="${LOADGEN_BIN:-$TARGET_DIR/release/examples/loadgen}"

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

require_tools curl awk sed python3
for setting in CLIENTS PHASE DOWN CYCLES PATIENTS DRAIN; do
    [[ "${!setting}" =~ ^[1-9][0-9]*$ ]] || die "$setting must be a whole number of at least 1 (got '${!setting}')"
done
for backend in $BACKENDS; do
    case "$backend" in postgres | sqlite) ;; *) die "CRASH_BACKENDS: postgres and/or sqlite (got '$backend')" ;; esac
done

bench_build --bin pat-service --example loadgen
[ -x "$SERVICE_BIN" ] || die "no service binary at $SERVICE_BIN"
[ -x "$LOADGEN_BIN" ] || die "no load generator at $LOADGEN_BIN"

bench_results_dir "crash-"
LOADGEN_PID=""
stop_loadgen() {
    if [ -n "$LOADGEN_PID" ]; then
        kill "$LOADGEN_PID" 2>/dev/null || true
        wait "$LOADGEN_PID" 2>/dev/null || true
        LOADGEN_PID=""
    fi
}
# shellcheck disable=SC2034 # read by bench_cleanup (lib.sh)
BENCH_EXTRA_CLEANUP=stop_loadgen
bench_traps

# start_load TAG: the load generator in crash mode against $BASE_URL, in the background.
start_load() {
    local tag="$1" token
    token="$(service_env "$SERVICE_BIN" token --role integration --sub crash-loadgen)"
    [ -n "$token" ] || die "pat-service token printed nothing"
    STOP_FILE="$RESULTS/$tag.stop"
    rm -f "$STOP_FILE"
    "$LOADGEN_BIN" --mode crash --url "$BASE_URL" --token "$token" --clients "$CLIENTS" \
        --patients "$PATIENTS" --drain "$DRAIN" --stop-file "$STOP_FILE" --ledger "$RESULTS/$tag-ledger.csv" \
        >"$RESULTS/$tag-loadgen.json" 2>"$RESULTS/$tag-loadgen.err" &
    LOADGEN_PID=$!
}

# finish_load TAG: stops the load (the clients finish the request in flight) and waits for it.
finish_load() {
    local tag="$1" status=0
    touch "$STOP_FILE"
    wait "$LOADGEN_PID" || status=$?
    LOADGEN_PID=""
    if [ "$status" -ne 0 ]; then
        cat "$RESULTS/$tag-loadgen.err" >&2
        die "the load generator failed (exit $status)"
    fi
}

# load_for SECONDS: lets the load run (checking that the load generator is still going).
load_for() {
    sleep "$1"
    kill -0 "$LOADGEN_PID" 2>/dev/null || { cat "$RESULTS"/*-loadgen.err >&2; die "the load generator stopped early"; }
}

# crash_service TAG N: kill -9 of the service mid-load, DOWN seconds down, then the same binary
# on the same port again.
crash_service() {
    log "$1: kill -9 of the service (pid $SERVICE_PID)"
    kill_service
    sleep "$DOWN"
    start_service "$RESULTS/$1-service-$2.log" "$SERVICE_PORT"
    log "$1: the service is back (pid $SERVICE_PID)"
}

TABLE_ROWS=""
FAILED=0

# record_figures BACKEND TAG CHECK_ARGS…: runs the checker and adds the backend's table row.
record_figures() {
    local backend="$1" tag="$2" load check
    shift 2
    load="$RESULTS/$tag-loadgen.json"
    check="$RESULTS/$tag-check.json"
    python3 "$ROOT/bench/crash_check.py" --ledger "$RESULTS/$tag-ledger.csv" "$@" >"$check" \
        || die "bench/crash_check.py failed"
    local acked lost dup retried resends replayed refused checked mismatched audit seven unacked unexplained
    acked="$(json_field "$load" acknowledged)"
    retried="$(json_field "$load" retried_requests)"
    resends="$(json_field "$load" resends)"
    replayed="$(json_field "$load" replayed_after_retry)"
    refused="$(json_field "$load" refused)"
    unacked="$(json_field "$load" unacknowledged)"
    lost="$(json_field "$check" lost)"
    dup="$(json_field "$check" duplicated)"
    checked="$(json_field "$check" summaries_checked)"
    mismatched="$(json_field "$check" summaries_mismatched)"
    seven="$(json_field "$check" seven_day_true)"
    audit="$(json_field "$check" audit_mismatched)"
    unexplained="$(json_field "$check" unexplained)"
    [ -n "$acked" ] && [ -n "$lost" ] || die "cannot read $load or $check"
    log "$backend: $(cat "$load")"
    log "$backend: $(cat "$check")"
    TABLE_ROWS+="| $backend | $acked | $lost | $dup | $retried ($resends resends, $replayed answered as replays) | $checked / $mismatched | $seven | $audit | $refused | $unacked |"$'\n'
    if [ "$lost" != 0 ] || [ "$dup" != 0 ] || [ "$mismatched" != 0 ] || [ "$audit" != 0 ] \
        || [ "$refused" != 0 ] || [ "$unexplained" != 0 ]; then
        log "$backend: FAILED (lost $lost, duplicated $dup, summaries mismatched $mismatched, audit $audit, refused $refused, unexplained rows $unexplained)"
        FAILED=1
    fi
    if grep -l "panicked" "$RESULTS/$tag"-service-*.log >/dev/null 2>&1; then
        log "$backend: a service log shows a panic"
        FAILED=1
    fi
}

run_postgres() {
    local tag=postgres cycle n=1
    bench_pg_start
    "$PG_BIN/createdb" -h "$PG_HOST" -p "$PG_PORT" -U postgres crash
    BENCH_DB_URL="postgres://postgres@$PG_HOST:$PG_PORT/crash"
    start_service "$RESULTS/$tag-service-$n.log"
    start_load "$tag"
    for cycle in $(seq 1 "$CYCLES"); do
        log "$tag: round $cycle/$CYCLES: ${PHASE}s of load"
        load_for "$PHASE"
        n=$((n + 1))
        crash_service "$tag" "$n"
        load_for "$PHASE"
        log "$tag: pg_ctl stop -m immediate"
        pg_crash || die "pg_ctl stop -m immediate failed"
        sleep "$DOWN"
        pg_resume || die "PostgreSQL did not start again"
        log "$tag: PostgreSQL is back"
    done
    load_for "$PHASE"
    log "$tag: stopping the load"
    finish_load "$tag"
    stop_service
    record_figures "PostgreSQL" "$tag" --psql "$PG_BIN/psql" --url "$BENCH_DB_URL"
    pg_stop
}

run_sqlite() {
    local tag=sqlite cycle n=1
    BENCH_DB_URL="sqlite://$RESULTS/crash.sqlite"
    start_service "$RESULTS/$tag-service-$n.log"
    start_load "$tag"
    for cycle in $(seq 1 "$CYCLES"); do
        log "$tag: round $cycle/$CYCLES: ${PHASE}s of load"
        load_for "$PHASE"
        n=$((n + 1))
        crash_service "$tag" "$n"
        load_for "$PHASE"
        n=$((n + 1))
        crash_service "$tag" "$n"
    done
    load_for "$PHASE"
    log "$tag: stopping the load"
    finish_load "$tag"
    stop_service
    record_figures "SQLite" "$tag" --sqlite "$RESULTS/crash.sqlite"
}

STARTED=$SECONDS
for backend in $BACKENDS; do
    "run_$backend"
done

CPU_MODEL="$(cpu_model)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
{
    echo "## Crash safety"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); commit $COMMIT; $CLIENTS clients, ${PHASE} s of load before each crash and after the last, $CYCLES round(s); $((SECONDS - STARTED)) s in all."
    echo
    echo "| backend | requests acknowledged | lost | duplicated | retried | summaries checked / mismatched | 7-day facts true | audit mismatched | refused | unacknowledged at the end |"
    echo "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"
    printf '%s' "$TABLE_ROWS"
    echo
    echo "Machine: $(nproc) cores, ${CPU_MODEL:-unknown CPU}; the load generator, the service and the database share these cores."
    echo "Raw results: bench/results/crash-$STAMP/."
} | tee "$RESULTS/summary.md"

[ "$FAILED" -eq 0 ] || die "the crash-safety test failed: see above and $RESULTS"
