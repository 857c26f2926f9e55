#!/usr/bin/env bash
# Statistics benchmark: how long pat-service takes to answer the funnel for one whole financial
# year and the reattendance report for the same year, on PostgreSQL and on SQLite, with 100k and
# 1M generated attendances (`pat-service demo-data`), against one hand-written SQL query per
# report run straight on the same database (psql on PostgreSQL, python3's sqlite3 module on
# SQLite), whose figures must equal the service's. See bench/README.md.
#
#   bench/statistics.sh                                   # 100k and 1M, both backends
#   BENCH_SIZES=100000 BENCH_REPEATS=3 bench/statistics.sh  # a quick look
#   BENCH_BACKENDS=postgres BENCH_SIZES="1000000 10000000" bench/statistics.sh
#
# Settings (environment): BENCH_SIZES ("100000 1000000"), BENCH_BACKENDS ("postgres sqlite"),
# BENCH_REPEATS (7), BENCH_YEARS (3), BENCH_SEED (1), BENCH_SQLITE_MAX (1000000: larger sizes are
# PostgreSQL only), BENCH_SKIP_BUILD (set to use the existing binary), PAT_SERVICE_BIN
# (target/release/pat-service). Raw results go to bench/results/statistics-<UTC time>/ (not
# committed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

SIZES="${BENCH_SIZES:-100000 1000000}"
BACKENDS="${BENCH_BACKENDS:-postgres sqlite}"
REPEATS="${BENCH_REPEATS:-7}"
YEARS="${BENCH_YEARS:-3}"
SEED="${BENCH_SEED:-1}"
SQLITE_MAX="${BENCH_SQLITE_MAX:-1000000}"
SERVICE_BIN="${PAT_SERVICE_BIN:-$ROOT/target/release/pat-service}"
# The issue's targets for the median answer with 1M attendances (read as TARGET_MS_<backend>).
# shellcheck disable=SC2034
TARGET_MS_postgres=1000
# shellcheck disable=SC2034
TARGET_MS_sqlite=2000

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

require_tools curl awk sed sort date df du python3
for setting in REPEATS YEARS SEED SQLITE_MAX; do
    [[ "${!setting}" =~ ^[0-9]+$ ]] || die "$setting must be a whole number (got '${!setting}')"
done
[ "$REPEATS" -ge 1 ] || die "BENCH_REPEATS must be at least 1"
for n in $SIZES; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZES must be whole numbers of at least 1 (got '$n')"
done
for backend in $BACKENDS; do
    case "$backend" in postgres | sqlite) ;; *) die "BENCH_BACKENDS: postgres and/or sqlite (got '$backend')" ;; esac
done
# Smallest first: a larger PostgreSQL database's disk space is estimated from a smaller one's.
# shellcheck disable=SC2086 # one size per word
SIZES="$(printf '%s\n' $SIZES | sort -n -u | tr '\n' ' ')"

bench_build --bin pat-service
[ -x "$SERVICE_BIN" ] || die "no service binary at $SERVICE_BIN"
"$SERVICE_BIN" demo-data --help >/dev/null 2>&1 || die "$SERVICE_BIN has no demo-data command"

bench_results_dir "statistics-"
HELPER="$RESULTS/helper.py"

# ----- The period: the last complete NHS financial year (Europe/London dates) -----

TODAY="$(TZ=Europe/London date +%Y-%m-%d)"
year="${TODAY%%-*}"
month="${TODAY#*-}"
month="${month%%-*}"
# 1 April starting the current financial year, then the whole year before it.
if [ "$((10#$month))" -ge 4 ]; then fy_start=$year; else fy_start=$((year - 1)); fi
FROM="$((fy_start - 1))-04-01"
TO="$fy_start-04-01"
FY_LABEL="$((fy_start - 1))/$(printf '%02d' $((fy_start % 100)))"
# The data covers the last BENCH_YEARS years up to now: the year must lie inside it.
DATA_START="$(date -u -d "$TODAY - $YEARS years" +%Y-%m-%d)"
[[ "$DATA_START" < "$FROM" ]] \
    || die "financial year $FY_LABEL ($FROM to $TO) is not inside the last $YEARS years of data: raise BENCH_YEARS"
FUNNEL_PATH="/api/v1/statistics/funnel?from=$FROM&to=$TO&group_by=financial_year"
REATTENDANCE_PATH="/api/v1/statistics/reattendance?from=$FROM&to=$TO"

# ----- The hand-written baseline queries (docs/domain.md §7), one per report -----
#
# They are written from the definitions, not from the service's SQL (src/db/statistics.rs):
# the current screening and the index attendance by DISTINCT ON / row_number(), a referral's
# first and latest booking by ordered aggregates / first_value(), the 365-day and 7-day
# follow-ups by RANGE window frames over each patient's attendances in time order. Each column
# is named after the figure's path in the service's JSON, so the two can be compared one by one.
# Periods: [from, to) between Europe/London midnights; "365 days" and "7 days" are of 24 hours.

