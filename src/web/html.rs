//! HTML by hand: every value goes through `escape` (docs/design.md §12). No template crate: the
//! pages are few and small, and a hand-written escaper of five characters is easy to audit.

/// `text` safe to put in HTML text and in a double- or single-quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An instant as the pages show it, in Europe/London time, with a chrono format (`%H:%M`, …).
pub fn london(t: chrono::DateTime<chrono::Utc>, format: &str) -> String {
    t.with_timezone(&chrono_tz::Europe::London).format(format).to_string()
}

/// A query-string component, percent-encoded (unreserved characters kept).
pub fn query_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("plain text"), "plain text");
    }

    #[test]
    fn times_are_shown_in_london_time_across_the_clock_change() {
        let at = |text: &str| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_default()
        };
        // Summer time (BST, UTC+1) until 01:00 UTC on 25 October 2026, then GMT.
        assert_eq!(london(at("2026-10-25T00:30:00Z"), "%-d %b %H:%M"), "25 Oct 01:30");
        assert_eq!(london(at("2026-10-25T01:30:00Z"), "%-d %b %H:%M"), "25 Oct 01:30");
        assert_eq!(
            london(at("2026-12-01T23:30:00Z"), "%a %-d %b %Y %H:%M"),
            "Tue 1 Dec 2026 23:30"
        );
    }

    #[test]
    fn query_components_are_percent_encoded() {
        assert_eq!(query_component("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
