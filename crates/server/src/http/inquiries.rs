//! New-patient inquiries: the public form and endpoint a practice's website links to, and the
//! dieticians' list, conversion into a patient and dismissal.
//!
//! The public side takes no account, so it is guarded otherwise: a quota per client address
//! (429 with `Retry-After`), a 16 KiB body, a field people never see (software that fills it
//! in gets the same answer as a person and nothing is stored), and an answer that repeats
//! nothing but a reference. What it stores is read only by dieticians, signed in.

use super::auth::throttled;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{
    body_problem, page_params, parse_json, ApiJson, ApiPath, ApiQuery, AuthUser, ClientAddr,
    SmallJson, SMALL_BODY_BYTES,
};
use crate::app::AppState;
use crate::audit::Entity;
use crate::db::inquiries::{Dietician, Handled};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::access::InquiryScope;
use domain::dto::{Inquiry, InquiryQuery, InquiryReceipt, NewInquiry, NewPatient, Page, Patient};
use domain::Caller;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use uuid::Uuid;

const THANKS: &str = "Thank you: the practice has your inquiry and will contact you.";

fn scope(caller: &Caller) -> ApiResult<InquiryScope> {
    match caller.inquiry_scope() {
        InquiryScope::Nothing => {
            Err(domain::Denied("only dieticians read new-patient inquiries").into())
        }
        scope => Ok(scope),
    }
}

fn converted_already() -> ApiError {
    ApiError::Conflict {
        code: "inquiry_converted",
        detail: "a dietician made a patient of this inquiry already".into(),
        existing_id: None,
    }
}

/// Stores a valid inquiry (and queues its email) unless the hidden field was filled in; the
/// receipt either way. The quota counts both, not the ones refused for a field.
async fn receive(
    app: &AppState,
    addr: std::net::IpAddr,
    new: NewInquiry,
) -> ApiResult<InquiryReceipt> {
    if let Some(wanted) = new.practitioner_id {
        if !app.db.is_dietician(wanted).await? {
            return Err(ApiError::invalid(
                "practitioner_id",
                "not one of the practice's dieticians",
            ));
        }
    }
    app.inquiry_quota.take(addr).map_err(throttled)?;
    let id = if new.website.as_deref().is_some_and(|w| !w.trim().is_empty()) {
        tracing::info!("inquiry with the hidden field filled in; dropped");
        domain::new_id()
    } else {
        let inquiry = app
            .db
            .insert_inquiry(new, app.config.smtp.is_some())
            .await?;
        app.integrations.wake();
        tracing::info!(inquiry = %inquiry.id, "inquiry received");
        inquiry.id
    };
    Ok(InquiryReceipt {
        reference: Inquiry::reference_of(id),
        message: THANKS.into(),
    })
}

/// Send a new-patient inquiry to the practice, without an account. Limited per client address
/// (429 with `Retry-After`); leave `website` out.
#[utoipa::path(post, path = "/api/v1/inquiries", operation_id = "create_inquiry", tag = "inquiries",
    request_body = NewInquiry,
    responses((status = 202, body = InquiryReceipt), (status = 400, body = Problem), (status = 413, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem),
              (status = 429, body = Problem, description = "too many inquiries from this address; see Retry-After")))]
pub async fn create(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    SmallJson(new): SmallJson<NewInquiry>,
) -> ApiResult<(StatusCode, Json<InquiryReceipt>)> {
    let receipt = receive(&app, addr, new).await?;
    Ok((StatusCode::ACCEPTED, Json(receipt)))
}

/// New-patient inquiries the caller may read (dieticians: those naming them and those naming
/// no one), newest first.
#[utoipa::path(get, path = "/api/v1/inquiries", operation_id = "list_inquiries", tag = "inquiries",
    security(("bearer" = [])), params(InquiryQuery),
    responses((status = 200, body = Page<Inquiry>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<InquiryQuery>,
) -> ApiResult<Json<Page<Inquiry>>> {
    let scope = scope(&caller)?;
    let (limit, after) = page_params(q.limit, q.cursor.as_deref(), 1)?;
    let (items, next_cursor) = app
        .db
        .inquiries(scope, q.status, limit, after.as_deref())
        .await?;
    for i in &items {
        app.audit
            .read(&caller, Entity::Inquiry, Some(i.id), i.patient_id)
            .await?;
    }
    Ok(Json(Page { items, next_cursor }))
}

/// One inquiry.
#[utoipa::path(get, path = "/api/v1/inquiries/{id}", operation_id = "get_inquiry", tag = "inquiries",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Inquiry), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Inquiry>> {
    let scope = scope(&caller).map_err(|_| ApiError::NotFound("inquiry"))?;
    let inquiry = app
        .db
        .inquiry(scope, id)
        .await?
        .ok_or(ApiError::NotFound("inquiry"))?;
    app.audit
        .read(&caller, Entity::Inquiry, Some(id), inquiry.patient_id)
        .await?;
    Ok(Json(inquiry))
}

