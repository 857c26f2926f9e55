//! Building and running the HTTP server (docs/style.md §1): `Application::build` binds the listener
//! (port 0 in tests), runs migrations and exposes `port()`.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpMessage, HttpRequest, HttpResponse, HttpServer};
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, AppState};
use crate::auth::Authenticator;
use crate::config::Settings;
use crate::db;
use crate::domain::FieldError;
use crate::error::{ApiError, PROBLEM_JSON};
use crate::fhir;
use crate::hl7::mllp;
use crate::metrics::Metrics;
use crate::openapi::ApiDoc;
use crate::store::batches::{self, Batches};
use crate::store::Store;
use crate::telemetry::RedactedRootSpan;

/// JSON bodies above this are refused with 413 (docs/design.md §4).
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] db::DbSetupError),
    #[error("cannot get a database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error(transparent)]
    Key(#[from] crate::auth::KeyError),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
    #[error("cannot start the write batch threads: {0}")]
    Threads(std::io::Error),
}

pub struct Application {
    port: u16,
    server: Server,
    /// The HL7 v2 listener, when `PAT_MLLP_LISTEN` is set (docs/design.md §10).
    mllp: Option<mllp::Listener>,
}

impl Application {
    /// Connects, migrates, binds. The server does not run until `run_until_stopped`.
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        let pool = db::pool(
            settings.database_url.expose(),
            settings.db_pool_size,
            settings.db_timeout,
        )?;
        {
            let mut conn = pool.get()?;
            db::migrate(&mut conn.inner)?;
        }
        let listener = TcpListener::bind(&settings.listen).map_err(|source| StartError::Listen {
            address: settings.listen.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                address: settings.listen.clone(),
                source,
            })?
            .port();
        // The replica is not migrated (it follows the primary) nor needed to start: until it
        // answers, statistics are 503 and everything else works.
        let statistics_pool = match &settings.statistics_database_url {
            Some(url) => db::pool(url.expose(), settings.statistics_pool_size, settings.db_timeout)?,
            None => pool.clone(),
        };
        // The key is checked before the write batch threads start, as before there was a state
        // to share.
        let authenticator = web::Data::new(Authenticator::new(&settings.jwt)?);
        let state = state(pool, statistics_pool, settings)?;
        // Bound with the HTTP listener, in the same process, on the same state and stores.
        let mllp =
            match &state.settings.mllp.listen {
                Some(address) => Some(mllp::Listener::bind(address, state.get_ref().clone()).await.map_err(
                    |source| StartError::Listen {
                        address: address.clone(),
                        source,
                    },
                )?),
                None => None,
            };
        let server = serve(listener, state, authenticator)?;
        Ok(Application { port, server, mllp })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the HL7 v2 listener is bound to (`None` when `PAT_MLLP_LISTEN` is unset).
    pub fn mllp_addr(&self) -> Option<SocketAddr> {
        self.mllp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Runs until SIGINT or SIGTERM; in-flight requests are finished first (up to 30 s). The HL7
    /// listener stops with the HTTP server: a message in flight then is not acknowledged, so the
    /// sender sends it again (a replay if it was committed).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let mllp = self.mllp.map(|listener| tokio::spawn(listener.run()));
        let stopped = self.server.await;
        if let Some(task) = mllp {
            task.abort();
        }
        stopped
    }
}

/// What the handlers and the HL7 listener share: the stores (with the PostgreSQL write batches)
/// and the settings.
fn state(pool: db::Pool, statistics_pool: db::Pool, settings: Settings) -> Result<web::Data<AppState>, StartError> {
    let batches = match db::Backend::from_url(settings.database_url.expose())? {
        db::Backend::Postgres if settings.write_batch_size > 0 => {
            let connections = db::batch_pool(
                settings.database_url.expose(),
                batches::CONNECTIONS,
                settings.db_timeout,
            )?;
            Some(Arc::new(
                Batches::start(&connections, settings.write_batch_size).map_err(StartError::Threads)?,
            ))
        }
        _ => None,
    };
    Ok(web::Data::new(AppState {
        store: Store::new(pool, statistics_pool, batches),
        oidc: Arc::new(crate::oidc::Provider::new(settings.oidc.clone())),
        settings: Arc::new(settings),
    }))
}

