#!/usr/bin/env bash
# Patient identity benchmark: `POST /api/v1/patients/{id}/link` and `/unlink` on a patient with
# 50 attendances (a local number traced to an NHS number that has 50 of its own), and
# `POST /api/v1/attendances/{id}/entered-in-error` on such a patient, against the release binary
# on a throwaway PostgreSQL 15 with generated background data. Target: < 50 ms median each.
#
#   bench/link.sh                         # 20 rounds on 100,000 background attendances
#   BENCH_ROUNDS=5 BENCH_BACKGROUND=10000 bench/link.sh
#
# Settings (environment): BENCH_ROUNDS (20), BENCH_BACKGROUND (100000: `pat-service demo-data`
# attendances, 0 for none), BENCH_SKIP_BUILD (set to use an existing binary), PAT_SERVICE_BIN
# (target/release/pat-service). Each round makes a new pair of patients (2 × 50 attendances,
# written straight into the database: the service's trigger registers them as the service's own
# inserts are), then times, one request at a time with curl (`time_total`): the link, the
# unlink, and marking one attendance of the local-number patient entered-in-error.
# Raw results go to bench/results/link-<UTC time>/ (not committed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

ROUNDS="${BENCH_ROUNDS:-20}"
BACKGROUND="${BENCH_BACKGROUND:-100000}"
PER_PATIENT=50
SERVICE_BIN="${PAT_SERVICE_BIN:-$ROOT/target/release/pat-service}"

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

require_tools curl awk sed sort

bench_build --bin pat-service
[ -x "$SERVICE_BIN" ] || die "no service binary at $SERVICE_BIN"

bench_results_dir "link-"
bench_pg_start

"$PG_BIN/createdb" -h "$PG_HOST" -p "$PG_PORT" -U postgres bench
BENCH_DB_URL="postgres://postgres@$PG_HOST:$PG_PORT/bench"

psql_bench() { # psql_bench ARGS…: unaligned, tuples only, stop at the first error
    "$PG_BIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U postgres -d bench -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

if [ "$BACKGROUND" -gt 0 ]; then
    log "generating $BACKGROUND background attendances (demo-data)"
    service_env "$SERVICE_BIN" demo-data --attendances "$BACKGROUND" --years 2 --seed 11 \
        >"$RESULTS/demo-data.log" 2>&1 || { tail -n 20 "$RESULTS/demo-data.log" >&2; die "demo-data failed"; }
else
    service_env "$SERVICE_BIN" migrate >"$RESULTS/migrate.log" 2>&1 || die "migrate failed"
fi

start_service "$RESULTS/service.log"
TOKEN="$(service_env "$SERVICE_BIN" token --role integration --sub bench-link)"
[ -n "$TOKEN" ] || die "pat-service token printed nothing"

# nhs_number SEED: a valid NHS number 48SSSSSSJC (modulus 11, docs/domain.md §9) no generator uses.
nhs_number() {
    awk -v seed="$1" 'BEGIN {
        for (j = 0; j < 10; j++) {
            nine = sprintf("48%06d%d", seed, j); sum = 0
            for (i = 1; i <= 9; i++) sum += substr(nine, i, 1) * (11 - i)
            check = 11 - sum % 11; if (check == 11) check = 0
            if (check != 10) { print nine check; exit }
        }
    }'
}

# make_patient KEY NHS LOCAL SOURCE: PER_PATIENT unplanned attendances a day apart, the last
# yesterday, under the key (the trigger registers it and fills patient_id).
make_patient() {
    psql_bench -c "INSERT INTO attendances (id, source_system, source_id, patient_key, nhs_number, local_id,
            sex, site, arrived_at, presenting_condition, attendance_category, indications, pat_indicated,
            created_at, created_by)
        SELECT gen_random_uuid(), 'bench-link', '$4-' || i, '$1', $2, $3, 'male', 'A',
            now() - interval '1 day' * (2 * i) - interval '12 hours' * $5, 'fall', 'unplanned', 'fall', true,
            now(), 'bench'
        FROM generate_series(1, $PER_PATIENT) AS i"
}

