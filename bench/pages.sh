#!/usr/bin/env bash
# Page-time benchmark: how long the web pages of issue 13 take to answer with a million generated
# attendances (`pat-service demo-data`), each beside the JSON API call(s) the page makes, timed in
# the same run: the Today page (`/web/today`, one health worker and everyone, on a busy day)
# against `GET /api/v1/bookings?date=…`, the referral queue (`/web/referrals`, which has no API
# twin), and the Audit page (`/web/audit?year=…`) against the sum of the funnel, referrals and
# reattendance reports it shows (the queries of its "Download CSV" links, asked as JSON). Targets (issue 13): Today and the queue < 100 ms median; Audit within
# 20 ms of its reports. See bench/README.md.
#
#   bench/pages.sh                                        # 1M attendances, PostgreSQL then SQLite
#   BENCH_BACKENDS=postgres bench/pages.sh                # PostgreSQL only
#   BENCH_ATTENDANCES=100000 BENCH_RUNS=10 bench/pages.sh # a quick look
#
# Settings (environment): BENCH_ATTENDANCES (1000000), BENCH_BACKENDS ("postgres sqlite"),
# BENCH_YEARS (3), BENCH_SEED (1), BENCH_RUNS (40: timed requests per URL and round),
# BENCH_WARMUP (5), BENCH_ROUNDS (3: page and baseline alternate round by round),
# BENCH_DATA_DIR (where the SQLite file goes; default $TMPDIR or /tmp), BENCH_AUDIT_PAGE (the
# Audit page's path and query; default /web/audit?year=<current financial year>&disclosure=none),
# BENCH_SKIP_BUILD (set to use the existing binary), PAT_SERVICE_BIN
# (target/release/pat-service). Needs hyperfine (Debian's package; installed with apt-get when
# missing and run as root). Raw results go to bench/results/pages-<UTC time>/ (not committed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

ATTENDANCES="${BENCH_ATTENDANCES:-1000000}"
BACKENDS="${BENCH_BACKENDS:-postgres sqlite}"
YEARS="${BENCH_YEARS:-3}"
SEED="${BENCH_SEED:-1}"
RUNS="${BENCH_RUNS:-40}"
WARMUP="${BENCH_WARMUP:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
DATA_BASE="${BENCH_DATA_DIR:-${TMPDIR:-/tmp}}"
SERVICE_BIN="${PAT_SERVICE_BIN:-$ROOT/target/release/pat-service}"
# The issue's targets: the median of Today and of the queue, and what Audit may add to its reports.
TARGET_PAGE_MS=100
TARGET_AUDIT_EXTRA_MS=20

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

require_tools curl awk sed sort date python3
for setting in ATTENDANCES YEARS SEED RUNS WARMUP ROUNDS; do
    [[ "${!setting}" =~ ^[0-9]+$ ]] || die "$setting must be a whole number (got '${!setting}')"
done
[ "$RUNS" -ge 2 ] || die "BENCH_RUNS must be at least 2"
[ "$ROUNDS" -ge 1 ] || die "BENCH_ROUNDS must be at least 1"
for backend in $BACKENDS; do
    case "$backend" in postgres | sqlite) ;; *) die "BENCH_BACKENDS: postgres and/or sqlite (got '$backend')" ;; esac
done
if ! command -v hyperfine >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        log "installing hyperfine (apt-get install hyperfine)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y hyperfine >/dev/null \
            || die "apt-get install hyperfine failed (run apt-get update first?)"
    else
        die "hyperfine is required (Debian: apt-get install hyperfine)"
    fi
fi

bench_build --bin pat-service
[ -x "$SERVICE_BIN" ] || die "no service binary at $SERVICE_BIN"
"$SERVICE_BIN" demo-data --help >/dev/null 2>&1 || die "$SERVICE_BIN has no demo-data command"

bench_results_dir "pages-"
HELPER="$RESULTS/helper.py"
# The dev sign-in links need `serve --dev`; PAT_JWT_SECRET is set, so the API tokens minted with
# `pat-service token` are accepted by it too.
SERVICE_SERVE_ARGS=(--dev)

