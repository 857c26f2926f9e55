//! An HL7 v2 ADT registration read into the `CreateAttendance` that `POST /attendances` takes
//! (docs/design.md §10). Parsing is hl7-parser's; this module only says which field means what.
//!
//! - ADT^A04 (registration) and ADT^A01 (admission) of an Emergency Department visit (PV1-2 `E`)
//!   record an attendance. Another patient class is refused (AR): it is not an ED attendance,
//!   and counting it would skew the reattendance figures.
//! - ADT^A08 (update) answers AE: corrections go through the JSON API, where a changed
//!   attendance is marked entered-in-error with a reason and sent again. A03, A11 and every other
//!   event, and every message type but ADT, answer AR.
//! - Identifiers (PID-3, repeating): the NHS number is the repetition with assigning authority
//!   `NHS` and identifier type `NH`; the local number is the first of type `MR`, its assigning
//!   authority the local number's system. PID-32 (NHS number status): `01` (verified) and `02`
//!   (present, not traced) use the number, as the JSON API does a number given without a status;
//!   `03` to `08` (trace required, no match, to be resolved, in progress, not present,
//!   postponed) leave it out, so a number in doubt never joins two people's attendances: the
//!   local number identifies the patient, and without one the message answers AE.
//! - PID-7 date of birth (to the day), PID-8 sex (`M`, `F`, `O`, `A` other, `U`, `N` unknown).
//! - PV1-44 admit date/time is the arrival: with an offset as given, without one Europe/London
//!   local time (the earlier instant in the autumn's repeated hour; a time in the spring's
//!   skipped hour answers AE).
//! - The chief complaint (`PAT_MLLP_CHIEF_COMPLAINT_FIELD`, default PV2-3, first component): all
//!   digits is an ECDS SNOMED CT concept id (`presenting_condition_snomed`), anything else a PAT
//!   condition code (`fall`, `head_injury`, …).
//! - Idempotency: source system `mllp:<MSH-4>`, source id PV1-19 (visit number), or MSH-10 (the
//!   message control id) when there is none, so a retransmission is a replay.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use hl7_parser::datetime::{parse_timestamp, TimeStamp};
use hl7_parser::message::{Segment, Separators};
use hl7_parser::Message;

use super::ack::{AckCode, ErrorCode, Header, Hl7Error};
use super::unescape;
use crate::api::attendances::{CreateAttendance, PatientInput};
use crate::config::FieldLocation;
use crate::domain::calendar::london_instant;
use crate::domain::eligibility::PresentingCondition;
use crate::domain::pat::Sex;

/// A registration to record, with what its acknowledgement and its errors need.
#[derive(Debug)]
pub struct Registration {
    pub header: Header,
    /// MSH-4 (its first non-empty component), decoded: the audit actor is `mllp:<facility>`.
    pub facility: String,
    pub attendance: CreateAttendance,
    /// Where the source id came from: `PV1^1^19` or `MSH^1^10`.
    pub source_id_location: &'static str,
}

/// A message that records nothing: how to answer it.
#[derive(Debug)]
pub struct Refusal {
    /// `None` when not even the MSH segment could be read.
    pub header: Option<Box<Header>>,
    pub code: AckCode,
    pub text: String,
    pub errors: Vec<Hl7Error>,
}

impl Refusal {
    fn new(header: Option<Header>, code: AckCode, error: Hl7Error) -> Refusal {
        Refusal {
            header: header.map(Box::new),
            code,
            text: error.message.clone(),
            errors: vec![error],
        }
    }
}

/// The source system of a facility's attendances.
pub fn source_system(facility: &str) -> String {
    format!("mllp:{facility}")
}

