//! The AHW's pages beyond the day list (issue 13, docs/design.md §12): choosing a slot for a
//! referral (in the 24-hour window, or later with a reason), outcome-form errors next to their
//! fields, corrections, the Slots week (publish a rota, withdraw a free slot) and Follow-ups due.
//! Every write is checked through the JSON API; every expected value is worked out by hand from
//! the rules (docs/domain.md), never copied from the service's output.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::scheduling_helpers::{
    accepted_attendance, accepted_attendance_at, at, booked, health_worker, json_with, london, next_summer_day, now,
    outcome, q, seen_in_department_at, slot_at, BOOKINGS, SLOTS,
};
use crate::web::{csrf_of, dev_app, location, signed_in, Browser};

/// The attendance as the JSON API answers it (with its bookings).
async fn attendance_of(app: &TestApp, id: &str) -> Value {
    json_with(
        app.get(&format!("/api/v1/attendances/{id}"), "admin").await,
        200,
        "the attendance",
    )
    .await
}

fn bookings_of(attendance: &Value) -> Vec<Value> {
    attendance["bookings"].as_array().cloned().unwrap_or_default()
}

/// The live slots of a health worker starting in `[from, to)`, through the JSON API.
async fn slots_of(app: &TestApp, hw: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Value> {
    let path = format!("{SLOTS}?health_worker_id={hw}&from={}&to={}", q(from), q(to));
    let body = json_with(app.get(&path, "admin").await, 200, "GET /slots").await;
    body["slots"].as_array().cloned().unwrap()
}

/// A booking made through the JSON API in a slot an hour from now, and the service's clock moved
/// past the slot's start (so an outcome can be recorded; sign in after it: a session idle that
/// long is gone); answers (booking id, London date).
async fn started_booking(app: &TestApp) -> (String, String) {
    let hw = health_worker(app).await;
    let attendance = accepted_attendance(app).await;
    let slot = slot_at(app, &hw, now() + Duration::hours(1)).await;
    let booking = booked(app, &attendance, &slot).await;
    let date = at(&booking["starts_at"])
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
        .to_string();
    app.advance_clock(Duration::minutes(65));
    (booking["id"].as_str().unwrap().to_owned(), date)
}

async fn stored_booking(app: &TestApp, id: &str) -> Value {
    json_with(app.get(&format!("{BOOKINGS}/{id}"), "admin").await, 200, "the booking").await
}

// --- Referral queue: choosing a slot ---

#[tokio::test]
async fn choosing_a_slot_in_the_window_books_that_slot_not_the_earliest() {
    // Arrange: screened an hour ago (the window ends 23 hours from now); free slots in 2 and 3 hours.
    let (app, mut browser) = signed_in("ahw").await;
    let hw = health_worker(&app).await;
    let attendance = accepted_attendance(&app).await;
    let earliest = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let later = slot_at(&app, &hw, now() + Duration::hours(3)).await;
    let queue = browser.page(&app, "/web/referrals").await;
    assert!(
        queue.contains(&format!("href=\"/web/referrals/{attendance}\">Choose a slot</a>")),
        "{queue}"
    );
    assert!(queue.contains("Book earliest free slot"), "the window is open: {queue}");
    let choose = browser.page(&app, &format!("/web/referrals/{attendance}")).await;
    assert!(
        choose.contains(&format!("name=\"slot_id\" value=\"{earliest}\"")),
        "{choose}"
    );
    assert!(
        choose.contains(&format!("name=\"slot_id\" value=\"{later}\"")),
        "{choose}"
    );

    // Act: book the second one.
    let response = browser
        .post_form(
            &app,
            &format!("/web/referrals/{attendance}/book"),
            &[("csrf", &csrf_of(&choose)), ("slot_id", &later)],
        )
        .await;

    // Assert
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/web/referrals?flash=booked-chosen");
    let bookings = bookings_of(&attendance_of(&app, &attendance).await);
    assert_eq!(bookings.len(), 1, "{bookings:?}");
    assert_eq!(bookings[0]["slot_id"], later.as_str());
    assert_eq!(bookings[0]["within_window"], true);
}

#[tokio::test]
async fn booking_after_the_window_needs_a_reason_next_to_its_field_and_then_stores_it() {
    // Arrange: screened an hour ago, so the window ends 23 hours from now; a free slot in 30 hours.
    let (app, mut browser) = signed_in("clinician").await;
    let hw = health_worker(&app).await;
    let attendance = accepted_attendance(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::hours(30)).await;
    let choose = browser.page(&app, &format!("/web/referrals/{attendance}")).await;
    assert!(
        choose.contains(&format!("type=\"radio\" id=\"slot-{slot}\"")),
        "the slot is offered among the later ones: {choose}"
    );
    let csrf = csrf_of(&choose);

    // Act 1: no reason.
    let response = browser
        .post_form(
            &app,
            &format!("/web/referrals/{attendance}/book"),
            &[
                ("csrf", &csrf),
                ("outside_window", "yes"),
                ("slot_id", &slot),
                ("outside_window_reason", ""),
            ],
        )
        .await;

    // Assert 1: 422, the message next to the reason, the chosen slot kept, nothing booked.
    assert_eq!(response.status().as_u16(), 422);
    let page = response.text().await.unwrap();
    assert!(
        page.contains(
            "<select id=\"outside_window_reason\" name=\"outside_window_reason\" aria-invalid=\"true\" \
             aria-describedby=\"outside_window_reason-error\">"
        ),
        "{page}"
    );
    assert!(page.contains("id=\"outside_window_reason-error\""), "{page}");
    assert!(
        page.contains("href=\"#outside_window_reason\""),
        "the error summary links to the field"
    );
    assert!(
        page.contains(&format!("value=\"{slot}\" checked")),
        "the chosen slot is kept: {page}"
    );
    assert!(
        bookings_of(&attendance_of(&app, &attendance).await).is_empty(),
        "nothing booked"
    );

    // Act 2: with a reason.
    let response = browser
        .post_form(
            &app,
            &format!("/web/referrals/{attendance}/book"),
            &[
                ("csrf", &csrf),
                ("outside_window", "yes"),
                ("slot_id", &slot),
                ("outside_window_reason", "patient_preference"),
            ],
        )
        .await;

    // Assert 2: booked outside the window with the reason.
    assert_eq!(response.status().as_u16(), 303);
    let bookings = bookings_of(&attendance_of(&app, &attendance).await);
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0]["slot_id"], slot.as_str());
    assert_eq!(bookings[0]["within_window"], false);
    assert_eq!(bookings[0]["outside_window_reason"], "patient_preference");
}

