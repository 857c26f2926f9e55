//! Health workers and their slots (issue 3, /tmp/scheduling-api.md "Health workers", "Slots"):
//! the register, single slots, rotas in Europe/London local time (clock changes included), the
//! no-overlap rule at its exact edges, atomic rotas, the `GET /slots` filters and withdrawal.
//!
//! Expected slot times are worked out by hand: in July the UK is on BST (UTC+1), so 09:00 local is
//! 08:00Z; before the last Sunday of October it is BST, from that Sunday GMT (UTC+0); before the
//! last Sunday of March GMT, from that Sunday BST.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use serde_json::{json, Value};

use crate::helpers::spawn_app;
use crate::scheduling_helpers::{
    accepted_attendance, assert_kind, at, booked, cancel, delete, fields, health_worker, health_worker_named, id_of,
    ids, json_with, list_slots, london_today, next_summer_day, now, q, slot, slot_at, slot_body, slot_value, try_slot,
    HEALTH_WORKERS, SLOTS,
};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn rota(
    hw: &str,
    from: NaiveDate,
    to: NaiveDate,
    weekdays: &[&str],
    day_start: &str,
    day_end: &str,
    slot_minutes: i64,
) -> Value {
    json!({
        "health_worker_id": hw,
        "from_date": from.to_string(),
        "to_date": to.to_string(),
        "weekdays": weekdays,
        "day_start": day_start,
        "day_end": day_end,
        "slot_minutes": slot_minutes,
    })
}

/// The first Monday on or after `date`.
fn monday_on_or_after(date: NaiveDate) -> NaiveDate {
    let ahead = (7 - date.weekday().num_days_from_monday()) % 7;
    date + Duration::days(i64::from(ahead))
}

/// The next Monday strictly after today (Europe/London).
fn next_monday() -> NaiveDate {
    monday_on_or_after(london_today() + Duration::days(1))
}

/// The last Sunday of `month` in `year` (the UK's clock-change day in March and October).
fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let last = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1).unwrap()
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1).unwrap()
    } - Duration::days(1);
    last - Duration::days(i64::from(last.weekday().num_days_from_sunday()))
}

/// The next clock-change Sunday of `month` whose Saturday is still ahead of us.
fn next_change_sunday(month: u32) -> NaiveDate {
    let today = london_today();
    let this_year = last_sunday(today.year(), month);
    let sunday = if this_year - Duration::days(1) > today {
        this_year
    } else {
        last_sunday(today.year() + 1, month)
    };
    assert_eq!(sunday.weekday(), Weekday::Sun);
    sunday
}

fn starts(slots: &[Value]) -> Vec<DateTime<Utc>> {
    slots.iter().map(|s| at(&s["starts_at"])).collect()
}

fn ends(slots: &[Value]) -> Vec<DateTime<Utc>> {
    slots.iter().map(|s| at(&s["ends_at"])).collect()
}

async fn post_rota(app: &crate::helpers::TestApp, body: &Value, status: u16, why: &str) -> Vec<Value> {
    let resp = app.post_json(SLOTS, "ahw", body).await;
    let body = json_with(resp, status, why).await;
    body["slots"]
        .as_array()
        .unwrap_or_else(|| panic!("{why}: {{slots: [...]}}: {body}"))
        .clone()
}

// --- health workers -------------------------------------------------------------------------

