//! The NHS number: a patient identifier that is valid by construction (DOMAIN.md §9).

/// A checked NHS number: exactly 10 ASCII digits whose last digit is the modulus-11 check digit
/// of the first nine (DOMAIN.md §9). Stored without separators, so two spellings of the same
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
}

impl NhsNumber {
    /// Parses an NHS number as clinicians and systems write it.
    ///
    /// Accepts 10 digits, or the printed 3-3-4 grouping with single spaces or single hyphens
    /// ("943 476 5919", "943-476-5919"); surrounding whitespace is ignored because EPR feeds pad
    /// fields. Any other layout is rejected rather than guessed at: an identifier that links
    /// patient records must not be "repaired".
    ///
    /// Check digit (DOMAIN.md §9): digits 1–9 weighted 10 down to 2 and summed;
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

    /// Completes nine digits with their check digit (DOMAIN.md §9): the NHS number that starts
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

    /// The 10 digits, without separators.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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
/// 10, which DOMAIN.md §9 defines as invalid.
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
        }
    }
}
