//! `openapi/openapi.json` is the document the code generates (STYLE.md §9).
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
