# shellcheck shell=bash
# Helpers shared by the benchmark scripts (bench/run.sh, bench/bookings.sh, bench/statistics.sh,
# bench/pages.sh …).
# A script sets ROOT (the repository root) and SERVICE_BIN, then:
#
#     source "$ROOT/bench/lib.sh"
#     bench_build --bin pat-service            # cargo build --release …, unless BENCH_SKIP_BUILD
#     bench_results_dir "prefix-"              # STAMP, RESULTS=bench/results/prefix-<UTC time>/
#     bench_pg_start                           # throwaway PostgreSQL 15 + EXIT/INT/TERM traps
#     BENCH_DB_URL=postgres://…                # the database the service is to use
#     start_service "$RESULTS/service.log"     # serve on a free port, wait for /health/ready
#     TOKEN="$(service_env "$SERVICE_BIN" token --role auditor --sub bench)"
#     stop_service
#
# On exit (normal, error, Ctrl-C or TERM) the trap stops the service, then PostgreSQL (which
# removes its directory), after calling the function named in BENCH_EXTRA_CLEANUP if the script
# set one.

# shellcheck source=../.ci/postgres.sh
source "$ROOT/.ci/postgres.sh"

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# require_tools TOOL…: dies naming the first one that is not on PATH.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool is required"
    done
}

# bench_build CARGO_ARGS…: `cargo build --release CARGO_ARGS…`, unless BENCH_SKIP_BUILD is set.
bench_build() {
    if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
        log "building release binaries"
        cargo build --release "$@"
    fi
}

# bench_results_dir PREFIX: sets STAMP (UTC, to the second) and RESULTS
# (bench/results/PREFIX<STAMP>), and creates the directory.
bench_results_dir() {
    STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
    RESULTS="$ROOT/bench/results/$1$STAMP"
    mkdir -p "$RESULTS"
}

# ----- The service -----

# Pool size and log level of the service the scripts start (PAT_DB_POOL_SIZE, RUST_LOG).
SERVICE_POOL_SIZE="${SERVICE_POOL_SIZE:-40}"
SERVICE_RUST_LOG="${SERVICE_RUST_LOG:-warn}"
# 24 random bytes as 48 hex characters: the service's PAT_JWT_SECRET for this run.
JWT_SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Extra arguments after `serve` (bench/pages.sh sets `--dev` for the development sign-in links).
SERVICE_SERVE_ARGS=()
SERVICE_PID=""
SERVICE_PORT=""
BASE_URL=""

# free_port FIRST: the first loopback port from FIRST upwards on which nothing answers.
free_port() {
    local port="$1"
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
    done
    echo "$port"
}

# service_env CMD…: runs CMD with the service's environment (DATABASE_URL=$BENCH_DB_URL, the
# port, the JWT secret, pool size, log level): for `pat-service token`, `demo-data`, `migrate`.
service_env() {
    env DATABASE_URL="$BENCH_DB_URL" PAT_LISTEN="127.0.0.1:${SERVICE_PORT:-18080}" \
        PAT_JWT_SECRET="$JWT_SECRET" PAT_DB_POOL_SIZE="$SERVICE_POOL_SIZE" RUST_LOG="$SERVICE_RUST_LOG" "$@"
}

