//! `openapi/openapi.json` is the document the code generates (docs/style.md §9).
//! After changing the API: `cargo run -- openapi > openapi/openapi.json`
//! (or run this test with `UPDATE_OPENAPI=1`).

#[test]
fn committed_openapi_document_matches_the_code() {
    let generated = pat_service::openapi::document_json().unwrap();
    let path = format!("{}/openapi/openapi.json", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json differs from the code: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn every_api_path_is_documented_with_the_bearer_scheme() {
    let document: serde_json::Value = serde_json::from_str(&pat_service::openapi::document_json().unwrap()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/attendances", "post"),
        ("/api/v1/attendances/{id}", "get"),
        ("/api/v1/attendances/{id}/screening", "put"),
        ("/api/v1/audit-events", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not in the document"
        );
        if path.starts_with("/api/v1") {
            assert_eq!(
                paths[path][method]["security"][0]["bearerAuth"],
                serde_json::json!([]),
                "{method} {path} security"
            );
        }
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
}

#[test]
fn every_operation_has_a_unique_camel_case_operation_id() {
    let document: serde_json::Value = serde_json::from_str(&pat_service::openapi::document_json().unwrap()).unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{method} {path}: operationId {id} is not camelCase"
            );
            if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId {id} is used by {other} and {method} {path}");
            }
        }
    }
    // 27 operations: counted by hand from src/api/mod.rs (24 under /api/v1, 3 operations endpoints).
    assert_eq!(seen.len(), 27);
    for (id, operation) in [
        ("createAttendance", "post /api/v1/attendances"),
        ("recordScreening", "put /api/v1/attendances/{id}/screening"),
        ("listSlots", "get /api/v1/slots"),
        ("getFunnel", "get /api/v1/statistics/funnel"),
    ] {
        assert_eq!(seen.get(id).map(String::as_str), Some(operation));
    }
}

#[test]
fn every_operation_with_a_body_documents_415() {
    let document: serde_json::Value = serde_json::from_str(&pat_service::openapi::document_json().unwrap()).unwrap();
    let mut with_body = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("requestBody").is_some() {
                with_body += 1;
                assert!(
                    operation["responses"].get("415").is_some(),
                    "{method} {path} takes a body but does not document 415"
                );
            }
        }
    }
    // 11 operations take a body: attendances, entered-in-error, screening, referral, follow-ups,
    // link, unlink, health workers, slots, bookings, outcome.
    assert_eq!(with_body, 11);
}

/// The operation `operation_id` in the document, with its path.
fn operation(document: &serde_json::Value, operation_id: &str) -> serde_json::Value {
    document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .find(|op| op["operationId"] == operation_id)
        .unwrap_or_else(|| panic!("no operation {operation_id}"))
        .clone()
}

fn parameter_names(operation: &serde_json::Value) -> Vec<String> {
    operation["parameters"]
        .as_array()
        .map(|ps| ps.iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn the_document_says_the_constraints_the_service_enforces() {
    let document: serde_json::Value = serde_json::from_str(&pat_service::openapi::document_json().unwrap()).unwrap();
    let schemas = &document["components"]["schemas"];
    // Every constraint in the table found its place.
    assert!(
        document.get("x-unmatched-constraint").is_none(),
        "{}",
        document["x-unmatched-constraint"]
    );

    // limit is 1–1000 on both lists that take it.
    for id in ["listAuditEvents", "listFollowUps"] {
        let op = operation(&document, id);
        let limit = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["minimum"], 1, "{id}");
        assert_eq!(limit["schema"]["maximum"], 1000, "{id}");
    }

    // group_by only where it is accepted.
    assert_eq!(
        parameter_names(&operation(&document, "getFunnel")),
        ["from", "to", "site", "group_by", "disclosure"]
    );
    for id in ["getReferralStatistics", "getReattendance", "getOutcomeStatistics"] {
        assert_eq!(
            parameter_names(&operation(&document, id)),
            ["from", "to", "site", "disclosure"],
            "{id}"
        );
    }

    // months is 6 or 12; an outcome is never `booked`.
    assert_eq!(
        schemas["FollowUpRequest"]["properties"]["months"]["enum"],
        serde_json::json!([6, 12])
    );
    assert_eq!(
        schemas["RecordOutcome"]["properties"]["status"]["enum"],
        serde_json::json!(["attended", "did_not_attend", "cancelled"])
    );

    // Names and source ids are not empty.
    for (schema, field, max) in [
        ("CreateAttendance", "source_id", 200),
        ("CreateHealthWorker", "name", 100),
        ("EnteredInErrorRequest", "reason", 500),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(property["minLength"], 1, "{schema}.{field}");
        assert_eq!(property["maxLength"], max, "{schema}.{field}");
        assert!(
            property["pattern"].is_string(),
            "{schema}.{field} must say it is not blank"
        );
    }

    // A slot is one slot or a rota, never both.
    let forms = schemas["PublishSlots"]["oneOf"].as_array().unwrap();
    assert_eq!(forms.len(), 2);
    assert_eq!(
        forms[0]["required"],
        serde_json::json!(["health_worker_id", "starts_at", "ends_at"])
    );
    assert_eq!(forms[1]["properties"]["slot_minutes"]["maximum"], 240);
    assert!(forms.iter().all(|f| f["additionalProperties"] == false));

    // answers are required when the PAT was completed.
    let screening = &schemas["RecordScreeningRequest"];
    assert_eq!(screening["if"]["properties"]["status"]["const"], "completed");
    assert_eq!(screening["then"]["required"], serde_json::json!(["answers"]));
}

#[test]
fn creates_link_to_the_operations_that_take_their_id() {
    let document: serde_json::Value = serde_json::from_str(&pat_service::openapi::document_json().unwrap()).unwrap();
    // The stateful chain: attendance → screening → referral → booking → outcome.
    for (from, status, link, to, parameter) in [
        (
            "createAttendance",
            "201",
            "RecordScreening",
            "recordScreening",
            "$response.body#/id",
        ),
        (
            "createAttendance",
            "200",
            "GetAttendance",
            "getAttendance",
            "$response.body#/id",
        ),
        (
            "recordScreening",
            "201",
            "RecordReferral",
            "recordReferral",
            "$request.path.id",
        ),
        (
            "createBooking",
            "201",
            "RecordOutcome",
            "recordOutcome",
            "$response.body#/id",
        ),
        (
            "publishSlots",
            "201",
            "WithdrawSlot",
            "withdrawSlot",
            "$response.body#/slots/0/id",
        ),
    ] {
        let found = &operation(&document, from)["responses"][status]["links"][link];
        assert_eq!(found["operationId"], to, "{from} {status} {link}");
        assert_eq!(found["parameters"]["id"], parameter, "{from} {status} {link}");
    }
    let booking = &operation(&document, "recordReferral")["responses"]["201"]["links"]["CreateBooking"];
    assert_eq!(booking["requestBody"]["attendance_id"], "$request.path.id");
    // Every link names an operation that exists.
    let ids: Vec<serde_json::Value> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values().map(|op| op["operationId"].clone()))
        .collect();
    for item in document["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for response in op["responses"].as_object().unwrap().values() {
                for link in response["links"].as_object().into_iter().flat_map(|l| l.values()) {
                    assert!(ids.contains(&link["operationId"]), "{link}");
                }
            }
        }
    }
}
