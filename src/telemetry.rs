//! JSON logs with a request id on every line, and never a patient identifier (docs/style.md §12).
//!
//! The request span records the method, the route *pattern* (`/api/v1/attendances/{id}`), the
//! status and the request id, but not the path or query string: a query such as
//! `?patient_key=nhs:…` would otherwise put an NHS number in the log. Bodies are never logged.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

/// Installs the global JSON subscriber (`RUST_LOG`, default `info`). Safe to call twice.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(std::io::stdout)
        .try_init();
}

/// The root span of every request, without path or query.
pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        let span = tracing::info_span!(
            "http_request",
            http.method = %request.method(),
            http.route = %route,
            http.status_code = tracing::field::Empty,
            request_id = tracing::field::Empty,
            error.kind = tracing::field::Empty,
        );
        // TracingLogger sets the id before it builds the span; were it ever missing, the line
        // would have no request_id rather than an empty one.
        if let Some(id) = request.extensions().get::<RequestId>() {
            span.record("request_id", tracing::field::display(id));
        }
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        match outcome {
            Ok(response) => {
                span.record("http.status_code", response.status().as_u16());
                if let Some(error) = response.response().error() {
                    // The status class only: error details may describe request content.
                    let kind = if error.as_response_error().status_code().is_server_error() {
                        "server"
                    } else {
                        "client"
                    };
                    span.record("error.kind", kind);
                }
            }
            Err(error) => {
                span.record("http.status_code", error.as_response_error().status_code().as_u16());
                span.record("error.kind", "unhandled");
            }
        }
    }
}
