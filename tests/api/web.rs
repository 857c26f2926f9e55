//! The web pages for AHWs (issue 13, docs/design.md §12): server-side sessions, the development
//! sign-in, CSRF, the security headers, the day list and its outcome form, HTML escaping.
//!
//! The session cookie is carried by hand (`Browser`): reading `Set-Cookie` and sending `Cookie`
//! as a browser would, which also lets the tests check the cookie's attributes.

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};
use crate::scheduling_helpers::{
    accepted_attendance, accepted_attendance_at, at, booked, health_worker, json_with, now, rfc, slot_at, BOOKINGS,
    PATIENT_KEY,
};

pub(crate) const KEY: &str = "test-dev-sign-in-key";

/// An app in development mode (so the development sign-in exists) with a known sign-in key.
pub(crate) async fn dev_app() -> TestApp {
    spawn_app_with(|s| {
        s.dev = true;
        s.web.dev_sign_in_key = pat_service::config::Secret::new(KEY.to_owned());
    })
    .await
}

/// A development app and a browser signed in to it as `role`.
pub(crate) async fn signed_in(role: &str) -> (TestApp, Browser) {
    let app = dev_app().await;
    let mut browser = Browser::new();
    browser.sign_in(&app, role).await;
    (app, browser)
}

/// A browser: one cookie (`pat_session`), no redirects followed.
pub(crate) struct Browser {
    client: reqwest::Client,
    pub(crate) cookie: Option<String>,
}

impl Browser {
    pub(crate) fn new() -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    fn keep_cookie(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            if let Some(rest) = text.strip_prefix("pat_session=") {
                let value = rest.split(';').next().unwrap_or_default();
                self.cookie = (!value.is_empty()).then(|| value.to_owned());
            }
        }
    }

    pub(crate) async fn get(&mut self, app: &TestApp, path: &str) -> reqwest::Response {
        let mut request = self.client.get(app.url(path));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", format!("pat_session={cookie}"));
        }
        let response = request.send().await.unwrap();
        self.keep_cookie(&response);
        response
    }

    pub(crate) async fn post_form(&mut self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.post(app.url(path)).form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", format!("pat_session={cookie}"));
        }
        let response = request.send().await.unwrap();
        self.keep_cookie(&response);
        response
    }

    /// Signs in through the development link; asserts the redirect and the cookie.
    /// A new browser signed in to `app` as `role` (development sign-in).
    pub(crate) async fn signed_in(app: &TestApp, role: &str) -> Browser {
        let mut browser = Browser::new();
        browser.sign_in(app, role).await;
        browser
    }

    pub(crate) async fn sign_in(&mut self, app: &TestApp, role: &str) {
        let response = self.get(app, &format!("/web/dev/sign-in?role={role}&key={KEY}")).await;
        assert_eq!(response.status().as_u16(), 303, "development sign-in as {role}");
        assert!(self.cookie.is_some(), "the sign-in set the session cookie");
    }

    /// A page's HTML; asserts 200.
    pub(crate) async fn page(&mut self, app: &TestApp, path: &str) -> String {
        let response = self.get(app, path).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {text}");
        text
    }
}

/// The CSRF token in a page's forms.
pub(crate) fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("the page has a form with a CSRF token") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A booking made through the JSON API, for the default patient (NHS 9434765919), in a slot an
/// hour from now; returns (booking, London date of the slot).
async fn booking_via_the_api(app: &TestApp) -> (Value, String) {
    let hw = health_worker(app).await;
    let attendance = accepted_attendance(app).await;
    let slot = slot_at(app, &hw, now() + Duration::hours(1)).await;
    let booking = booked(app, &attendance, &slot).await;
    let date = at(&booking["starts_at"])
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
        .to_string();
    (booking, date)
}

#[tokio::test]
async fn the_development_sign_in_is_refused_without_dev_mode() {
    let app = spawn_app_with(|s| {
        s.web.dev_sign_in_key = pat_service::config::Secret::new(KEY.to_owned());
    })
    .await;
    let mut browser = Browser::new();

    let response = browser.get(&app, &format!("/web/dev/sign-in?role=ahw&key={KEY}")).await;

    assert_eq!(response.status().as_u16(), 404, "no development sign-in without --dev");
    assert!(browser.cookie.is_none(), "no session cookie");
    let page = browser.page(&app, "/web/sign-in").await;
    assert!(page.contains("Sign-in is not configured"), "{page}");
}

