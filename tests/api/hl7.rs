//! HL7 v2 ADT over MLLP (docs/design.md §10): real TCP connections to the listener of a running
//! app, with messages written from the HL7 v2.4 standard (ADT^A04, ADT^A01) and the NHS England
//! ADT conventions (the NHS number in PID-3 with assigning authority `NHS` and type `NH`, its
//! status in PID-32).
//!
//! Every expected value is worked out by hand from the message sent, never copied from the
//! service's output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{free_port, spawn_app_with, KillOnDrop, TestApp};

/// The NHS number the other tests use. Checked by hand: 9·10 + 4·9 + 3·8 + 4·7 + 7·6 + 6·5 +
/// 5·4 + 9·3 + 1·2 = 299; 299 mod 11 = 2; 11 − 2 = 9 = the tenth digit.
const NHS: &str = "9434765919";
/// The same number with its last digit changed: fails the check digit.
const NHS_BAD_CHECK: &str = "9434765918";

async fn spawn_with_mllp() -> TestApp {
    spawn_with_mllp_and(|_| {}).await
}

async fn spawn_with_mllp_and(configure: impl FnOnce(&mut pat_service::config::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.mllp.listen = Some("127.0.0.1:0".into());
        configure(s);
    })
    .await
}

/// A segment with the given fields set (1-based, as the standard numbers them) and the others
/// empty.
fn segment(name: &str, fields: &[(usize, &str)]) -> String {
    let last = fields.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let mut out = vec![""; last + 1];
    out[0] = name;
    for (n, value) in fields {
        out[*n] = value;
    }
    out.join("|")
}

/// What varies between the test messages.
struct Adt<'a> {
    event: &'a str,
    control_id: &'a str,
    visit: &'a str,
    identifiers: &'a str,
    sex: &'a str,
    date_of_birth: &'a str,
    arrived: &'a str,
    chief_complaint: &'a str,
    /// Extra text in PV2-12 (the visit description), to make a message long.
    padding: &'a str,
}

impl Default for Adt<'_> {
    fn default() -> Self {
        Adt {
            event: "ADT^A04^ADT_A01",
            control_id: "MSG00001",
            visit: "ED25-000123",
            identifiers: "9434765919^^^NHS^NH~K0042^^^RAL^MR",
            sex: "F",
            date_of_birth: "19871102",
            // 1 March 2025 is GMT: 22:40 London time is 22:40 UTC.
            arrived: "20250301224000",
            chief_complaint: "head_injury^Head injury^LOCAL",
            padding: "",
        }
    }
}

impl Adt<'_> {
    fn message(&self) -> String {
        [
            format!(
                "MSH|^~\\&|EPR|RAL|PAT|ED|20250301224500||{}|{}|P|2.4",
                self.event, self.control_id
            ),
            segment("EVN", &[(1, "A04"), (2, "20250301224500")]),
            segment(
                "PID",
                &[
                    (1, "1"),
                    (3, self.identifiers),
                    (5, "TESTPATIENT^ALEX"),
                    (7, self.date_of_birth),
                    (8, self.sex),
                    (32, "01"),
                ],
            ),
            segment(
                "PV1",
                &[
                    (1, "1"),
                    (2, "E"),
                    (3, "ED^^^RAL"),
                    (19, self.visit),
                    (44, self.arrived),
                ],
            ),
            segment("PV2", &[(3, self.chief_complaint), (12, self.padding)]),
        ]
        .join("\r")
    }
}

fn framed(message: &str) -> Vec<u8> {
    let mut bytes = vec![0x0B];
    bytes.extend_from_slice(message.as_bytes());
    bytes.extend_from_slice(&[0x1C, 0x0D]);
    bytes
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.mllp_addr.expect("the MLLP listener is on"))
        .await
        .unwrap()
}

