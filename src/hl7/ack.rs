//! HL7 v2 acknowledgements (original mode): an `ACK` with MSH, MSA and one ERR per problem
//! (docs/design.md §10).
//!
//! MSA-1 is `AA` only once the attendance is committed; `AE` when the content is wrong (nothing
//! was written; ERR-2 names the field, as `PID^1^3`); `AR` when the message is of a kind the
//! service does not take, too large, or could not be processed now (send it again later). The
//! text never holds a patient identifier nor a database message.

use chrono::{DateTime, Utc};
use hl7_parser::message::{Field, Separators};

use super::unescape;

/// MSA-1 (HL7 table 0008).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckCode {
    /// Application accept: the attendance is recorded (now, or already).
    Accept,
    /// Application error: the content is wrong; nothing was written.
    Error,
    /// Application reject: a message the service does not take, or cannot process now.
    Reject,
}

impl AckCode {
    pub fn code(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }
}

/// ERR-3, from HL7 table 0357 (message error condition codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    SegmentSequence,
    RequiredFieldMissing,
    DataType,
    TableValueNotFound,
    UnsupportedMessageType,
    UnsupportedEventCode,
    DuplicateKey,
    ApplicationInternal,
}

impl ErrorCode {
    fn coded(self) -> (&'static str, &'static str) {
        match self {
            ErrorCode::SegmentSequence => ("100", "Segment sequence error"),
            ErrorCode::RequiredFieldMissing => ("101", "Required field missing"),
            ErrorCode::DataType => ("102", "Data type error"),
            ErrorCode::TableValueNotFound => ("103", "Table value not found"),
            ErrorCode::UnsupportedMessageType => ("200", "Unsupported message type"),
            ErrorCode::UnsupportedEventCode => ("201", "Unsupported event code"),
            ErrorCode::DuplicateKey => ("205", "Duplicate key identifier"),
            ErrorCode::ApplicationInternal => ("207", "Application internal error"),
        }
    }
}

/// One problem, as an ERR segment: where (ERR-2, `PID^1^3`; empty when it is the message as a
/// whole), what kind (ERR-3) and why (ERR-8, words an integrator can act on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hl7Error {
    pub location: String,
    pub code: ErrorCode,
    pub message: String,
}

impl Hl7Error {
    pub fn new(location: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Hl7Error {
        Hl7Error {
            location: location.into(),
            code,
            message: message.into(),
        }
    }
}

/// What an acknowledgement needs from the message it answers, each value already encoded with
/// the standard separators (`|^~\&`) the acknowledgement uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
    /// MSH-10, echoed in MSA-2.
    pub control_id: String,
    /// MSH-9.2, echoed in the acknowledgement's MSH-9 (`ACK^A04^ACK`).
    pub trigger_event: String,
    /// MSH-11 (`P` when absent).
    pub processing_id: String,
    /// MSH-12 (`2.4` when absent).
    pub version: String,
}

impl Header {
    /// Reads the header fields of a parsed MSH segment (numbered as hl7-parser numbers them:
    /// MSH-1 is the field separator).
    pub fn of(msh: &hl7_parser::message::Segment<'_>, separators: &Separators) -> Header {
        let field = |n: usize| msh.field(n).map(|f| reencode(f, separators)).unwrap_or_default();
        let component = |n: usize, c: usize| {
            msh.field(n)
                .and_then(|f| f.component(c))
                .map(|c| {
                    Separators::default()
                        .encode(&unescape(c.raw_value(), separators))
                        .to_string()
                })
                .unwrap_or_default()
        };
        Header {
            sending_application: field(3),
            sending_facility: field(4),
            receiving_application: field(5),
            receiving_facility: field(6),
            control_id: component(10, 1),
            trigger_event: component(9, 2),
            processing_id: component(11, 1),
            version: component(12, 1),
        }
    }
}

/// A field written with the standard separators, whatever the sender's were: every repetition,
/// component and subcomponent decoded with the sender's separators and encoded again.
fn reencode(field: &Field<'_>, from: &Separators) -> String {
    let to = Separators::default();
    let mut out = String::new();
    for (r, repeat) in field.repeats().enumerate() {
        if r > 0 {
            out.push(to.repetition);
        }
        for (c, component) in repeat.components().enumerate() {
            if c > 0 {
                out.push(to.component);
            }
            for (s, sub) in component.subcomponents().enumerate() {
                if s > 0 {
                    out.push(to.subcomponent);
                }
                out.push_str(&to.encode(&unescape(sub.raw_value(), from)).to_string());
            }
        }
    }
    out
}