cat >"$RESULTS/baseline-funnel.pg.sql" <<'SQL'
-- Funnel (docs/domain.md §7) of the attendances arriving in [from, to), Europe/London midnights.
WITH span AS (
    SELECT (timestamp :'from_date' AT TIME ZONE 'Europe/London') AS lo,
           (timestamp :'to_date' AT TIME ZONE 'Europe/London') AS hi
), att AS (
    SELECT a.id, a.pat_indicated AS eligible
    FROM attendances a, span
    WHERE a.arrived_at >= span.lo AND a.arrived_at < span.hi AND a.entered_in_error_at IS NULL
), current_screening AS (
    -- the screening of highest version of each attendance
    SELECT DISTINCT ON (s.attendance_id)
           s.attendance_id, s.status, s.result, s.advice_given, s.leaflet_given
    FROM screenings s JOIN att ON att.id = s.attendance_id
    ORDER BY s.attendance_id, s.version DESC
), booking_history AS (
    -- per referral: its first booking's window, its latest booking's outcome and lead time
    SELECT b.attendance_id,
           (array_agg(b.within_window ORDER BY b.booked_at, b.id))[1] AS first_within_window,
           (array_agg(b.status ORDER BY b.booked_at DESC, b.id DESC))[1] AS latest_status,
           (array_agg(b.lead_time ORDER BY b.booked_at DESC, b.id DESC))[1] AS latest_lead_time,
           bool_and(b.status = 'cancelled') AS all_cancelled
    FROM bookings b
    GROUP BY b.attendance_id
), pathway AS (
    SELECT att.eligible,
           cs.attendance_id IS NOT NULL AS has_screening,
           cs.status,
           att.eligible AND cs.status = 'completed' AND cs.result = 'positive' AS positive,
           cs.advice_given, cs.leaflet_given,
           r.decision,
           r.decision = 'accepted' AS accepted,
           bh.attendance_id IS NOT NULL AS booked,
           bh.first_within_window, bh.latest_status, bh.latest_lead_time, bh.all_cancelled,
           r.decision = 'accepted'
               AND EXISTS (SELECT 1 FROM booking_attempts ba WHERE ba.attendance_id = att.id) AS no_slot
    FROM att
    LEFT JOIN current_screening cs ON cs.attendance_id = att.id
    LEFT JOIN referrals r ON r.attendance_id = att.id
    LEFT JOIN booking_history bh ON bh.attendance_id = att.id
)
SELECT count(*) AS "attendances",
       count(*) FILTER (WHERE eligible) AS "eligible",
       count(*) FILTER (WHERE eligible AND status = 'completed') AS "screened",
       count(*) FILTER (WHERE eligible AND status = 'refused') AS "not_screened.refused",
       count(*) FILTER (WHERE eligible AND status = 'intoxicated') AS "not_screened.intoxicated",
       count(*) FILTER (WHERE eligible AND status = 'lacks_capacity') AS "not_screened.lacks_capacity",
       count(*) FILTER (WHERE eligible AND status = 'too_unwell') AS "not_screened.too_unwell",
       count(*) FILTER (WHERE eligible AND status = 'under_age') AS "not_screened.under_age",
       count(*) FILTER (WHERE eligible AND status = 'not_asked') AS "not_screened.not_asked",
       count(*) FILTER (WHERE eligible AND NOT has_screening) AS "not_screened.not_recorded",
       count(*) FILTER (WHERE NOT eligible AND status = 'completed') AS "screened_outside_indications",
       count(*) FILTER (WHERE positive) AS "positive",
       count(*) FILTER (WHERE positive AND advice_given) AS "advice_given",
       count(*) FILTER (WHERE positive AND leaflet_given) AS "leaflet_given",
       count(*) FILTER (WHERE positive AND decision IS NOT NULL) AS "offered",
       count(*) FILTER (WHERE positive AND accepted) AS "accepted",
       count(*) FILTER (WHERE positive AND decision = 'declined') AS "declined",
       count(*) FILTER (WHERE positive AND decision = 'seen_in_department') AS "seen_in_department",
       count(*) FILTER (WHERE positive AND accepted AND booked) AS "booked",
       count(*) FILTER (WHERE positive AND accepted AND first_within_window) AS "booked_within_24h",
       count(*) FILTER (WHERE positive AND no_slot) AS "no_slot_in_window",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'attended') AS "attended",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'did_not_attend') AS "did_not_attend",
       count(*) FILTER (WHERE positive AND accepted AND all_cancelled) AS "cancelled",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'attended'
                        AND latest_lead_time = 'same_day') AS "attended_by_lead_time.same_day",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'attended'
                        AND latest_lead_time = 'next_day') AS "attended_by_lead_time.next_day",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'attended'
                        AND latest_lead_time = 'later') AS "attended_by_lead_time.later",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'did_not_attend'
                        AND latest_lead_time = 'same_day') AS "did_not_attend_by_lead_time.same_day",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'did_not_attend'
                        AND latest_lead_time = 'next_day') AS "did_not_attend_by_lead_time.next_day",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'did_not_attend'
                        AND latest_lead_time = 'later') AS "did_not_attend_by_lead_time.later"
FROM pathway;
SQL

