#!/usr/bin/env python3
"""The crash-safety test's checker (bench/crash.sh): holds the load generator's ledger of every
request it sent against the database the service wrote, and recomputes every attendance's pathway
summary from the source tables.

    crash_check.py --ledger ledger.csv --sqlite crash.db
    crash_check.py --ledger ledger.csv --psql /usr/lib/postgresql/15/bin/psql --url postgres://…

It reads the rows with plain SELECTs (psql's COPY … TO STDOUT on PostgreSQL, python3's sqlite3
module on SQLite) and does every comparison here, in Python, from the definitions
(docs/domain.md §7, the pathway summary migration `2026-11-30-000004_pathway_summary` and its
successors), not from the service's SQL or the triggers. Prints one line of JSON:

- lost: acknowledged requests whose write is not in the database (an attendance acknowledged
  whose (source_system, source_id) has no row, or a row with another id than the one answered;
  a screening acknowledged whose attendance has no screening);
- duplicated: rows beyond the first for one (source_system, source_id), and screening versions
  beyond the first (every PUT of a pair carries the same body, so a second version is a
  duplicate);
- unexplained: attendances in the database that no request of the ledger sent;
- committed_unacknowledged: writes present although their request was never acknowledged (the
  crash came between the commit and the answer and the drain ended before a retry got through);
- summaries_checked / summaries_mismatched: attendance rows whose summary columns
  (screening_version, _status, _result, _advice_given, _leaflet_given, referral_decision,
  unplanned_within_7d) were recomputed, and those that differ; booking_summaries must hold
  exactly one row per referral with a booking or an unmet attempt (none in this load);
- seven_day_true: how many of the rows have the 7-day fact set (the recomputation says so too);
- audit_mismatched: attendances or first screenings without exactly one `create` audit event.

Exit status 0 whatever it finds (the caller judges the figures); 2 when it cannot read its input.
"""

import argparse
import bisect
import csv
import datetime
import io
import json
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict

SOURCE_SYSTEM = "bench"
# The 7-day window: (arrival, arrival + 7 × 24 h], in microseconds.
SEVEN_DAYS_US = 7 * 24 * 3600 * 1_000_000

ATTENDANCES = """
SELECT id, source_system, source_id, patient_key, {arrived_us}, attendance_category,
       entered_in_error_at IS NOT NULL, screening_version, screening_status, screening_result,
       screening_advice_given, screening_leaflet_given, referral_decision, unplanned_within_7d
FROM attendances"""
SCREENINGS = "SELECT attendance_id, version, status, result, advice_given, leaflet_given FROM screenings"
REFERRALS = "SELECT attendance_id, decision FROM referrals"
CREATE_EVENTS = """
SELECT resource_type, resource_id, count(*) FROM audit_events
WHERE action = 'create' AND resource_type IN ('attendance', 'screening')
GROUP BY resource_type, resource_id"""
BOOKED = """
SELECT attendance_id FROM bookings UNION SELECT attendance_id FROM booking_attempts"""
BOOKING_SUMMARIES = "SELECT attendance_id FROM booking_summaries"


def sqlite_us(text):
    """'YYYY-MM-DDTHH:MM:SS.ffffffZ' (the service's SQLite time) as microseconds since the epoch."""
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


class Sqlite:
    def __init__(self, path):
        # Read only: the checker must not change what it checks.
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def rows(self, sql):
        sql = sql.replace("{arrived_us}", "arrived_at")
        rows = [list(r) for r in self.db.execute(sql)]
        if "FROM attendances" in sql:
            for r in rows:
                r[4] = sqlite_us(r[4])
        return [[norm(v) for v in r] for r in rows]


class Postgres:
    def __init__(self, psql, url):
        self.psql, self.url = psql, url

    def rows(self, sql):
        sql = sql.replace("{arrived_us}", "(extract(epoch FROM arrived_at) * 1000000)::bigint")
        # NULL as \N (never a value here), so that an empty text stays apart from a NULL.
        copy = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, NULL '\\N')"
        out = subprocess.run([self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url, "-c", copy],
                             check=True, capture_output=True, text=True).stdout
        rows = []
        for r in csv.reader(io.StringIO(out)):
            rows.append([norm(None if v == "\\N" else {"t": True, "f": False}.get(v, v)) for v in r])
        return rows


