//! Signing in to the web pages with OpenID Connect (src/web/oidc.rs, docs/design.md §13), through
//! the app, against the test identity provider of tests/api/oidc_idp.rs: the "Sign in" button,
//! the provider, the callback, the session; and every way the callback refuses.
//!
//! The browser is played by hand (`Browser`): no redirects followed, the two cookies
//! (`pat_oidc_sign_in`, `pat_session`) read from `Set-Cookie` and sent back as a browser would.

use std::collections::HashMap;

use chrono::Duration;
use pat_service::oidc::Url;
use serde_json::json;

use crate::helpers::{free_port, spawn_app_with, TestApp};
use crate::oidc_idp::{IdpOptions, TestIdp, REDIRECT_URL};

const PENDING: &str = "pat_oidc_sign_in";
const SESSION: &str = "pat_session";

/// An app (not in development mode) signing in with `idp`.
async fn app_for(idp: &TestIdp) -> TestApp {
    let settings = idp.settings();
    spawn_app_with(move |s| s.oidc = Some(settings)).await
}

/// A browser: its cookies by name, and the `Set-Cookie` lines of the last answer.
struct Browser {
    client: reqwest::Client,
    cookies: HashMap<String, String>,
    set_cookies: Vec<String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            set_cookies: vec![],
        }
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        self.set_cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for line in &self.set_cookies {
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn with_cookies(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.cookies.is_empty() {
            return request;
        }
        let header: Vec<String> = self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
        request.header("cookie", header.join("; "))
    }

    async fn get(&mut self, app: &TestApp, path: &str) -> reqwest::Response {
        let response = self.with_cookies(self.client.get(app.url(path))).send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    async fn post_form(&mut self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let request = self.client.post(app.url(path)).form(form);
        let response = self.with_cookies(request).send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    /// The `Set-Cookie` line of the last answer for `name`.
    fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|line| line.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    /// Presses "Sign in" (with `next` if given), lets the provider sign the person in, and answers
    /// the path and query the provider sent the browser back to (not yet followed).
    async fn sign_in_at_the_provider(&mut self, app: &TestApp, next: Option<&str>) -> String {
        let form: Vec<(&str, &str)> = next.map(|n| ("next", n)).into_iter().collect();
        let response = self.post_form(app, "/web/sign-in", &form).await;
        assert_eq!(
            response.status().as_u16(),
            303,
            "the sign-in button sends the browser on"
        );
        assert!(
            self.cookies.contains_key(PENDING),
            "the sign-in's handle is in a cookie"
        );
        let provider = location(&response);
        let answer = self.client.get(&provider).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 302, "the test provider signs the person in");
        let back = location(&answer);
        assert!(back.starts_with(REDIRECT_URL), "{back}");
        let back = Url::parse(&back).unwrap();
        format!("{}?{}", back.path(), back.query().unwrap())
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Asserts a failed sign-in's page: `status`, the words, a "Sign in again" link, no session, and
/// the pending sign-in's cookie removed.
async fn assert_refused(browser: &Browser, response: reqwest::Response, status: u16, words: &str) -> String {
    let pending_removed = browser
        .set_cookie(PENDING)
        .is_some_and(|line| line.starts_with(&format!("{PENDING}=;")));
    assert_eq!(response.status().as_u16(), status);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a page"
    );
    let page = response.text().await.unwrap();
    assert!(page.contains(words), "{words:?} in {page}");
    assert!(page.contains("<a href=\"/web/sign-in\">Sign in again</a>"), "{page}");
    assert!(browser.set_cookie(SESSION).is_none(), "no session");
    assert!(
        pending_removed,
        "the pending sign-in's cookie is removed: {:?}",
        browser.set_cookies
    );
    page
}

#[tokio::test]
async fn an_ahw_signs_in_through_the_identity_provider_and_sees_the_day_list() {
    // Arrange
    let idp = TestIdp::start(IdpOptions::default()).await;
    let app = app_for(&idp).await;
    let mut browser = Browser::new();

    // Act 1: the sign-in page.
    let response = browser.get(&app, "/web/sign-in").await;

    // Assert: a button that posts to /web/sign-in, and the provider allowed as the form's target
    // (the browser checks form-action against the redirect to it).
    assert_eq!(response.status().as_u16(), 200);
    let policies: Vec<_> = response.headers().get_all("content-security-policy").iter().collect();
    assert_eq!(policies.len(), 1, "one policy, not the pages' default beside it");
    let policy = policies[0].to_str().unwrap().to_owned();
    let form_action = policy.split(';').map(str::trim).find(|d| d.starts_with("form-action"));
    assert_eq!(
        form_action,
        Some(format!("form-action 'self' {}", idp.issuer).as_str()),
        "{policy}"
    );
    assert!(
        policy.contains("script-src 'self'"),
        "the rest of the policy stays: {policy}"
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<form method=\"post\" action=\"/web/sign-in\">"),
        "{page}"
    );
    assert!(page.contains("<button type=\"submit\">Sign in</button>"), "{page}");
    assert!(!page.contains("development"), "no development links without --dev");

    // Act 2: "Sign in".
    let response = browser.post_form(&app, "/web/sign-in", &[]).await;

    // Assert: to the provider's authorization endpoint, with a short-lived handle cookie.
    assert_eq!(response.status().as_u16(), 303);
    let provider = location(&response);
    assert!(
        provider.starts_with(&format!("{}/authorize?", idp.issuer)),
        "{provider}"
    );
    let cookie = browser.set_cookie(PENDING).unwrap().to_owned();
    let handle = browser.cookies[PENDING].clone();
    assert_eq!(handle.len(), 64, "32 random bytes, hex");
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/web", "Max-Age=600"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!provider.contains(&handle), "the handle never leaves for the provider");

    // Act 3: the provider signs the person in and sends the browser back.
    let answer = browser.client.get(&provider).send().await.unwrap();
    let back = Url::parse(&location(&answer)).unwrap();
    let response = browser
        .get(&app, &format!("/web/oidc/callback?{}", back.query().unwrap()))
        .await;

    // Assert: a session, the pending cookie gone, and the start page.
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(location(&response), "/web/");
    assert!(browser.cookies.contains_key(SESSION), "{:?}", browser.set_cookies);
    assert!(!browser.cookies.contains_key(PENDING), "{:?}", browser.set_cookies);
    let today = browser.get(&app, "/web/today").await;
    assert_eq!(today.status().as_u16(), 200);
    let today = today.text().await.unwrap();
    // The provider gave clinician, ahw and Nurse.Manager: the service knows the first two.
    assert!(today.contains("Signed in as Test User (clinician,ahw)"), "{today}");
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let app = app_for(&idp).await;
    let mut browser = Browser::new();
    let callback = browser.sign_in_at_the_provider(&app, None).await;
    let handle = browser.cookies[PENDING].clone();
    let first = browser.get(&app, &callback).await;
    assert_eq!(first.status().as_u16(), 303, "the first callback signs in");

    // The same answer again, with the same handle (as an attacker who copied both would send).
    let mut replay = Browser::new();
    replay.cookies.insert(PENDING.into(), handle);
    let response = replay.get(&app, &callback).await;

    assert_refused(&replay, response, 400, "each sign-in can be used once").await;
}

#[tokio::test]
async fn a_callback_with_another_state_is_refused_and_ends_that_sign_in() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let app = app_for(&idp).await;
    let mut browser = Browser::new();
    let callback = browser.sign_in_at_the_provider(&app, None).await;
    let handle = browser.cookies[PENDING].clone();
    let wrong = callback.replace("state=", "state=x");
    assert_ne!(wrong, callback);

    let response = browser.get(&app, &wrong).await;

    assert_refused(&browser, response, 400, "does not match the one that was started").await;
    // The sign-in was taken by the refused attempt: the right state cannot use it afterwards.
    browser.cookies.insert(PENDING.into(), handle);
    let response = browser.get(&app, &callback).await;
    assert_refused(&browser, response, 400, "each sign-in can be used once").await;
}

