#!/usr/bin/env bash
# Write-path benchmark: pat-service (attendance + screening pairs over HTTP, driven by
# bench/loadgen.rs) against pgbench doing the same two durable inserts straight into the same
# PostgreSQL (bench/attendances.sql). See bench/README.md.
#
#   bench/run.sh                      # 15 s per run, 1 and 32 clients, 3 alternating rounds
#   BENCH_SECONDS=5 bench/run.sh      # quicker
#
# Settings (environment): BENCH_SECONDS (15), BENCH_WARMUP (2, load generator only),
# BENCH_ROUNDS (3), BENCH_CLIENTS ("1 32"), BENCH_SKIP_BUILD (set to use existing binaries),
# PAT_SERVICE_BIN (target/release/pat-service), LOADGEN_BIN (target/release/examples/loadgen).
# Raw results go to bench/results/<UTC time>/ (not committed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

RUN_SECONDS="${BENCH_SECONDS:-15}"
WARMUP="${BENCH_WARMUP:-2}"
ROUNDS="${BENCH_ROUNDS:-3}"
CLIENTS_LIST="${BENCH_CLIENTS:-1 32}"
SERVICE_BIN="${PAT_SERVICE_BIN:-$ROOT/target/release/pat-service}"
LOADGEN_BIN="${LOADGEN_BIN:-$ROOT/target/release/examples/loadgen}"

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

require_tools curl awk sed sort

bench_build --bin pat-service --example loadgen
[ -x "$SERVICE_BIN" ] || die "no service binary at $SERVICE_BIN"
[ -x "$LOADGEN_BIN" ] || die "no load generator at $LOADGEN_BIN"

bench_results_dir ""

bench_pg_start

"$PG_BIN/createdb" -h "$PG_HOST" -p "$PG_PORT" -U postgres bench
BENCH_DB_URL="postgres://postgres@$PG_HOST:$PG_PORT/bench"

start_service "$RESULTS/service.log"

TOKEN="$(service_env "$SERVICE_BIN" token --role integration --sub bench-loadgen)"
[ -n "$TOKEN" ] || die "pat-service token printed nothing"

echo "clients,round,service_pairs_per_sec,service_requests_per_sec,pair_p50_ms,pair_p99_ms,post_p50_ms,post_p99_ms,put_p50_ms,put_p99_ms,errors,pgbench_tps,pgbench_service_sql_tps" \
    >"$RESULTS/runs.csv"
TOTAL_ERRORS=0
TABLE_ROWS=""
for clients in $CLIENTS_LIST; do
    svc_pairs=() svc_reqs=() p50s=() p99s=() tpss=() sql_tpss=()
    for round in $(seq 1 "$ROUNDS"); do
        tag="c$clients-r$round"

        log "round $round/$ROUNDS, $clients client(s): service (${WARMUP}s warm-up + ${RUN_SECONDS}s)"
        if ! "$LOADGEN_BIN" --url "$BASE_URL" --token "$TOKEN" --clients "$clients" \
            --seconds "$RUN_SECONDS" --warmup "$WARMUP" \
            >"$RESULTS/loadgen-$tag.json" 2>"$RESULTS/loadgen-$tag.err"; then
            cat "$RESULTS/loadgen-$tag.err" >&2
            die "the load generator failed ($RESULTS/loadgen-$tag.json)"
        fi
        f="$RESULTS/loadgen-$tag.json"
        pairs_s="$(json_field "$f" pairs_per_sec)"
        reqs_s="$(json_field "$f" requests_per_sec)"
        p50="$(json_field "$f" pair_p50_ms)"
        p99="$(json_field "$f" pair_p99_ms)"
        errors="$(json_field "$f" errors)"
        [ -n "$pairs_s" ] && [ -n "$errors" ] || die "cannot read $f"
        if [ "$errors" != 0 ]; then
            log "WARNING: $errors error(s); first one:"
            cat "$RESULTS/loadgen-$tag.err" >&2
        fi
        TOTAL_ERRORS=$((TOTAL_ERRORS + errors))

        log "round $round/$ROUNDS, $clients client(s): pgbench (${RUN_SECONDS}s)"
        tps="$(pgbench_run "$ROOT/bench/attendances.sql" "$clients" "$RUN_SECONDS" "$RESULTS/pgbench-$tag.txt")"

        log "round $round/$ROUNDS, $clients client(s): pgbench with the service's own SQL (${RUN_SECONDS}s)"
        sql_tps="$(pgbench_run "$ROOT/bench/service_sql.sql" "$clients" "$RUN_SECONDS" "$RESULTS/pgbench-sql-$tag.txt")"

        log "  service $pairs_s pairs/s (p50 $p50 ms, p99 $p99 ms, $errors errors); pgbench $tps pairs/s; service SQL $sql_tps pairs/s"
        printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$clients" "$round" "$pairs_s" "$reqs_s" \
            "$p50" "$p99" "$(json_field "$f" post_p50_ms)" "$(json_field "$f" post_p99_ms)" \
            "$(json_field "$f" put_p50_ms)" "$(json_field "$f" put_p99_ms)" "$errors" "$tps" "$sql_tps" \
            >>"$RESULTS/runs.csv"
        svc_pairs+=("$pairs_s") svc_reqs+=("$reqs_s") p50s+=("$p50") p99s+=("$p99") tpss+=("$tps")
        sql_tpss+=("$sql_tps")
    done
    m_pairs="$(median "${svc_pairs[@]}")"
    m_reqs="$(median "${svc_reqs[@]}")"
    m_p50="$(median "${p50s[@]}")"
    m_p99="$(median "${p99s[@]}")"
    m_tps="$(median "${tpss[@]}")"
    m_sql="$(median "${sql_tpss[@]}")"
    TABLE_ROWS+="$(awk -v c="$clients" -v a="$m_pairs" -v r="$m_reqs" -v p50="$m_p50" \
        -v p99="$m_p99" -v t="$m_tps" -v q="$m_sql" 'BEGIN {
            printf "| %d | %.1f | %.1f | %.2f | %.2f | %.1f | %s | %.1f | %s |\n", c, a, r, p50, p99, t,
                (t > 0 ? sprintf("%.2f", a / t) : "n/a"), q, (q > 0 ? sprintf("%.2f", a / q) : "n/a") }')"$'\n'
done

stop_service
CPU_MODEL="$(cpu_model)"
PG_VERSION="$("$PG_BIN/postgres" --version)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
{
    echo "## pat-service write path vs pgbench"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); commit $COMMIT; ${RUN_SECONDS} s per run (service after a ${WARMUP} s warm-up), median of $ROUNDS alternating rounds."
    echo
    echo "| clients | service pairs/s | service requests/s | pair p50 ms | pair p99 ms | pgbench two inserts pairs/s | ratio service/two inserts | pgbench service SQL pairs/s | ratio service/its SQL |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$TABLE_ROWS"
    echo
    echo "Machine: $(nproc) cores, ${CPU_MODEL:-unknown CPU}; $PG_VERSION (fsync on, synchronous_commit on); the load generator, the service and PostgreSQL share these cores."
    echo "Load generator errors: $TOTAL_ERRORS. Raw results: bench/results/$STAMP/."
} | tee "$RESULTS/summary.md"

if [ "$TOTAL_ERRORS" -ne 0 ]; then
    die "$TOTAL_ERRORS request(s) failed: the service figures are not trustworthy"
fi
