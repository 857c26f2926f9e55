//! Journeys through the web pages in a real browser (issue 13 "Tests"; docs/design.md §12):
//! headless Chromium (Debian's `chromium`) driven over WebDriver by `chromedriver`, from Rust with
//! fantoccini. On every page a journey visits, axe-core's WCAG 2.2 A/AA rules run, and Tab is
//! pressed through the page: every control must be reached and show its focus.
//!
//! Off unless `TEST_BROWSER=chromium`, as PostgreSQL is off unless `TEST_DATABASE_URL` is set: a
//! journey then says on stderr that it did nothing, and passes. `.ci/run` always turns them on, on
//! SQLite and on PostgreSQL, and afterwards checks the proof file (below) names every journey.
//!
//! - `TEST_BROWSER=chromium`: run the journeys (any other value fails them).
//! - `TEST_AXE_JS`: the path of axe-core's `axe.min.js` (from `npm pack axe-core@4.14.1`, unpacked);
//!   required with `TEST_BROWSER`.
//! - `TEST_CHROMEDRIVER`, `TEST_CHROMIUM`: the programs (default: `chromedriver` and `chromium`
//!   on the `PATH`).
//! - `TEST_BROWSER_SCREENSHOTS=all`: a screenshot of every page visited, not only on failure.
//! - `TEST_BROWSER_PROOF=<file>`: each journey that passed appends a line `<database> <journey>`.
//!
//! Each journey starts its own app in development mode, its own `chromedriver` on a free loopback
//! port and Chromium under it (a temporary profile and download directory, a 1280×800 page),
//! and signs in through the development link, as a person following `serve --dev`'s link would.
//! The journey runs in a task of its own so that, when it fails, the page it failed on is still
//! there to photograph: `<CARGO_TARGET_TMPDIR>/browser-screenshots/<journey>-failed.png`.
//!
//! WebDriver's scripts are not subject to the page's Content-Security-Policy (the sign-out journey
//! checks both halves of that), which is what lets axe run on pages that allow no inline script.

use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Datelike, Duration};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::helpers::{free_port, spawn_app_with, KillOnDrop, TestApp};
use crate::scheduling_helpers::{
    accepted_attendance, at, booked, health_worker, json_with, now, positive_attendance, slot_at, BOOKINGS,
};

/// The development sign-in key of the apps the journeys start.
const KEY: &str = "browser-dev-sign-in-key";

/// The axe-core tags run on every page: WCAG 2.0, 2.1 and 2.2, levels A and AA.
const AXE_TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/// How long a page, a download or chromedriver gets before the journey gives up.
const PATIENCE: StdDuration = StdDuration::from_secs(15);

/// What the environment asks for; `None` (after saying so on stderr) when the browser tests are off.
struct Setup {
    chromedriver: String,
    chromium: String,
    axe: Arc<String>,
    screenshots_all: bool,
}

impl Setup {
    fn from_env(journey: &str) -> Option<Setup> {
        match std::env::var("TEST_BROWSER").ok().as_deref() {
            None | Some("") => {
                eprintln!(
                    "browser::{journey}: not run: TEST_BROWSER is not set (TEST_BROWSER=chromium runs the \
                     browser journeys in headless Chromium)"
                );
                return None;
            }
            Some("chromium") => {}
            Some(other) => panic!("TEST_BROWSER={other}: the browser tests know only TEST_BROWSER=chromium"),
        }
        let axe_path = std::env::var("TEST_AXE_JS").unwrap_or_default();
        assert!(
            !axe_path.is_empty(),
            "TEST_BROWSER is set but TEST_AXE_JS is not: the browser tests check every page with axe-core. \
             Get it with `npm pack axe-core@4.14.1 && tar xzf axe-core-4.14.1.tgz` and set \
             TEST_AXE_JS=$PWD/package/axe.min.js (.ci/run does this)"
        );
        let axe = std::fs::read_to_string(&axe_path)
            .unwrap_or_else(|e| panic!("TEST_AXE_JS={axe_path}: cannot read axe-core's axe.min.js: {e}"));
        assert!(
            axe.contains("axe v4."),
            "TEST_AXE_JS={axe_path} does not look like axe-core 4's axe.min.js"
        );
        let chromium = std::env::var("TEST_CHROMIUM").unwrap_or_else(|_| {
            on_path("chromium").unwrap_or_else(|| {
                panic!(
                    "TEST_BROWSER=chromium but there is no `chromium` on the PATH: \
                     apt-get install chromium chromium-driver (or set TEST_CHROMIUM)"
                )
            })
        });
        Some(Setup {
            chromedriver: std::env::var("TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned()),
            chromium,
            axe: Arc::new(axe),
            screenshots_all: std::env::var("TEST_BROWSER_SCREENSHOTS").is_ok_and(|v| v == "all"),
        })
    }
}

/// The full path of a program on the `PATH`.
fn on_path(program: &str) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}

