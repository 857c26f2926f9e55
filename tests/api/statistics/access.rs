//! Errors, roles, and no patient identifiers in any answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::datasets::*;
use super::fixtures::*;
use crate::helpers::{assert_problem, spawn_app};
use crate::scheduling_helpers::fields;

// ---------------------------------------------------------------------------------------------
// 7. Errors, roles, and no patient identifiers

#[tokio::test]
async fn invalid_queries_are_422_naming_the_field() {
    // Arrange
    let app = spawn_app().await;
    let range = "from=2025-04-01&to=2025-05-01";
    let mut cases: Vec<(String, &str, &str)> = vec![];
    for endpoint in [FUNNEL, REATTENDANCE, REFERRALS, OUTCOMES] {
        for (query, field, why) in [
            ("from=2025-13-01&to=2025-05-01", "from", "month 13"),
            ("from=01/04/2025&to=2025-05-01", "from", "not YYYY-MM-DD"),
            ("from=2025-04-01T00:00:00Z&to=2025-05-01", "from", "a time, not a date"),
            ("from=2025-04-01&to=2025-02-30", "to", "30 February"),
            ("from=2025-04-01&to=2025-04-01", "to", "from = to: an empty period"),
            ("from=2025-05-01&to=2025-04-01", "to", "from after to"),
        ] {
            cases.push((format!("{endpoint}?{query}"), field, why));
        }
        cases.push((
            format!("{endpoint}?{range}&disclosure=public"),
            "disclosure",
            "unknown disclosure",
        ));
    }
    // group_by on a report that is not grouped is an unknown parameter (400): see
    // errors::group_by_is_an_unknown_parameter_on_the_reports_that_are_not_grouped.
    cases.push((
        format!("{FUNNEL}?{range}&group_by=week"),
        "group_by",
        "unknown group_by",
    ));
    cases.push((
        format!("{REFERRALS}?from=2025-04-31"),
        "from",
        "31 April, to left to default",
    ));

    for (path, field, why) in cases {
        // Act
        let resp = app.get(&path, "auditor").await;

        // Assert
        let problem = assert_problem(resp, 422).await;
        assert!(
            fields(&problem).contains(&field.to_owned()),
            "{path} ({why}): the problem names {field}: {problem}"
        );
    }
}

#[tokio::test]
async fn only_auditors_and_admins_read_statistics() {
    // Arrange
    let app = spawn_app().await;
    let range = "from=2025-04-01&to=2025-05-01";
    for endpoint in [FUNNEL, REATTENDANCE, REFERRALS, OUTCOMES] {
        let path = format!("{endpoint}?{range}");

        // Act + Assert: (role, status)
        for (role, status) in [
            ("clinician", 403),
            ("integration", 403),
            ("ahw", 403),
            ("auditor", 200),
            ("admin", 200),
        ] {
            if status == 200 {
                stats_as(&app, &path, role).await;
            } else {
                assert_problem(app.get(&path, role).await, status).await;
            }
        }
        // No token: 401 before anything else.
        let resp = app.client.get(app.url(&path)).send().await.unwrap();
        assert_problem(resp, 401).await;
        // The role is checked before the query: a clinician with a bad query is 403, not 422.
        let bad = format!("{endpoint}?from=nonsense&to=2025-05-01");
        assert_problem(app.get(&bad, "clinician").await, 403).await;
        let resp = app.client.get(app.url(&bad)).send().await.unwrap();
        assert_problem(resp, 401).await;
    }
}

#[tokio::test]
async fn no_answer_carries_a_patient_identifier() {
    // Arrange: the 12-month dataset: NHS numbers, local ids, and both.
    let app = spawn_app().await;
    let (period, patients) = twelve_month_dataset(&app).await;
    let identifiers: Vec<String> = patients.iter().flat_map(|p| p.identifiers()).collect();
    assert!(identifiers.len() >= 14, "{identifiers:?}");
    let range = format!("from={}&to={}", period.from, period.to);
    let mut paths = vec![];
    for disclosure in ["none", "nhs"] {
        for group_by in ["none", "month", "financial_year", "presenting_condition"] {
            paths.push(format!("{FUNNEL}?{range}&group_by={group_by}&disclosure={disclosure}"));
        }
        paths.push(format!("{REATTENDANCE}?{range}&disclosure={disclosure}"));
        paths.push(format!("{REATTENDANCE}?{range}&disclosure={disclosure}&site=SMH"));
        paths.push(format!("{REFERRALS}?disclosure={disclosure}"));
    }

    for path in paths {
        // Act
        let json = stats(&app, &path).await.to_string();
        let csv = stats_csv(&app, &path).await;

        // Assert
        for id in &identifiers {
            assert!(!json.contains(id.as_str()), "{path}: JSON carries {id}");
            assert!(!csv.contains(id.as_str()), "{path}: CSV carries {id}");
        }
    }
}
