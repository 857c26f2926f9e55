//! Bar charts as hand-written SVG, inline in the page (docs/design.md §12, "Charts").
//!
//! Why by hand and not a plotting crate: the Audit page needs one kind of chart (horizontal bars
//! with their values written beside them), and writing that is about a hundred lines with no new
//! dependency, whereas a crate such as `plotters` brings a drawing backend, font handling and
//! its own SVG writer that we would still have to make accessible and CSP-clean. Here every
//! piece of text goes through `html::escape`, colours are presentation attributes (no inline
//! `style`, which the CSP forbids), and the chart is readable without colour: each bar's value
//! and rate are written as text beside it, and a withheld figure is no bar but the word
//! "withheld". The table next to each chart is its text alternative.

use super::html::escape;

/// One bar: its label, its count (`None`: withheld by disclosure control) and what to write
/// after the count (a rate, a change), possibly empty.
pub struct Bar {
    pub label: String,
    pub value: Option<i64>,
    pub note: String,
}

/// Width of the whole drawing (user units; the SVG scales to its container).
const WIDTH: i64 = 600;
/// Where bars start (labels are right-aligned before it).
const BAR_X: i64 = 200;
/// The longest bar.
const BAR_MAX: i64 = 190;
const ROW: i64 = 30;
const BAR_HEIGHT: i64 = 20;
/// Bar colour: NHS blue, 7.6:1 on white, so the bars are visible to everyone; no meaning rests
/// on it.
const BAR_FILL: &str = "#005eb8";
/// Text colour: near black on white (19:1).
const TEXT_FILL: &str = "#0b0c0c";

/// The length of a bar for `value` when the longest is `max`: proportional, at least 2 units
/// for any count above zero so it can be seen.
fn bar_length(value: i64, max: i64) -> i64 {
    if value <= 0 || max <= 0 {
        return 0;
    }
    (value * BAR_MAX / max).max(2)
}

/// A horizontal bar chart as an `<svg role="img">` labelled by its `<title>` and `<desc>`
/// (`id` makes their ids unique on the page).
pub fn bar_chart(id: &str, title: &str, description: &str, bars: &[Bar]) -> String {
    let max = bars.iter().filter_map(|b| b.value).max().unwrap_or(0);
    let height = ROW * bars.len() as i64 + 10;
    let id = escape(id);
    let mut svg = format!(
        "<svg class=\"chart\" id=\"{id}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui, Arial, sans-serif\" font-size=\"16\">\
         <title id=\"{id}-title\">{title}</title><desc id=\"{id}-desc\">{description}</desc>",
        title = escape(title),
        description = escape(description),
    );
    for (i, bar) in bars.iter().enumerate() {
        let top = 5 + ROW * i as i64;
        let baseline = top + 17;
        svg.push_str(&format!(
            "<text x=\"{x}\" y=\"{baseline}\" text-anchor=\"end\" fill=\"{TEXT_FILL}\">{label}</text>",
            x = BAR_X - 8,
            label = escape(&bar.label),
        ));
        let (length, value) = match bar.value {
            Some(v) => (bar_length(v, max), v.to_string()),
            None => (0, "withheld".to_owned()),
        };
        if length > 0 {
            svg.push_str(&format!(
                "<rect x=\"{BAR_X}\" y=\"{y}\" width=\"{length}\" height=\"{BAR_HEIGHT}\" fill=\"{BAR_FILL}\"/>",
                y = top + 2,
            ));
        }
        let text = if bar.note.is_empty() {
            value
        } else {
            format!("{value} · {}", bar.note)
        };
        svg.push_str(&format!(
            "<text x=\"{x}\" y=\"{baseline}\" fill=\"{TEXT_FILL}\">{text}</text>",
            x = BAR_X + length + 6,
            text = escape(&text),
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, value: Option<i64>, note: &str) -> Bar {
        Bar {
            label: label.to_owned(),
            value,
            note: note.to_owned(),
        }
    }

    #[test]
    fn bars_are_proportional_to_the_largest_and_small_ones_stay_visible() {
        assert_eq!(bar_length(10, 10), BAR_MAX);
        assert_eq!(bar_length(5, 10), BAR_MAX / 2);
        assert_eq!(bar_length(1, 1000), 2, "a count above zero is always drawn");
        assert_eq!(bar_length(0, 10), 0);
        assert_eq!(bar_length(0, 0), 0);
    }

    #[test]
    fn a_chart_is_an_image_labelled_by_its_title_and_description_with_every_value_in_text() {
        let svg = bar_chart(
            "c",
            "Funnel <2025/26>",
            "Counts & rates",
            &[
                bar("Eligible", Some(8), ""),
                bar("Screened", Some(4), "50.0% of eligible"),
            ],
        );
        assert!(svg.starts_with("<svg class=\"chart\" id=\"c\" role=\"img\" aria-labelledby=\"c-title c-desc\""));
        assert!(
            svg.contains("<title id=\"c-title\">Funnel &lt;2025/26&gt;</title>"),
            "{svg}"
        );
        assert!(svg.contains("<desc id=\"c-desc\">Counts &amp; rates</desc>"), "{svg}");
        assert!(
            svg.contains(&format!("width=\"{BAR_MAX}\"")),
            "the largest bar is full length"
        );
        assert!(
            svg.contains(&format!("width=\"{}\"", BAR_MAX / 2)),
            "half as many, half as long"
        );
        assert!(svg.contains(">4 · 50.0% of eligible</text>"), "{svg}");
        assert!(!svg.contains("style="), "no inline style (CSP)");
    }

    #[test]
    fn a_withheld_bar_is_not_drawn_but_labelled_withheld() {
        let svg = bar_chart(
            "c",
            "t",
            "d",
            &[bar("Declined", None, ""), bar("Accepted", Some(0), "")],
        );
        assert!(
            !svg.contains("<rect"),
            "neither a withheld nor a zero count has a bar: {svg}"
        );
        assert!(svg.contains(">withheld</text>"), "{svg}");
        assert!(svg.contains(">0</text>"), "{svg}");
    }
}