#[tokio::test]
async fn health_workers_are_registered_and_listed_by_name() {
    // Arrange
    let app = spawn_app().await;
    let before = now();

    // Act
    let zoe = app
        .post_json(
            HEALTH_WORKERS,
            "admin",
            &json!({ "name": "Zoe Quinn", "staff_id": "AHW-0042", "subject": "zoe.quinn" }),
        )
        .await;
    let zoe = json_with(zoe, 201, "a full record").await;
    let adam = app
        .post_json(HEALTH_WORKERS, "admin", &json!({ "name": "Adam Price" }))
        .await;
    let adam = json_with(adam, 201, "a name alone is enough").await;
    let mary = health_worker_named(&app, "Mary Jones").await;

    // Assert
    assert!(
        uuid::Uuid::parse_str(zoe["id"].as_str().unwrap_or_default()).is_ok(),
        "{zoe}"
    );
    assert_eq!(zoe["name"], "Zoe Quinn");
    assert_eq!(zoe["staff_id"], "AHW-0042");
    assert_eq!(zoe["subject"], "zoe.quinn");
    let created = at(&zoe["created_at"]);
    assert!(
        created >= before - Duration::seconds(1) && created <= now() + Duration::seconds(1),
        "created_at is the time of the request: {created}"
    );
    assert_eq!(adam["staff_id"], Value::Null, "staff_id is optional");
    assert_eq!(adam["subject"], Value::Null, "subject is optional");
    for role in ["admin", "ahw", "clinician"] {
        let list = json_with(app.get(HEALTH_WORKERS, role).await, 200, role).await;
        let list = list["health_workers"].as_array().unwrap().clone();
        let names: Vec<&str> = list.iter().map(|w| w["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["Adam Price", "Mary Jones", "Zoe Quinn"],
            "{role}: ordered by name, not by creation"
        );
        assert_eq!(
            ids(&list),
            [id_of(&adam), id_of(&mary), id_of(&zoe)],
            "{role}: the stored records"
        );
        assert_eq!(list[2], zoe, "{role}: the list shows the record as created");
    }
}

#[tokio::test]
async fn a_duplicate_staff_id_or_subject_is_409() {
    // Arrange
    let app = spawn_app().await;
    let first = app
        .post_json(
            HEALTH_WORKERS,
            "admin",
            &json!({ "name": "Sam Okafor", "staff_id": "AHW-7", "subject": "sam.okafor" }),
        )
        .await;
    json_with(first, 201, "the first registration").await;
    // (body, expected status, why)
    let cases = [
        (
            json!({ "name": "Sam Okafor", "staff_id": "AHW-7", "subject": "someone.else" }),
            409,
            "the same staff_id again",
        ),
        (
            json!({ "name": "Another Person", "staff_id": "AHW-8", "subject": "sam.okafor" }),
            409,
            "the same subject again",
        ),
        (
            json!({ "name": "Sam Okafor", "staff_id": "AHW-9" }),
            201,
            "names need not be unique: two people can share a name",
        ),
        (
            json!({ "name": "No Ids One" }),
            201,
            "a worker without staff_id or subject",
        ),
        (
            json!({ "name": "No Ids Two" }),
            201,
            "a second one: absent ids do not collide",
        ),
    ];

    for (body, status, why) in cases {
        // Act
        let resp = app.post_json(HEALTH_WORKERS, "admin", &body).await;

        // Assert
        if status == 409 {
            assert_kind(resp, 409, "duplicate-health-worker", why).await;
        } else {
            json_with(resp, status, why).await;
        }
    }
    let list = json_with(app.get(HEALTH_WORKERS, "admin").await, 200, "list").await;
    assert_eq!(
        list["health_workers"].as_array().unwrap().len(),
        4,
        "the two refused registrations stored nothing"
    );
}

#[tokio::test]
async fn a_health_worker_without_a_name_is_422() {
    // Arrange: (body, why)
    let app = spawn_app().await;
    let cases = [
        (json!({ "name": "" }), "an empty name"),
        (json!({ "name": "   " }), "a name of spaces is empty"),
        (json!({ "staff_id": "AHW-1" }), "no name at all"),
    ];

    for (body, why) in cases {
        // Act
        let resp = app.post_json(HEALTH_WORKERS, "admin", &body).await;

        // Assert
        let problem = assert_kind(resp, 422, "validation", why).await;
        assert!(
            fields(&problem).contains(&"name".to_owned()),
            "{why}: names the field: {problem}"
        );
    }
    let list = json_with(app.get(HEALTH_WORKERS, "admin").await, 200, "list").await;
    assert_eq!(list["health_workers"], json!([]), "nothing was stored");
}

// --- single slots ---------------------------------------------------------------------------

#[tokio::test]
async fn a_single_slot_is_created_with_its_fields() {
    // Arrange
    let app = spawn_app().await;
    let worker = health_worker_named(&app, "Priya Shah").await;
    let hw = id_of(&worker);
    let starts = now() + Duration::hours(3);
    let ends = starts + Duration::minutes(30);

    // Act
    let created = slot_value(&app, &hw, starts, ends).await;

    // Assert
    assert!(uuid::Uuid::parse_str(created["id"].as_str().unwrap_or_default()).is_ok());
    assert_eq!(created["health_worker_id"], hw.as_str());
    assert_eq!(created["health_worker_name"], "Priya Shah");
    assert_eq!(at(&created["starts_at"]), starts);
    assert_eq!(at(&created["ends_at"]), ends);
    assert_eq!(created["available"], true, "a new slot is free");
    assert_eq!(created["booking_id"], Value::Null);
    let listed = list_slots(&app, &format!("health_worker_id={hw}")).await;
    assert_eq!(listed, vec![created], "GET /slots shows the slot as created");
}

#[tokio::test]
async fn an_ahw_may_publish_slots_too() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let starts = now() + Duration::hours(5);

    // Act
    let resp = app
        .post_json(SLOTS, "ahw", &slot_body(&hw, starts, starts + Duration::minutes(45)))
        .await;

    // Assert
    let body = json_with(resp, 201, "an AHW publishes their own availability").await;
    assert_eq!(body["slots"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_single_slots_are_422_and_unknown_workers_404() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let t = now() + Duration::days(2);
    let twelve_hours = Duration::hours(12);
    // (body, why)
    let invalid = [
        (slot_body(&hw, t, t), "ends_at equal to starts_at is not after it"),
        (slot_body(&hw, t, t - Duration::minutes(30)), "ends_at before starts_at"),
        (
            slot_body(&hw, t, t + twelve_hours + Duration::minutes(1)),
            "12 h 1 min is longer than 12 h",
        ),
        (
            slot_body(&hw, now() - Duration::hours(1), now() - Duration::minutes(30)),
            "a slot starting an hour ago is in the past",
        ),
        (
            json!({ "health_worker_id": hw, "starts_at": crate::scheduling_helpers::rfc(t) }),
            "no ends_at",
        ),
        (
            json!({ "health_worker_id": hw, "starts_at": "tomorrow at ten", "ends_at": crate::scheduling_helpers::rfc(t) }),
            "starts_at is not RFC 3339",
        ),
    ];

    for (body, why) in invalid {
        // Act
        let resp = app.post_json(SLOTS, "admin", &body).await;

        // Assert
        assert_problem_422(resp, why).await;
    }
    assert_eq!(
        list_slots(&app, &format!("to={}", q(t + Duration::days(3)))).await,
        Vec::<Value>::new(),
        "none of the refused slots was stored"
    );

    // Act + Assert: exactly 12 h is allowed (the limit is "longer than 12 h").
    let long = slot_value(&app, &hw, t, t + twelve_hours).await;
    assert_eq!(at(&long["ends_at"]) - at(&long["starts_at"]), twelve_hours);

    // Act + Assert: an unknown health worker.
    let unknown = uuid::Uuid::new_v4().to_string();
    let resp = try_slot(
        &app,
        &unknown,
        t + Duration::days(1),
        t + Duration::days(1) + Duration::hours(1),
    )
    .await;
    assert_kind(resp, 404, "not-found", "an unknown health worker").await;
}

// --- rotas ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_rota_makes_every_slot_of_a_summer_week() {
    // Arrange: Mon/Wed/Fri 09:00–12:00 in 30-minute slots over one week: 3 days × 6 slots = 18.
    // July is BST (UTC+1): local 09:00, 09:30, …, 11:30 are 08:00Z, 08:30Z, …, 10:30Z.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let monday = monday_on_or_after(next_summer_day() - Duration::days(14));
    let sunday = monday + Duration::days(6);
    let body = rota(&hw, monday, sunday, &["mon", "wed", "fri"], "09:00", "12:00", 30);
    let mut expected = vec![];
    for day in [monday, monday + Duration::days(2), monday + Duration::days(4)] {
        for (h, m) in [(8, 0), (8, 30), (9, 0), (9, 30), (10, 0), (10, 30)] {
            expected.push(utc(day.year(), day.month(), day.day(), h, m));
        }
    }
    assert_eq!(expected.len(), 18);

    // Act
    let created = post_rota(&app, &body, 201, "the rota").await;

    // Assert
    let mut got = starts(&created);
    got.sort();
    assert_eq!(got, expected, "every slot start, in UTC");
    for s in &created {
        assert_eq!(
            at(&s["ends_at"]) - at(&s["starts_at"]),
            Duration::minutes(30),
            "30-minute slots: {s}"
        );
        assert_eq!(s["health_worker_id"], hw.as_str());
        assert_eq!(s["available"], true);
    }
    let from = utc(monday.year(), monday.month(), monday.day(), 0, 0) - Duration::hours(1);
    let listed = list_slots(
        &app,
        &format!(
            "from={}&to={}&health_worker_id={hw}",
            q(from),
            q(from + Duration::days(8))
        ),
    )
    .await;
    assert_eq!(starts(&listed), expected, "listed in start order, nothing extra");
}

#[tokio::test]
async fn a_rota_across_the_october_clock_change_keeps_local_times() {
    // Arrange: Saturday is still BST (09:00 local = 08:00Z); on the last Sunday of October the
    // clocks go back at 02:00 BST, so Sunday and Monday 09:00 local = 09:00Z.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let sunday = next_change_sunday(10);
    let saturday = sunday - Duration::days(1);
    let monday = sunday + Duration::days(1);
    let body = rota(&hw, saturday, monday, &["sat", "sun", "mon"], "09:00", "10:00", 30);
    let d = |day: NaiveDate, h: u32, m: u32| utc(day.year(), day.month(), day.day(), h, m);
    let expected_starts = vec![
        d(saturday, 8, 0),
        d(saturday, 8, 30),
        d(sunday, 9, 0),
        d(sunday, 9, 30),
        d(monday, 9, 0),
        d(monday, 9, 30),
    ];
    let expected_ends: Vec<DateTime<Utc>> = expected_starts.iter().map(|s| *s + Duration::minutes(30)).collect();

    // Act
    let mut created = post_rota(&app, &body, 201, "the rota across the clock change").await;

    // Assert
    created.sort_by_key(|s| at(&s["starts_at"]));
    assert_eq!(starts(&created), expected_starts, "local 09:00 and 09:30 each day");
    assert_eq!(ends(&created), expected_ends);
}

#[tokio::test]
async fn a_rota_across_the_march_clock_change_keeps_local_times() {
    // Arrange: Saturday is GMT (09:00 local = 09:00Z); on the last Sunday of March the clocks go
    // forward at 01:00 GMT, so Sunday and Monday 09:00 local = 08:00Z.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let sunday = next_change_sunday(3);
    let saturday = sunday - Duration::days(1);
    let monday = sunday + Duration::days(1);
    let body = rota(&hw, saturday, monday, &["sat", "sun", "mon"], "09:00", "10:00", 30);
    let d = |day: NaiveDate, h: u32, m: u32| utc(day.year(), day.month(), day.day(), h, m);
    let expected = vec![
        d(saturday, 9, 0),
        d(saturday, 9, 30),
        d(sunday, 8, 0),
        d(sunday, 8, 30),
        d(monday, 8, 0),
        d(monday, 8, 30),
    ];

    // Act
    let mut created = post_rota(&app, &body, 201, "the rota across the clock change").await;

    // Assert
    created.sort_by_key(|s| at(&s["starts_at"]));
    assert_eq!(starts(&created), expected, "local 09:00 and 09:30 each day");
}

#[tokio::test]
async fn a_rota_skips_a_local_time_that_does_not_exist() {
    // Arrange: on the last Sunday of March local time jumps from 01:00 GMT to 02:00 BST, so 01:00
    // local does not exist and is skipped; 02:00–03:00 BST is 01:00Z–02:00Z. One slot.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let sunday = next_change_sunday(3);
    let body = rota(&hw, sunday, sunday, &["sun"], "01:00", "03:00", 60);

    // Act
    let created = post_rota(&app, &body, 201, "a rota on the spring-forward night").await;

    // Assert
    let d = |h: u32| utc(sunday.year(), sunday.month(), sunday.day(), h, 0);
    assert_eq!(starts(&created), vec![d(1)], "only the 02:00 BST slot: {created:?}");
    assert_eq!(ends(&created), vec![d(2)]);
}

#[tokio::test]
async fn a_rota_of_92_days_is_the_longest_allowed() {
    // Arrange: from a Monday to 92 days later inclusive (days 0..=92); Mondays fall on days 0, 7,
    // …, 91: 14 Mondays, one 30-minute slot each.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let monday = next_monday();
    let body = rota(&hw, monday, monday + Duration::days(92), &["mon"], "10:00", "10:30", 30);

    // Act
    let created = post_rota(&app, &body, 201, "92 days").await;

    // Assert
    assert_eq!(created.len(), 14, "one slot on each of the 14 Mondays");
}

#[tokio::test]
async fn invalid_rotas_are_422_and_create_nothing() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let monday = next_monday();
    let sunday = monday + Duration::days(6);
    let week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let yesterday = london_today() - Duration::days(1);
    // (body, why)
    let cases = vec![
        (
            rota(&hw, monday, sunday, &["mon"], "09:00", "12:00", 4),
            "slot_minutes 4 is below 5",
        ),
        (
            rota(&hw, monday, sunday, &["mon"], "09:00", "17:00", 241),
            "slot_minutes 241 is above 240",
        ),
        (
            rota(&hw, sunday, monday, &["mon"], "09:00", "12:00", 30),
            "to_date before from_date",
        ),
        (
            rota(&hw, monday, monday + Duration::days(93), &["mon"], "09:00", "09:30", 30),
            "to_date 93 days after from_date",
        ),
        (
            rota(&hw, monday, sunday, &["mon", "funday"], "09:00", "12:00", 30),
            "an unknown weekday",
        ),
        (
            rota(&hw, monday, sunday, &[], "09:00", "12:00", 30),
            "no weekdays: no slot produced",
        ),
        (
            rota(&hw, monday, sunday, &["mon"], "09:00", "09:20", 30),
            "a 30-minute slot does not fit in 20 minutes: no slot produced",
        ),
        (
            rota(&hw, monday, sunday, &["mon"], "12:00", "09:00", 30),
            "day_end before day_start: no slot produced",
        ),
        (
            rota(&hw, monday, monday, &["sat"], "09:00", "12:00", 30),
            "a range of one Monday with Saturdays only: no slot produced",
        ),
        (
            rota(&hw, monday, monday + Duration::days(92), &week, "00:00", "23:55", 5),
            "93 days × 287 five-minute slots is far more than 2000",
        ),
        (
            rota(
                &hw,
                yesterday,
                yesterday + Duration::days(1),
                &week,
                "09:00",
                "10:00",
                30,
            ),
            "yesterday's slots start in the past",
        ),
        (
            rota(&hw, monday, sunday, &["mon"], "9am", "12:00", 30),
            "day_start is not HH:MM",
        ),
        (
            rota(&hw, monday, sunday, &["mon"], "09:00", "25:00", 30),
            "25:00 is not a time",
        ),
    ];
    for (body, why) in cases {
        // Act
        let resp = app.post_json(SLOTS, "admin", &body).await;

        // Assert
        assert_problem_422(resp, why).await;
    }
    let everything = list_slots(
        &app,
        &format!(
            "from={}&to={}",
            q(now() - Duration::days(2)),
            q(now() + Duration::days(100))
        ),
    )
    .await;
    assert_eq!(everything, Vec::<Value>::new(), "no refused rota stored a slot");
}

