//! Bearer tokens and roles (docs/design.md §5): every endpoint × every role, every way a token can be
//! bad, and the public-key configurations (RS256, ES256) including the algorithm-confusion
//! attack (an HS256 token keyed with the RSA public key).
//!
//! Keys for RS256 and ES256 are generated in the test with the `openssl` command-line tool, so no
//! key material is committed and no extra crate is needed; tokens are signed with the
//! `jsonwebtoken` crate the service already depends on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use pat_service::config::{JwtKey, Secret};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, attendance_body, spawn_app, spawn_app_with, TestApp, AUDIENCE, ISSUER, ROLES};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Valid claims for `roles`, one hour to live.
fn claims(roles: &[&str]) -> Value {
    json!({
        "sub": "auth-test",
        "roles": roles,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now() + 3600,
        "iat": now(),
    })
}

/// base64url without padding (RFC 7515), to hand-build tokens no library would make.
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn sign_with(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    encode(&Header::new(alg), claims, key).unwrap()
}

/// Runs `openssl` with `args`, feeding `input` on stdin; returns stdout.
fn openssl(args: &[&str], input: Option<&str>) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command-line tool is installed");
    {
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin.write_all(input.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh key pair as (private key PKCS#8 PEM, public key SPKI PEM).
fn key_pair(kind: &str) -> (String, String) {
    let private = match kind {
        "rsa" => openssl(
            &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            None,
        ),
        "p256" => openssl(
            &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            None,
        ),
        other => panic!("no key kind {other}"),
    };
    let public = openssl(&["pkey", "-pubout"], Some(&private));
    (private, public)
}

async fn send(
    app: &TestApp,
    method: &Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method.clone(), app.url(path));
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send().await.expect("the request is answered")
}

/// A 401 carries `WWW-Authenticate: Bearer` and a problem+json body.
async fn assert_401(resp: reqwest::Response, why: &str) {
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    assert!(
        challenge.as_deref().is_some_and(|c| c.starts_with("Bearer")),
        "{why}: a 401 carries WWW-Authenticate: Bearer, got {challenge:?}"
    );
    let problem = assert_problem(resp, 401).await;
    assert_eq!(problem["status"], 401, "{why}");
}

/// One protected endpoint: the method, the path, a valid body, and who may call it
/// (docs/design.md §4).
struct Endpoint {
    method: Method,
    path: String,
    body: Option<Value>,
    allowed: &'static [&'static str],
    /// For writes that cannot succeed twice (a slot, a booking, a withdrawal): an allowed role's
    /// own path and body, so that each allowed role's request can succeed on its own.
    per_role: Vec<(&'static str, String, Option<Value>)>,
}

impl Endpoint {
    fn request_for(&self, role: &str) -> (&str, Option<&Value>) {
        self.per_role
            .iter()
            .find(|(r, _, _)| *r == role)
            .map_or((self.path.as_str(), self.body.as_ref()), |(_, path, body)| {
                (path.as_str(), body.as_ref())
            })
    }
}

/// The protected endpoints of v1, with a real attendance to address.
async fn endpoints(app: &TestApp) -> Vec<Endpoint> {
    let id = app.create_attendance(&attendance_body("auth-target")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    vec![
        Endpoint {
            method: Method::POST,
            path: "/api/v1/attendances".into(),
            body: Some(attendance_body("auth-new")),
            allowed: &["clinician", "integration"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::GET,
            path: format!("/api/v1/attendances/{id}"),
            body: None,
            allowed: &["clinician", "integration", "ahw", "admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::PUT,
            path: format!("/api/v1/attendances/{id}/screening"),
            body: Some(json!({
                "status": "completed",
                "screened_at": "2025-03-01T11:00:00Z",
                "answers": {
                    "drinks_alcohol": true,
                    "max_units_in_a_day": 3,
                    "drinking_frequency": "less_than_weekly",
                    "attendance_related": false,
                },
            })),
            allowed: &["clinician", "integration"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/audit-events".into(),
            body: None,
            allowed: &["admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/statistics/funnel".into(),
            body: None,
            allowed: &["auditor", "admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/statistics/referrals".into(),
            body: None,
            allowed: &["auditor", "admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/statistics/reattendance".into(),
            body: None,
            allowed: &["auditor", "admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/statistics/outcomes".into(),
            body: None,
            allowed: &["auditor", "admin"],
            per_role: vec![],
        },
    ]
    .into_iter()
    .chain(scheduling_endpoints(app).await)
    .collect()
}

/// The scheduling endpoints of issue 3 (/tmp/scheduling-api.md), each with the records it
/// addresses.
async fn scheduling_endpoints(app: &TestApp) -> Vec<Endpoint> {
    use crate::scheduling_helpers::{
        accepted_attendance, booked, health_worker, id_of, now, positive_attendance, rfc, slot_at, slot_body,
    };
    use chrono::Duration;

    let hw = health_worker(app).await;
    let t = now();
    let h = Duration::hours;
    let new_slot = |hours: i64| Some(slot_body(&hw, t + h(hours), t + h(hours) + Duration::minutes(30)));
    let withdraw_by_admin = slot_at(app, &hw, t + h(30)).await;
    let withdraw_by_ahw = slot_at(app, &hw, t + h(31)).await;
    let referred = positive_attendance(app).await;
    let decided_at = rfc(t - Duration::minutes(30));
    let mut bookings_by_role = vec![];
    for (i, role) in ["clinician", "integration", "ahw"].into_iter().enumerate() {
        let attendance = accepted_attendance(app).await;
        let free = slot_at(app, &hw, t + h(2 + i as i64)).await;
        bookings_by_role.push((
            role,
            "/api/v1/bookings".to_owned(),
            Some(json!({ "attendance_id": attendance, "slot_id": free })),
        ));
    }
    let read_booking = {
        let attendance = accepted_attendance(app).await;
        let s = slot_at(app, &hw, t + h(6)).await;
        id_of(&booked(app, &attendance, &s).await)
    };
    let outcome_booking = {
        let attendance = accepted_attendance(app).await;
        let s = slot_at(app, &hw, t + h(7)).await;
        id_of(&booked(app, &attendance, &s).await)
    };
    let followed_up = accepted_attendance(app).await;
    let entered_in_error = positive_attendance(app).await;
    let mut local = crate::helpers::attendance_body("role-matrix-local");
    local["patient"] = json!({ "local_id": "ROLE-1" });
    let patient = app.create_attendance(&local).await["patient"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    vec![
        Endpoint {
            method: Method::GET,
            path: format!("/api/v1/patients/{patient}"),
            body: None,
            allowed: &["clinician", "integration", "ahw", "admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::POST,
            path: format!("/api/v1/patients/{patient}/link"),
            // Linking again to the same NHS number answers 200: every allowed role succeeds.
            body: Some(json!({ "nhs_number": "9434765919", "reason": "role matrix" })),
            allowed: &["integration", "admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::POST,
            path: format!("/api/v1/patients/{patient}/unlink"),
            // Unlinking again answers 200 too.
            body: Some(json!({ "reason": "role matrix" })),
            allowed: &["integration", "admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::POST,
            path: format!("/api/v1/attendances/{entered_in_error}/entered-in-error"),
            // Marking again answers the first mark: every allowed role gets 200.
            body: Some(json!({ "reason": "role matrix" })),
            allowed: &["clinician", "integration", "admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/health-workers".into(),
            body: Some(json!({ "name": "Role Matrix" })),
            allowed: &["admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/health-workers".into(),
            body: None,
            allowed: &["admin", "ahw", "clinician"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/slots".into(),
            body: new_slot(20),
            allowed: &["admin", "ahw"],
            per_role: vec![
                ("admin", "/api/v1/slots".into(), new_slot(20)),
                ("ahw", "/api/v1/slots".into(), new_slot(21)),
            ],
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/slots".into(),
            body: None,
            allowed: &["admin", "ahw", "clinician", "integration"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::DELETE,
            path: format!("/api/v1/slots/{withdraw_by_admin}"),
            body: None,
            allowed: &["admin", "ahw"],
            per_role: vec![
                ("admin", format!("/api/v1/slots/{withdraw_by_admin}"), None),
                ("ahw", format!("/api/v1/slots/{withdraw_by_ahw}"), None),
            ],
        },
        Endpoint {
            method: Method::PUT,
            path: format!("/api/v1/attendances/{referred}/referral"),
            // The same decision each time: the first role records it, the others replay it.
            body: Some(json!({ "decision": "accepted", "decided_at": decided_at })),
            allowed: &["clinician", "integration", "ahw"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::POST,
            path: "/api/v1/bookings".into(),
            body: bookings_by_role[0].2.clone(),
            allowed: &["clinician", "integration", "ahw"],
            per_role: bookings_by_role,
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/bookings".into(),
            body: None,
            allowed: &["ahw", "admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::GET,
            path: format!("/api/v1/bookings/{read_booking}"),
            body: None,
            allowed: &["ahw", "admin"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::POST,
            path: format!("/api/v1/bookings/{outcome_booking}/outcome"),
            body: Some(json!({ "status": "cancelled", "reason": "role matrix" })),
            allowed: &["ahw"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::POST,
            path: format!("/api/v1/attendances/{followed_up}/follow-ups"),
            body: Some(json!({ "months": 6, "units_per_week": 10 })),
            allowed: &["ahw"],
            per_role: vec![],
        },
        Endpoint {
            method: Method::GET,
            path: "/api/v1/follow-ups".into(),
            body: None,
            allowed: &["ahw", "admin"],
            per_role: vec![],
        },
    ]
}

#[tokio::test]
async fn every_endpoint_by_every_role() {
    // Arrange
    let app = spawn_app().await;

    for ep in endpoints(&app).await {
        for role in ROLES {
            let token = format!("Bearer {}", app.token(role));
            let (path, body) = ep.request_for(role);

            // Act
            let resp = send(&app, &ep.method, path, Some(&token), body).await;

            // Assert
            let status = resp.status().as_u16();
            let what = format!("{} {path} as {role}", ep.method);
            if ep.allowed.contains(&role) {
                assert!(
                    (200..300).contains(&status),
                    "{what}: an allowed role succeeds, got {status}: {}",
                    resp.text().await.unwrap_or_default()
                );
            } else {
                let problem = assert_problem(resp, 403).await;
                assert_eq!(problem["status"], 403, "{what}: a valid token without the role");
            }
        }
    }
}

#[tokio::test]
async fn the_role_table_covers_every_operation_in_the_openapi_document() {
    // Arrange
    let app = spawn_app().await;
    let document = pat_service::openapi::document_json().unwrap();
    let document: Value = serde_json::from_str(&document).unwrap();
    let mut documented: Vec<String> = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for method in operations.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }

    // Act: the endpoints the table walks, with their ids put back as `{id}`.
    let mut walked: Vec<String> = endpoints(&app)
        .await
        .iter()
        .map(|ep| {
            let templated: Vec<String> = ep
                .path
                .split('/')
                .map(|part| {
                    if uuid::Uuid::parse_str(part).is_ok() {
                        "{id}".to_owned()
                    } else {
                        part.to_owned()
                    }
                })
                .collect();
            format!("{} {}", ep.method, templated.join("/"))
        })
        .collect();

    // Assert
    walked.sort();
    walked.dedup();
    documented.sort();
    assert_eq!(
        walked, documented,
        "every documented operation is in the role table, and nothing else"
    );
}

#[tokio::test]
async fn bad_credentials_are_401_on_every_endpoint() {
    // Arrange: each row is a way a caller can fail to prove who they are.
    let app = spawn_app().await;
    let valid = app.token("admin");
    let mut expired = claims(&["admin"]);
    expired["exp"] = json!(now() - 3600);
    let mut wrong_iss = claims(&["admin"]);
    wrong_iss["iss"] = json!("someone-else");
    let mut wrong_aud = claims(&["admin"]);
    wrong_aud["aud"] = json!("another-service");
    let mut no_exp = claims(&["admin"]);
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut no_iss = claims(&["admin"]);
    no_iss.as_object_mut().unwrap().remove("iss");
    let mut no_aud = claims(&["admin"]);
    no_aud.as_object_mut().unwrap().remove("aud");
    let other_secret = EncodingKey::from_secret(b"not-the-service-secret-0123456789abcdef");
    let forged = sign_with(Algorithm::HS256, &other_secret, &claims(&["admin"]));
    // A clinician's real token with its payload swapped for one claiming admin.
    let clinician = app.token("clinician");
    let parts: Vec<&str> = clinician.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64url(claims(&["admin"]).to_string().as_bytes()),
        parts[2]
    );
    let alg_none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(claims(&["admin"]).to_string().as_bytes())
    );

    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "no Authorization header"),
        (Some("Bearer".into()), "the scheme without a token"),
        (Some("Bearer ".into()), "an empty token"),
        (Some("Bearer garbage".into()), "a token that is not a JWT"),
        (Some("Bearer a.b.c".into()), "three segments that are not base64 JSON"),
        (Some(format!("Basic {}", b64url(b"admin:admin"))), "the Basic scheme"),
        (Some(format!("Token {valid}")), "a valid token under another scheme"),
        (Some(valid.clone()), "a valid token without the Bearer scheme"),
        (Some(format!("Bearer {}", app.sign(&expired))), "expired an hour ago"),
        (Some(format!("Bearer {}", app.sign(&wrong_iss))), "another issuer"),
        (Some(format!("Bearer {}", app.sign(&wrong_aud))), "another audience"),
        (Some(format!("Bearer {}", app.sign(&no_exp))), "no exp claim"),
        (Some(format!("Bearer {}", app.sign(&no_iss))), "no iss claim"),
        (Some(format!("Bearer {}", app.sign(&no_aud))), "no aud claim"),
        (Some(format!("Bearer {forged}")), "signed with another secret"),
        (
            Some(format!("Bearer {tampered}")),
            "a real signature over a changed payload",
        ),
        (Some(format!("Bearer {alg_none}")), "alg: none, unsigned"),
    ];

    for ep in endpoints(&app).await {
        for (authorization, why) in &cases {
            // Act
            let resp = send(&app, &ep.method, &ep.path, authorization.as_deref(), ep.body.as_ref()).await;

            // Assert
            assert_401(resp, &format!("{} {}: {why}", ep.method, ep.path)).await;
        }
    }
}

#[tokio::test]
async fn unknown_roles_in_a_token_are_ignored() {
    // Arrange: (roles, expected status of POST /attendances, why).
    let app = spawn_app().await;
    let cases: [(&[&str], u16, &str); 5] = [
        (
            &["clinician", "superuser"],
            201,
            "a known role alongside an unknown one still counts",
        ),
        (&["superuser"], 403, "an unknown role grants nothing"),
        (
            &["Clinician"],
            403,
            "role names are exact: `Clinician` is not `clinician`",
        ),
        (&["root", "*"], 403, "no wildcard"),
        (&[], 403, "no roles at all"),
    ];

    for (i, (roles, status, why)) in cases.into_iter().enumerate() {
        let token = format!("Bearer {}", app.sign(&claims(roles)));
        let body = attendance_body(&format!("roles-{i}"));

        // Act
        let resp = send(&app, &Method::POST, "/api/v1/attendances", Some(&token), Some(&body)).await;

        // Assert
        if status == 201 {
            assert_eq!(resp.status().as_u16(), 201, "{why}");
        } else {
            assert_problem(resp, status).await;
        }
    }
}

#[tokio::test]
async fn hs256_apps_pin_the_algorithm() {
    // Arrange: an app whose secret the test knows, so it can sign with other HMAC algorithms.
    const SECRET: &str = "pinned-algorithm-test-secret-0123456789";
    let app = spawn_app_with(|s| s.jwt.key = JwtKey::Hs256(Secret::new(SECRET.to_owned()))).await;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let cases = [
        (Algorithm::HS256, 201, "HS256 with the configured secret is accepted"),
        (Algorithm::HS384, 401, "HS384 with the same secret is another algorithm"),
        (Algorithm::HS512, 401, "HS512 with the same secret is another algorithm"),
    ];

    for (i, (alg, status, why)) in cases.into_iter().enumerate() {
        let token = format!("Bearer {}", sign_with(alg, &key, &claims(&["clinician"])));
        let body = attendance_body(&format!("pinned-{i}"));

        // Act
        let resp = send(&app, &Method::POST, "/api/v1/attendances", Some(&token), Some(&body)).await;

        // Assert
        if status == 401 {
            assert_401(resp, why).await;
        } else {
            assert_eq!(resp.status().as_u16(), status, "{why}");
        }
    }
}

/// Checks an app configured with a public key: properly signed tokens work, every other kind of
/// token is 401.
async fn check_public_key_app(app: &TestApp, good: &[(String, &str)], bad: &[(String, &str)]) {
    for (i, (token, why)) in good.iter().enumerate() {
        // Act
        let created = send(
            app,
            &Method::POST,
            "/api/v1/attendances",
            Some(&format!("Bearer {token}")),
            Some(&attendance_body(&format!("pk-good-{i}"))),
        )
        .await;

        // Assert
        assert_eq!(created.status().as_u16(), 201, "{why}");
    }
    for (i, (token, why)) in bad.iter().enumerate() {
        // Act
        let resp = send(
            app,
            &Method::POST,
            "/api/v1/attendances",
            Some(&format!("Bearer {token}")),
            Some(&attendance_body(&format!("pk-bad-{i}"))),
        )
        .await;

        // Assert
        assert_401(resp, why).await;
    }
}

#[tokio::test]
async fn rs256_app_accepts_rsa_signed_tokens_and_refuses_key_confusion() {
    // Arrange
    let (private, public) = key_pair("rsa");
    let (other_private, _) = key_pair("rsa");
    let (ec_private, _) = key_pair("p256");
    let configured = public.clone();
    let app = spawn_app_with(move |s| {
        s.jwt.key = JwtKey::Rs256 {
            public_key_pem: configured,
        }
    })
    .await;
    let rsa = EncodingKey::from_rsa_pem(private.as_bytes()).unwrap();
    let other_rsa = EncodingKey::from_rsa_pem(other_private.as_bytes()).unwrap();
    let ec = EncodingKey::from_ec_pem(ec_private.as_bytes()).unwrap();
    let public_as_hmac = EncodingKey::from_secret(public.as_bytes());
    let mut expired = claims(&["clinician"]);
    expired["exp"] = json!(now() - 3600);
    let mut wrong_aud = claims(&["clinician"]);
    wrong_aud["aud"] = json!("another-service");
    let ok = claims(&["clinician"]);

    let good = [(
        sign_with(Algorithm::RS256, &rsa, &ok),
        "RS256 signed with the private key",
    )];
    let bad = [
        (
            sign_with(Algorithm::HS256, &public_as_hmac, &ok),
            "HS256 keyed with the RSA public key PEM (algorithm confusion)",
        ),
        (app.token("clinician"), "an HS256 token from the test secret"),
        (sign_with(Algorithm::RS256, &other_rsa, &ok), "RS256 from another key"),
        (
            sign_with(Algorithm::RS384, &rsa, &ok),
            "RS384 with the right key is not RS256",
        ),
        (
            sign_with(Algorithm::PS256, &rsa, &ok),
            "PS256 with the right key is not RS256",
        ),
        (sign_with(Algorithm::ES256, &ec, &ok), "an ES256 token"),
        (sign_with(Algorithm::RS256, &rsa, &expired), "RS256 but expired"),
        (
            sign_with(Algorithm::RS256, &rsa, &wrong_aud),
            "RS256 but another audience",
        ),
    ];

    // Act + Assert
    check_public_key_app(&app, &good, &bad).await;
}

#[tokio::test]
async fn es256_app_accepts_p256_signed_tokens_and_refuses_others() {
    // Arrange
    let (private, public) = key_pair("p256");
    let (other_private, _) = key_pair("p256");
    let (rsa_private, _) = key_pair("rsa");
    let configured = public.clone();
    let app = spawn_app_with(move |s| {
        s.jwt.key = JwtKey::Es256 {
            public_key_pem: configured,
        }
    })
    .await;
    let ec = EncodingKey::from_ec_pem(private.as_bytes()).unwrap();
    let other_ec = EncodingKey::from_ec_pem(other_private.as_bytes()).unwrap();
    let rsa = EncodingKey::from_rsa_pem(rsa_private.as_bytes()).unwrap();
    let public_as_hmac = EncodingKey::from_secret(public.as_bytes());
    let mut wrong_iss = claims(&["clinician"]);
    wrong_iss["iss"] = json!("someone-else");
    let ok = claims(&["clinician"]);

    let good = [(
        sign_with(Algorithm::ES256, &ec, &ok),
        "ES256 signed with the private key",
    )];
    let bad = [
        (
            sign_with(Algorithm::HS256, &public_as_hmac, &ok),
            "HS256 keyed with the EC public key PEM (algorithm confusion)",
        ),
        (app.token("clinician"), "an HS256 token from the test secret"),
        (sign_with(Algorithm::ES256, &other_ec, &ok), "ES256 from another key"),
        (sign_with(Algorithm::RS256, &rsa, &ok), "an RS256 token"),
        (sign_with(Algorithm::ES256, &ec, &wrong_iss), "ES256 but another issuer"),
    ];

    // Act + Assert
    check_public_key_app(&app, &good, &bad).await;
}

#[tokio::test]
async fn the_subject_of_a_public_key_token_is_the_recorded_actor() {
    // Arrange: with RS256 the `sub` still says who recorded the attendance.
    let (private, public) = key_pair("rsa");
    let app = spawn_app_with(move |s| s.jwt.key = JwtKey::Rs256 { public_key_pem: public }).await;
    let rsa = EncodingKey::from_rsa_pem(private.as_bytes()).unwrap();
    let mut c = claims(&["integration"]);
    c["sub"] = json!("epr-engine-7");
    let token = format!("Bearer {}", sign_with(Algorithm::RS256, &rsa, &c));

    // Act
    let resp = send(
        &app,
        &Method::POST,
        "/api/v1/attendances",
        Some(&token),
        Some(&attendance_body("rs-sub")),
    )
    .await;

    // Assert
    assert_eq!(resp.status().as_u16(), 201);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["recorded_by"], "epr-engine-7");
}

/// The bytes printed after `label` by `openssl pkey -pubin -noout -text` (hex pairs joined by
/// colons, over several indented lines), without a leading zero byte.
fn public_bytes(public_pem: &str, label: &str) -> Vec<u8> {
    let text = openssl(&["pkey", "-pubin", "-noout", "-text"], Some(public_pem));
    let mut lines = text.lines().skip_while(|l| l.trim() != label).skip(1);
    let mut bytes = Vec::new();
    for line in lines.by_ref().take_while(|l| l.starts_with(' ')) {
        for pair in line.trim().trim_end_matches(':').split(':') {
            bytes.push(u8::from_str_radix(pair, 16).unwrap());
        }
    }
    assert!(!bytes.is_empty(), "no {label} in {text}");
    if bytes[0] == 0 {
        bytes.remove(0);
    }
    bytes
}

/// A public key as a JWK (RFC 7517): RSA `n` and `e` (65537), or P-256 `x` and `y`.
fn jwk(public_pem: &str, kind: &str, kid: &str) -> Value {
    match kind {
        "rsa" => json!({
            "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": b64url(&public_bytes(public_pem, "Modulus:")), "e": "AQAB",
        }),
        "p256" => {
            let point = public_bytes(public_pem, "pub:");
            assert_eq!((point.len(), point[0]), (65, 4), "an uncompressed P-256 point");
            json!({
                "kty": "EC", "kid": kid, "crv": "P-256",
                "x": b64url(&point[1..33]), "y": b64url(&point[33..]),
            })
        }
        other => panic!("no key kind {other}"),
    }
}

fn sign_with_kid(alg: Algorithm, key: &EncodingKey, claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

#[tokio::test]
async fn a_jwks_app_picks_the_key_by_kid_and_ignores_keys_of_other_types() {
    // Arrange: an identity provider's key set during a rotation — RSA keys "2025" and "2026" —
    // beside a P-256 key, an RSA key marked for encryption and a shared-secret ("oct") key,
    // none of which an RS256 service may use.
    let (old_private, old_public) = key_pair("rsa");
    let (new_private, new_public) = key_pair("rsa");
    let (enc_private, enc_public) = key_pair("rsa");
    let (ec_private, ec_public) = key_pair("p256");
    let shared = "a-shared-secret-that-is-long-enough-0123456789";
    let mut encryption_key = jwk(&enc_public, "rsa", "enc");
    encryption_key["use"] = json!("enc");
    let set = json!({ "keys": [
        jwk(&old_public, "rsa", "2025"),
        jwk(&new_public, "rsa", "2026"),
        jwk(&ec_public, "p256", "ec"),
        encryption_key,
        { "kty": "oct", "kid": "oct", "k": b64url(shared.as_bytes()) },
    ]});
    let app = spawn_app_with(move |s| {
        s.jwt.key = JwtKey::Jwks {
            rs256: true,
            jwks_json: set.to_string(),
        }
    })
    .await;
    let old = EncodingKey::from_rsa_pem(old_private.as_bytes()).unwrap();
    let new = EncodingKey::from_rsa_pem(new_private.as_bytes()).unwrap();
    let enc = EncodingKey::from_rsa_pem(enc_private.as_bytes()).unwrap();
    let ec = EncodingKey::from_ec_pem(ec_private.as_bytes()).unwrap();
    let ok = claims(&["clinician"]);

    let good = [
        (
            sign_with_kid(Algorithm::RS256, &old, &ok, Some("2025")),
            "RS256, kid 2025",
        ),
        (
            sign_with_kid(Algorithm::RS256, &new, &ok, Some("2026")),
            "RS256, kid 2026",
        ),
    ];
    let bad = [
        (
            sign_with_kid(Algorithm::RS256, &old, &ok, Some("2026")),
            "kid names the other key",
        ),
        (
            sign_with_kid(Algorithm::RS256, &old, &ok, Some("2024")),
            "kid names no key",
        ),
        (sign_with_kid(Algorithm::RS256, &old, &ok, None), "no kid, several keys"),
        (
            sign_with_kid(Algorithm::RS256, &enc, &ok, Some("enc")),
            "a key for encryption",
        ),
        (
            sign_with_kid(Algorithm::ES256, &ec, &ok, Some("ec")),
            "ES256 with the set's P-256 key",
        ),
        (
            sign_with_kid(
                Algorithm::HS256,
                &EncodingKey::from_secret(shared.as_bytes()),
                &ok,
                Some("oct"),
            ),
            "HS256 with the set's shared-secret key",
        ),
        (
            sign_with_kid(Algorithm::RS384, &new, &ok, Some("2026")),
            "RS384 is not RS256",
        ),
    ];

    // Act + Assert
    check_public_key_app(&app, &good, &bad).await;
}

#[tokio::test]
async fn a_jwks_of_one_key_takes_tokens_without_kid() {
    // Arrange: one P-256 key, ES256.
    let (private, public) = key_pair("p256");
    let set = json!({ "keys": [jwk(&public, "p256", "only")] });
    let app = spawn_app_with(move |s| {
        s.jwt.key = JwtKey::Jwks {
            rs256: false,
            jwks_json: set.to_string(),
        }
    })
    .await;
    let key = EncodingKey::from_ec_pem(private.as_bytes()).unwrap();
    let (other_private, _) = key_pair("p256");
    let other = EncodingKey::from_ec_pem(other_private.as_bytes()).unwrap();
    let ok = claims(&["clinician"]);

    // Act + Assert
    check_public_key_app(
        &app,
        &[
            (sign_with_kid(Algorithm::ES256, &key, &ok, None), "ES256 without kid"),
            (
                sign_with_kid(Algorithm::ES256, &key, &ok, Some("only")),
                "ES256 with kid",
            ),
        ],
        &[
            (sign_with_kid(Algorithm::ES256, &other, &ok, None), "another P-256 key"),
            (
                sign_with_kid(Algorithm::ES256, &key, &ok, Some("other")),
                "a kid not in the set",
            ),
        ],
    )
    .await;
}