/// Where screenshots go: the test output directory, which `cargo clean` empties.
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots")
}

/// A running `chromedriver` and (once a session is open) the Chromium it started, with their
/// temporary directory. `chromedriver` leads a process group of its own, which Chromium joins:
/// dropping this ends the whole group, so a journey that failed before closing its session leaves
/// no browser behind.
struct Driver {
    process: KillOnDrop,
    dir: PathBuf,
}

impl Driver {
    async fn start(setup: &Setup) -> (Driver, Client, PathBuf) {
        let dir = std::env::temp_dir().join(format!("pat-browser-{}", uuid::Uuid::new_v4().simple()));
        let profile = dir.join("profile");
        let downloads = dir.join("downloads");
        std::fs::create_dir_all(&profile).unwrap();
        std::fs::create_dir_all(&downloads).unwrap();
        let port = free_port();
        let child = Command::new(&setup.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): apt-get install chromium-driver (or set TEST_CHROMEDRIVER)",
                    setup.chromedriver
                )
            });
        let driver = Driver {
            process: KillOnDrop(child),
            dir,
        };
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < PATIENCE,
                "chromedriver did not listen on port {port} within {PATIENCE:?}"
            );
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": setup.chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.display()),
                    "--lang=en-GB",
                    "--no-first-run",
                    "--no-default-browser-check",
                    // Nothing but the app under test: no update checks or sync on a closed network.
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-quic",
                ],
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium ({}): {e}", setup.chromium));
        // The window holds more than the page: grow it until the page itself is 1280×800.
        let inner = client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .unwrap();
        let (width, height) = (inner[0].as_u64().unwrap_or(1280), inner[1].as_u64().unwrap_or(800));
        let (window_width, window_height) = client.get_window_size().await.unwrap();
        client
            .set_window_size(
                u32::try_from(window_width + 1280 - width.min(1280)).unwrap(),
                u32::try_from(window_height + 800 - height.min(800)).unwrap(),
            )
            .await
            .unwrap();
        (driver, client, downloads)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = self.process.0.id();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{group}")])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The browser as a journey uses it: pages by path on the journey's app, each one checked.
#[derive(Clone)]
struct Browser {
    client: Client,
    base: String,
    journey: &'static str,
    axe: Arc<String>,
    screenshots_all: bool,
    pages: Arc<AtomicUsize>,
    downloads: PathBuf,
}

/// One axe-core violation, as the failure message lists it.
#[derive(Debug, serde::Deserialize)]
struct Violation {
    id: String,
    impact: Option<String>,
    help: String,
    targets: Vec<String>,
}

impl Browser {
    /// Goes to `path` on the app and checks the page.
    async fn visit(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let shown = self.path().await;
        self.arrived(&shown).await;
    }