/// Reads `n` framed answers (waiting at most ten seconds for them).
async fn read_acks(stream: &mut TcpStream, n: usize) -> Vec<String> {
    let mut acks = Vec::new();
    let mut pending = Vec::new();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(10), async {
        while acks.len() < n {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the listener closed the connection");
            pending.extend_from_slice(&buffer[..read]);
            while let Some(end) = pending.windows(2).position(|w| w == [0x1C, 0x0D]) {
                let frame: Vec<u8> = pending.drain(..end + 2).collect();
                assert_eq!(frame[0], 0x0B, "an answer starts with the start block");
                acks.push(String::from_utf8(frame[1..end].to_vec()).unwrap());
            }
        }
    })
    .await
    .expect("the answers came within ten seconds");
    acks
}

async fn send(app: &TestApp, message: &str) -> Ack {
    let mut stream = connect(app).await;
    stream.write_all(&framed(message)).await.unwrap();
    Ack::parse(&read_acks(&mut stream, 1).await[0])
}

/// The parts of an acknowledgement the tests check.
#[derive(Debug)]
struct Ack {
    msh: Vec<String>,
    code: String,
    control_id: String,
    text: String,
    /// ERR-2 of each ERR segment.
    error_locations: Vec<String>,
    error_messages: Vec<String>,
}

impl Ack {
    fn parse(text: &str) -> Ack {
        let message = hl7_parser::Message::parse(text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
        let field = |segment: &hl7_parser::message::Segment<'_>, n: usize| {
            segment.field(n).map(|f| f.raw_value().to_owned()).unwrap_or_default()
        };
        let msh = message.segment("MSH").unwrap();
        let msa = message.segment("MSA").unwrap_or_else(|| panic!("no MSA: {text:?}"));
        let errs: Vec<_> = message.segments().filter(|s| s.name == "ERR").collect();
        Ack {
            msh: (3..=12).map(|n| field(msh, n)).collect(),
            code: field(msa, 1),
            control_id: field(msa, 2),
            text: field(msa, 3),
            error_locations: errs.iter().map(|s| field(s, 2)).collect(),
            error_messages: errs.iter().map(|s| field(s, 8)).collect(),
        }
    }
}

/// How many attendances the app's database holds.
fn attendances(app: &TestApp) -> i64 {
    use diesel::RunQueryDsl;
    let mut conn = pat_service::db::Manager::new(&app.database_url)
        .unwrap()
        .establish()
        .unwrap();
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM attendances)",
    ))
    .get_result(&mut conn)
    .unwrap()
}

async fn attendance(app: &TestApp, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/attendances/{id}"), "clinician").await;
    assert_eq!(response.status().as_u16(), 200, "GET /attendances/{id}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_a04_is_recorded_as_the_json_api_records_it_and_answered_aa_with_its_id() {
    let app = spawn_with_mllp().await;

    let ack = send(&app, &Adt::default().message()).await;

    assert_eq!(ack.code, "AA", "{ack:?}");
    assert_eq!(ack.control_id, "MSG00001", "MSA-2 echoes MSH-10");
    // Sender and receiver swapped: MSH-3..6 of the answer are PAT, ED, EPR, RAL.
    assert_eq!(ack.msh[..4], ["PAT", "ED", "EPR", "RAL"]);
    assert_eq!(ack.msh[6], "ACK^A04^ACK", "MSH-9");
    assert_eq!(ack.msh[9], "2.4", "MSH-12 echoes the version");
    let recorded = attendance(&app, &ack.text).await;
    assert_eq!(recorded["id"], ack.text.as_str(), "MSA-3 is the attendance id");
    assert_eq!(recorded["source_system"], "mllp:RAL");
    assert_eq!(recorded["source_id"], "ED25-000123", "PV1-19, the visit number");
    assert_eq!(recorded["patient"]["nhs_number"], NHS);
    assert_eq!(recorded["patient"]["local_id"], "K0042");
    assert_eq!(recorded["patient"]["local_id_system"], "RAL");
    assert_eq!(recorded["patient"]["sex"], "female");
    assert_eq!(recorded["patient"]["date_of_birth"], "1987-11-02");
    assert_eq!(recorded["arrived_at"], "2025-03-01T22:40:00Z");
    assert_eq!(recorded["presenting_condition"], "head_injury");
    assert_eq!(
        recorded["pat_indicated"], true,
        "head injury is one of the ten conditions"
    );
    assert_eq!(recorded["recorded_by"], "mllp:RAL", "the audit actor is mllp:<MSH-4>");
    let events = app.audit_events().await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "create" && e["actor"] == "mllp:RAL"),
        "the creation is audited as mllp:RAL: {events:?}"
    );
}

