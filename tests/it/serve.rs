//! `alara serve` end to end: the real binary serving a generated hospital's lake over HTTP,
//! driven by an HTTP client that keeps cookies by hand (so the test sees every Set-Cookie and
//! redirect), a real Prometheus Alertmanager for the `alertmanager` hook, and headless Chromium
//! (tests/browser/serve_test.py, through chromium-driver and selenium) for the pages.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{alara, run_ok, sql_json, stdout, tempdir};

/// The date the generated data end at (the generator's default end is 2026-11-01).
const AS_OF: &str = "2026-10-31";
const PASSWORD: &str = "correct horse battery";

/// A generated hospital (60 workers, every injected case) ingested into `<dir>/lake`, with
/// `config` (hooks) if given. Returns the lake.
pub fn hospital(dir: &Path, config: Option<&Path>) -> PathBuf {
    let input = dir.join("input");
    run_ok(alara().args(["generate", "--out"]).arg(&input).args(["--workers", "60", "--seed", "11"]));
    let lake = dir.join("lake");
    let mut cmd = alara();
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    run_ok(
        cmd.args(["ingest", "--lake"])
            .arg(&lake)
            .arg("--workers")
            .arg(input.join("workers.csv"))
            .arg("--procedures")
            .arg(input.join("procedures.csv"))
            .arg("--readings")
            .arg(input.join("readings.jsonl")),
    );
    lake
}

/// Adds a user with `alara user add` (password from the environment).
pub fn add_user(lake: &Path, name: &str, role: &str) {
    run_ok(
        alara().args(["user", "add", name, "--role", role, "--lake"]).arg(lake).env("ALARA_USER_PASSWORD", PASSWORD),
    );
}

/// A running `alara serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The SQL endpoint's port, when started with `--pg`.
    pub pg_port: Option<u16>,
    /// Kept open: a server whose stdout is closed dies on its next line.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    /// Starts `alara serve` on a free port and waits for its first line (the address).
    pub fn start(lake: &Path, extra: &[&str], config: Option<&Path>) -> Server {
        let mut cmd = alara();
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let mut child = cmd
            .args(["serve", "--lake"])
            .arg(lake)
            .args(["--listen", "127.0.0.1:0", "--as-of", AS_OF])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning alara serve");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut line).expect("reading the address");
        if line.is_empty() {
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("alara serve exited before listening: {err}");
        }
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no address in {line}"))
            .trim_end_matches('/')
            .to_string();
        // With --pg, the second line is the SQL endpoint's address (postgresql://HOST:PORT/alara).
        let pg_port = extra.contains(&"--pg").then(|| {
            let mut line = String::new();
            out.read_line(&mut line).expect("reading the SQL endpoint's address");
            let url =
                line.split_whitespace().find(|w| w.starts_with("postgresql://")).unwrap_or_else(|| panic!("{line}"));
            url.trim_start_matches("postgresql://").split(['/', ':']).nth(1).unwrap().parse().unwrap()
        });
        Server { child, base, pg_port, _stdout: out }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response.
pub struct Resp {
    pub status: u16,
    pub body: String,
    pub location: String,
    pub content_type: String,
}

/// An HTTP client that follows no redirect and keeps cookies itself.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    pub cookies: BTreeMap<String, String>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        let agent = ureq::Agent::config_builder().max_redirects(0).http_status_as_error(false).build().into();
        Client { agent, base: base.to_string(), cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn take(&mut self, mut r: ureq::http::Response<ureq::Body>) -> Resp {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap_or_default();
            assert!(v.contains("HttpOnly") || v.starts_with("alara_lang"), "cookie without HttpOnly: {v}");
            assert!(v.contains("SameSite=Strict"), "cookie without SameSite: {v}");
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            if let Some((k, val)) = kv.split_once('=') {
                if val.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), val.to_string());
                }
            }
        }
        let header = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let (location, content_type) = (header("location"), header("content-type"));
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_string().unwrap_or_default();
        Resp { status, body, location, content_type }
    }

    pub fn get(&mut self, path: &str) -> Resp {
        let r = self.agent.get(format!("{}{path}", self.base)).header("Cookie", self.cookie_header()).call().unwrap();
        self.take(r)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .send_form(form.iter().copied())
            .unwrap();
        self.take(r)
    }

    /// Logs in through the form (its CSRF token included); returns the response to the POST.
    pub fn login(&mut self, name: &str, password: &str) -> Resp {
        let form = self.get("/login");
        assert_eq!(form.status, 200);
        let csrf = csrf(&form.body);
        self.post("/login", &[("name", name), ("password", password), ("csrf", &csrf)])
    }
}

