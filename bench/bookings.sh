#!/usr/bin/env bash
# Booking race benchmark: many clients racing to book a limited set of slots through pat-service
# (POST /api/v1/bookings, driven by `bench/loadgen.rs --mode bookings`), against pgbench doing the
# same insert against the same unique index straight into the same PostgreSQL (bench/bookings.sql).
# After every service run a query proves that no slot holds two active bookings. See
# bench/README.md.
#
#   bench/bookings.sh                     # 15 s per run, 1 and 32 clients, 3 alternating rounds
#   BENCH_SECONDS=5 bench/bookings.sh     # quicker
#
# Settings (environment): BENCH_SECONDS (15), BENCH_WARMUP (2, both sides), BENCH_ROUNDS (3),
# BENCH_CLIENTS ("1 32"), BENCH_SLOTS (100), BENCH_SLOT_MINUTES (10), BENCH_SLOT_LEAD_MINUTES (30,
# the first slot starts that long after the setup), BENCH_FILL (0.8, the share of the slots the
# clients keep booked), BENCH_SKIP_BUILD (set to use existing binaries), PAT_SERVICE_BIN
# (target/release/pat-service), LOADGEN_BIN (target/release/examples/loadgen).
# Raw results go to bench/results/bookings-<UTC time>/ (not committed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

RUN_SECONDS="${BENCH_SECONDS:-15}"
WARMUP="${BENCH_WARMUP:-2}"
ROUNDS="${BENCH_ROUNDS:-3}"
CLIENTS_LIST="${BENCH_CLIENTS:-1 32}"
NSLOTS="${BENCH_SLOTS:-100}"
SLOT_MINUTES="${BENCH_SLOT_MINUTES:-10}"
LEAD_MINUTES="${BENCH_SLOT_LEAD_MINUTES:-30}"
FILL="${BENCH_FILL:-0.8}"
SERVICE_BIN="${PAT_SERVICE_BIN:-$ROOT/target/release/pat-service}"
LOADGEN_BIN="${LOADGEN_BIN:-$ROOT/target/release/examples/loadgen}"
# The service's default PAT_BOOKING_WINDOW_HOURS: every slot must start within it of the screenings.
WINDOW_MINUTES=$((24 * 60))

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

require_tools curl awk sed sort grep date
for setting in RUN_SECONDS WARMUP ROUNDS NSLOTS SLOT_MINUTES LEAD_MINUTES; do
    [[ "${!setting}" =~ ^[0-9]+$ ]] || die "$setting must be a whole number (got '${!setting}')"
done
for clients in $CLIENTS_LIST; do
    [[ "$clients" =~ ^[1-9][0-9]*$ ]] || die "BENCH_CLIENTS must be whole numbers of at least 1 (got '$clients')"
done
[ "$RUN_SECONDS" -ge 1 ] && [ "$ROUNDS" -ge 1 ] && [ "$NSLOTS" -ge 1 ] \
    || die "BENCH_SECONDS, BENCH_ROUNDS and BENCH_SLOTS must be at least 1"
[ "$SLOT_MINUTES" -ge 5 ] && [ "$SLOT_MINUTES" -le 240 ] || die "BENCH_SLOT_MINUTES must be 5 to 240"
awk -v f="$FILL" 'BEGIN { exit !(f + 0 > 0 && f + 0 < 1) }' || die "BENCH_FILL must be between 0 and 1 (got '$FILL')"
# The last slot must start within the booking window of a screening recorded at setup time.
last_start=$((LEAD_MINUTES + (NSLOTS - 1) * SLOT_MINUTES))
[ "$last_start" -le "$WINDOW_MINUTES" ] \
    || die "the last slot would start $last_start minutes from now, beyond the 24 h booking window: fewer BENCH_SLOTS or shorter BENCH_SLOT_MINUTES"
# And the first slot must still be in the future when the last run ends (a slot in the past is a 422).
n_clients=$(wc -w <<<"$CLIENTS_LIST")
estimate=$((n_clients * ROUNDS * (2 * (WARMUP + RUN_SECONDS) + 10) + 120))
[ "$estimate" -lt $((LEAD_MINUTES * 60)) ] \
    || die "the run would take about $((estimate / 60)) minutes, longer than BENCH_SLOT_LEAD_MINUTES ($LEAD_MINUTES): raise it"