/// Reads one message (the text between the MLLP start and end blocks).
pub fn read(text: &str, chief_complaint: &FieldLocation) -> Result<Registration, Refusal> {
    let unreadable = |message: &str| {
        Refusal::new(
            None,
            AckCode::Error,
            Hl7Error::new("", ErrorCode::SegmentSequence, message),
        )
    };
    if !text.starts_with("MSH") {
        return Err(unreadable("not an HL7 v2 message: it must start with an MSH segment"));
    }
    let message = Message::parse_with_lenient_newlines(text, true)
        .map_err(|_| unreadable("the MSH segment could not be read"))?;
    let separators = message.separators;
    let msh = message
        .segment("MSH")
        .ok_or_else(|| unreadable("the MSH segment could not be read"))?;
    let header = Header::of(msh, &separators);
    // hl7-parser stops quietly at the first segment it cannot read; what follows would be lost.
    let read_up_to = message.raw_value().len();
    if !text
        .get(read_up_to..)
        .unwrap_or("")
        .trim_matches(['\r', '\n'])
        .is_empty()
    {
        let segments = message.segments().count();
        return Err(Refusal::new(
            Some(header),
            AckCode::Error,
            Hl7Error::new(
                "",
                ErrorCode::SegmentSequence,
                format!(
                    "segment {} could not be read (a segment starts with a name of three letters \
                     or digits and a field separator)",
                    segments + 1
                ),
            ),
        ));
    }
    let value = |segment: Option<&Segment<'_>>, field: usize, component: usize| -> String {
        segment
            .and_then(|s| s.field(field))
            .and_then(|f| f.component(component))
            .map(|c| unescape(c.raw_value(), &separators).trim().to_owned())
            .unwrap_or_default()
    };

    let message_type = value(Some(msh), 9, 1);
    let trigger = value(Some(msh), 9, 2);
    let refuse = |code: AckCode, error: Hl7Error| Err(Refusal::new(Some(header.clone()), code, error));
    if message_type != "ADT" {
        return refuse(
            AckCode::Reject,
            Hl7Error::new(
                "MSH^1^9",
                ErrorCode::UnsupportedMessageType,
                "only ADT messages are taken (ADT^A04, ADT^A01)",
            ),
        );
    }
    match trigger.as_str() {
        "A04" | "A01" => {}
        "A08" => {
            return refuse(
                AckCode::Error,
                Hl7Error::new(
                    "MSH^1^9",
                    ErrorCode::UnsupportedEventCode,
                    "an update (A08) is not applied: correct the attendance through the JSON API \
                     (mark it entered-in-error with a reason and send it again)",
                ),
            )
        }
        _ => {
            return refuse(
                AckCode::Reject,
                Hl7Error::new(
                    "MSH^1^9",
                    ErrorCode::UnsupportedEventCode,
                    "unsupported trigger event: only A04 and A01 (an Emergency Department visit) \
                     record an attendance",
                ),
            )
        }
    }
    if header.control_id.is_empty() {
        return refuse(
            AckCode::Error,
            Hl7Error::new(
                "MSH^1^10",
                ErrorCode::RequiredFieldMissing,
                "the message control id is missing",
            ),
        );
    }
    let facility = match value(Some(msh), 4, 1) {
        namespace if !namespace.is_empty() => namespace,
        _ => value(Some(msh), 4, 2),
    };
    if facility.is_empty() {
        return refuse(
            AckCode::Error,
            Hl7Error::new(
                "MSH^1^4",
                ErrorCode::RequiredFieldMissing,
                "the sending facility is missing: it names the source of the attendance",
            ),
        );
    }
    let Some(pv1) = message.segment("PV1") else {
        return refuse(
            AckCode::Error,
            Hl7Error::new("PV1", ErrorCode::SegmentSequence, "the PV1 segment is missing"),
        );
    };
    let Some(pid) = message.segment("PID") else {
        return refuse(
            AckCode::Error,
            Hl7Error::new("PID", ErrorCode::SegmentSequence, "the PID segment is missing"),
        );
    };
    if value(Some(pv1), 2, 1) != "E" {
        return refuse(
            AckCode::Reject,
            Hl7Error::new(
                "PV1^1^2",
                ErrorCode::TableValueNotFound,
                "not an Emergency Department visit (patient class E): nothing was recorded",
            ),
        );
    }

    let mut errors = Vec::new();
    let identifiers = identifiers(pid, &separators, &mut errors);
    let sex = match value(Some(pid), 8, 1).as_str() {
        "" => None,
        "M" => Some(Sex::Male),
        "F" => Some(Sex::Female),
        "O" | "A" => Some(Sex::Other),
        "U" | "N" => Some(Sex::Unknown),
        _ => {
            errors.push(Hl7Error::new(
                "PID^1^8",
                ErrorCode::TableValueNotFound,
                "sex must be M, F, O, A, U or N (HL7 table 0001)",
            ));
            None
        }
    };
    let date_of_birth = match value(Some(pid), 7, 1).as_str() {
        "" => None,
        raw => match parse_timestamp(raw, false).ok().and_then(date_of) {
            Some(date) => Some(date),
            None => {
                errors.push(Hl7Error::new(
                    "PID^1^7",
                    ErrorCode::DataType,
                    "the date of birth must be a date to the day (YYYYMMDD)",
                ));
                None
            }
        },
    };
    let arrived_at = match value(Some(pv1), 44, 1).as_str() {
        "" => {
            errors.push(Hl7Error::new(
                "PV1^1^44",
                ErrorCode::RequiredFieldMissing,
                "the admit date/time (the arrival) is missing",
            ));
            None
        }
        raw => match parse_timestamp(raw, false) {
            Ok(ts) => match instant_of(ts) {
                Ok(instant) => Some(instant),
                Err(message) => {
                    errors.push(Hl7Error::new("PV1^1^44", ErrorCode::DataType, message));
                    None
                }
            },
            Err(_) => {
                errors.push(Hl7Error::new(
                    "PV1^1^44",
                    ErrorCode::DataType,
                    "the admit date/time must be an HL7 timestamp (YYYYMMDDHHMM[SS][+ZZZZ])",
                ));
                None
            }
        },
    };
    let complaint_segment = message.segment(&chief_complaint.segment);
    let complaint = value(complaint_segment, chief_complaint.field, chief_complaint.component);
    let (condition, snomed) = if complaint.is_empty() {
        errors.push(Hl7Error::new(
            chief_complaint.to_string(),
            ErrorCode::RequiredFieldMissing,
            "the chief complaint is missing (a PAT presenting condition code or a SNOMED CT concept id)",
        ));
        (None, None)
    } else if complaint.bytes().all(|b| b.is_ascii_digit()) {
        (None, Some(complaint))
    } else {
        match PresentingCondition::ALL.iter().find(|c| c.code() == complaint) {
            Some(condition) => (Some(*condition), None),
            None => {
                errors.push(Hl7Error::new(
                    chief_complaint.to_string(),
                    ErrorCode::TableValueNotFound,
                    "the chief complaint is neither a PAT presenting condition code (fall, collapse, \
                     head_injury, assault, accident, unwell, gastrointestinal, cardiac, psychiatric, \
                     repeat_attender, other) nor a SNOMED CT concept id (digits)",
                ));
                (None, None)
            }
        }
    };

    let (source_id, source_id_location) = match value(Some(pv1), 19, 1) {
        visit if !visit.is_empty() => (visit, "PV1^1^19"),
        _ => (unescape(&header.control_id, &Separators::default()), "MSH^1^10"),
    };
    match (identifiers, arrived_at) {
        (Some(identifiers), Some(arrived_at)) if errors.is_empty() => Ok(Registration {
            attendance: CreateAttendance {
                source_system: Some(source_system(&facility)),
                source_id,
                patient: PatientInput {
                    nhs_number: identifiers.nhs_number,
                    local_id: identifiers.local_id,
                    local_id_system: identifiers.local_id_system,
                    sex,
                    date_of_birth,
                },
                site: None,
                arrived_at,
                presenting_condition: condition,
                presenting_condition_snomed: snomed,
                presenting_condition_detail: None,
                attendance_category: None,
            },
            header,
            facility,
            source_id_location,
        }),
        _ => Err(Refusal {
            header: Some(Box::new(header)),
            code: AckCode::Error,
            text: "the message was not recorded: see the ERR segments".into(),
            errors,
        }),
    }
}