#[tokio::test]
async fn a_sign_in_can_be_finished_within_ten_minutes_and_not_after() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let app = app_for(&idp).await;

    // Finished 9 minutes after it started: signed in.
    let mut in_time = Browser::new();
    let callback = in_time.sign_in_at_the_provider(&app, None).await;
    app.advance_clock(Duration::minutes(9));
    let response = in_time.get(&app, &callback).await;
    assert_eq!(response.status().as_u16(), 303, "9 minutes is in time");

    // Finished 11 minutes after it started: refused.
    let mut late = Browser::new();
    let callback = late.sign_in_at_the_provider(&app, None).await;
    app.advance_clock(Duration::minutes(11));
    let response = late.get(&app, &callback).await;
    assert_refused(&late, response, 400, "more than 10 minutes ago and has expired").await;
}

#[tokio::test]
async fn a_person_with_only_the_integration_role_is_refused_with_a_403_page() {
    let idp = TestIdp::start(IdpOptions {
        roles: json!(["integration", "Nurse.Manager"]),
        ..IdpOptions::default()
    })
    .await;
    let app = app_for(&idp).await;
    let mut browser = Browser::new();
    let callback = browser.sign_in_at_the_provider(&app, None).await;

    let response = browser.get(&app, &callback).await;

    assert_refused(&browser, response, 403, "This account has no role in this service").await;
}