/// The CSRF token of the first form of a page.
pub fn csrf(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no CSRF field in the page:\n{body}"));
    body[at + 19..].split('"').next().unwrap_or_default().to_string()
}

/// Values of `name="FIELD" value="..."` in a page, in order.
fn field_values(body: &str, field: &str) -> Vec<String> {
    let pat = format!("name=\"{field}\" value=\"");
    body.match_indices(&pat)
        .map(|(i, _)| body[i + pat.len()..].split('"').next().unwrap_or_default().to_string())
        .collect()
}

/// A generated hospital served with three users, one per role.
fn setup(dir: &Path) -> (PathBuf, Server) {
    let lake = hospital(dir, None);
    add_user(&lake, "admin", "admin");
    add_user(&lake, "marie", "advisor");
    add_user(&lake, "victor", "viewer");
    let server = Server::start(&lake, &[], None);
    (lake, server)
}

#[test]
fn pages_need_a_session_and_a_right_password_and_speak_french_then_english() {
    let dir = tempdir();
    let (lake, server) = setup(dir.path());
    let text = std::fs::read_to_string(alara_users(&lake)).unwrap();
    assert!(text.contains("$argon2id$") && !text.contains(PASSWORD), "hashed, never in clear");

    let mut anon = Client::new(&server.base);
    for path in ["/", "/alerts", "/findings", "/worker/x", "/sql", "/quality"] {
        let r = anon.get(path);
        assert_eq!((r.status, r.location.as_str()), (303, "/login"), "{path} without a session");
    }
    let r = anon.login("marie", "wrong password");
    assert_eq!(r.status, 401);
    assert!(!anon.cookies.contains_key("alara_session"));

    let mut c = Client::new(&server.base);
    let r = c.login("marie", PASSWORD);
    assert_eq!((r.status, r.location.as_str()), (303, "/"));
    let today = c.get("/");
    assert_eq!(today.status, 200);
    assert!(today.body.contains("À traiter"), "French by default");
    assert!(today.body.contains("href=\"/worker/"), "someone needs attention in the generated hospital");
    let en = c.get("/?lang=en");
    assert!(en.body.contains("Needs attention") && !en.body.contains("À traiter"));
    let again = c.get("/findings");
    assert!(again.body.contains("Unexplained heterogeneity"), "the language is remembered");
    for path in ["/alerts", "/departments", "/quality", "/reports", "/sql"] {
        assert_eq!(c.get(path).status, 200, "{path}");
    }
    // A forged session cookie is no session.
    let mut forged = Client::new(&server.base);
    forged.cookies.insert("alara_session".into(), "0".repeat(64));
    assert_eq!(forged.get("/").status, 303);
}

fn alara_users(lake: &Path) -> PathBuf {
    PathBuf::from(format!("{}.users", lake.display()))
}

#[test]
fn login_attempts_are_rate_limited() {
    let dir = tempdir();
    let (_lake, server) = setup(dir.path());
    let mut c = Client::new(&server.base);
    for _ in 0..5 {
        assert_eq!(c.login("marie", "not the password").status, 401);
    }
    // The right password no longer opens a session, from this address, for a while.
    let r = c.login("marie", PASSWORD);
    assert_eq!(r.status, 429);
    assert!(!c.cookies.contains_key("alara_session"));
}

