#!/usr/bin/env bash
# HL7 v2 write path: attendances recorded from ADT^A04 messages over MLLP (bench/hl7load.rs: each
# client one connection, waiting for each acknowledgement, which the service sends only after the
# commit) against pgbench doing the same insert straight into the same PostgreSQL
# (bench/hl7_attendances.sql), in one run. See bench/README.md.
#
#   bench/hl7.sh                                  # 15 s per run, 32 clients, 3 alternating rounds
#   BENCH_SECONDS=5 BENCH_ROUNDS=1 bench/hl7.sh   # quicker
#
# Settings (environment): BENCH_SECONDS (15), BENCH_WARMUP (2, load generator only),
# BENCH_ROUNDS (3), BENCH_CLIENTS ("32"), BENCH_SKIP_BUILD (set to use existing binaries),
# PAT_SERVICE_BIN (target/release/pat-service), HL7LOAD_BIN (target/release/examples/hl7load).
# Raw results go to bench/results/hl7-<UTC time>/ (not committed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

RUN_SECONDS="${BENCH_SECONDS:-15}"
WARMUP="${BENCH_WARMUP:-2}"
ROUNDS="${BENCH_ROUNDS:-3}"
CLIENTS_LIST="${BENCH_CLIENTS:-32}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SERVICE_BIN="${PAT_SERVICE_BIN:-$TARGET/release/pat-service}"
HL7LOAD_BIN="${HL7LOAD_BIN:-$TARGET/release/examples/hl7load}"

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

require_tools curl awk sed sort

bench_build --bin pat-service --example hl7load
[ -x "$SERVICE_BIN" ] || die "no service binary at $SERVICE_BIN"
[ -x "$HL7LOAD_BIN" ] || die "no load generator at $HL7LOAD_BIN"

bench_results_dir "hl7-"

bench_pg_start

"$PG_BIN/createdb" -h "$PG_HOST" -p "$PG_PORT" -U postgres bench
BENCH_DB_URL="postgres://postgres@$PG_HOST:$PG_PORT/bench"

MLLP_PORT="$(free_port 12575)"
# start_service passes its environment on to the service.
export PAT_MLLP_LISTEN="127.0.0.1:$MLLP_PORT"
start_service "$RESULTS/service.log"

echo "clients,round,service_attendances_per_sec,p50_ms,p99_ms,errors,pgbench_tps" >"$RESULTS/runs.csv"
TOTAL_ERRORS=0
TABLE_ROWS=""
for clients in $CLIENTS_LIST; do
    rates=() p50s=() p99s=() tpss=()
    for round in $(seq 1 "$ROUNDS"); do
        tag="c$clients-r$round"

        log "round $round/$ROUNDS, $clients client(s): service over MLLP (${WARMUP}s warm-up + ${RUN_SECONDS}s)"
        if ! "$HL7LOAD_BIN" --address "127.0.0.1:$MLLP_PORT" --clients "$clients" \
            --seconds "$RUN_SECONDS" --warmup "$WARMUP" \
            >"$RESULTS/hl7load-$tag.json" 2>"$RESULTS/hl7load-$tag.err"; then
            cat "$RESULTS/hl7load-$tag.err" >&2
            die "the load generator failed ($RESULTS/hl7load-$tag.json)"
        fi
        f="$RESULTS/hl7load-$tag.json"
        rate="$(json_field "$f" messages_per_sec)"
        p50="$(json_field "$f" p50_ms)"
        p99="$(json_field "$f" p99_ms)"
        errors="$(json_field "$f" errors)"
        [ -n "$rate" ] && [ -n "$errors" ] || die "cannot read $f"
        if [ "$errors" != 0 ]; then
            log "WARNING: $errors error(s):"
            cat "$RESULTS/hl7load-$tag.err" >&2
        fi
        TOTAL_ERRORS=$((TOTAL_ERRORS + errors))

        log "round $round/$ROUNDS, $clients client(s): pgbench (${RUN_SECONDS}s)"
        tps="$(pgbench_run "$ROOT/bench/hl7_attendances.sql" "$clients" "$RUN_SECONDS" "$RESULTS/pgbench-$tag.txt")"

        log "  service $rate attendances/s (p50 $p50 ms, p99 $p99 ms, $errors errors); pgbench $tps inserts/s"
        printf '%s,%s,%s,%s,%s,%s,%s\n' "$clients" "$round" "$rate" "$p50" "$p99" "$errors" "$tps" \
            >>"$RESULTS/runs.csv"
        rates+=("$rate") p50s+=("$p50") p99s+=("$p99") tpss+=("$tps")
    done
    m_rate="$(median "${rates[@]}")"
    m_p50="$(median "${p50s[@]}")"
    m_p99="$(median "${p99s[@]}")"
    m_tps="$(median "${tpss[@]}")"
    TABLE_ROWS+="$(awk -v c="$clients" -v a="$m_rate" -v p50="$m_p50" -v p99="$m_p99" -v t="$m_tps" 'BEGIN {
            printf "| %d | %.1f | %.2f | %.2f | %.1f | %s |\n", c, a, p50, p99, t,
                (t > 0 ? sprintf("%.2f", a / t) : "n/a") }')"$'\n'
done

stop_service
CPU_MODEL="$(cpu_model)"
PG_VERSION="$("$PG_BIN/postgres" --version)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
{
    echo "## pat-service HL7 v2 (MLLP) write path vs pgbench"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); commit $COMMIT; ${RUN_SECONDS} s per run (service after a ${WARMUP} s warm-up), median of $ROUNDS alternating round(s)."
    echo
    echo "| clients | service attendances/s (ACK after commit) | p50 ms | p99 ms | pgbench one insert/s | ratio service/pgbench |"
    echo "|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$TABLE_ROWS"
    echo
    echo "Machine: $(nproc) cores, ${CPU_MODEL:-unknown CPU}; $PG_VERSION (fsync on, synchronous_commit on); the load generator, the service and PostgreSQL share these cores."
    echo "Load generator errors: $TOTAL_ERRORS. Raw results: bench/results/hl7-$STAMP/."
} | tee "$RESULTS/summary.md"

if [ "$TOTAL_ERRORS" -ne 0 ]; then
    die "$TOTAL_ERRORS message(s) failed: the service figures are not trustworthy"
fi
