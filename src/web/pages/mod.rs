//! The pages (docs/design.md §12): each parses its request, makes the store call the JSON API's
//! handler makes (so the same audit events are written) and renders HTML.

pub mod audit;
pub mod follow_ups;
pub mod form;
pub mod referrals;
pub mod sign_in;
pub mod slots;
pub mod today;

use actix_web::HttpResponse;

use super::session::SignedIn;
use super::{html, page};
use crate::auth::Role;

/// Who may use the day list.
pub const TODAY_ROLES: &[Role] = &[Role::Ahw, Role::Admin];
/// Who may use the referral queue (and book from it: the roles that book through the API, less
/// the EPR's engine).
pub const QUEUE_ROLES: &[Role] = &[Role::Ahw, Role::Clinician];
/// Who may use the Audit page and its CSV downloads: those who read the statistics through the
/// API (`api::statistics::ReadStatistics`).
pub const AUDIT_ROLES: &[Role] = &[Role::Auditor, Role::Admin];
/// Who may use the slots page: those who publish and withdraw slots through the API.
pub const SLOT_ROLES: &[Role] = &[Role::Ahw, Role::Admin];
/// Who may read the follow-ups due (the API's worklist readers; only an AHW records a contact).
pub const FOLLOW_UP_ROLES: &[Role] = &[Role::Ahw, Role::Admin];

/// The pages a user's roles can use, as (link, text) for the navigation.
pub fn links_for(user: &SignedIn) -> Vec<(&'static str, &'static str)> {
    let mut links = vec![];
    if user.has_any(TODAY_ROLES) {
        links.push(("/web/today", "Today"));
    }
    if user.has_any(QUEUE_ROLES) {
        links.push(("/web/referrals", "Referral queue"));
    }
    if user.has_any(AUDIT_ROLES) {
        links.push(("/web/audit", "Audit"));
    }
    if user.has_any(SLOT_ROLES) {
        links.push(("/web/slots", "Slots"));
    }
    if user.has_any(FOLLOW_UP_ROLES) {
        links.push(("/web/follow-ups", "Follow-ups due"));
    }
    links
}

/// `GET /web/`: the pages the user can use.
pub async fn home(user: SignedIn) -> HttpResponse {
    let links = links_for(&user);
    let body = if links.is_empty() {
        "<p>There is no page for your role yet. Your role's work is done through the service's API.</p>".to_owned()
    } else {
        let items: String = links
            .iter()
            .map(|(href, text)| format!("<li><a href=\"{href}\">{text}</a></li>"))
            .collect();
        format!("<ul>{items}</ul>")
    };
    html(page("Start", Some(&user), &body))
}
