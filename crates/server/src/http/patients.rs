//! `/api/v1/patients`: a dietician's patients; others see the patients their role links them to.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{page_params, ApiJson, ApiPath, ApiQuery, AuthUser, IfMatch};
use super::versioned;
use crate::app::AppState;
use crate::audit::Entity;
use crate::db::jobs::{JobCause, JobKind};
use crate::db::{patient_facts, Bind, DbError, Written};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use domain::dto::{Measurement, NewPatient, Page, Patient, PatientQuery, PatientUpdate};
use domain::Caller;
use uuid::Uuid;

/// The patient if the caller may see it, else 404.
pub(crate) async fn visible(app: &AppState, caller: &Caller, id: Uuid) -> ApiResult<Patient> {
    app.db
        .patient(caller.patient_scope(), id)
        .await?
        .ok_or(ApiError::NotFound("patient"))
}

/// The column writes of `change` to `current`, checked (REST `PUT` and sync push share it).
pub(crate) fn update_sets(
    current: &Patient,
    change: PatientUpdate,
) -> ApiResult<Vec<(&'static str, Bind)>> {
    let provider_after = change.provider_id.unwrap_or(current.provider_id);
    let identifier_after = match &change.provider_patient_identifier {
        Some(v) => v.is_some(),
        None => current.provider_patient_identifier.is_some(),
    };
    if identifier_after && provider_after.is_none() {
        return Err(ApiError::invalid(
            "provider_id",
            "the patient's ID at their provider needs their provider to be chosen too",
        ));
    }
    let text = |v: Option<String>| Bind::from(v);
    let mut sets: Vec<(&'static str, Bind)> = Vec::new();
    if let Some(v) = change.name {
        sets.push(("name", v.into_inner().into()));
    }
    if let Some(v) = change.email {
        sets.push(("email", v.as_str().into()));
    }
    if let Some(v) = change.contact_details {
        sets.push(("contact_details", text(v.map(String::from))));
    }
    if let Some(v) = change.medical_history {
        sets.push(("medical_history", text(v.map(String::from))));
    }
    if let Some(v) = change.dietary_preferences {
        sets.push(("dietary_preferences", text(v.map(String::from))));
    }
    if let Some(v) = change.birth_date {
        sets.push(("birth_date", text(v.map(|d| d.to_string()))));
    }
    if let Some(v) = change.provider_id {
        sets.push(("provider_id", v.into()));
    }
    if let Some(v) = change.provider_patient_identifier {
        sets.push(("provider_patient_identifier", text(v.map(String::from))));
    }
    Ok(sets)
}

/// The 409 that sends the client to the patient who already has this email.
async fn duplicate(app: &AppState, owner: Uuid, email: &str, e: DbError) -> ApiError {
    let DbError::Unique = e else { return e.into() };
    match app.db.patient_id_by_email(owner, email).await {
        Ok(existing_id) => ApiError::Conflict {
            code: "duplicate_patient",
            detail: "one of your patients already has this email; open that record instead".into(),
            existing_id,
        },
        Err(e) => e.into(),
    }
}

/// Patients the caller may see, by name; `q` matches part of the name or email.
#[utoipa::path(get, path = "/api/v1/patients", operation_id = "list_patients", tag = "patients", params(PatientQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Patient>), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<PatientQuery>,
) -> ApiResult<Json<Page<Patient>>> {
    let (limit, after) = page_params(q.limit, q.cursor.as_deref(), 2)?;
    let (items, next_cursor) = app
        .db
        .list_patients(
            caller.patient_scope(),
            q.q.as_deref(),
            limit,
            after.as_deref(),
        )
        .await?;
    // A list shows each patient's record: each is a read, recorded as a single read is.
    for patient in &items {
        app.audit
            .read(&caller, Entity::Patient, Some(patient.id), Some(patient.id))
            .await?;
    }
    Ok(Json(Page { items, next_cursor }))
}

#[utoipa::path(get, path = "/api/v1/patients/{id}", operation_id = "get_patient", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Patient, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let patient = visible(&app, &caller, id).await?;
    app.audit
        .read(&caller, Entity::Patient, Some(id), Some(id))
        .await?;
    Ok(versioned(StatusCode::OK, patient.version, patient))
}

/// Create a patient owned by the calling dietician. An email one of their patients already
/// has is a 409 carrying `existing_id`.
#[utoipa::path(post, path = "/api/v1/patients", operation_id = "create_patient", tag = "patients", security(("bearer" = [])),
    request_body = NewPatient,
    responses((status = 201, body = Patient), (status = 403, body = Problem),
              (status = 409, body = Problem, description = "duplicate_patient, with existing_id"),
              (status = 422, body = Problem)))]