/// The patient's identifiers from PID-3 and PID-32.
struct Identifiers {
    nhs_number: Option<String>,
    local_id: Option<String>,
    local_id_system: Option<String>,
}

fn identifiers(pid: &Segment<'_>, separators: &Separators, errors: &mut Vec<Hl7Error>) -> Option<Identifiers> {
    let decode = |raw: &str| unescape(raw, separators).trim().to_owned();
    let mut nhs_number = None;
    let mut local = None;
    for repeat in pid
        .field(3)
        .map(|f| f.repeats().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let id = repeat.component(1).map(|c| decode(c.raw_value())).unwrap_or_default();
        // CX.4 is a hierarchic designator: its namespace id is the first subcomponent.
        let authority = repeat
            .component(4)
            .and_then(|c| c.subcomponent(1))
            .map(|s| decode(s.raw_value()))
            .unwrap_or_default();
        let kind = repeat.component(5).map(|c| decode(c.raw_value())).unwrap_or_default();
        if id.is_empty() {
            continue;
        }
        match kind.as_str() {
            "NH" if authority == "NHS" && nhs_number.is_none() => nhs_number = Some(id),
            "MR" if local.is_none() => local = Some((id, (!authority.is_empty()).then_some(authority))),
            _ => {}
        }
    }
    let status = pid
        .field(32)
        .and_then(|f| f.component(1))
        .map(|c| decode(c.raw_value()))
        .unwrap_or_default();
    let nhs_number = match status.as_str() {
        "" | "01" | "02" => nhs_number,
        "03" | "04" | "05" | "06" | "07" | "08" => None,
        _ => {
            errors.push(Hl7Error::new(
                "PID^1^32",
                ErrorCode::TableValueNotFound,
                "the NHS number status must be 01 to 08 (NHS Number Status Indicator)",
            ));
            return None;
        }
    };
    if nhs_number.is_none() && local.is_none() {
        let message = if status.is_empty() || status == "01" || status == "02" {
            "no patient identifier: give the NHS number (assigning authority NHS, type NH) or a \
             local number (type MR)"
                .to_owned()
        } else {
            format!(
                "the NHS number is not used with status {status} (not verified) and there is no local \
                 number (type MR)"
            )
        };
        errors.push(Hl7Error::new("PID^1^3", ErrorCode::RequiredFieldMissing, message));
        return None;
    }
    let (local_id, local_id_system) = match local {
        Some((id, system)) => (Some(id), system),
        None => (None, None),
    };
    Some(Identifiers {
        nhs_number,
        local_id,
        local_id_system,
    })
}