    /// Clicks what `locator` finds, waits for the page it leads to and checks that page.
    async fn click(&self, locator: Locator<'_>) {
        let element = match self.client.wait().at_most(PATIENCE).for_element(locator).await {
            Ok(element) => element,
            Err(e) => panic!("no {locator:?} on {}: {e}", self.path().await),
        };
        // A mark on the old page: gone once the browser shows the new one.
        self.run("window.patOldPage = true; return null;", vec![]).await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {locator:?}: {e}"));
        let started = std::time::Instant::now();
        loop {
            let state = self
                .client
                .execute(
                    "return window.patOldPage === true ? 'old' : document.readyState;",
                    vec![],
                )
                .await;
            if matches!(state, Ok(Value::String(ref s)) if s == "complete") {
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "clicking {locator:?} led to no new page within {PATIENCE:?}"
            );
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        let path = self.path().await;
        self.arrived(&path).await;
    }

    /// Every page visited: a screenshot when all pages are asked for, axe-core's checks and the
    /// keyboard checks.
    async fn arrived(&self, label: &str) {
        let n = self.pages.fetch_add(1, Ordering::SeqCst) + 1;
        if self.screenshots_all {
            let slug: String = label
                .trim_start_matches("/web/")
                .split('?')
                .next()
                .unwrap_or_default()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let slug = if slug.is_empty() { "start".to_owned() } else { slug };
            self.screenshot(&format!("{}-{n:02}-{slug}", self.journey)).await;
        }
        self.check_accessibility().await;
        self.check_keyboard().await;
    }

    /// What axe cannot check (WCAG 2.1.1 and 2.4.7): pressing Tab from the top of the page reaches
    /// every control on it (one radio per group), and each control shows where the focus is (an
    /// outline, the browser's focus ring or a shadow). Fails listing the controls that are not.
    async fn check_keyboard(&self) {
        let (unseen_focus, unreached) = self.keyboard_problems().await;
        let url = self.path().await;
        assert!(
            unseen_focus.is_empty(),
            "on {url}, these controls show no focus outline when reached with Tab: {}",
            unseen_focus.join("; ")
        );
        assert!(
            unreached.is_empty(),
            "on {url}, pressing Tab never reaches: {unreached}"
        );
    }

    /// The controls Tab reached that showed no focus, and (in words) the controls it never reached.
    async fn keyboard_problems(&self) -> (Vec<String>, String) {
        const CONTROLS: &str = "const controls = Array.from(document.querySelectorAll(\
              'a[href], button, input, select, textarea, [tabindex]'))\
              .filter(e => !e.disabled && e.type !== 'hidden' && e.tabIndex >= 0\
                && e.checkVisibility({ visibilityProperty: true }));\
            const describe = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')\
              + (e.name ? '[name=' + e.name + ']' : '') + ' \"' + (e.textContent || '').trim().slice(0, 30) + '\"';";
        let expected: usize = self
            .run(&format!("{CONTROLS} return String(controls.length);"), vec![])
            .await
            .parse()
            .unwrap();
        let tab = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: Key::Tab.into() })
            .then(KeyAction::Up { value: Key::Tab.into() });
        let mut unseen_focus = vec![];
        for _ in 0..expected + 20 {
            self.client
                .perform_actions(tab.clone())
                .await
                .unwrap_or_else(|e| panic!("pressing Tab: {e}"));
            let focused = self
                .client
                .execute(
                    &format!(
                        "{CONTROLS} const e = document.activeElement;\
                         if (!e || e === document.body || e === document.documentElement) {{ return null; }}\
                         if (e.dataset.patTabbed) {{ return e.dataset.patTabbed === 'first' ? 'round' : 'again'; }}\
                         e.dataset.patTabbed = document.querySelector('[data-pat-tabbed]') ? 'yes' : 'first';\
                         const s = getComputedStyle(e);\
                         const shown = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)\
                           || s.boxShadow !== 'none';\
                         return shown ? 'shown' : describe(e);"
                    ),
                    vec![],
                )
                .await
                .unwrap();
            match focused.as_str() {
                // Out of the page, or round to its first control again: every stop has been seen.
                None | Some("round") => break,
                // The same control again: a date input's day, month and year are stops of their own.
                Some("shown" | "again") => {}
                Some(other) => unseen_focus.push(other.to_owned()),
            }
        }
        let unreached = self
            .run(
                &format!(
                    "{CONTROLS} const missing = []; const groups = new Map();\
                     for (const e of controls) {{\
                       const tabbed = Boolean(e.dataset.patTabbed);\
                       if (e.type === 'radio') {{\
                         const key = e.name + ' in form ' + Array.from(document.forms).indexOf(e.form);\
                         groups.set(key, (groups.get(key) || false) || tabbed);\
                       }} else if (!tabbed) {{ missing.push(describe(e)); }}\
                     }}\
                     for (const [key, tabbed] of groups) {{ if (!tabbed) {{ missing.push('radio group ' + key); }} }}\
                     document.querySelectorAll('[data-pat-tabbed]').forEach(e => delete e.dataset.patTabbed);\
                     if (document.activeElement) {{ document.activeElement.blur(); }}\
                     return missing.join('; ');"
                ),
                vec![],
            )
            .await;
        (unseen_focus, unreached)
    }

    /// Runs axe-core on the page and fails listing every violation.
    async fn check_accessibility(&self) {
        let (violations, result) = self.axe_violations().await;
        let url = self.path().await;
        if !violations.is_empty() {
            let list: Vec<String> = violations
                .iter()
                .map(|v| {
                    format!(
                        "  - {} ({}): {} at {}",
                        v.id,
                        v.impact.as_deref().unwrap_or("impact unknown"),
                        v.help,
                        v.targets.join(", ")
                    )
                })
                .collect();
            panic!(
                "axe-core found {} WCAG 2.2 A/AA violation(s) on {url}:\n{}",
                violations.len(),
                list.join("\n")
            );
        }
        let passes = result["passes"].as_u64().unwrap_or_default();
        assert!(passes > 0, "axe-core checked nothing on {url}: {result}");
        let incomplete: Vec<&str> = result["incomplete"]
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        // What axe could not decide (e.g. contrast over an image) is for a person to look at.
        eprintln!(
            "browser::{}: axe-core on {url}: {passes} rules passed, no violation; undecided: {}",
            self.journey,
            if incomplete.is_empty() {
                "none".to_owned()
            } else {
                incomplete.join(", ")
            }
        );
    }

    /// axe-core's violations on the page (injected through WebDriver), and its whole answer.
    async fn axe_violations(&self) -> (Vec<Violation>, Value) {
        let loaded = self
            .run(&format!("{}\n;return typeof window.axe;", self.axe), vec![])
            .await;
        assert_eq!(loaded, "object", "axe-core did not load into the page");
        let script = "const done = arguments[arguments.length - 1];\
            window.axe.run(document, { runOnly: { type: 'tag', values: arguments[0] } })\
              .then(r => done({ violations: r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, \
                  targets: v.nodes.map(n => n.target.join(' ')) })), \
                  incomplete: r.incomplete.map(v => v.id + ' at ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ') \
                  + (v.nodes.length > 3 ? ' and ' + (v.nodes.length - 3) + ' more' : '')), \
                  passes: r.passes.length }))\
              .catch(e => done({ error: String(e) }));";
        let result = self
            .client
            .execute_async(script, vec![json!(AXE_TAGS)])
            .await
            .unwrap_or_else(|e| panic!("running axe-core: {e}"));
        assert!(result["error"].is_null(), "axe-core failed: {}", result["error"]);
        let violations = serde_json::from_value(result["violations"].clone()).unwrap();
        (violations, result)
    }

    /// Saves a PNG of the window into the test output directory; returns its path.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{name}.png"));
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(&file, png).unwrap(),
            Err(e) => eprintln!("browser::{}: no screenshot {name}: {e}", self.journey),
        }
        file
    }

    /// A WebDriver script's answer (a string, or the JSON text of anything else).
    async fn run(&self, script: &str, args: Vec<Value>) -> String {
        match self.client.execute(script, args).await {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(e) => panic!("script failed: {e}"),
        }
    }

    /// The path and query of the page shown.
    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The HTTP status of the page shown (Chromium's Navigation Timing records it).
    async fn status(&self) -> u16 {
        let status = self
            .run(
                "return String(performance.getEntriesByType('navigation')[0].responseStatus);",
                vec![],
            )
            .await;
        status
            .parse()
            .unwrap_or_else(|_| panic!("no response status: {status}"))
    }

    /// The text of the first element `css` finds, as shown.
    async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap(),
            Err(e) => panic!("no {css} on {}: {e}", self.path().await),
        }
    }

    async fn heading(&self) -> String {
        self.text("h1").await
    }

    /// The term → description pairs of the `<dl>` inside `css`.
    async fn definitions(&self, css: &str) -> Vec<(String, String)> {
        let pairs = self
            .client
            .execute(
                "const root = document.querySelector(arguments[0]);\
                 if (!root) { return null; }\
                 return Array.from(root.querySelectorAll('dt'))\
                   .map(dt => [dt.textContent.trim(), dt.nextElementSibling ? dt.nextElementSibling.textContent.trim() : '']);",
                vec![json!(css)],
            )
            .await
            .unwrap();
        serde_json::from_value(pairs.clone()).unwrap_or_else(|_| panic!("no <dl> in {css}: {pairs}"))
    }

    /// Signs in through the development link and lands on the start page.
    async fn sign_in(&self, role: &str) {
        self.visit(&format!("/web/dev/sign-in?role={role}&key={KEY}")).await;
        assert_eq!(
            self.path().await,
            "/web/",
            "signed in as {role}, the browser is on the start page"
        );
        assert_eq!(self.heading().await, "Start");
    }

    /// The one file Chromium downloaded, once it is complete.
    async fn downloaded(&self) -> (String, Vec<u8>) {
        let started = std::time::Instant::now();
        loop {
            let files: Vec<PathBuf> = std::fs::read_dir(&self.downloads)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            // Chromium writes into a hidden temporary file, then `<name>.crdownload`, then renames.
            let (partial, complete): (Vec<&PathBuf>, Vec<&PathBuf>) = files.iter().partition(|f| {
                f.extension().is_some_and(|e| e == "crdownload")
                    || f.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
            });
            if let ([], [file]) = (partial.as_slice(), complete.as_slice()) {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                return (name, std::fs::read(file).unwrap());
            }
            assert!(complete.len() <= 1, "more than one file was downloaded: {files:?}");
            assert!(
                started.elapsed() < PATIENCE,
                "no complete download within {PATIENCE:?}: {files:?}"
            );
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
    }
}

