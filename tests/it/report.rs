//! The nightly report end to end, on a generated hospital (`alara generate`, `alara ingest`,
//! `alara report`), checked with tools we did not write:
//!
//! * the page is rendered by real headless Chromium, to a PNG and to its DOM after rendering,
//!   where every section heading and every chart must be;
//! * the HTML is well formed (Python's html.parser with a strict tag-balance check), with no
//!   script, no external resource and no dangling internal link;
//! * every CSV extract round-trips into DuckDB with the row count the summary announces, and the
//!   detection extracts hold the same rows as the views;
//! * the numbers printed on the page equal the numbers of the SQL views (`overexposure`,
//!   `rolling_12_months`, `legal_results`);
//! * the same lake and `--as-of` give byte-identical files, also when re-run into the same
//!   directory;
//! * `--since` and the previous run's summary.json decide what is new, and agree with each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::*;

/// The generator's months end on 2026-10-31 (its fixed default end is 2026-11-01).
const AS_OF: &str = "2026-10-31";
/// An earlier report date, seven months before.
const EARLIER: &str = "2026-03-31";
/// `end_month` of the `rolling_12_months` view for October 2026 (year * 12 + month - 1).
const AS_OF_END_MONTH: i64 = 2026 * 12 + 10 - 1;

/// The `<h2>` of every section, in page order, in French (the default language).
const SECTIONS: [&str; 9] = [
    "À traiter aujourd'hui",
    "Dépassements et projections",
    "Dosimètres manquants et hétérogénéités inexpliquées",
    "Services : conformité et doses par profession",
    "Travailleurs à voir : doses",
    "Dosimètres non retournés ou perdus",
    "Qualité des données",
    "Alertes",
    "À propos de ce rapport",
];

/// The same sections with `--lang en`.
const SECTIONS_EN: [&str; 9] = [
    "Needs attention today",
    "Overexposures and projections",
    "Missing badges and unexplained heterogeneity",
    "Departments: compliance and doses by role",
    "Workers needing attention: doses",
    "Badges not returned or lost",
    "Data quality",
    "Alerts",
    "About this report",
];

/// A dose as the French page prints it: two decimals, decimal comma.
fn fr(d: f64) -> String {
    format!("{d:.2}").replace('.', ",")
}

/// A directory of the calling test's own: a fresh, uniquely named tempfile directory under the
/// test target dir, so two runs at once never share or delete each other's fixtures. It is kept
/// after the run (the shared lakes live in statics, which are never dropped, and a failed test's
/// lake is worth reading); `cargo clean` removes them.
fn scratch(name: &str) -> PathBuf {
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&parent).expect("creating the scratch parent");
    tempfile::Builder::new().prefix(&format!("{name}-")).tempdir_in(&parent).expect("creating scratch dir").keep()
}

/// A generated hospital (60 workers, 24 months, every injected case), ingested once.
fn lake() -> &'static Path {
    static LAKE: OnceLock<PathBuf> = OnceLock::new();
    LAKE.get_or_init(|| {
        let dir = scratch("lake");
        let input = dir.join("input");
        run_ok(alara().args(["generate", "--out"]).arg(&input).args(["--workers", "60", "--seed", "11"]));
        let lake = dir.join("lake");
        run_ok(
            alara()
                .args(["ingest", "--lake"])
                .arg(&lake)
                .arg("--readings")
                .arg(input.join("readings.jsonl"))
                .arg("--workers")
                .arg(input.join("workers.csv"))
                .arg("--procedures")
                .arg(input.join("procedures.csv")),
        );
        lake
    })
}

/// Runs `alara report` and returns its output (which must succeed).
fn report(as_of: &str, out: &Path, extra: &[&str]) -> Output {
    let out =
        run_ok(alara().args(["report", "--lake"]).arg(lake()).args(["--as-of", as_of, "--out"]).arg(out).args(extra));
    let printed = stdout(&out);
    assert!(printed.trim_end().ends_with("report.html"), "the run prints where the report is: {printed}");
    out
}

/// The report as of [`AS_OF`], written once and shared by the tests that only read it.
fn main_report() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = scratch("main").join("out");
        report(AS_OF, &out, &[]);
        out
    })
}

fn summary(out: &Path) -> Value {
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("summary.json is JSON")
}

fn html(out: &Path) -> String {
    std::fs::read_to_string(out.join("report.html")).expect("report.html")
}