#[tokio::test]
async fn the_development_sign_in_needs_the_process_key() {
    let app = dev_app().await;
    let mut browser = Browser::new();

    let response = browser.get(&app, "/web/dev/sign-in?role=ahw&key=wrong").await;

    assert_eq!(response.status().as_u16(), 403);
    assert!(browser.cookie.is_none(), "no session without the key");
}

#[tokio::test]
async fn not_signed_in_is_sent_to_sign_in() {
    let app = dev_app().await;
    let mut browser = Browser::new();

    let response = browser.get(&app, "/web/today").await;

    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/web/sign-in?next=%2Fweb%2Ftoday");
}

#[tokio::test]
async fn the_sign_in_page_returns_to_the_page_asked_for_with_its_query_but_never_replays_a_form() {
    let app = dev_app().await;
    let mut browser = Browser::new();

    let page = browser.get(&app, "/web/today?date=2026-12-01").await;
    let form = browser.post_form(&app, "/web/referrals/not-a-uuid/book", &[]).await;
    let sign_in = browser
        .get(&app, "/web/sign-in?next=%2Fweb%2Ftoday%3Fdate%3D2026-12-01")
        .await;

    assert_eq!(page.status().as_u16(), 303);
    assert_eq!(location(&page), "/web/sign-in?next=%2Fweb%2Ftoday%3Fdate%3D2026-12-01");
    assert_eq!(form.status().as_u16(), 303);
    assert_eq!(location(&form), "/web/sign-in", "a POST is not returned to");
    assert_eq!(sign_in.status().as_u16(), 200);
}

#[tokio::test]
async fn a_signed_in_ahw_sees_the_day_list_with_a_booking_made_through_the_api_and_the_read_is_audited() {
    // Arrange
    let app = dev_app().await;
    let (booking, date) = booking_via_the_api(&app).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "ahw").await;

    // Act
    let page = browser.page(&app, &format!("/web/today?date={date}")).await;

    // Assert: the patient, why they came, the PAT's units and the status, in words.
    assert!(
        page.contains("943 476 5919") || page.contains("9434765919"),
        "NHS number: {page}"
    );
    assert!(page.contains("fall"), "presenting condition");
    assert!(
        page.contains("<dt>Units (most in a day)</dt><dd>12</dd>"),
        "units: {page}"
    );
    assert!(page.contains("<dt>Status</dt><dd>booked</dd>"), "status");
    assert!(page.contains(&format!("/web/bookings/{}/outcome", booking["id"].as_str().unwrap())));
    assert!(page.contains("lang=\"en-GB\""));
    let events = app.audit_events().await;
    assert!(
        events
            .iter()
            .any(|e| e["actor"] == "dev-ahw" && e["action"] == "read" && e["patient_key"] == PATIENT_KEY),
        "the page's read of the booking is in the audit trail: {events:?}"
    );
}

#[tokio::test]
async fn a_clinician_gets_a_403_page_on_the_day_list() {
    let (app, mut browser) = signed_in("clinician").await;

    let response = browser.get(&app, "/web/today").await;

    assert_eq!(response.status().as_u16(), 403);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let text = response.text().await.unwrap();
    assert!(text.contains("Your role cannot use this page"), "{text}");
    // The page keeps the signed-in header: the clinician's own page and a way to sign out.
    assert!(text.contains("href=\"/web/referrals\""), "{text}");
    assert!(!text.contains("href=\"/web/today\""), "{text}");
    assert!(text.contains("action=\"/web/sign-out\""), "{text}");
}