cat >"$RESULTS/baseline-reattendance.pg.sql" <<'SQL'
-- Reattendance (docs/domain.md §7) for the attendances arriving in [from, to), Europe/London
-- midnights: the 12-month cohorts as of :now, and the 7-day unplanned reattendance.
WITH span AS (
    SELECT (timestamp :'from_date' AT TIME ZONE 'Europe/London') AS lo,
           (timestamp :'to_date' AT TIME ZONE 'Europe/London') AS hi,
           timestamptz :'now' AS now
), timeline AS (
    -- every attendance from the start of the period on, with how many attendances (any) and
    -- unplanned attendances the same patient made after it within 365 and 7 days
    SELECT a.id, a.patient_key, a.arrived_at,
           a.pat_indicated AS eligible,
           a.arrived_at < span.hi AS in_period,
           count(*) OVER next_365_days AS later_365_days,
           count(*) FILTER (WHERE a.attendance_category = 'unplanned') OVER next_7_days AS unplanned_7_days
    FROM attendances a, span
    WHERE a.arrived_at >= span.lo AND a.entered_in_error_at IS NULL
    WINDOW by_patient AS (PARTITION BY a.patient_key ORDER BY a.arrived_at),
           next_365_days AS (by_patient RANGE BETWEEN interval '1 microsecond' FOLLOWING
                                                  AND interval '8760 hours' FOLLOWING),
           next_7_days AS (by_patient RANGE BETWEEN interval '1 microsecond' FOLLOWING
                                                AND interval '168 hours' FOLLOWING)
), current_positive AS (
    -- attendances whose screening of highest version is positive (looked for among the
    -- attendances with any positive screening: a hash join, not a probe per attendance)
    SELECT newest.attendance_id
    FROM (SELECT DISTINCT ON (s.attendance_id) s.attendance_id, s.result
          FROM screenings s
          WHERE s.attendance_id IN (SELECT p.attendance_id FROM screenings p WHERE p.result = 'positive')
          ORDER BY s.attendance_id, s.version DESC) newest
    WHERE newest.result = 'positive'
), index_attendance AS (
    -- each patient's first positive PAT attendance in the period
    SELECT DISTINCT ON (t.patient_key) t.id, t.arrived_at, t.later_365_days
    FROM timeline t JOIN current_positive cp ON cp.attendance_id = t.id
    WHERE t.in_period AND t.eligible
    ORDER BY t.patient_key, t.arrived_at, t.id
), cohort AS (
    SELECT CASE WHEN r.decision IN ('accepted', 'seen_in_department') THEN 'accepted'
                WHEN r.decision = 'declined' THEN 'declined' END AS cohort,
           i.arrived_at + interval '8760 hours' <= span.now AS complete,
           i.later_365_days
    FROM index_attendance i CROSS JOIN span
    LEFT JOIN referrals r ON r.attendance_id = i.id
)
SELECT count(*) FILTER (WHERE cohort = 'accepted' AND complete) AS "twelve_month.accepted.patients",
       COALESCE(sum(later_365_days) FILTER (WHERE cohort = 'accepted' AND complete), 0)
           AS "twelve_month.accepted.reattendances",
       count(*) FILTER (WHERE cohort = 'declined' AND complete) AS "twelve_month.declined.patients",
       COALESCE(sum(later_365_days) FILTER (WHERE cohort = 'declined' AND complete), 0)
           AS "twelve_month.declined.reattendances",
       count(*) FILTER (WHERE cohort IS NOT NULL AND NOT complete) AS "twelve_month.follow_up_incomplete",
       count(*) FILTER (WHERE cohort IS NULL AND complete) AS "twelve_month.no_decision",
       (SELECT count(*) FROM timeline WHERE in_period) AS "seven_day.attendances",
       (SELECT count(*) FROM timeline WHERE in_period AND unplanned_7_days > 0)
           AS "seven_day.reattended_within_7_days"
FROM cohort;
SQL