fn keys(summary: &Value) -> BTreeSet<String> {
    summary["findings"].as_array().expect("findings").iter().map(|f| f["key"].as_str().unwrap().to_string()).collect()
}

fn new_keys(summary: &Value) -> BTreeSet<String> {
    summary["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["new"].as_bool() == Some(true))
        .map(|f| f["key"].as_str().unwrap().to_string())
        .collect()
}

/// Headless Chromium; a missing one fails the test (always `Some`).
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    panic!(
        "chromium is not installed: run scripts/test-deps.sh (scripts/test.sh runs it) — this test cannot run without it"
    )
}

/// Chromium with the flags that keep it off the network and out of the user's profile.
fn chromium_cmd(bin: &Path, profile: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,3000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn file_url(p: &Path) -> String {
    format!("file://{}", std::fs::canonicalize(p).expect("absolute path").display())
}

/// The text of every `<h2>` of a document.
fn h2s(doc: &str) -> Vec<String> {
    doc.split("<h2>").skip(1).filter_map(|s| s.split("</h2>").next()).map(|s| s.replace("&amp;", "&")).collect()
}

#[test]
fn renders_in_headless_chromium_with_every_section_and_chart() {
    let out = main_report();
    let Some(bin) = chromium() else { return };
    let work = scratch("chromium");
    let page = file_url(&out.join("report.html"));

    let png = work.join("report.png");
    let shot = chromium_cmd(&bin, &work.join("profile-shot"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(&page)
        .output()
        .expect("running chromium");
    assert!(shot.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).expect("the screenshot exists");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1400, 3000), "the PNG has the window's size");
    // A blank page compresses to a few kilobytes; the report's top (cards, tables) does not.
    assert!(bytes.len() > 50_000, "the screenshot looks empty ({} bytes)", bytes.len());

    let dump = chromium_cmd(&bin, &work.join("profile-dom")).arg("--dump-dom").arg(&page).output().expect("chromium");
    assert!(dump.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dump.stderr));
    let dom = String::from_utf8_lossy(&dump.stdout).into_owned();
    assert_eq!(h2s(&dom), SECTIONS, "every section, in order, after rendering");

    // Charts: one figure per flagged worker, quantity and body site, each an inline SVG with a
    // rolling-dose line; the distribution by role has one more per quantity.
    let raw = html(out);
    let rolling = raw.matches(r#"class="c-rolling""#).count();
    let figures = raw.matches("<figure data-worker=").count();
    assert!(rolling > 0 && rolling == figures, "one rolling line per chart: {rolling} lines, {figures} charts");
    let distributions = raw.matches(r#"<figure class="dist""#).count();
    assert!(distributions >= 1, "the dose distribution by role is drawn");
    assert_eq!(dom.matches("<svg").count(), figures + distributions, "every chart survives rendering as SVG");
    assert_eq!(dom.matches(r#"class="c-rolling""#).count(), rolling);
    // Every worker over a limit has a chart.
    let s = summary(out);
    let over: Vec<&str> = s["workers_over_limit"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert!(!over.is_empty(), "the generated cases put workers over a limit");
    for w in over {
        assert!(dom.contains(&format!(r#"<figure data-worker="{w}""#)), "no chart for {w}, who is over a limit");
    }
}

const TAG_BALANCE: &str = r#"
import sys
from html.parser import HTMLParser
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
class Strict(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors = [], []
    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))
    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append(f"end tag of void element {tag} at {self.getpos()}")
        elif not self.stack:
            self.errors.append(f"stray </{tag}> at {self.getpos()}")
        else:
            opened, pos = self.stack.pop()
            if opened != tag:
                self.errors.append(f"</{tag}> at {self.getpos()} closes <{opened}> opened at {pos}")
p = Strict()
p.feed(open(sys.argv[1], encoding="utf-8").read())
p.close()
if p.stack:
    p.errors.append(f"never closed: {p.stack[:5]}")
print("\n".join(p.errors[:20]))
sys.exit(1 if p.errors else 0)
"#;

#[test]
fn html_is_well_formed_and_self_contained() {
    let out = main_report();
    let page = html(out);
    assert!(page.starts_with("<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">"));
    if let Some(py) = python_with("html.parser") {
        let check = Command::new(py).args(["-c", TAG_BALANCE]).arg(out.join("report.html")).output().expect("python");
        assert!(check.status.success(), "unbalanced HTML:\n{}", String::from_utf8_lossy(&check.stdout));
    }
    // Self-contained: no script, nothing loaded from anywhere.
    assert!(!page.contains("<script"), "no script");
    assert!(!page.contains(" src="), "no external resource");
    let without_ns = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"), "no network address");
    // Internal links land on an element; file links on a file written beside the page.
    let ids: BTreeSet<&str> = page.split(" id=\"").skip(1).filter_map(|s| s.split('"').next()).collect();
    for href in page.split("href=\"").skip(1).filter_map(|s| s.split('"').next()) {
        if let Some(id) = href.strip_prefix('#') {
            assert!(ids.contains(id), "link to #{id}, which is not on the page");
        } else {
            assert!(out.join(href).is_file(), "link to {href}, which was not written");
        }
    }
}

#[test]
fn csv_extracts_round_trip_into_duckdb() {
    let out = main_report();
    let Some(py) = python_with("duckdb") else { return };
    let script = r#"
import duckdb, glob, json, os, sys
con = duckdb.connect()
counts = {}
for p in sorted(glob.glob(os.path.join(sys.argv[1], "*.csv"))):
    counts[os.path.basename(p)] = con.execute("SELECT count(*) FROM read_csv(?, header = true)", [p]).fetchall()[0][0]
rows = con.execute(
    "SELECT worker_id, quantity, body_site, level, strftime(window_start, '%Y-%m-%d'), round(dose_msv, 4) "
    "FROM read_csv(?, header = true) ORDER BY ALL", [os.path.join(sys.argv[1], "overexposure.csv")]).fetchall()
print(json.dumps({"counts": counts, "overexposure": [list(r) for r in rows]}))
"#;
    let run = Command::new(py).args(["-c", script]).arg(out).output().expect("python");
    assert!(run.status.success(), "duckdb failed: {}", String::from_utf8_lossy(&run.stderr));
    let got: Value = serde_json::from_slice(&run.stdout).expect("JSON from the script");
    let s = summary(out);
    let files = s["files"].as_object().unwrap();
    let csvs: Vec<&String> = files.keys().filter(|k| k.ends_with(".csv")).collect();
    assert!(csvs.len() >= 12, "every table is extracted: {csvs:?}");
    for name in csvs {
        assert_eq!(got["counts"][name], files[name], "{name}: DuckDB reads as many rows as the report wrote");
    }
    // The detection extracts hold what the views hold.
    let lake = lake();
    for view in ["overexposure", "missing_badge", "unexplained_heterogeneity", "thresholds"] {
        let n = sql_count(lake, &format!("SELECT count(*) AS n FROM {view}"));
        assert_eq!(got["counts"][format!("{view}.csv")].as_i64(), Some(n), "{view}.csv and the view");
    }
    let from_view: Vec<Value> = sql_json(
        lake,
        "SELECT worker_id, quantity, body_site, level, to_char(window_start, '%Y-%m-%d') AS ws, round(dose_msv, 4) AS d \
         FROM overexposure",
    )
    .into_iter()
    .map(|r| Value::Array(vec![r["worker_id"].clone(), r["quantity"].clone(), r["body_site"].clone(), r["level"].clone(), r["ws"].clone(), r["d"].clone()]))
    .collect();
    let mut from_view: Vec<String> = from_view.iter().map(|v| v.to_string()).collect();
    from_view.sort();
    let mut from_csv: Vec<String> = got["overexposure"].as_array().unwrap().iter().map(|v| v.to_string()).collect();
    from_csv.sort();
    assert_eq!(from_csv, from_view, "overexposure.csv read by DuckDB equals the view");
}

/// `(worker, quantity, body site, field) → text` of the numbers the page marks with data
/// attributes.
fn marked_numbers(page: &str) -> BTreeMap<(String, String, String, String), String> {
    let mut out = BTreeMap::new();
    for chunk in page.split("<span data-worker=\"").skip(1) {
        // The attributes of this span only.
        let tag = chunk.split('>').next().unwrap_or_default();
        let attr = |name: &str| -> Option<String> {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            Some(tag[start..].split('"').next()?.to_string())
        };
        let worker = chunk.split('"').next().unwrap_or_default().to_string();
        let (Some(q), Some(site), Some(field)) = (attr("data-quantity"), attr("data-site"), attr("data-field")) else {
            continue;
        };
        let field = match attr("data-level") {
            Some(level) => format!("{field}:{level}"),
            None => field,
        };
        let text = chunk.split('>').nth(1).and_then(|t| t.split('<').next()).unwrap_or_default().to_string();
        out.insert((worker, q, site, field), text);
    }
    out
}

/// French by default, English on request: the same figures and the same files beside the page,
/// in the words of each language.
#[test]
fn the_report_is_french_by_default_and_english_on_request() {
    let fr_out = main_report();
    let en_out = scratch("english").join("out");
    report(AS_OF, &en_out, &["--lang", "en"]);
    let (fr_page, en_page) = (html(fr_out), html(&en_out));
    assert_eq!(h2s(&fr_page), SECTIONS);
    assert_eq!(h2s(&en_page), SECTIONS_EN);
    assert!(en_page.starts_with("<!DOCTYPE html><html lang=\"en\">"));
    // The advisor's own words, and French dates and decimals.
    for words in [
        "Dose efficace",
        "Cristallin Hp(3)",
        "Extrémités Hp(0,07)",
        "ESR à instruire",
        "CRP",
        "médecin du travail",
        "Rapport de dosimétrie au 31 octobre 2026",
        "terminées au 31/10/2026",
    ] {
        assert!(fr_page.contains(words), "the French page says `{words}`");
    }
    for english in SECTIONS_EN.iter().chain(&["What to do", "Act today", "workers monitored", "Rolling 12 months"]) {
        assert!(!fr_page.contains(english), "English `{english}` on the French page");
    }
    // Every figure the page marks, the same in both, printed the language's way.
    let (fr_numbers, en_numbers) = (marked_numbers(&fr_page), marked_numbers(&en_page));
    assert!(fr_numbers.len() > 20, "figures to compare: {}", fr_numbers.len());
    assert_eq!(fr_numbers.keys().collect::<Vec<_>>(), en_numbers.keys().collect::<Vec<_>>());
    for (k, en) in &en_numbers {
        assert!(en.contains('.') && !en.contains(','), "English decimals for {k:?}: {en}");
        assert_eq!(fr_numbers[k], en.replace('.', ","), "{k:?}");
    }
    // The machine files do not depend on the language.
    for entry in std::fs::read_dir(fr_out).unwrap() {
        let name = entry.unwrap().file_name();
        if name != "report.html" {
            let (a, b) = (std::fs::read(fr_out.join(&name)).unwrap(), std::fs::read(en_out.join(&name)).unwrap());
            assert!(a == b, "{name:?} differs between the French and the English run");
        }
    }
}

#[test]
fn numbers_on_the_page_equal_the_sql_views() {
    let out = main_report();
    let page = html(out);
    let lake = lake();
    let marked = marked_numbers(&page);
    let q = |s: &str| s.replace('\'', "''");

    // Overexposure doses: the page shows, per worker, quantity, site and level, the worst row.
    let mut checked_levels = 0;
    for ((w, quantity, site, field), text) in &marked {
        // Single results above the declaration criterion are one row each: compared below.
        let Some(level) = field.strip_prefix("dose_msv:").filter(|l| *l != "esr") else { continue };
        let rows = sql_json(
            lake,
            &format!(
                "SELECT MAX(dose_msv) AS d FROM overexposure WHERE worker_id = '{}' AND quantity = '{}' \
                 AND body_site = '{}' AND level = '{}'",
                q(w),
                q(quantity),
                q(site),
                q(level)
            ),
        );
        let d =
            rows[0]["d"].as_f64().unwrap_or_else(|| panic!("no overexposure row for {w} {quantity} {site} {level}"));
        assert_eq!(text, &fr(d), "{w} {quantity} {site} {level}");
        checked_levels += 1;
    }
    let n = sql_count(
        lake,
        "SELECT count(DISTINCT concat(worker_id, quantity, body_site, level)) AS n FROM overexposure WHERE level <> 'esr'",
    );
    assert!(checked_levels as i64 >= n, "every overexposure is on the page ({checked_levels} shown, {n} in the view)");

    // 12-month doses of flagged workers: the report's own sum against the detections' rolling
    // window ending in October 2026, where the worker has a result that month.
    let mut checked_rolling = 0;
    for ((w, quantity, site, field), text) in &marked {
        if field != "rolling_12_months_msv" {
            continue;
        }
        let rows = sql_json(
            lake,
            &format!(
                "SELECT dose_msv FROM rolling_12_months WHERE worker_id = '{}' AND quantity = '{}' AND body_site = '{}' \
                 AND end_month = {AS_OF_END_MONTH}",
                q(w),
                q(quantity),
                q(site)
            ),
        );
        if let Some(d) = rows.first().and_then(|r| r["dose_msv"].as_f64()) {
            assert_eq!(text, &fr(d), "12 months of {w} {quantity} {site}");
            checked_rolling += 1;
        }
    }
    assert!(checked_rolling >= 10, "enough 12-month doses compared ({checked_rolling})");

    // Career totals, against a sum written here over the legal record.
    let mut checked_career = 0;
    for ((w, quantity, site, field), text) in &marked {
        if field != "career_msv" {
            continue;
        }
        let rows = sql_json(
            lake,
            &format!(
                "SELECT SUM(COALESCE(counted_msv, 0)) AS d FROM legal_results WHERE worker_id = '{}' \
                 AND quantity = '{}' AND body_site = '{}' AND period_end < TIMESTAMP '2026-11-01T00:00:00Z'",
                q(w),
                q(quantity),
                q(site)
            ),
        );
        let d = rows[0]["d"].as_f64().unwrap_or(0.0);
        assert_eq!(text, &fr(d), "career of {w} {quantity} {site}");
        checked_career += 1;
    }
    assert!(checked_career >= 10, "enough career totals compared ({checked_career})");

    // The headline: workers over a limit, on the page, in the summary and in the view.
    let over = sql_count(
        lake,
        "SELECT count(DISTINCT worker_id) AS n FROM overexposure WHERE level IN ('limit', 'pregnancy')",
    );
    assert_eq!(summary(out)["counts"]["workers_over_limit"].as_i64(), Some(over));
    assert!(
        page.contains(&format!(
            r#"<span class="n">{over}</span><span class="l">travailleurs au-delà d&#39;une limite de dose</span>"#
        )),
        "the headline card shows {over} workers over a limit"
    );
    let esr = sql_count(lake, "SELECT count(*) AS n FROM overexposure WHERE level = 'esr'")
        + sql_count(
            lake,
            "SELECT count(DISTINCT concat(worker_id, quantity, body_site, level)) AS n FROM overexposure \
             WHERE level IN ('limit', 'pregnancy')",
        );
    assert_eq!(summary(out)["counts"]["esr_candidates"].as_i64(), Some(esr), "declaration candidates");
}

/// Every file of a directory, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("reading the output")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn the_same_lake_and_date_give_identical_files() {
    let first = main_report();
    let second = scratch("identical").join("out");
    report(AS_OF, &second, &[]);
    let a = files(first);
    let b = files(&second);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "the same files");
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs between two runs");
    }
    // A re-run into the same directory finds its own summary there and still writes the same
    // bytes (it measures "new" against the same baseline as the first run).
    report(AS_OF, &second, &[]);
    let c = files(&second);
    for (name, bytes) in &a {
        assert!(bytes == &c[name], "{name} differs after a re-run into the same directory");
    }
}

#[test]
fn since_or_the_previous_summary_decide_what_is_new() {
    // Night 1 (EARLIER), then night 2 (AS_OF) into the same directory.
    let nightly = scratch("nightly").join("out");
    report(EARLIER, &nightly, &[]);
    let s1 = summary(&nightly);
    assert!(s1["baseline"].is_null(), "a first report has no baseline");
    assert_eq!(new_keys(&s1), keys(&s1), "in a first report every finding is new");
    // Nothing after the as-of date: no finding ends after it, no period in the extracts does.
    for f in s1["findings"].as_array().unwrap() {
        let end = f["period_end"].as_str().unwrap_or("");
        assert!(end <= EARLIER, "a finding of the {EARLIER} report ends on {end}");
    }
    let periods = std::fs::read_to_string(nightly.join("dose_by_period.csv")).unwrap();
    let col = periods.lines().next().unwrap().split(',').position(|c| c == "period_end").unwrap();
    let last = periods.lines().skip(1).map(|l| l.split(',').nth(col).unwrap().to_string()).max().unwrap();
    assert!(last.as_str() < "2026-04-01", "a period ending {last} is in the {EARLIER} report");

    report(AS_OF, &nightly, &[]);
    let s2 = summary(&nightly);
    assert_eq!(s2["baseline"]["as_of"], EARLIER, "night 2 compares with night 1");
    let expected: BTreeSet<String> = keys(&s2).difference(&keys(&s1)).cloned().collect();
    assert_eq!(new_keys(&s2), expected, "new = findings night 1 did not have");
    assert!(!expected.is_empty(), "the generated cases of spring and summer 2026 are new on night 2");
    assert!(expected.len() < keys(&s2).len(), "findings already known on night 1 are not new");
    assert_eq!(s2["counts"]["new_findings"].as_u64(), Some(expected.len() as u64));
    let page = html(&nightly);
    // The page says what new means (`EARLIER` in French style).
    assert!(page.contains("« nouveau » = absent du rapport précédent (au 31/03/2026)"), "the page says what new means");

    // --since EARLIER into a fresh directory gives the same answer as the previous summary.
    let since = scratch("since").join("out");
    report(AS_OF, &since, &["--since", EARLIER]);
    let s3 = summary(&since);
    assert_eq!(s3["baseline"]["source"], "--since");
    assert_eq!(s3["baseline"]["as_of"], EARLIER);
    assert_eq!(new_keys(&s3), expected, "--since and the previous summary agree on what is new");
}

#[test]
fn missing_views_and_bad_arguments_are_handled() {
    // A query directory without the detection and alert views (and the views built on them,
    // `esr_register` and `inspection_indicator`): the report still renders, and says which
    // sections are not available.
    let dir = scratch("partial");
    let queries = dir.join("queries");
    std::fs::create_dir_all(&queries).unwrap();
    let dropped = [
        "overexposure",
        "missing_badge",
        "unexplained_heterogeneity",
        "findings",
        "explained_findings",
        "alerts",
        "alert_status",
        "esr_register",
        "inspection_indicator",
    ];
    for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries")).unwrap() {
        let p = e.unwrap().path();
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        if p.extension().is_some_and(|x| x == "sql") && !dropped.contains(&stem.as_str()) {
            std::fs::copy(&p, queries.join(p.file_name().unwrap())).unwrap();
        }
    }
    let out = dir.join("out");
    report(AS_OF, &out, &["--queries", queries.to_str().unwrap()]);
    let s = summary(&out);
    for name in ["overexposure", "missing_badge", "unexplained_heterogeneity", "alerts"] {
        assert!(s["unavailable"][name].is_string(), "{name} is reported unavailable: {}", s["unavailable"]);
    }
    assert!(!out.join("alerts.csv").exists() && !out.join("overexposure.csv").exists());
    assert!(out.join("worker_doses.csv").exists(), "the report's own tables are still there");
    let page = html(&out);
    assert_eq!(h2s(&page), SECTIONS, "every section is still on the page");
    assert!(page.contains("Indisponible :"));
    assert!(!page.contains(r#"<p class="empty">Aucun travailleur au-delà"#), "no all-clear without the detection");

    // Usage errors exit 2 with a message.
    for args in [vec!["--as-of", "2026-13-01"], vec!["--as-of", AS_OF, "--since", "2026-11-01"]] {
        let o = alara().args(["report", "--lake"]).arg(lake()).args(&args).arg("--out").arg(&out).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let o = alara()
        .args(["report", "--lake"])
        .arg(dir.join("nowhere"))
        .args(["--as-of", AS_OF, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "a missing lake: {}", String::from_utf8_lossy(&o.stderr));
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

#[test]
fn an_explained_finding_moves_to_the_explained_table_with_who_and_why() {
    let dir = scratch("explained");
    let lake = dir.join("lake");
    copy_tree(self::lake(), &lake);
    let rows = sql_json(
        &lake,
        "SELECT worker_id, to_char(MIN(period_start), '%Y-%m-%d') AS f, to_char(MAX(period_end), '%Y-%m-%d') AS t, \
         count(*) AS n FROM unexplained_heterogeneity WHERE signal = 'peer_outlier' \
         GROUP BY worker_id ORDER BY n DESC, worker_id LIMIT 1",
    );
    let row = rows.first().expect("the generated data has a peer outlier");
    let (w, from, to) = (row["worker_id"].as_str().unwrap(), row["f"].as_str().unwrap(), row["t"].as_str().unwrap());
    let reason = "Structural heart programme: longer procedures <confirmed> with the cath-lab log";
    run_ok(alara().args(["explain", "--lake"]).arg(&lake).args([
        "--worker",
        w,
        "--from",
        from,
        "--to",
        to,
        "--signal",
        "peer_outlier",
        "--reason",
        reason,
        "--by",
        "M. Durand (CRP)",
    ]));
    let out = dir.join("out");
    run_ok(alara().args(["report", "--lake"]).arg(&lake).args(["--as-of", AS_OF, "--out"]).arg(&out));
    let s = summary(&out);
    let prefix = format!("unexplained_heterogeneity|peer_outlier|{w}|");
    assert!(!keys(&s).iter().any(|k| k.starts_with(&prefix)), "{w}'s explained peer outliers are no longer findings");
    let page = html(&out);
    let explained =
        page.split("<h3>Constats expliqués</h3>").nth(1).and_then(|s| s.split("</section>").next()).unwrap();
    assert!(
        explained.contains(&format!(r#"<span class="worker-id">{w}</span>"#))
            || explained.contains(&format!(">{w}</a>"))
    );
    assert!(explained.contains("longer procedures &lt;confirmed&gt; with the cath-lab log"), "the reason, escaped");
    assert!(explained.contains("M. Durand (CRP)"), "who explained it");
    let csv = std::fs::read_to_string(out.join("explained_findings.csv")).unwrap();
    let n = row["n"].as_i64().unwrap() as usize;
    assert_eq!(
        csv.lines().filter(|l| l.contains(w) && l.contains("peer_outlier")).count(),
        n,
        "every explained period"
    );
}

#[test]
fn an_empty_lake_gives_a_report_that_says_it_knows_nothing() {
    let dir = scratch("empty");
    let lake = dir.join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    let out = dir.join("out");
    run_ok(alara().args(["report", "--lake"]).arg(&lake).args(["--as-of", AS_OF, "--out"]).arg(&out));
    let page = html(&out);
    assert_eq!(h2s(&page), SECTIONS);
    assert!(
        page.contains("Aucun résultat de dose dans le lac pour les périodes de port terminées au 31/10/2026"),
        "a warning, not a green light"
    );
    assert!(!page.contains("Aucun travailleur au-delà d'une limite, à déclarer"), "no all-clear without data");
    assert_eq!(summary(&out)["counts"]["workers_monitored"], 0);
}

#[test]
fn alerts_acknowledged_since_the_last_report_show_who_handled_them() {
    let dir = scratch("acks");
    let lake = dir.join("lake");
    copy_tree(self::lake(), &lake);
    let run = |as_of: &str, out: &Path| {
        run_ok(alara().args(["report", "--lake"]).arg(&lake).args(["--as-of", as_of, "--out"]).arg(out));
        summary(out)
    };
    let out = dir.join("out");
    let night1 = run(EARLIER, &out);
    // The alert to acknowledge: the first open one the next report will show.
    let alerts = sql_json(
        &lake,
        "SELECT alert_id FROM alerts WHERE state <> 'withdrawn' AND rule <> 'withdrawal' \
         AND window_end < TIMESTAMP '2026-11-01T00:00:00Z' ORDER BY raised_at, alert_id LIMIT 1",
    );
    let id = alerts.first().and_then(|r| r["alert_id"].as_str()).expect("the generated data raises alerts").to_string();
    run_ok(alara().args(["alerts", "--lake"]).arg(&lake).args([
        "--ack",
        &id,
        "--by",
        "Dr Martin (occupational physician)",
        "--note",
        "worker seen; lens <protection> reviewed",
    ]));
    let night2 = run(AS_OF, &out);
    assert_eq!(night2["baseline"]["as_of"], EARLIER);
    assert!(night2["baseline"]["alerts_seen_until"].is_string(), "night 1 recorded how far it had seen: {night1}");
    assert_eq!(night2["counts"]["acknowledged_since_last_report"], 1, "the acknowledgement made after night 1");
    let page = html(&out);
    let acked = page.split("<h3>Acquittées depuis le rapport au 31/03/2026 (1)</h3>").nth(1).expect("the heading");
    let acked = acked.split("</table>").next().unwrap();
    assert!(acked.contains("Dr Martin (occupational physician)") && acked.contains("lens &lt;protection&gt; reviewed"));
    let open = sql_count(
        &lake,
        "SELECT count(*) AS n FROM alerts WHERE acknowledged_at IS NULL AND state <> 'withdrawn' \
         AND rule <> 'withdrawal' AND COALESCE(window_end, raised_at) < TIMESTAMP '2026-11-01T00:00:00Z'",
    );
    assert_eq!(night2["counts"]["open_alerts"].as_i64(), Some(open), "open alerts, as the alerts view counts them");
}