async fn assert_problem_422(resp: reqwest::Response, why: &str) {
    let problem = crate::helpers::assert_problem(resp, 422).await;
    assert_eq!(problem["status"], 422, "{why}");
}

#[tokio::test]
async fn a_rota_for_an_unknown_worker_is_404() {
    // Arrange
    let app = spawn_app().await;
    let monday = next_monday();
    let body = rota(
        &uuid::Uuid::new_v4().to_string(),
        monday,
        monday,
        &["mon"],
        "09:00",
        "10:00",
        30,
    );

    // Act
    let resp = app.post_json(SLOTS, "admin", &body).await;

    // Assert
    assert_kind(resp, 404, "not-found", "unknown health worker").await;
}

#[tokio::test]
async fn a_rota_overlapping_one_existing_slot_creates_nothing() {
    // Arrange: one existing slot on the Wednesday at 10:00–10:30 local, inside the rota's hours.
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let other = health_worker(&app).await;
    let monday = next_monday();
    let wednesday = monday + Duration::days(2);
    let existing = crate::scheduling_helpers::london(wednesday, 10, 0);
    let existing_id = slot_at(&app, &hw, existing).await;
    let body = rota(
        &hw,
        monday,
        monday + Duration::days(6),
        &["mon", "wed", "fri"],
        "09:00",
        "12:00",
        30,
    );
    let week = format!(
        "from={}&to={}",
        q(crate::scheduling_helpers::london(monday, 0, 0)),
        q(crate::scheduling_helpers::london(monday + Duration::days(7), 0, 0))
    );

    // Act
    let resp = app.post_json(SLOTS, "admin", &body).await;

    // Assert
    assert_kind(
        resp,
        409,
        "slot-overlap",
        "one of the 18 slots overlaps the existing one",
    )
    .await;
    let listed = list_slots(&app, &format!("{week}&health_worker_id={hw}")).await;
    assert_eq!(
        ids(&listed),
        vec![existing_id],
        "all or nothing: only the earlier slot exists"
    );

    // Act + Assert: the same rota for another worker does not overlap anything.
    let mut theirs = body.clone();
    theirs["health_worker_id"] = json!(other);
    let created = post_rota(&app, &theirs, 201, "another worker's rota").await;
    assert_eq!(created.len(), 18, "3 days × 6 slots");
}