#[tokio::test]
async fn a_health_worker_that_is_not_one_of_the_list_is_shown_as_an_error_beside_the_select() {
    let (app, mut browser) = signed_in("ahw").await;

    let today = browser.page(&app, "/web/today?health_worker=not-an-id").await;
    let slots = browser.page(&app, "/web/slots?health_worker=not-an-id").await;

    for page in [&today, &slots] {
        assert!(
            page.contains("name=\"health_worker\" aria-invalid=\"true\" aria-describedby=\"health_worker-error\""),
            "{page}"
        );
        assert!(
            page.contains("id=\"health_worker-error\">Error: Choose a health worker from the list."),
            "{page}"
        );
    }
    assert!(
        !today.contains("appointment"),
        "no day is listed for a wrong picker: {today}"
    );
}

#[tokio::test]
async fn a_form_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    // Arrange: a booking whose slot has started, and an AHW signed in.
    let app = dev_app().await;
    let (booking, _) = booking_via_the_api(&app).await;
    let id = booking["id"].as_str().unwrap();
    app.advance_clock(Duration::minutes(65));
    let mut browser = Browser::new();
    browser.sign_in(&app, "ahw").await;
    let path = format!("/web/bookings/{id}/outcome");

    // Act: no token, then a wrong one.
    let without = browser.post_form(&app, &path, &[("status", "did_not_attend")]).await;
    let wrong = browser
        .post_form(&app, &path, &[("csrf", "0000"), ("status", "did_not_attend")])
        .await;

    // Assert
    assert_eq!(without.status().as_u16(), 403);
    assert_eq!(wrong.status().as_u16(), 403);
    let stored = json_with(app.get(&format!("{BOOKINGS}/{id}"), "admin").await, 200, "the booking").await;
    assert_eq!(stored["status"], "booked", "nothing was done");
}

#[tokio::test]
async fn recording_attended_through_the_form_shows_in_the_json_api() {
    // Arrange
    let app = dev_app().await;
    let (booking, date) = booking_via_the_api(&app).await;
    let id = booking["id"].as_str().unwrap();
    app.advance_clock(Duration::minutes(65));
    let mut browser = Browser::new();
    browser.sign_in(&app, "ahw").await;
    let page = browser.page(&app, &format!("/web/today?date={date}")).await;
    let csrf = csrf_of(&page);

    // Act
    let response = browser
        .post_form(
            &app,
            &format!("/web/bookings/{id}/outcome?date={date}&health_worker="),
            &[
                ("csrf", &csrf),
                ("status", "attended"),
                ("brief_intervention_delivered", "yes"),
                ("units_per_week", "21"),
                ("reason", ""),
            ],
        )
        .await;

    // Assert: back to the day list with a message; the JSON API has the outcome.
    assert_eq!(response.status().as_u16(), 303);
    let back = location(&response);
    assert!(back.starts_with(&format!("/web/today?date={date}")), "{back}");
    let page = browser.page(&app, &back).await;
    assert!(page.contains("The outcome was recorded."), "{page}");
    let stored = json_with(app.get(&format!("{BOOKINGS}/{id}"), "admin").await, 200, "the booking").await;
    assert_eq!(stored["status"], "attended");
    assert_eq!(stored["brief_intervention_delivered"], true);
    assert_eq!(stored["units_per_week"], 21.0);
    assert_eq!(stored["outcome_by"], "dev-ahw");
}

#[tokio::test]
async fn an_invalid_outcome_form_is_answered_in_words_and_changes_nothing() {
    let app = dev_app().await;
    let (booking, _) = booking_via_the_api(&app).await;
    let id = booking["id"].as_str().unwrap();
    app.advance_clock(Duration::minutes(65));
    let mut browser = Browser::new();
    browser.sign_in(&app, "ahw").await;
    let csrf = csrf_of(&browser.page(&app, "/web/").await);

    // Attended without saying whether the brief intervention was delivered.
    let response = browser
        .post_form(
            &app,
            &format!("/web/bookings/{id}/outcome"),
            &[("csrf", &csrf), ("status", "attended"), ("units_per_week", "lots")],
        )
        .await;

    assert_eq!(response.status().as_u16(), 422);
    let text = response.text().await.unwrap();
    assert!(text.contains("units_per_week"), "{text}");
    let stored = json_with(app.get(&format!("{BOOKINGS}/{id}"), "admin").await, 200, "the booking").await;
    assert_eq!(stored["status"], "booked");
}