#[tokio::test]
async fn the_integration_role_is_dropped_from_a_person_who_has_another() {
    let idp = TestIdp::start(IdpOptions {
        roles: json!(["integration", "auditor"]),
        ..IdpOptions::default()
    })
    .await;
    let app = app_for(&idp).await;
    let mut browser = Browser::new();
    let callback = browser.sign_in_at_the_provider(&app, None).await;

    let response = browser.get(&app, &callback).await;
    assert_eq!(response.status().as_u16(), 303);
    let start = browser.get(&app, "/web/").await.text().await.unwrap();

    assert!(start.contains("Signed in as Test User (auditor)"), "{start}");
}

#[tokio::test]
async fn the_provider_down_gives_a_page_the_api_still_answers_and_sign_in_works_once_it_is_back() {
    // Arrange: the issuer's port has nothing listening.
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let settings = pat_service::config::OidcSettings {
        issuer: issuer.clone(),
        ..TestIdp::start(IdpOptions::default()).await.settings()
    };
    let app = spawn_app_with(move |s| s.oidc = Some(settings)).await;
    let mut browser = Browser::new();

    // Act and assert: the sign-in page and the button say so in words.
    let response = browser.get(&app, "/web/sign-in").await;
    assert_eq!(response.status().as_u16(), 503);
    let page = response.text().await.unwrap();
    assert!(page.contains("could not be reached"), "{page}");
    let response = browser.post_form(&app, "/web/sign-in", &[]).await;
    assert_refused(&browser, response, 503, "could not be reached").await;
    // The API does not depend on the provider.
    let api = app.get("/api/v1/health-workers", "admin").await;
    assert_eq!(api.status().as_u16(), 200);

    // The provider comes up at its address: the next sign-in discovers it.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let idp = TestIdp::start_on(listener, IdpOptions::default()).await;
    assert_eq!(idp.issuer, issuer);
    let response = browser.get(&app, "/web/sign-in").await;
    assert_eq!(response.status().as_u16(), 200, "discovery is tried again");
    let callback = browser.sign_in_at_the_provider(&app, None).await;
    let response = browser.get(&app, &callback).await;
    assert_eq!(response.status().as_u16(), 303);
    assert!(browser.cookies.contains_key(SESSION));
}

#[tokio::test]
async fn the_provider_refusing_access_gives_a_page_without_its_own_words() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let app = app_for(&idp).await;
    let mut browser = Browser::new();
    let callback = browser.sign_in_at_the_provider(&app, None).await;
    let state = callback.split("state=").nth(1).unwrap().to_owned();

    let response = browser
        .get(
            &app,
            &format!(
                "/web/oidc/callback?error=access_denied&error_description=%3Cb%3EUnchecked%3C%2Fb%3E&state={state}"
            ),
        )
        .await;

    let page = assert_refused(&browser, response, 403, "access was denied there").await;
    assert!(!page.contains("Unchecked"), "the provider's description is not shown");
}

#[tokio::test]
async fn a_callback_without_a_started_sign_in_is_refused() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let app = app_for(&idp).await;
    let mut browser = Browser::new();
    let callback = browser.sign_in_at_the_provider(&app, None).await;

    // Another browser (no handle cookie), and one with a handle the service never gave.
    let mut other = Browser::new();
    let response = other.get(&app, &callback).await;
    assert_refused(&other, response, 400, "No sign-in was started in this browser").await;
    other.cookies.insert(PENDING.into(), "ab".repeat(32));
    let response = other.get(&app, &callback).await;
    assert_refused(&other, response, 400, "each sign-in can be used once").await;

    // The browser that started it still can: the refusals above did not touch its sign-in.
    let response = browser.get(&app, &callback).await;
    assert_eq!(response.status().as_u16(), 303);
}

