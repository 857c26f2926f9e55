//! HL7 v2 over MLLP: an adapter beside `src/api/`, recording ADT registrations through the same
//! `record_attendance` as `POST /api/v1/attendances` (docs/design.md §10).
//!
//! - `mllp`: the framing and the TCP listener;
//! - `adt`: an ADT message read into a `CreateAttendance`;
//! - `ack`: the acknowledgement.
//!
//! No patient identifier reaches a log line or an acknowledgement's text: the log says which
//! kind of message came and how it was answered; the answer names fields, never their values.

pub mod ack;
pub mod adt;
pub mod mllp;

use crate::api::attendances::record_attendance;
use crate::api::AppState;
use crate::error::ApiError;
use crate::store::{Actor, Recorded};
use ack::{AckCode, ErrorCode, Header, Hl7Error};

/// The acknowledgement of one message (the bytes between the MLLP start and end blocks).
pub async fn answer(state: &AppState, bytes: &[u8]) -> String {
    let text = decode(bytes);
    let settings = &state.settings;
    let outcome = match adt::read(&text, &settings.mllp.chief_complaint_field) {
        Err(refusal) => Answer {
            header: refusal.header.map(|header| *header),
            code: refusal.code,
            text: refusal.text,
            errors: refusal.errors,
            outcome: "refused",
        },
        Ok(registration) => record(state, registration).await,
    };
    tracing::info!(
        hl7.trigger_event = outcome.header.as_ref().map_or("", |h| h.trigger_event.as_str()),
        hl7.ack = outcome.code.code(),
        hl7.outcome = outcome.outcome,
        hl7.errors = outcome.errors.len(),
        "mllp: message answered"
    );
    ack::ack(
        outcome.header.as_ref(),
        outcome.code,
        &outcome.text,
        &outcome.errors,
        settings.clock.now(),
        &control_id(),
    )
}

/// The acknowledgement of a message over `PAT_MLLP_MAX_MESSAGE_BYTES`, from its first bytes.
pub fn too_large(state: &AppState, head: &[u8]) -> String {
    let settings = &state.settings;
    let text = decode(head);
    // The MSH segment alone, which is all the answer needs.
    let msh = text.split(['\r', '\n']).next().unwrap_or("");
    let header = hl7_parser::Message::parse(msh).ok().and_then(|message| {
        message
            .segment("MSH")
            .map(|segment| Header::of(segment, &message.separators))
    });
    let message = format!(
        "the message is larger than {} bytes (PAT_MLLP_MAX_MESSAGE_BYTES) and was discarded: nothing was recorded",
        settings.mllp.max_message_bytes
    );
    tracing::info!(
        hl7.trigger_event = header.as_ref().map_or("", |h| h.trigger_event.as_str()),
        hl7.ack = AckCode::Reject.code(),
        hl7.outcome = "too_large",
        "mllp: message answered"
    );
    ack::ack(
        header.as_ref(),
        AckCode::Reject,
        &message,
        &[],
        settings.clock.now(),
        &control_id(),
    )
}

/// The acknowledgement of a message whose processing failed unexpectedly: AR, send it again.
pub fn failed(state: &AppState) -> String {
    tracing::error!(hl7.ack = AckCode::Reject.code(), "mllp: processing a message failed");
    ack::ack(
        None,
        AckCode::Reject,
        "the message could not be processed now: send it again",
        &[Hl7Error::new(
            "",
            ErrorCode::ApplicationInternal,
            "the message could not be processed now: send it again",
        )],
        state.settings.clock.now(),
        &control_id(),
    )
}

struct Answer {
    header: Option<Header>,
    code: AckCode,
    text: String,
    errors: Vec<Hl7Error>,
    /// For the log: created, replay, refused, clash, unavailable.
    outcome: &'static str,
}

/// Records the registration exactly as `POST /api/v1/attendances` would, as `mllp:<MSH-4>`.
async fn record(state: &AppState, registration: adt::Registration) -> Answer {
    let adt::Registration {
        header,
        facility,
        attendance,
        source_id_location,
    } = registration;
    let actor = Actor {
        subject: adt::source_system(&facility),
        // No token is involved: the connection itself is trusted (docs/clinical-safety/security.md).
        roles: String::new(),
        request_id: Some(uuid::Uuid::new_v4().to_string()),
    };
    let answer = |code, text: String, errors, outcome| Answer {
        header: Some(header.clone()),
        code,
        text,
        errors,
        outcome,
    };
    match record_attendance(state, attendance, &actor).await {
        Ok(Recorded::Created(record)) => answer(AckCode::Accept, record.attendance.id.0.to_string(), vec![], "created"),
        Ok(Recorded::Replay(record)) => answer(AckCode::Accept, record.attendance.id.0.to_string(), vec![], "replay"),
        Ok(Recorded::Clash) => answer(
            AckCode::Error,
            "not recorded: see the ERR segment".into(),
            vec![Hl7Error::new(
                source_id_location,
                ErrorCode::DuplicateKey,
                "an attendance with this visit number from this sending facility was already recorded \
                 with different content: correct it through the JSON API",
            )],
            "clash",
        ),
        Err(ApiError::Validation(fields)) => {
            let errors = fields
                .iter()
                .map(|field| {
                    Hl7Error::new(
                        location_of(&field.field, source_id_location, state),
                        ErrorCode::DataType,
                        field.message.clone(),
                    )
                })
                .collect();
            answer(
                AckCode::Error,
                "not recorded: see the ERR segments".into(),
                errors,
                "refused",
            )
        }
        Err(error @ (ApiError::Internal(_) | ApiError::Unavailable(_))) => {
            // Logged as the HTTP layer logs it (src/error.rs); the sender is told only to retry.
            match &error {
                ApiError::Internal(cause) => tracing::error!(error.cause = %cause, "mllp: message failed"),
                _ => tracing::warn!(error.cause = %error, "mllp: database unavailable"),
            }
            answer(
                AckCode::Reject,
                "the attendance could not be recorded now: send the message again".into(),
                vec![Hl7Error::new(
                    "",
                    ErrorCode::ApplicationInternal,
                    "the attendance could not be recorded now: send the message again",
                )],
                "unavailable",
            )
        }
        // A refusal by a rule or a conflict: its problem detail never holds an identifier.
        Err(other) => {
            let detail = other.problem().detail;
            answer(
                AckCode::Error,
                detail.clone(),
                vec![Hl7Error::new("", ErrorCode::ApplicationInternal, detail)],
                "refused",
            )
        }
    }
}