#[tokio::test]
async fn every_web_response_has_the_security_headers_without_unsafe_inline() {
    let (app, mut browser) = signed_in("ahw").await;

    for (path, status) in [
        ("/web/today", 200),
        ("/web/sign-in", 200),
        ("/web/static/app.css", 200),
        ("/web/no-such-page", 404),
    ] {
        let response = browser.get(&app, path).await;
        assert_eq!(response.status().as_u16(), status, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_else(|| panic!("{path}: no {name}"))
        };
        let csp = header("content-security-policy");
        assert_eq!(
            csp,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            "{path}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
    }
    let page = browser.page(&app, "/web/today").await;
    assert!(
        !page.contains("<script") && !page.contains("style=\""),
        "no inline script or style"
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_lax_and_secure_outside_dev_on_loopback() {
    let app = dev_app().await;
    let response = Browser::new()
        .get(&app, &format!("/web/dev/sign-in?role=ahw&key={KEY}"))
        .await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "dev mode on loopback: plain HTTP works: {cookie}"
    );

    let mut settings = crate::helpers::test_settings(String::new(), "x");
    settings.dev = true;
    settings.listen = "0.0.0.0:8080".into();
    assert!(
        pat_service::web::session::cookie_secure(&settings),
        "dev, but not on loopback"
    );
    settings.dev = false;
    settings.listen = "127.0.0.1:8080".into();
    assert!(
        pat_service::web::session::cookie_secure(&settings),
        "loopback, but not dev"
    );
}

#[tokio::test]
async fn signing_out_ends_the_session_and_the_old_cookie_no_longer_works() {
    let (app, mut browser) = signed_in("ahw").await;
    let old = browser.cookie.clone();
    let csrf = csrf_of(&browser.page(&app, "/web/today").await);

    let response = browser.post_form(&app, "/web/sign-out", &[("csrf", &csrf)]).await;

    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/web/sign-in");
    let mut replay = Browser::new();
    replay.cookie = old;
    let response = replay.get(&app, "/web/today").await;
    assert_eq!(response.status().as_u16(), 303, "the old cookie is refused");
    assert_eq!(location(&response), "/web/sign-in?next=%2Fweb%2Ftoday");
}

#[tokio::test]
async fn signing_out_without_the_csrf_token_is_refused() {
    let (app, mut browser) = signed_in("ahw").await;

    let response = browser.post_form(&app, "/web/sign-out", &[]).await;

    assert_eq!(response.status().as_u16(), 403);
    browser.page(&app, "/web/today").await;
}

#[tokio::test]
async fn a_session_idle_for_longer_than_the_timeout_is_gone() {
    let (app, mut browser) = signed_in("ahw").await;
    browser.page(&app, "/web/today").await;

    // 29 minutes idle: still signed in (and seen again now).
    app.advance_clock(Duration::minutes(29));
    browser.page(&app, "/web/today").await;
    // 31 minutes idle: gone.
    app.advance_clock(Duration::minutes(31));
    let response = browser.get(&app, "/web/today").await;

    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/web/sign-in?next=%2Fweb%2Ftoday");
}

#[tokio::test]
async fn a_session_works_across_two_instances() {
    let app = dev_app().await;
    let other = app.another_instance().await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "ahw").await;

    let page = browser.page(&other, "/web/today").await;

    assert!(page.contains("Signed in as Development ahw"), "{page}");
}

#[tokio::test]
async fn free_text_from_the_epr_is_escaped_on_the_day_list() {
    // Arrange: an attendance whose free-text detail and health worker name hold markup.
    let app = dev_app().await;
    let hw = crate::scheduling_helpers::health_worker_named(&app, "<b>Nurse</b> O'Brien").await;
    let hw = hw["id"].as_str().unwrap().to_owned();
    let mut body = crate::helpers::attendance_body("web-xss");
    body["presenting_condition_detail"] = json!("<script>alert('x')</script>");
    body["arrived_at"] = json!(rfc(now() - Duration::hours(2)));
    let attendance = app.create_attendance(&body).await["id"].as_str().unwrap().to_owned();
    crate::scheduling_helpers::screen(
        &app,
        &attendance,
        &crate::scheduling_helpers::completed(
            now() - Duration::hours(1),
            crate::scheduling_helpers::positive_answers(),
        ),
    )
    .await;
    crate::scheduling_helpers::decide(&app, &attendance, "accepted").await;
    let slot = slot_at(&app, &hw, now() + Duration::hours(1)).await;
    let booking = booked(&app, &attendance, &slot).await;
    let date = at(&booking["starts_at"])
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    let mut browser = Browser::new();
    browser.sign_in(&app, "ahw").await;

    // Act
    let page = browser.page(&app, &format!("/web/today?date={date}")).await;

    // Assert
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("&lt;b&gt;Nurse&lt;/b&gt; O&#39;Brien"), "{page}");
    assert!(
        !page.contains("<script>") && !page.contains("<b>Nurse"),
        "nothing unescaped"
    );
}

