//! The Audit page (`GET /web/audit`) and its CSV downloads (issue 13, docs/design.md §12): the
//! figures of a small dataset worked out by hand, the NHS disclosure toggle, the CSV links' bytes
//! against the JSON API's CSV, the roles, the pickers' errors, no patient identifier, and the
//! audit events.
//!
//! The browser is `web.rs`'s cookie-carrying reqwest client.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::helpers::TestApp;
use crate::statistics::fixtures::{
    positive_visit, screen_negative, screen_not_done, t, visit, Patient, FUNNEL, REATTENDANCE, REFERRALS,
};
use crate::web::{dev_app, Browser};

/// The seeded patients, by the letter the dataset's table gives them.
struct Dataset {
    patients: Vec<Patient>,
}

/// The dataset, every patient a man (pat-2009) with no date of birth, at site `SMH` unless said:
///
/// | row | arrives (UTC)    | FY      | patient | condition | screening        | decision |
/// |-----|------------------|---------|---------|-----------|------------------|----------|
/// | A1  | 2024-06-01 10:00 | 2024/25 | a1      | fall      | positive         | accepted |
/// | A2  | 2024-09-01 10:00 | 2024/25 | a2      | fall      | positive         | accepted |
/// | B1  | 2025-05-01 10:00 | 2025/26 | b1      | fall      | positive         | accepted |
/// | R2  | 2025-05-04 10:00 | 2025/26 | b1      | other     | —                | —        |
/// | B2  | 2025-06-01 10:00 | 2025/26 | b2      | fall      | positive         | accepted |
/// | B3  | 2025-07-01 10:00 | 2025/26 | b3      | fall      | positive         | accepted |
/// | B4  | 2025-08-01 10:00 | 2025/26 | b4      | fall      | positive         | declined |
/// | B5  | 2025-09-01 10:00 | 2025/26 | b5      | fall      | negative         | —        |
/// | B6  | 2025-10-01 10:00 | 2025/26 | b6      | fall      | not done: refused| —        |
/// | B7  | 2025-11-01 10:00 | 2025/26 | b7      | fall, WMH | positive         | accepted |
/// | B8  | 2025-12-01 10:00 | 2025/26 | b8      | other     | —                | —        |
/// | R1  | 2026-01-10 10:00 | 2025/26 | b4      | other     | —                | —        |
///
/// `other` is not one of the ten conditions, so B8 is an attendance but not eligible; R1 and R2
/// are eligible all the same, as repeat attenders (docs/domain.md §2: their patient attended in
/// the 365 days before), and have no screening record.
/// Every 365-day window of a 2025/26 index (the latest, B7's, ends on 2026-11-01) has ended by
/// the time these tests run.
async fn dataset(app: &TestApp) -> Dataset {
    let a1 = Patient::nhs(701);
    let a2 = Patient::nhs(702);
    let b1 = Patient::both(711, "SMH-0711");
    let b2 = Patient::nhs(712);
    let b3 = Patient::nhs(713);
    let b4 = Patient::both(714, "SMH-0714");
    let b5 = Patient::nhs(715);
    let b6 = Patient::nhs(716);
    let b7 = Patient::nhs(717);
    let b8 = Patient::local("SMH-0718");
    let smh = Some("SMH");
    positive_visit(app, &a1, "fall", smh, t("2024-06-01T10:00:00Z"), Some("accepted")).await;
    positive_visit(app, &a2, "fall", smh, t("2024-09-01T10:00:00Z"), Some("accepted")).await;
    positive_visit(app, &b1, "fall", smh, t("2025-05-01T10:00:00Z"), Some("accepted")).await;
    visit(app, &b1, "other", smh, t("2025-05-04T10:00:00Z")).await;
    positive_visit(app, &b2, "fall", smh, t("2025-06-01T10:00:00Z"), Some("accepted")).await;
    positive_visit(app, &b3, "fall", smh, t("2025-07-01T10:00:00Z"), Some("accepted")).await;
    positive_visit(app, &b4, "fall", smh, t("2025-08-01T10:00:00Z"), Some("declined")).await;
    let b5_visit = visit(app, &b5, "fall", smh, t("2025-09-01T10:00:00Z")).await;
    screen_negative(app, &b5_visit, t("2025-09-01T10:30:00Z")).await;
    let b6_visit = visit(app, &b6, "fall", smh, t("2025-10-01T10:00:00Z")).await;
    screen_not_done(app, &b6_visit, "refused", t("2025-10-01T10:30:00Z")).await;
    positive_visit(
        app,
        &b7,
        "fall",
        Some("WMH"),
        t("2025-11-01T10:00:00Z"),
        Some("accepted"),
    )
    .await;
    visit(app, &b8, "other", smh, t("2025-12-01T10:00:00Z")).await;
    visit(app, &b4, "other", smh, t("2026-01-10T10:00:00Z")).await;
    Dataset {
        patients: vec![a1, a2, b1, b2, b3, b4, b5, b6, b7, b8],
    }
}