/// An app in development mode (so the development sign-in exists) with a known sign-in key.
async fn dev_app() -> TestApp {
    spawn_app_with(|s| {
        s.dev = true;
        s.web.dev_sign_in_key = pat_service::config::Secret::new(KEY.to_owned());
    })
    .await
}

/// Runs one journey: an app, a browser, then `body`; a screenshot if it fails; the proof line if
/// it passes. Nothing at all (but a line on stderr) when `TEST_BROWSER` is not set.
async fn journey<F, Fut>(name: &'static str, body: F)
where
    F: FnOnce(Browser, Arc<TestApp>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(setup) = Setup::from_env(name) else {
        return;
    };
    // Held here as well as by the journey, so that the database outlives a journey that does not
    // use the app after it signs in.
    let app = Arc::new(dev_app().await);
    let backend = app.backend;
    let (driver, client, downloads) = Driver::start(&setup).await;
    let browser = Browser {
        client: client.clone(),
        base: app.url(""),
        journey: name,
        axe: setup.axe.clone(),
        screenshots_all: setup.screenshots_all,
        pages: Arc::new(AtomicUsize::new(0)),
        downloads,
    };
    let outcome = tokio::spawn(body(browser.clone(), app.clone())).await;
    if outcome.is_err() {
        let file = browser.screenshot(&format!("{name}-failed")).await;
        eprintln!("browser::{name}: failed on this page: {}", file.display());
    }
    let closed = client.close().await;
    drop(driver);
    drop(app);
    match outcome {
        Ok(()) => {}
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("browser::{name}: the journey did not finish: {e}"),
    }
    closed.unwrap_or_else(|e| panic!("closing the browser: {e}"));
    if let Ok(proof) = std::env::var("TEST_BROWSER_PROOF") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&proof)
            .unwrap_or_else(|e| panic!("TEST_BROWSER_PROOF={proof}: {e}"));
        writeln!(file, "{backend} {name}").unwrap();
    }
}