bench_build --bin pat-service --example loadgen
[ -x "$SERVICE_BIN" ] || die "no service binary at $SERVICE_BIN"
[ -x "$LOADGEN_BIN" ] || die "no load generator at $LOADGEN_BIN"

bench_results_dir "bookings-"

bench_pg_start

"$PG_BIN/createdb" -h "$PG_HOST" -p "$PG_PORT" -U postgres bench
BENCH_DB_URL="postgres://postgres@$PG_HOST:$PG_PORT/bench"
# psql against the bench database: unaligned, tuples only, stop at the first error.
psql_bench() {
    "$PG_BIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U postgres -d bench -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

start_service "$RESULTS/service.log"

# Three tokens, one role each, as the three callers would hold them: an administrator sets up the
# health worker and the slots, the ED's integration engine records and books, the alcohol health
# worker cancels.
ADMIN_TOKEN="$(service_env "$SERVICE_BIN" token --role admin --sub bench-admin)"
TOKEN="$(service_env "$SERVICE_BIN" token --role integration --sub bench-loadgen)"
AHW_TOKEN="$(service_env "$SERVICE_BIN" token --role ahw --sub bench-ahw)"
[ -n "$ADMIN_TOKEN" ] && [ -n "$TOKEN" ] && [ -n "$AHW_TOKEN" ] || die "pat-service token printed nothing"

# api METHOD PATH TOKEN BODY: prints the answer's body; dies unless the answer is 2xx.
api() {
    local code
    code="$(curl -sS -o "$RESULTS/api-answer.json" -w '%{http_code}' -X "$1" \
        -H "Authorization: Bearer $3" -H 'Content-Type: application/json' --data "$4" \
        "$BASE_URL$2")" || die "$1 $2: curl failed"
    case "$code" in
        2??) cat "$RESULTS/api-answer.json" ;;
        *)
            cat "$RESULTS/api-answer.json" >&2
            echo >&2
            die "$1 $2 answered HTTP $code"
            ;;
    esac
}
# The first "id" of a JSON answer (health worker, or the only slot of a one-slot answer).
first_id() {
    { grep -o '"id": *"[0-9a-fA-F-]*"' || true; } | awk -F'"' 'NR == 1 { print $4 }'
}

log "creating a health worker and $NSLOTS slots of $SLOT_MINUTES minutes, the first $LEAD_MINUTES minutes from now"
HW_ID="$(api POST /api/v1/health-workers "$ADMIN_TOKEN" \
    '{"name":"Bench Health Worker","staff_id":"BENCH-AHW","subject":"bench-ahw"}' | first_id)"
[ -n "$HW_ID" ] || die "POST /api/v1/health-workers answered no id"
first_start=$(( ($(date +%s) + LEAD_MINUTES * 60 + 59) / 60 * 60 ))
: >"$RESULTS/slots.txt"
for i in $(seq 0 $((NSLOTS - 1))); do
    s=$((first_start + i * SLOT_MINUTES * 60))
    e=$((s + SLOT_MINUTES * 60))
    slot_id="$(api POST /api/v1/slots "$ADMIN_TOKEN" \
        "{\"health_worker_id\":\"$HW_ID\",\"starts_at\":\"$(date -u -d "@$s" +%Y-%m-%dT%H:%M:%SZ)\",\"ends_at\":\"$(date -u -d "@$e" +%Y-%m-%dT%H:%M:%SZ)\"}" \
        | first_id)"
    [ -n "$slot_id" ] || die "POST /api/v1/slots answered no id"
    echo "$slot_id" >>"$RESULTS/slots.txt"
done
rm -f "$RESULTS/api-answer.json"
# The service wrote them where pgbench will look: the same database, the only live slots in it.
live="$(psql_bench -c "SELECT count(*) FROM slots WHERE withdrawn_at IS NULL")"
[ "$live" = "$NSLOTS" ] || die "the bench database holds $live live slots, expected $NSLOTS"
# Both sides race against this index; show that it is there, unique and valid.
INDEX_DEF="$(psql_bench -c "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
    WHERE i.indexrelid = 'bookings_one_active_per_slot'::regclass AND i.indisunique AND i.indisvalid")"
[ -n "$INDEX_DEF" ] || die "no valid unique index bookings_one_active_per_slot in the bench database"
log "racing against: $INDEX_DEF"