#[tokio::test]
async fn an_ed_a01_in_summer_time_and_a_snomed_chief_complaint_are_mapped() {
    let app = spawn_with_mllp().await;
    let message = Adt {
        event: "ADT^A01",
        // 1 July 2025 is BST (UTC+1): 09:15 London time is 08:15 UTC.
        arrived: "20250701091500",
        // The ECDS chief complaint for a fall.
        chief_complaint: "161898004^Fall^SCT",
        // No NHS number: the hospital number alone.
        identifiers: "K0042^^^RAL^MR",
        sex: "M",
        ..Adt::default()
    }
    .message();

    let ack = send(&app, &message).await;

    assert_eq!(ack.code, "AA", "{ack:?}");
    let recorded = attendance(&app, &ack.text).await;
    assert_eq!(recorded["arrived_at"], "2025-07-01T08:15:00Z");
    assert_eq!(recorded["presenting_condition"], "fall", "161898004 is a fall");
    assert_eq!(recorded["patient"]["nhs_number"], Value::Null);
    assert_eq!(recorded["patient"]["local_id"], "K0042");
    assert_eq!(recorded["patient"]["sex"], "male");
}

#[tokio::test]
async fn a_retransmission_is_a_replay_with_the_same_answer_and_one_attendance() {
    let app = spawn_with_mllp().await;
    let message = Adt::default().message();

    let first = send(&app, &message).await;
    let again_on_a_new_connection = send(&app, &message).await;

    assert_eq!(first.code, "AA");
    assert_eq!(again_on_a_new_connection.code, "AA");
    assert_eq!(again_on_a_new_connection.text, first.text, "the same attendance id");
    assert_eq!(attendances(&app), 1, "nothing new was written");

    // The same visit with different content is refused, naming the visit number.
    let changed = Adt {
        control_id: "MSG00002",
        chief_complaint: "fall",
        ..Adt::default()
    }
    .message();
    let clash = send(&app, &changed).await;
    assert_eq!(clash.code, "AE", "{clash:?}");
    assert_eq!(clash.error_locations, ["PV1^1^19"]);
    assert_eq!(attendances(&app), 1);
}

#[tokio::test]
async fn two_messages_in_one_write_get_two_answers_in_order() {
    let app = spawn_with_mllp().await;
    let one = Adt::default().message();
    let two = Adt {
        control_id: "MSG00002",
        visit: "ED25-000124",
        ..Adt::default()
    }
    .message();
    let mut stream = connect(&app).await;

    stream.write_all(&[framed(&one), framed(&two)].concat()).await.unwrap();
    let acks: Vec<Ack> = read_acks(&mut stream, 2).await.iter().map(|a| Ack::parse(a)).collect();

    assert_eq!(
        acks.iter()
            .map(|a| (a.code.as_str(), a.control_id.as_str()))
            .collect::<Vec<_>>(),
        [("AA", "MSG00001"), ("AA", "MSG00002")]
    );
    assert_ne!(acks[0].text, acks[1].text, "two visits, two attendances");
    assert_eq!(attendances(&app), 2);
}