pub async fn create(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(new): ApiJson<NewPatient>,
) -> ApiResult<Response> {
    caller.can_create_patient()?;
    check_new(&new)?;
    let email = new.email.as_str().to_owned();
    let made = app
        .db
        .insert_patient(caller.id, new, app.config.links)
        .await;
    created(&app, &caller, &email, made).await
}

/// The answer to a patient's creation (here, or from an inquiry): 201 with the patient, the
/// pull its link asks for queued; or what stopped it (no such provider, the duplicate
/// warning naming the patient with `email`).
pub(super) async fn created(
    app: &AppState,
    caller: &Caller,
    email: &str,
    made: Result<Patient, DbError>,
) -> ApiResult<Response> {
    let patient = match made {
        Ok(p) => p,
        Err(DbError::ForeignKey) => {
            return Err(ApiError::invalid("provider_id", "no such provider"))
        }
        Err(e) => return Err(duplicate(app, caller.id, email, e).await),
    };
    pull_after_relink(app, caller, &patient).await?;
    let location = format!("/api/v1/patients/{}", patient.id);
    Ok(super::with_location(
        versioned(StatusCode::CREATED, patient.version, patient),
        &location,
    ))
}

/// What a new patient's fields must agree on beyond each field's own check.
pub(super) fn check_new(new: &NewPatient) -> ApiResult<()> {
    if new.provider_patient_identifier.is_some() && new.provider_id.is_none() {
        return Err(ApiError::invalid(
            "provider_id",
            "the patient's ID at their provider needs their provider to be chosen too",
        ));
    }
    Ok(())
}

/// Update a patient (their dietician only); absent fields are kept, `null` clears.
/// Honours `If-Match`.
#[utoipa::path(put, path = "/api/v1/patients/{id}", operation_id = "update_patient", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version this edit is based on")),
    request_body = PatientUpdate,
    responses((status = 200, body = Patient), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    IfMatch(expected): IfMatch,
    ApiJson(change): ApiJson<PatientUpdate>,
) -> ApiResult<Response> {
    let patient = visible(&app, &caller, id).await?;
    caller.can_update_patient(&patient_facts(&patient))?;
    let email = change.email.as_ref().map(|e| e.as_str().to_owned());
    let sets = update_sets(&patient, change)?;
    match app
        .db
        .update_patient(id, expected, sets, app.config.links)
        .await
    {
        Ok(Written::Done((p, relinked))) => {
            if relinked {
                pull_after_relink(&app, &caller, &p).await?;
            }
            // The answer carries the whole record, not only what was sent: a read.
            app.audit
                .read(&caller, Entity::Patient, Some(id), Some(id))
                .await?;
            Ok(versioned(StatusCode::OK, p.version, p))
        }
        Ok(Written::Missing) => Err(ApiError::NotFound("patient")),
        Ok(Written::Stale) => Err(ApiError::Stale),
        Err(DbError::ForeignKey) => Err(ApiError::invalid("provider_id", "no such provider")),
        Err(e) => Err(duplicate(&app, caller.id, email.as_deref().unwrap_or_default(), e).await),
    }
}

/// After a write that changed what finds the patient at their PHP (which forgot the old
/// match in the same transaction: `db::patients::relink_in`), the pull starts over. REST `PUT`
/// and sync push (updates, restores, and inserts with a provider) both end here.
pub(crate) async fn pull_after_relink(
    app: &AppState,
    caller: &Caller,
    after: &Patient,
) -> ApiResult<()> {
    if after.provider_id.is_some() {
        app.enqueue(
            JobKind::Pull,
            after.id,
            None,
            JobCause::Created,
            Some(caller.id),
        )
        .await?;
    }
    Ok(())
}

/// Delete a patient (their dietician only), with their documents and shares.
#[utoipa::path(delete, path = "/api/v1/patients/{id}", operation_id = "delete_patient", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let patient = visible(&app, &caller, id).await?;
    caller.can_update_patient(&patient_facts(&patient))?;
    if app.db.delete_patient(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("patient"))
    }
}

/// The patient's values of the measures followed over time (weight, BMI, blood pressure,
/// HbA1c, glucose, lipids, eGFR) from their PHP, as reported there (units unconverted), by
/// code and date. Admins, the patient's dietician and the patient; each read is audited.
#[utoipa::path(get, path = "/api/v1/patients/{patient_id}/measurements", operation_id = "list_patient_measurements", tag = "patients",
    security(("bearer" = [])), params(("patient_id" = Uuid, Path)),
    responses((status = 200, body = Vec<Measurement>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn measurements(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(patient_id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<Measurement>>> {
    let patient = visible(&app, &caller, patient_id).await?;
    caller.can_read_measurements(&patient_facts(&patient), patient_id)?;
    let values = app.db.measurements(patient_id).await?;
    app.audit
        .read(&caller, Entity::Measurements, None, Some(patient_id))
        .await?;
    Ok(Json(values))
}
