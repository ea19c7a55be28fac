//! Sessions, CSRF tokens and the login rate limit, all in memory (a restart logs everyone out,
//! which is the safe direction).
//!
//! - A session is a random 256-bit token in the `alara_session` cookie (`HttpOnly`,
//!   `SameSite=Strict`, `Secure` unless turned off for plain-HTTP development), mapped here to
//!   the user, the role and the session's CSRF token. Sessions expire after a fixed lifetime.
//! - Every form carries the session's CSRF token in a hidden `csrf` field; a POST without the
//!   right one is refused (403). The login form, before any session, uses a token of its own in
//!   the `alara_login` cookie (double submit).
//! - Failed logins are counted per client address and per user name over a sliding window;
//!   past the allowance, logins are refused (429) until the window moves on, whatever the
//!   password.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Result;
use crate::users::{Role, random_bytes};

/// Cookie holding the session token.
pub const SESSION_COOKIE: &str = "alara_session";
/// Cookie holding the login form's CSRF token.
pub const LOGIN_COOKIE: &str = "alara_login";
/// Cookie holding the language.
pub const LANG_COOKIE: &str = "alara_lang";

/// A logged-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Login name.
    pub user: String,
    /// Role at login.
    pub role: Role,
    /// The CSRF token every form of this session must carry.
    pub csrf: String,
    expires: Instant,
}

/// A fresh random token, hex.
pub fn token() -> Result<String> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// Compares two tokens in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The sessions.
#[derive(Debug)]
pub struct Sessions {
    lifetime: Duration,
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Sessions that last `lifetime`.
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions { lifetime, map: Mutex::new(HashMap::new()) }
    }

    /// Opens a session; returns its cookie token.
    pub fn open(&self, user: &str, role: Role) -> Result<String> {
        let id = token()?;
        let s = Session { user: user.to_string(), role, csrf: token()?, expires: Instant::now() + self.lifetime };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        map.insert(id.clone(), s);
        Ok(id)
    }

    /// The live session of a token.
    pub fn get(&self, id: &str) -> Option<Session> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).filter(|s| s.expires > Instant::now()).cloned()
    }

    /// Closes a session.
    pub fn close(&self, id: &str) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// Closes every session of a user (removed, or role changed).
    pub fn close_user(&self, user: &str) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, s| s.user != user);
    }
}

/// Failed-login counting.
#[derive(Debug)]
pub struct Limiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Limiter {
    /// At most `max_failures` failures per client and per name within `window`.
    pub fn new(max_failures: usize, window: Duration) -> Limiter {
        Limiter { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    fn keys(ip: IpAddr, name: &str) -> [String; 2] {
        [format!("ip:{ip}"), format!("user:{name}")]
    }

    /// Whether a login attempt from `ip` for `name` may be tried now.
    pub fn allowed(&self, ip: IpAddr, name: &str) -> bool {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        Self::keys(ip, name).iter().all(|k| {
            let v = map.entry(k.clone()).or_default();
            v.retain(|t| now.duration_since(*t) < self.window);
            v.len() < self.max_failures
        })
    }

    /// Records a failed attempt.
    pub fn failed(&self, ip: IpAddr, name: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for k in Self::keys(ip, name) {
            map.entry(k).or_default().push(now);
        }
    }

    /// Forgets the failures of a name after a successful login (the address keeps its count:
    /// one good account must not reset guessing at others).
    pub fn succeeded(&self, name: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&format!("user:{name}"));
    }
}

/// The value of a cookie in a `Cookie` header.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure when `secure`.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_open_get_close() {
        let s = Sessions::new(Duration::from_secs(60));
        let id = s.open("marie", Role::Advisor).unwrap();
        let got = s.get(&id).unwrap();
        assert_eq!((got.user.as_str(), got.role), ("marie", Role::Advisor));
        assert_eq!(got.csrf.len(), 64);
        assert!(s.get("forged").is_none());
        s.close_user("marie");
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn expired_sessions_are_gone() {
        let s = Sessions::new(Duration::ZERO);
        let id = s.open("marie", Role::Viewer).unwrap();
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn limiter_blocks_after_the_allowance_per_ip_and_per_name() {
        let l = Limiter::new(3, Duration::from_secs(600));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.allowed(ip, "marie"));
            l.failed(ip, "marie");
        }
        assert!(!l.allowed(ip, "marie"));
        assert!(!l.allowed(ip, "paul"), "the address is blocked for every name");
        assert!(!l.allowed(other, "marie"), "the name is blocked from every address");
        assert!(l.allowed(other, "paul"));
    }

    #[test]
    fn token_comparison() {
        assert!(same_token("abcd", "abcd"));
        assert!(!same_token("abcd", "abce"));
        assert!(!same_token("abcd", "abc"));
    }
}