/// The HTML of the element `<table id="{id}" …>…</table>`.
fn table<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}: {page}"));
    let end = page[start..].find("</table>").unwrap() + start;
    &page[start..end]
}

/// The data cells of the row headed `heading` in table `id`, as text.
fn cells(page: &str, id: &str, heading: &str) -> Vec<String> {
    let table = table(page, id);
    let marker = format!("<th scope=\"row\">{heading}</th>");
    let start = table
        .find(&marker)
        .unwrap_or_else(|| panic!("no row {heading:?} in {id}: {table}"))
        + marker.len();
    let row = &table[start..start + table[start..].find("</tr>").unwrap()];
    row.split("<td>")
        .skip(1)
        .map(|cell| cell.split("</td>").next().unwrap().to_owned())
        .collect()
}

/// The `href` of the element with this id, with `&amp;` read back as `&`.
fn href(page: &str, id: &str) -> String {
    let start = page
        .find(&format!("id=\"{id}\" href=\""))
        .unwrap_or_else(|| panic!("no link {id}: {page}"))
        + format!("id=\"{id}\" href=\"").len();
    page[start..].split('"').next().unwrap().replace("&amp;", "&")
}

/// The statistics read events (report name per event) by `actor`, in no particular order.
async fn statistics_reads(app: &TestApp, actor: &str) -> BTreeMap<String, usize> {
    let mut reads = BTreeMap::new();
    for e in app.audit_events().await {
        if e["actor"] == actor && e["resource_type"] == "statistics" {
            assert_eq!(e["action"], "read", "{e}");
            assert_eq!(e["patient_key"], Value::Null, "a report is nobody's record: {e}");
            *reads.entry(e["resource_id"].as_str().unwrap().to_owned()).or_default() += 1;
        }
    }
    reads
}