# SQLite: times are fixed-width text `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC); :lo, :hi and :now are
# such texts (the London midnights worked out by python's zoneinfo); the window frames need a
# number, so a time becomes microseconds since 1970 (unixepoch() of the whole seconds plus the
# fraction).
cat >"$RESULTS/baseline-funnel.sqlite.sql" <<'SQL'
-- Every lookup goes through a real index (no join that needs an automatic index): with the
-- sqlite_stat1 that demo-data leaves, SQLite 3.40 once planned a full scan of a materialized
-- table per attendance for a join of two CTEs, which took a minute at 100k.
WITH att AS (
    SELECT a.id, a.pat_indicated AS eligible
    FROM attendances a
    WHERE a.arrived_at >= :lo AND a.arrived_at < :hi AND a.entered_in_error_at IS NULL
), decided AS (
    -- each attendance with its current screening (no later version of it exists) and decision
    SELECT att.id, att.eligible,
           cs.attendance_id IS NOT NULL AS has_screening,
           cs.status,
           att.eligible AND cs.status = 'completed' AND cs.result = 'positive' AS positive,
           cs.advice_given, cs.leaflet_given,
           r.decision,
           r.decision = 'accepted' AS accepted
    FROM att
    LEFT JOIN screenings cs ON cs.attendance_id = att.id
        AND NOT EXISTS (SELECT 1 FROM screenings later
                        WHERE later.attendance_id = cs.attendance_id AND later.version > cs.version)
    LEFT JOIN referrals r ON r.attendance_id = att.id
), pathway AS (
    -- an accepted referral's booking history, looked up through its index: any booking, all
    -- of them cancelled, the first one's window, the latest one's outcome and lead time
    SELECT d.*,
           (SELECT count(*) FROM bookings b WHERE b.attendance_id = d.id) > 0 AS booked,
           (SELECT min(b.status = 'cancelled') FROM bookings b WHERE b.attendance_id = d.id) AS all_cancelled,
           (SELECT b.within_window FROM bookings b WHERE b.attendance_id = d.id
            ORDER BY b.booked_at, b.id LIMIT 1) AS first_within_window,
           (SELECT b.status FROM bookings b WHERE b.attendance_id = d.id
            ORDER BY b.booked_at DESC, b.id DESC LIMIT 1) AS latest_status,
           (SELECT b.lead_time FROM bookings b WHERE b.attendance_id = d.id
            ORDER BY b.booked_at DESC, b.id DESC LIMIT 1) AS latest_lead_time,
           EXISTS (SELECT 1 FROM booking_attempts ba WHERE ba.attendance_id = d.id) AS no_slot
    FROM decided d
    WHERE d.positive AND d.accepted
    UNION ALL
    SELECT d.*, 0, NULL, NULL, NULL, NULL, 0
    FROM decided d
    WHERE NOT COALESCE(d.positive AND d.accepted, 0)
)
SELECT count(*) AS "attendances",
       count(*) FILTER (WHERE eligible) AS "eligible",
       count(*) FILTER (WHERE eligible AND status = 'completed') AS "screened",
       count(*) FILTER (WHERE eligible AND status = 'refused') AS "not_screened.refused",
       count(*) FILTER (WHERE eligible AND status = 'intoxicated') AS "not_screened.intoxicated",
       count(*) FILTER (WHERE eligible AND status = 'lacks_capacity') AS "not_screened.lacks_capacity",
       count(*) FILTER (WHERE eligible AND status = 'too_unwell') AS "not_screened.too_unwell",
       count(*) FILTER (WHERE eligible AND status = 'under_age') AS "not_screened.under_age",
       count(*) FILTER (WHERE eligible AND status = 'not_asked') AS "not_screened.not_asked",
       count(*) FILTER (WHERE eligible AND NOT has_screening) AS "not_screened.not_recorded",
       count(*) FILTER (WHERE NOT eligible AND status = 'completed') AS "screened_outside_indications",
       count(*) FILTER (WHERE positive) AS "positive",
       count(*) FILTER (WHERE positive AND advice_given) AS "advice_given",
       count(*) FILTER (WHERE positive AND leaflet_given) AS "leaflet_given",
       count(*) FILTER (WHERE positive AND decision IS NOT NULL) AS "offered",
       count(*) FILTER (WHERE positive AND accepted) AS "accepted",
       count(*) FILTER (WHERE positive AND decision = 'declined') AS "declined",
       count(*) FILTER (WHERE positive AND decision = 'seen_in_department') AS "seen_in_department",
       count(*) FILTER (WHERE positive AND accepted AND booked) AS "booked",
       count(*) FILTER (WHERE positive AND accepted AND first_within_window) AS "booked_within_24h",
       count(*) FILTER (WHERE positive AND no_slot) AS "no_slot_in_window",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'attended') AS "attended",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'did_not_attend') AS "did_not_attend",
       count(*) FILTER (WHERE positive AND accepted AND all_cancelled) AS "cancelled",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'attended'
                        AND latest_lead_time = 'same_day') AS "attended_by_lead_time.same_day",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'attended'
                        AND latest_lead_time = 'next_day') AS "attended_by_lead_time.next_day",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'attended'
                        AND latest_lead_time = 'later') AS "attended_by_lead_time.later",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'did_not_attend'
                        AND latest_lead_time = 'same_day') AS "did_not_attend_by_lead_time.same_day",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'did_not_attend'
                        AND latest_lead_time = 'next_day') AS "did_not_attend_by_lead_time.next_day",
       count(*) FILTER (WHERE positive AND accepted AND latest_status = 'did_not_attend'
                        AND latest_lead_time = 'later') AS "did_not_attend_by_lead_time.later"
FROM pathway;
SQL