def norm(value):
    """One spelling per value across the backends: integers as int, booleans as bool."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


def as_bool(value):
    return None if value is None else bool(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--sqlite")
    parser.add_argument("--psql")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.sqlite:
        db = Sqlite(args.sqlite)
    elif args.psql and args.url:
        db = Postgres(args.psql, args.url)
    else:
        parser.error("--sqlite PATH, or --psql PATH and --url URL")

    with open(args.ledger, newline="") as f:
        ledger = list(csv.DictReader(f))
    if not ledger:
        print("crash_check: the ledger is empty", file=sys.stderr)
        sys.exit(2)

    attendances = db.rows(ATTENDANCES)
    screenings = db.rows(SCREENINGS)
    referrals = {r[0]: r[1] for r in db.rows(REFERRALS)}
    create_events = {(r[0], r[1]): r[2] for r in db.rows(CREATE_EVENTS)}
    booked = {r[0] for r in db.rows(BOOKED)}
    booking_summaries = [r[0] for r in db.rows(BOOKING_SUMMARIES)]

    by_source = defaultdict(list)
    for a in attendances:
        by_source[(a[1], str(a[2]))].append(a[0])
    versions = defaultdict(list)
    for s in screenings:
        versions[s[0]].append(s)

    # ----- The ledger against the rows -----
    lost = unexplained = committed_unacknowledged = 0
    lost_examples = []
    sent_sources = set()
    for entry in ledger:
        source = (SOURCE_SYSTEM, entry["source_id"])
        sent_sources.add(source)
        acknowledged = 200 <= int(entry["status"]) < 300
        ids = by_source.get(source, [])
        if entry["kind"] == "attendance":
            present = entry["attendance_id"] in ids if acknowledged else bool(ids)
        else:
            present = bool(versions.get(entry["attendance_id"]))
        if acknowledged and not present:
            lost += 1
            if len(lost_examples) < 5:
                lost_examples.append(entry)
        elif present and not acknowledged:
            committed_unacknowledged += 1
    for source in by_source:
        if source not in sent_sources:
            unexplained += 1

    duplicated = sum(len(ids) - 1 for ids in by_source.values() if len(ids) > 1)
    duplicated += sum(len(vs) - 1 for vs in versions.values() if len(vs) > 1)

    # ----- Audit: one create event per attendance and per first screening -----
    audit_mismatched = 0
    for a in attendances:
        if create_events.get(("attendance", a[0]), 0) != 1:
            audit_mismatched += 1
    for attendance_id in versions:
        if create_events.get(("screening", attendance_id), 0) != 1:
            audit_mismatched += 1

    # ----- The pathway summaries, recomputed -----
    # Per patient, the arrivals of the unplanned attendances not entered in error, sorted.
    returns = defaultdict(list)
    for a in attendances:
        if a[5] == "unplanned" and not a[6]:
            returns[a[3]].append(a[4])
    for arrivals in returns.values():
        arrivals.sort()
    mismatched = seven_day_true = 0
    mismatch_examples = []
    for a in attendances:
        (aid, _, _, patient, arrived, _, _, version, status, result, advice, leaflet, decision, within_7d) = a
        current = max(versions.get(aid, []), key=lambda s: s[1], default=None)
        expected_screening = (
            (current[1], current[2], current[3], as_bool(current[4]), as_bool(current[5]))
            if current else (None, None, None, None, None))
        arrivals = returns.get(patient, [])
        i = bisect.bisect_right(arrivals, arrived)
        expected_7d = i < len(arrivals) and arrivals[i] <= arrived + SEVEN_DAYS_US
        stored = ((version, status, result, as_bool(advice), as_bool(leaflet)), decision, bool(within_7d))
        expected = (expected_screening, referrals.get(aid), expected_7d)
        seven_day_true += expected_7d
        if stored != expected:
            mismatched += 1
            if len(mismatch_examples) < 5:
                mismatch_examples.append({"attendance": aid, "stored": stored, "expected": expected})
    # Booking summaries: one row per referral with a booking or an unmet attempt.
    summaries_checked = len(attendances)
    if Counter(booking_summaries) != Counter(booked):
        mismatched += len(set(booking_summaries) ^ booked) or 1
    summaries_checked += len(booked)

    figures = {
        "ledger_requests": len(ledger),
        "ledger_acknowledged": sum(200 <= int(e["status"]) < 300 for e in ledger),
        "attendance_rows": len(attendances),
        "screening_rows": len(screenings),
        "lost": lost,
        "duplicated": duplicated,
        "unexplained": unexplained,
        "committed_unacknowledged": committed_unacknowledged,
        "summaries_checked": summaries_checked,
        "summaries_mismatched": mismatched,
        "seven_day_true": seven_day_true,
        "audit_mismatched": audit_mismatched,
    }
    print(json.dumps(figures, separators=(",", ":")))
    for example in lost_examples:
        print(f"crash_check: LOST: {json.dumps(example)}", file=sys.stderr)
    for example in mismatch_examples:
        print(f"crash_check: SUMMARY MISMATCH: {json.dumps(example, default=str)}", file=sys.stderr)


if __name__ == "__main__":
    main()
