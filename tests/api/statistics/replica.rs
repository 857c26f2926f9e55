//! Statistics read from the replica and are audited on the primary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::fixtures::*;
use crate::helpers::{spawn_app_with, TestDb};

#[tokio::test]
async fn statistics_read_from_the_replica_and_are_audited_on_the_primary() {
    // Arrange: a second database stands in for the streaming replica of
    // PAT_STATISTICS_DATABASE_URL; a second service writing to it stands in for replication.
    // One attendance (a fall, eligible, not screened) on 2025-01-10, first on the primary only.
    let (_replica_db, replica_url) = TestDb::migrated();
    let for_statistics = replica_url.clone();
    let app = spawn_app_with(move |s| s.statistics_database_url = Some(for_statistics.into())).await;
    let replica = spawn_app_with(move |s| s.database_url = replica_url.into()).await;
    let patient = Patient::nhs(971);
    let arrived = t("2025-01-10T10:00:00Z");
    let funnel = format!("{FUNNEL}?from=2025-01-06&to=2025-02-03");
    visit(&app, &patient, "fall", Some("SMH"), arrived).await;

    // Act: before the attendance reaches the replica, then after.
    let before = stats(&app, &funnel).await;
    visit(&replica, &patient, "fall", Some("SMH"), arrived).await;
    let after = stats(&app, &funnel).await;

    // Assert: the figures are the replica's (0 attendances, then 1 eligible, not recorded)...
    assert_eq!(
        at_path(&before["groups"][0], "counts.attendances"),
        &json!(0),
        "{before}"
    );
    assert_eq!(at_path(&after["groups"][0], "counts.attendances"), &json!(1), "{after}");
    assert_eq!(at_path(&after["groups"][0], "counts.eligible"), &json!(1), "{after}");
    // ... and who pulled them is recorded on the primary, once per request, never on the replica.
    let statistics_reads = |events: &Value| {
        events["events"]
            .as_array()
            .expect("an event list")
            .iter()
            .filter(|e| e["resource_type"] == "statistics")
            .count()
    };
    let on_primary: Value = app
        .get("/api/v1/audit-events?limit=1000", "admin")
        .await
        .json()
        .await
        .unwrap();
    let on_replica: Value = replica
        .get("/api/v1/audit-events?limit=1000", "admin")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(statistics_reads(&on_primary), 2, "{on_primary}");
    assert_eq!(statistics_reads(&on_replica), 0, "{on_replica}");
}