/// Set an inquiry aside (a converted one stays converted; a dismissed one can still be
/// converted).
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/dismiss", operation_id = "dismiss_inquiry", tag = "inquiries",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Inquiry), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "inquiry_converted")))]
pub async fn dismiss(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Inquiry>> {
    let scope = scope(&caller).map_err(|_| ApiError::NotFound("inquiry"))?;
    match app.db.dismiss_inquiry(scope, id, caller.id).await? {
        Handled::Done(inquiry) => Ok(Json(inquiry)),
        Handled::Missing => Err(ApiError::NotFound("inquiry")),
        Handled::Converted => Err(converted_already()),
    }
}

/// Make a patient of an inquiry: the patient (as `POST /patients` takes it, owned by the
/// calling dietician) and the inquiry marked converted, together. An email one of the
/// dietician's patients has already is a 409 `duplicate_patient` carrying `existing_id`.
#[utoipa::path(post, path = "/api/v1/inquiries/{id}/convert", operation_id = "convert_inquiry", tag = "inquiries",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = NewPatient,
    responses((status = 201, body = Patient), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "inquiry_converted, or duplicate_patient with existing_id"),
              (status = 422, body = Problem)))]
pub async fn convert(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewPatient>,
) -> ApiResult<Response> {
    let scope = scope(&caller).map_err(|_| ApiError::NotFound("inquiry"))?;
    caller.can_create_patient()?;
    super::patients::check_new(&new)?;
    let email = new.email.as_str().to_owned();
    let made = match app
        .db
        .convert_inquiry(scope, id, caller.id, new, app.config.links)
        .await
    {
        Ok(Handled::Done((patient, _))) => Ok(patient),
        Ok(Handled::Missing) => return Err(ApiError::NotFound("inquiry")),
        Ok(Handled::Converted) => return Err(converted_already()),
        Err(e) => Err(e),
    };
    super::patients::created(&app, &caller, &email, made).await
}

// ---------- the public page ----------

/// `GET /inquiry`: the form a practice links to from its website. Self-contained (no script,
/// no outside resource), labelled for screen readers, and it works without JavaScript.
pub async fn page(State(app): State<AppState>) -> ApiResult<Response> {
    let dieticians = app.db.dieticians().await?;
    Ok(html(
        StatusCode::OK,
        &form_page(&dieticians, &Map::new(), None),
    ))
}

/// `POST /inquiry`: the form, sent by a browser (`application/x-www-form-urlencoded`). The
/// answer is a page: thanks, or the form again with what was typed and what to fix.
pub async fn submit(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(|e| body_problem(e.status(), FORM_BODY_BYTES))?;
    // Empty fields are absent ones; the JSON path's checks and messages then apply as is.
    let fields: Map<String, Value> = form_urlencoded::parse(&body)
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let parsed = parse_json::<NewInquiry>(&serde_json::to_vec(&fields).unwrap_or_default());
    let outcome = match parsed {
        Ok(new) => receive(&app, addr, new).await,
        Err(e) => Err(e),
    };
    let (status, problem, retry_after) = match outcome {
        Ok(receipt) => return Ok(html(StatusCode::OK, &thanks_page(&receipt))),
        Err(ApiError::TooManyRequests { retry_after_secs }) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many inquiries have come from your network in the last hour. Please try again later, or call the practice.".to_owned(),
            Some(retry_after_secs),
        ),
        Err(ApiError::Invalid { detail, field } | ApiError::BadRequest { detail, field }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            match field.as_deref().map(label_of) {
                // An empty field is an absent one here: say so as a person would.
                Some(label) if detail.starts_with("missing field") => {
                    format!("{label}: please fill this in.")
                }
                Some(label) => format!("{label}: {detail}."),
                None => format!("{detail}."),
            },
            None,
        ),
        Err(e) => return Err(e),
    };
    let dieticians = app.db.dieticians().await?;
    let mut page = html(status, &form_page(&dieticians, &fields, Some(&problem)));
    if let Some(secs) = retry_after {
        page.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    Ok(page)
}

