//! Who an attendance belongs to: the key that links one patient's attendances.

/// The patient key links a patient's attendances (repeat attenders, reattendance): the NHS number
/// when known, else the local hospital number. `None` when the EPR sent neither.
pub fn patient_key(nhs_number: Option<&str>, local_id: Option<&str>) -> Option<String> {
    match (nhs_number, local_id) {
        (Some(nhs), _) => Some(format!("nhs:{nhs}")),
        (None, Some(local)) => Some(format!("local:{local}")),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nhs_number_wins_over_the_local_number() {
        assert_eq!(
            patient_key(Some("9434765919"), Some("RX1-1")).as_deref(),
            Some("nhs:9434765919")
        );
        assert_eq!(patient_key(None, Some("RX1-1")).as_deref(), Some("local:RX1-1"));
        assert_eq!(patient_key(None, None), None);
    }
}