# Referrals for pgbench, prepared as the service would store them (attendance, PAT-positive
# screening, referral accepted): PER_CLIENT for each of CLIENTS pgbench clients, source_id
# 'c<client>-r<n>'. Idempotent: more clients or more per client only adds the missing ones.
prepare_pgbench_referrals() {
    psql_bench -v clients="$1" -v per_client="$2" <<'SQL'
INSERT INTO attendances (id, source_system, source_id, patient_key, nhs_number, local_id, sex,
    date_of_birth, site, arrived_at, presenting_condition, presenting_condition_detail,
    attendance_category, indications, pat_indicated, created_at, created_by)
SELECT gen_random_uuid(), 'pgbench-bookings', 'c' || c || '-r' || n, 'local:BENCH-PGB-' || c || '-' || n,
    NULL, 'BENCH-PGB-' || c || '-' || n, 'male', NULL, NULL, now(), 'fall', NULL, 'unplanned', 'fall', true,
    now(), 'pgbench'
FROM generate_series(0, :clients - 1) AS c, generate_series(0, :per_client - 1) AS n
ON CONFLICT (source_system, source_id) DO NOTHING;
INSERT INTO screenings (id, attendance_id, version, status, rule, result, units, answers, alerts,
    advice_given, leaflet_given, screened_at, recorded_at, recorded_by)
SELECT gen_random_uuid(), a.id, 1, 'completed', 'pat-2009', 'positive', 12,
    '{"drinks_alcohol":true,"max_units_in_a_day":12,"drinking_frequency":"weekly","days_per_week":2,"attendance_related":true}',
    '', NULL, NULL, now(), now(), 'pgbench'
FROM attendances a
WHERE a.source_system = 'pgbench-bookings'
  AND NOT EXISTS (SELECT 1 FROM screenings s WHERE s.attendance_id = a.id);
INSERT INTO referrals (attendance_id, decision, decided_at, recorded_at, recorded_by)
SELECT a.id, 'accepted', now(), now(), 'pgbench'
FROM attendances a
WHERE a.source_system = 'pgbench-bookings'
ON CONFLICT (attendance_id) DO NOTHING;
SQL
}

# Every run starts from an empty schedule: whatever the previous run left booked is cancelled.
reset_bookings() {
    psql_bench -c "UPDATE bookings SET status = 'cancelled', outcome_at = now(), outcome_by = 'bench-reset',
        cancel_reason = 'bench: reset between runs' WHERE status = 'booked'" >/dev/null
}
DOUBLE_BOOKING_SQL="SELECT slot_id FROM bookings WHERE status <> 'cancelled' GROUP BY slot_id HAVING count(*) > 1"
# Slots holding more than one active booking now (must be 0).
double_booked() {
    psql_bench -c "SELECT count(*) FROM ($DOUBLE_BOOKING_SQL) AS doubles"
}
CHECKS=0
check_no_double_booking() {
    local n active
    n="$(double_booked)"
    active="$(psql_bench -c "SELECT count(*) FROM bookings WHERE status <> 'cancelled'")"
    CHECKS=$((CHECKS + 1))
    echo "$1,$active,$n" >>"$RESULTS/double-booking-checks.csv"
    if [ "$n" != 0 ]; then
        psql_bench -c "SELECT b.slot_id, b.id, b.attendance_id, b.status, b.booked_at, b.booked_by
            FROM bookings b WHERE b.slot_id IN ($DOUBLE_BOOKING_SQL) ORDER BY b.slot_id, b.booked_at" >&2
        die "$1: $n slot(s) hold more than one active booking"
    fi
    log "  $1: $active active bookings, slots with more than one: $n"
}
echo "when,active_bookings,slots_with_more_than_one" >"$RESULTS/double-booking-checks.csv"

# pgbench_tps FILE: the tps "without initial connection time".
pgbench_tps() {
    sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$1"
}
pgbench_bookings() {
    psql_bench -c "SELECT count(*) FROM bookings WHERE booked_by LIKE 'pgbench-%'"
}
run_pgbench() { # run_pgbench CLIENTS HOLD SECONDS OUTPUT
    pgbench_run "$ROOT/bench/bookings.sql" "$1" "$3" "$4" -D nslots="$NSLOTS" -D hold="$2" >/dev/null
}

echo "clients,hold,round,service_attempts_per_sec,service_bookings_per_sec,service_conflicts_per_sec,service_cancels_per_sec,attempt_p50_ms,attempt_p99_ms,booked_p50_ms,booked_p99_ms,conflict_p50_ms,conflict_p99_ms,cancel_p50_ms,cancel_p99_ms,conflicts_not_slot_taken,errors,pgbench_attempts_per_sec,pgbench_bookings_per_sec,pgbench_conflicts_per_sec" \
    >"$RESULTS/runs.csv"
