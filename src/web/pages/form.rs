//! A form's errors where they happened (GOV.UK's error pattern; WCAG 3.3.1 and 3.3.3): a summary
//! at the top of the page listing every problem as a link to its field, and each message beside
//! its field, which says `aria-invalid="true"` and points at the message with
//! `aria-describedby`. The words say what is wrong, never the colour alone.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::error::ApiError;
use crate::store::scheduling::health_workers::HealthWorker;
use crate::web::html::escape;

/// The problems of one form: (field's element id, label, message), in the form's order.
#[derive(Clone, Debug, Default)]
pub struct FieldErrors {
    items: Vec<(String, String, String)>,
}

impl FieldErrors {
    pub fn add(&mut self, id: impl Into<String>, label: impl Into<String>, message: impl Into<String>) {
        self.items.push((id.into(), label.into(), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The first message about the field `id`.
    fn get(&self, id: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(i, _, _)| i == id)
            .map(|(_, _, message)| message.as_str())
    }

    /// The attributes an invalid field carries (none for a valid one), to put inside its tag.
    pub fn attrs(&self, id: &str) -> String {
        if self.get(id).is_some() {
            format!(" aria-invalid=\"true\" aria-describedby=\"{}-error\"", escape(id))
        } else {
            String::new()
        }
    }

    /// The message beside the field `id` (nothing for a valid one).
    pub fn message(&self, id: &str) -> String {
        self.get(id).map_or_else(String::new, |message| {
            format!(
                "<p class=\"error\" id=\"{}-error\">Error: {}</p>",
                escape(id),
                escape(message)
            )
        })
    }

    /// The summary at the top of the page: every problem, linked to its field.
    pub fn summary(&self) -> String {
        if self.items.is_empty() {
            return String::new();
        }
        let items: String = self
            .items
            .iter()
            .map(|(id, label, message)| {
                format!(
                    "<li><a href=\"#{}\">{}: {}</a></li>",
                    escape(id),
                    escape(label),
                    escape(message)
                )
            })
            .collect();
        format!(
            "<div class=\"error-summary\" role=\"alert\" aria-labelledby=\"error-summary-title\">\
             <h2 id=\"error-summary-title\">There is a problem</h2><ul>{items}</ul></div>"
        )
    }
}

/// A refusal in words at the top of the page (a 409: nothing was done).
pub fn notice(text: &str) -> String {
    format!(
        "<div class=\"error-summary\" role=\"alert\" aria-labelledby=\"error-summary-title\">\
         <h2 id=\"error-summary-title\">There is a problem</h2><p>{}</p></div>",
        escape(text)
    )
}

/// The top of a page shown again after a refused form: the summary of the problems at their
/// fields (422) and the refusal in words (409), whichever there are.
pub fn refusal(errors: &FieldErrors, notice_text: Option<&String>) -> String {
    let mut out = errors.summary();
    if let Some(text) = notice_text {
        out.push_str(&notice(text));
    }
    out
}

/// The message a redirect asked for with `?flash=<code>`, as a status line, when `code` is one of
/// the page's `flashes` (fixed text, so a link cannot put words on the page); else nothing.
pub fn flash(query: &HashMap<String, String>, flashes: &[(&str, &str)]) -> String {
    query
        .get("flash")
        .and_then(|code| flashes.iter().find(|(c, _)| c == code))
        .map_or_else(String::new, |(_, text)| {
            format!("<p class=\"flash\" role=\"status\">{}</p>", escape(text))
        })
}

/// An optional date field of a query (`YYYY-MM-DD`; blank is absent): the text as typed, the
/// date (`default` when absent or not a date), and whether the text was not a date.
pub fn date_field<'q>(
    query: &'q HashMap<String, String>,
    name: &str,
    default: NaiveDate,
) -> (Option<&'q str>, NaiveDate, bool) {
    let raw = query.get(name).map(|d| d.trim()).filter(|d| !d.is_empty());
    match raw.map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d")) {
        None => (raw, default, false),
        Some(Ok(date)) => (raw, date, false),
        Some(Err(_)) => (raw, default, true),
    }
}

/// The health worker a GET form picked (`health_worker`; blank is everyone): the id, and whether
/// the text was not an id.
pub fn worker_field(query: &HashMap<String, String>) -> (Option<uuid::Uuid>, bool) {
    match query.get("health_worker").map(|w| w.trim()).filter(|w| !w.is_empty()) {
        None => (None, false),
        Some(text) => match uuid::Uuid::parse_str(text) {
            Ok(id) => (Some(id), false),
            Err(_) => (None, true),
        },
    }
}

/// The "Health worker" select of a GET form (`health_worker`): everyone, or one of the register,
/// `picked` selected; when `invalid`, marked so with its error beside it.
pub fn worker_select(workers: &[HealthWorker], picked: Option<uuid::Uuid>, invalid: bool) -> String {
    let mut out = format!(
        "<label for=\"health_worker\">Health worker</label><select id=\"health_worker\" name=\"health_worker\"{}>\
         <option value=\"\">Everyone</option>",
        if invalid {
            " aria-invalid=\"true\" aria-describedby=\"health_worker-error\""
        } else {
            ""
        }
    );
    for w in workers {
        let selected = if Some(w.id.0) == picked { " selected" } else { "" };
        out.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>",
            w.id.0,
            escape(&w.name)
        ));
    }
    out.push_str("</select>");
    if invalid {
        out.push_str("<p class=\"error\" id=\"health_worker-error\">Error: Choose a health worker from the list.</p>");
    }
    out
}

/// How a store's refusal of a form is shown: the fields it names (422), a refusal in words
/// (409), or an error page (anything else: not found, the database unavailable, …).
pub enum Refused {
    Fields(Vec<crate::domain::FieldError>, String),
    Conflict(String),
    Page(ApiError),
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Refused {
        match error {
            ApiError::Validation(errors) => Refused::Fields(errors, String::new()),
            ApiError::Rule { detail, errors, .. } => Refused::Fields(errors, detail),
            ApiError::Conflict { detail, .. } => Refused::Conflict(detail),
            other => Refused::Page(other),
        }
    }
}

/// `value` as an HTML attribute's text (`value="…"`), escaped.
pub fn value_attr(value: Option<&String>) -> String {
    value.map_or_else(String::new, |v| format!(" value=\"{}\"", escape(v)))
}

/// `selected` when the kept value is `option`.
pub fn selected(value: Option<&String>, option: &str) -> &'static str {
    if value.is_some_and(|v| v == option) {
        " selected"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_field_points_at_its_message_and_the_summary_links_to_it() {
        let mut errors = FieldErrors::default();
        errors.add("units-1", "Units per week", "must be a number of at least 0 <b>");
        assert_eq!(
            errors.attrs("units-1"),
            " aria-invalid=\"true\" aria-describedby=\"units-1-error\""
        );
        assert_eq!(errors.attrs("bi-1"), "");
        assert_eq!(
            errors.message("units-1"),
            "<p class=\"error\" id=\"units-1-error\">Error: must be a number of at least 0 &lt;b&gt;</p>"
        );
        assert!(errors
            .summary()
            .contains("<a href=\"#units-1\">Units per week: must be a number of at least 0 &lt;b&gt;</a>"));
        assert_eq!(FieldErrors::default().summary(), "");
    }
}