fn serve(
    listener: TcpListener,
    state: web::Data<AppState>,
    authenticator: web::Data<Authenticator>,
) -> Result<Server, StartError> {
    let metrics = web::Data::new(Metrics::default());
    let server = HttpServer::new(move || {
        let (app, _) = api::routes(
            App::new()
                .app_data(authenticator.clone())
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(json_config())
                .app_data(query_config())
                .into_utoipa_app()
                .openapi(ApiDoc::openapi()),
        )
        .split_for_parts();
        app.service(
            SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/api-docs/openapi.json", crate::openapi::document()),
        )
        .configure(fhir::routes)
        .configure(crate::web::routes)
        .route("/docs", web::get().to(redirect_to_docs))
        .default_service(web::to(no_route))
        .wrap(ErrorHandlers::new().default_handler(problem_json_for_plain_errors))
        .wrap_fn(|request, service| {
            use actix_web::dev::Service;
            let started = Instant::now();
            let method = request.method().to_string();
            let metrics = request.app_data::<web::Data<Metrics>>().cloned();
            let response = service.call(request);
            async move {
                let mut response = response.await?;
                let route = response
                    .request()
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_owned());
                if let Some(metrics) = metrics {
                    metrics.observe(&method, &route, response.status().as_u16(), started.elapsed());
                }
                let request_id: Option<String> = response
                    .request()
                    .extensions()
                    .get::<RequestId>()
                    .map(|id| id.to_string());
                if let Some(value) = request_id.and_then(|id: String| HeaderValue::from_str(&id).ok()) {
                    response
                        .headers_mut()
                        .insert(header::HeaderName::from_static("x-request-id"), value);
                }
                Ok(response)
            }
        })
        .wrap(TracingLogger::<RedactedRootSpan>::new())
    })
    .shutdown_timeout(30)
    .listen(listener)
    .map_err(|source| StartError::Listen {
        address: "listener".into(),
        source,
    })?
    .run();
    Ok(server)
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BYTES)
        .error_handler(|error, _| {
            use actix_web::error::JsonPayloadError as E;
            let api_error = match &error {
                E::OverflowKnownLength { .. } | E::Overflow { .. } => ApiError::PayloadTooLarge,
                E::ContentType => ApiError::UnsupportedMediaType("send the body as application/json".into()),
                E::Deserialize(e) if e.is_data() => {
                    ApiError::validation("body", "must be a JSON object of the documented shape")
                }
                E::Deserialize(e) => ApiError::BadRequest {
                    detail: format!("the body is not valid JSON: {e}"),
                    errors: vec![FieldError::new("body", "not valid JSON")],
                },
                _ => ApiError::BadRequest {
                    detail: "the body could not be read".into(),
                    errors: vec![],
                },
            };
            api_error.into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        ApiError::BadRequest {
            detail: format!("the query string is not valid: {error}"),
            errors: vec![FieldError::new("query", error.to_string())],
        }
        .into()
    })
}

async fn redirect_to_docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// No route matched: 405 when the path exists under another method, with the `Allow` header RFC
/// 9110 requires (the methods the OpenAPI document lists for the path; the undocumented Swagger
/// UI routes are GET only), else 404.
async fn no_route(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    if request.resource_map().has_resource(request.path()) {
        let allow = crate::openapi::allowed_methods(request.path())
            .or_else(|| fhir::allowed_methods(request.path()))
            .unwrap_or("GET");
        let mut response = actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        Ok(response)
    } else {
        Err(ApiError::NotFound("there is no such resource".into()))
    }
}

/// Any error response that is not already problem+json (actix's own, Swagger UI's) gets the same
/// problem+json body as every other error; under `/fhir` every error becomes an OperationOutcome
/// instead (`fhir::outcome`, docs/design.md §11).
fn problem_json_for_plain_errors<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // The web pages answer their errors as HTML pages of their own (`web::WebError`).
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if crate::web::is_web_path(response.request().path()) && is_html {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    if fhir::is_fhir_path(response.request().path()) {
        return Ok(ErrorHandlerResponse::Future(Box::pin(fhir::outcome::rewrite(response))));
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    let status = response.status();
    let api_error = match status.as_u16() {
        400 => ApiError::BadRequest {
            detail: "the request is malformed".into(),
            errors: vec![],
        },
        404 => ApiError::NotFound("there is no such resource".into()),
        405 => ApiError::MethodNotAllowed,
        413 => ApiError::PayloadTooLarge,
        415 => ApiError::UnsupportedMediaType("unsupported content type".into()),
        503 => ApiError::Unavailable("unavailable".into()),
        s if s >= 500 => ApiError::Internal(format!("plain {s} error response")),
        _ => ApiError::BadRequest {
            detail: "the request could not be handled".into(),
            errors: vec![],
        },
    };
    let mut problem = api_error.problem();
    problem.status = status.as_u16();
    let body: BoxBody = BoxBody::new(problem.to_json());
    let (request, old) = response.into_parts();
    let mut new = HttpResponse::with_body(status, body);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    new.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    let response: ServiceResponse<EitherBody<B, BoxBody>> = ServiceResponse::new(request, new).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(response))
}
