//! A real `tollgate serve` in-process on loopback, over a real SQLite file or a fresh database
//! on a real PostgreSQL server, with the reference pack, keys and tokens.
#![allow(dead_code, unused_macros, clippy::unwrap_used, clippy::expect_used)]

/// Runs one scenario on SQLite and, when a server is available, on PostgreSQL.
macro_rules! on_both {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario(super::Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = super::postgres().await {
                    super::$scenario(db).await;
                }
            }
        }
    };
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tollgate_engine::approvals::{ApprovalDecision, ApprovalRecord};
use tollgate_engine::keys::{KeyFile, PrivateKey};
use tollgate_engine::{EntityRef, Sha256Digest, Timestamp};
use tollgate_server::{Config, Server, token_hash};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite,
    /// A PostgreSQL URL of a fresh database.
    Postgres(String),
}

/// A fresh database on the PostgreSQL server named by `TOLLGATE_TEST_POSTGRES_URL` (its user
/// needs CREATEDB), or `None` with the reason printed; with `TOLLGATE_REQUIRE_POSTGRES=1` (CI)
/// a missing server fails the test instead.
pub async fn postgres() -> Option<Db> {
    let Ok(url) = std::env::var("TOLLGATE_TEST_POSTGRES_URL") else {
        if std::env::var("TOLLGATE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("TOLLGATE_REQUIRE_POSTGRES=1 but TOLLGATE_TEST_POSTGRES_URL is not set");
        }
        eprintln!(
            "skipped: PostgreSQL tests need TOLLGATE_TEST_POSTGRES_URL (a server whose user may CREATE DATABASE); .ci/run starts one"
        );
        return None;
    };
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("TOLLGATE_TEST_POSTGRES_URL={url}: cannot connect: {e}"));
    let mut name = [0u8; 8];
    getrandom::fill(&mut name).unwrap();
    let name = format!("tollgate_test_{}", hex(&name));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let query = url
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    Some(Db::Postgres(format!("{base}/{name}{query}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Keys, tokens and files for one server.
pub struct Fixture {
    pub dir: TempDir,
    pub keys: BTreeMap<&'static str, PrivateKey>,
    pub audit_key: PrivateKey,
    pub config: Config,
}

/// Tokens the fixture's token file lists (name = token).
pub const GATEWAY: &str = "gw-token-deploy-and-triage";
pub const OTHER_GATEWAY: &str = "gw-token-helper";
pub const APPROVER: &str = "approver-token";
pub const AUDITOR: &str = "auditor-token";
pub const ADMIN: &str = "admin-token";

/// The people of examples/entities.json that hold keys.
pub const PEOPLE: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

pub fn human(name: &str) -> EntityRef {
    format!("Human::\"{name}\"").parse().unwrap()
}

impl Fixture {
    pub fn new(db: &Db) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = BTreeMap::new();
        let mut keyring = serde_json::Map::new();
        for (i, name) in PEOPLE.iter().enumerate() {
            let key = PrivateKey::from_seed([u8::try_from(i).unwrap() + 1; 32]);
            keyring.insert(human(name).to_string(), json!(key.public_key().to_string()));
            keys.insert(*name, key);
        }
        std::fs::write(
            dir.path().join("keyring.json"),
            Value::Object(keyring).to_string(),
        )
        .unwrap();
        let audit_key = PrivateKey::from_seed([99; 32]);
        std::fs::write(
            dir.path().join("audit.key"),
            KeyFile {
                approver: None,
                key: audit_key.clone(),
            }
            .to_json(),
        )
        .unwrap();
        let tokens = json!({
            "gateway": {"sha256": token_hash(GATEWAY), "roles": ["gateway"],
                        "principals": ["Agent::\"deploy-bot\"", "Agent::\"triage-bot\""],
                        "entity_types": ["Document", "Ticket"]},
            "helper-gateway": {"sha256": token_hash(OTHER_GATEWAY), "roles": ["gateway"],
                        "principals": ["Agent::\"helper-bot\"", "Agent::\"ghost-bot\""]},
            "approvers": {"sha256": token_hash(APPROVER), "roles": ["approver"]},
            "audit": {"sha256": token_hash(AUDITOR), "roles": ["auditor"]},
            "ops": {"sha256": token_hash(ADMIN), "roles": ["admin"]},
        });
        std::fs::write(dir.path().join("tokens.json"), tokens.to_string()).unwrap();
        let db_url = match db {
            Db::Sqlite => format!("sqlite://{}", dir.path().join("tollgate.db").display()),
            Db::Postgres(url) => url.clone(),
        };
        // A copy of the pack, so that a test may break it and reload.
        let policies = dir.path().join("policies");
        std::fs::create_dir(&policies).unwrap();
        for entry in std::fs::read_dir(root().join("policies")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "cedar") {
                std::fs::copy(&path, policies.join(path.file_name().unwrap())).unwrap();
            }
        }
        let config = Config {
            policies,
            schema: root().join("schemas"),
            entities: Some(root().join("examples/entities.json")),
            keyring: Some(dir.path().join("keyring.json")),
            db: db_url,
            listen: "127.0.0.1:0".parse().unwrap(),
            tokens: Some(dir.path().join("tokens.json")),
            audit_key: Some(dir.path().join("audit.key")),
            pending_ttl: Duration::from_secs(3600),
            webhook: None,
        };
        Fixture {
            dir,
            keys,
            audit_key,
            config,
        }
    }

    /// A signed record by `who` for `request_hash`, issued at `issued` and valid for `ttl`.
    pub fn record(
        &self,
        who: &str,
        request_hash: &str,
        decision: ApprovalDecision,
        issued: Timestamp,
        ttl_secs: i64,
    ) -> Value {
        let hash: Sha256Digest = request_hash.parse().unwrap();
        let expires = Timestamp::from_offset_date_time(
            issued.as_offset_date_time() + time::Duration::seconds(ttl_secs),
        )
        .unwrap();
        let evidence = match decision {
            ApprovalDecision::Reject => Some(format!("{who} says no")),
            ApprovalDecision::Approve => Some(format!("{who} checked the change")),
        };
        let line = ApprovalRecord::new(hash, human(who), decision, issued, expires, evidence)
            .signed_by(&self.keys[who])
            .to_json_line();
        serde_json::from_str(&line).unwrap()
    }

    pub fn approve(&self, who: &str, request_hash: &str) -> Value {
        self.record(who, request_hash, ApprovalDecision::Approve, now(), 3600)
    }

    pub fn reject(&self, who: &str, request_hash: &str) -> Value {
        self.record(who, request_hash, ApprovalDecision::Reject, now(), 3600)
    }
}

pub fn now() -> Timestamp {
    Timestamp::from_offset_date_time(time::OffsetDateTime::now_utc()).unwrap()
}

pub fn ago(secs: i64) -> Timestamp {
    Timestamp::from_offset_date_time(
        time::OffsetDateTime::now_utc() - time::Duration::seconds(secs),
    )
    .unwrap()
}

/// A running server.
pub struct Running {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn start(config: Config) -> Running {
        let server = Server::start(config).await.unwrap();
        let base = format!("http://{}", server.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Running {
            base,
            stop: Some(stop),
            task,
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

/// A client with one token.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

/// A status and a JSON (or text) body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.to_string(),
            token: token.map(String::from),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let request = match &self.token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Answer {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    /// `POST /v1/approvals/{id}/consume`.
    pub async fn consume(&self, id: &str) -> Answer {
        self.post(&format!("/v1/approvals/{id}/consume"), &json!({}))
            .await
    }

    pub async fn decide(&self, request: &Value) -> Answer {
        self.post("/v1/decide", &json!({ "request": request }))
            .await
    }
}

/// A request for a fresh request id.
pub fn with_id(mut request: Value, id: &str) -> Value {
    request["context"]["request_id"] = json!(id);
    request
}

/// examples/request.json: triage-bot adds a token scope (single: carol or dave approve; alice
/// is who the agent acts for).
pub fn single_request() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("examples/request.json")).unwrap())
        .unwrap()
}

/// examples/deploy-request.json: deploy-bot deploys to prod (dual: alice and dave; bob is who
/// the agent acts for).
pub fn dual_request() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/deploy-request.json")).unwrap(),
    )
    .unwrap()
}
