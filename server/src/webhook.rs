//! CloudEvents 1.0 (structured JSON) about approval requests: one when a request starts
//! waiting for humans and one on each change of state. Each body is signed with HMAC-SHA256 in
//! `X-Tollgate-Signature: sha256=<hex>`. Events carry ids, tiers and states, never context
//! values. Delivery runs on its own task with retries; a decision never waits for it.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::metrics::inc;

/// Events waiting for delivery; beyond this they are dropped (and counted).
const QUEUE: usize = 1024;
/// Attempts per event.
const ATTEMPTS: u32 = 5;

/// A webhook sender.
#[derive(Clone)]
pub struct Webhook {
    queue: mpsc::Sender<Value>,
    failures: Arc<AtomicU64>,
}

/// The header carrying the body's HMAC.
pub const SIGNATURE_HEADER: &str = "x-tollgate-signature";

/// `sha256=<hex HMAC-SHA256 of body>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length; the error case cannot occur.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

impl Webhook {
    /// Starts the delivery task.
    pub fn start(url: String, secret: Vec<u8>, failures: Arc<AtomicU64>) -> Self {
        let counter = Arc::clone(&failures);
        let (queue, mut rx) = mpsc::channel::<Value>(QUEUE);
        tokio::spawn(async move {
            let client = match reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
            {
                Ok(c) => c,
                Err(_) => return,
            };
            while let Some(event) = rx.recv().await {
                let body = event.to_string();
                let sig = signature(&secret, body.as_bytes());
                let mut delay = Duration::from_millis(500);
                let mut delivered = false;
                for attempt in 0..ATTEMPTS {
                    if attempt > 0 {
                        tokio::time::sleep(delay).await;
                        delay = delay.saturating_mul(2);
                    }
                    let sent = client
                        .post(&url)
                        .header("content-type", "application/cloudevents+json")
                        .header(SIGNATURE_HEADER, &sig)
                        .body(body.clone())
                        .send()
                        .await;
                    if sent.is_ok_and(|r| r.status().is_success()) {
                        delivered = true;
                        break;
                    }
                }
                if !delivered {
                    inc(&counter);
                }
            }
        });
        Webhook { queue, failures }
    }

    /// Queues an event; never waits. A full queue drops it and counts a failure.
    pub fn send(&self, kind: &str, time: &str, data: Value) {
        let mut id = [0u8; 16];
        let id = match getrandom::fill(&mut id) {
            Ok(()) => hex::encode(id),
            Err(_) => time.to_string(),
        };
        let event = json!({
            "specversion": "1.0",
            "type": format!("dev.tollgate.approval.{kind}"),
            "source": "tollgate",
            "id": id,
            "time": time,
            "datacontenttype": "application/json",
            "data": data,
        });
        if self.queue.try_send(event).is_err() {
            inc(&self.failures);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