/// The Europe/London date of an API time.
fn london_date_of(value: &Value) -> chrono::NaiveDate {
    at(value).with_timezone(&chrono_tz::Europe::London).date_naive()
}

#[tokio::test]
async fn ahw_books_the_earliest_slot_and_records_attended_with_units() {
    journey(
        "ahw_books_the_earliest_slot_and_records_attended_with_units",
        |b, app| async move {
            // Arrange: an accepted referral (screened an hour ago, so 23 h of the 24-hour window left)
            // and a free slot in 20 minutes, both through the JSON API. (Soon: the journey moves the
            // service's clock to the appointment, and more than 30 minutes would end the session.)
            let hw = health_worker(&app).await;
            let attendance = accepted_attendance(&app).await;
            let slot = slot_at(&app, &hw, now() + Duration::minutes(20)).await;

            // The referral queue, from the navigation.
            b.sign_in("ahw").await;
            b.click(Locator::LinkText("Referral queue")).await;
            assert_eq!(b.heading().await, "Referral queue");
            let queue = b.text("main").await;
            assert!(queue.contains("9434765919"), "the patient is waiting: {queue}");
            assert!(queue.contains("min left"), "the time left in the window: {queue}");

            // Book the earliest free slot: the one slot there is.
            b.click(Locator::XPath("//button[normalize-space()='Book earliest free slot']"))
                .await;
            assert!(
                b.text("main").await.contains("Booked into the earliest free slot"),
                "{}",
                b.text("main").await
            );
            let view = json_with(
                app.get(&format!("/api/v1/attendances/{attendance}"), "admin").await,
                200,
                "the attendance",
            )
            .await;
            let booking = &view["bookings"][0];
            assert_eq!(booking["slot_id"], slot.as_str(), "booked into the free slot: {view}");
            let id = booking["id"].as_str().unwrap().to_owned();
            let date = london_date_of(&booking["starts_at"]);

            // Today, for the slot's date, through the date picker.
            b.click(Locator::LinkText("Today")).await;
            b.run(
                "document.getElementById('date').value = arguments[0]; return null;",
                vec![json!(date.to_string())],
            )
            .await;
            b.click(Locator::XPath("//button[normalize-space()='Show the day']"))
                .await;
            assert!(b.path().await.starts_with(&format!("/web/today?date={date}")));
            let section = format!("section[aria-labelledby=\"b-{id}\"]");
            assert!(
                b.definitions(&section)
                    .await
                    .contains(&("Status".into(), "booked".into())),
                "the booking is on the day list"
            );

            // The appointment has begun: record attended, brief intervention given, 21 units a week.
            app.advance_clock(Duration::minutes(25));
            b.client
                .find(Locator::Id(&format!("status-{id}")))
                .await
                .unwrap()
                .select_by_value("attended")
                .await
                .unwrap();
            b.client
                .find(Locator::Id(&format!("bi-{id}")))
                .await
                .unwrap()
                .select_by_value("yes")
                .await
                .unwrap();
            b.client
                .find(Locator::Id(&format!("units-{id}")))
                .await
                .unwrap()
                .send_keys("21")
                .await
                .unwrap();
            b.click(Locator::Css(&format!(
                "form[action^=\"/web/bookings/{id}/outcome\"] button[type=\"submit\"]"
            )))
            .await;

            // Assert: back on that day's list, the booking attended with those units …
            assert!(b.path().await.starts_with(&format!("/web/today?date={date}")));
            assert!(b.text("main").await.contains("The outcome was recorded."));
            let shown = b.definitions(&section).await;
            for pair in [
                ("Status", "attended"),
                ("Brief intervention delivered", "yes"),
                ("Units per week", "21"),
            ] {
                assert!(
                    shown.contains(&(pair.0.to_owned(), pair.1.to_owned())),
                    "{pair:?} on the day list: {shown:?}"
                );
            }
            assert!(
                b.client
                    .find_all(Locator::Id(&format!("status-{id}")))
                    .await
                    .unwrap()
                    .is_empty(),
                "no outcome form for an attended booking"
            );
            // … and the same in the JSON API, recorded by the signed-in AHW.
            let stored = json_with(app.get(&format!("{BOOKINGS}/{id}"), "admin").await, 200, "the booking").await;
            assert_eq!(stored["status"], "attended");
            assert_eq!(stored["brief_intervention_delivered"], true);
            assert_eq!(stored["units_per_week"], 21.0);
            assert_eq!(stored["outcome_by"], "dev-ahw");
        },
    )
    .await;
}