TOTAL_ERRORS=0
TOTAL_ODD_CONFLICTS=0
TABLE_ROWS=""
for clients in $CLIENTS_LIST; do
    # Open bookings each client keeps: together about BENCH_FILL of the slots.
    hold="$(awk -v f="$FILL" -v s="$NSLOTS" -v c="$clients" 'BEGIN { h = int(f * s / c); print (h < 1 ? 1 : h) }')"
    prepare_pgbench_referrals "$clients" $((hold + 1))
    svc_att=() svc_book=() svc_conf=() svc_canc=() p50s=() p99s=() pg_att=() pg_book=()
    for round in $(seq 1 "$ROUNDS"); do
        tag="c$clients-r$round"

        reset_bookings
        log "round $round/$ROUNDS, $clients client(s), hold $hold: service (${WARMUP}s warm-up + ${RUN_SECONDS}s)"
        f="$RESULTS/loadgen-$tag.json"
        if ! "$LOADGEN_BIN" --mode bookings --url "$BASE_URL" --token "$TOKEN" --ahw-token "$AHW_TOKEN" \
            --slots-file "$RESULTS/slots.txt" --hold "$hold" --clients "$clients" \
            --seconds "$RUN_SECONDS" --warmup "$WARMUP" >"$f" 2>"$RESULTS/loadgen-$tag.err"; then
            cat "$RESULTS/loadgen-$tag.err" >&2
            die "the load generator failed ($f)"
        fi
        attempts_s="$(json_field "$f" attempts_per_sec)"
        bookings_s="$(json_field "$f" bookings_per_sec)"
        conflicts_s="$(json_field "$f" conflicts_per_sec)"
        cancels_s="$(json_field "$f" cancels_per_sec)"
        p50="$(json_field "$f" attempt_p50_ms)"
        p99="$(json_field "$f" attempt_p99_ms)"
        odd="$(json_field "$f" conflicts_not_slot_taken)"
        errors="$(json_field "$f" errors)"
        [ -n "$attempts_s" ] && [ -n "$errors" ] && [ -n "$odd" ] || die "cannot read $f"
        if [ "$errors" != 0 ]; then
            log "WARNING: $errors error(s); first one:"
            cat "$RESULTS/loadgen-$tag.err" >&2
        fi
        if [ "$odd" != 0 ]; then
            log "WARNING: $odd 409 answer(s) other than slot-taken (see the service log)"
        fi
        TOTAL_ERRORS=$((TOTAL_ERRORS + errors))
        TOTAL_ODD_CONFLICTS=$((TOTAL_ODD_CONFLICTS + odd))
        check_no_double_booking "after the service run $tag"

        reset_bookings
        log "round $round/$ROUNDS, $clients client(s), hold $hold: pgbench (${WARMUP}s warm-up + ${RUN_SECONDS}s)"
        if [ "$WARMUP" -gt 0 ]; then
            run_pgbench "$clients" "$hold" "$WARMUP" "$RESULTS/pgbench-warmup-$tag.txt"
        fi
        before="$(pgbench_bookings)"
        run_pgbench "$clients" "$hold" "$RUN_SECONDS" "$RESULTS/pgbench-$tag.txt"
        after="$(pgbench_bookings)"
        tps="$(pgbench_tps "$RESULTS/pgbench-$tag.txt")"
        txns="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$RESULTS/pgbench-$tag.txt")"
        [ -n "$tps" ] && [ -n "$txns" ] && [ "$txns" -gt 0 ] || die "no tps line in $RESULTS/pgbench-$tag.txt"
        # pgbench counts attempts; the rows it inserted are its bookings, the rest its conflicts.
        pg_bookings_s="$(awk -v t="$tps" -v b=$((after - before)) -v n="$txns" 'BEGIN { printf "%.3f", t * b / n }')"
        pg_conflicts_s="$(awk -v t="$tps" -v b="$pg_bookings_s" 'BEGIN { printf "%.3f", t - b }')"
        check_no_double_booking "after the pgbench run $tag"

        log "  service $attempts_s attempts/s ($bookings_s booked, $conflicts_s 409, $cancels_s cancels; p50 $p50 ms, p99 $p99 ms, $errors errors); pgbench $tps attempts/s ($pg_bookings_s booked)"
        printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$clients" "$hold" "$round" \
            "$attempts_s" "$bookings_s" "$conflicts_s" "$cancels_s" "$p50" "$p99" \
            "$(json_field "$f" booked_p50_ms)" "$(json_field "$f" booked_p99_ms)" \
            "$(json_field "$f" conflict_p50_ms)" "$(json_field "$f" conflict_p99_ms)" \
            "$(json_field "$f" cancel_p50_ms)" "$(json_field "$f" cancel_p99_ms)" "$odd" "$errors" \
            "$tps" "$pg_bookings_s" "$pg_conflicts_s" >>"$RESULTS/runs.csv"
        svc_att+=("$attempts_s") svc_book+=("$bookings_s") svc_conf+=("$conflicts_s") svc_canc+=("$cancels_s")
        p50s+=("$p50") p99s+=("$p99") pg_att+=("$tps") pg_book+=("$pg_bookings_s")
    done
    TABLE_ROWS+="$(awk -v c="$clients" -v h="$hold" -v b="$(median "${svc_book[@]}")" \
        -v k="$(median "${svc_conf[@]}")" -v a="$(median "${svc_att[@]}")" -v p50="$(median "${p50s[@]}")" \
        -v p99="$(median "${p99s[@]}")" -v x="$(median "${svc_canc[@]}")" -v pb="$(median "${pg_book[@]}")" \
        -v pa="$(median "${pg_att[@]}")" 'BEGIN {
            printf "| %d | %d | %.1f | %.1f | %.1f | %.2f | %.2f | %.1f | %.1f | %.1f | %s |\n", c, h, b, k, a,
                p50, p99, x, pb, pa, (pa > 0 ? sprintf("%.2f", a / pa) : "n/a") }')"$'\n'