#[tokio::test]
async fn a_passed_window_offers_only_booking_outside_it() {
    // Screened 30 hours ago: the 24-hour window ended 6 hours ago.
    let (app, mut browser) = signed_in("ahw").await;
    let hw = health_worker(&app).await;
    let attendance = accepted_attendance_at(&app, now() - Duration::hours(30)).await;
    let slot = slot_at(&app, &hw, now() + Duration::hours(2)).await;

    let queue = browser.page(&app, "/web/referrals").await;

    assert!(!queue.contains("Book earliest free slot"), "{queue}");
    assert!(
        !queue.contains(&format!("/web/referrals/{attendance}/book")),
        "no earliest-slot form"
    );
    assert!(
        queue.contains(&format!(
            "href=\"/web/referrals/{attendance}\">Book outside the window</a>"
        )),
        "{queue}"
    );
    let choose = browser.page(&app, &format!("/web/referrals/{attendance}")).await;
    assert!(choose.contains("No free slot in the window."), "{choose}");
    assert!(
        choose.contains(&format!("id=\"slot-{slot}\"")),
        "the slot in 2 hours is a later one: {choose}"
    );
}

#[tokio::test]
async fn a_slot_taken_meanwhile_is_refused_in_words_and_nothing_is_booked() {
    let (app, mut browser) = signed_in("ahw").await;
    let hw = health_worker(&app).await;
    let attendance = accepted_attendance(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let choose = browser.page(&app, &format!("/web/referrals/{attendance}")).await;
    // Another patient is booked into the slot through the API after the page was shown.
    let other = accepted_attendance(&app).await;
    booked(&app, &other, &slot).await;

    let response = browser
        .post_form(
            &app,
            &format!("/web/referrals/{attendance}/book"),
            &[("csrf", &csrf_of(&choose)), ("slot_id", &slot)],
        )
        .await;

    assert_eq!(response.status().as_u16(), 409);
    let page = response.text().await.unwrap();
    assert!(page.contains("There is a problem"), "{page}");
    assert!(page.contains("Nothing was booked"), "{page}");
    assert!(bookings_of(&attendance_of(&app, &attendance).await).is_empty());
}

// --- Today: outcome errors in place, corrections ---

#[tokio::test]
async fn an_invalid_units_value_is_shown_next_to_its_field_with_the_typed_value_and_nothing_recorded() {
    let app = dev_app().await;
    let (id, date) = started_booking(&app).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "ahw").await;
    let page = browser.page(&app, &format!("/web/today?date={date}")).await;

    let response = browser
        .post_form(
            &app,
            &format!("/web/bookings/{id}/outcome?date={date}&health_worker="),
            &[
                ("csrf", &csrf_of(&page)),
                ("status", "attended"),
                ("brief_intervention_delivered", "yes"),
                ("units_per_week", "-3"),
                ("reason", ""),
            ],
        )
        .await;

    // Units a week are at least 0 (docs/domain.md): -3 is refused next to units-{id}.
    assert_eq!(response.status().as_u16(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("<h1>Today</h1>"), "the day list again: {page}");
    assert!(
        page.contains(&format!(
            "id=\"units-{id}\" name=\"units_per_week\" min=\"0\" step=\"0.1\" value=\"-3\" aria-invalid=\"true\" \
             aria-describedby=\"units-{id}-error\""
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<p class=\"error\" id=\"units-{id}-error\">Error: must be a number of at least 0"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!("<a href=\"#units-{id}\">Units per week")),
        "summary: {page}"
    );
    assert!(
        page.contains("<option value=\"yes\" selected>Yes</option>"),
        "the brief intervention answer is kept"
    );
    assert!(page.contains("<button type=\"submit\">Record</button>"));
    assert_eq!(stored_booking(&app, &id).await["status"], "booked", "nothing recorded");
}

#[tokio::test]
async fn an_outcome_recorded_meanwhile_is_a_409_in_words() {
    let app = dev_app().await;
    let (id, date) = started_booking(&app).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "ahw").await;
    let page = browser.page(&app, &format!("/web/today?date={date}")).await;
    let recorded = outcome(&app, &id, &json!({ "status": "did_not_attend" })).await;
    assert_eq!(recorded.status().as_u16(), 200);

    let response = browser
        .post_form(
            &app,
            &format!("/web/bookings/{id}/outcome?date={date}"),
            &[
                ("csrf", &csrf_of(&page)),
                ("status", "attended"),
                ("brief_intervention_delivered", "no"),
            ],
        )
        .await;

    assert_eq!(response.status().as_u16(), 409);
    let page = response.text().await.unwrap();
    assert!(page.contains("Nothing was recorded"), "{page}");
    assert_eq!(stored_booking(&app, &id).await["status"], "did_not_attend");
}

#[tokio::test]
async fn a_correction_needs_a_reason_and_with_one_is_a_new_version() {
    let app = dev_app().await;
    let (id, date) = started_booking(&app).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "ahw").await;
    let first = outcome(
        &app,
        &id,
        &json!({ "status": "attended", "brief_intervention_delivered": true, "units_per_week": 21.0 }),
    )
    .await;
    assert_eq!(first.status().as_u16(), 200);
    let page = browser.page(&app, &format!("/web/today?date={date}")).await;
    assert!(page.contains("Correct the outcome"), "{page}");
    assert!(page.contains(&format!("id=\"why-{id}\"")), "{page}");
    let csrf = csrf_of(&page);
    let correction = |why: &'static str| {
        vec![
            ("corrects", "yes"),
            ("status", "attended"),
            ("brief_intervention_delivered", "yes"),
            ("units_per_week", "12"),
            ("reason", ""),
            ("correction_reason", why),
        ]
    };

    // Without a reason: 422 next to why-{id}, nothing changed.
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(correction(""));
    let response = browser
        .post_form(&app, &format!("/web/bookings/{id}/outcome?date={date}"), &form)
        .await;
    assert_eq!(response.status().as_u16(), 422);
    let text = response.text().await.unwrap();
    assert!(text.contains(&format!("aria-describedby=\"why-{id}-error\"")), "{text}");
    assert!(
        text.contains("<details open>"),
        "the refused correction is open: {text}"
    );
    let stored = stored_booking(&app, &id).await;
    assert_eq!(stored["units_per_week"], 21.0);
    assert_eq!(stored["version"], 1);

    // With a reason: a new version with the reason; the first is kept.
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(correction("units misheard"));
    let response = browser
        .post_form(&app, &format!("/web/bookings/{id}/outcome?date={date}"), &form)
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let stored = stored_booking(&app, &id).await;
    assert_eq!(stored["units_per_week"], 12.0);
    assert_eq!(stored["version"], 2);
    assert_eq!(stored["correction_reason"], "units misheard");
    assert_eq!(stored["earlier_outcomes"][0]["units_per_week"], 21.0);
}