#[tokio::test]
async fn the_page_asked_for_is_shown_after_sign_in_but_never_another_site() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let app = app_for(&idp).await;

    let mut browser = Browser::new();
    let page = browser
        .get(&app, "/web/sign-in?next=%2Fweb%2Freferrals")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<input type=\"hidden\" name=\"next\" value=\"/web/referrals\">"),
        "{page}"
    );
    let callback = browser.sign_in_at_the_provider(&app, Some("/web/referrals")).await;
    let response = browser.get(&app, &callback).await;
    assert_eq!(location(&response), "/web/referrals");

    let mut browser = Browser::new();
    let callback = browser.sign_in_at_the_provider(&app, Some("//evil.example/web/")).await;
    let response = browser.get(&app, &callback).await;
    assert_eq!(location(&response), "/web/", "another site is never a return address");
}

#[tokio::test]
async fn the_development_sign_in_is_404_without_dev_mode_when_oidc_is_configured() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let key = "a-development-key";
    let settings = idp.settings();
    let app = spawn_app_with(move |s| {
        s.oidc = Some(settings);
        s.web.dev_sign_in_key = pat_service::config::Secret::new(key.to_owned());
    })
    .await;
    let mut browser = Browser::new();

    let response = browser.get(&app, &format!("/web/dev/sign-in?role=ahw&key={key}")).await;

    assert_eq!(response.status().as_u16(), 404);
    assert!(!browser.cookies.contains_key(SESSION));
}

#[tokio::test]
async fn in_development_mode_the_sign_in_page_offers_both() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let settings = idp.settings();
    let app = spawn_app_with(move |s| {
        s.oidc = Some(settings);
        s.dev = true;
    })
    .await;
    let mut browser = Browser::new();

    let page = browser.get(&app, "/web/sign-in").await.text().await.unwrap();

    assert!(page.contains("<button type=\"submit\">Sign in</button>"), "{page}");
    assert!(page.contains("development sign-in links"), "{page}");
}

#[tokio::test]
async fn of_two_callbacks_racing_with_the_same_sign_in_one_signs_in() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let app = app_for(&idp).await;
    let mut browser = Browser::new();
    let callback = browser.sign_in_at_the_provider(&app, None).await;
    let mut first = Browser::new();
    let mut second = Browser::new();
    for racer in [&mut first, &mut second] {
        racer.cookies = browser.cookies.clone();
    }

    let (a, b) = tokio::join!(first.get(&app, &callback), second.get(&app, &callback));

    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 400], "the sign-in is taken once");
    let sessions = [&first, &second]
        .iter()
        .filter(|racer| racer.cookies.contains_key(SESSION))
        .count();
    assert_eq!(sessions, 1);
}

#[tokio::test]
async fn without_oidc_settings_the_sign_in_button_does_not_exist() {
    let app = spawn_app_with(|_| {}).await;
    let mut browser = Browser::new();

    let response = browser.post_form(&app, "/web/sign-in", &[]).await;

    assert_eq!(response.status().as_u16(), 404);
    assert!(browser.cookies.is_empty(), "{:?}", browser.set_cookies);
    let page = browser.get(&app, "/web/sign-in?next=%ZZ").await.text().await.unwrap();
    assert!(page.contains("Sign-in is not configured"), "{page}");
    assert!(!page.contains("<button"), "{page}");
}

#[tokio::test]
async fn starting_a_sign_in_removes_the_expired_ones() {
    let idp = TestIdp::start(IdpOptions::default()).await;
    let app = app_for(&idp).await;
    let mut stale = Browser::new();
    let stale_callback = stale.sign_in_at_the_provider(&app, None).await;
    app.advance_clock(Duration::minutes(11));

    // Someone else starts a sign-in: the one started 11 minutes ago is removed, not kept.
    let mut fresh = Browser::new();
    fresh.sign_in_at_the_provider(&app, None).await;
    let response = stale.get(&app, &stale_callback).await;

    // Gone (not found at all), where without the purge it would be found and refused as expired.
    let page = assert_refused(&stale, response, 400, "each sign-in can be used once").await;
    assert!(!page.contains("expired"), "{page}");
}
