//! The NHS number: a patient identifier that is valid by construction (docs/domain.md §9).

/// A checked NHS number: exactly 10 ASCII digits whose last digit is the modulus-11 check digit
/// of the first nine (docs/domain.md §9). Stored without separators, so two spellings of the same
/// number ("943 476 5919" and "9434765919") compare equal and match the same patient.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NhsNumber(String);

/// Why a string is not an NHS number. The messages are written to follow the field name in a
/// 422 (`patient.nhs_number` "must be 10 digits ...").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    /// Not 10 digits, or separators other than the 3-3-4 grouping.
    #[error("must be 10 digits, optionally grouped as 943 476 5919 or 943-476-5919")]
    NotTenDigits,
    /// The modulus-11 sum gives a check value of 10: no NHS number has these first nine digits.
    #[error("is not a valid NHS number: its check digit would be 10")]
    CheckDigitWouldBeTen,
    /// The tenth digit is not the check digit of the first nine (most often a typing error).
    #[error("is not a valid NHS number: the check digit does not match")]
    CheckDigitMismatch,
    /// Ten equal digits (0000000000, 9999999999): each passes modulus 11, and EPRs use them as
    /// "NHS number unknown". Taken as a patient's, they would make strangers one patient (one
    /// repeat attender, one history). Refused from every request, test number or not.
    #[error("is a placeholder (all digits the same), not a patient's NHS number")]
    Placeholder,
    /// In 999 000 0000 – 999 999 9999, which the NHS reserves for testing and never issues to a
    /// patient. Refused unless the service accepts test numbers (`PAT_ACCEPT_TEST_NHS_NUMBERS`).
    #[error(
        "is a test number (the NHS reserves 999 000 0000 to 999 999 9999 for testing), not a patient's NHS number"
    )]
    TestNumber,
}

impl NhsNumber {
    /// Parses an NHS number as clinicians and systems write it.
    ///
    /// Accepts 10 digits, or the printed 3-3-4 grouping with single spaces or single hyphens
    /// ("943 476 5919", "943-476-5919"); surrounding whitespace is ignored because EPR feeds pad
    /// fields. Any other layout is rejected rather than guessed at: an identifier that links
    /// patient records must not be "repaired".
    ///
    /// Check digit (docs/domain.md §9): digits 1–9 weighted 10 down to 2 and summed;
    /// check = 11 − (sum mod 11); 11 becomes 0; 10 means no valid number has these nine digits.
    pub fn parse(input: &str) -> Result<Self, NhsNumberError> {
        let digits = strip_grouping(input.trim()).ok_or(NhsNumberError::NotTenDigits)?;
        let mut values = [0u8; 10];
        for (slot, b) in values.iter_mut().zip(digits.iter()) {
            *slot = b - b'0';
        }
        let (first_nine, last) = values.split_at(9);
        match check_digit(first_nine) {
            None => Err(NhsNumberError::CheckDigitWouldBeTen),
            Some(check) if Some(&check) != last.first() => Err(NhsNumberError::CheckDigitMismatch),
            Some(_) => Ok(Self(digits.iter().map(|&b| char::from(b)).collect())),
        }
    }

    /// Completes nine digits with their check digit (docs/domain.md §9): the NHS number that starts
    /// with `first_nine`. `None` when `first_nine` is not exactly nine ASCII digits (no
    /// separators), or when its check digit would be 10, so no NHS number starts with them.
    pub fn from_first_nine(first_nine: &str) -> Option<Self> {
        let bytes = first_nine.as_bytes();
        if bytes.len() != 9 || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut values = [0u8; 9];
        for (slot, b) in values.iter_mut().zip(bytes) {
            *slot = b - b'0';
        }
        let check = check_digit(&values)?;
        let mut digits = String::with_capacity(10);
        digits.push_str(first_nine);
        digits.push(char::from(b'0' + check));
        Some(Self(digits))
    }

    /// Parses the NHS number a request gives for a patient: [`NhsNumber::parse`], then refuses
    /// what is valid by the check digit but is nobody's number. Ten equal digits are always
    /// refused ([`NhsNumberError::Placeholder`]); a number from the NHS test range (starting 999)
    /// is refused unless `accept_test_numbers` (`PAT_ACCEPT_TEST_NHS_NUMBERS`, for test
    /// environments; [`NhsNumberError::TestNumber`]).
    ///
    /// `parse` itself stays the check of form and check digit only: it reads back what was stored
    /// (rows recorded before these refusals, and the demo data, which is written straight to the
    /// database with numbers from the test range), and a stored number must always read back.
    pub fn parse_for_patient(input: &str, accept_test_numbers: bool) -> Result<Self, NhsNumberError> {
        let number = Self::parse(input)?;
        let digits = number.0.as_bytes();
        if digits.iter().all(|&d| Some(&d) == digits.first()) {
            return Err(NhsNumberError::Placeholder);
        }
        if !accept_test_numbers && number.0.starts_with(TEST_RANGE_PREFIX) {
            return Err(NhsNumberError::TestNumber);
        }
        Ok(number)
    }

