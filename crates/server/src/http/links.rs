//! `/api/v1/links`: patients' links to their PHP, for administrators to approve or refuse
//! before anything is pulled under them (see `db::links`). A dietician sees only their
//! patient's `link_approval`; what the PHP holds is for the administrator deciding.

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::app::AppState;
use crate::audit::Entity;
use crate::db::jobs::{JobCause, JobKind};
use crate::db::links::Decided;
use axum::extract::State;
use axum::Json;
use domain::dto::{LinkDecision, LinkQuery, LinkReview, Patient};
use domain::LinkApproval;
use uuid::Uuid;

/// Why anyone but an admin is refused here.
const ADMINS_ONLY: &str = "only admins review links to providers";

/// Links to review (admins only): pending ones by default, oldest first, each with the
/// record the PHP holds under it beside the patient's own demographics.
#[utoipa::path(get, path = "/api/v1/links", tag = "links", operation_id = "list_links",
    security(("bearer" = [])), params(LinkQuery),
    responses((status = 200, body = Vec<LinkReview>), (status = 403, body = Problem)))]
pub async fn list(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(q): ApiQuery<LinkQuery>,
) -> ApiResult<Json<Vec<LinkReview>>> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    let reviews = app
        .db
        .link_reviews(q.state.unwrap_or(LinkApproval::Pending))
        .await?;
    // Each shows a patient's demographics: a read of that patient.
    for r in &reviews {
        app.audit
            .read(
                &caller,
                Entity::Patient,
                Some(r.patient_id),
                Some(r.patient_id),
            )
            .await?;
    }
    Ok(Json(reviews))
}

/// Approve or refuse a patient's link (admins only). `fingerprint` is the reviewed link's:
/// a link (or the PHP record found under it) changed since gets 409 `link_changed`. Only a
/// link whose PHP record agrees with the patient can be approved (else 409
/// `link_unconfirmed`); approving queues a pull from that record.
#[utoipa::path(post, path = "/api/v1/links/{patient_id}", tag = "links",
    operation_id = "decide_link", security(("bearer" = [])),
    params(("patient_id" = Uuid, Path)), request_body = LinkDecision,
    responses((status = 200, body = Patient), (status = 403, body = Problem),
              (status = 404, body = Problem),
              (status = 409, body = Problem, description = "link_changed, link_unconfirmed"),
              (status = 422, body = Problem)))]
pub async fn decide(
    State(app): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiPath(patient_id): ApiPath<Uuid>,
    ApiJson(decision): ApiJson<LinkDecision>,
) -> ApiResult<Json<Patient>> {
    super::admin_only(&caller, ADMINS_ONLY)?;
    if decision.decision == LinkApproval::Pending {
        return Err(ApiError::invalid(
            "decision",
            "must be \"approved\" or \"refused\"",
        ));
    }
    let decided = app
        .db
        .decide_link(
            patient_id,
            &decision.fingerprint,
            decision.decision,
            caller.id,
        )
        .await?;
    match decided {
        Decided::Done(patient) => {
            if decision.decision == LinkApproval::Approved {
                app.enqueue(
                    JobKind::Pull,
                    patient_id,
                    None,
                    JobCause::Approved,
                    Some(caller.id),
                )
                .await?;
            }
            app.audit
                .read(&caller, Entity::Patient, Some(patient_id), Some(patient_id))
                .await?;
            Ok(Json(*patient))
        }
        Decided::Missing => Err(ApiError::NotFound("linked patient")),
        Decided::Unconfirmed => Err(ApiError::Conflict {
            code: "link_unconfirmed",
            detail: "the provider's record under this link does not agree with the patient (or there is none, or several); it cannot be approved: refuse it, or ask the dietician to correct the link"
                .into(),
            existing_id: None,
        }),
        Decided::Changed => Err(ApiError::Conflict {
            code: "link_changed",
            detail: "this link changed or was decided since it was reviewed; reload the list"
                .into(),
            existing_id: None,
        }),
    }
}