#[tokio::test]
async fn a_message_split_across_several_writes_is_answered_once() {
    let app = spawn_with_mllp().await;
    let bytes = framed(&Adt::default().message());
    let mut stream = connect(&app).await;

    for piece in bytes.chunks(37) {
        stream.write_all(piece).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ack = Ack::parse(&read_acks(&mut stream, 1).await[0]);

    assert_eq!((ack.code.as_str(), ack.control_id.as_str()), ("AA", "MSG00001"));
    assert_eq!(attendances(&app), 1);
}

#[tokio::test]
async fn garbage_between_and_instead_of_frames_leaves_the_connection_usable() {
    let app = spawn_with_mllp().await;
    let mut stream = connect(&app).await;

    // Bytes outside any frame are ignored; a frame holding no HL7 is answered AE.
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    stream.write_all(&framed("this is not HL7")).await.unwrap();
    let garbage = Ack::parse(&read_acks(&mut stream, 1).await[0]);
    // Then a real message on the same connection, after more garbage.
    stream.write_all(b"\x1c\r\x00\xff junk").await.unwrap();
    stream.write_all(&framed(&Adt::default().message())).await.unwrap();
    let ack = Ack::parse(&read_acks(&mut stream, 1).await[0]);

    assert_eq!(garbage.code, "AE", "{garbage:?}");
    assert_eq!(garbage.control_id, "", "there was no MSH-10 to echo");
    assert_eq!(ack.code, "AA", "{ack:?}");
    assert_eq!(attendances(&app), 1, "only the real message was recorded");
}

#[tokio::test]
async fn an_oversize_message_is_refused_and_the_connection_stays_usable() {
    let app = spawn_with_mllp_and(|s| s.mllp.max_message_bytes = 2048).await;
    let padding = "x".repeat(3000);
    let big = Adt {
        control_id: "BIG00001",
        padding: &padding,
        ..Adt::default()
    }
    .message();
    assert!(big.len() > 3000);
    let mut stream = connect(&app).await;

    stream.write_all(&framed(&big)).await.unwrap();
    let refused = Ack::parse(&read_acks(&mut stream, 1).await[0]);
    stream.write_all(&framed(&Adt::default().message())).await.unwrap();
    let ack = Ack::parse(&read_acks(&mut stream, 1).await[0]);

    assert_eq!(refused.code, "AR", "{refused:?}");
    assert_eq!(
        refused.control_id, "BIG00001",
        "addressed from the message's first bytes"
    );
    assert!(refused.text.contains("2048"), "{refused:?}");
    assert_eq!((ack.code.as_str(), ack.control_id.as_str()), ("AA", "MSG00001"));
    assert_eq!(attendances(&app), 1, "the oversize message recorded nothing");
}

#[tokio::test]
async fn events_other_than_a04_and_a01_record_nothing() {
    let app = spawn_with_mllp().await;
    // (MSH-9, MSA-1, why)
    let cases = [
        ("ADT^A99", "AR", "an unknown trigger event is rejected"),
        ("ADT^A03", "AR", "a discharge is not supported"),
        ("ADT^A11", "AR", "a cancelled admission is not supported"),
        (
            "ADT^A08",
            "AE",
            "an update is answered AE: corrections go through the JSON API",
        ),
        ("ORU^R01", "AR", "not an ADT message"),
    ];
    for (event, expected, why) in cases {
        let ack = send(
            &app,
            &Adt {
                event,
                ..Adt::default()
            }
            .message(),
        )
        .await;
        assert_eq!(ack.code, expected, "{why}: {ack:?}");
        assert_eq!(ack.error_locations, ["MSH^1^9"], "{why}");
        assert_eq!(ack.control_id, "MSG00001", "{why}");
    }
    assert_eq!(attendances(&app), 0);
}

#[tokio::test]
async fn bad_content_is_answered_ae_naming_each_field_and_nothing_is_written() {
    let app = spawn_with_mllp().await;
    // Two days after now: in the future.
    let future = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y%m%d%H%M%S+0000")
        .to_string();
    let cases = [
        (
            Adt {
                identifiers: "9434765918^^^NHS^NH",
                ..Adt::default()
            },
            vec!["PID^1^3"],
            "an NHS number failing its check digit",
        ),
        (
            Adt {
                sex: "X",
                chief_complaint: "drunk",
                ..Adt::default()
            },
            vec!["PID^1^8", "PV2^1^3"],
            "a sex outside table 0001 and an unknown chief complaint, both at once",
        ),
        (
            Adt {
                arrived: "",
                ..Adt::default()
            },
            vec!["PV1^1^44"],
            "no arrival time",
        ),
        (
            Adt {
                arrived: &future,
                ..Adt::default()
            },
            vec!["PV1^1^44"],
            "an arrival in the future",
        ),
    ];
    for (adt, locations, why) in cases {
        let ack = send(&app, &adt.message()).await;
        assert_eq!(ack.code, "AE", "{why}: {ack:?}");
        assert_eq!(ack.error_locations, locations, "{why}");
        for message in &ack.error_messages {
            assert!(!message.contains(NHS_BAD_CHECK), "{why}: no identifier in the answer");
        }
    }
    assert_eq!(attendances(&app), 0, "nothing was written");
}

#[tokio::test]
async fn the_binary_logs_hl7_messages_without_patient_identifiers() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    // Arrange: identifiers that appear nowhere else. 4857773457 is a valid NHS number:
    // 4·10 + 8·9 + 5·8 + 7·7 + 7·6 + 7·5 + 3·4 + 4·3 + 5·2 = 312; 312 mod 11 = 4; 11 − 4 = 7.
    // 4857773458 differs only in its check digit, so it is refused.
    const GOOD: &str = "4857773457^^^NHS^NH~HL7LEAK-5521^^^RAL^MR";
    const BAD: &str = "4857773458^^^NHS^NH";
    let identifiers = ["4857773457", "4857773458", "HL7LEAK-5521", "19610713", "VISIT-LEAK-77"];
    let db_path = std::env::temp_dir().join(format!("pat-hl7-bin-{}.db", uuid::Uuid::new_v4().simple()));
    let (http, mllp) = (free_port(), free_port());
    let mut binary = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_pat-service"))
            .arg("serve")
            .env("DATABASE_URL", format!("sqlite://{}", db_path.display()))
            .env("PAT_JWT_SECRET", "hl7-binary-test-secret-0123456789abcdef")
            .env("PAT_LISTEN", format!("127.0.0.1:{http}"))
            .env("PAT_MLLP_LISTEN", format!("127.0.0.1:{mllp}"))
            .env("PAT_MLLP_MAX_MESSAGE_BYTES", "2048")
            .env("RUST_LOG", "debug")
            .env_remove("PAT_JWT_PUBLIC_KEY_FILE")
            .env_remove("PAT_JWT_JWKS_FILE")
            .env_remove("PAT_JWT_ALGORITHM")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts"),
    );
    let pipes = [
        Box::new(binary.0.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(binary.0.stderr.take().unwrap()),
    ]
    .map(|mut pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    });
    let started = std::time::Instant::now();
    let mut stream = loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", mllp)).await {
            break stream;
        }
        assert!(binary.0.try_wait().unwrap().is_none(), "the binary exited early");
        assert!(started.elapsed() < Duration::from_secs(60), "the listener came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let padding = "x".repeat(3000);
    let messages = [
        Adt {
            identifiers: GOOD,
            date_of_birth: "19610713",
            visit: "VISIT-LEAK-77",
            ..Adt::default()
        },
        // The same again: a replay.
        Adt {
            identifiers: GOOD,
            date_of_birth: "19610713",
            visit: "VISIT-LEAK-77",
            ..Adt::default()
        },
        // Bad content: the number fails its check digit.
        Adt {
            identifiers: BAD,
            date_of_birth: "19610713",
            visit: "VISIT-LEAK-78",
            ..Adt::default()
        },
        // Over the size limit.
        Adt {
            identifiers: GOOD,
            padding: &padding,
            ..Adt::default()
        },
    ]
    .map(|adt| adt.message());

    // Act: four messages and one frame that is not HL7 but holds an identifier.
    for message in &messages {
        stream.write_all(&framed(message)).await.unwrap();
    }
    stream
        .write_all(&framed("HL7LEAK-5521 4857773457 is not a message"))
        .await
        .unwrap();
    let codes: Vec<String> = read_acks(&mut stream, 5)
        .await
        .iter()
        .map(|a| Ack::parse(a).code)
        .collect();
    let pid = binary.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while binary.0.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the binary stopped on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let [stdout, stderr] = pipes.map(|pipe| pipe.join().unwrap());
    let logs = format!("{stdout}{stderr}");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db_path.display()));
    }

    // Assert
    assert_eq!(codes, ["AA", "AA", "AE", "AR", "AE"]);
    let answered = logs.lines().filter(|l| l.contains("mllp: message answered")).count();
    assert_eq!(answered, 5, "one log line per message:\n{logs}");
    for identifier in identifiers {
        assert!(!logs.contains(identifier), "{identifier} is in the log:\n{logs}");
    }
}