# timed_post PATH BODY OUT: POST as integration; prints the time in ms; dies unless 200.
timed_post() {
    local result code secs
    result="$(curl -sS --max-time 60 -o "$3" -w '%{http_code} %{time_total}' \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$2" "$BASE_URL$1")" ||
        die "POST $1: curl failed"
    code="${result% *}"
    secs="${result#* }"
    [ "$code" = 200 ] || { cat "$3" >&2; die "POST $1 answered $code"; }
    awk -v s="$secs" 'BEGIN { printf "%.2f\n", s * 1000 }'
}

echo "round,link_ms,unlink_ms,entered_in_error_ms" >"$RESULTS/runs.csv"
links=() unlinks=() marks=()
for round in $(seq 1 "$ROUNDS"); do
    nhs="$(nhs_number "$round")"
    make_patient "nhs:$nhs" "'$nhs'" NULL "n$round" 1
    make_patient "local:BL-$round" NULL "'BL-$round'" "l$round" 0
    psql_bench -c "ANALYZE attendances" >/dev/null
    local_patient="$(psql_bench -c "SELECT id FROM patients WHERE key = 'local:BL-$round'")"
    marked="$(psql_bench -c "SELECT id FROM attendances WHERE source_system = 'bench-link' AND source_id = 'l$round-25'")"

    link="$(timed_post "/api/v1/patients/$local_patient/link" \
        "{\"nhs_number\":\"$nhs\",\"reason\":\"bench trace\"}" "$RESULTS/link-$round.json")"
    unlink="$(timed_post "/api/v1/patients/$local_patient/unlink" \
        "{\"reason\":\"bench unlink\"}" "$RESULTS/unlink-$round.json")"
    mark="$(timed_post "/api/v1/attendances/$marked/entered-in-error" \
        "{\"reason\":\"bench mark\"}" "$RESULTS/mark-$round.json")"
    echo "$round,$link,$unlink,$mark" >>"$RESULTS/runs.csv"
    links+=("$link") unlinks+=("$unlink") marks+=("$mark")
    log "round $round/$ROUNDS: link $link ms, unlink $unlink ms, entered-in-error $mark ms"
done

# The facts the link and unlink left agree with a recomputation from the attendances alone.
adrift="$(psql_bench -c "SELECT count(*) FROM attendances x
    WHERE x.source_system = 'bench-link' AND x.unplanned_within_7d IS DISTINCT FROM EXISTS (
        SELECT 1 FROM attendances b WHERE b.patient_key = x.patient_key AND b.arrived_at > x.arrived_at
          AND b.arrived_at <= x.arrived_at + interval '168 hours'
          AND b.attendance_category = 'unplanned' AND b.entered_in_error_at IS NULL)")"

# max NUMBER…
max() { printf '%s\n' "$@" | sort -g | tail -n 1; }
min() { printf '%s\n' "$@" | sort -g | head -n 1; }

TOTAL="$(psql_bench -c "SELECT count(*) FROM attendances")"
{
    echo "# Link, unlink and entered-in-error on a patient with $PER_PATIENT attendances ($STAMP)"
    echo
    echo "$ROUNDS rounds; $TOTAL attendances in the database; each link moves $PER_PATIENT attendances onto a person with $PER_PATIENT more and recomputes the 7-day facts of all $((2 * PER_PATIENT)); the unlink moves them back and recomputes both."
    echo
    echo "| operation | median ms | min ms | max ms |"
    echo "|---|---|---|---|"
    echo "| POST /patients/{id}/link | $(median "${links[@]}") | $(min "${links[@]}") | $(max "${links[@]}") |"
    echo "| POST /patients/{id}/unlink | $(median "${unlinks[@]}") | $(min "${unlinks[@]}") | $(max "${unlinks[@]}") |"
    echo "| POST /attendances/{id}/entered-in-error | $(median "${marks[@]}") | $(min "${marks[@]}") | $(max "${marks[@]}") |"
    echo
    echo "7-day facts adrift from a recomputation: $adrift."
    echo
    echo "Machine: $(nproc) cores, $(cpu_model); $("$PG_BIN/postgres" --version) (throwaway cluster, default settings, fsync on); the service, the database and curl share these cores."
} | tee "$RESULTS/summary.md"
[ "$adrift" = 0 ] || die "$adrift attendances' 7-day facts differ from the recomputation"