/// The acknowledgement: MSH (sender and receiver swapped), MSA, one ERR per problem, segments
/// ended by carriage returns. `header` is `None` when the message could not be read at all.
/// `control_id` is this acknowledgement's own MSH-10.
pub fn ack(
    header: Option<&Header>,
    code: AckCode,
    text: &str,
    errors: &[Hl7Error],
    now: DateTime<Utc>,
    control_id: &str,
) -> String {
    let default = Header::default();
    let h = header.unwrap_or(&default);
    let separators = Separators::default();
    let or = |value: &str, fallback: &'static str| {
        if value.is_empty() {
            fallback.to_owned()
        } else {
            value.to_owned()
        }
    };
    let trigger = if h.trigger_event.is_empty() {
        String::new()
    } else {
        format!("^{}^ACK", h.trigger_event)
    };
    let mut message = format!(
        "MSH|^~\\&|{}|{}|{}|{}|{}||ACK{trigger}|{control_id}|{}|{}\rMSA|{}|{}|{}\r",
        or(&h.receiving_application, "PAT-SERVICE"),
        h.receiving_facility,
        h.sending_application,
        h.sending_facility,
        now.format("%Y%m%d%H%M%S+0000"),
        or(&h.processing_id, "P"),
        or(&h.version, "2.4"),
        code.code(),
        h.control_id,
        separators.encode(text),
    );
    for error in errors {
        let (number, meaning) = error.code.coded();
        message.push_str(&format!(
            "ERR||{}|{number}^{meaning}^HL70357|E||||{}\r",
            error.location,
            separators.encode(&error.message),
        ));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{e}"))
            .with_timezone(&Utc)
    }

    #[test]
    fn an_ack_swaps_sender_and_receiver_and_echoes_the_control_id() {
        let header = Header {
            sending_application: "EPR".into(),
            sending_facility: "RAL^2.16.840.1^ISO".into(),
            receiving_application: "PAT".into(),
            receiving_facility: "ED".into(),
            control_id: "MSG0001".into(),
            trigger_event: "A04".into(),
            processing_id: "T".into(),
            version: "2.5".into(),
        };
        let errors = [Hl7Error::new("PID^1^3", ErrorCode::RequiredFieldMissing, "a|b")];
        let text = ack(
            Some(&header),
            AckCode::Error,
            "see ERR",
            &errors,
            at("2026-12-06T14:30:00Z"),
            "ACK1",
        );
        assert_eq!(
            text,
            "MSH|^~\\&|PAT|ED|EPR|RAL^2.16.840.1^ISO|20261206143000+0000||ACK^A04^ACK|ACK1|T|2.5\r\
             MSA|AE|MSG0001|see ERR\r\
             ERR||PID^1^3|101^Required field missing^HL70357|E||||a\\F\\b\r"
        );
    }

    #[test]
    fn an_ack_for_an_unreadable_message_still_has_an_msh_and_msa() {
        let text = ack(
            None,
            AckCode::Reject,
            "unreadable",
            &[],
            at("2026-01-02T03:04:05Z"),
            "X",
        );
        assert_eq!(
            text,
            "MSH|^~\\&|PAT-SERVICE||||20260102030405+0000||ACK|X|P|2.4\rMSA|AR||unreadable\r"
        );
    }

    #[test]
    fn header_values_are_written_with_the_standard_separators() {
        // The sender uses `#` for components and `!` as its escape character.
        let message = hl7_parser::Message::parse("MSH|#~!&|EPR|RAL#1.2#ISO|PAT|ED|20261206||ADT#A04|C1|P|2.4")
            .unwrap_or_else(|e| panic!("{e}"));
        let msh = message.segment("MSH").unwrap_or_else(|| panic!("no MSH"));
        let header = Header::of(msh, &message.separators);
        assert_eq!(header.sending_facility, "RAL^1.2^ISO");
        assert_eq!(header.trigger_event, "A04");
        assert_eq!(header.control_id, "C1");
    }
}