cat >"$RESULTS/baseline-reattendance.sqlite.sql" <<'SQL'
WITH timeline AS (
    SELECT id, patient_key, arrived_at, us, eligible, in_period,
           count(*) OVER next_365_days AS later_365_days,
           count(*) FILTER (WHERE attendance_category = 'unplanned') OVER next_7_days AS unplanned_7_days
    FROM (SELECT a.id, a.patient_key, a.arrived_at, a.attendance_category,
                 a.pat_indicated AS eligible,
                 a.arrived_at < :hi AS in_period,
                 unixepoch(substr(a.arrived_at, 1, 19)) * 1000000
                     + CAST(substr(a.arrived_at, 21, 6) AS INTEGER) AS us
          FROM attendances a
          WHERE a.arrived_at >= :lo AND a.entered_in_error_at IS NULL)
    WINDOW by_patient AS (PARTITION BY patient_key ORDER BY us),
           next_365_days AS (by_patient RANGE BETWEEN 1 FOLLOWING AND 31536000000000 FOLLOWING),
           next_7_days AS (by_patient RANGE BETWEEN 1 FOLLOWING AND 604800000000 FOLLOWING)
), positive AS (
    SELECT t.id, t.patient_key, t.us, t.later_365_days,
           row_number() OVER (PARTITION BY t.patient_key ORDER BY t.arrived_at, t.id) AS nth
    FROM timeline t
    WHERE t.in_period AND t.eligible
      AND (SELECT s.result FROM screenings s WHERE s.attendance_id = t.id
           ORDER BY s.version DESC LIMIT 1) = 'positive'
), cohort AS (
    SELECT CASE WHEN r.decision IN ('accepted', 'seen_in_department') THEN 'accepted'
                WHEN r.decision = 'declined' THEN 'declined' END AS cohort,
           p.us + 31536000000000
               <= unixepoch(substr(:now, 1, 19)) * 1000000 + CAST(substr(:now, 21, 6) AS INTEGER) AS complete,
           p.later_365_days
    FROM positive p
    LEFT JOIN referrals r ON r.attendance_id = p.id
    WHERE p.nth = 1
)
SELECT count(*) FILTER (WHERE cohort = 'accepted' AND complete) AS "twelve_month.accepted.patients",
       COALESCE(sum(later_365_days) FILTER (WHERE cohort = 'accepted' AND complete), 0)
           AS "twelve_month.accepted.reattendances",
       count(*) FILTER (WHERE cohort = 'declined' AND complete) AS "twelve_month.declined.patients",
       COALESCE(sum(later_365_days) FILTER (WHERE cohort = 'declined' AND complete), 0)
           AS "twelve_month.declined.reattendances",
       count(*) FILTER (WHERE cohort IS NOT NULL AND NOT complete) AS "twelve_month.follow_up_incomplete",
       count(*) FILTER (WHERE cohort IS NULL AND complete) AS "twelve_month.no_decision",
       (SELECT count(*) FROM timeline WHERE in_period) AS "seven_day.attendances",
       (SELECT count(*) FROM timeline WHERE in_period AND unplanned_7_days > 0)
           AS "seven_day.reattended_within_7_days"
FROM cohort;
SQL

# ----- python3 helper: runs the SQLite baseline, reads psql's output, compares figures -----

cat >"$HELPER" <<'PY'
import csv, io, json, re, sqlite3, statistics, sys, time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

def london_midnight_utc(day):
    local = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=ZoneInfo("Europe/London"))
    return local.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

def as_int(value):
    if value is None or value == "":
        return None
    return int(value)

def pg_parse(out_file, figures_file):
    """psql --csv output with \\timing on: the first run is a warm-up; prints the others' ms."""
    times, rows = [], []
    for line in open(out_file):
        m = re.match(r"^Time: ([0-9.]+) ms", line)
        if m:
            times.append(float(m.group(1)))
        elif line.strip():
            rows.append(line)
    header, values = list(csv.reader(io.StringIO("".join(rows[:2]))))[:2]
    json.dump({k: as_int(v) for k, v in zip(header, values)}, open(figures_file, "w"), indent=1)
    print(" ".join("%.3f" % t for t in times[1:]))

def sqlite_run(db, sql_file, repeats, from_date, to_date, now, figures_file):
    """Runs the query once as a warm-up and `repeats` times; prints the timed runs' ms."""
    sql = open(sql_file).read()
    params = {"lo": london_midnight_utc(from_date), "hi": london_midnight_utc(to_date), "now": now}
    params = {k: v for k, v in params.items() if ":" + k in sql}
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    times, first = [], None
    for i in range(int(repeats) + 1):
        start = time.perf_counter()
        cur = con.execute(sql, params)
        row = cur.fetchone()
        elapsed = (time.perf_counter() - start) * 1000
        if i == 0:
            first = {d[0]: row[j] for j, d in enumerate(cur.description)}
        else:
            times.append(elapsed)
    con.close()
    json.dump({k: as_int(v) for k, v in first.items()}, open(figures_file, "w"), indent=1)
    print(" ".join("%.3f" % t for t in times))

def flatten(value, prefix=""):
    out = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, prefix + k + "."))
    else:
        out[prefix[:-1]] = value
    return out

def compare(report, service_file, figures_file):
    """MATCH when every baseline figure equals the service's figure at the same path."""
    answer = json.load(open(service_file))
    if report == "funnel":
        groups = answer["groups"]
        if len(groups) != 1:
            print("MISMATCH: the service answered %d groups, expected 1" % len(groups))
            return
        service = flatten(groups[0]["counts"])
    else:
        service = flatten({"twelve_month": answer["twelve_month"], "seven_day": answer["seven_day"]})
    baseline = json.load(open(figures_file))
    wrong = ["%s (service %s, baseline %s)" % (k, service.get(k, "absent"), v)
             for k, v in baseline.items() if service.get(k, "absent") != v]
    print("MATCH" if not wrong else "MISMATCH: " + "; ".join(wrong))

def sqlite_version():
    print(sqlite3.sqlite_version)

