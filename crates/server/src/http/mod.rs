//! The HTTP surface: `/api/v1`, its OpenAPI document, `/docs`, and health probes.

pub mod error;
pub mod extract;

mod audit;
mod auth;
mod documents;
mod inquiries;
mod jobs;
mod links;
mod logs;
mod meta;
mod patients;
mod providers;
mod push;
mod sync;
mod uploads;
mod users;

use crate::app::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use axum::routing::get;
use axum::Router;
use error::ApiError;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "healthcare-records platform API",
        description = "Patients, their healthcare documents from the Primary Healthcare Provider, \
                       sharing and the synchronization log. Errors are RFC 9457 problem+json."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth"), (name = "users"), (name = "patients"), (name = "documents"),
        (name = "logs"), (name = "providers"), (name = "links"), (name = "jobs"), (name = "inquiries"), (name = "audit"), (name = "sync"), (name = "meta")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Refuses anyone but an admin, saying `why` (403).
pub(crate) fn admin_only(caller: &domain::Caller, why: &'static str) -> error::ApiResult<()> {
    if caller.is(domain::UserType::Admin) {
        Ok(())
    } else {
        Err(domain::Denied(why).into())
    }
}

/// A JSON row with its `ETag` (the row version, for `If-Match`).
pub(crate) fn versioned<T: serde::Serialize>(
    status: axum::http::StatusCode,
    version: i64,
    body: T,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let tag = [(axum::http::header::ETAG, extract::etag(version))];
    (status, tag, axum::Json(body)).into_response()
}

/// Adds `Location: <path>` to a 201.
pub(crate) fn with_location(
    mut res: axum::response::Response,
    path: &str,
) -> axum::response::Response {
    if let Ok(v) = axum::http::HeaderValue::from_str(path) {
        res.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    res
}

/// Every route, documented and undocumented, with the cross-cutting layers.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::me))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(patients::list, patients::create))
        .routes(routes!(patients::get, patients::update, patients::delete))
        .routes(routes!(patients::measurements))
        .routes(routes!(documents::list, documents::create))
        .routes(routes!(
            documents::get,
            documents::update,
            documents::delete
        ))
        .routes(routes!(documents::content))
        .routes(routes!(uploads::send))
        .routes(routes!(documents::share))
        .routes(routes!(documents::revoke_share))
        .routes(routes!(documents::shared_documents))
        .routes(routes!(logs::list))
        .routes(routes!(logs::get))
        .routes(routes!(logs::manual_sync))
        .routes(routes!(logs::request_documents))
        .routes(routes!(providers::list, providers::create))
        .routes(routes!(providers::directory))
        .routes(routes!(
            providers::get,
            providers::replace,
            providers::delete
        ))
        .routes(routes!(providers::jwks))
        .routes(routes!(providers::test))
        .routes(routes!(links::list))
        .routes(routes!(links::decide))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::replay))
        .routes(routes!(jobs::carepatron))
        .routes(routes!(inquiries::create, inquiries::list))
        .routes(routes!(inquiries::get))
        .routes(routes!(inquiries::dismiss))
        .routes(routes!(inquiries::convert))
        .routes(routes!(audit::list))
        .routes(routes!(sync::changes))
        .routes(routes!(sync::checksums))
        .routes(routes!(sync::manifest))
        .routes(routes!(sync::rows))
        .routes(routes!(sync::stream))
        .routes(routes!(push::push))
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .split_for_parts();
    let openapi = Arc::new(openapi);
    let max_body = state.config.max_body_bytes;
    let request_id = HeaderName::from_static("x-request-id");

    api.route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = Arc::clone(&openapi);
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
    .route("/docs", get(meta::docs_page))
    .route(
        "/inquiry",
        get(inquiries::page)
            .post(inquiries::submit)
            .layer(DefaultBodyLimit::max(inquiries::FORM_BODY_BYTES)),
    )
    .fallback(|| async { ApiError::NotFound("route") })
    .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
    .layer(DefaultBodyLimit::max(max_body))
    .layer(
        // Spans name the route template, never the URI: query strings can carry names.
        TraceLayer::new_for_http()
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
            .make_span_with(|req: &Request| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str)
                    .unwrap_or("unmatched");
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), route, request_id = id)
            }),
    )
    .layer(PropagateRequestIdLayer::new(request_id.clone()))
    .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
    .with_state(state)
}