    /// The 10 digits, without separators.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The first three digits of the NHS test range, 999 000 0000 – 999 999 9999: numbers the NHS
/// never issues to patients, for test systems and demonstrations.
const TEST_RANGE_PREFIX: &str = "999";

/// Returns the 10 ASCII digits of `s` if it is written as 10 digits or in the 3-3-4 grouping with
/// one kind of separator (space or hyphen); `None` otherwise.
fn strip_grouping(s: &str) -> Option<[u8; 10]> {
    let bytes = s.as_bytes();
    let digits: Vec<u8> = match bytes.len() {
        10 => bytes.to_vec(),
        12 => {
            let sep = bytes[3];
            if (sep != b' ' && sep != b'-') || bytes[7] != sep {
                return None;
            }
            bytes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 3 && *i != 7)
                .map(|(_, &b)| b)
                .collect()
        }
        _ => return None,
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.try_into().ok()
}

/// The modulus-11 check digit of the first nine digits (values 0–9), or `None` when it would be
/// 10, which docs/domain.md §9 defines as invalid.
fn check_digit(first_nine: &[u8]) -> Option<u8> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10u32).rev())
        .map(|(&d, weight)| u32::from(d) * weight)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        // 1..=9: fits in a u8.
        check => u8::try_from(check).ok(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_numbers_are_checked_as_domain_md_describes() {
        // Each row: input, expected result, what the row proves.
        // 9434765919: 9·10+4·9+3·8+4·7+7·6+6·5+5·4+9·3+1·2 = 299; 299 mod 11 = 2; 11−2 = 9 ✓.
        // 4010232137: 4·10+0+1·8+0+2·6+3·5+2·4+1·3+3·2 = 92; 92 mod 11 = 4; 11−4 = 7 ✓.
        // 0410232137 (first two swapped): 4·9+1·8+2·6+3·5+2·4+1·3+3·2 = 88 → check 0, not 7.
        // 0000000060: sum = 6·2 = 12; 12 mod 11 = 1; 11−1 = 10 → invalid.
        // 0000000140: sum = 1·3+4·2 = 11; 11 mod 11 = 0; 11−0 = 11 → check 0 ✓.
        let cases: &[(&str, Result<&str, NhsNumberError>, &str)] = &[
            ("9434765919", Ok("9434765919"), "a valid number, plain"),
            ("4010232137", Ok("4010232137"), "a second valid number, plain"),
            ("943 476 5919", Ok("9434765919"), "3-3-4 with spaces, stored bare"),
            ("943-476-5919", Ok("9434765919"), "3-3-4 with hyphens, stored bare"),
            (" 9434765919\n", Ok("9434765919"), "surrounding whitespace ignored"),
            ("0000000140", Ok("0000000140"), "check value 11 becomes 0"),
            (
                "9434765918",
                Err(NhsNumberError::CheckDigitMismatch),
                "wrong check digit",
            ),
            (
                "0410232137",
                Err(NhsNumberError::CheckDigitMismatch),
                "first two digits swapped (a typical typo) is caught",
            ),
            (
                "0000000060",
                Err(NhsNumberError::CheckDigitWouldBeTen),
                "check value 10 is never valid",
            ),
            ("", Err(NhsNumberError::NotTenDigits), "empty"),
            ("943476591", Err(NhsNumberError::NotTenDigits), "9 digits"),
            ("94347659190", Err(NhsNumberError::NotTenDigits), "11 digits"),
            ("943476591X", Err(NhsNumberError::NotTenDigits), "a letter"),
            ("943 476-5919", Err(NhsNumberError::NotTenDigits), "mixed separators"),
            (
                "9434 76 5919",
                Err(NhsNumberError::NotTenDigits),
                "separators in the wrong places",
            ),
            ("943  476 5919", Err(NhsNumberError::NotTenDigits), "double space"),
            (
                "94347659１9",
                Err(NhsNumberError::NotTenDigits),
                "a full-width (non-ASCII) digit",
            ),
        ];
        for (input, expected, why) in cases {
            let got = NhsNumber::parse(input);
            match expected {
                Ok(stored) => assert_eq!(got.as_ref().map(NhsNumber::as_str), Ok(*stored), "{why}: {input:?}"),
                Err(e) => assert_eq!(got, Err(e.clone()), "{why}: {input:?}"),
            }
        }
    }

    #[test]
    fn nine_digits_are_completed_with_their_check_digit() {
        // The examples above: 943476591 → 9, 401023213 → 7, 000000014 → 0 (11 becomes 0),
        // 000000006 → 10, which no NHS number has.
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("943476591", Some("9434765919"), "a valid stem"),
            ("401023213", Some("4010232137"), "a second valid stem"),
            ("000000014", Some("0000000140"), "check value 11 becomes 0"),
            ("000000006", None, "check value 10: no number starts with these digits"),
            ("94347659", None, "8 digits"),
            ("9434765919", None, "10 digits"),
            ("94347659X", None, "a letter"),
            ("943 476 591", None, "separators"),
            ("", None, "empty"),
        ];
        for (input, expected, why) in cases {
            let got = NhsNumber::from_first_nine(input);
            assert_eq!(got.as_ref().map(NhsNumber::as_str), *expected, "{why}: {input:?}");
        }
    }

    #[test]
    fn placeholders_and_test_numbers_are_not_a_patients_number() {
        // Ten equal digits d pass modulus 11: the sum is d·(10+9+…+2) = 54·d, and 54 = 4·11 + 10,
        // so for d = 1…9 the sum mod 11 is 10·d mod 11 = 11 − d, and the check is 11 − (11 − d) = d.
        // 0000000000: sum 0; 11 − 0 = 11, which becomes 0 = the tenth digit ✓.
        // 9999999999: sum 54·9 = 486 = 44·11 + 2; 11 − 2 = 9 ✓.
        // 5555555555: sum 54·5 = 270 = 24·11 + 6; 11 − 6 = 5 ✓.
        // 9990000018: 9·10 + 9·9 + 9·8 + 1·2 = 245 = 22·11 + 3; 11 − 3 = 8 ✓. The first valid
        //   number of the test range: 999000000 sums to 243 = 22·11 + 1, check 10.
        // 9999999980: 243 + 9·(7+6+5+4+3) + 8·2 = 243 + 225 + 16 = 484 = 44·11; 11 becomes 0 ✓.
        // 9989999996: 9·10 + 9·9 + 8·8 + 9·(7+6+5+4+3+2) = 90 + 81 + 64 + 243 = 478 = 43·11 + 5;
        //   11 − 5 = 6 ✓: the last number before the test range.
        // 9990000017: 245 gives check 8, not 7.
        use NhsNumberError::{CheckDigitMismatch, Placeholder, TestNumber};
        type Row = (
            &'static str,
            Result<&'static str, NhsNumberError>,
            Result<&'static str, NhsNumberError>,
            &'static str,
        );
        // (input, refusing test numbers, accepting them, why)
        let cases: &[Row] = &[
            ("0000000000", Err(Placeholder), Err(Placeholder), "all zeros"),
            (
                "9999999999",
                Err(Placeholder),
                Err(Placeholder),
                "all nines, in the test range too",
            ),
            ("5555555555", Err(Placeholder), Err(Placeholder), "all fives"),
            ("555 555 5555", Err(Placeholder), Err(Placeholder), "all fives, grouped"),
            (
                "9990000018",
                Err(TestNumber),
                Ok("9990000018"),
                "the first of the test range",
            ),
            ("999-000-0018", Err(TestNumber), Ok("9990000018"), "grouped test number"),
            (
                "9999999980",
                Err(TestNumber),
                Ok("9999999980"),
                "near the end of the test range",
            ),
            (
                "9989999996",
                Ok("9989999996"),
                Ok("9989999996"),
                "just below the test range",
            ),
            ("9434765919", Ok("9434765919"), Ok("9434765919"), "an ordinary number"),
            (
                "943 476 5919",
                Ok("9434765919"),
                Ok("9434765919"),
                "an ordinary number, grouped",
            ),
            (
                "9990000017",
                Err(CheckDigitMismatch),
                Err(CheckDigitMismatch),
                "the check digit is checked first",
            ),
        ];
        for (input, refusing, accepting, why) in cases {
            if *refusing != Err(CheckDigitMismatch) {
                // The placeholders and test numbers pass the modulus-11 check (worked out above).
                let digits: String = input.chars().filter(char::is_ascii_digit).collect();
                assert_eq!(
                    NhsNumber::parse(input).map(|n| n.as_str().to_owned()),
                    Ok(digits),
                    "{why}: parse checks only the form and the check digit: {input:?}"
                );
            }
            for (accept_test_numbers, expected) in [(false, refusing), (true, accepting)] {
                let got = NhsNumber::parse_for_patient(input, accept_test_numbers);
                assert_eq!(
                    got.as_ref().map(NhsNumber::as_str).map_err(Clone::clone),
                    expected.clone(),
                    "{why}: {input:?}, accept_test_numbers {accept_test_numbers}"
                );
            }
        }
    }

    #[test]
    fn error_messages_read_after_a_field_name() {
        assert_eq!(
            NhsNumberError::CheckDigitWouldBeTen.to_string(),
            "is not a valid NHS number: its check digit would be 10"
        );
        assert_eq!(
            NhsNumberError::CheckDigitMismatch.to_string(),
            "is not a valid NHS number: the check digit does not match"
        );
        assert!(NhsNumberError::NotTenDigits
            .to_string()
            .starts_with("must be 10 digits"));
        assert_eq!(
            NhsNumberError::Placeholder.to_string(),
            "is a placeholder (all digits the same), not a patient's NHS number"
        );
        assert!(NhsNumberError::TestNumber.to_string().starts_with("is a test number"));
    }

    fn nine_digits() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..=9, 9)
    }

    fn render(digits: &[u8]) -> String {
        digits.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// Any valid number: nine random digits followed by their check digit.
    fn valid_number() -> impl Strategy<Value = Vec<u8>> {
        nine_digits().prop_filter_map("check digit would be 10", |mut d| {
            let check = check_digit(&d)?;
            d.push(check);
            Some(d)
        })
    }

    proptest! {
        #[test]
        fn nine_digits_plus_their_check_digit_parse(digits in valid_number()) {
            let s = render(&digits);
            let parsed = NhsNumber::parse(&s).unwrap();
            prop_assert_eq!(parsed.as_str(), s.as_str());
            let grouped = format!("{} {} {}", &s[..3], &s[3..6], &s[6..]);
            prop_assert_eq!(NhsNumber::parse(&grouped).unwrap(), parsed);
        }

        #[test]
        fn a_completed_number_parses_as_itself(digits in nine_digits()) {
            let first_nine = render(&digits);
            match NhsNumber::from_first_nine(&first_nine) {
                Some(number) => {
                    prop_assert!(number.as_str().starts_with(&first_nine));
                    prop_assert_eq!(NhsNumber::parse(number.as_str()), Ok(number));
                }
                None => prop_assert_eq!(check_digit(&digits), None),
            }
        }

        #[test]
        fn changing_any_one_digit_invalidates(
            digits in valid_number(),
            position in 0usize..10,
            delta in 1u8..=9,
        ) {
            let mut changed = digits.clone();
            changed[position] = (changed[position] + delta) % 10;
            prop_assert!(NhsNumber::parse(&render(&changed)).is_err());
        }

        #[test]
        fn anything_but_ten_digits_is_rejected(s in "[0-9 -]{0,24}") {
            let digit_count = s.chars().filter(char::is_ascii_digit).count();
            prop_assume!(digit_count != 10);
            prop_assert_eq!(NhsNumber::parse(&s), Err(NhsNumberError::NotTenDigits));
        }

        #[test]
        fn a_non_digit_among_ten_digits_is_rejected(
            digits in valid_number(),
            position in 0usize..10,
            c in "[^0-9]",
        ) {
            let mut s: Vec<String> = digits.iter().map(|d| d.to_string()).collect();
            s[position] = c;
            let s: String = s.concat();
            prop_assert_eq!(NhsNumber::parse(&s), Err(NhsNumberError::NotTenDigits));
        }

        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = NhsNumber::parse(&s);
            let _ = NhsNumber::parse_for_patient(&s, false);
            let _ = NhsNumber::parse_for_patient(&s, true);
        }

        #[test]
        fn a_patients_number_is_a_valid_number_and_reads_back(digits in valid_number(), accept in any::<bool>()) {
            // What a request may record, `parse` (which reads stored numbers back) accepts as it is.
            let s = render(&digits);
            if let Ok(number) = NhsNumber::parse_for_patient(&s, accept) {
                prop_assert_eq!(NhsNumber::parse(number.as_str()), Ok(number));
            }
        }
    }
}
