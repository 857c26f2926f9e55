//! `PUT /api/v1/attendances/{id}/screening`: the PAT rules of docs/domain.md §4 at every edge, the
//! unit guide of docs/domain.md §3, screenings that did not happen (§5), replays and corrections.
//!
//! Every expected result and unit count is worked out by hand from docs/domain.md, never copied from
//! the service's output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use pat_service::domain::pat::PatRule;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, attendance_body, spawn_app, spawn_app_with, TestApp};

const POSITIVE_STEPS: [&str; 3] = ["give_advice", "offer_leaflet", "offer_ahw_appointment"];
const FEEDBACK: &str = "Can we advise that your drinking is harming your health";

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("a validation problem lists `errors`: {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Creates an attendance (arrived 2025-03-01T10:00:00Z) of a patient of this sex; returns its id.
async fn attendance(app: &TestApp, source_id: &str, sex: &str) -> String {
    let mut body = attendance_body(source_id);
    body["patient"]["sex"] = json!(sex);
    app.create_attendance(&body).await["id"].as_str().unwrap().to_owned()
}

fn screening_path(id: &str) -> String {
    format!("/api/v1/attendances/{id}/screening")
}

/// A completed PAT recorded an hour after arrival.
fn completed(rule: Option<&str>, answers: Value) -> Value {
    let mut body = json!({
        "status": "completed",
        "screened_at": "2025-03-01T11:00:00Z",
        "answers": answers,
    });
    if let Some(rule) = rule {
        body["rule"] = json!(rule);
    }
    body
}

/// pat-2009 answers of a drinker who drinks less than weekly and says the attendance is not
/// related to alcohol: only the units decide.
fn pat2009_units(units: f64) -> Value {
    json!({
        "drinks_alcohol": true,
        "max_units_in_a_day": units,
        "drinking_frequency": "less_than_weekly",
        "attendance_related": false,
    })
}

fn pat2009_drinks(drinks: Value) -> Value {
    json!({
        "drinks_alcohol": true,
        "drinks": drinks,
        "drinking_frequency": "less_than_weekly",
        "attendance_related": false,
    })
}

fn pat2004(units: f64, heavy: &str) -> Value {
    json!({
        "drinks_alcohol": true,
        "max_units_in_a_day": units,
        "heavy_drinking_frequency": heavy,
        "attendance_related": false,
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// One row of a rule table.
struct Case {
    rule: Option<&'static str>,
    sex: &'static str,
    answers: Value,
    positive: bool,
    /// `Some(None)`: units must be null; `None`: not checked.
    units: Option<Option<f64>>,
    alerts: &'static [&'static str],
    why: &'static str,
}

fn case(
    rule: Option<&'static str>,
    sex: &'static str,
    answers: Value,
    positive: bool,
    units: Option<Option<f64>>,
    why: &'static str,
) -> Case {
    Case {
        rule,
        sex,
        answers,
        positive,
        units,
        alerts: &[],
        why,
    }
}

/// Records each case on its own attendance and checks result, rule, units, alerts, next steps
/// and feedback.
async fn check_cases(app: &TestApp, expected_rule: Option<&str>, cases: Vec<Case>) {
    for (i, c) in cases.into_iter().enumerate() {
        // Arrange
        let id = attendance(app, &format!("rule-{i}"), c.sex).await;

        // Act
        let resp = app.record_screening(&id, &completed(c.rule, c.answers.clone())).await;

        // Assert
        let why = c.why;
        assert_eq!(resp.status().as_u16(), 201, "{why}: first recording answers 201");
        let s: Value = resp.json().await.unwrap();
        assert_eq!(s["attendance_id"], id.as_str(), "{why}");
        assert_eq!(s["version"], 1, "{why}");
        assert_eq!(s["status"], "completed", "{why}");
        let rule = c.rule.or(expected_rule).unwrap_or("pat-2009");
        assert_eq!(s["rule"], rule, "{why}: the rule applied is stored with the result");
        let (result, steps, feedback) = if c.positive {
            ("positive", json!(POSITIVE_STEPS), json!(FEEDBACK))
        } else {
            ("negative", json!([]), Value::Null)
        };
        assert_eq!(s["result"], result, "{why}");
        assert_eq!(s["next_steps"], steps, "{why}");
        assert_eq!(s["feedback"], feedback, "{why}");
        assert_eq!(s["alerts"], json!(c.alerts), "{why}: alerts");
        match c.units {
            Some(Some(units)) => {
                let got = s["units"]
                    .as_f64()
                    .unwrap_or_else(|| panic!("{why}: units is a number: {s}"));
                assert!(close(got, units), "{why}: units {got}, expected {units}");
            }
            Some(None) => assert_eq!(s["units"], Value::Null, "{why}: units"),
            None => {}
        }
    }
}

#[tokio::test]
async fn pat_2009_thresholds_by_sex() {
    // docs/domain.md §4: more than 8 (men) / more than 6 (women); female, other and unknown use 6.
    let app = spawn_app().await;
    let r = Some("pat-2009");
    let u = |n: f64| Some(Some(n));
    let cases = vec![
        case(
            r,
            "male",
            pat2009_units(8.0),
            false,
            u(8.0),
            "male 8 is not more than 8",
        ),
        case(r, "male", pat2009_units(8.5), true, u(8.5), "male 8.5 is more than 8"),
        case(
            r,
            "male",
            pat2009_units(6.5),
            false,
            u(6.5),
            "male 6.5: the male threshold is 8",
        ),
        case(
            r,
            "female",
            pat2009_units(6.0),
            false,
            u(6.0),
            "female 6 is not more than 6",
        ),
        case(
            r,
            "female",
            pat2009_units(6.5),
            true,
            u(6.5),
            "female 6.5 is more than 6",
        ),
        case(
            r,
            "unknown",
            pat2009_units(6.0),
            false,
            u(6.0),
            "unknown sex 6: threshold 6",
        ),
        case(
            r,
            "unknown",
            pat2009_units(6.5),
            true,
            u(6.5),
            "unknown sex uses the lower 6",
        ),
        case(
            r,
            "other",
            pat2009_units(6.0),
            false,
            u(6.0),
            "other sex 6: threshold 6",
        ),
        case(
            r,
            "other",
            pat2009_units(6.5),
            true,
            u(6.5),
            "other sex uses the lower 6",
        ),
        case(
            r,
            "male",
            pat2009_units(0.0),
            false,
            u(0.0),
            "a drinker of 0 units a day",
        ),
        case(
            r,
            "male",
            json!({
                "drinks_alcohol": true,
                "max_units_in_a_day": 0,
                "drinking_frequency": "less_than_weekly",
                "attendance_related": true,
            }),
            true,
            u(0.0),
            "attendance related to alcohol alone is positive",
        ),
        case(
            r,
            "female",
            json!({ "drinks_alcohol": false }),
            false,
            None,
            "\"no\" to Q1 ends the test, negative",
        ),
    ];
    check_cases(&app, None, cases).await;
}

#[tokio::test]
async fn pat_2009_units_from_the_drinks_guide() {
    // docs/domain.md §3 guide, added by hand.
    let app = spawn_app().await;
    let r = Some("pat-2009");
    let u = |n: f64| Some(Some(n));
    let d = |drink: &str, measure: &str, count: f64| json!({"drink": drink, "measure": measure, "count": count});
    let cases = vec![
        case(
            r,
            "male",
            pat2009_drinks(json!([d("beer", "pint", 4.0)])),
            false,
            u(8.0),
            "4 pints of beer = 4 × 2 = 8 units, not more than 8",
        ),
        case(
            r,
            "male",
            pat2009_drinks(json!([d("beer", "pint", 4.0), d("spirits", "single", 1.0)])),
            true,
            u(9.0),
            "4 pints and a single = 8 + 1 = 9 units, more than 8",
        ),
        case(
            r,
            "female",
            pat2009_drinks(json!([d("wine", "bottle_75cl", 0.5)])),
            false,
            u(4.5),
            "half a 75cl bottle of wine = 0.5 × 9 = 4.5 units",
        ),
        case(
            r,
            "female",
            pat2009_drinks(json!([d("wine", "bottle_75cl", 0.5), d("spirits", "single", 2.0)])),
            true,
            u(6.5),
            "half a bottle of wine and two singles = 4.5 + 2 = 6.5, more than 6",
        ),
        case(
            r,
            "male",
            pat2009_drinks(json!([d("strong_beer", "can", 2.0), d("fortified_wine", "glass", 1.0)])),
            true,
            u(9.0),
            "2 cans of strong beer and a glass of sherry = 2 × 4 + 1 = 9",
        ),
        case(
            r,
            "male",
            pat2009_drinks(json!([d("beer", "can", 2.0), d("beer", "litre_bottle", 1.0)])),
            false,
            u(7.5),
            "2 cans and a litre bottle of beer = 2 × 1.5 + 4.5 = 7.5",
        ),
        case(
            r,
            "male",
            pat2009_drinks(json!([d("strong_beer", "litre_bottle", 1.0)])),
            true,
            u(10.0),
            "a litre bottle of strong cider = 10",
        ),
        case(
            r,
            "male",
            pat2009_drinks(json!([d("strong_beer", "pint", 1.0), d("wine", "glass", 2.0)])),
            false,
            u(8.0),
            "a pint of strong lager and 2 glasses of wine = 5 + 3 = 8",
        ),
        case(
            r,
            "female",
            pat2009_drinks(json!([d("alcopop", "bottle_330ml", 4.0)])),
            false,
            u(6.0),
            "4 alcopops = 4 × 1.5 = 6, not more than 6",
        ),
        case(
            r,
            "male",
            pat2009_drinks(json!([
                d("spirits", "bottle_75cl", 0.25),
                d("fortified_wine", "bottle_75cl", 0.125)
            ])),
            true,
            u(9.0),
            "a quarter bottle of vodka and an eighth of a bottle of port = 0.25 × 30 + 0.125 × 12 = 7.5 + 1.5 = 9",
        ),
        case(
            r,
            "male",
            pat2009_drinks(json!([d("spirits", "bottle_75cl", 0.25)])),
            false,
            u(7.5),
            "a quarter bottle of vodka = 0.25 × 30 = 7.5",
        ),
    ];
    check_cases(&app, None, cases).await;
}

#[tokio::test]
async fn daily_drinking_raises_the_possible_dependence_alert() {
    // docs/domain.md §3 Q3: every day is possible dependence, whatever the result.
    let app = spawn_app().await;
    let mut daily_low = case(
        Some("pat-2009"),
        "male",
        json!({
            "drinks_alcohol": true,
            "max_units_in_a_day": 2,
            "drinking_frequency": "daily",
            "attendance_related": false,
        }),
        false,
        Some(Some(2.0)),
        "2 units every day: negative, but the alert is raised",
    );
    daily_low.alerts = &["possible_dependence"];
    let mut daily_high = case(
        Some("pat-2009"),
        "female",
        json!({
            "drinks_alcohol": true,
            "max_units_in_a_day": 10,
            "drinking_frequency": "daily",
            "attendance_related": false,
        }),
        true,
        Some(Some(10.0)),
        "10 units every day: positive and the alert",
    );
    daily_high.alerts = &["possible_dependence"];
    let weekly = case(
        Some("pat-2009"),
        "male",
        json!({
            "drinks_alcohol": true,
            "max_units_in_a_day": 4,
            "drinking_frequency": "weekly",
            "days_per_week": 6,
            "attendance_related": false,
        }),
        false,
        Some(Some(4.0)),
        "six days a week is not daily: no alert",
    );
    let mut heavy_daily = case(
        Some("pat-2004"),
        "male",
        pat2004(9.0, "daily"),
        true,
        Some(Some(9.0)),
        "pat-2004: heavy drinking every day raises the alert too",
    );
    heavy_daily.alerts = &["possible_dependence"];
    check_cases(&app, None, vec![daily_low, daily_high, weekly, heavy_daily]).await;
}

/// `answers` with `"drinking_frequency": frequency` added.
fn with_frequency(mut answers: Value, frequency: &str) -> Value {
    answers["drinking_frequency"] = json!(frequency);
    answers
}

#[tokio::test]
async fn daily_drinking_alerts_under_pat_2004_and_sips_pat_without_changing_their_result() {
    // The clinical rule (docs/domain.md §3 Q3): drinking every day is possible dependence whichever
    // rule scores the PAT. pat-2004 and sips-pat do not ask "How often do you drink?" but take the
    // answer when the form has it; their results are those of docs/domain.md §4 alone.
    let app = spawn_app().await;
    let sips_never = json!({ "attendance_related": false, "heavy_drinking_frequency": "never" });
    // (rule, answers, result, units, alerts, why)
    type Row = (&'static str, Value, &'static str, Value, Value, &'static str);
    let cases: Vec<Row> = vec![
        (
            "pat-2004",
            with_frequency(pat2004(2.0, "never"), "daily"),
            "negative",
            json!(2.0),
            json!(["possible_dependence"]),
            "pat-2004: 2 units, never heavy, unrelated is negative; daily drinking alerts",
        ),
        (
            "pat-2004",
            pat2004(2.0, "never"),
            "negative",
            json!(2.0),
            json!([]),
            "pat-2004 without drinking_frequency: no alert",
        ),
        (
            "pat-2004",
            with_frequency(pat2004(9.0, "weekly"), "daily"),
            "positive",
            json!(9.0),
            json!(["possible_dependence"]),
            "pat-2004: 9 units weekly (8 or more) is positive; daily drinking alerts",
        ),
        (
            "sips-pat",
            with_frequency(sips_never.clone(), "daily"),
            "negative",
            Value::Null,
            json!(["possible_dependence"]),
            "sips-pat: unrelated and never heavy is negative; daily drinking alerts",
        ),
        (
            "sips-pat",
            sips_never.clone(),
            "negative",
            Value::Null,
            json!([]),
            "sips-pat without drinking_frequency: no alert",
        ),
        (
            "sips-pat",
            with_frequency(json!({ "attendance_related": true }), "daily"),
            "positive",
            Value::Null,
            json!(["possible_dependence"]),
            "sips-pat: related is positive; daily drinking alerts",
        ),
        (
            "sips-pat",
            with_frequency(sips_never.clone(), "less_than_weekly"),
            "negative",
            Value::Null,
            json!([]),
            "sips-pat: drinking less than weekly is no alert",
        ),
    ];

    for (i, (rule, answers, result, units, alerts, why)) in cases.into_iter().enumerate() {
        let id = attendance(&app, &format!("daily-{i}"), "male").await;

        // Act
        let resp = app.record_screening(&id, &completed(Some(rule), answers.clone())).await;

        // Assert: the answer, then the attendance read back.
        assert_eq!(resp.status().as_u16(), 201, "{why}");
        let recorded: Value = resp.json().await.unwrap();
        assert_eq!(recorded["rule"], rule, "{why}");
        assert_eq!(recorded["result"], result, "{why}");
        assert_eq!(recorded["units"], units, "{why}");
        assert_eq!(recorded["alerts"], alerts, "{why}");
        assert_eq!(recorded["answers"], answers, "{why}: the answers are stored as given");
        let attendance: Value = app
            .get(&format!("/api/v1/attendances/{id}"), "clinician")
            .await
            .json()
            .await
            .unwrap();
        let stored = &attendance["screening"];
        assert_eq!(stored["result"], result, "{why}: stored");
        assert_eq!(stored["alerts"], alerts, "{why}: stored");
        assert_eq!(stored["answers"], answers, "{why}: stored");
    }
}

#[tokio::test]
async fn drinking_frequency_is_compared_when_a_pat_2004_screening_is_sent_again() {
    // Arrange: pat-2004, 2 units, never heavy, unrelated (negative), drinking daily (the alert).
    let app = spawn_app().await;
    let id = attendance(&app, "daily-replay", "male").await;
    let daily = completed(Some("pat-2004"), with_frequency(pat2004(2.0, "never"), "daily"));
    let first = app.record_screening(&id, &daily).await;
    assert_eq!(first.status().as_u16(), 201);

    // Act + Assert: the same body is a replay; without drinking_frequency it is a correction.
    let replay = app.record_screening(&id, &daily).await;
    assert_eq!(replay.status().as_u16(), 200);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["version"], 1, "an unchanged replay makes no new version");
    assert_eq!(replay["alerts"], json!(["possible_dependence"]));

    let without = completed(Some("pat-2004"), pat2004(2.0, "never"));
    let corrected = app.record_screening(&id, &without).await;
    assert_eq!(corrected.status().as_u16(), 200);
    let corrected: Value = corrected.json().await.unwrap();
    assert_eq!(corrected["version"], 2, "dropping drinking_frequency is a correction");
    assert_eq!(corrected["result"], "negative", "the result is unchanged");
    assert_eq!(corrected["alerts"], json!([]));
    assert_eq!(corrected["answers"].get("drinking_frequency"), None);

    let attendance: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attendance["screening"]["version"], 2);
    assert_eq!(attendance["screening"]["alerts"], json!([]));
    let previous = attendance["previous_screenings"].as_array().unwrap();
    assert_eq!(previous.len(), 1, "the first version is kept");
    assert_eq!(previous[0]["version"], 1);
    assert_eq!(previous[0]["alerts"], json!(["possible_dependence"]));
    assert_eq!(previous[0]["answers"]["drinking_frequency"], "daily");
}

#[tokio::test]
async fn pat_2004_needs_8_or_6_or_more_at_least_weekly() {
    // docs/domain.md §4: 8 or more (men) / 6 or more (women) on one occasion at least weekly, or
    // attendance related.
    let app = spawn_app().await;
    let r = Some("pat-2004");
    let u = |n: f64| Some(Some(n));
    let cases = vec![
        case(
            r,
            "male",
            pat2004(8.0, "weekly"),
            true,
            u(8.0),
            "male 8 weekly: 8 or more (pat-2009 would say negative)",
        ),
        case(
            r,
            "male",
            pat2004(7.5, "weekly"),
            false,
            u(7.5),
            "male 7.5 weekly is below 8",
        ),
        case(
            r,
            "male",
            pat2004(8.0, "monthly"),
            false,
            u(8.0),
            "male 8 monthly is not weekly",
        ),
        case(
            r,
            "male",
            pat2004(20.0, "less_than_monthly"),
            false,
            u(20.0),
            "20 units now and then is not weekly",
        ),
        case(
            r,
            "male",
            pat2004(12.0, "never"),
            false,
            u(12.0),
            "never heavy: negative",
        ),
        case(
            r,
            "female",
            pat2004(6.0, "weekly"),
            true,
            u(6.0),
            "female 6 weekly: 6 or more",
        ),
        case(
            r,
            "female",
            pat2004(5.5, "weekly"),
            false,
            u(5.5),
            "female 5.5 is below 6",
        ),
        case(r, "unknown", pat2004(6.0, "weekly"), true, u(6.0), "unknown sex uses 6"),
        case(r, "other", pat2004(6.0, "weekly"), true, u(6.0), "other sex uses 6"),
        case(
            r,
            "male",
            json!({
                "drinks_alcohol": true,
                "max_units_in_a_day": 1,
                "heavy_drinking_frequency": "never",
                "attendance_related": true,
            }),
            true,
            u(1.0),
            "attendance related alone is positive",
        ),
        case(
            r,
            "male",
            json!({ "drinks_alcohol": false }),
            false,
            None,
            "a non-drinker is negative",
        ),
    ];
    check_cases(&app, None, cases).await;
}

#[tokio::test]
async fn sips_pat_is_related_or_heavy_drinking_monthly_or_more() {
    // docs/domain.md §4: Q1 attendance related → positive; else heavy drinking monthly or more often.
    let app = spawn_app().await;
    let r = Some("sips-pat");
    let sips = |related: bool, heavy: Option<&str>| match heavy {
        Some(h) => json!({ "attendance_related": related, "heavy_drinking_frequency": h }),
        None => json!({ "attendance_related": related }),
    };
    let mut daily = case(
        r,
        "male",
        sips(false, Some("daily")),
        true,
        Some(None),
        "daily heavy drinking",
    );
    daily.alerts = &["possible_dependence"];
    let cases = vec![
        case(
            r,
            "male",
            sips(true, None),
            true,
            Some(None),
            "attendance related needs no second question",
        ),
        case(
            r,
            "female",
            sips(false, Some("monthly")),
            true,
            Some(None),
            "monthly is positive",
        ),
        case(
            r,
            "male",
            sips(false, Some("weekly")),
            true,
            Some(None),
            "weekly is positive",
        ),
        daily,
        case(
            r,
            "female",
            sips(false, Some("less_than_monthly")),
            false,
            Some(None),
            "less than monthly is negative",
        ),
        case(
            r,
            "male",
            sips(false, Some("never")),
            false,
            Some(None),
            "never is negative",
        ),
        case(
            r,
            "male",
            json!({ "drinks_alcohol": false }),
            false,
            None,
            "drinks_alcohol false alone is negative",
        ),
    ];
    check_cases(&app, None, cases).await;
}

#[tokio::test]
async fn the_default_rule_is_pat_2009() {
    // docs/design.md §4: `rule` defaults to PAT_DEFAULT_RULE, itself pat-2009.
    let app = spawn_app().await;
    let cases = vec![
        case(
            None,
            "male",
            pat2009_units(8.0),
            false,
            Some(Some(8.0)),
            "no rule: pat-2009, 8 is negative",
        ),
        case(
            None,
            "male",
            pat2009_units(9.0),
            true,
            Some(Some(9.0)),
            "no rule: pat-2009, 9 is positive",
        ),
    ];
    check_cases(&app, Some("pat-2009"), cases).await;
}

#[tokio::test]
async fn the_default_rule_is_configuration() {
    // Arrange: PAT_DEFAULT_RULE = pat-2004; a screening naming pat-2009 still gets pat-2009.
    let app = spawn_app_with(|s| s.default_rule = PatRule::Pat2004).await;
    let cases = vec![
        case(
            None,
            "male",
            pat2004(8.0, "weekly"),
            true,
            Some(Some(8.0)),
            "default pat-2004: 8 weekly is positive",
        ),
        case(
            Some("pat-2009"),
            "male",
            pat2009_units(8.0),
            false,
            Some(Some(8.0)),
            "an explicit rule wins over the default",
        ),
    ];
    check_cases(&app, Some("pat-2004"), cases).await;
}

#[tokio::test]
async fn sex_for_the_threshold_comes_from_the_attendance() {
    // Arrange: a `sex` inside the answers is not a PAT answer and is ignored; the attendance says
    // female, so 7 units is more than 6.
    let app = spawn_app().await;
    let mut answers = pat2009_units(7.0);
    answers["sex"] = json!("male");
    answers["favourite_drink"] = json!("gin");
    let cases = vec![case(
        Some("pat-2009"),
        "female",
        answers,
        true,
        Some(Some(7.0)),
        "female attendance, answers claiming male: the attendance decides; unknown answers are ignored",
    )];
    check_cases(&app, None, cases).await;
}

#[tokio::test]
async fn a_screening_that_did_not_happen_records_why() {
    // docs/domain.md §5: six reasons; no result, no rule, no next steps.
    let app = spawn_app().await;
    let reasons = [
        "refused",
        "intoxicated",
        "lacks_capacity",
        "too_unwell",
        "under_age",
        "not_asked",
    ];

    for reason in reasons {
        // Arrange
        let id = attendance(&app, &format!("nd-{reason}"), "male").await;
        let body = json!({ "status": reason, "screened_at": "2025-03-01T11:00:00Z" });

        // Act
        let resp = app.record_screening(&id, &body).await;

        // Assert
        assert_eq!(resp.status().as_u16(), 201, "{reason}");
        let s: Value = resp.json().await.unwrap();
        assert_eq!(s["status"], reason);
        assert_eq!(s["result"], Value::Null, "{reason}: no result");
        assert_eq!(s["rule"], Value::Null, "{reason}: no rule applied");
        assert_eq!(s["units"], Value::Null, "{reason}: no units");
        assert_eq!(s["next_steps"], json!([]), "{reason}: no next steps");
        assert_eq!(s["alerts"], json!([]), "{reason}: no alerts");
        assert_eq!(s["feedback"], Value::Null, "{reason}: no feedback");
        assert_eq!(s["version"], 1);
    }
}

#[tokio::test]
async fn answers_with_a_not_completed_status_are_422() {
    // Arrange
    let app = spawn_app().await;
    let id = attendance(&app, "nd-answers", "male").await;
    let body = json!({
        "status": "refused",
        "screened_at": "2025-03-01T11:00:00Z",
        "answers": pat2009_units(10.0),
    });

    // Act
    let problem = assert_problem(app.record_screening(&id, &body).await, 422).await;

    // Assert
    assert!(
        fields(&problem).iter().any(|f| f == "answers"),
        "the error names `answers`: {problem}"
    );
}

#[tokio::test]
async fn missing_answers_are_all_listed() {
    // Arrange: (rule, answers, fields that must be listed, why).
    let app = spawn_app().await;
    let cases: Vec<(&str, Value, Vec<&str>, &str)> = vec![
        (
            "pat-2009",
            json!({}),
            vec!["answers.drinks_alcohol"],
            "pat-2009 starts with Q1",
        ),
        (
            "pat-2009",
            json!({ "drinks_alcohol": true }),
            vec!["answers.drinking_frequency", "answers.attendance_related"],
            "a drinker must answer frequency and Q4 (and units, below)",
        ),
        (
            "pat-2009",
            json!({
                "drinks_alcohol": true,
                "max_units_in_a_day": 4,
                "drinking_frequency": "weekly",
                "attendance_related": false,
            }),
            vec!["answers.days_per_week"],
            "weekly needs days_per_week",
        ),
        (
            "pat-2004",
            json!({ "drinks_alcohol": true, "max_units_in_a_day": 9 }),
            vec!["answers.heavy_drinking_frequency", "answers.attendance_related"],
            "pat-2004 asks heavy drinking frequency",
        ),
        (
            "sips-pat",
            json!({ "attendance_related": false }),
            vec!["answers.heavy_drinking_frequency"],
            "sips-pat asks frequency when the attendance is not related",
        ),
        (
            "sips-pat",
            json!({}),
            vec!["answers.attendance_related"],
            "sips-pat starts with attendance related",
        ),
    ];

    for (i, (rule, answers, expected, why)) in cases.into_iter().enumerate() {
        let id = attendance(&app, &format!("missing-{i}"), "male").await;

        // Act
        let resp = app.record_screening(&id, &completed(Some(rule), answers)).await;

        // Assert
        let problem = assert_problem(resp, 422).await;
        let listed = fields(&problem);
        for field in expected {
            assert!(
                listed.iter().any(|f| f == field),
                "{why}: {field} is listed in {listed:?}"
            );
        }
        assert!(
            listed.iter().all(|f| f.starts_with("answers")),
            "{why}: only answers are at fault: {listed:?}"
        );
    }

    // A drinker with no units at all: the units are listed too, whichever form is named.
    let id = attendance(&app, "missing-units", "male").await;
    let resp = app
        .record_screening(&id, &completed(Some("pat-2009"), json!({ "drinks_alcohol": true })))
        .await;
    let listed = fields(&assert_problem(resp, 422).await);
    assert!(
        listed
            .iter()
            .any(|f| f == "answers.max_units_in_a_day" || f == "answers.drinks" || f == "answers.units"),
        "the missing units are listed: {listed:?}"
    );
}

#[tokio::test]
async fn a_completed_screening_without_answers_is_422() {
    // Arrange
    let app = spawn_app().await;
    let id = attendance(&app, "no-answers", "male").await;
    let body = json!({ "status": "completed", "screened_at": "2025-03-01T11:00:00Z" });

    // Act
    let problem = assert_problem(app.record_screening(&id, &body).await, 422).await;

    // Assert
    assert!(
        fields(&problem).iter().any(|f| f.starts_with("answers")),
        "the error names the answers: {problem}"
    );
}

#[tokio::test]
async fn invalid_answers_are_422_naming_the_field() {
    // Arrange: (answers, rule, field prefix expected, why)
    let app = spawn_app().await;
    let d = |drink: &str, measure: &str, count: f64| json!({"drink": drink, "measure": measure, "count": count});
    let mut both = pat2009_units(4.0);
    both["drinks"] = json!([d("beer", "pint", 2.0)]);
    let cases: Vec<(Value, &str, &str, &str)> = vec![
        (both, "pat-2009", "answers", "units given both ways"),
        (
            pat2009_drinks(json!([d("beer", "pint", 1.0), d("wine", "pint", 1.0)])),
            "pat-2009",
            "answers.drinks[1]",
            "wine by the pint is not in the guide",
        ),
        (
            pat2009_drinks(json!([d("strong_beer", "glass", 1.0)])),
            "pat-2009",
            "answers.drinks[0]",
            "strong beer by the glass is not in the guide",
        ),
        (
            pat2009_drinks(json!([d("whisky", "single", 1.0)])),
            "pat-2009",
            "answers.drinks[0]",
            "an unknown drink code",
        ),
        (
            pat2009_units(-1.0),
            "pat-2009",
            "answers.max_units_in_a_day",
            "units must be 0 or more",
        ),
        (
            json!({
                "drinks_alcohol": true,
                "max_units_in_a_day": 4,
                "drinking_frequency": "weekly",
                "days_per_week": 7,
                "attendance_related": false,
            }),
            "pat-2009",
            "answers.days_per_week",
            "seven days a week is `daily`, not weekly (1–6)",
        ),
        (
            json!({
                "drinks_alcohol": true,
                "max_units_in_a_day": 4,
                "drinking_frequency": "fortnightly",
                "attendance_related": false,
            }),
            "pat-2009",
            "answers.drinking_frequency",
            "an unknown frequency",
        ),
    ];

    for (i, (answers, rule, field, why)) in cases.into_iter().enumerate() {
        let id = attendance(&app, &format!("invalid-{i}"), "male").await;

        // Act
        let resp = app.record_screening(&id, &completed(Some(rule), answers)).await;

        // Assert
        let problem = assert_problem(resp, 422).await;
        let listed = fields(&problem);
        assert!(
            listed.iter().any(|f| f.starts_with(field)),
            "{why}: a field starting {field:?} is listed in {listed:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_rule_or_status_is_422() {
    // Arrange
    let app = spawn_app().await;
    let id = attendance(&app, "bad-rule", "male").await;
    let cases = [
        (
            completed(Some("audit-c"), pat2009_units(2.0)),
            "rule",
            "a rule the service does not know",
        ),
        (
            json!({ "status": "maybe", "screened_at": "2025-03-01T11:00:00Z" }),
            "status",
            "a status the service does not know",
        ),
    ];

    for (body, field, why) in cases {
        // Act
        let problem = assert_problem(app.record_screening(&id, &body).await, 422).await;

        // Assert
        assert!(fields(&problem).iter().any(|f| f == field), "{why}: {problem}");
    }
}

#[tokio::test]
async fn a_screening_before_the_arrival_is_422() {
    // Arrange: the attendance arrived at 2025-03-01T10:00:00Z.
    let app = spawn_app().await;
    let id = attendance(&app, "early", "male").await;
    let mut body = completed(Some("pat-2009"), pat2009_units(2.0));
    body["screened_at"] = json!("2025-03-01T09:59:00Z");

    // Act
    let problem = assert_problem(app.record_screening(&id, &body).await, 422).await;

    // Assert
    assert!(
        fields(&problem).iter().any(|f| f == "screened_at"),
        "the error names screened_at: {problem}"
    );
}

#[tokio::test]
async fn the_screening_is_stored_on_the_attendance() {
    // Arrange
    let app = spawn_app().await;
    let id = attendance(&app, "stored", "male").await;

    // Act
    let resp = app.record_screening(&id, &completed(None, pat2009_units(12.0))).await;
    assert_eq!(resp.status().as_u16(), 201);
    let recorded: Value = resp.json().await.unwrap();
    let attendance: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "ahw")
        .await
        .json()
        .await
        .unwrap();

    // Assert
    assert_eq!(recorded["recorded_by"], "test-clinician");
    assert_eq!(
        at(recorded["screened_at"].as_str().unwrap()),
        at("2025-03-01T11:00:00Z")
    );
    assert_eq!(recorded["answers"]["max_units_in_a_day"], 12.0);
    assert_eq!(attendance["screening"], recorded, "GET shows the current screening");
    assert_eq!(attendance["previous_screenings"], json!([]));
}

#[tokio::test]
async fn an_identical_replay_answers_200_with_the_same_version() {
    // Arrange
    let app = spawn_app().await;
    let id = attendance(&app, "replay", "male").await;
    let body = completed(Some("pat-2009"), pat2009_units(12.0));
    let first: Value = app.record_screening(&id, &body).await.json().await.unwrap();

    // Act
    let resp = app.record_screening(&id, &body).await;

    // Assert
    assert_eq!(resp.status().as_u16(), 200, "a replay answers 200");
    let replay: Value = resp.json().await.unwrap();
    assert_eq!(replay["version"], 1, "a replay makes no new version");
    assert_eq!(replay, first, "the replay answers the stored screening");
    let attendance: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        attendance["previous_screenings"],
        json!([]),
        "no earlier version was made"
    );
}

#[tokio::test]
async fn a_replay_without_screened_at_is_still_a_replay() {
    // Arrange: the integration engine resends exactly the body it sent, which names no
    // screened_at (it defaults to now); a retry must not become a correction.
    let app = spawn_app().await;
    let id = attendance(&app, "replay-now", "male").await;
    let body = json!({ "status": "completed", "answers": pat2009_units(3.0) });
    let first = app.record_screening(&id, &body).await;
    assert_eq!(first.status().as_u16(), 201);
    let first: Value = first.json().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    // Act
    let resp = app.record_screening(&id, &body).await;

    // Assert
    assert_eq!(resp.status().as_u16(), 200);
    let replay: Value = resp.json().await.unwrap();
    assert_eq!(replay["version"], 1);
    assert_eq!(replay["screened_at"], first["screened_at"]);
}

#[tokio::test]
async fn a_correction_makes_a_new_version_and_keeps_the_earlier_ones() {
    // Arrange: negative, then corrected to positive, then to not asked.
    let app = spawn_app().await;
    let id = attendance(&app, "correct", "male").await;
    let v1_body = completed(Some("pat-2009"), pat2009_units(4.0));
    let v2_body = completed(Some("pat-2009"), pat2009_units(14.0));
    let v3_body = json!({ "status": "not_asked", "screened_at": "2025-03-01T11:30:00Z" });
    let v1: Value = app.record_screening(&id, &v1_body).await.json().await.unwrap();

    // Act
    let resp2 = app.record_screening(&id, &v2_body).await;
    let status2 = resp2.status().as_u16();
    let v2: Value = resp2.json().await.unwrap();
    let resp3 = app.record_screening(&id, &v3_body).await;
    let status3 = resp3.status().as_u16();
    let v3: Value = resp3.json().await.unwrap();

    // Assert
    assert_eq!(v1["result"], "negative");
    assert_eq!(
        (status2, &v2["version"], &v2["result"]),
        (200, &json!(2), &json!("positive"))
    );
    assert_eq!((status3, &v3["version"], &v3["result"]), (200, &json!(3), &Value::Null));
    let attendance: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attendance["screening"], v3, "the latest version is current");
    assert_eq!(
        attendance["previous_screenings"],
        json!([v2, v1]),
        "earlier versions are kept, newest first"
    );
}

#[tokio::test]
async fn screening_an_unknown_attendance_is_404_but_an_invalid_body_is_422_first() {
    // Arrange: docs/design.md §4 order — request shape (422) before existence (404).
    let app = spawn_app().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let valid = completed(None, pat2009_units(2.0));
    let invalid = json!({ "status": "completed", "screened_at": "2025-03-01T11:00:00Z", "answers": { "drinks_alcohol": "maybe" } });
    let cases = [
        (
            unknown.as_str(),
            valid.clone(),
            404,
            "a valid body for an attendance nobody has",
        ),
        (
            unknown.as_str(),
            invalid,
            422,
            "an invalid body is refused before the lookup",
        ),
        ("not-a-uuid", valid, 400, "a malformed id"),
    ];

    for (id, body, status, why) in cases {
        // Act
        let resp = app.record_screening(id, &body).await;

        // Assert
        let problem = assert_problem(resp, status).await;
        assert_eq!(problem["status"], status, "{why}");
    }
}

#[tokio::test]
async fn the_integration_engine_may_record_a_screening() {
    // Arrange
    let app = spawn_app().await;
    let id = attendance(&app, "by-integration", "female").await;

    // Act
    let resp = app
        .put_json(
            &screening_path(&id),
            "integration",
            &completed(None, pat2009_units(7.0)),
        )
        .await;

    // Assert
    assert_eq!(resp.status().as_u16(), 201);
    let s: Value = resp.json().await.unwrap();
    assert_eq!(s["recorded_by"], "test-integration");
    assert_eq!(s["result"], "positive", "female 7 units is more than 6");
}

#[tokio::test]
async fn a_replay_with_the_same_number_written_differently_is_a_replay() {
    // Arrange: 12 and 12.0 are the same number of units.
    let app = spawn_app().await;
    let id = attendance(&app, "replay-number", "male").await;
    let mut as_integer = completed(Some("pat-2009"), pat2009_units(12.0));
    as_integer["answers"]["max_units_in_a_day"] = json!(12);
    let first = app
        .record_screening(&id, &completed(Some("pat-2009"), pat2009_units(12.0)))
        .await;
    assert_eq!(first.status().as_u16(), 201);

    // Act
    let resp = app.record_screening(&id, &as_integer).await;

    // Assert
    assert_eq!(resp.status().as_u16(), 200);
    let replay: Value = resp.json().await.unwrap();
    assert_eq!(replay["version"], 1, "no correction was made");
}

#[tokio::test]
async fn an_attendance_that_is_not_indicated_can_still_be_screened() {
    // Arrange: docs/domain.md §7 counts these as `screened_outside_indications`, so they are recorded.
    let app = spawn_app().await;
    let mut body = attendance_body("outside");
    body["presenting_condition"] = json!("other");
    let created = app.create_attendance(&body).await;
    assert_eq!(created["pat_indicated"], false);
    let id = created["id"].as_str().unwrap();

    // Act
    let resp = app.record_screening(id, &completed(None, pat2009_units(9.0))).await;

    // Assert
    assert_eq!(resp.status().as_u16(), 201);
    let s: Value = resp.json().await.unwrap();
    assert_eq!(s["result"], "positive", "male 9 units is more than 8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_identical_screenings_at_once_make_one_version() {
    // Arrange: the integration engine retrying a screening (docs/design.md §6).
    let app = spawn_app().await;
    let id = attendance(&app, "race-same", "male").await;
    let body = completed(Some("pat-2009"), pat2009_units(10.0));
    let url = app.url(&screening_path(&id));
    let token = app.token("integration");

    // Act
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, url, token, body) = (app.client.clone(), url.clone(), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client.put(&url).bearer_auth(&token).json(&body).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }

    // Assert
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "one 201: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        19,
        "19 × 200: {statuses:?}"
    );
    assert!(
        answers.iter().all(|(_, a)| a["version"] == 1),
        "every answer is version 1"
    );
    let attendance: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attendance["screening"]["version"], 1);
    assert_eq!(attendance["previous_screenings"], json!([]), "no duplicate versions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_corrections_keep_every_version_exactly_once() {
    // Arrange: ten different recordings of one screening at once. Each that succeeds must be a
    // version of its own; none may be lost or duplicated, and nothing may fail with a 5xx.
    let app = spawn_app().await;
    let id = attendance(&app, "race-different", "male").await;
    let url = app.url(&screening_path(&id));
    let token = app.token("clinician");

    // Act
    let mut tasks = Vec::new();
    for units in 1..=10 {
        let body = completed(Some("pat-2009"), pat2009_units(f64::from(units)));
        let (client, url, token) = (app.client.clone(), url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client.put(&url).bearer_auth(&token).json(&body).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }

    // Assert
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.iter().all(|s| [200, 201, 409].contains(s)),
        "success, or a conflict to retry — never a server error: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "one first recording: {statuses:?}"
    );
    let mut versions: Vec<i64> = answers
        .iter()
        .filter(|(s, _)| *s == 200 || *s == 201)
        .map(|(_, a)| a["version"].as_i64().unwrap())
        .collect();
    versions.sort_unstable();
    let expected: Vec<i64> = (1..=versions.len() as i64).collect();
    assert_eq!(versions, expected, "each success is its own version, none skipped");
    let attendance: Value = app
        .get(&format!("/api/v1/attendances/{id}"), "clinician")
        .await
        .json()
        .await
        .unwrap();
    let current = attendance["screening"]["version"].as_i64().unwrap();
    let previous: Vec<i64> = attendance["previous_screenings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["version"].as_i64().unwrap())
        .collect();
    assert_eq!(current, versions.len() as i64, "the last version is current");
    let newest_first: Vec<i64> = (1..current).rev().collect();
    assert_eq!(previous, newest_first, "every earlier version is kept, newest first");
}