// --- Slots ---

/// The rota form for one day `date`, 09:00–10:00 in 30-minute slots, every day ticked.
fn rota_form<'a>(csrf: &'a str, hw: &'a str, date: &'a str, minutes: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("health_worker_id", hw),
        ("from_date", date),
        ("to_date", date),
        ("day_mon", "yes"),
        ("day_tue", "yes"),
        ("day_wed", "yes"),
        ("day_thu", "yes"),
        ("day_fri", "yes"),
        ("day_sat", "yes"),
        ("day_sun", "yes"),
        ("day_start", "09:00"),
        ("day_end", "10:00"),
        ("slot_minutes", minutes),
    ]
}

#[tokio::test]
async fn a_published_rota_shows_on_the_week_and_through_the_api() {
    // 15 July next year is in British Summer Time: 09:00 and 09:30 London are 08:00 and 08:30 UTC.
    let (app, mut browser) = signed_in("admin").await;
    let hw = health_worker(&app).await;
    let day = next_summer_day();
    let date = day.to_string();
    let page = browser.page(&app, "/web/slots").await;
    assert!(
        page.contains("href=\"/web/slots\">Slots</a>"),
        "in the navigation: {page}"
    );

    let response = browser
        .post_form(&app, "/web/slots", &rota_form(&csrf_of(&page), &hw, &date, "30"))
        .await;

    assert_eq!(response.status().as_u16(), 303);
    let week = location(&response);
    assert_eq!(
        week,
        format!("/web/slots?week={date}&health_worker={hw}&flash=published")
    );
    let page = browser.page(&app, &week).await;
    assert!(page.contains("The rota was published"), "{page}");
    assert!(page.contains("09:00–09:30 free"), "{page}");
    assert!(page.contains("09:30–10:00 free"), "{page}");
    let slots = slots_of(&app, &hw, london(day, 0, 0), london(day, 23, 0)).await;
    let starts: Vec<DateTime<Utc>> = slots.iter().map(|s| at(&s["starts_at"])).collect();
    let expected: Vec<DateTime<Utc>> = vec![
        DateTime::parse_from_rfc3339(&format!("{date}T08:00:00Z"))
            .unwrap()
            .into(),
        DateTime::parse_from_rfc3339(&format!("{date}T08:30:00Z"))
            .unwrap()
            .into(),
    ];
    assert_eq!(starts, expected);
}