#[tokio::test]
async fn ahw_pages_and_their_refused_forms_pass_axe_and_the_keyboard_checks() {
    journey(
        "ahw_pages_and_their_refused_forms_pass_axe_and_the_keyboard_checks",
        |b, app| async move {
            // Arrange: a referral waiting (screened an hour ago), a free slot in the window (in an hour) and one
            // after it (in 30 hours: the 24-hour window ends in 23), and another referral booked
            // into a slot in 20 minutes. Every page below is checked by axe and the keyboard
            // checks on arrival (`Browser::arrived`), the refused forms with their errors shown.
            let hw = health_worker(&app).await;
            accepted_attendance(&app).await;
            slot_at(&app, &hw, now() + Duration::minutes(60)).await;
            let later = slot_at(&app, &hw, now() + Duration::hours(30)).await;
            let other = accepted_attendance(&app).await;
            let soon = slot_at(&app, &hw, now() + Duration::minutes(20)).await;
            let booking = booked(&app, &other, &soon).await;
            let id = booking["id"].as_str().unwrap().to_owned();
            let date = london_date_of(&booking["starts_at"]);
            b.sign_in("ahw").await;

            // Choose a slot, then a later slot without its reason: refused beside the reason.
            b.click(Locator::LinkText("Referral queue")).await;
            b.click(Locator::LinkText("Choose a slot")).await;
            assert_eq!(b.heading().await, "Choose a slot");
            b.client
                .find(Locator::Id(&format!("slot-{later}")))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            b.click(Locator::XPath("//button[normalize-space()='Book outside the window']"))
                .await;
            assert_eq!(b.status().await, 422);
            assert!(b.text("main").await.contains("There is a problem"));
            assert!(
                b.client
                    .find(Locator::Css("#outside_window_reason[aria-invalid=\"true\"]"))
                    .await
                    .is_ok(),
                "the reason is marked as the field in error"
            );

            // Slots, then an empty rota: refused beside its fields, no slot written.
            b.click(Locator::LinkText("Slots")).await;
            assert_eq!(b.heading().await, "Slots");
            b.click(Locator::XPath("//button[normalize-space()='Publish the rota']"))
                .await;
            assert_eq!(b.status().await, 422);
            assert!(b.text("main").await.contains("There is a problem"));

            // Follow-ups due (none due yet).
            b.click(Locator::LinkText("Follow-ups due")).await;
            assert_eq!(b.heading().await, "Follow-ups due");

            // Today, and "attended" without saying whether the brief intervention was delivered:
            // refused beside that field, nothing recorded.
            b.visit(&format!("/web/today?date={date}")).await;
            b.client
                .find(Locator::Id(&format!("status-{id}")))
                .await
                .unwrap()
                .select_by_value("attended")
                .await
                .unwrap();
            b.click(Locator::Css(&format!(
                "form[action^=\"/web/bookings/{id}/outcome\"] button[type=\"submit\"]"
            )))
            .await;
            assert_eq!(b.status().await, 422);
            assert!(b.text("main").await.contains("There is a problem"));
            assert!(
                b.client
                    .find(Locator::Css(&format!("#bi-{id}[aria-invalid=\"true\"]")))
                    .await
                    .is_ok(),
                "the brief intervention field is marked as in error"
            );
            let stored = json_with(app.get(&format!("{BOOKINGS}/{id}"), "admin").await, 200, "the booking").await;
            assert_eq!(stored["status"], "booked", "nothing was recorded");
        },
    )
    .await;
}

