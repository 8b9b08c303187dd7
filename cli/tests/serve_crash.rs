//! SIGKILL a `tollgate serve` replica while 20 clients decide and approve: nothing it
//! acknowledged is lost, and the audit chain verifies. On PostgreSQL with two replicas (the
//! survivor keeps serving), and on SQLite (the one server is restarted on the same file).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{listening_url, repo};
use tollgate_engine::approvals::{ApprovalDecision, ApprovalRecord};
use tollgate_engine::audit::{ChainCheck, ChainHead, audit_chain};
use tollgate_engine::keys::{KeyFile, PrivateKey};
use tollgate_engine::{EntityRef, Timestamp};

const GATEWAY: &str = "crash-test-gateway";
const APPROVER: &str = "crash-test-approver";
const AUDITOR: &str = "crash-test-auditor";

fn sha256_hex(text: &str) -> String {
    tollgate_server::token_hash(text)
}

struct Setup {
    dir: tempfile::TempDir,
    carol: PrivateKey,
    audit: PrivateKey,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let carol = PrivateKey::from_seed([3; 32]);
    let audit = PrivateKey::from_seed([42; 32]);
    std::fs::write(
        dir.path().join("keyring.json"),
        json!({"Human::\"carol\"": carol.public_key().to_string()}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("audit.key"),
        KeyFile {
            approver: None,
            key: audit.clone(),
        }
        .to_json(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tokens.json"),
        json!({
            "gw": {"sha256": sha256_hex(GATEWAY), "roles": ["gateway"], "principals": ["Agent::\"triage-bot\""]},
            "people": {"sha256": sha256_hex(APPROVER), "roles": ["approver"]},
            "audit": {"sha256": sha256_hex(AUDITOR), "roles": ["auditor"]},
        })
        .to_string(),
    )
    .unwrap();
    Setup { dir, carol, audit }
}

/// `tollgate serve` on a free port; returns the child and its base URL.
fn serve(setup: &Setup, db: &str) -> (Child, String) {
    let d = setup.dir.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(repo())
        .args(["serve", "--policies", "policies", "--schema", "schemas"])
        .args(["--entities", "examples/entities.json"])
        .arg("--keyring")
        .arg(d.join("keyring.json"))
        .arg("--tokens")
        .arg(d.join("tokens.json"))
        .arg("--audit-key")
        .arg(d.join("audit.key"))
        .args(["--db", db, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base =
        listening_url(&mut child).unwrap_or_else(|line| panic!("no listening line: {line:?}"));
    (child, base)
}

/// What the servers acknowledged.
#[derive(Default)]
struct Acked {
    /// Approval request id and request hash of every acknowledged decide.
    decisions: Vec<(String, String)>,
    /// Approval request ids whose record was acknowledged as counted.
    records: Vec<String>,
}

fn post(client: &reqwest::blocking::Client, url: &str, token: &str, body: &Value) -> Option<Value> {
    let response = client.post(url).bearer_auth(token).json(body).send().ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().ok()
}

/// 20 clients deciding and approving for `seconds`, each against `bases[i % len]`, falling back
/// to the other bases when one stops answering.
fn load(setup: &Setup, bases: Vec<String>, seconds: u64) -> Arc<Mutex<Acked>> {
    let acked = Arc::new(Mutex::new(Acked::default()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut threads = Vec::new();
    for client_no in 0..20usize {
        let (bases, acked, carol) = (bases.clone(), acked.clone(), setup.carol.clone());
        threads.push(std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let base = &bases[(client_no + n) % bases.len()];
                // A distinct call each time: the scopes differ.
                let request = json!({
                    "principal": "Agent::\"triage-bot\"", "action": "Action::\"add_token_scope\"",
                    "resource": "Token::\"ci\"",
                    "context": {"request_id": format!("crash-{client_no}-{n}"), "environment": "prod",
                                "scopes": [format!("read:crash-{client_no}-{n}")]}
                });
                let Some(decided) = post(&client, &format!("{base}/v1/decide"), GATEWAY, &json!({"request": request})) else {
                    continue;
                };
                let id = decided["approval"]["id"].as_str().unwrap().to_string();
                let hash = decided["request"].as_str().unwrap().to_string();
                acked.lock().unwrap().decisions.push((id.clone(), hash.clone()));
                let now = Timestamp::from_offset_date_time(time::OffsetDateTime::now_utc()).unwrap();
                let expires = Timestamp::from_offset_date_time(
                    time::OffsetDateTime::now_utc() + time::Duration::hours(1),
                )
                .unwrap();
                let carol_ref: EntityRef = "Human::\"carol\"".parse().unwrap();
                let line = ApprovalRecord::new(hash.parse().unwrap(), carol_ref, ApprovalDecision::Approve, now, expires, Some("checked".into()))
                    .signed_by(&carol)
                    .to_json_line();
                let record: Value = serde_json::from_str(&line).unwrap();
                // The record goes to whichever server answers.
                for base in bases.iter().cycle().skip(client_no + n).take(bases.len()) {
                    if let Some(answer) = post(&client, &format!("{base}/v1/approvals/{id}/records"), APPROVER, &record) {
                        // A retry after a post whose answer the kill cut off finds that post
                        // already stored and counted: its own copy is a duplicate.
                        let stored = answer["approval"]["records"].as_array().is_some_and(|records| {
                            records.iter().any(|r| r["counted"] == true && r["issued_at"] == record["issued_at"])
                        });
                        assert!(answer["counted"] == true || stored, "{answer}");
                        acked.lock().unwrap().records.push(id.clone());
                        break;
                    }
                }
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    acked
}

/// Every acknowledged decision and record is in the database and in a chain that verifies.
fn check(setup: &Setup, base: &str, acked: &Acked) {
    let client = reqwest::blocking::Client::new();
    assert!(
        acked.decisions.len() >= 20,
        "only {} decisions were acknowledged",
        acked.decisions.len()
    );
    eprintln!(
        "acknowledged before and after the kill: {} decisions, {} counted records",
        acked.decisions.len(),
        acked.records.len()
    );
    let counted: BTreeSet<&String> = acked.records.iter().collect();
    for (id, _) in &acked.decisions {
        let shown: Value = client
            .get(format!("{base}/v1/approvals/{id}"))
            .bearer_auth(APPROVER)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(
            shown["id"],
            id.as_str(),
            "acknowledged approval request {id} was lost: {shown}"
        );
        if counted.contains(id) {
            assert_eq!(
                shown["state"], "allowed",
                "acknowledged record for {id} was lost: {shown}"
            );
        }
    }
    let export = client
        .get(format!("{base}/v1/audit"))
        .bearer_auth(AUDITOR)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let head = client
        .get(format!("{base}/v1/audit/head"))
        .bearer_auth(AUDITOR)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let stored = ChainHead::parse(&head, Some(&setup.audit.public_key())).unwrap();
    #[allow(clippy::field_reassign_with_default)]
    let check = {
        let mut check = ChainCheck::default();
        check.head = stored.head;
        check.count = Some(stored.count);
        check.pubkey = Some(setup.audit.public_key());
        check
    };
    let report =
        audit_chain(&export, &check).unwrap_or_else(|p| panic!("the chain does not verify: {p}"));
    assert!(report.repeats.is_empty());
    let in_chain: BTreeSet<String> = export
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["kind"] == "decision")
        .filter_map(|r| r["request_hash"].as_str().map(String::from))
        .collect();
    for (_, hash) in &acked.decisions {
        assert!(
            in_chain.contains(hash),
            "acknowledged decision {hash} is not in the audit chain"
        );
    }
    let records_in_chain = export
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["kind"] == "record")
        .count();
    assert!(records_in_chain >= acked.records.len());
}

fn kill_after(mut child: Child, delay: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        // SIGKILL: no shutdown, no flush.
        child.kill().unwrap();
        child.wait().unwrap();
    })
}

#[test]
fn sigkill_on_sqlite_loses_nothing_acknowledged() {
    let setup = setup();
    let db = format!("sqlite://{}", setup.dir.path().join("crash.db").display());
    let (server, base) = serve(&setup, &db);
    let killer = kill_after(server, Duration::from_millis(1500));
    let acked = load(&setup, vec![base], 3);
    killer.join().unwrap();
    let (mut restarted, base) = serve(&setup, &db);
    check(&setup, &base, &acked.lock().unwrap());
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}

#[test]
fn sigkill_of_one_postgres_replica_loses_nothing_acknowledged() {
    let Ok(url) = std::env::var("TOLLGATE_TEST_POSTGRES_URL") else {
        if std::env::var("TOLLGATE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("TOLLGATE_REQUIRE_POSTGRES=1 but TOLLGATE_TEST_POSTGRES_URL is not set");
        }
        eprintln!(
            "skipped: needs TOLLGATE_TEST_POSTGRES_URL (a PostgreSQL server whose user may CREATE DATABASE)"
        );
        return;
    };
    let name = format!("tollgate_crash_{}", std::process::id());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let db = format!("{}/{name}", url.rsplit_once('/').unwrap().0);
    let setup = setup();
    let (a, base_a) = serve(&setup, &db);
    let (mut b, base_b) = serve(&setup, &db);
    let killer = kill_after(a, Duration::from_millis(1500));
    let acked = load(&setup, vec![base_a, base_b.clone()], 3);
    killer.join().unwrap();
    check(&setup, &base_b, &acked.lock().unwrap());
    b.kill().unwrap();
    b.wait().unwrap();
}
