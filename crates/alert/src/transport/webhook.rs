//! `webhook`: HTTP POST of the JSON delivery, signed, over https (the system's OpenSSL and
//! trusted roots) or plain http.
//!
//! The header `X-Alara-Signature: sha256=<hex>` carries HMAC-SHA256 of the exact body bytes
//! under the hook's secret; a receiver recomputes it and compares in constant time. The header
//! `X-Alara-Alert-Id` repeats the leading alert's id. Any 2xx is success; anything else, a
//! timeout or a refused connection is a failure to retry.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Notifier;
use crate::Result;
use crate::alert::Delivery;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Alara-Signature";

/// `sha256=<hex of HMAC-SHA256(body)>`, the value of [`SIGNATURE_HEADER`].
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts deliveries to a URL.
pub struct WebhookNotifier {
    url: String,
    secret: Vec<u8>,
    agent: ureq::Agent,
}

impl WebhookNotifier {
    /// A notifier posting to `url`, each attempt bounded by `timeout`.
    pub fn new(url: &str, secret: Vec<u8>, timeout: Duration) -> Result<WebhookNotifier> {
        let agent = super::http_agent("webhook", url, timeout)?;
        Ok(WebhookNotifier { url: url.to_string(), secret, agent })
    }
}

impl Notifier for WebhookNotifier {
    fn send(&mut self, delivery: &Delivery<'_>, body: &[u8]) -> std::result::Result<(), String> {
        let response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header(SIGNATURE_HEADER, sign(&self.secret, body))
            .header("X-Alara-Alert-Id", &delivery.head.alert_id)
            .send(body)
            .map_err(|e| format!("POST {}: {e}", self.url))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(format!("POST {}: HTTP {status}", self.url)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
