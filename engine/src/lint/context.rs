//! What every rule sees: the pack (loaded leniently), the schema, each policy's scope facts,
//! the decided workflow steps, and the day.

use std::collections::BTreeSet;

use crate::model::decision::Decision;
use crate::model::policy::{PolicyId, PolicyInfo, RejectedPolicy};
use crate::pack::{Pack, ValidationIssue};
use crate::schema::PackSchema;
use crate::timestamp::CalendarDate;

use super::LintError;
use super::finding::{Location, Origin, Related, Span};
use super::lenient::LenientPack;
use super::scope::{PolicyFacts, SchemaIndex};
use super::text::PolicyText;
use super::workflow::{REQUEST_ID, WorkflowError, WorkflowFile};

/// The analysed pack, as the rules see it.
pub struct LintContext<'a> {
    lenient: &'a LenientPack,
    schema: &'a PackSchema,
    facts: Vec<PolicyFacts>,
    /// Ids of policies that fail strict validation: rules that reason about types skip them.
    invalid: BTreeSet<PolicyId>,
    runs: Vec<WorkflowRun<'a>>,
    today: CalendarDate,
}

/// A workflow with each step's decision.
pub(crate) struct WorkflowRun<'a> {
    pub(crate) file: &'a WorkflowFile,
    pub(crate) decisions: Vec<Decision>,
}

impl<'a> LintContext<'a> {
    pub(crate) fn new(
        lenient: &'a LenientPack,
        workflows: &'a [WorkflowFile],
        today: CalendarDate,
    ) -> Result<Self, LintError> {
        let pack = &lenient.pack;
        let schema = pack.schema().ok_or(LintError::NoSchema)?;
        let index = SchemaIndex::new(schema);
        let facts = pack
            .policies()
            .iter()
            .map(|p| PolicyFacts::of(p.cedar(), &index))
            .collect();
        let invalid = lenient
            .validation_errors
            .iter()
            .filter_map(|e| e.policy.clone())
            .collect();
        let runs = workflows
            .iter()
            .map(|file| decide_workflow(pack, schema, file, today))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            lenient,
            schema,
            facts,
            invalid,
            runs,
            today,
        })
    }

    /// The pack (policies with a valid tier).
    pub(crate) fn pack(&self) -> &Pack {
        &self.lenient.pack
    }

    /// The schema.
    pub(crate) fn schema(&self) -> &PackSchema {
        self.schema
    }

    /// The day lint runs on.
    pub(crate) fn today(&self) -> CalendarDate {
        self.today
    }

    /// Every policy with a valid tier, with its scope facts.
    pub(crate) fn policies(&self) -> impl Iterator<Item = (&PolicyInfo, &PolicyFacts)> {
        self.pack().policies().iter().zip(&self.facts)
    }

    /// The facts of the policy with id `id`.
    pub(crate) fn facts_of(
        &self,
        id: &(impl AsRef<str> + ?Sized),
    ) -> Option<(&PolicyInfo, &PolicyFacts)> {
        let id = id.as_ref();
        self.policies().find(|(p, _)| p.id().as_str() == id)
    }

    /// Whether the policy fails strict validation.
    pub(crate) fn is_invalid(&self, id: &PolicyId) -> bool {
        self.invalid.contains(id)
    }

    /// Policies set aside for an invalid `@tier`.
    pub(crate) fn rejected(&self) -> &[RejectedPolicy] {
        &self.lenient.rejected
    }

    /// Strict validation errors and warnings.
    pub(crate) fn validation(&self) -> impl Iterator<Item = &ValidationIssue> {
        self.lenient
            .validation_errors
            .iter()
            .chain(&self.lenient.validation_warnings)
    }

    /// The decided workflows.
    pub(crate) fn workflows(&self) -> &[WorkflowRun<'a>] {
        &self.runs
    }

    /// The text of policy file `name`.
    pub(crate) fn file_text(&self, name: &str) -> &str {
        self.pack()
            .source()
            .policies
            .iter()
            .find(|f| f.name == name)
            .map_or("", |f| f.text.as_str())
    }

    /// The policy's text, for finding spans inside it.
    pub(crate) fn text_of(&self, p: &PolicyInfo) -> PolicyText {
        let (offset, len) = p.span();
        PolicyText::new(self.file_text(p.file()), offset, len)
    }

    /// A location in policy file `file`.
    pub(crate) fn at(&self, file: &str, (offset, len): (usize, usize)) -> Location {
        Location {
            origin: Origin::Policy,
            file: file.to_string(),
            span: Span::in_text(self.file_text(file), offset, len),
        }
    }

    /// The policy's head (`permit (...)`), where most findings point.
    pub(crate) fn head_of(&self, p: &PolicyInfo) -> Location {
        self.at(p.file(), self.text_of(p).head())
    }

    /// A pointer to policy `p` that explains a finding elsewhere.
    pub(crate) fn related(&self, p: &PolicyInfo, message: impl Into<String>) -> Related {
        Related {
            location: self.head_of(p),
            message: message.into(),
        }
    }
}

/// Decides every step of `file`.
fn decide_workflow<'a>(
    pack: &Pack,
    schema: &PackSchema,
    file: &'a WorkflowFile,
    today: CalendarDate,
) -> Result<WorkflowRun<'a>, WorkflowError> {
    let err = |message: String| WorkflowError {
        file: file.source.name.clone(),
        message,
    };
    let entities = pack
        .entities_from_json(&file.entities)
        .map_err(|e| err(e.to_string()))?;
    let mut decisions = Vec::new();
    for index in 0..file.workflow.steps.len() {
        let request = file.request(index, |action| schema.context_declares(action, REQUEST_ID))?;
        let at = file.at(index, today.start_of_day());
        let decision = pack
            .decide(&request, &entities, at)
            .map_err(|e| err(format!("step {}: {e}", index + 1)))?;
        decisions.push(decision);
    }
    Ok(WorkflowRun { file, decisions })
}
