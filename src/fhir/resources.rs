//! The few R4 data types the facade reads, as serde structs. Elements not listed here are
//! accepted and ignored (a sender's resource usually carries more than the service needs);
//! elements listed are checked for shape, and a wrong one is a 422 naming it.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Deserialize;
use serde_json::{json, Value};

/// R4 `Identifier` (system and value only).
#[derive(Deserialize, Debug, Clone, Default)]
pub struct Identifier {
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// R4 `Coding`.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct Coding {
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

/// R4 `CodeableConcept`.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct CodeableConcept {
    #[serde(default)]
    pub coding: Vec<Coding>,
    #[serde(default)]
    pub text: Option<String>,
}

/// R4 `Reference`: a literal reference, or a logical one by identifier.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct Reference {
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub identifier: Option<Identifier>,
}

/// R4 `Period`.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct Period {
    #[serde(default)]
    pub start: Option<DateTime<FixedOffset>>,
}

/// A contained R4 `Patient`: who the subject is, with the sex and date of birth the PAT needs.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContainedPatient {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub identifier: Vec<Identifier>,
    /// R4 AdministrativeGender: `male`, `female`, `other`, `unknown` (the service's `sex` codes).
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
}

/// `meta` naming the profile a resource claims.
pub fn meta(profile: &str) -> Value {
    json!({ "profile": [profile] })
}

/// A `Coding` value.
pub fn coding(system: &str, code: &str, display: Option<&str>) -> Value {
    match display {
        Some(display) => json!({ "system": system, "code": code, "display": display }),
        None => json!({ "system": system, "code": code }),
    }
}
