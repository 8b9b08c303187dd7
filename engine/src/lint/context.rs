//! What every rule sees: the pack (loaded leniently), the schema, each policy's scope facts,
//! the decided workflow steps, and the day.

use std::collections::{BTreeSet, HashMap};

use cedar_policy::EntityUid;

use crate::model::decision::Decision;
use crate::model::policy::{PolicyId, PolicyInfo, RejectedPolicy};
use crate::pack::{Pack, ValidationIssue};
use crate::schema::PackSchema;
use crate::source::LineIndex;
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
    /// For each requestable action, the positions (in pack order) of the policies whose
    /// `actions` contain it. Rules that compare policies pairwise look only at policies that
    /// share an action: comparing every pair made lint quadratic in the pack's size.
    by_action: HashMap<EntityUid, Vec<usize>>,
    /// The line starts of each policy file, so a finding's position is not a scan of its file.
    lines: HashMap<&'a str, LineIndex<'a>>,
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
        let facts: Vec<PolicyFacts> = pack
            .policies()
            .iter()
            .map(|p| PolicyFacts::of(p.cedar(), &index))
            .collect();
        let mut by_action: HashMap<EntityUid, Vec<usize>> = HashMap::new();
        for (i, f) in facts.iter().enumerate() {
            for a in &f.actions {
                by_action.entry(a.clone()).or_default().push(i);
            }
        }
        let mut lines = HashMap::new();
        for f in &pack.source().policies {
            // The first file of a name, as `file_text` finds it.
            lines
                .entry(f.name.as_str())
                .or_insert_with(|| LineIndex::new(&f.text));
        }
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
            by_action,
            lines,
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

    /// The policies whose facts' `actions` contain `action`, in pack order, with their
    /// positions in [`LintContext::policies`]. A policy that cannot match `action` is not
    /// among them, so a rule that needs a shared action searches only these.
    pub(crate) fn policies_on(
        &self,
        action: &EntityUid,
    ) -> impl Iterator<Item = (usize, &PolicyInfo, &PolicyFacts)> {
        let policies = self.pack().policies();
        self.by_action
            .get(action)
            .into_iter()
            .flatten()
            .filter_map(move |&i| Some((i, policies.get(i)?, self.facts.get(i)?)))
    }

    /// How many policies can match `action`.
    pub(crate) fn count_on(&self, action: &EntityUid) -> usize {
        self.by_action.get(action).map_or(0, Vec::len)
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
            span: match self.lines.get(file) {
                Some(lines) => Span::in_lines(lines, offset, len),
                None => Span::in_text(self.file_text(file), offset, len),
            },
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