done

# The final state, with the last pgbench run's bookings still open.
check_no_double_booking "at the end"
stop_service
SERVICE_ROWS="$(psql_bench -c "SELECT count(*) FROM bookings WHERE booked_by NOT LIKE 'pgbench-%'")"
PGBENCH_ROWS="$(psql_bench -c "SELECT count(*) FROM bookings WHERE booked_by LIKE 'pgbench-%'")"
FINAL_DOUBLES="$(double_booked)"
CPU_MODEL="$(cpu_model)"
PG_VERSION="$("$PG_BIN/postgres" --version)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY=""
if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null || true)" ]; then
    DIRTY=" (with uncommitted changes)"
fi
{
    echo "## pat-service booking race vs pgbench"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); commit $COMMIT$DIRTY; $NSLOTS slots of $SLOT_MINUTES minutes, clients keep about $FILL of them booked (hold = open bookings per client); ${RUN_SECONDS} s per run after a ${WARMUP} s warm-up on both sides; median of $ROUNDS alternating rounds."
    echo
    echo "| clients | hold | service bookings/s (201) | service 409s/s | service attempts/s | attempt p50 ms | attempt p99 ms | service cancels/s | pgbench bookings/s | pgbench attempts/s (tps) | ratio attempts service/pgbench |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$TABLE_ROWS"
    echo
    echo "No double booking: \`$DOUBLE_BOOKING_SQL\` returned $FINAL_DOUBLES rows at the end, and 0 after each of the $((CHECKS - 1)) runs before it (the load generator's and pgbench's bookings still open; bench/results/bookings-$STAMP/double-booking-checks.csv). Bookings written: $SERVICE_ROWS through the service, $PGBENCH_ROWS by pgbench; index: \`$INDEX_DEF\`."
    echo "Machine: $(nproc) cores, ${CPU_MODEL:-unknown CPU}; $PG_VERSION (fsync on, synchronous_commit on); the load generator, the service and PostgreSQL share these cores."
    echo "Load generator errors: $TOTAL_ERRORS; 409s other than slot-taken: $TOTAL_ODD_CONFLICTS. Raw results: bench/results/bookings-$STAMP/."
} | tee "$RESULTS/summary.md"

if [ "$FINAL_DOUBLES" != 0 ]; then
    die "$FINAL_DOUBLES slot(s) hold more than one active booking"
fi
if [ "$TOTAL_ERRORS" -ne 0 ]; then
    die "$TOTAL_ERRORS request(s) failed: the service figures are not trustworthy"
fi