// --- overlaps -------------------------------------------------------------------------------

#[tokio::test]
async fn overlapping_slots_are_409_and_touching_slots_are_not() {
    // Arrange: b is a whole minute two days ahead; the existing slot is [b, b+30m).
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let b = now() + Duration::days(2);
    let m = Duration::minutes;
    slot(&app, &hw, b, b + m(30)).await;
    // (starts, ends, expected status, why) — rows run in order; 201 rows add slots.
    let cases = [
        (
            b + m(30),
            b + m(60),
            201,
            "starts exactly when [b, b+30) ends: not an overlap",
        ),
        (b - m(30), b, 201, "ends exactly when [b, b+30) starts: not an overlap"),
        (b, b + m(30), 409, "identical times"),
        (
            b + m(15),
            b + m(45),
            409,
            "straddles the end of one slot and the start of the next",
        ),
        (b + m(10), b + m(20), 409, "inside an existing slot"),
        (b - m(60), b + m(90), 409, "contains three existing slots"),
        (b + m(59), b + m(61), 409, "overlaps [b+30, b+60) by one minute"),
        (
            b - m(31),
            b - m(29),
            409,
            "overlaps [b-30, b) by one minute at its start",
        ),
        (b + m(60), b + m(90), 201, "touches the last slot's end"),
    ];

    for (starts, ends, status, why) in cases {
        // Act
        let resp = try_slot(&app, &hw, starts, ends).await;

        // Assert
        if status == 409 {
            assert_kind(resp, 409, "slot-overlap", why).await;
        } else {
            json_with(resp, status, why).await;
        }
    }
    let listed = list_slots(&app, &format!("from={}&health_worker_id={hw}", q(b - m(120)))).await;
    assert_eq!(
        starts(&listed),
        vec![b - m(30), b, b + m(30), b + m(60)],
        "the four non-overlapping slots, and nothing else"
    );
}