# ----- The current NHS financial year (Europe/London), for the Audit page and its reports -----

TODAY="$(TZ=Europe/London date +%Y-%m-%d)"
year="${TODAY%%-*}"
month="${TODAY#*-}"
month="${month%%-*}"
if [ "$((10#$month))" -ge 4 ]; then FY_YEAR=$year; else FY_YEAR=$((year - 1)); fi
FY_FROM="$FY_YEAR-04-01"
FY_TO="$((FY_YEAR + 1))-04-01"
FY_LABEL="$FY_YEAR/$(printf '%02d' $(((FY_YEAR + 1) % 100)))"
AUDIT_PAGE="${BENCH_AUDIT_PAGE:-/web/audit?year=$FY_YEAR&disclosure=none}"
AUDIT_REPORTS=(
    "/api/v1/statistics/funnel?from=$FY_FROM&to=$FY_TO&disclosure=none"
    "/api/v1/statistics/referrals?disclosure=none"
    "/api/v1/statistics/reattendance?from=$FY_FROM&to=$FY_TO&disclosure=none"
)

# ----- python3 helper: the busy day, hyperfine's times, SQLite counts -----

cat >"$HELPER" <<'PY'
import json, sqlite3, sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

def times(*files):
    """hyperfine JSON exports: prints every run's time of command NAME (argv order: name, files)."""
    name, files = files[0], files[1:]
    out = []
    for f in files:
        for r in json.load(open(f))["results"]:
            if r["command"] == name:
                out.extend(t * 1000 for t in r["times"])
    print(" ".join("%.3f" % t for t in out))