#[tokio::test]
async fn the_audit_page_shows_the_funnel_the_trend_and_reattendance_worked_out_by_hand() {
    // Arrange
    let app = dev_app().await;
    dataset(&app).await;
    let mut auditor = Browser::signed_in(&app, "auditor").await;

    // Act
    let page = auditor.page(&app, "/web/audit?year=2025").await;

    // Assert: the pickers: 2024/25 (the earliest attendance's year) to the current one; 2025 chosen.
    assert!(page.contains("<select id=\"year\" name=\"year\""), "{page}");
    assert!(
        page.contains("<option value=\"2025\" selected>2025/26</option>"),
        "{page}"
    );
    assert!(page.contains("<option value=\"2024\">2024/25</option>"), "{page}");
    assert!(
        !page.contains("<option value=\"2023\""),
        "nothing before the earliest attendance"
    );
    assert!(
        page.contains("<input type=\"text\" id=\"site\" name=\"site\""),
        "{page}"
    );
    assert!(page.contains("All figures (internal use)"), "which figures, in words");
    assert!(
        page.contains("<a href=\"/web/audit\">Audit</a>"),
        "the navigation has the page"
    );

    // Funnel, 2025/26, every site: A1, A2 are 2024/25. Attendances B1–B8, R1, R2 = 10; eligible:
    // the fall ones B1–B7 and the repeat attenders R1, R2 = 9 (none has a date of birth: 9 age
    // unknown); screened: B1–B5, B7 = 6; not screened: B6 refused, R1 and R2 not recorded
    // (6 + 1 + 2 = 9); positive: B1–B4, B7 = 5; offered 5 = accepted 4 (B1–B3, B7) + declined 1
    // (B4); nothing booked.
    let f = |row: &str| cells(&page, "funnel-table", row);
    assert_eq!(f("Attendances"), ["10", ""]);
    assert_eq!(f("Eligible for PAT"), ["9", ""]);
    assert_eq!(f("Eligible, age not known"), ["9", ""]);
    assert_eq!(f("Screened"), ["6", "66.7% of eligible"], "6 / 9 = 0.667");
    assert_eq!(f("Not screened: refused"), ["1", ""]);
    assert_eq!(f("Not screened: not recorded"), ["2", ""]);
    assert_eq!(f("Screened outside the indications"), ["0", ""]);
    assert_eq!(f("PAT positive"), ["5", "83.3% of screened"], "5 / 6 = 0.833");
    assert_eq!(f("Offered a referral"), ["5", ""]);
    assert_eq!(
        f("Accepted"),
        ["4", "80.0% of offered (acceptance, with seen in the department)"],
        "(4 + 0) / 5"
    );
    assert_eq!(f("Declined"), ["1", ""]);
    assert_eq!(f("Booked"), ["0", ""]);
    assert_eq!(
        f("Attended"),
        ["0", "not applicable (none to divide by)"],
        "0 / 0 has no rate"
    );
    // The chart: every value written as text; the chart is an image named by its title.
    assert!(page.contains("role=\"img\" aria-labelledby=\"funnel-chart-title funnel-chart-desc\""));
    assert!(page.contains(">6 · 66.7% of eligible</text>"), "{page}");
    assert!(page.contains(">4 · acceptance 80.0%</text>"), "{page}");
    assert!(
        page.contains(">0 · no rate</text>"),
        "attended: 0 / 0 has no rate: {page}"
    );
    assert!(page.contains(">10</text>"), "{page}");

    // Referral trend: from 2024/25 (the first year offered) to 2025/26: 2 accepted (A1, A2),
    // then 4 (B1–B3, B7): change 4 − 2 = +2, 100 × 2 / 2 = +100.0%. Both years have ended.
    assert_eq!(
        cells(&page, "referrals-table", "2024/25"),
        ["2", "0", "no year before", "no year before"]
    );
    assert_eq!(cells(&page, "referrals-table", "2025/26"), ["4", "0", "+2", "+100.0%"]);
    assert!(page.contains(">4 · change +2 (+100.0%)</text>"), "{page}");

    // 12-month reattendance, indexes in 2025/26: accepted b1, b2, b3, b7 (4 patients; b1 came
    // back once, R2: 1 reattendance; mean 1/4 = 0.25); declined b4 (1 patient, R1: 1; mean 1.00).
    // Difference 1.00 − 0.25 = +0.75; avoided per two accepted 2 × 0.75 = +1.50. Every window has
    // ended: nobody incomplete; every positive has a decision.
    let r = |row: &str| cells(&page, "reattendance-table", row);
    assert_eq!(
        r("Referral accepted (including seen in the department)"),
        ["4", "1", "0.25"]
    );
    assert_eq!(r("Referral declined"), ["1", "1", "1.00"]);
    assert_eq!(
        r("Follow-up incomplete: 365 days not yet passed (in neither cohort)"),
        ["0", "", ""]
    );
    assert_eq!(r("No referral decision (in neither cohort)"), ["0", "", ""]);
    assert!(page.contains("<dd>+0.75</dd>"), "{page}");
    assert!(page.contains("<dd>+1.50</dd>"), "{page}");
    // 7-day: the 10 attendances of the period; only B1 is followed by an unplanned attendance of
    // the same patient within 7 days (R2, 3 days later; R1 comes 162 days after B4): 1 / 10.
    let seven = table(&page, "seven-day-table");
    assert!(seven.contains("<td>10</td><td>1</td><td>10.0%</td>"), "{seven}");
    assert!(
        page.contains("Two different measures"),
        "the two measures are named apart"
    );
    assert!(
        !page.contains("<script") && !page.contains("style="),
        "no inline script or style (CSP)"
    );
}