#[tokio::test]
async fn other_workers_slots_do_not_overlap() {
    // Arrange
    let app = spawn_app().await;
    let first = health_worker(&app).await;
    let second = health_worker(&app).await;
    let b = now() + Duration::days(1);
    slot(&app, &first, b, b + Duration::hours(1)).await;

    // Act: the same hour for another worker.
    let resp = try_slot(&app, &second, b, b + Duration::hours(1)).await;

    // Assert
    json_with(resp, 201, "two AHWs can see two patients at once").await;
}

// --- GET /slots -----------------------------------------------------------------------------

#[tokio::test]
async fn get_slots_filters_by_time_worker_and_availability() {
    // Arrange: hw1 at +1 h, +2 h, +3 h; hw2 at +2 h 30 and +8 days; +2 h is booked.
    let app = spawn_app().await;
    let hw1 = health_worker(&app).await;
    let hw2 = health_worker(&app).await;
    let t = now();
    let h = Duration::hours;
    let s1 = slot_at(&app, &hw1, t + h(1)).await;
    let s2 = slot_at(&app, &hw1, t + h(2)).await;
    let s3 = slot_at(&app, &hw1, t + h(3)).await;
    let s4 = slot_at(&app, &hw2, t + h(2) + Duration::minutes(30)).await;
    let s5 = slot_at(&app, &hw2, t + Duration::days(8)).await;
    let attendance = accepted_attendance(&app).await;
    let booking = booked(&app, &attendance, &s2).await;
    // (query, expected ids in order, why)
    let cases = [
        (
            String::new(),
            vec![&s1, &s2, &s4, &s3],
            "defaults: from now to now + 7 days, ordered by start; +8 days is left out",
        ),
        (
            format!("from={}&to={}", q(t + h(2)), q(t + h(3))),
            vec![&s2, &s4],
            "[from, to) is half-open: a slot starting at `to` is left out, one at `from` is in",
        ),
        (
            format!("from={}", q(t + h(2) + Duration::seconds(1))),
            vec![&s4, &s3],
            "a slot starting before `from` is left out even if it is still running",
        ),
        (
            format!("health_worker_id={hw2}&to={}", q(t + Duration::days(9))),
            vec![&s4, &s5],
            "one worker's slots",
        ),
        (
            format!("health_worker_id={hw1}"),
            vec![&s1, &s2, &s3],
            "the other worker's slots",
        ),
        (
            "available=true".to_owned(),
            vec![&s1, &s4, &s3],
            "free slots only: the booked one is left out",
        ),
        ("available=false".to_owned(), vec![&s2], "taken slots only"),
        (
            format!("available=true&health_worker_id={hw1}&from={}", q(t + h(2))),
            vec![&s3],
            "filters combine",
        ),
    ];

    for (query, expected, why) in cases {
        // Act
        let listed = list_slots(&app, &query).await;

        // Assert
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(ids(&listed), expected, "{why} (?{query})");
    }
    let all = list_slots(&app, "").await;
    let taken = all.iter().find(|s| id_of(s) == s2).unwrap();
    assert_eq!(taken["available"], false, "a booked slot is not available");
    assert_eq!(taken["booking_id"], booking["id"], "and names its booking");
    let free = all.iter().find(|s| id_of(s) == s1).unwrap();
    assert_eq!(free["available"], true);
    assert_eq!(free["booking_id"], Value::Null);
}