#[test]
fn an_advisor_acknowledges_and_explains_under_their_name_a_viewer_cannot() {
    let dir = tempdir();
    let (lake, server) = setup(dir.path());

    // The viewer reads but may not act, even with a valid token.
    let mut v = Client::new(&server.base);
    v.login("victor", PASSWORD);
    let page = v.get("/alerts");
    let token = csrf(&page.body);
    let id = sql_json(&lake, "SELECT alert_id FROM alerts WHERE state <> 'acknowledged' ORDER BY raised_at LIMIT 1")[0]
        ["alert_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v.post("/alerts/ack", &[("id", &id), ("note", "x"), ("csrf", &token)]).status, 403);

    let mut m = Client::new(&server.base);
    m.login("marie", PASSWORD);
    let page = m.get("/alerts");
    assert!(field_values(&page.body, "id").contains(&id), "the open alert has its form");
    // Without the CSRF token, or with another session's, the form is refused and nothing is written.
    assert_eq!(m.post("/alerts/ack", &[("id", &id), ("note", "x")]).status, 403);
    assert_eq!(m.post("/alerts/ack", &[("id", &id), ("note", "x"), ("csrf", &token)]).status, 403);
    assert!(sql_json(&lake, "SELECT 1 FROM alerts WHERE state = 'acknowledged'").is_empty());

    let token = csrf(&page.body);
    let r = m.post("/alerts/ack", &[("id", &id), ("note", "called the physician"), ("csrf", &token)]);
    assert_eq!(r.status, 303, "{}", r.body);
    let rows = sql_json(
        &lake,
        &format!("SELECT state, acknowledged_by, acknowledged_note FROM alerts WHERE alert_id = '{id}'"),
    );
    assert_eq!(rows[0]["state"], "acknowledged");
    assert_eq!(rows[0]["acknowledged_by"], "marie", "the logged-in name, not a free text");
    assert_eq!(rows[0]["acknowledged_note"], "called the physician");
    let page = m.get(&r.location);
    assert!(page.body.contains("acquittée par <b>marie</b>"), "the page shows it acknowledged");

    // An explanation from the findings form moves the finding to the explained ones.
    let findings = m.get("/findings");
    let workers = field_values(&findings.body, "worker");
    let signals = field_values(&findings.body, "signal");
    let (froms, tos) = (field_values(&findings.body, "from"), field_values(&findings.body, "to"));
    assert!(!workers.is_empty(), "the generated hospital has explainable findings");
    let (w, s, f, t) = (&workers[0], &signals[0], &froms[0], &tos[0]);
    // This finding: the worker may have other periods with the same signal, which stay open.
    let open = |lake: &Path| {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT worker_id, signal, period_start, period_end FROM missing_badge \
             UNION ALL SELECT worker_id, signal, period_start, period_end FROM unexplained_heterogeneity) \
             WHERE worker_id = '{w}' AND signal = '{s}' AND period_start = CAST('{f}' AS TIMESTAMP) \
             AND period_end = CAST('{t}' AS TIMESTAMP)"
        );
        sql_json(lake, &sql)[0]["n"].as_i64().unwrap()
    };
    assert!(open(&lake) > 0);
    let token = csrf(&findings.body);
    let r = m.post(
        "/findings/explain",
        &[("worker", w), ("signal", s), ("from", f), ("to", t), ("reason", "badge left in the room"), ("csrf", &token)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(open(&lake), 0, "no longer open");
    let explained = sql_json(
        &lake,
        &format!(
            "SELECT explained_by, reason FROM explained_findings WHERE worker_id = '{w}' AND level_or_signal = '{s}'"
        ),
    );
    assert!(!explained.is_empty() && explained.iter().all(|r| r["explained_by"] == "marie"));
    let page = m.get(&r.location);
    assert!(page.body.contains("badge left in the room"), "shown among the explained findings");
}

#[test]
fn worker_views_are_in_the_access_log_and_sql_is_read_only_and_answers_like_alara_sql() {
    let dir = tempdir();
    let (lake, server) = setup(dir.path());
    let mut c = Client::new(&server.base);
    c.login("victor", PASSWORD);
    let worker = sql_json(&lake, "SELECT worker_id FROM overexposure ORDER BY worker_id LIMIT 1")[0]["worker_id"]
        .as_str()
        .unwrap()
        .to_string();
    let page = c.get(&format!("/worker/{worker}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<svg"), "the 12-month chart");
    let log = sql_json(&lake, "SELECT user_name, user_role, worker_id FROM access_log_all");
    assert_eq!(log.len(), 1);
    assert_eq!((log[0]["user_name"].as_str(), log[0]["worker_id"].as_str()), (Some("victor"), Some(worker.as_str())));

    let sql = "SELECT worker_id, quantity, level, dose_msv FROM overexposure ORDER BY worker_id, quantity, level, window_start";
    let page = c.get("/sql");
    let token = csrf(&page.body);
    let csv = c.post("/sql", &[("q", sql), ("format", "csv"), ("csrf", &token)]);
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"));
    let cli = run_ok(alara().args(["sql", "--lake"]).arg(&lake).args(["--format", "csv", "-c", sql]));
    assert_eq!(csv.body, stdout(&cli), "the CSV download is alara sql's CSV");
    let html = c.post("/sql", &[("q", sql), ("format", "html"), ("csrf", &token)]);
    assert!(html.body.contains(&worker));
    for write in [
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO explanations_all SELECT * FROM explanations_all",
        "COPY readings TO '/tmp/x.parquet'",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let r = c.post("/sql", &[("q", write), ("format", "csv"), ("csrf", &token)]);
        assert_eq!(r.status, 400, "{write} must be refused");
    }
    assert_eq!(c.post("/sql", &[("q", sql), ("format", "csv")]).status, 403, "no token, no query");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A real Alertmanager (Debian prometheus-alertmanager) on a loopback port with its own
/// configuration and storage, killed when dropped.
struct Alertmanager {
    child: Child,
    url: String,
}

impl Alertmanager {
    fn start(dir: &Path) -> Alertmanager {
        let bin = ["prometheus-alertmanager", "alertmanager"]
            .into_iter()
            .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
            .expect("prometheus-alertmanager is not installed: run scripts/test-deps.sh");
        let config = crate::common::write(
            dir,
            "alertmanager.yml",
            "route:\n  receiver: none\n  group_wait: 1h\nreceivers:\n  - name: none\n",
        );
        let port = free_port();
        let storage = dir.join("am-data");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting alertmanager");
        let am = Alertmanager { child, url: format!("http://127.0.0.1:{port}") };
        am.wait_for(|_| true, "its API to answer");
        am
    }

    fn alerts(&self) -> Option<Vec<serde_json::Value>> {
        let mut r = ureq::get(format!("{}/api/v2/alerts", self.url)).call().ok()?;
        let v: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()?;
        v.as_array().cloned()
    }

    /// Polls the API until `ok` holds (Alertmanager applies posted alerts asynchronously).
    fn wait_for(&self, ok: impl Fn(&[serde_json::Value]) -> bool, what: &str) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(a) = self.alerts()
                && ok(&a)
            {
                return a;
            }
            assert!(Instant::now() < deadline, "alertmanager: timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn with_id<'a>(alerts: &'a [serde_json::Value], id: &str) -> Option<&'a serde_json::Value> {
    alerts.iter().find(|a| a["labels"]["alert_id"] == id)
}

#[test]
fn alerts_reach_a_real_alertmanager_and_end_when_acknowledged() {
    let dir = tempdir();
    let am = Alertmanager::start(dir.path());
    let config = crate::common::write(
        dir.path(),
        "alara.toml",
        &format!("[[hooks]]\nkind = \"alertmanager\"\nurl = \"{}\"\n", am.url),
    );
    let lake = hospital(dir.path(), Some(&config));
    let raised = sql_json(
        &lake,
        "SELECT alert_id, worker_id, level, quantity, department, rule FROM alerts WHERE rule <> 'withdrawal' AND state <> 'withdrawn' ORDER BY raised_at",
    );
    assert!(!raised.is_empty(), "the generated hospital raises alerts");
    let first = &raised[0];
    let id = first["alert_id"].as_str().unwrap();
    let listed =
        am.wait_for(|a| with_id(a, id).is_some_and(|x| x["status"]["state"] == "active"), "the alert posted at ingest");
    let labels = &with_id(&listed, id).unwrap()["labels"];
    for (label, column) in [
        ("worker", "worker_id"),
        ("level", "level"),
        ("quantity", "quantity"),
        ("department", "department"),
        ("rule", "rule"),
    ] {
        assert_eq!(labels[label], first[column], "label {label}");
    }
    let delivered = sql_json(&lake, &format!("SELECT hooks FROM alerts WHERE alert_id = '{id}'"));
    assert!(delivered[0]["hooks"].as_str().unwrap().contains("alertmanager:delivered"), "{delivered:?}");

    add_user(&lake, "marie", "advisor");
    let server = Server::start(&lake, &[], Some(&config));
    let mut m = Client::new(&server.base);
    m.login("marie", PASSWORD);
    let token = csrf(&m.get("/alerts").body);
    assert_eq!(m.post("/alerts/ack", &[("id", id), ("note", "seen"), ("csrf", &token)]).status, 303);
    // Ended: Alertmanager no longer lists it as active (resolved alerts leave the list).
    am.wait_for(|a| with_id(a, id).is_none_or(|x| x["status"]["state"] != "active"), "the alert to end");
    // The others stay active: serve re-sends open alerts.
    let still = am.alerts().unwrap();
    let other = raised.iter().map(|r| r["alert_id"].as_str().unwrap()).find(|o| *o != id).unwrap();
    assert!(with_id(&still, other).is_some(), "open alerts stay listed");
}

#[test]
fn the_pages_work_in_headless_chromium() {
    let dir = tempdir();
    let (lake, server) = setup(dir.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/serve_test.py");
    let shots = std::env::var_os("ALARA_SCREENSHOTS").map(PathBuf::from).unwrap_or_else(|| dir.path().join("shots"));
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(py)
        .arg(&script)
        .args(["--base", &server.base, "--user", "marie", "--password", PASSWORD, "--shots"])
        .arg(&shots)
        .output()
        .expect("running python3 (scripts/test-deps.sh installs selenium and chromium-driver)");
    assert!(
        out.status.success(),
        "browser test failed:\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // What the browser did is in the lake, under the logged-in name.
    assert_eq!(sql_json(&lake, "SELECT 1 FROM alerts WHERE acknowledged_by = 'marie'").len(), 1);
    assert!(!sql_json(&lake, "SELECT 1 FROM explanations WHERE author = 'marie'").is_empty());
}

#[test]
fn serves_https_from_a_certificate_file() {
    let dir = tempdir();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    run_ok(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    let tls = ["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    let server = Server::start(&lake, &tls, None);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    // curl verifies the certificate against the file we made: a real TLS handshake.
    let out = run_ok(Command::new("curl").args(["-sS", "--cacert"]).arg(&cert).args([
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("{}/login", server.base),
    ]));
    let head = stdout(&out);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_ascii_lowercase().contains("set-cookie: alara_login=") && head.contains("Secure"), "{head}");
    // Plain HTTP on the TLS port gets no page.
    let plain = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", &server.base.replace("https://", "http://")])
        .output()
        .unwrap();
    assert!(!stdout(&plain).starts_with("200"), "plain HTTP must not be served");
}

/// `psql` (Debian's postgresql-client) against the endpoint: `-At` rows joined by `,`.
fn psql(port: u16, user: &str, password: &str, sql: &str) -> std::process::Output {
    Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", user, "-d", "alara", "-At", "-F", ","])
        .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("running psql (scripts/test-deps.sh installs postgresql-client)")
}

#[test]
fn the_sql_endpoint_answers_psql_and_psycopg_like_alara_sql_read_only_behind_passwords() {
    let dir = tempdir();
    let lake = hospital(dir.path(), None);
    add_user(&lake, "victor", "viewer");
    let server = Server::start(&lake, &["--pg", "127.0.0.1:0"], None);
    let port = server.pg_port.unwrap();
    // Dose values as integers of µSv: the comparison is about rows, not float printing.
    let sql = "SELECT worker_id, quantity, level, CAST(round(dose_msv * 1000) AS BIGINT) AS usv FROM overexposure \
               ORDER BY worker_id, quantity, level, window_start";
    let cli = stdout(&run_ok(alara().args(["sql", "--lake"]).arg(&lake).args(["--format", "csv", "-c", sql])));
    let expected: Vec<&str> = cli.lines().skip(1).collect();
    assert!(!expected.is_empty(), "the generated hospital has overexposures");

    let out = psql(port, "victor", PASSWORD, sql);
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), expected, "psql reads what alara sql reads");

    // BI tools list tables from the catalogs.
    let out = psql(port, "victor", PASSWORD, "SELECT table_name FROM information_schema.tables ORDER BY 1");
    let tables = stdout(&out);
    for t in ["readings_all", "overexposure", "missing_badge", "unexplained_heterogeneity"] {
        assert!(tables.lines().any(|l| l == t), "{t} listed by information_schema: {tables}");
    }
    let out = psql(port, "victor", PASSWORD, "SELECT relname FROM pg_catalog.pg_class WHERE relname = 'readings_all'");
    assert_eq!(stdout(&out).trim(), "readings_all", "pg_class: {}", String::from_utf8_lossy(&out.stderr));

    for write in [
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO explanations_all SELECT * FROM explanations_all",
        "COPY readings_all TO '/tmp/alara-pg-copy.csv'",
        "SET datafusion.execution.batch_size = 1",
        "DROP TABLE readings_all",
    ] {
        let out = psql(port, "victor", PASSWORD, write);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("read-only"), "{write} must be refused: {err}");
    }
    assert!(!Path::new("/tmp/alara-pg-copy.csv").exists());

    let out = psql(port, "victor", "not the password", "SELECT 1");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(!out.status.success() && err.contains("password"), "a wrong password is refused: {err}");
    let out = psql(port, "nobody", PASSWORD, "SELECT 1");
    assert!(!out.status.success(), "an unknown user is refused");

    // A Python driver (extended protocol, a server-side parameter) gets the same answers.
    let py = crate::common::python_with("psycopg").unwrap();
    let worker = expected[0].split(',').next().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pg/psycopg_check.py");
    let out = Command::new(py)
        .arg(&script)
        .args(["--port", &port.to_string(), "--user", "victor", "--password", PASSWORD, "--query", sql])
        .args(["--worker", worker])
        .output()
        .unwrap();
    assert!(out.status.success(), "psycopg: {}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows: Vec<String> = got["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(rows, expected, "psycopg reads what alara sql reads");
    let count = sql_json(&lake, &format!("SELECT count(*) AS n FROM readings WHERE worker_id = '{worker}'"))[0]["n"]
        .as_i64()
        .unwrap();
    assert_eq!(got["count"].as_i64(), Some(count), "a parameterised query");
    assert!(got["create"].as_str().unwrap().contains("read-only"), "{}", got["create"]);
    assert!(got["wrong_password"].as_str().unwrap().to_lowercase().contains("password"), "{}", got["wrong_password"]);

    // Data committed after the endpoint opened the lake is seen (the session follows the lake):
    // a copy of a generated reading under a new identity, ingested while serving.
    let first = std::fs::read_to_string(dir.path().join("input/readings.jsonl")).unwrap();
    let mut late: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    late["reading_id"] = serde_json::json!("pg-late-1");
    let extra = dir.path().join("late.jsonl");
    std::fs::write(&extra, format!("{late}\n")).unwrap();
    let count =
        || stdout(&psql(port, "victor", PASSWORD, "SELECT count(*) FROM readings_all")).trim().parse::<i64>().unwrap();
    let before = count();
    run_ok(alara().args(["ingest", "--lake"]).arg(&lake).arg("--readings").arg(&extra));
    assert_eq!(count(), before + 1, "the reading ingested while serving is seen");
}