#[tokio::test]
async fn the_nhs_toggle_withholds_small_counts_and_keeps_the_year_and_site() {
    // Arrange: at SMH only (B7 is at WMH): attendances B1–B6, B8, R1, R2 = 9; screened B1–B5 = 5;
    // declined 1 (B4).
    let app = dev_app().await;
    dataset(&app).await;
    let mut auditor = Browser::signed_in(&app, "auditor").await;
    let all = auditor.page(&app, "/web/audit?year=2025&site=SMH").await;
    assert_eq!(cells(&all, "funnel-table", "Attendances"), ["9", ""]);
    assert_eq!(cells(&all, "funnel-table", "Declined"), ["1", ""]);
    let toggle = href(&all, "disclosure-toggle");
    assert_eq!(toggle, "/web/audit?year=2025&site=SMH&disclosure=nhs");

    // Act
    let published = auditor.page(&app, &toggle).await;

    // Assert: §8: 1–7 withheld (`*`), others rounded to the nearest 5: 9 → 10; 5 screened and 1
    // declined are withheld, so is the screening rate worked from the screened; the chart draws
    // no bar for a withheld count and says "withheld".
    assert!(
        published.contains("Published figures (NHS small-number suppression)"),
        "which figures, in words"
    );
    assert_eq!(cells(&published, "funnel-table", "Attendances"), ["10", ""]);
    assert_eq!(cells(&published, "funnel-table", "Declined"), ["*", ""]);
    assert_eq!(cells(&published, "funnel-table", "Screened"), ["*", "*"]);
    assert!(published.contains(">withheld</text>"), "{published}");
    // The trend at SMH: 2 then 3 (B7 is at WMH), both withheld, so is the change.
    assert_eq!(cells(&published, "referrals-table", "2025/26"), ["*", "0", "*", "*"]);
    assert!(published.contains("* withheld"), "the star is explained");
    // The toggle goes back, keeping the year and the site.
    assert_eq!(
        href(&published, "disclosure-toggle"),
        "/web/audit?year=2025&site=SMH&disclosure=none"
    );
    assert!(published.contains("<input type=\"hidden\" name=\"disclosure\" value=\"nhs\">"));
}

#[tokio::test]
async fn each_csv_link_downloads_the_bytes_the_api_answers_for_its_query() {
    // Arrange
    let app = dev_app().await;
    dataset(&app).await;
    let mut auditor = Browser::signed_in(&app, "auditor").await;

    for page_query in ["year=2025&site=SMH&disclosure=nhs", "year=2024", ""] {
        let page = auditor.page(&app, &format!("/web/audit?{page_query}")).await;
        for (name, api) in [
            ("funnel", FUNNEL),
            ("referrals", REFERRALS),
            ("reattendance", REATTENDANCE),
        ] {
            let link = href(&page, &format!("csv-{name}"));
            let prefix = format!("/web/audit/{name}.csv?");
            assert!(link.starts_with(&prefix), "{link}");
            let query = &link[prefix.len()..];

            // Act
            let download = auditor.get(&app, &link).await;
            let from_api = app
                .client
                .get(app.url(&format!("{api}?{query}")))
                .bearer_auth(app.token("auditor"))
                .header("Accept", "text/csv")
                .send()
                .await
                .unwrap();

            // Assert
            assert_eq!(download.status().as_u16(), 200, "{link}");
            assert_eq!(from_api.status().as_u16(), 200, "{api}?{query}");
            let header = |r: &reqwest::Response, name: &str| r.headers()[name].to_str().unwrap().to_owned();
            assert_eq!(
                header(&download, "content-disposition"),
                format!("attachment; filename=\"{name}.csv\"")
            );
            assert_eq!(
                header(&download, "content-disposition"),
                header(&from_api, "content-disposition")
            );
            assert!(header(&download, "content-type").starts_with("text/csv"));
            let (mine, theirs) = (download.bytes().await.unwrap(), from_api.bytes().await.unwrap());
            assert_eq!(mine, theirs, "{link}: the same bytes as {api}?{query}");
            assert!(mine.len() > 100, "a header and a row at least: {mine:?}");
        }
    }

    // The 2025/26 funnel CSV for SMH, published, carries the figures of the page (9 → 10).
    let page = auditor.page(&app, "/web/audit?year=2025&site=SMH&disclosure=nhs").await;
    let link = href(&page, "csv-funnel");
    assert!(
        link.contains("from=2025-04-01&to=2026-04-01&site=SMH&disclosure=nhs"),
        "{link}"
    );
    let csv = auditor.get(&app, &link).await.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let row: Vec<&str> = lines[1].split(',').collect();
    let column = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(column("counts.attendances"), "10");
    assert_eq!(column("counts.declined"), "*");
}