#[tokio::test]
async fn any_role_that_books_can_see_slots() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let s = slot_at(&app, &hw, now() + Duration::hours(4)).await;

    for role in ["admin", "ahw", "clinician", "integration"] {
        // Act
        let body = json_with(app.get(SLOTS, role).await, 200, role).await;

        // Assert
        assert_eq!(ids(body["slots"].as_array().unwrap()), vec![s.clone()], "{role}");
    }
}

// --- DELETE /slots/{id} ---------------------------------------------------------------------

#[tokio::test]
async fn a_withdrawn_slot_is_gone_and_no_longer_overlaps() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let starts = now() + Duration::hours(6);
    let ends = starts + Duration::minutes(30);
    let id = slot(&app, &hw, starts, ends).await;
    let path = format!("{SLOTS}/{id}");

    // Act
    let resp = delete(&app, &path, "ahw").await;

    // Assert
    assert_eq!(resp.status().as_u16(), 204, "withdrawn");
    assert_eq!(resp.text().await.unwrap(), "", "204 has no body");
    assert_eq!(list_slots(&app, "").await, Vec::<Value>::new(), "never listed again");
    assert_kind(
        delete(&app, &path, "admin").await,
        404,
        "not-found",
        "already withdrawn",
    )
    .await;
    let attendance = accepted_attendance(&app).await;
    assert_kind(
        crate::scheduling_helpers::book(&app, &attendance, Some(&id)).await,
        404,
        "not-found",
        "a withdrawn slot cannot be booked",
    )
    .await;
    let again = slot(&app, &hw, starts, ends).await;
    assert_ne!(again, id, "the same times again: the withdrawn slot no longer overlaps");
    let unknown = format!("{SLOTS}/{}", uuid::Uuid::new_v4());
    assert_kind(delete(&app, &unknown, "admin").await, 404, "not-found", "unknown slot").await;
}

#[tokio::test]
async fn a_booked_slot_cannot_be_withdrawn_until_the_booking_is_cancelled() {
    // Arrange
    let app = spawn_app().await;
    let hw = health_worker(&app).await;
    let id = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let attendance = accepted_attendance(&app).await;
    let booking = booked(&app, &attendance, &id).await;
    let path = format!("{SLOTS}/{id}");

    // Act
    let refused = delete(&app, &path, "admin").await;

    // Assert
    assert_kind(refused, 409, "slot-booked", "a booked slot").await;
    assert_eq!(ids(&list_slots(&app, "").await), vec![id.clone()], "still there");

    // Act + Assert: cancelling frees it, and then it can go.
    cancel(&app, &id_of(&booking)).await;
    let resp = delete(&app, &path, "admin").await;
    assert_eq!(resp.status().as_u16(), 204, "a slot whose only booking is cancelled");
    assert_eq!(list_slots(&app, "").await, Vec::<Value>::new());
}