# start_service LOG [PORT]: starts `$SERVICE_BIN serve ${SERVICE_SERVE_ARGS[@]}` on $BENCH_DB_URL, on PORT or else a free
# loopback port from 18080 up (sets SERVICE_PORT, BASE_URL, SERVICE_PID), output to LOG; waits up
# to 60 s for GET /health/ready, and dies (showing the log's end) if it exits or does not get ready.
start_service() {
    local logfile="$1" ready=""
    [ -z "$SERVICE_PID" ] || die "start_service: a service is already running (pid $SERVICE_PID)"
    SERVICE_PORT="${2:-$(free_port 18080)}"
    BASE_URL="http://127.0.0.1:$SERVICE_PORT"
    log "starting $SERVICE_BIN on $BASE_URL (log: $logfile)"
    # Started directly (not through service_env, a function, which would run in a subshell) so
    # that $! is the service's own process id (env execs it).
    env DATABASE_URL="$BENCH_DB_URL" PAT_LISTEN="127.0.0.1:$SERVICE_PORT" PAT_JWT_SECRET="$JWT_SECRET" \
        PAT_DB_POOL_SIZE="$SERVICE_POOL_SIZE" RUST_LOG="$SERVICE_RUST_LOG" "$SERVICE_BIN" serve "${SERVICE_SERVE_ARGS[@]}" >"$logfile" 2>&1 &
    SERVICE_PID=$!
    for _ in $(seq 1 240); do
        if curl -fsS -o /dev/null "$BASE_URL/health/ready" 2>/dev/null; then
            ready=1
            break
        fi
        if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
            SERVICE_PID=""
            tail -n 50 "$logfile" >&2
            die "the service exited before it was ready"
        fi
        sleep 0.25
    done
    if [ -z "$ready" ]; then
        tail -n 50 "$logfile" >&2
        die "the service was not ready within 60 s"
    fi
}

# stop_service: TERM, up to 10 s to finish, then KILL. Safe to call when none is running.
stop_service() {
    local pid="$SERVICE_PID"
    [ -n "$pid" ] || return 0
    SERVICE_PID=""
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# kill_service: `kill -9` of the service (a crash: no shutdown, nothing drained or flushed), and
# waits for it to be gone. Safe to call when none is running.
kill_service() {
    local pid="$SERVICE_PID"
    [ -n "$pid" ] || return 0
    SERVICE_PID=""
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ----- PostgreSQL and the exit trap -----

# The name of a function to call first on exit (e.g. to remove a temporary directory), or empty.
BENCH_EXTRA_CLEANUP=""
bench_cleanup() {
    if [ -n "$BENCH_EXTRA_CLEANUP" ]; then
        "$BENCH_EXTRA_CLEANUP" || true
    fi
    stop_service || true
    pg_stop || true
}

# bench_traps: on exit, Ctrl-C or TERM, bench_cleanup runs (pg_stop and stop_service do nothing
# when nothing was started, so this may come before either).
bench_traps() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# bench_pg_start: the throwaway PostgreSQL 15 of .ci/postgres.sh (temporary directory, private
# port, fsync on; sets PG_BIN, PG_HOST, PG_PORT), with the traps that stop it on exit.
bench_pg_start() {
    bench_traps
    pg_start
}

# ----- Figures -----

# json_field FILE NAME: a number from the load generator's one-line JSON.
json_field() {
    sed -n "s/.*\"$2\":\\([-0-9.eE+]*\\).*/\\1/p" "$1"
}

# pgbench_run SCRIPT CLIENTS SECONDS OUTPUT [OPTION…]: pgbench running SCRIPT against database
# `bench` (simple protocol, min(CLIENTS, 2) threads, OPTIONs before the script), its output kept
# in OUTPUT; prints its transactions per second. Stops the benchmark if pgbench fails.
pgbench_run() {
    local script="$1" clients="$2" seconds="$3" output="$4" tps
    shift 4
    if ! "$PG_BIN/pgbench" -h "$PG_HOST" -p "$PG_PORT" -U postgres -n -M simple "$@" \
        -f "$script" -c "$clients" -j "$((clients < 2 ? clients : 2))" -T "$seconds" bench \
        >"$output" 2>&1; then
        cat "$output" >&2
        die "pgbench failed ($output)"
    fi
    tps="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$output")"
    [ -n "$tps" ] || die "no tps line in $output"
    printf '%s\n' "$tps"
}

# median NUMBER…: the median ("nan" when there is none).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# cpu_model: the CPU's model name from /proc/cpuinfo (empty if unknown).
cpu_model() {
    grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'
}