#[tokio::test]
async fn clinicians_and_ahws_get_the_403_page_and_admins_the_audit_page() {
    let app = dev_app().await;
    for role in ["clinician", "ahw"] {
        let mut browser = Browser::signed_in(&app, role).await;
        for path in [
            "/web/audit",
            "/web/audit/funnel.csv",
            "/web/audit/referrals.csv",
            "/web/audit/reattendance.csv",
            // The role is checked before the query.
            "/web/audit?year=nonsense",
        ] {
            let response = browser.get(&app, path).await;
            assert_eq!(response.status().as_u16(), 403, "{role} {path}");
            let text = response.text().await.unwrap();
            assert!(text.contains("Your role cannot use this page"), "{role} {path}: {text}");
        }
        let start = browser.page(&app, "/web/").await;
        assert!(!start.contains("/web/audit"), "{role}: no Audit link");
    }
    assert!(
        app.audit_events()
            .await
            .iter()
            .all(|e| e["resource_type"] != "statistics"),
        "a refused page reads no statistics"
    );
    let mut admin = Browser::signed_in(&app, "admin").await;
    let page = admin.page(&app, "/web/audit").await;
    assert!(page.contains("id=\"funnel-table\""), "{page}");
    assert!(admin
        .page(&app, "/web/")
        .await
        .contains("<a href=\"/web/audit\">Audit</a>"));
}

#[tokio::test]
async fn invalid_pickers_are_422_with_the_error_next_to_the_field_and_nothing_computed() {
    // Arrange: attendances from 2024/25 on, so 2023 is before the first year offered.
    let app = dev_app().await;
    dataset(&app).await;
    let mut auditor = Browser::signed_in(&app, "auditor").await;
    let long_site = "x".repeat(101);

    for (query, field, words) in [
        (
            "year=twenty",
            "year",
            "Choose a financial year from the list, 2024/25 to",
        ),
        ("year=2023", "year", "Choose a financial year from the list, 2024/25 to"),
        ("year=3000", "year", "Choose a financial year from the list, 2024/25 to"),
        (&format!("site={long_site}") as &str, "site", "at most 100 characters"),
    ] {
        // Act
        let response = auditor.get(&app, &format!("/web/audit?{query}")).await;

        // Assert
        assert_eq!(response.status().as_u16(), 422, "{query}");
        let page = response.text().await.unwrap();
        let error = format!("<p class=\"error\" id=\"{field}-error\">Error: ");
        let at = page.find(&error).unwrap_or_else(|| panic!("{query}: {page}"));
        assert!(page[at..].contains(words), "{query}: {page}");
        assert!(
            page.contains("aria-invalid=\"true\""),
            "{query}: the field is marked invalid"
        );
        let field_at = page.find(&format!("id=\"{field}\" name=\"{field}\"")).unwrap();
        assert!(field_at < at, "{query}: the error follows its field");
        let tag_start = page[..field_at].rfind('<').unwrap();
        let tag = &page[tag_start..field_at + page[field_at..].find('>').unwrap()];
        assert!(
            tag.contains("aria-invalid=\"true\""),
            "{query}: the field is marked invalid: {tag}"
        );
        assert!(
            tag.contains("aria-describedby=\"") && tag.contains(&format!("{field}-error\"")),
            "{query}: the field is described by its error: {tag}"
        );
        assert!(!page.contains("funnel-table"), "{query}: no figures");
    }
    assert_eq!(
        statistics_reads(&app, "dev-auditor").await,
        BTreeMap::new(),
        "nothing was computed"
    );
}