#[tokio::test]
async fn an_invalid_rota_is_answered_next_to_its_fields_and_writes_no_slot() {
    let (app, mut browser) = signed_in("ahw").await;
    let hw = health_worker(&app).await;
    let day = next_summer_day();
    let date = day.to_string();
    let page = browser.page(&app, "/web/slots").await;
    // Slots are 5 to 240 minutes long: 3 is refused.
    let csrf = csrf_of(&page);
    let mut form = rota_form(&csrf, &hw, &date, "3");
    // And the day ends before it starts.
    form.retain(|(name, _)| *name != "day_end");
    form.push(("day_end", "08:00"));

    let response = browser.post_form(&app, "/web/slots", &form).await;

    assert_eq!(response.status().as_u16(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("aria-describedby=\"rota-slot_minutes-error\""), "{page}");
    assert!(page.contains("<p class=\"error\" id=\"rota-slot_minutes-error\">Error: must be from 5 to 240</p>"));
    assert!(page.contains("aria-describedby=\"rota-day_end-error\""), "{page}");
    assert!(page.contains("href=\"#rota-day_end\""), "summary");
    assert!(page.contains("value=\"3\""), "the typed value is kept");
    assert!(slots_of(&app, &hw, london(day, 0, 0), london(day, 23, 0))
        .await
        .is_empty());
}

#[tokio::test]
async fn a_free_slot_is_withdrawn_and_a_booked_one_is_refused_in_words() {
    // Two slots on one day of next summer's week; the later one booked (outside the window, with
    // a reason).
    let (app, mut browser) = signed_in("ahw").await;
    let hw = health_worker(&app).await;
    let day = next_summer_day();
    let free = slot_at(&app, &hw, london(day, 10, 0)).await;
    let held = slot_at(&app, &hw, london(day, 11, 0)).await;
    let attendance = accepted_attendance(&app).await;
    let booking = app
        .post_json(
            BOOKINGS,
            "clinician",
            &json!({ "attendance_id": attendance, "slot_id": held, "outside_window_reason": "no_capacity" }),
        )
        .await;
    json_with(booking, 201, "booking the later slot").await;
    let week = day;
    let page = browser
        .page(&app, &format!("/web/slots?week={week}&health_worker={hw}"))
        .await;
    assert!(page.contains(&format!("/web/slots/{free}/withdraw")), "{page}");
    assert!(page.contains("11:00–11:30 booked"), "{page}");
    assert!(
        !page.contains(&format!("/web/slots/{held}/withdraw")),
        "no button for a booked slot"
    );
    let csrf = csrf_of(&page);
    let window = (london(day, 0, 0), london(day, 23, 0));

    let response = browser
        .post_form(
            &app,
            &format!("/web/slots/{free}/withdraw?week={week}&health_worker={hw}"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let listed: Vec<String> = slots_of(&app, &hw, window.0, window.1)
        .await
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, vec![held.clone()], "only the booked slot is left");

    let response = browser
        .post_form(&app, &format!("/web/slots/{held}/withdraw"), &[("csrf", &csrf)])
        .await;
    assert_eq!(response.status().as_u16(), 409);
    let page = response.text().await.unwrap();
    assert!(page.contains("The slot was not withdrawn"), "{page}");
    assert_eq!(slots_of(&app, &hw, window.0, window.1).await.len(), 1, "still there");
}

// --- Follow-ups due ---

#[tokio::test]
async fn follow_ups_due_are_listed_and_one_is_recorded() {
    // Seen in the department at 2025-01-10T10:00Z = 10 January 2025 (GMT): the 6-month follow-up
    // is due 10 July 2025 and the 12-month one 10 January 2026, both before today.
    let (app, mut browser) = signed_in("ahw").await;
    let seen_at: DateTime<Utc> = DateTime::parse_from_rfc3339("2025-01-10T10:00:00Z").unwrap().into();
    let (id, _) = seen_in_department_at(
        &app,
        json!({ "local_id": "FU-1", "sex": "female" }),
        None,
        seen_at,
        true,
        40.0,
    )
    .await;

    let page = browser.page(&app, "/web/follow-ups").await;
    assert!(page.contains("6-month follow-up due 10 July 2025"), "{page}");
    assert!(page.contains("12-month follow-up due 10 January 2026"), "{page}");
    assert!(page.contains("<dd>FU-1</dd>"), "the patient: {page}");
    assert!(page.contains("<dd>40</dd>"), "units at the contact: {page}");
    let csrf = csrf_of(&page);

    // Units a week are at least 0: -1 is refused next to the field.
    let response = browser
        .post_form(
            &app,
            &format!("/web/follow-ups/{id}"),
            &[
                ("csrf", &csrf),
                ("months", "6"),
                ("units_per_week", "-1"),
                ("contacted_at", ""),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 422);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(&format!("aria-describedby=\"fu-units-{id}-6-error\"")),
        "{text}"
    );

    let contacted = (now() - Duration::days(2))
        .with_timezone(&chrono_tz::Europe::London)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let response = browser
        .post_form(
            &app,
            &format!("/web/follow-ups/{id}"),
            &[
                ("csrf", &csrf),
                ("months", "6"),
                ("units_per_week", "25"),
                ("contacted_at", &contacted),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 303);
    let page = browser.page(&app, &location(&response)).await;
    assert!(page.contains("The follow-up contact was recorded."), "{page}");
    assert!(!page.contains("6-month follow-up due"), "{page}");
    assert!(page.contains("12-month follow-up due 10 January 2026"), "{page}");
    let worklist = json_with(app.get("/api/v1/follow-ups", "ahw").await, 200, "the worklist").await;
    let months: Vec<u64> = worklist["follow_ups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["months"].as_u64().unwrap())
        .collect();
    assert_eq!(months, vec![12]);
    let events = app.audit_events().await;
    assert!(
        events
            .iter()
            .any(|e| e["actor"] == "dev-ahw" && e["action"] == "read" && e["patient_key"] == "local:FU-1"),
        "the page's read of the patient is audited: {events:?}"
    );
}

// --- Roles and CSRF ---

#[tokio::test]
async fn a_clinician_gets_403_on_slots_and_follow_ups_and_an_admin_cannot_record_a_contact() {
    let (app, mut clinician) = signed_in("clinician").await;
    assert_eq!(clinician.get(&app, "/web/slots").await.status().as_u16(), 403);
    assert_eq!(clinician.get(&app, "/web/follow-ups").await.status().as_u16(), 403);
    let home = clinician.page(&app, "/web/").await;
    assert!(!home.contains("/web/slots"), "{home}");
    assert!(!home.contains("/web/follow-ups"), "{home}");

    let seen_at: DateTime<Utc> = DateTime::parse_from_rfc3339("2025-01-10T10:00:00Z").unwrap().into();
    let (id, _) = seen_in_department_at(
        &app,
        json!({ "local_id": "FU-2", "sex": "male" }),
        None,
        seen_at,
        true,
        30.0,
    )
    .await;
    let mut admin = Browser::new();
    admin.sign_in(&app, "admin").await;
    let page = admin.page(&app, "/web/follow-ups").await;
    assert!(page.contains("6-month follow-up due 10 July 2025"), "{page}");
    assert!(!page.contains("Record the contact"), "only an AHW records: {page}");
    let response = admin
        .post_form(
            &app,
            &format!("/web/follow-ups/{id}"),
            &[("csrf", &csrf_of(&page)), ("months", "6"), ("units_per_week", "20")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_write_nothing() {
    let (app, mut browser) = signed_in("ahw").await;
    let hw = health_worker(&app).await;
    let day = next_summer_day();
    let date = day.to_string();
    let free = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let attendance = accepted_attendance(&app).await;

    let mut rota = rota_form("", &hw, &date, "30");
    rota.retain(|(name, _)| *name != "csrf");
    let publish = browser.post_form(&app, "/web/slots", &rota).await;
    let withdraw = browser
        .post_form(&app, &format!("/web/slots/{free}/withdraw"), &[])
        .await;
    let book = browser
        .post_form(
            &app,
            &format!("/web/referrals/{attendance}/book"),
            &[("slot_id", free.as_str())],
        )
        .await;

    assert_eq!(publish.status().as_u16(), 403);
    assert_eq!(withdraw.status().as_u16(), 403);
    assert_eq!(book.status().as_u16(), 403);
    assert!(slots_of(&app, &hw, london(day, 0, 0), london(day, 23, 0))
        .await
        .is_empty());
    assert_eq!(
        slots_of(&app, &hw, now() - Duration::hours(1), now() + Duration::days(1))
            .await
            .len(),
        1,
        "the free slot is still there"
    );
    assert!(bookings_of(&attendance_of(&app, &attendance).await).is_empty());
}