def sqlite_counts(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    print(" ".join(str(con.execute("SELECT count(*) FROM %s" % t).fetchone()[0])
                   for t in ("attendances", "screenings", "referrals", "bookings")))

{"pg-parse": pg_parse, "sqlite-run": sqlite_run, "compare": compare,
 "sqlite-version": sqlite_version, "sqlite-counts": sqlite_counts}[sys.argv[1]](*sys.argv[2:])
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
# seconds_since START_NS: seconds elapsed, one decimal.
seconds_since() {
    awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'
}
# human_bytes N: 123 MB / 1.23 GB.
human_bytes() {
    awk -v b="$1" 'BEGIN { if (b >= 1e9) printf "%.2f GB", b / 1e9; else printf "%.0f MB", b / 1e6 }'
}
# stats MS…: "median p90 max" (p90 by nearest rank: with 7 values it is the largest).
stats() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
              r = int(0.9 * NR); if (r < 0.9 * NR) r++; if (r < 1) r = 1;
              printf "%.1f %.1f %.1f\n", m, v[r], v[NR] }'
}
# free_bytes DIR: bytes available on DIR's file system.
free_bytes() {
    df -P -B1 "$1" | awk 'NR == 2 { print $4 }'
}

# timed_get PATH OUT: GET with the auditor's token, answer to OUT; prints the time in ms (curl's
# time_total) and dies unless the answer is 200.
timed_get() {
    local result code
    result="$(curl -sS --max-time 900 -o "$2" -w '%{http_code} %{time_total}' \
        -H "Authorization: Bearer $TOKEN" "$BASE_URL$1")" || {
        if [ -n "$SERVICE_PID" ] && ! kill -0 "$SERVICE_PID" 2>/dev/null; then
            die "GET $1: the service (pid $SERVICE_PID) is no longer running"
        fi
        die "GET $1: curl failed"
    }
    code="${result%% *}"
    if [ "$code" != 200 ]; then
        cat "$2" >&2
        echo >&2
        die "GET $1 answered HTTP $code"
    fi
    awk -v s="${result#* }" 'BEGIN { printf "%.3f", s * 1000 }'
}

