//! Prometheus metrics: `http_requests_total` and `http_request_duration_seconds`, labelled by
//! method, route pattern and status (docs/design.md §4). Kept in-process; each instance is scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let Ok(mut series) = self.series.lock() else { return };
        let entry = series.entry((method.to_owned(), route.to_owned(), status)).or_default();
        entry.count += 1;
        entry.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                entry.buckets[i] += 1;
            }
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(series) = self.series.lock() else { return out };
        out.push_str("# HELP http_requests_total HTTP requests answered.\n# TYPE http_requests_total counter\n");
        for ((method, route, status), s) in series.iter() {
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(method),
                escape(route),
                s.count
            );
        }
        out.push_str(
            "# HELP http_request_duration_seconds Time to answer HTTP requests.\n\
             # TYPE http_request_duration_seconds histogram\n",
        );
        for ((method, route, status), s) in series.iter() {
            let labels = format!(
                "method=\"{}\",route=\"{}\",status=\"{status}\"",
                escape(method),
                escape(route)
            );
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(out, "http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("GET", "/api/v1/attendances/{id}", 200, Duration::from_millis(3));
        m.observe("GET", "/api/v1/attendances/{id}", 200, Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains(r#"http_requests_total{method="GET",route="/api/v1/attendances/{id}",status="200"} 2"#));
        // 3 ms is under the 5 ms bound, 30 ms is not; both are under 50 ms.
        assert!(text.contains(r#"status="200",le="0.005"} 1"#));
        assert!(text.contains(r#"status="200",le="0.05"} 2"#));
        assert!(text.contains(r#"status="200",le="+Inf"} 2"#));
    }
}