#[tokio::test]
async fn auditor_opens_the_funnel_toggles_nhs_disclosure_and_downloads_the_api_csv() {
    journey(
        "auditor_opens_the_funnel_toggles_nhs_disclosure_and_downloads_the_api_csv",
        |b, app| async move {
            // Arrange: two PAT-positive attendances that arrived two hours ago: counts of 1 to 7,
            // which NHS disclosure control shows as `*` (docs/domain.md §8).
            let first = positive_attendance(&app).await;
            positive_attendance(&app).await;
            let arrived = json_with(
                app.get(&format!("/api/v1/attendances/{first}"), "admin").await,
                200,
                "the attendance",
            )
            .await;
            let arrival = london_date_of(&arrived["arrived_at"]);
            // The financial year starts on 1 April.
            let year = if arrival.month() >= 4 {
                arrival.year()
            } else {
                arrival.year() - 1
            };

            // The funnel for that financial year, without suppression first.
            b.sign_in("auditor").await;
            b.visit("/web/audit").await;
            assert_eq!(b.status().await, 200);
            b.client
                .find(Locator::Id("year"))
                .await
                .unwrap()
                .select_by_value(&year.to_string())
                .await
                .unwrap_or_else(|e| panic!("no financial year {year} in #year: {e}"));
            b.click(Locator::XPath(
                "(//select[@id='year']/ancestor::form//button | \
                 //select[@id='year']/ancestor::form//input[@type='submit'])[1]",
            ))
            .await;
            let plain = b.text("#funnel-table").await;
            assert!(plain.contains('2'), "two attendances in the funnel: {plain}");
            assert!(!plain.contains('*'), "nothing suppressed before the toggle: {plain}");

            // NHS small-number suppression.
            b.click(Locator::Id("disclosure-toggle")).await;
            let suppressed = b.text("#funnel-table").await;
            assert!(suppressed.contains('*'), "a count of 2 shows as *: {suppressed}");
            let source = b.client.source().await.unwrap();
            assert!(!source.contains("9434765919"), "an auditor sees no NHS number");

            // Download CSV: the file is the API's CSV for the same query, byte for byte.
            let link = b.client.find(Locator::Id("csv-funnel")).await.unwrap();
            let href = link.attr("href").await.unwrap().unwrap_or_default();
            let query = href
                .strip_prefix("/web/audit/funnel.csv?")
                .unwrap_or_else(|| panic!("#csv-funnel links to /web/audit/funnel.csv?QUERY: {href}"))
                .to_owned();
            assert!(query.contains("nhs"), "the link keeps the disclosure: {query}");
            link.click().await.unwrap();
            let (name, bytes) = b.downloaded().await;
            assert!(name.ends_with(".csv"), "{name}");
            let api = app
                .client
                .get(app.url(&format!("/api/v1/statistics/funnel?{query}")))
                .bearer_auth(app.token("auditor"))
                .header("accept", "text/csv")
                .send()
                .await
                .unwrap();
            assert_eq!(api.status().as_u16(), 200);
            let expected = api.bytes().await.unwrap();
            assert!(
                String::from_utf8_lossy(&expected).contains('*'),
                "the API's CSV is suppressed too"
            );
            assert_eq!(
                bytes,
                expected.to_vec(),
                "the downloaded CSV equals GET /api/v1/statistics/funnel?{query} as text/csv"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn auditor_page_refuses_a_clinician_with_a_403_page_in_words() {
    journey(
        "auditor_page_refuses_a_clinician_with_a_403_page_in_words",
        |b, _app| async move {
            b.sign_in("clinician").await;
            assert!(
                b.client
                    .find_all(Locator::Css("a[href^=\"/web/audit\"]"))
                    .await
                    .unwrap()
                    .is_empty(),
                "no link to the audit page for a clinician"
            );

            b.visit("/web/audit").await;

            assert_eq!(b.status().await, 403);
            assert_eq!(b.heading().await, "Your role cannot use this page");
            let words = b.text("main").await;
            assert!(words.contains("Go to the pages you can use"), "{words}");
        },
    )
    .await;
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    journey("sign_out_ends_the_session", |b, _app| async move {
        b.sign_in("ahw").await;
        b.click(Locator::LinkText("Today")).await;
        assert_eq!(b.heading().await, "Today");

        // The page allows no inline script, yet WebDriver's scripts (and so axe) run.
        let csp = b
            .run(
                "const s = document.createElement('script');\
                 s.textContent = 'window.patInline = true;';\
                 document.head.appendChild(s);\
                 return [window.patInline === true, typeof window.axe];",
                vec![],
            )
            .await;
        assert_eq!(csp, "[false,\"object\"]", "inline script blocked, WebDriver's not");

        // axe-core is not blind: an input without a label, added to this page, is a violation.
        b.run(
            "const i = document.createElement('input'); i.id = 'pat-unlabelled';\
             document.querySelector('main').appendChild(i); return null;",
            vec![],
        )
        .await;
        let (violations, _) = b.axe_violations().await;
        assert!(
            violations
                .iter()
                .any(|v| v.id == "label" && v.targets.iter().any(|t| t == "#pat-unlabelled")),
            "axe-core reports the unlabelled input: {violations:?}"
        );
        b.run(
            "document.getElementById('pat-unlabelled').remove(); return null;",
            vec![],
        )
        .await;
        assert!(b.axe_violations().await.0.is_empty(), "and nothing once it is gone");

        // Nor is the keyboard check: a button whose focus outline is taken away is reported.
        b.run(
            "const x = document.createElement('button'); x.id = 'pat-no-outline'; x.textContent = 'Nothing';\
             x.style.outline = 'none'; x.style.boxShadow = 'none';\
             document.querySelector('main').appendChild(x); return null;",
            vec![],
        )
        .await;
        let (unseen_focus, unreached) = b.keyboard_problems().await;
        assert!(
            unseen_focus.iter().any(|c| c.starts_with("button#pat-no-outline")),
            "the button without an outline is reported: {unseen_focus:?}"
        );
        assert_eq!(unreached, "", "Tab reached every control");
        b.run(
            "document.getElementById('pat-no-outline').remove(); return null;",
            vec![],
        )
        .await;

        b.click(Locator::XPath("//button[normalize-space()='Sign out']")).await;
        assert_eq!(b.path().await, "/web/sign-in");
        assert_eq!(b.heading().await, "Sign in");

        b.visit("/web/today").await;

        assert_eq!(
            b.path().await,
            "/web/sign-in?next=%2Fweb%2Ftoday",
            "the day list needs signing in again, and is returned to after"
        );
        assert_eq!(b.heading().await, "Sign in");
    })
    .await;
}

#[tokio::test]
async fn a_form_post_without_its_csrf_token_is_refused_and_writes_nothing() {
    journey(
        "a_form_post_without_its_csrf_token_is_refused_and_writes_nothing",
        |b, app| async move {
            // Arrange: an accepted referral and a free slot, and an AHW on the referral queue.
            let hw = health_worker(&app).await;
            let attendance = accepted_attendance(&app).await;
            slot_at(&app, &hw, now() + Duration::hours(2)).await;
            b.sign_in("ahw").await;
            b.visit("/web/referrals").await;

            // Act: the booking form without its hidden token.
            let removed = b
                .run(
                    "const inputs = document.querySelectorAll('form[action$=\"/book\"] input[name=\"csrf\"]');\
                     inputs.forEach(i => i.remove());\
                     return String(inputs.length);",
                    vec![],
                )
                .await;
            assert_eq!(removed, "1", "the booking form had one CSRF token");
            b.click(Locator::XPath("//button[normalize-space()='Book earliest free slot']"))
                .await;

            // Assert: a 403 page that says nothing was done …
            assert_eq!(b.status().await, 403);
            assert_eq!(b.heading().await, "The form could not be accepted");
            let words = b.text("main").await;
            assert!(words.contains("nothing was done"), "{words}");
            // … and nothing was: no booking.
            let view = json_with(
                app.get(&format!("/api/v1/attendances/{attendance}"), "admin").await,
                200,
                "the attendance",
            )
            .await;
            assert_eq!(view["bookings"], json!([]), "no booking was made: {view}");

            // The same form with its token books: the token was what was missing.
            b.visit("/web/referrals").await;
            b.click(Locator::XPath("//button[normalize-space()='Book earliest free slot']"))
                .await;
            assert!(b.text("main").await.contains("Booked into the earliest free slot"));
        },
    )
    .await;
}