psql_db() { # psql_db DB ARGS…: unaligned, tuples only, stop at the first error
    local db="$1"
    shift
    "$PG_BIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U postgres -d "$db" -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

# pg_baseline DB REPORT NOW TAG: runs the report's baseline query through psql (\timing on) once
# as a warm-up and REPEATS times; sets BASE_TIMES and writes the figures to $RESULTS/TAG.json.
pg_baseline() {
    local db="$1" report="$2" now="$3" tag="$4" args=(-c '\timing on') i
    for i in $(seq 0 "$REPEATS"); do
        args+=(-f "$RESULTS/baseline-$report.pg.sql")
    done
    "$PG_BIN/psql" -h "$PG_HOST" -p "$PG_PORT" -U postgres -d "$db" -X -q --csv -v ON_ERROR_STOP=1 \
        -v from_date="$FROM" -v to_date="$TO" -v now="$now" "${args[@]}" >"$RESULTS/$tag.out" 2>&1 \
        || { cat "$RESULTS/$tag.out" >&2; die "the $report baseline query failed on PostgreSQL"; }
    BASE_TIMES="$(python3 "$HELPER" pg-parse "$RESULTS/$tag.out" "$RESULTS/$tag.json")"
}

# sqlite_baseline FILE REPORT NOW TAG: the same through python3's sqlite3 module.
sqlite_baseline() {
    BASE_TIMES="$(python3 "$HELPER" sqlite-run "$1" "$RESULTS/baseline-$2.sqlite.sql" "$REPEATS" \
        "$FROM" "$TO" "$3" "$RESULTS/$4.json" 2>"$RESULTS/$4.err")" \
        || { cat "$RESULTS/$4.err" >&2; die "the $2 baseline query failed on SQLite"; }
}

echo "backend,attendances,report,side,run,ms" >"$RESULTS/runs.csv"
echo "backend,attendances,generation_s,vacuum_analyze_s,db_bytes,attendances_rows,screenings_rows,referrals_rows,bookings_rows" \
    >"$RESULTS/databases.csv"
TABLE_ROWS=""
NOTES=""
MISMATCHES=0
# Read and set indirectly as BYTES_PER_ATTENDANCE_<backend>.
# shellcheck disable=SC2034
BYTES_PER_ATTENDANCE_postgres=""
# shellcheck disable=SC2034
BYTES_PER_ATTENDANCE_sqlite=""

# measure BACKEND N GEN_S DB_BYTES DB (database name or SQLite file): the service's timings, the
# baseline's, the comparison; appends the two table rows.
measure() {
    local backend="$1" n="$2" gen_s="$3" db_bytes="$4" db="$5" report tag i ms now=""
    local target_var="TARGET_MS_$backend"
    local target="${!target_var}"
    local -a svc_funnel=() svc_reatt=()

    start_service "$RESULTS/service-$backend-$n.log"
    TOKEN="$(service_env "$SERVICE_BIN" token --role auditor --sub bench)"
    [ -n "$TOKEN" ] || die "pat-service token printed nothing"

    log "$backend $n: warm-up, then $REPEATS × funnel and reattendance for $FY_LABEL ($FROM to $TO), alternately"
    timed_get "$FUNNEL_PATH" "$RESULTS/funnel-$backend-$n-warmup.json" >/dev/null
    timed_get "$REATTENDANCE_PATH" "$RESULTS/reattendance-$backend-$n-warmup.json" >/dev/null
    for i in $(seq 1 "$REPEATS"); do
        ms="$(timed_get "$FUNNEL_PATH" "$RESULTS/funnel-$backend-$n.json")"
        svc_funnel+=("$ms")
        echo "$backend,$n,funnel,service,$i,$ms" >>"$RESULTS/runs.csv"
        # The 12-month cohorts depend on "now": the baseline uses the instant of the last request.
        now="$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)"
        ms="$(timed_get "$REATTENDANCE_PATH" "$RESULTS/reattendance-$backend-$n.json")"
        svc_reatt+=("$ms")
        echo "$backend,$n,reattendance,service,$i,$ms" >>"$RESULTS/runs.csv"
    done
    stop_service

    for report in funnel reattendance; do
        tag="baseline-$report-$backend-$n"
        log "$backend $n: $report baseline query, warm-up + $REPEATS runs"
        if [ "$backend" = postgres ]; then
            pg_baseline "$db" "$report" "$now" "$tag"
        else
            sqlite_baseline "$db" "$report" "$now" "$tag"
        fi
        i=0
        for ms in $BASE_TIMES; do
            i=$((i + 1))
            echo "$backend,$n,$report,baseline,$i,$ms" >>"$RESULTS/runs.csv"
        done
        local verdict
        verdict="$(python3 "$HELPER" compare "$report" "$RESULTS/$report-$backend-$n.json" "$RESULTS/$tag.json")"
        echo "$verdict" >"$RESULTS/$tag.compare.txt"
        local figures="MATCH"
        if [ "$verdict" != MATCH ]; then
            figures="MISMATCH"
            MISMATCHES=$((MISMATCHES + 1))
            NOTES+="- $backend, $n attendances, $report: $verdict"$'\n'
            log "WARNING: $backend $n $report: $verdict"
        fi
        local -a svc
        if [ "$report" = funnel ]; then svc=("${svc_funnel[@]}"); else svc=("${svc_reatt[@]}"); fi
        local s_med s_p90 s_max b_med
        read -r s_med s_p90 s_max <<<"$(stats "${svc[@]}")"
        # shellcheck disable=SC2086
        read -r b_med _ _ <<<"$(stats $BASE_TIMES)"
        log "  $report: service median $s_med ms (p90 $s_p90, max $s_max); baseline median $b_med ms; figures $figures"
        TABLE_ROWS+="$(awk -v be="$backend" -v n="$n" -v g="$gen_s" -v sz="$(human_bytes "$db_bytes")" \
            -v r="$report" -v m="$s_med" -v p="$s_p90" -v x="$s_max" -v b="$b_med" -v t="$target" \
            -v f="$figures" '
            function ms(v) { return v < 100 ? sprintf("%.1f", v) : sprintf("%.0f", v) }
            BEGIN {
                printf "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s |\n",
                    be, n, g, sz, r, ms(m), ms(p), ms(x), ms(b), (b > 0 ? sprintf("%.2f", m / b) : "n/a"), t,
                    (m < t ? "PASS" : "FAIL"), f }')"$'\n'
    done
}

# ----- The runs -----

for backend in $BACKENDS; do
    if [ "$backend" = postgres ]; then
        bench_pg_start
        DATA_DIR="$PG_DIR"
    else
        SQLITE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pat-bench-sqlite.XXXXXX")"
        DATA_DIR="$SQLITE_DIR"
    fi
    for n in $SIZES; do
        if [ "$backend" = sqlite ] && [ "$n" -gt "$SQLITE_MAX" ]; then
            log "sqlite $n: skipped (above BENCH_SQLITE_MAX=$SQLITE_MAX; the issue asks 10M of PostgreSQL only)"
            NOTES+="- sqlite, $n attendances: skipped (above BENCH_SQLITE_MAX=$SQLITE_MAX)."$'\n'
            continue
        fi
        # Enough disk? Estimated from the bytes per attendance of a smaller database of this run
        # (3 kB before there is one), with half as much again for WAL, sorts and VACUUM, + 2 GB.
        bpa_var="BYTES_PER_ATTENDANCE_$backend"
        bpa="${!bpa_var:-3000}"
        need="$(awk -v b="$bpa" -v n="$n" 'BEGIN { printf "%.0f", b * n * 1.5 + 2e9 }')"
        free="$(free_bytes "$DATA_DIR")"
        if [ "$free" -lt "$need" ]; then
            log "$backend $n: skipped, it would need about $(human_bytes "$need") of disk and $(human_bytes "$free") is free"
            NOTES+="- $backend, $n attendances: skipped for disk space (needs about $(human_bytes "$need"), $(human_bytes "$free") free)."$'\n'
            continue
        fi

        vacuum_s=""
        if [ "$backend" = postgres ]; then
            db="bench_$n"
            "$PG_BIN/createdb" -h "$PG_HOST" -p "$PG_PORT" -U postgres "$db"
            BENCH_DB_URL="postgres://postgres@$PG_HOST:$PG_PORT/$db"
        else
            db="$SQLITE_DIR/bench-$n.db"
            BENCH_DB_URL="sqlite://$db"
        fi
        log "$backend $n: pat-service demo-data --attendances $n --years $YEARS --seed $SEED"
        t0="$(now_ns)"
        service_env "$SERVICE_BIN" demo-data --attendances "$n" --years "$YEARS" --seed "$SEED" \
            >"$RESULTS/demo-data-$backend-$n.log" 2>&1 \
            || { tail -n 30 "$RESULTS/demo-data-$backend-$n.log" >&2; die "demo-data failed ($backend, $n)"; }
        gen_s="$(seconds_since "$t0")"
        if [ "$backend" = postgres ]; then
            t0="$(now_ns)"
            psql_db "$db" -c "VACUUM ANALYZE"
            vacuum_s="$(seconds_since "$t0")"
            db_bytes="$(psql_db "$db" -c "SELECT pg_database_size(current_database())")"
            counts="$(psql_db "$db" -F ' ' -c "SELECT (SELECT count(*) FROM attendances), (SELECT count(*) FROM screenings),
                (SELECT count(*) FROM referrals), (SELECT count(*) FROM bookings)")"
        else
            db_bytes=0
            for f in "$db" "$db-wal"; do
                if [ -f "$f" ]; then db_bytes=$((db_bytes + $(stat -c %s "$f"))); fi
            done
            counts="$(python3 "$HELPER" sqlite-counts "$db")"
        fi
        read -r c_att c_scr c_ref c_book <<<"$counts"
        log "$backend $n: generated in $gen_s s${vacuum_s:+ (VACUUM ANALYZE $vacuum_s s)}, $(human_bytes "$db_bytes"); rows: $c_att attendances, $c_scr screenings, $c_ref referrals, $c_book bookings"
        echo "$backend,$n,$gen_s,$vacuum_s,$db_bytes,$c_att,$c_scr,$c_ref,$c_book" >>"$RESULTS/databases.csv"
        [ "$c_att" = "$n" ] || NOTES+="- $backend: asked for $n attendances, the database holds $c_att."$'\n'
        printf -v "BYTES_PER_ATTENDANCE_$backend" '%s' "$((db_bytes / n))"

        measure "$backend" "$n" "$gen_s" "$db_bytes" "$db"

        # Free the disk for the next size.
        if [ "$backend" = postgres ]; then
            "$PG_BIN/dropdb" -h "$PG_HOST" -p "$PG_PORT" -U postgres "$db"
        else
            rm -f "$db" "$db-wal" "$db-shm"
        fi
    done
    if [ "$backend" = postgres ]; then
        PG_VERSION="$("$PG_BIN/postgres" --version)"
        pg_stop
    else
        remove_sqlite_dir
    fi
done

# ----- Summary -----

CPU_MODEL="$(cpu_model)"
MEM="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY=""
if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null || true)" ]; then
    DIRTY=" (with uncommitted changes)"