/// A timestamp's date, when it is given to the day and is a real date.
fn date_of(ts: TimeStamp) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::from(ts.year), u32::from(ts.month?), u32::from(ts.day?))
}

/// The instant of an HL7 timestamp given at least to the minute: with its offset, or as
/// Europe/London local time without one.
fn instant_of(ts: TimeStamp) -> Result<DateTime<FixedOffset>, String> {
    let to_the_minute = "the admit date/time must be given at least to the minute (YYYYMMDDHHMM)";
    let date = date_of(ts).ok_or(to_the_minute)?;
    let (Some(hour), Some(minute)) = (ts.hour, ts.minute) else {
        return Err(to_the_minute.into());
    };
    let time = NaiveTime::from_hms_micro_opt(
        u32::from(hour),
        u32::from(minute),
        u32::from(ts.second.unwrap_or(0)),
        ts.microsecond.unwrap_or(0),
    )
    .ok_or("the admit date/time is not a real time of day")?;
    match ts.offset {
        Some(offset) => {
            let sign = if offset.hours < 0 { -1 } else { 1 };
            let seconds = i32::from(offset.hours) * 3600 + sign * i32::from(offset.minutes) * 60;
            let zone = FixedOffset::east_opt(seconds).ok_or("the admit date/time has an impossible offset")?;
            NaiveDateTime::new(date, time)
                .and_local_timezone(zone)
                .single()
                .ok_or_else(|| "the admit date/time has an impossible offset".to_owned())
        }
        None => london_instant(date, time)
            .map(|t: DateTime<Utc>| t.fixed_offset())
            .ok_or_else(|| {
                "the admit date/time falls in the hour the clocks skip in spring (Europe/London): \
                 send it with its offset"
                    .to_owned()
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cc() -> FieldLocation {
        FieldLocation {
            segment: "PV2".into(),
            field: 3,
            component: 1,
        }
    }

    /// An A04 from the NHS England ADT conventions: the NHS number in PID-3 with authority NHS
    /// and type NH, a hospital number of type MR, PID-32 `01` (verified).
    const A04: &str = "MSH|^~\\&|EPR|RAL|PAT|ED|20261206143100||ADT^A04^ADT_A01|MSG0001|P|2.4\r\
        EVN|A04|20261206143100\r\
        PID|1||9434765919^^^NHS^NH~K123456^^^RAL^MR||SMITH^JOHN||19800215|M||||||||||||||||||||||||01\r\
        PV1|1|E|ED^^^RAL||||||||||||||||V2026-0001|||||||||||||||||||||||||20261206143000\r\
        PV2|||fall^Fall^LOCAL";

    fn read_a04(message: &str) -> Result<Registration, Refusal> {
        read(message, &cc())
    }

    #[test]
    fn an_a04_becomes_the_attendance_the_json_api_takes() {
        let r = read_a04(A04).unwrap_or_else(|r| panic!("{r:?}"));
        let a = r.attendance;
        assert_eq!(a.source_system.as_deref(), Some("mllp:RAL"));
        assert_eq!(a.source_id, "V2026-0001");
        assert_eq!(r.source_id_location, "PV1^1^19");
        assert_eq!(a.patient.nhs_number.as_deref(), Some("9434765919"));
        assert_eq!(a.patient.local_id.as_deref(), Some("K123456"));
        assert_eq!(a.patient.local_id_system.as_deref(), Some("RAL"));
        assert_eq!(a.patient.sex, Some(Sex::Male));
        assert_eq!(a.patient.date_of_birth, NaiveDate::from_ymd_opt(1980, 2, 15));
        // 6 December is GMT: 14:30 local is 14:30 UTC.
        assert_eq!(a.arrived_at.to_rfc3339(), "2026-12-06T14:30:00+00:00");
        assert_eq!(a.presenting_condition, Some(PresentingCondition::Fall));
        assert_eq!(a.presenting_condition_snomed, None);
        assert_eq!(r.facility, "RAL");
        assert_eq!(r.header.control_id, "MSG0001");
    }

    #[test]
    fn a_local_summer_time_is_bst_and_an_offset_is_kept() {
        let summer = A04.replace("20261206143000", "20260701143000");
        let a = read_a04(&summer).unwrap_or_else(|r| panic!("{r:?}")).attendance;
        // 1 July is BST (UTC+1): 14:30 local is 13:30 UTC.
        assert_eq!(
            a.arrived_at.with_timezone(&Utc).to_rfc3339(),
            "2026-07-01T13:30:00+00:00"
        );
        let offset = A04.replace("20261206143000", "20261206143000-0130");
        let a = read_a04(&offset).unwrap_or_else(|r| panic!("{r:?}")).attendance;
        // 14:30 at UTC−01:30 is 16:00 UTC.
        assert_eq!(
            a.arrived_at.with_timezone(&Utc).to_rfc3339(),
            "2026-12-06T16:00:00+00:00"
        );
        // 29 March 2026, 01:30 London: the clocks went from 01:00 GMT to 02:00 BST.
        let skipped = A04.replace("20261206143000", "20260329013000");
        let refused = read_a04(&skipped).err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(refused.errors[0].location, "PV1^1^44");
    }

    #[test]
    fn a_digit_chief_complaint_is_snomed_and_the_field_is_configurable() {
        let snomed = A04.replace("fall^Fall^LOCAL", "161898004^Fall^SCT");
        let a = read_a04(&snomed).unwrap_or_else(|r| panic!("{r:?}")).attendance;
        assert_eq!(a.presenting_condition_snomed.as_deref(), Some("161898004"));
        assert_eq!(a.presenting_condition, None);

        let elsewhere = format!("{A04}\rZED|1|x^head_injury");
        let location = FieldLocation {
            segment: "ZED".into(),
            field: 2,
            component: 2,
        };
        let a = read(&elsewhere, &location)
            .unwrap_or_else(|r| panic!("{r:?}"))
            .attendance;
        assert_eq!(a.presenting_condition, Some(PresentingCondition::HeadInjury));
    }

    #[test]
    fn without_a_visit_number_the_control_id_is_the_source_id() {
        let no_visit = A04.replace("V2026-0001", "");
        let r = read_a04(&no_visit).unwrap_or_else(|r| panic!("{r:?}"));
        assert_eq!(r.attendance.source_id, "MSG0001");
        assert_eq!(r.source_id_location, "MSH^1^10");
    }

    #[test]
    fn an_nhs_number_in_doubt_is_left_out() {
        // 05: trace needs to be resolved. The hospital number identifies the patient.
        let doubtful = A04.replace("|||01\r", "|||05\r");
        let a = read_a04(&doubtful).unwrap_or_else(|r| panic!("{r:?}")).attendance;
        assert_eq!(a.patient.nhs_number, None);
        assert_eq!(a.patient.local_id.as_deref(), Some("K123456"));
        // Without the hospital number nothing identifies the patient.
        let alone = doubtful.replace("~K123456^^^RAL^MR", "");
        let refused = read_a04(&alone).err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(refused.code, AckCode::Error);
        assert_eq!(refused.errors[0].location, "PID^1^3");
        // An identifier of type NH from another authority is not the NHS number.
        let other = A04.replace("^^^NHS^NH~K123456^^^RAL^MR", "^^^RAL^NH");
        let refused = read_a04(&other).err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(refused.errors[0].location, "PID^1^3");
    }

    #[test]
    fn every_content_problem_is_named_at_once() {
        let bad = A04
            .replace("|M|", "|Q|")
            .replace("19800215", "1980")
            .replace("fall^Fall", "drunk^Drunk");
        let refused = read_a04(&bad).err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(refused.code, AckCode::Error);
        let locations: Vec<&str> = refused.errors.iter().map(|e| e.location.as_str()).collect();
        assert_eq!(locations, ["PID^1^8", "PID^1^7", "PV2^1^3"]);
    }

    #[test]
    fn message_types_and_events_that_record_nothing() {
        for (event, code) in [
            ("ADT^A08", AckCode::Error),
            ("ADT^A03", AckCode::Reject),
            ("ADT^A11", AckCode::Reject),
            ("ADT^A99", AckCode::Reject),
            ("ORU^R01", AckCode::Reject),
        ] {
            let message = A04.replace("ADT^A04^ADT_A01", event);
            let refused = read_a04(&message).err().unwrap_or_else(|| panic!("{event} accepted"));
            assert_eq!(refused.code, code, "{event}");
            assert_eq!(refused.errors[0].location, "MSH^1^9", "{event}");
        }
        let inpatient = A04.replace("PV1|1|E|", "PV1|1|I|").replace("A04^ADT_A01", "A01");
        let refused = read_a04(&inpatient).err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(
            (refused.code, refused.errors[0].location.as_str()),
            (AckCode::Reject, "PV1^1^2")
        );
        let ed_admission = A04.replace("A04^ADT_A01", "A01");
        assert!(read_a04(&ed_admission).is_ok());
    }

    #[test]
    fn an_unreadable_segment_is_not_skipped_quietly() {
        // MSH, EVN, PID, PV1, then the broken fifth.
        let broken = A04.replace("PV2|||", "PV-2|||");
        let refused = read_a04(&broken).err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(refused.code, AckCode::Error);
        assert!(refused.errors[0].message.contains("segment 5"), "{refused:?}");
        let garbage = read_a04("hello").err().unwrap_or_else(|| panic!("accepted"));
        assert!(garbage.header.is_none());
    }

    proptest! {
        #[test]
        fn reading_never_panics(tail in "\\PC{0,300}", cut in 0usize..400) {
            let _ = read_a04(&format!("MSH|^~\\&|{tail}"));
            let end = A04.char_indices().nth(cut).map_or(A04.len(), |(i, _)| i);
            let _ = read_a04(&A04[..end]);
        }
    }
}
