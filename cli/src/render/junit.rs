//! `test --junit`: JUnit XML for CI test reports, one suite per test file and one case per case.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use tollgate_engine::Pack;
use tollgate_engine::testcase::{CaseResult, SuiteReport};

/// The report as XML. The policy-set hash is a property of each suite, so a report says which
/// pack it tested.
pub fn xml(report: &SuiteReport, pack: &Pack) -> miette::Result<String> {
    let mut junit = Report::new("tollgate");
    for file in &report.files {
        let name = file.path.display().to_string();
        let mut suite = TestSuite::new(name.as_str());
        suite.add_property(("policy_set", pack.hash().to_string().as_str()));
        for case in &file.cases {
            let status = if case.passed() {
                TestCaseStatus::success()
            } else {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(case.failures.first().map_or("", String::as_str))
                    .set_description(details(case));
                status
            };
            let mut test_case = TestCase::new(case.name.as_str(), status);
            test_case.set_classname(name.as_str());
            suite.add_test_case(test_case);
        }
        junit.add_test_suite(suite);
    }
    junit
        .to_string()
        .map_err(|e| miette::miette!("writing the JUnit report: {e}"))
}

/// Every failure, then the policies that determined the decision.
fn details(case: &CaseResult) -> String {
    let mut s = case.failures.join("\n");
    if let Ok(d) = &case.actual {
        for p in &d.determining {
            s.push_str(&format!("\ndetermining: {} at {}", p.id, p.source));
        }
    }
    s
}