fi
PY_SQLITE="$(python3 "$HELPER" sqlite-version)"
LIBSQLITE="$(awk '/^name = "libsqlite3-sys"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock" 2>/dev/null || true)"
SERVICE_SQLITE=""
if [ -n "$LIBSQLITE" ]; then
    header="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"libsqlite3-sys-$LIBSQLITE"/sqlite3/sqlite3.h 2>/dev/null | head -n 1 || true)"
    if [ -n "$header" ]; then
        SERVICE_SQLITE="$(sed -n 's/^#define SQLITE_VERSION *"\([0-9.]*\)".*/\1/p' "$header")"
    fi
fi
{
    echo "## pat-service statistics vs one hand-written query"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); commit $COMMIT$DIRTY; \`demo-data --years $YEARS --seed $SEED\`; financial year $FY_LABEL (\`from=$FROM&to=$TO\`, Europe/London); median of $REPEATS requests (or baseline runs) after one warm-up each; p90 by nearest rank."
    echo
    echo "| backend | attendances | generation s | DB size | report | service median ms | p90 ms | max ms | baseline median ms | ratio service/baseline | target ms | result | figures |"
    echo "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|"
    printf '%s' "$TABLE_ROWS"
    echo
    echo "Service: \`GET $FUNNEL_PATH\` and \`GET $REATTENDANCE_PATH\` (role auditor), timed by curl (\`time_total\`) against the release binary, which also writes an audit event per request. Baseline: one query per report (bench/results/statistics-$STAMP/baseline-*.sql), PostgreSQL through \`psql\` with \`\\timing\`, SQLite through python3's sqlite3 module (SQLite $PY_SQLITE; the service's bundled SQLite is ${SERVICE_SQLITE:-unknown}${LIBSQLITE:+, libsqlite3-sys $LIBSQLITE}). figures: MATCH when every count the baseline computes equals the service's JSON."
    echo "Machine: $(nproc) cores, ${CPU_MODEL:-unknown CPU}, $MEM memory; ${PG_VERSION:-PostgreSQL not run} (throwaway cluster, default settings, fsync on); the service, the database and curl share these cores."
    if [ -n "$NOTES" ]; then
        echo
        printf '%s' "$NOTES"
    fi
    echo
    echo "Raw results: bench/results/statistics-$STAMP/."
} | tee "$RESULTS/summary.md"

if [ "$MISMATCHES" -ne 0 ]; then
    die "$MISMATCHES report(s) where the service's figures differ from the baseline query's"
fi