#[tokio::test]
async fn the_database_unavailable_is_ar_to_send_again_and_the_message_sent_again_is_recorded() {
    let app = spawn_with_mllp_and(|s| s.db_timeout = Duration::from_secs(2)).await;
    if app.backend != "postgres" {
        // SQLite is a file inside the process: it cannot go away while the process holds it.
        return;
    }
    let message = Adt::default().message();
    crate::resilience::take_database_away(&app.database_url);

    let during = send(&app, &message).await;
    crate::resilience::give_database_back(&app.database_url);
    let after = send(&app, &message).await;

    assert_eq!(during.code, "AR", "{during:?}");
    assert_eq!(during.control_id, "MSG00001");
    assert_eq!(
        during.text, "the attendance could not be recorded now: send the message again",
        "no database text in the answer"
    );
    assert_eq!(after.code, "AA", "{after:?}");
    assert_eq!(attendances(&app), 1, "recorded once, when sent again");
}

#[tokio::test]
async fn connections_over_the_limit_wait_and_are_answered_when_one_closes() {
    let app = spawn_with_mllp_and(|s| s.mllp.max_connections = 2).await;
    let message = |visit: &'static str, control_id: &'static str| {
        Adt {
            visit,
            control_id,
            ..Adt::default()
        }
        .message()
    };
    // Two connections are served: each gets its answer and stays open.
    let mut first = connect(&app).await;
    first.write_all(&framed(&message("LIM-1", "LIM00001"))).await.unwrap();
    assert_eq!(Ack::parse(&read_acks(&mut first, 1).await[0]).code, "AA");
    let mut second = connect(&app).await;
    second.write_all(&framed(&message("LIM-2", "LIM00002"))).await.unwrap();
    assert_eq!(Ack::parse(&read_acks(&mut second, 1).await[0]).code, "AA");

    // A third connects (the kernel queues it) but is not served while both are open.
    let mut third = connect(&app).await;
    third.write_all(&framed(&message("LIM-3", "LIM00003"))).await.unwrap();
    let mut byte = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(waited.is_err(), "the third connection was answered over the limit");
    assert_eq!(attendances(&app), 2, "the third message was not read");

    // One closes: the third is accepted and its message answered.
    drop(first);
    let ack = Ack::parse(&read_acks(&mut third, 1).await[0]);
    assert_eq!(ack.code, "AA", "{ack:?}");
    assert_eq!(ack.control_id, "LIM00003");
    assert_eq!(attendances(&app), 3);
    // The second connection is still served.
    second.write_all(&framed(&message("LIM-4", "LIM00004"))).await.unwrap();
    assert_eq!(Ack::parse(&read_acks(&mut second, 1).await[0]).code, "AA");
}