#[tokio::test]
async fn a_date_that_is_not_a_date_is_answered_next_to_the_field() {
    let (app, mut browser) = signed_in("ahw").await;

    let page = browser.page(&app, "/web/today?date=31%2F12%2F2026").await;

    assert!(page.contains("id=\"date-error\""), "{page}");
    assert!(page.contains("Enter the date as year-month-day"), "{page}");
}

#[tokio::test]
async fn booking_the_earliest_slot_from_the_referral_queue_puts_it_on_the_day_list() {
    // Arrange: an accepted referral (screened an hour ago) and a free slot in two hours.
    let app = dev_app().await;
    let hw = health_worker(&app).await;
    let attendance = accepted_attendance(&app).await;
    let slot = slot_at(&app, &hw, now() + Duration::hours(2)).await;
    let mut clinician = Browser::new();
    clinician.sign_in(&app, "clinician").await;
    let queue = clinician.page(&app, "/web/referrals").await;
    assert!(queue.contains("9434765919"), "the patient is in the queue: {queue}");
    assert!(queue.contains("min left"), "the time left in the window: {queue}");
    assert!(queue.contains(&format!("/web/referrals/{attendance}/book")));

    // Act
    let response = clinician
        .post_form(
            &app,
            &format!("/web/referrals/{attendance}/book"),
            &[("csrf", &csrf_of(&queue))],
        )
        .await;

    // Assert: booked into that slot; gone from the queue; on the AHW's day list.
    assert_eq!(response.status().as_u16(), 303);
    let back = location(&response);
    assert_eq!(back, "/web/referrals?flash=booked");
    let queue = clinician.page(&app, &back).await;
    assert!(queue.contains("Booked into the earliest free slot"), "{queue}");
    assert!(
        !queue.contains(&format!("/web/referrals/{attendance}/book")),
        "no longer waiting"
    );
    let attendance_view = json_with(
        app.get(&format!("/api/v1/attendances/{attendance}"), "admin").await,
        200,
        "the attendance",
    )
    .await;
    let booking = &attendance_view["bookings"][0];
    assert_eq!(booking["slot_id"], slot.as_str(), "{attendance_view}");
    let date = at(&booking["starts_at"])
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    let mut ahw = Browser::new();
    ahw.sign_in(&app, "ahw").await;
    let today = ahw.page(&app, &format!("/web/today?date={date}")).await;
    assert!(today.contains(booking["id"].as_str().unwrap()), "{today}");
}

#[tokio::test]
async fn the_referral_queue_says_when_the_window_has_passed_and_an_admin_cannot_use_it() {
    let app = dev_app().await;
    accepted_attendance_at(&app, now() - Duration::hours(30)).await;
    let mut ahw = Browser::new();
    ahw.sign_in(&app, "ahw").await;

    let queue = ahw.page(&app, "/web/referrals").await;

    assert!(queue.contains("window passed"), "{queue}");
    let mut admin = Browser::new();
    admin.sign_in(&app, "admin").await;
    assert_eq!(admin.get(&app, "/web/referrals").await.status().as_u16(), 403);
}