/// The `/inquiry` routes' body limit: the API endpoint's.
pub const FORM_BODY_BYTES: usize = SMALL_BODY_BYTES;

fn label_of(field: &str) -> &str {
    match field {
        "name" => "Your name",
        "email" => "Email address",
        "phone" => "Phone",
        "message" => "Message",
        "practitioner_id" => "Dietician",
        other => other,
    }
}

fn html(status: StatusCode, body: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Nothing from elsewhere; a practice may frame the page on its own site.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_owned(),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}\
label{display:block;font-weight:600;margin-top:1rem}input,textarea,select{font:inherit;width:100%;box-sizing:border-box;\
padding:.5rem;border:1px solid #555;border-radius:4px}textarea{min-height:8rem}button{margin-top:1.5rem;font:inherit;\
padding:.6rem 1.2rem;background:#1d4f91;color:#fff;border:0;border-radius:4px}button:focus,input:focus,textarea:focus,\
select:focus{outline:3px solid #f2a900;outline-offset:1px}.hint{color:#444;font-size:.9rem}.problem{border:2px solid #b00020;\
padding:.5rem 1rem;color:#b00020}.away{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}";

fn shell(title: &str, main: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><main>{main}</main></body></html>"
    )
}

fn form_page(
    dieticians: &[Dietician],
    typed: &Map<String, Value>,
    problem: Option<&str>,
) -> String {
    let value = |k: &str| escape(typed.get(k).and_then(Value::as_str).unwrap_or_default());
    let mut main = String::from("<h1>Become a patient</h1><p>Tell us how to reach you and what you would like help with. A dietician will contact you.</p>");
    if let Some(problem) = problem {
        let _ = write!(
            main,
            "<p class=\"problem\" role=\"alert\" id=\"problem\">{}</p>",
            escape(problem)
        );
    }
    let _ = write!(
        main,
        "<form method=\"post\" action=\"/inquiry\">\
         <label for=\"name\">Your name (required)</label>\
         <input id=\"name\" name=\"name\" required maxlength=\"200\" autocomplete=\"name\" value=\"{}\">\
         <label for=\"email\">Email address (required)</label>\
         <input id=\"email\" name=\"email\" type=\"email\" required maxlength=\"254\" autocomplete=\"email\" value=\"{}\">\
         <label for=\"phone\">Phone</label>\
         <input id=\"phone\" name=\"phone\" type=\"tel\" maxlength=\"50\" autocomplete=\"tel\" value=\"{}\">",
        value("name"),
        value("email"),
        value("phone"),
    );
    if !dieticians.is_empty() {
        let chosen = typed
            .get("practitioner_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        main.push_str("<label for=\"practitioner_id\">Dietician you would like to see</label><select id=\"practitioner_id\" name=\"practitioner_id\"><option value=\"\">No preference</option>");
        for d in dieticians {
            let id = d.id.to_string();
            let selected = if id == chosen { " selected" } else { "" };
            let _ = write!(
                main,
                "<option value=\"{id}\"{selected}>{}</option>",
                escape(&d.name)
            );
        }
        main.push_str("</select>");
    }
    let _ = write!(
        main,
        "<label for=\"message\">Message</label>\
         <p class=\"hint\" id=\"message-hint\">What you would like help with. Please leave out medical details: the practice asks for them once you are a patient.</p>\
         <textarea id=\"message\" name=\"message\" maxlength=\"3000\" aria-describedby=\"message-hint\">{}</textarea>\
         <div class=\"away\" aria-hidden=\"true\"><label for=\"website\">Leave this empty</label>\
         <input id=\"website\" name=\"website\" tabindex=\"-1\" autocomplete=\"off\"></div>\
         <button type=\"submit\">Send inquiry</button></form>",
        value("message"),
    );
    shell("Become a patient", &main)
}

fn thanks_page(receipt: &InquiryReceipt) -> String {
    shell(
        "Inquiry sent",
        &format!(
            "<h1>Inquiry sent</h1><p role=\"status\">{}</p><p>Your reference: <strong>{}</strong></p>",
            escape(&receipt.message),
            escape(&receipt.reference)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_what_was_typed() {
        let mut typed = Map::new();
        typed.insert("name".into(), Value::String("\"><script>x</script>".into()));
        let page = form_page(
            &[Dietician {
                id: Uuid::nil(),
                name: "<b>Dr</b>".into(),
            }],
            &typed,
            Some("<i>bad</i>"),
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<b>Dr</b>"));
        assert!(!page.contains("<i>bad</i>"));
        assert!(page.contains("&quot;&gt;&lt;script&gt;"));
    }
}