#[tokio::test]
async fn no_patient_identifier_is_on_the_page_or_in_a_csv() {
    // Arrange
    let app = dev_app().await;
    let data = dataset(&app).await;
    let identifiers: Vec<String> = data.patients.iter().flat_map(|p| p.identifiers()).collect();
    assert_eq!(identifiers.len(), 12, "9 NHS numbers, 3 local numbers: {identifiers:?}");
    let mut auditor = Browser::signed_in(&app, "auditor").await;

    for query in ["year=2025", "year=2025&disclosure=nhs", "year=2024&site=SMH"] {
        // Act
        let page = auditor.page(&app, &format!("/web/audit?{query}")).await;
        let mut documents = vec![page.clone()];
        for name in ["funnel", "referrals", "reattendance"] {
            let link = href(&page, &format!("csv-{name}"));
            documents.push(auditor.get(&app, &link).await.text().await.unwrap());
        }

        // Assert
        for document in &documents {
            for id in &identifiers {
                assert!(!document.contains(id.as_str()), "{query}: {id} shown");
            }
        }
    }
}

#[tokio::test]
async fn the_page_writes_the_audit_events_the_api_writes_for_the_same_reports() {
    // Arrange
    let app = dev_app().await;
    dataset(&app).await;
    let mut auditor = Browser::signed_in(&app, "auditor").await;

    // Act: the page, then the same three reports through the API.
    let page = auditor.page(&app, "/web/audit?year=2025").await;
    for (name, api) in [
        ("funnel", FUNNEL),
        ("referrals", REFERRALS),
        ("reattendance", REATTENDANCE),
    ] {
        let link = href(&page, &format!("csv-{name}"));
        let query = link.split_once('?').unwrap().1;
        let response = app.get(&format!("{api}?{query}"), "auditor").await;
        assert_eq!(response.status().as_u16(), 200);
    }

    // Assert: one read per report shown, as the API writes one per report answered.
    let one_each: BTreeMap<String, usize> = [("funnel", 1), ("referrals", 1), ("reattendance", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(statistics_reads(&app, "dev-auditor").await, one_each, "the page");
    assert_eq!(statistics_reads(&app, "test-auditor").await, one_each, "the API");

    // Act + Assert: a download is one more read of its report.
    let link = href(&page, "csv-referrals");
    assert_eq!(auditor.get(&app, &link).await.status().as_u16(), 200);
    assert_eq!(statistics_reads(&app, "dev-auditor").await["referrals"], 2);
}

#[tokio::test]
async fn a_download_with_a_bad_query_is_refused_as_the_api_refuses_it() {
    let app = dev_app().await;
    let mut auditor = Browser::signed_in(&app, "auditor").await;

    for (path, status, words) in [
        (
            "/web/audit/funnel.csv?from=2025-13-01&to=2026-04-01",
            422,
            "must be a date YYYY-MM-DD",
        ),
        (
            "/web/audit/reattendance.csv?from=2025-04-01&to=2025-04-01",
            422,
            "must be after from",
        ),
        ("/web/audit/referrals.csv?year=2025", 400, "query string is not valid"),
        (
            "/web/audit/referrals.csv?group_by=month",
            400,
            "query string is not valid",
        ),
    ] {
        // Act
        let response = auditor.get(&app, path).await;

        // Assert: the API's status, as an HTML page in words; no CSV.
        assert_eq!(response.status().as_u16(), status, "{path}");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/html"), "{path}: {content_type}");
        assert!(response.headers().get("content-disposition").is_none(), "{path}");
        let text = response.text().await.unwrap();
        assert!(text.contains(words), "{path}: {text}");
    }
    assert_eq!(
        statistics_reads(&app, "dev-auditor").await,
        BTreeMap::new(),
        "nothing was computed"
    );
}
