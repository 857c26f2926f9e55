//! CSV output for the statistics endpoints (docs/design.md §4, "Statistics answers"): the JSON answer
//! flattened to one row per group, for audit teams who open it in a spreadsheet.
//!
//! Free text (a site name, a group key) may come from an EPR feed, so it is escaped against CSV
//! formula injection (OWASP, "CSV Injection"): a spreadsheet runs a cell that starts with `=`,
//! `+`, `-` or `@` as a formula, and `=HYPERLINK(...)` in an audit export can send data away.

use serde_json::Value;

/// The characters that make a spreadsheet read a cell as a formula (OWASP CSV injection): a
/// text cell starting with one of them is written with a leading `'`.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One CSV document (RFC 4180, CRLF line ends, UTF-8, header row first) from JSON objects, one
/// row each.
///
/// Columns: the leaf paths of the first row's object, joined with '.', in the object's key order
/// (serde_json is built with `preserve_order`), e.g. `counts.not_screened.refused`. Arrays are
/// skipped. Later rows are written in the header's columns (a path missing from a row is an
/// empty cell; keys the first row lacks are left out).
///
/// Cells: JSON numbers as written by serde_json; booleans `true`/`false`; null → empty, except a
/// path listed in that row's `suppressed` → `*`. A listed path is `*` whatever the row holds
/// there, so an inconsistent row fails closed rather than publishing a suppressed count.
/// Strings are free text and are escaped against formula injection: a cell whose first character
/// is `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, then quoted when it contains
/// a comma, a double quote, CR or LF (quotes doubled). Numbers are never prefixed, so a negative
/// number stays a number. Header names are escaped like strings.
///
/// No rows (or a first row that is not an object) gives no columns; no rows gives an empty
/// document. Every record, the last included, ends with CRLF.
pub fn from_rows(rows: &[(Value, Vec<String>)]) -> String {
    let Some((first, _)) = rows.first() else {
        return String::new();
    };
    let mut columns = Vec::new();
    leaf_paths(first, &mut Vec::new(), &mut columns);
    let names: Vec<String> = columns.iter().map(|path| path.join(".")).collect();

    let mut document = String::new();
    write_record(&mut document, names.iter().map(|name| text(name)));
    for (row, suppressed) in rows {
        write_record(
            &mut document,
            columns.iter().zip(&names).map(|(path, name)| {
                if suppressed.contains(name) {
                    return "*".to_owned();
                }
                match path.iter().try_fold(row, |value, key| value.get(key)) {
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(Value::String(s)) => text(s),
                    // Null, missing, or an object or array where the first row had a leaf.
                    _ => String::new(),
                }
            }),
        );
    }
    document
}

/// Appends the key path of every leaf (not object, not array) under `value` to `paths`, in key
/// order.
fn leaf_paths<'a>(value: &'a Value, prefix: &mut Vec<&'a str>, paths: &mut Vec<Vec<&'a str>>) {
    let Value::Object(object) = value else {
        return;
    };
    for (key, child) in object {
        prefix.push(key);
        match child {
            Value::Object(_) => leaf_paths(child, prefix, paths),
            Value::Array(_) => {}
            _ => paths.push(prefix.clone()),
        }
        prefix.pop();
    }
}

/// Free text as a cell: a leading `'` when it would start a formula, quoted when needed.
fn text(s: &str) -> String {
    if s.starts_with(FORMULA_STARTS) {
        quoted_if_needed(&format!("'{s}"))
    } else {
        quoted_if_needed(s)
    }
}

