//! Reference paths, for benchmarks and differential tests only: plain Cedar on the same
//! requests, and tollgate's decision without its action index. Hidden from the documentation
//! and outside the supported API: it changes with the engine's internals.
//!
//! It is a hidden module rather than a cargo feature because `tollgate bench` compares against
//! plain Cedar at run time, so the CLI needs it in every build; a feature would only add a
//! second build of the engine for the workspace's tests.

use cedar_policy::{Authorizer, Context, EntityUid, Request};
use serde_json::Value;

use crate::model::decision::Decision;
use crate::model::request::ProposedAction;
use crate::pack::{InputError, Pack, PreparedEntities};
use crate::timestamp::Timestamp;

/// A request as plain Cedar receives it: uids and context JSON (with `now` filled).
#[derive(Debug, Clone)]
pub struct PlainRequest {
    principal: EntityUid,
    action: EntityUid,
    resource: EntityUid,
    context: Value,
}

impl PlainRequest {
    /// The same request tollgate would evaluate for `request` at `at`.
    pub fn new(pack: &Pack, request: &ProposedAction, at: Timestamp) -> Result<Self, InputError> {
        let cedar = pack.cedar_request_checked_by_cedar(request, at)?;
        let context = cedar
            .context()
            .and_then(|c| c.to_json_value().ok())
            .unwrap_or(Value::Null);
        Ok(Self {
            principal: request.principal.uid().clone(),
            action: request.action.uid().clone(),
            resource: request.resource.uid().clone(),
            context,
        })
    }
}

/// Authorises with plain Cedar against every policy of `pack` as written, doing what a service
/// without tollgate would: build the Cedar request from JSON (validated against the schema) and
/// authorise it. `Some(true)` for allow, `None` if the request could not be built.
pub fn plain_cedar(
    pack: &Pack,
    entities: &PreparedEntities,
    request: &PlainRequest,
) -> Option<bool> {
    let schema = pack.schema().map(|s| s.cedar());
    let context = Context::from_json_value(
        request.context.clone(),
        schema.map(|s| (s, &request.action)),
    )
    .ok()?;
    let cedar = Request::new(
        request.principal.clone(),
        request.action.clone(),
        request.resource.clone(),
        context,
        schema,
    )
    .ok()?;
    let response = Authorizer::new().is_authorized(&cedar, pack.cedar_policies(), entities.cedar());
    Some(response.decision() == cedar_policy::Decision::Allow)
}

/// [`Pack::decide`] evaluating every policy of the pack, without the action index: what the
/// index must never change (`tests/index_differential.rs`).
pub fn decide_unindexed(
    pack: &Pack,
    request: &ProposedAction,
    entities: &PreparedEntities,
    at: Timestamp,
) -> Result<Decision, InputError> {
    pack.decide_unindexed(request, entities, at)
}
