//! Load test of `POST /v1/decide`: a real server on loopback (SQLite by default, PostgreSQL with
//! `TOLLGATE_LOAD_DB=postgres` and `TOLLGATE_TEST_POSTGRES_URL`), 32 concurrent keep-alive
//! connections, the `examples/requests.jsonl` mix with a fresh `request_id` per call, audit
//! signing on, durability as in production. Prints decisions per second and latency
//! percentiles; the numbers go to docs/performance.md.
//!
//! `cargo bench -p tollgate-server --bench serve_load` (TOLLGATE_LOAD_SECONDS, default 10;
//! TOLLGATE_LOAD_CONNECTIONS, default 32).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate_engine::keys::{KeyFile, PrivateKey};
use tollgate_server::{Config, Server, token_hash};

const TOKEN: &str = "load-test-gateway-token";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that names another bench skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"serve_load".contains(a.as_str()))
    {
        return;
    }
    let seconds = env_or("TOLLGATE_LOAD_SECONDS", 10);
    let connections = env_or("TOLLGATE_LOAD_CONNECTIONS", 32);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let requests: Vec<Value> = std::fs::read_to_string(root.join("examples/requests.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let principals: BTreeSet<String> = requests
        .iter()
        .map(|r| r["principal"].as_str().unwrap().to_string())
        .collect();
    std::fs::write(
        dir.path().join("tokens.json"),
        json!({"load": {"sha256": token_hash(TOKEN), "roles": ["gateway"], "principals": principals}})
            .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("audit.key"),
        KeyFile {
            approver: None,
            key: PrivateKey::from_seed([7; 32]),
        }
        .to_json(),
    )
    .unwrap();
    let backend = std::env::var("TOLLGATE_LOAD_DB").unwrap_or_else(|_| "sqlite".into());
    let server_rt = tollgate_server::runtime().unwrap();
    let db = if backend == "postgres" {
        let url = std::env::var("TOLLGATE_TEST_POSTGRES_URL")
            .expect("TOLLGATE_LOAD_DB=postgres needs TOLLGATE_TEST_POSTGRES_URL");
        server_rt.block_on(fresh_postgres(&url))
    } else {
        format!("sqlite://{}", dir.path().join("load.db").display())
    };
    let config = Config {
        policies: root.join("policies"),
        schema: root.join("schemas"),
        entities: Some(root.join("examples/entities.json")),
        keyring: None,
        db,
        listen: "127.0.0.1:0".parse().unwrap(),
        tokens: Some(dir.path().join("tokens.json")),
        audit_key: Some(dir.path().join("audit.key")),
        pending_ttl: Duration::from_secs(3600),
        webhook: None,
    };
    let server = server_rt.block_on(Server::start(config)).unwrap();
    let base = format!("http://{}", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    server_rt.spawn(server.run(async {
        let _ = stopped.await;
    }));

    // The clients run on their own runtime, so that the server's threads are its own.
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let requests = Arc::new(requests);
    let errors = Arc::new(AtomicU64::new(0));
    let sequence = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut latencies: Vec<Duration> = client_rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (requests, errors, sequence, base) = (
                requests.clone(),
                errors.clone(),
                sequence.clone(),
                base.clone(),
            );
            tasks.push(tokio::spawn(async move {
                // One client per task: one keep-alive connection each.
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap();
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let n = sequence.fetch_add(1, Ordering::Relaxed);
                    let mut request =
                        requests[usize::try_from(n).unwrap() % requests.len()].clone();
                    request["context"]["request_id"] = json!(format!("load-{n}"));
                    let body = json!({"request": request}).to_string();
                    let sent = Instant::now();
                    let response = client
                        .post(format!("{base}/v1/decide"))
                        .bearer_auth(TOKEN)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            latencies.push(sent.elapsed());
                        }
                        Ok(r) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            if errors.load(Ordering::Relaxed) < 5 {
                                eprintln!("{}: {}", r.status(), r.text().await.unwrap_or_default());
                            }
                        }
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            eprintln!("{e}");
                        }
                    }
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all
    });
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).copied().unwrap_or_default()
    };
    let count = latencies.len();
    println!(
        "serve_load {backend}: {count} decisions in {:.1} s = {:.0} decisions/s over {connections} connections; \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} errors",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        errors.load(Ordering::Relaxed),
    );
    let _ = stop.send(());
    drop(server_rt);
}

async fn fresh_postgres(url: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let name = format!("tollgate_load_{}", std::process::id());
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap();
    format!("{base}/{name}")
}