def stats(*values):
    """median and p95 (nearest rank) of the values, in ms."""
    v = sorted(float(x) for x in values)
    if not v:
        print("nan nan")
        return
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    rank = -(-95 * n // 100)  # ceil(0.95 n)
    print("%.2f %.2f" % (med, v[max(rank, 1) - 1]))

def sqlite_busy_day(db):
    """The London day of the last 28 (up to tomorrow) with the most bookings, its count, and the
    health worker with the most bookings that day and their count."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    now = datetime.now(timezone.utc)
    lo = (now - timedelta(days=28)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    hi = (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    days = {}
    for starts_at, worker in con.execute(
            "SELECT s.starts_at, s.health_worker_id FROM bookings b JOIN slots s ON s.id = b.slot_id "
            "WHERE s.starts_at >= ? AND s.starts_at < ?", (lo, hi)):
        t = datetime.strptime(starts_at[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        day = t.astimezone(LONDON).date().isoformat()
        days.setdefault(day, {}).setdefault(worker, 0)
        days[day][worker] += 1
    if not days:
        print("")
        return
    day = max(days, key=lambda d: (sum(days[d].values()), d))
    worker = max(days[day], key=lambda w: (days[day][w], w))
    print(day, sum(days[day].values()), worker, days[day][worker])

def sqlite_counts(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    print(" ".join(str(con.execute(q).fetchone()[0]) for q in COUNTS))

COUNTS = [
    "SELECT count(*) FROM attendances",
    "SELECT count(*) FROM bookings",
    "SELECT count(*) FROM referrals WHERE decision = 'accepted'",
    # the referral queue's rows: accepted, not entered in error, no booking but cancelled ones
    "SELECT count(*) FROM referrals r JOIN attendances a ON a.id = r.attendance_id "
    "WHERE r.decision = 'accepted' AND a.entered_in_error_at IS NULL AND NOT EXISTS "
    "(SELECT 1 FROM bookings b WHERE b.attendance_id = r.attendance_id AND b.status <> 'cancelled')",
]

def span_overhead(log, route):
    """From a service log with its spans (JSON, one close event per span): for each request to
    ROUTE, its time less the time of the store spans closed within it (requests one at a time).
    Prints the count, the median and the largest, in ms."""
    import re
    unit = {"s": 1e3, "ms": 1.0, "µs": 1e-3, "ns": 1e-6}
    def ms(text):
        m = re.match(r"([0-9.]+)(s|ms|µs|ns)$", text)
        return float(m.group(1)) * unit[m.group(2)]
    inner, out = 0.0, []
    for line in open(log, encoding="utf-8"):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        fields, span = event.get("fields", {}), event.get("span", {})
        if fields.get("message") != "close":
            continue
        if span.get("name") == "http_request":
            if span.get("http.route") == route:
                out.append(ms(fields["time.busy"]) - inner)
            inner = 0.0
        elif event.get("target", "").startswith("pat_service::store"):
            inner += ms(fields["time.busy"])
    if not out:
        print("0 nan nan")
        return
    v = sorted(out)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    print("%d %.2f %.2f" % (n, med, v[-1]))

{"times": times, "stats": stats, "sqlite-busy-day": sqlite_busy_day,
 "sqlite-counts": sqlite_counts, "span-overhead": span_overhead}[sys.argv[1]](*sys.argv[2:])
PY

# ----- Helpers -----

SQLITE_DIR=""
remove_sqlite_dir() {
    if [ -n "$SQLITE_DIR" ]; then
        rm -rf "$SQLITE_DIR"
        SQLITE_DIR=""
    fi
}
BENCH_EXTRA_CLEANUP=remove_sqlite_dir
bench_traps

now_ns() { date +%s%N; }
seconds_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

psql_db() { # psql_db DB ARGS…: unaligned, tuples only, stop at the first error
    local db="$1"
    shift
    "$PG_BIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U postgres -d "$db" -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

# status_of URL CURL_ARGS…: the HTTP status of one GET (000 when curl could not connect).
status_of() {
    local url="$1"
    shift
    curl -sS -o "$RESULTS/last-answer.html" -w '%{http_code}' "$@" "$url" || echo 000
}

# sign_in ROLE: follows the development sign-in link `serve --dev` printed for ROLE, keeping the
# session cookie in $RESULTS/ROLE.cookies.
sign_in() {
    local role="$1" link code
    link="$(sed -n "s/^==> $role *sign-in: \(http[^ ]*\)$/\1/p" "$SERVICE_LOG" | tail -n 1)"
    [ -n "$link" ] || die "no development sign-in link for $role in $SERVICE_LOG"
    code="$(curl -sS -o /dev/null -w '%{http_code}' -c "$RESULTS/$role.cookies" "$link")"
    case "$code" in 302 | 303) ;; *) die "the $role sign-in link answered HTTP $code, not a redirect" ;; esac
}

# measure NAME… -- each NAME is a variable holding a curl command line (one string, split by
# hyperfine as a shell would, run without a shell): BENCH_ROUNDS rounds of hyperfine, each
# running every command BENCH_WARMUP + BENCH_RUNS times in turn; the JSON exports go to
# $RESULTS/hyperfine-$TAG-r<round>.json.
measure() {
    local round args=() name
    for name in "$@"; do
        args+=(--command-name "$name" "${!name}")
    done
    for round in $(seq 1 "$ROUNDS"); do
        hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" \
            --export-json "$RESULTS/hyperfine-$TAG-r$round.json" "${args[@]}" \
            >"$RESULTS/hyperfine-$TAG-r$round.txt" 2>&1 \
            || { cat "$RESULTS/hyperfine-$TAG-r$round.txt" >&2; die "hyperfine failed ($TAG, round $round)"; }
    done
}

# timings NAME: every timed run of command NAME in this tag's rounds (ms).
timings() {
    python3 "$HELPER" times "$1" "$RESULTS"/hyperfine-"$TAG"-r*.json
}

# row PAGE PAGE_NAME BASELINE_LABEL BASE_NAME|"" KIND: one line of the table (KIND: page = an
# absolute target, audit = within TARGET_AUDIT_EXTRA_MS of the baseline).
row() {
    local label="$1" page_name="$2" base_label="$3" base_name="$4" kind="$5"
    local p_med p_p95 b_med="" b_p95="" verdict
    # shellcheck disable=SC2046 # one value per word
    read -r p_med p_p95 <<<"$(python3 "$HELPER" stats $(timings "$page_name"))"
    if [ -n "$base_name" ]; then
        # shellcheck disable=SC2046
        read -r b_med b_p95 <<<"$(python3 "$HELPER" stats $(timings "$base_name"))"
    fi
    verdict="$(awk -v k="$kind" -v p="$p_med" -v b="${b_med:-0}" -v t="$TARGET_PAGE_MS" -v e="$TARGET_AUDIT_EXTRA_MS" 'BEGIN {
        if (k == "page") print (p < t ? "PASS" : "FAIL") " (< " t " ms)";
        else print (p - b < e ? "PASS" : "FAIL") " (page − reports < " e " ms)" }')"
    log "  $label: median $p_med ms, p95 $p_p95 ms${b_med:+; $base_label median $b_med ms}; $verdict"
    TABLE_ROWS+="$(awk -v be="$BACKEND" -v l="$label" -v pm="$p_med" -v pp="$p_p95" -v bl="$base_label" \
        -v bm="$b_med" -v bp="$b_p95" -v v="$verdict" 'BEGIN {
        if (bm == "") printf "| %s | %s | %.1f | %.1f | %s | — | — | — | %s |\n", be, l, pm, pp, bl, v;
        else printf "| %s | %s | %.1f | %.1f | %s | %.1f | %.1f | %.1f | %s |\n", be, l, pm, pp, bl, bm, bp, pm - bm, v }')"$'\n'
}

echo "backend,attendances,generation_s,attendances_rows,bookings_rows,accepted_referrals,queue_rows,busy_day,busy_day_bookings,worker_bookings" \
    >"$RESULTS/databases.csv"
TABLE_ROWS=""
NOTES=""
PG_VERSION=""

# ----- The runs -----

for BACKEND in $BACKENDS; do
    if [ "$BACKEND" = postgres ]; then
        bench_pg_start
        "$PG_BIN/createdb" -h "$PG_HOST" -p "$PG_PORT" -U postgres bench_pages
        BENCH_DB_URL="postgres://postgres@$PG_HOST:$PG_PORT/bench_pages"
        PG_VERSION="$("$PG_BIN/postgres" --version)"
    else
        SQLITE_DIR="$(mktemp -d "$DATA_BASE/pat-bench-pages.XXXXXX")"
        SQLITE_DB="$SQLITE_DIR/pages.db"
        BENCH_DB_URL="sqlite://$SQLITE_DB"
    fi

    log "$BACKEND: pat-service demo-data --attendances $ATTENDANCES --years $YEARS --seed $SEED"
    t0="$(now_ns)"
    service_env "$SERVICE_BIN" demo-data --attendances "$ATTENDANCES" --years "$YEARS" --seed "$SEED" \
        >"$RESULTS/demo-data-$BACKEND.log" 2>&1 \
        || { tail -n 30 "$RESULTS/demo-data-$BACKEND.log" >&2; die "demo-data failed ($BACKEND)"; }
    gen_s="$(seconds_since "$t0")"

    # The busy day: of the last four weeks (and tomorrow), the London day with the most bookings;
    # its busiest health worker. The counts say how much work the pages have.
    if [ "$BACKEND" = postgres ]; then
        psql_db bench_pages -c "VACUUM ANALYZE"
        busy="$(psql_db bench_pages -F ' ' -c "
            WITH d AS (
                SELECT (s.starts_at AT TIME ZONE 'Europe/London')::date AS day, s.health_worker_id AS worker
                FROM bookings b JOIN slots s ON s.id = b.slot_id
                WHERE s.starts_at >= now() - interval '28 days' AND s.starts_at < now() + interval '2 days'
            ), busiest AS (
                SELECT day, count(*) AS n FROM d GROUP BY day ORDER BY n DESC, day DESC LIMIT 1
            )
            SELECT to_char(busiest.day, 'YYYY-MM-DD'), busiest.n, d.worker, count(*)
            FROM d JOIN busiest ON busiest.day = d.day
            GROUP BY busiest.day, busiest.n, d.worker ORDER BY count(*) DESC, d.worker DESC LIMIT 1")"
        counts="$(psql_db bench_pages -F ' ' -c "SELECT (SELECT count(*) FROM attendances),
            (SELECT count(*) FROM bookings),
            (SELECT count(*) FROM referrals WHERE decision = 'accepted'),
            (SELECT count(*) FROM referrals r JOIN attendances a ON a.id = r.attendance_id
             WHERE r.decision = 'accepted' AND a.entered_in_error_at IS NULL AND NOT EXISTS
                 (SELECT 1 FROM bookings b WHERE b.attendance_id = r.attendance_id AND b.status <> 'cancelled'))")"
    else
        busy="$(python3 "$HELPER" sqlite-busy-day "$SQLITE_DB")"
        counts="$(python3 "$HELPER" sqlite-counts "$SQLITE_DB")"
    fi
    read -r DAY DAY_BOOKINGS WORKER WORKER_BOOKINGS <<<"$busy"
    [ -n "${DAY:-}" ] || die "$BACKEND: the generated data has no booking in the last four weeks"
    read -r c_att c_book c_accepted c_queue <<<"$counts"
    log "$BACKEND: generated in $gen_s s: $c_att attendances, $c_book bookings, $c_accepted accepted referrals ($c_queue waiting for a booking); busy day $DAY: $DAY_BOOKINGS bookings, $WORKER_BOOKINGS for health worker $WORKER"
    echo "$BACKEND,$ATTENDANCES,$gen_s,$c_att,$c_book,$c_accepted,$c_queue,$DAY,$DAY_BOOKINGS,$WORKER_BOOKINGS" \
        >>"$RESULTS/databases.csv"
    NOTES+="- $BACKEND: $c_att attendances generated in $gen_s s; $c_book bookings; $c_accepted accepted referrals, $c_queue of them waiting for a booking (the queue shows the oldest 200); busy day $DAY with $DAY_BOOKINGS bookings, $WORKER_BOOKINGS of them for the health worker measured."$'\n'

    SERVICE_LOG="$RESULTS/service-$BACKEND.log"
    start_service "$SERVICE_LOG"
    sign_in ahw
    sign_in auditor
    AHW_TOKEN="$(service_env "$SERVICE_BIN" token --role ahw --sub bench-ahw)"
    AUDITOR_TOKEN="$(service_env "$SERVICE_BIN" token --role auditor --sub bench-auditor)"
    [ -n "$AHW_TOKEN" ] && [ -n "$AUDITOR_TOKEN" ] || die "pat-service token printed nothing"

    # Every command is one curl process (hyperfine starts one per run): the fixed cost of that is
    # the `floor` row, an unauthenticated GET /health/live.
    AHW_PAGE="curl -fsS -o /dev/null -b $RESULTS/ahw.cookies"
    AUDITOR_PAGE="curl -fsS -o /dev/null -b $RESULTS/auditor.cookies"
    AHW_API="curl -fsS -o /dev/null -H 'Authorization: Bearer $AHW_TOKEN'"
    today_worker="$AHW_PAGE $BASE_URL/web/today?date=$DAY&health_worker=$WORKER"
    today_all="$AHW_PAGE $BASE_URL/web/today?date=$DAY&health_worker="
    api_worker="$AHW_API $BASE_URL/api/v1/bookings?date=$DAY&health_worker_id=$WORKER"
    api_all="$AHW_API $BASE_URL/api/v1/bookings?date=$DAY"
    queue_page="$AHW_PAGE $BASE_URL/web/referrals"
    floor="curl -fsS -o /dev/null $BASE_URL/health/live"

    # Each URL once first: it must answer 200 (the check that the sign-in worked and the query
    # parameters are right), and the pages must show the work (their counts, in their words).
    for url in "/web/today?date=$DAY&health_worker=$WORKER" "/web/today?date=$DAY&health_worker=" "/web/referrals"; do
        code="$(status_of "$BASE_URL$url" -b "$RESULTS/ahw.cookies")"
        [ "$code" = 200 ] || die "GET $url answered HTTP $code (see $RESULTS/last-answer.html)"
        shown="$(sed -n 's/.*<h2>[^<]*: \([0-9]*\) appointments\{0,1\}<\/h2>.*/\1 appointments/p; s/.*<p>\([0-9]*\) accepted referrals\{0,1\} waiting.*/\1 referrals/p' \
            "$RESULTS/last-answer.html" | head -n 1)"
        log "$BACKEND: GET $url: 200, ${shown:-nothing listed}"
        NOTES+="- $BACKEND: \`$url\` lists ${shown:-nothing}."$'\n'
    done
    for url in "/api/v1/bookings?date=$DAY&health_worker_id=$WORKER" "/api/v1/bookings?date=$DAY"; do
        code="$(status_of "$BASE_URL$url" -H "Authorization: Bearer $AHW_TOKEN")"
        [ "$code" = 200 ] || die "GET $url answered HTTP $code (see $RESULTS/last-answer.html)"
    done

    log "$BACKEND: Today page, one health worker, against GET /api/v1/bookings ($ROUNDS × ($WARMUP + $RUNS) each)"
    TAG="$BACKEND-today-worker"
    measure today_worker api_worker floor
    row "Today, $DAY, one worker" today_worker "\`GET /api/v1/bookings?date&health_worker_id\`" api_worker page
    row "floor: \`GET /health/live\`" floor "" "" page
    log "$BACKEND: Today page, everyone"
    TAG="$BACKEND-today-all"
    measure today_all api_all
    row "Today, $DAY, everyone" today_all "\`GET /api/v1/bookings?date\`" api_all page
    log "$BACKEND: referral queue"
    TAG="$BACKEND-queue"
    measure queue_page
    row "Referral queue" queue_page "no API twin" "" page

    # The Audit page: reported as not available while the branch has none (a 404).
    code="$(status_of "$BASE_URL$AUDIT_PAGE" -b "$RESULTS/auditor.cookies")"
    for url in "${AUDIT_REPORTS[@]}"; do
        c="$(status_of "$BASE_URL$url" -H "Authorization: Bearer $AUDITOR_TOKEN")"
        [ "$c" = 200 ] || die "GET $url answered HTTP $c (see $RESULTS/last-answer.html)"
    done
    if [ "$code" = 200 ]; then
        # The baseline is exactly what the page computes: its "Download CSV" links carry the query
        # of each report (docs/design.md §12), asked of the API here as JSON.
        mapfile -t page_reports < <(curl -fsS -b "$RESULTS/auditor.cookies" "$BASE_URL$AUDIT_PAGE" \
            | grep -o 'href="/web/audit/[a-z]*\.csv?[^"]*"' \
            | sed -e 's#^href="/web/audit/\([a-z]*\)\.csv?#/api/v1/statistics/\1?#' -e 's#"$##' -e 's#&amp;#\&#g')
        [ "${#page_reports[@]}" = 3 ] || die "the Audit page has ${#page_reports[@]} CSV links, not 3"
        AUDIT_REPORTS=("${page_reports[@]}")
        printf '%s\n' "${AUDIT_REPORTS[@]}" >"$RESULTS/$BACKEND-audit-reports.txt"
        for url in "${AUDIT_REPORTS[@]}"; do
            c="$(status_of "$BASE_URL$url" -H "Authorization: Bearer $AUDITOR_TOKEN")"
            [ "$c" = 200 ] || die "GET $url answered HTTP $c (see $RESULTS/last-answer.html)"
        done
        log "$BACKEND: Audit page for $FY_LABEL against its three reports: ${AUDIT_REPORTS[*]}"
        audit_page="$AUDITOR_PAGE $BASE_URL$AUDIT_PAGE"
        # One curl for the three reports: one process and one connection, as for the page.
        audit_reports="curl -fsS -H 'Authorization: Bearer $AUDITOR_TOKEN'"
        for url in "${AUDIT_REPORTS[@]}"; do
            audit_reports+=" -o /dev/null $BASE_URL$url"
        done
        TAG="$BACKEND-audit"
        measure audit_page audit_reports
        row "Audit, $FY_LABEL" audit_page "funnel + referrals + reattendance (one curl)" audit_reports audit

        # The issue's measure itself, request by request: the page's time less the time of the
        # store calls it makes (its three reports, the years it offers, the session), from the
        # service's own spans. The service is started again with those spans logged (the timings
        # above ran without: logging costs time), and the page asked for BENCH_RUNS times.
        stop_service
        SERVICE_LOG="$RESULTS/service-$BACKEND-spans.log"
        SERVICE_RUST_LOG="warn,pat_service::telemetry=info,pat_service::store=info" start_service "$SERVICE_LOG"
        sign_in auditor
        curl -fsS -o /dev/null -b "$RESULTS/auditor.cookies" "$BASE_URL$AUDIT_PAGE" # warm-up, not counted
        start_line="$(wc -l <"$SERVICE_LOG")"
        for _ in $(seq 1 "$RUNS"); do
            curl -fsS -o /dev/null -b "$RESULTS/auditor.cookies" "$BASE_URL$AUDIT_PAGE"
        done
        sleep 0.5
        tail -n +"$((start_line + 1))" "$SERVICE_LOG" >"$RESULTS/$BACKEND-audit-spans.log"
        read -r n_spans s_med s_max <<<"$(python3 "$HELPER" span-overhead "$RESULTS/$BACKEND-audit-spans.log" /web/audit)"
        [ "$n_spans" = "$RUNS" ] || die "$BACKEND: $n_spans of $RUNS Audit page requests found in $SERVICE_LOG"
        s_verdict="$(awk -v m="$s_med" -v e="$TARGET_AUDIT_EXTRA_MS" 'BEGIN { print (m < e) ? "PASS" : "FAIL" }')"
        log "  Audit, $FY_LABEL, outside its store calls: median $s_med ms, largest $s_max ms ($RUNS requests); $s_verdict (< $TARGET_AUDIT_EXTRA_MS ms)"
        TABLE_ROWS+="| $BACKEND | Audit, $FY_LABEL: the page's time outside its store calls (service spans, $RUNS requests) | $s_med | max $s_max | its statistics store calls, in the same request | | | $s_med | $s_verdict (< $TARGET_AUDIT_EXTRA_MS ms) |"$'\n'
    else
        log "$BACKEND: GET $AUDIT_PAGE answered HTTP $code: the Audit page is not available"
        TABLE_ROWS+="| $BACKEND | Audit, $FY_LABEL | not available ($code) | | funnel + referrals + reattendance | | | | not measured |"$'\n'
    fi

    stop_service
    if [ "$BACKEND" = postgres ]; then
        "$PG_BIN/dropdb" -h "$PG_HOST" -p "$PG_PORT" -U postgres bench_pages
        pg_stop
    else
        remove_sqlite_dir
    fi
done

# ----- Summary -----

CPU_MODEL="$(cpu_model)"
MEM="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY=""
if [ -n "$(git -C "$ROOT" status --porcelain -- src migrations 2>/dev/null || true)" ]; then
    DIRTY=" (with uncommitted changes to src or migrations)"
fi
{
    echo "## pat-service web pages at $ATTENDANCES attendances"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); commit $COMMIT$DIRTY; \`demo-data --attendances $ATTENDANCES --years $YEARS --seed $SEED\`; $ROUNDS round(s) × $RUNS timed requests per URL (after $WARMUP warm-up requests each round), page and baseline alternating round by round; median and p95 (nearest rank) over all timed requests."
    echo
    echo "| backend | page | median ms | p95 ms | baseline | baseline median ms | baseline p95 ms | page − baseline ms | result |"
    echo "|---|---|---:|---:|---|---:|---:|---:|---|"
    printf '%s' "$TABLE_ROWS"
    echo
    echo "Each time is one \`curl\` process started by hyperfine (\`-N\`, no shell) making one request (the audit baseline: its three requests on one connection), from the process start to its exit; the \`floor\` row is that cost for the cheapest request there is. Pages are signed in with the \`serve --dev\` links (session cookie); API calls carry a bearer token for the same role. Every page and API read of patient data writes its audit events, as in production."
    echo "Machine: $(nproc) cores, ${CPU_MODEL:-unknown CPU}, $MEM memory; ${PG_VERSION:+$PG_VERSION (throwaway cluster, default settings, fsync on); }load average at the end $LOAD; curl, the service and the database share these cores (and, when this ran, other work on the machine)."
    echo
    printf '%s' "$NOTES"
    echo
    echo "Raw results: bench/results/pages-$STAMP/."
} | tee "$RESULTS/summary.md"