/// RFC 4180 §2.6–2.7: a field holding a comma, a double quote, CR or LF is enclosed in double
/// quotes, with its double quotes doubled.
fn quoted_if_needed(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// Appends one record, its fields already escaped, ended by CRLF.
fn write_record(document: &mut String, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            document.push(',');
        }
        document.push_str(&field);
    }
    document.push_str("\r\n");
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn one(row: Value, suppressed: &[&str]) -> (Value, Vec<String>) {
        (row, suppressed.iter().map(|s| s.to_string()).collect())
    }

    /// A strict RFC 4180 reader: every record ends with CRLF; a field is either plain (no comma,
    /// quote, CR or LF) or enclosed in double quotes with inner quotes doubled. Panics on
    /// anything else, so a malformed document fails the test that reads it.
    fn parse(document: &str) -> Vec<Vec<String>> {
        let mut records = Vec::new();
        let mut rest = document;
        while !rest.is_empty() {
            let mut record = Vec::new();
            loop {
                let (field, after) = if let Some(mut inside) = rest.strip_prefix('"') {
                    let mut field = String::new();
                    loop {
                        let quote = inside.find('"').expect("an unterminated quoted field");
                        field.push_str(&inside[..quote]);
                        inside = &inside[quote + 1..];
                        match inside.strip_prefix('"') {
                            Some(more) => {
                                field.push('"');
                                inside = more;
                            }
                            None => break,
                        }
                    }
                    (field, inside)
                } else {
                    let end = rest.find([',', '"', '\r', '\n']).unwrap_or(rest.len());
                    (rest[..end].to_owned(), &rest[end..])
                };
                record.push(field);
                if let Some(next) = after.strip_prefix(',') {
                    rest = next;
                    continue;
                }
                rest = after
                    .strip_prefix("\r\n")
                    .unwrap_or_else(|| panic!("a field must end at a comma or CRLF, found {after:?}"));
                break;
            }
            records.push(record);
        }
        records
    }

    #[test]
    fn columns_are_the_first_rows_leaf_paths_in_key_order() {
        // Keys deliberately not alphabetical: the order is the object's, not sorted.
        let row = json!({
            "key": "all",
            "counts": {
                "eligible": 41250,
                "attendances": 70300,
                "not_screened": { "refused": 2100, "intoxicated": 1830 },
                "positive": 6624
            },
            "rates": { "screening": 0.7299 },
            "suppressed": ["not", "a", "column"]
        });
        let document = from_rows(&[one(row, &[])]);
        assert_eq!(
            document,
            "key,counts.eligible,counts.attendances,counts.not_screened.refused,\
             counts.not_screened.intoxicated,counts.positive,rates.screening\r\n\
             all,41250,70300,2100,1830,6624,0.7299\r\n"
        );
    }

    #[test]
    fn later_rows_follow_the_header() {
        let rows = [
            one(json!({ "key": "2024-04", "counts": { "a": 1, "b": 2 } }), &[]),
            // Reordered keys, a missing path, an extra key, and an object where a leaf was.
            one(json!({ "counts": { "b": 20, "extra": 9 }, "key": "2024-05" }), &[]),
            one(
                json!({ "key": "2024-06", "counts": { "a": { "x": 1 }, "b": [1] } }),
                &[],
            ),
        ];
        assert_eq!(
            from_rows(&rows),
            "key,counts.a,counts.b\r\n2024-04,1,2\r\n2024-05,,20\r\n2024-06,,\r\n"
        );
    }

    #[test]
    fn suppressed_is_a_star_and_plain_null_is_empty() {
        let row = json!({
            "counts": { "screened": null, "not_screened": { "refused": null } },
            "rates": { "screening": null }
        });
        // screened is suppressed; the rate is null for a zero denominator, not suppressed.
        let document = from_rows(&[one(row, &["counts.screened", "counts.not_screened.refused"])]);
        assert_eq!(
            document,
            "counts.screened,counts.not_screened.refused,rates.screening\r\n*,*,\r\n"
        );
    }

    #[test]
    fn a_suppressed_path_is_never_published_even_if_the_row_holds_a_value() {
        let document = from_rows(&[one(json!({ "accepted": 3, "declined": 40 }), &["accepted"])]);
        assert_eq!(document, "accepted,declined\r\n*,40\r\n");
    }

    #[test]
    fn numbers_and_booleans_are_written_as_serde_json_writes_them() {
        let row =
            json!({ "n": 0, "neg": -3, "rate": 0.22, "one": 1.0, "negative_rate": -0.5, "yes": true, "no": false });
        assert_eq!(
            from_rows(&[one(row, &[])]),
            "n,neg,rate,one,negative_rate,yes,no\r\n0,-3,0.22,1.0,-0.5,true,false\r\n",
            "negative numbers are numbers, not formulas: no leading '"
        );
    }

    #[test]
    fn text_that_would_start_a_formula_gets_a_leading_apostrophe() {
        // Each row: site name, the CSV field written, what the row proves.
        let cases = [
            ("=1+2", "'=1+2", "equals"),
            ("+44 20 7946 0000", "'+44 20 7946 0000", "plus"),
            (
                "-3",
                "'-3",
                "minus: a string that looks like a negative number is still text",
            ),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)", "at sign"),
            ("\t=1", "'\t=1", "tab (not quoted: a tab is not special to RFC 4180)"),
            ("\r=1", "\"'\r=1\"", "carriage return, then quoted because of the CR"),
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
                "a link that sends data away",
            ),
            ("a=1", "a=1", "only the first character matters"),
            (" =1", " =1", "a leading space is not on OWASP's list"),
            ("St Mary's", "St Mary's", "an apostrophe inside is plain text"),
        ];
        for (site, field, why) in cases {
            let document = from_rows(&[one(json!({ "site": site }), &[])]);
            assert_eq!(document, format!("site\r\n{field}\r\n"), "{why}");
        }
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted() {
        let cases = [
            ("St Mary's, Paddington", "\"St Mary's, Paddington\""),
            ("the \"new\" wing", "\"the \"\"new\"\" wing\""),
            ("line\nbreak", "\"line\nbreak\""),
            ("line\r\nbreak", "\"line\r\nbreak\""),
            ("Hôpital", "Hôpital"),
            ("", ""),
        ];
        for (site, field) in cases {
            assert_eq!(
                from_rows(&[one(json!({ "site": site }), &[])]),
                format!("site\r\n{field}\r\n"),
                "{site:?}"
            );
        }
    }

    #[test]
    fn no_rows_is_an_empty_document() {
        assert_eq!(from_rows(&[]), "");
    }

    /// What a reader of the document gets back for a text cell: the text, behind a `'` when it
    /// would otherwise start a formula.
    fn shown(text: &str) -> String {
        if text.starts_with(FORMULA_STARTS) {
            format!("'{text}")
        } else {
            text.to_owned()
        }
    }

    #[test]
    fn a_document_reads_back_cell_by_cell() {
        let rows = [
            one(
                json!({ "key": "=HYPERLINK(\"http://x\")", "site": "St Mary's, Paddington",
                        "counts": { "eligible": 41250, "screened": null, "change": -110 },
                        "rates": { "screening": 0.7299, "positive": null } }),
                &["counts.screened"],
            ),
            one(
                json!({ "key": "line\r\nbreak \"quoted\"", "site": "-",
                        "counts": { "eligible": 0, "screened": 0, "change": 3 },
                        "rates": { "screening": null, "positive": 0.22 } }),
                &[],
            ),
        ];
        let document = from_rows(&rows);
        assert_eq!(
            parse(&document),
            [
                vec![
                    "key",
                    "site",
                    "counts.eligible",
                    "counts.screened",
                    "counts.change",
                    "rates.screening",
                    "rates.positive"
                ],
                vec![
                    "'=HYPERLINK(\"http://x\")",
                    "St Mary's, Paddington",
                    "41250",
                    "*",
                    "-110",
                    "0.7299",
                    ""
                ],
                vec!["line\r\nbreak \"quoted\"", "'-", "0", "0", "3", "", "0.22"],
            ]
        );
    }

    proptest! {
        #[test]
        fn any_text_reads_back_as_itself_or_behind_an_apostrophe(
            site in "[=+\\-@\t\r\n,\"' aé]{0,8}",
            key in "[=+\\-@\t\r\n,\"' aé]{0,8}",
            count in any::<i64>(),
        ) {
            let document = from_rows(&[one(json!({ "site": site, "count": count, "key": key }), &[])]);
            let records = parse(&document);
            prop_assert_eq!(records.len(), 2);
            prop_assert_eq!(&records[1], &vec![shown(&site), count.to_string(), shown(&key)]);
        }
    }
}