/// Where in the message a `CreateAttendance` field (named by its JSON path) came from.
fn location_of(field: &str, source_id_location: &str, state: &AppState) -> String {
    match field {
        "source_system" => "MSH^1^4".into(),
        "source_id" => source_id_location.into(),
        "patient.date_of_birth" => "PID^1^7".into(),
        "patient.sex" => "PID^1^8".into(),
        "arrived_at" => "PV1^1^44".into(),
        f if f.starts_with("presenting_condition") => state.settings.mllp.chief_complaint_field.to_string(),
        f if f.starts_with("patient") => "PID^1^3".into(),
        _ => String::new(),
    }
}

/// A value with its escape sequences decoded: `\F\`, `\S\`, `\T\`, `\R\`, `\E\` (written with
/// the message's own escape character) become the separators they stand for, `\X0D\` and `\.br\`
/// a carriage return, `\X0A\` a line feed, `\H\` and `\N\` (highlighting) nothing; any other
/// sequence, or an escape character without its closing one, is kept as it is.
///
/// hl7-parser's own `Separators::decode` (0.3.0) slices the text by character counts as if they
/// were byte offsets, so it panics (or decodes the wrong characters) after a character outside
/// ASCII; this one reads characters with their byte offsets.
pub(crate) fn unescape(raw: &str, separators: &hl7_parser::message::Separators) -> String {
    let escape = separators.escape;
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find(escape) {
        out.push_str(&rest[..start]);
        let after = &rest[start + escape.len_utf8()..];
        let Some(length) = after.find(escape) else {
            out.push_str(&rest[start..]);
            return out;
        };
        match &after[..length] {
            "F" => out.push(separators.field),
            "S" => out.push(separators.component),
            "T" => out.push(separators.subcomponent),
            "R" => out.push(separators.repetition),
            "E" => out.push(escape),
            "X0D" | ".br" => out.push('\r'),
            "X0A" => out.push('\n'),
            "H" | "N" => {}
            _ => out.push_str(&rest[start..start + escape.len_utf8() * 2 + length]),
        }
        rest = &after[length + escape.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// The message's text: UTF-8 when it is valid UTF-8, otherwise ISO 8859-1 (every byte one
/// character, so nothing is lost or replaced). MSH-18 (character set) is not read.
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// MSH-10 of an acknowledgement: 20 characters (the field's length in HL7 v2.4 and v2.5) of a
/// random UUID.
fn control_id() -> String {
    uuid::Uuid::new_v4().simple().to_string().chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hl7_parser::message::Separators;

    #[test]
    fn escape_sequences_are_decoded_whatever_the_characters_around_them() {
        let standard = Separators::default();
        for (raw, expected, why) in [
            ("Smith\\T\\Jones", "Smith&Jones", "a subcomponent separator"),
            ("a\\F\\b\\S\\c\\R\\d\\E\\e", "a|b^c~d\\e", "every separator"),
            ("line\\X0D\\next\\.br\\x\\X0A\\", "line\rnext\rx\n", "line breaks"),
            ("\\H\\bold\\N\\", "bold", "highlighting is dropped"),
            ("Zoë\\S\\Łódź", "Zoë^Łódź", "characters outside ASCII before and after"),
            ("\u{1a7f}¡\\લກa \\", "\u{1a7f}¡\\લກa \\", "an unknown sequence is kept"),
            ("trailing\\", "trailing\\", "an escape without its end is kept"),
        ] {
            assert_eq!(unescape(raw, &standard), expected, "{why}");
        }
        let own = Separators {
            escape: '!',
            component: '#',
            ..Separators::default()
        };
        assert_eq!(unescape("a!S!b", &own), "a#b", "the message's own escape character");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_read_as_latin_1() {
        assert_eq!(decode(b"Zo\xeb"), "Zoë");
        assert_eq!(decode("Zoë".as_bytes()), "Zoë");
    }
}
