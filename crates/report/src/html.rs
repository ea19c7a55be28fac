//! The page. Written as balanced, escaped HTML by hand: every element is closed, every text and
//! attribute goes through [`esc`], and the only inline styles are bar widths.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::Ctx;
use crate::fmt::{anchor, date_of, esc, iso_date, msv, pct, quantity_name, quantity_short, when};
use crate::model::{self, Band, Finding, Kind, QUANTITIES, Severity};
use crate::svg::{self, RefLine};
use crate::table::{Table, Value};

const CSS: &str = r#"
:root{--ink:#1b1f24;--muted:#5c6773;--line:#d8dde3;--soft:#f3f5f7;--red:#b42318;--red-bg:#fdecea;--amber:#8a5300;--amber-bg:#fff3dc;--blue:#1d5fa6;--blue-bg:#e7f0fb;--green:#1c7a3e;--green-bg:#e5f4ea}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#eef1f4;color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header.top,main,footer{max-width:1200px;margin:0 auto;padding:0 24px}
header.top{padding-top:22px}
.brand{font-size:13px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted);font-weight:600}
h1{font-size:28px;line-height:1.2;margin:4px 0 6px}
h2{font-size:20px;margin:6px 0 10px}
h3{font-size:16px;margin:18px 0 8px}
h4{font-size:14px;margin:14px 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
p{margin:6px 0}
.sub{color:var(--muted);margin:0}
.muted{color:var(--muted)}
.small{font-size:13px}
a{color:var(--blue)}
nav.toc{max-width:1200px;margin:10px auto 0;padding:0 24px;font-size:13px}
nav.toc a{display:inline-block;margin:0 10px 4px 0;color:var(--muted);text-decoration:none;border-bottom:1px dotted var(--muted)}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(128px,1fr));gap:10px;margin:16px 0 4px}
.kpi{display:block;background:#fff;border:1px solid var(--line);border-top:5px solid var(--line);border-radius:8px;padding:8px 12px 10px;color:var(--ink);text-decoration:none}
.kpi .n{display:block;font-size:30px;font-weight:700;line-height:1.1;font-variant-numeric:tabular-nums}
.kpi .l{display:block;font-size:13px;color:var(--muted)}
.kpi.act{border-top-color:var(--red)}.kpi.act .n{color:var(--red)}
.kpi.soon{border-top-color:#d08a16}.kpi.soon .n{color:var(--amber)}
.kpi.ok{border-top-color:var(--green)}.kpi.ok .n{color:var(--green)}
.kpi.info{border-top-color:var(--blue)}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:10px 22px 18px;margin:16px 0}
section.attention{border:2px solid var(--ink)}
table{border-collapse:collapse;width:100%;font-size:14px;margin:4px 0 8px}
th{text-align:left;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);border-bottom:2px solid var(--line);padding:6px 8px;vertical-align:bottom}
td{border-bottom:1px solid #e9ecef;padding:6px 8px;vertical-align:top}
tbody tr:nth-child(even) td{background:#fafbfc}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th.num{white-space:normal}
td .ev{min-width:220px}
section{overflow-x:auto}
table.alerts-open td .ev,table.alerts-acknowledged td .ev{min-width:0}
table.overexposure td:first-child{white-space:nowrap}
.nowrap{white-space:nowrap}
td.why ul{margin:0;padding-left:18px}
td.why li{margin:0 0 3px}
.pill{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:700;white-space:nowrap;border:1px solid transparent}
.pill.act{background:var(--red);color:#fff}
.pill.soon{background:var(--amber-bg);color:var(--amber);border-color:#e9c27d}
.pill.check{background:var(--blue-bg);color:var(--blue);border-color:#b9d0ee}
.pill.ok{background:var(--green-bg);color:var(--green);border-color:#a9d8b8}
.pill.new{background:var(--ink);color:#fff;font-size:11px;letter-spacing:.05em}
.pill.level{background:var(--soft);color:var(--ink);border-color:var(--line);font-weight:600}
.worker-id{font-weight:700;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.ev{font-size:13px;color:var(--muted);max-width:560px}
details.ev summary{cursor:pointer;list-style:none}
details.ev summary::-webkit-details-marker{display:none}
details.ev[open] summary{display:inline}
@media print{details.ev:not([open]) summary::after{content:' (full text in the CSV)'}}
.empty{background:var(--green-bg);color:var(--green);border-radius:8px;padding:10px 14px;font-weight:600}
.note{background:var(--soft);border-radius:8px;padding:8px 12px;font-size:13px;color:var(--muted)}
.warn{background:var(--amber-bg);color:var(--amber);border-radius:8px;padding:8px 12px;font-size:13px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px 12px 6px;break-inside:avoid}
figcaption{font-size:14px;margin-bottom:4px}
figcaption .what{color:var(--muted)}
.legend{font-size:12px;color:var(--muted);margin:2px 0 4px}
.legend i{display:inline-block;width:18px;height:0;border-top:2px solid;vertical-align:middle;margin:0 4px 0 10px}
.legend i.l-roll{border-color:#1d4f91;border-top-width:3px}.legend i.l-bar{height:9px;border:0;background:#b9cde6}
.legend i.l-limit{border-color:var(--red);border-top-style:dashed}.legend i.l-inv{border-color:#c77d00;border-top-style:dashed}
.legend i.l-nr{width:0;height:0;border-left:5px solid transparent;border-right:5px solid transparent;border-top:0;border-bottom:8px solid #8f99a5}
.bar{display:inline-block;width:90px;height:9px;background:#e6e9ed;border-radius:5px;vertical-align:middle;margin-right:8px;overflow:hidden}
.bar span{display:block;height:100%;background:#6f8fb5}
.bar.ok span{background:var(--green)}.bar.soon span{background:#d08a16}.bar.act span{background:var(--red)}
article.worker{border-top:1px solid var(--line);padding-top:6px;margin-top:14px}
article.worker h3{display:flex;flex-wrap:wrap;gap:8px;align-items:center}
.cells td.m,.cells th.m{text-align:center;font-variant-numeric:tabular-nums;white-space:nowrap;padding:5px 4px}
td.nr{color:var(--red);font-weight:700}
td.bt{color:var(--muted)}
svg.c-chart{display:block;max-width:100%;height:auto;font-family:inherit}
svg .c-grid{stroke:#e5e8ec;stroke-width:1}
svg .c-axisline{stroke:#8f99a5;stroke-width:1}
svg .c-tick,svg .c-axis{font-size:11px;fill:#5c6773}
svg .c-rowlabel{font-size:12px;fill:#1b1f24}
svg .c-bar{fill:#b9cde6}
svg .c-window{fill:#fdeeec}
svg .c-rolling{fill:none;stroke:#1d4f91;stroke-width:2.5;stroke-linejoin:round}
svg .c-pt{fill:#1d4f91;stroke:#fff;stroke-width:1}
svg .c-pt.c-high,svg .c-dot.c-high{fill:#c77d00}
svg .c-pt.c-over,svg .c-dot.c-over{fill:#b42318}
svg .c-ref{stroke-width:1.6;stroke-dasharray:6 4}
svg .c-ref.c-limit{stroke:#b42318}svg .c-ref.c-inv{stroke:#c77d00}svg .c-ref.c-preg{stroke:#7a3ea8}
svg .c-reflabel{font-size:11px;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg .c-reflabel.c-limit{fill:#b42318}svg .c-reflabel.c-inv{fill:#8a5300}svg .c-reflabel.c-preg{fill:#7a3ea8}
svg .c-marker{stroke:#7a3ea8;stroke-width:1.2;stroke-dasharray:2 3}
svg .c-nr{fill:#8f99a5}
svg .c-peak{font-size:12px;font-weight:700;fill:#1b1f24;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg .c-box{fill:#dbe6f3;stroke:#6f8fb5;stroke-width:1}
svg .c-whisker{stroke:#6f8fb5;stroke-width:1.2}
svg .c-median{stroke:#1d4f91;stroke-width:2}
svg .c-dot{fill:#1d4f91;fill-opacity:.55}
dl.defs{display:grid;grid-template-columns:220px 1fr;gap:4px 16px;font-size:14px}
dl.defs dt{font-weight:600}
dl.defs dd{margin:0}
footer{color:var(--muted);font-size:12px;padding-bottom:30px}
@media (max-width:700px){.charts{grid-template-columns:1fr}dl.defs{grid-template-columns:1fr}}
@media print{
 @page{size:A4;margin:14mm}
 body{background:#fff;font-size:10.5pt}
 header.top,main,footer,nav.toc{max-width:none;padding:0}
 nav.toc{display:none}
 section{border:0;border-radius:0;padding:0;margin:0 0 10mm}
 section.attention{border:0}
 .kpi{border-color:#999}
 a{color:inherit;text-decoration:none}
 tr,figure,article.worker h3{break-inside:avoid}
 thead{display:table-header-group}
 article.worker{break-before:page}
 tbody tr:nth-child(even) td{background:none}
 .pill.act,.pill.new{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"#;

/// Rows shown in a long table before pointing to the CSV.
const MAX_ROWS: usize = 200;

struct Col {
    head: String,
    num: bool,
}

fn col(head: &str) -> Col {
    Col { head: head.to_string(), num: false }
}

fn num(head: &str) -> Col {
    Col { head: head.to_string(), num: true }
}

/// A table whose cells are already HTML.
fn table(out: &mut String, class: &str, cols: &[Col], rows: &[Vec<String>]) {
    let _ = write!(out, r#"<table class="{class}"><thead><tr>"#);
    for c in cols {
        let _ = write!(out, "<th{}>{}</th>", if c.num { r#" class="num""# } else { "" }, esc(&c.head));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (i, cell) in r.iter().enumerate() {
            let numeric = cols.get(i).is_some_and(|c| c.num);
            let _ = write!(out, "<td{}>{cell}</td>", if numeric { r#" class="num""# } else { "" });
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

/// Evidence text, folded after about 200 characters (opened with a click, no script).
fn evidence(text: &str) -> String {
    const FOLD: usize = 200;
    if text.chars().count() <= FOLD + 40 {
        return format!(r#"<div class="ev">{}</div>"#, esc(text));
    }
    let cut = text.char_indices().nth(FOLD).map(|(i, _)| i).unwrap_or(text.len());
    // Cut at a word boundary when there is one close by.
    let cut = text[..cut].rfind(' ').filter(|i| *i > FOLD / 2).unwrap_or(cut);
    format!(r#"<details class="ev"><summary>{}…</summary>{}</details>"#, esc(&text[..cut]), esc(&text[cut..]))
}

fn pill(class: &str, text: &str) -> String {
    format!(r#"<span class="pill {class}">{}</span>"#, esc(text))
}

fn new_pill(f: &Finding) -> String {
    if f.new { pill("new", "NEW") } else { String::new() }
}

fn worker_link(ctx: &Ctx, w: &str) -> String {
    if ctx.attention.iter().any(|a| a.worker_id == w) {
        format!(r##"<a class="worker-id" href="#{}">{}</a>"##, anchor("w-", w), esc(w))
    } else {
        format!(r#"<span class="worker-id">{}</span>"#, esc(w))
    }
}

fn opt_msv(v: Option<f64>) -> String {
    v.map(msv).unwrap_or_else(|| "—".into())
}

fn capped_note(out: &mut String, shown: usize, total: usize, csv: &str) {
    if total > shown {
        let _ = write!(
            out,
            r#"<p class="note">Showing the first {shown} of {total} rows; all of them are in <a href="{csv}">{csv}</a>.</p>"#,
            csv = esc(csv)
        );
    } else if total > 0 {
        let _ = write!(out, r#"<p class="muted small">Also in <a href="{csv}">{csv}</a>.</p>"#, csv = esc(csv));
    }
}

fn unavailable(out: &mut String, ctx: &Ctx, name: &str) -> bool {
    if let Some(why) = ctx.inputs.unavailable.get(name) {
        let _ = write!(out, r#"<p class="warn">Not available: {}</p>"#, esc(why));
        true
    } else {
        false
    }
}

fn person_line(ctx: &Ctx, w: &str) -> String {
    let Some(p) = ctx.people.get(w) else { return String::new() };
    let mut parts = vec![esc(&p.department)];
    if let Some(r) = &p.role {
        parts.push(esc(r));
    }
    parts.join(" · ")
}

/// Renders the page.
pub(crate) fn render(ctx: &Ctx) -> String {
    let mut o = String::with_capacity(256 * 1024);
    let as_of = ctx.inputs.as_of;
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="{gen}"><title>Dosimetry report as of {d}</title><style>{CSS}</style></head><body>"#,
        gen = esc(&ctx.inputs.generator),
        d = as_of.format("%Y-%m-%d"),
    );
    header(&mut o, ctx);
    o.push_str(
        r##"<nav class="toc"><a href="#attention">Needs attention</a><a href="#overexposure">Overexposures</a><a href="#wearing">Missing badges &amp; heterogeneity</a><a href="#departments">Departments</a><a href="#workers">Workers</a><a href="#badges">Badges not returned</a><a href="#quality">Data quality</a><a href="#alerts">Alerts</a><a href="#about">About</a></nav>"##,
    );
    o.push_str("<main>");
    attention(&mut o, ctx);
    overexposure(&mut o, ctx);
    wearing(&mut o, ctx);
    departments(&mut o, ctx);
    workers(&mut o, ctx);
    badges(&mut o, ctx);
    quality(&mut o, ctx);
    alerts(&mut o, ctx);
    about(&mut o, ctx);
    o.push_str("</main>");
    let _ = writeln!(
        o,
        "<footer><p>{} · report as of {} · this page needs no network; the CSV files beside it hold every table in full.</p></footer></body></html>",
        esc(&ctx.inputs.generator),
        as_of.format("%Y-%m-%d")
    );
    o
}

fn long_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

fn header(o: &mut String, ctx: &Ctx) {
    let c = &ctx.counts;
    let as_of = ctx.inputs.as_of;
    let overview = ctx
        .table("lake_overview")
        .and_then(|t| t.iter().next().map(|r| (r.int("departments"), r.time("first_period_start"))));
    let _ = write!(
        o,
        r#"<header class="top"><div class="brand">alara · occupational radiation dosimetry</div><h1>Dosimetry report as of {}</h1>"#,
        esc(&long_date(as_of))
    );
    let mut sub = vec![format!("Wearing periods ended by {}", as_of.format("%Y-%m-%d"))];
    sub.push(format!("{} workers monitored", c.workers_monitored));
    if let Some((Some(d), first)) = overview {
        let since = first.map(|f| format!(", records since {}", iso_date(f))).unwrap_or_default();
        sub.push(format!("{d} departments{since}"));
    }
    sub.push(match &ctx.inputs.baseline {
        Some(b) if b.source == "--since" => format!("“new” = not in a report as of {} (--since)", b.as_of),
        Some(b) => format!("“new” = not in the previous report (as of {})", b.as_of),
        None => "first report: every finding counts as new".to_string(),
    });
    let _ = write!(o, r#"<p class="sub">{}</p>"#, esc(&sub.join(" · ")));
    if c.workers_monitored == 0 {
        let _ = write!(
            o,
            r#"<p class="warn"><strong>No dose result in the lake for wearing periods ended by {}.</strong> This report cannot say whether anyone is overexposed: check that results are being ingested (<code>alara ingest</code>) and the report date.</p>"#,
            as_of.format("%Y-%m-%d")
        );
    }

    let projected: BTreeSet<&str> = ctx
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Overexposure && f.level == "projected")
        .map(|f| f.worker_id.as_str())
        .collect();
    let kpi = |o: &mut String, n: u64, label: &str, href: &str, bad: &str| {
        let class = if n == 0 { "ok" } else { bad };
        let _ = write!(
            o,
            r##"<a class="kpi {class}" href="#{href}"><span class="n">{n}</span><span class="l">{}</span></a>"##,
            esc(label)
        );
    };
    o.push_str(r#"<div class="kpis">"#);
    kpi(o, c.workers_over_limit, "workers over a dose limit", "attention", "act");
    kpi(o, c.esr_candidates, "ESR candidates to declare", "overexposure", "act");
    let new_label = if ctx.inputs.baseline.is_some() {
        "new findings since the last report"
    } else {
        "findings (first report: all new)"
    };
    kpi(o, c.new_findings, new_label, "attention", "info");
    kpi(o, projected.len() as u64, "workers projected to exceed", "overexposure", "soon");
    kpi(o, c.workers_needing_attention, "workers needing attention", "attention", "info");
    kpi(o, c.badges_not_returned, "badges not returned (12 months)", "badges", "soon");
    kpi(o, c.missing_results, "results missing after 20 days", "quality", "soon");
    kpi(o, c.open_alerts, "open alerts", "alerts", "soon");
    o.push_str("</div></header>");
}

fn finding_line(f: &Finding) -> String {
    let mut s = format!("<strong>{}</strong>", esc(&f.title()));
    let numbers = f.numbers();
    if !numbers.is_empty() {
        let _ = write!(s, " — {}", esc(&numbers));
    }
    let period = f.period();
    if !period.is_empty() {
        let _ = write!(s, r#" <span class="muted nowrap">({})</span>"#, esc(&period));
    }
    if f.new {
        s.push(' ');
        s.push_str(&pill("new", "NEW"));
    }
    s
}

fn line_html(l: &model::Line) -> String {
    let f = &l.lead;
    let mut s = finding_line(f);
    if f.kind == Kind::Overexposure {
        let others: Vec<&str> =
            l.all.iter().skip(1).map(|o| level_label(&o.level)).filter(|x| *x != level_label(&f.level)).collect();
        if !others.is_empty() {
            let _ = write!(s, r#" <span class="muted small">· also {}</span>"#, esc(&others.join(", ")));
        }
    } else if l.all.len() > 1 {
        let new = l.all.iter().filter(|x| x.new).count();
        let _ = write!(
            s,
            r#" <span class="muted small">· {} periods{}</span>"#,
            l.all.len(),
            if new > 0 && new < l.all.len() { format!(", {new} new") } else { String::new() }
        );
    }
    s
}

fn actions(lines: &[model::Line], n: usize) -> String {
    let mut actions: Vec<&str> = Vec::new();
    for l in lines {
        if !actions.contains(&l.lead.action()) {
            actions.push(l.lead.action());
        }
    }
    let todo: Vec<String> = actions.iter().take(n).map(|a| esc(a)).collect();
    format!(r#"<span class="small">{}</span>"#, todo.join("<br>"))
}

fn who(ctx: &Ctx, w: &str) -> String {
    format!(r#"{}<br><span class="muted small">{}</span>"#, worker_link(ctx, w), person_line(ctx, w))
}

fn attention(o: &mut String, ctx: &Ctx) {
    o.push_str(r#"<section id="attention" class="attention"><h2>Needs attention today</h2>"#);
    let views = ["overexposure", "missing_badge", "unexplained_heterogeneity"];
    let missing: Vec<&str> = views.iter().copied().filter(|v| ctx.inputs.unavailable.contains_key(*v)).collect();
    if !missing.is_empty() {
        let _ = write!(
            o,
            r#"<p class="warn">Detections not available in this lake: {}. Workers below are those the available detections found.</p>"#,
            esc(&missing.join(", "))
        );
    }
    let urgent: Vec<&model::Attention> = ctx.attention.iter().filter(|a| a.severity != Severity::Check).collect();
    let check: Vec<&model::Attention> = ctx.attention.iter().filter(|a| a.severity == Severity::Check).collect();
    if urgent.is_empty() && ctx.counts.workers_monitored == 0 {
        o.push_str(r#"<p class="warn">No dose result to check: the lake holds none for this period.</p>"#);
    } else if urgent.is_empty() && missing.contains(&"overexposure") {
        o.push_str(
            r#"<p class="warn">Overexposures could not be checked: the overexposure detection is not available.</p>"#,
        );
    } else if urgent.is_empty() {
        o.push_str(r#"<p class="empty">No worker is over a limit, due for a declaration, above an investigation level or heading for a limit.</p>"#);
    } else {
        let _ = write!(
            o,
            r#"<p class="muted small">{} workers, most urgent first. <span class="pill act">Act today</span> a limit is exceeded or a declaration is due · <span class="pill soon">This week</span> heading for a limit or above the investigation level.</p>"#,
            urgent.len()
        );
        let rows: Vec<Vec<String>> = urgent
            .iter()
            .map(|a| {
                let lines = model::lines(&a.findings);
                let mut why = String::from("<ul>");
                for l in lines.iter().take(5) {
                    let _ = write!(why, "<li>{}</li>", line_html(l));
                }
                if lines.len() > 5 {
                    let _ = write!(
                        why,
                        r##"<li class="muted">{} more — <a href="#{}">see the worker</a></li>"##,
                        lines.len() - 5,
                        anchor("w-", &a.worker_id)
                    );
                }
                why.push_str("</ul>");
                vec![pill(a.severity.class(), a.severity.label()), who(ctx, &a.worker_id), why, actions(&lines, 2)]
            })
            .collect();
        table(o, "attention-list", &[col("Priority"), col("Worker"), col("Why"), col("What to do")], &rows);
    }
    if !check.is_empty() {
        let _ = write!(o, r#"<h3>To check: badge wearing and unexplained differences ({} workers)</h3>"#, check.len());
        let rows: Vec<Vec<String>> = check
            .iter()
            .take(MAX_ROWS)
            .map(|a| {
                let lines = model::lines(&a.findings);
                let signals: Vec<String> = lines
                    .iter()
                    .map(|l| {
                        let latest = l.all.iter().filter_map(|f| f.end).max();
                        let new = l.all.iter().any(|f| f.new);
                        format!(
                            "{}{}{}{}",
                            esc(&l.lead.title()),
                            if l.all.len() > 1 { format!(" ×{}", l.all.len()) } else { String::new() },
                            latest
                                .map(|e| format!(r#" <span class="muted small">(latest to {})</span>"#, iso_date(e)))
                                .unwrap_or_default(),
                            if new { format!(" {}", pill("new", "NEW")) } else { String::new() }
                        )
                    })
                    .collect();
                vec![who(ctx, &a.worker_id), signals.join("<br>"), actions(&lines, 2)]
            })
            .collect();
        table(o, "check-list", &[col("Worker"), col("Signals"), col("What to do")], &rows);
        if check.len() > rows.len() {
            let _ = write!(
                o,
                r#"<p class="note">Showing {} of {} workers; the rest are in summary.json.</p>"#,
                rows.len(),
                check.len()
            );
        }
    }
    o.push_str("</section>");
}

fn limit_lines(ctx: &Ctx, worker: &str, quantity: &str, pregnancy: bool) -> Vec<RefLine> {
    let p = ctx.people.get(worker);
    let mut lines = Vec::new();
    if let Some(l) = ctx.thresholds.get(p, quantity, "limit") {
        lines.push(RefLine { value: l, label: format!("limit {} mSv", trim(l)), class: "limit" });
    }
    if let Some(i) = ctx.thresholds.get(p, quantity, "investigation")
        && lines.first().is_none_or(|l| i < l.value)
    {
        lines.push(RefLine { value: i, label: format!("investigation {} mSv", trim(i)), class: "inv" });
    }
    if pregnancy && let Some(v) = ctx.thresholds.get(None, quantity, "pregnancy").or(Some(1.0)) {
        lines.push(RefLine { value: v, label: format!("pregnancy {} mSv", trim(v)), class: "preg" });
    }
    lines
}

fn trim(v: f64) -> String {
    crate::fmt::csv_float(v)
}

fn overexposure(o: &mut String, ctx: &Ctx) {
    o.push_str(r#"<section id="overexposure"><h2>Overexposures and projections</h2>"#);
    if unavailable(o, ctx, "overexposure") {
        o.push_str("</section>");
        return;
    }
    let mut fs: Vec<&Finding> = ctx.findings.iter().filter(|f| f.kind == Kind::Overexposure).collect();
    fs.sort_by(|a, b| model::finding_order(a, b));
    if fs.is_empty() {
        o.push_str(r#"<p class="empty">No worker is over a limit, an investigation level or a declaration criterion, and none is projected to exceed a limit.</p></section>"#);
        return;
    }
    let rows: Vec<Vec<String>> = fs
        .iter()
        .map(|f| {
            let q = f.quantity.clone().unwrap_or_default();
            vec![
                format!("{} {}", pill(f.severity().class(), level_label(&f.level)), new_pill(f)),
                worker_link(ctx, &f.worker_id),
                esc(&quantity_site(&q, f.body_site.as_deref().unwrap_or(""))),
                format!(r#"<span class="nowrap">{}</span>"#, esc(&f.period())),
                format!(
                    r#"<span data-worker="{}" data-quantity="{}" data-site="{}" data-level="{}" data-field="dose_msv">{}</span>"#,
                    esc(&f.worker_id),
                    esc(&q),
                    esc(f.body_site.as_deref().unwrap_or("")),
                    esc(&f.level),
                    opt_msv(f.value_msv)
                ),
                opt_msv(f.threshold_msv),
                if f.ratio() > 0.0 { pct(f.ratio()) } else { "—".into() },
                evidence(f.evidence.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    table(
        o,
        "overexposure",
        &[
            col("Level"),
            col("Worker"),
            col("Quantity"),
            col("Window"),
            num("Dose (mSv)"),
            num("Threshold (mSv)"),
            num("Of threshold"),
            col("Evidence"),
        ],
        &rows,
    );
    o.push_str(r#"<p class="muted small">One row per worker, quantity, body site and level: the window in which the level was first crossed (the evidence gives the peak and how long it lasted); single results above the declaration criterion one by one. Every row of the detection is in <a href="overexposure.csv">overexposure.csv</a>.</p>"#);

    // One chart per worker, quantity and body site, most urgent first.
    let mut charted: Vec<(String, String, String)> = Vec::new();
    for f in &fs {
        let q = f.quantity.clone().unwrap_or_else(|| "Hp10".into());
        let site = f.body_site.clone().unwrap_or_else(|| most_exposed_site(ctx, &f.worker_id, &q));
        let key = (f.worker_id.clone(), q, site);
        if !charted.contains(&key) {
            charted.push(key);
        }
    }
    o.push_str(r#"<h3>12-month rolling dose against the limit</h3><p class="legend"><i class="l-roll"></i>dose over the 12 months ending each month<i class="l-bar"></i>dose of the month<i class="l-limit"></i>annual limit<i class="l-inv"></i>investigation level<i class="l-nr"></i>badge without result (counted 0) · shaded: the flagged window</p><div class="charts">"#);
    for (w, q, site) in &charted {
        let worst = fs.iter().find(|f| {
            &f.worker_id == w
                && f.quantity.as_deref().unwrap_or("Hp10") == q
                && f.body_site.as_ref().is_none_or(|s| s == site)
        });
        o.push_str(&chart_figure(ctx, w, q, site, worst.copied()));
    }
    o.push_str("</div></section>");
}

fn level_label(level: &str) -> &str {
    match level {
        "limit" => "limit exceeded",
        "esr" => "ESR candidate",
        "investigation" => "investigation",
        "pregnancy" => "pregnancy",
        "projected" => "projected",
        other => other,
    }
}

/// The body site with the highest 12-month dose of a worker for a quantity.
fn most_exposed_site(ctx: &Ctx, w: &str, q: &str) -> String {
    ctx.totals
        .iter()
        .filter(|((tw, tq, _), _)| tw == w && tq == q)
        .max_by(|a, b| a.1.rolling_12.total_cmp(&b.1.rolling_12).then(b.0.2.cmp(&a.0.2)))
        .map(|((_, _, site), _)| site.clone())
        .unwrap_or_else(|| if q == "Hp10" { "whole_body".into() } else { String::new() })
}

fn quantity_site(q: &str, site: &str) -> String {
    if q == "Hp10" || site == "whole_body" || site.is_empty() {
        quantity_name(q).to_string()
    } else {
        format!("{}, {}", quantity_name(q), model::site_label(site))
    }
}

fn chart_figure(ctx: &Ctx, w: &str, q: &str, site: &str, worst: Option<&Finding>) -> String {
    let empty = BTreeMap::new();
    let months = ctx.monthly.get(&(w.to_string(), q.to_string(), site.to_string())).unwrap_or(&empty);
    let pregnancy = worst.is_some_and(|f| f.level == "pregnancy");
    let declared = ctx.people.get(w).and_then(|p| p.pregnancy_declared_on).and_then(date_of);
    let points = match (pregnancy, declared) {
        (true, Some(d)) => model::since_series(months, &ctx.bounds, d),
        _ => model::rolling_series(months, &ctx.bounds),
    };
    let lines = if pregnancy && declared.is_some() {
        let v = ctx.thresholds.get(None, q, "pregnancy").unwrap_or(1.0);
        vec![RefLine { value: v, label: format!("unborn child {} mSv", trim(v)), class: "preg" }]
    } else {
        limit_lines(ctx, w, q, false)
    };
    let window = worst.and_then(|f| Some((date_of(f.start?)?, date_of(f.end?)?)));
    let marker = if pregnancy { declared.map(|d| (d, "pregnancy declared")) } else { None };
    let last = points.last().map(|p| p.rolling).unwrap_or(0.0);
    let since_declaration = pregnancy && declared.is_some();
    let (span, field) = if since_declaration {
        ("since the declaration", "since_declaration_msv")
    } else {
        ("over the 12 months", "rolling_12_months_msv")
    };
    let as_of = ctx.inputs.as_of.format("%Y-%m-%d");
    let desc = format!("{w}: {} {span} to {as_of}: {} mSv", quantity_site(q, site), msv(last));
    let chart = svg::rolling_chart(&points, &lines, window, marker, &desc);
    let what = worst.map(|f| format!(" · {}", level_label(&f.level))).unwrap_or_default();
    format!(
        r#"<figure data-worker="{wa}" data-quantity="{qa}" data-site="{sa}"><figcaption>{} · <strong>{}</strong><span class="what">{}</span><br><span class="small muted">{span_cap} to {as_of}: <strong data-field="{field}">{}</strong> mSv · {}</span></figcaption>{chart}</figure>"#,
        worker_link(ctx, w),
        esc(&quantity_site(q, site)),
        esc(&what),
        msv(last),
        person_line(ctx, w),
        wa = esc(w),
        qa = esc(q),
        sa = esc(site),
        span_cap = if since_declaration { "Since the declaration" } else { "12 months" },
    )
}

fn wearing(o: &mut String, ctx: &Ctx) {
    o.push_str(r#"<section id="wearing"><h2>Missing badges and unexplained heterogeneity</h2>"#);
    o.push_str("<h3>Badges not worn or not returned</h3>");
    if !unavailable(o, ctx, "missing_badge") {
        let mut fs: Vec<&Finding> = ctx.findings.iter().filter(|f| f.kind == Kind::MissingBadge).collect();
        fs.sort_by(|a, b| table_order(a, b));
        if fs.is_empty() {
            o.push_str(r#"<p class="empty">No sign of a badge not worn or not returned.</p>"#);
        } else {
            let rows: Vec<Vec<String>> = fs
                .iter()
                .take(MAX_ROWS)
                .map(|f| {
                    vec![
                        format!("{} {}", pill("check", &signal_label(&f.level)), new_pill(f)),
                        worker_link(ctx, &f.worker_id),
                        esc(&ctx.department_of(&f.worker_id)),
                        format!(r#"<span class="nowrap">{}</span>"#, esc(&f.period())),
                        evidence(f.evidence.as_deref().unwrap_or("")),
                    ]
                })
                .collect();
            table(
                o,
                "missing-badge",
                &[col("Signal"), col("Worker"), col("Department"), col("Period"), col("Evidence")],
                &rows,
            );
            capped_note(o, rows.len(), fs.len(), "missing_badge.csv");
        }
    }
    o.push_str("<h3>Unexplained heterogeneity</h3>");
    if !unavailable(o, ctx, "unexplained_heterogeneity") {
        let mut fs: Vec<&Finding> = ctx.findings.iter().filter(|f| f.kind == Kind::Heterogeneity).collect();
        fs.sort_by(|a, b| table_order(a, b));
        if fs.is_empty() {
            o.push_str(r#"<p class="empty">No unexplained difference between peers or between passive and operational dosimetry.</p>"#);
        } else {
            let rows: Vec<Vec<String>> = fs
                .iter()
                .take(MAX_ROWS)
                .map(|f| {
                    vec![
                        format!("{} {}", pill("check", &signal_label(&f.level)), new_pill(f)),
                        worker_link(ctx, &f.worker_id),
                        esc(&f.quantity.as_deref().map(quantity_short).unwrap_or_default()),
                        format!(r#"<span class="nowrap">{}</span>"#, esc(&f.period())),
                        opt_msv(f.value_msv),
                        opt_msv(f.threshold_msv),
                        f.score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into()),
                        evidence(f.evidence.as_deref().unwrap_or("")),
                    ]
                })
                .collect();
            table(
                o,
                "heterogeneity",
                &[
                    col("Signal"),
                    col("Worker"),
                    col("Quantity"),
                    col("Period"),
                    num("Dose (mSv)"),
                    num("Reference (mSv)"),
                    num("Score"),
                    col("Evidence"),
                ],
                &rows,
            );
            capped_note(o, rows.len(), fs.len(), "unexplained_heterogeneity.csv");
        }
    }
    o.push_str("<h3>Explained findings</h3>");
    match ctx.table("explained_findings") {
        Some(t) if !t.is_empty() && t.has("reason") => {
            o.push_str(r#"<p class="muted small">Findings that a person has explained with <code>alara explain</code>; they no longer appear above.</p>"#);
            explained_table(o, ctx, t);
        }
        Some(t) if !t.is_empty() => {
            o.push_str(r#"<p class="muted small">Findings that a person has explained with <code>alara explain</code>; they no longer appear above.</p>"#);
            generic_table(o, t, "explained_findings");
        }
        Some(_) => o.push_str(r#"<p class="muted">No finding has been explained.</p>"#),
        None => {
            if let Some(t) = ctx.table("explanations").filter(|t| !t.is_empty()) {
                o.push_str(r#"<p class="muted small">Explanations recorded with <code>alara explain</code>.</p>"#);
                generic_table(o, t, "explanations");
            } else {
                o.push_str(r#"<p class="muted">No explanation recorded.</p>"#);
            }
        }
    }
    o.push_str("</section>");
}

/// Signal tables: by signal, most recent period first.
fn table_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    model::level_rank(a).cmp(&model::level_rank(b)).then(b.end.cmp(&a.end)).then(a.key.cmp(&b.key))
}

fn signal_label(s: &str) -> String {
    match s {
        "not_returned" => "not returned".into(),
        "zero_while_peers_exposed" => "zero while peers exposed".into(),
        "procedure_without_dosimeter" => "procedure without dosimeter".into(),
        "peer_outlier" => "peer outlier".into(),
        "passive_operational_mismatch" => "passive ≠ operational".into(),
        other => other.replace('_', " "),
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Float(f) => msv(*f),
        Value::Time(t) => esc(&when(*t)),
        Value::Date(d) => esc(&iso_date(i64::from(*d) * 86_400_000_000)),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Text(s) => esc(s),
    }
}

/// Any table, columns as the query returned them (for views whose extra columns we do not know).
fn generic_table(o: &mut String, t: &Table, csv_stem: &str) {
    let numeric: Vec<bool> =
        (0..t.columns.len()).map(|i| t.rows.iter().any(|r| matches!(r[i], Value::Float(_) | Value::Int(_)))).collect();
    let cols: Vec<Col> =
        t.columns.iter().zip(&numeric).map(|(c, n)| Col { head: c.replace('_', " "), num: *n }).collect();
    let rows: Vec<Vec<String>> = t.rows.iter().take(MAX_ROWS).map(|r| r.iter().map(cell).collect()).collect();
    table(o, csv_stem, &cols, &rows);
    capped_note(o, rows.len(), t.len(), &format!("{csv_stem}.csv"));
}

/// Explained findings: what was found, and who explained it, when and why.
fn explained_table(o: &mut String, ctx: &Ctx, t: &Table) {
    let period = |r: &crate::table::Row<'_>| match (r.time("period_start"), r.time("period_end")) {
        (Some(s), Some(e)) => format!("{} → {}", iso_date(s), iso_date(e)),
        _ => String::new(),
    };
    let rows: Vec<Vec<String>> = t
        .iter()
        .take(MAX_ROWS)
        .map(|r| {
            let what = r.text("level_or_signal").or(r.text("signal")).or(r.text("level")).unwrap_or_default();
            let by = r.text("explained_by").or(r.text("author")).unwrap_or_default();
            let at = r.time("explained_at").or(r.time("recorded_at")).map(when).unwrap_or_default();
            vec![
                pill("ok", &signal_label(&what)),
                worker_link(ctx, &r.str("worker_id")),
                esc(&r.text("quantity").map(|q| quantity_short(&q)).unwrap_or_default()),
                format!(r#"<span class="nowrap">{}</span>"#, esc(&period(&r))),
                opt_msv(r.float("value_msv").or(r.float("dose_msv"))),
                format!(
                    r#"<strong>{}</strong><br><span class="small muted">{} · {}</span>"#,
                    esc(&r.str("reason")),
                    esc(&by),
                    esc(&at)
                ),
                evidence(&r.str("evidence")),
            ]
        })
        .collect();
    table(
        o,
        "explained",
        &[
            col("Finding"),
            col("Worker"),
            col("Quantity"),
            col("Period"),
            num("Dose (mSv)"),
            col("Explanation"),
            col("Evidence"),
        ],
        &rows,
    );
    capped_note(o, rows.len(), t.len(), "explained_findings.csv");
}

fn rate_cell(rate: Option<f64>) -> String {
    match rate {
        None => r#"<span class="muted">no data</span>"#.into(),
        Some(r) => {
            let b = Band::of(r);
            format!(
                r#"<span class="bar {cls}"><span style="width:{w}%"></span></span><strong>{p}</strong> {pill}"#,
                cls = b.class(),
                w = (r * 100.0).round().clamp(0.0, 100.0) as i64,
                p = pct(r),
                pill = pill(b.class(), b.label())
            )
        }
    }
}

fn departments(o: &mut String, ctx: &Ctx) {
    o.push_str(r#"<section id="departments"><h2>Departments: compliance and doses by role</h2>"#);
    o.push_str(r#"<p class="muted small">Last 12 months. <strong>Badge return</strong>: legal badges (passive, ring, eye) read by the lab out of those issued. <strong>Operational dosimeter worn</strong>: attendances at fluoroscopy procedures with an operational reading the same day. Rated with the inspection bands: above 85 % satisfactory, 65–85 % room for progress, below 65 % priority.</p>"#);
    if !unavailable(o, ctx, "department_compliance") {
        if ctx.departments.is_empty() {
            o.push_str(r#"<p class="muted">No badge result or procedure in the last 12 months.</p>"#);
        } else {
            let mut max_hp10: BTreeMap<String, (f64, String)> = BTreeMap::new();
            for ((w, q, _site), t) in &ctx.totals {
                if q == "Hp10" {
                    let d = ctx.department_of(w);
                    let e = max_hp10.entry(d).or_insert((f64::MIN, String::new()));
                    if t.rolling_12 > e.0 {
                        *e = (t.rolling_12, w.clone());
                    }
                }
            }
            let rows: Vec<Vec<String>> = ctx
                .departments
                .iter()
                .map(|d| {
                    let band = d.band().map(|b| pill(b.class(), b.label())).unwrap_or_default();
                    let top = max_hp10
                        .get(&d.name)
                        .filter(|(v, _)| *v > f64::MIN)
                        .map(|(v, w)| format!(r#"{} <span class="muted small">{}</span>"#, msv(*v), esc(w)))
                        .unwrap_or_else(|| "—".into());
                    vec![
                        format!("<strong>{}</strong>", esc(&d.name)),
                        d.workers.to_string(),
                        format!("{} / {}", d.badges_read, d.badges_issued),
                        rate_cell(d.return_rate()),
                        format!("{} / {}", d.attendances_with_dosimeter, d.attendances),
                        rate_cell(d.wearing_rate()),
                        band,
                        top,
                    ]
                })
                .collect();
            table(
                o,
                "departments",
                &[
                    col("Department"),
                    num("Workers"),
                    num("Badges read / issued"),
                    col("Badge return"),
                    num("Attendances with dosimeter"),
                    col("Operational dosimeter worn"),
                    col("Overall"),
                    num("Highest 12-month Hp(10)"),
                ],
                &rows,
            );
            capped_note(o, rows.len(), rows.len(), "department_compliance.csv");
        }
    }
    o.push_str("<h3>Dose distribution by role</h3>");
    distribution(o, ctx);
    o.push_str("</section>");
}

fn distribution(o: &mut String, ctx: &Ctx) {
    if unavailable(o, ctx, "worker_doses") {
        return;
    }
    let from = crate::fmt::midnight(ctx.bounds.from_12);
    let mut any = false;
    o.push_str(r#"<div class="charts">"#);
    for q in QUANTITIES {
        // department · role → doses over 12 months of workers with a result in the last 12 months.
        // The most exposed body site of each worker.
        let mut per_worker: BTreeMap<&str, f64> = BTreeMap::new();
        for ((w, wq, _site), t) in &ctx.totals {
            if wq != q || t.last_period_end.is_none_or(|e| e <= from) {
                continue;
            }
            let e = per_worker.entry(w.as_str()).or_insert(0.0);
            *e = e.max(t.rolling_12);
        }
        let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (w, v) in per_worker {
            let role = ctx.people.get(w).and_then(|p| p.role.clone()).unwrap_or_else(|| "role unknown".into());
            groups.entry(role).or_default().push(v);
        }
        if groups.is_empty() {
            continue;
        }
        any = true;
        let rows: Vec<(String, Vec<f64>)> = groups.into_iter().collect();
        let limit = ctx.thresholds.get(None, q, "limit");
        let inv = ctx.thresholds.get(None, q, "investigation");
        let mut lines = Vec::new();
        if let Some(l) = limit {
            lines.push(RefLine { value: l, label: format!("limit {}", trim(l)), class: "limit" });
        }
        if let Some(i) = inv {
            lines.push(RefLine { value: i, label: format!("investigation {}", trim(i)), class: "inv" });
        }
        let n: usize = rows.iter().map(|(_, v)| v.len()).sum();
        let desc = format!("{} over the last 12 months by role, {n} workers", quantity_name(q));
        let _ = write!(
            o,
            r#"<figure class="dist" data-quantity="{}"><figcaption><strong>{}</strong> <span class="what">— each dot a worker; box: middle half, line: median</span></figcaption>{}</figure>"#,
            esc(q),
            esc(quantity_name(q)),
            svg::distribution_chart(&rows, &lines, &desc)
        );
    }
    o.push_str("</div>");
    if !any {
        o.push_str(r#"<p class="muted">No dose result in the last 12 months.</p>"#);
    } else {
        o.push_str(r#"<p class="muted small">Per worker and quantity: <a href="worker_doses.csv">worker_doses.csv</a> (year to date, 12 months, career) and <a href="dose_by_period.csv">dose_by_period.csv</a> (every wearing period of the last 36 months).</p>"#);
    }
}

fn month_cell(m: Option<&model::Month>) -> (String, &'static str) {
    match m {
        None => ("—".into(), "m"),
        Some(m) if m.missing > 0 && m.read == 0 => ("NR".into(), "m nr"),
        Some(m) if m.dose == 0.0 && m.below_threshold > 0 => ("M".into(), "m bt"),
        Some(m) => {
            let mut s = msv(m.dose);
            if m.missing > 0 {
                s.push('*');
            }
            if m.estimated > 0 {
                s.push_str(" (e)");
            }
            (s, "m")
        }
    }
}

fn workers(o: &mut String, ctx: &Ctx) {
    o.push_str(r#"<section id="workers"><h2>Workers needing attention: doses</h2>"#);
    o.push_str(r#"<p class="muted small">As a dosimetry service's statement shows them: doses of the legal record (passive badge, ring, eye dosimeter; the under-apron badge for Hp(10)), below-threshold results counted 0. <strong>M</strong>: below the recording threshold · <strong>NR</strong>: no result (not returned, lost, damaged) · <strong>*</strong>: one of the month's badges has no result · <strong>(e)</strong>: dose assigned by the occupational physician · —: no badge. Every worker is in <a href="worker_doses.csv">worker_doses.csv</a>.</p>"#);
    if ctx.attention.is_empty() {
        o.push_str(r#"<p class="empty">No worker needs attention.</p></section>"#);
        return;
    }
    let months: Vec<NaiveDate> = model::chart_months(&ctx.bounds).into_iter().rev().take(12).rev().collect();
    for a in &ctx.attention {
        let w = &a.worker_id;
        let p = ctx.people.get(w);
        let _ = write!(
            o,
            r#"<article class="worker" id="{}" data-worker="{}"><h3><span class="worker-id">{}</span>{}"#,
            anchor("w-", w),
            esc(w),
            esc(w),
            pill(a.severity.class(), a.severity.label())
        );
        if a.has_new() {
            o.push_str(&pill("new", "NEW"));
        }
        o.push_str("</h3>");
        let mut meta = Vec::new();
        if let Some(p) = p {
            meta.push(format!("Department: {}", p.department));
            if let Some(r) = &p.role {
                meta.push(format!("role: {r}"));
            }
            if let Some(c) = &p.category {
                meta.push(format!("category: {c}"));
            }
            if p.apprentice {
                meta.push("apprentice (16–18): lower limits".into());
            }
            if let Some(d) = p.pregnancy_declared_on {
                meta.push(format!("pregnancy declared on {}", iso_date(d)));
            }
        }
        let _ = write!(o, r#"<p class="muted">{}</p><ul>"#, esc(&meta.join(" · ")));
        for f in &a.findings {
            let _ = write!(o, "<li>{} <span class=\"small\">{}</span></li>", finding_line(f), esc(f.action()));
        }
        o.push_str("</ul>");

        // (quantity, body site) of this worker, in quantity order.
        let sites: Vec<(&str, &str)> = QUANTITIES
            .iter()
            .flat_map(|q| {
                ctx.totals
                    .keys()
                    .filter(move |(tw, tq, _)| tw == w && tq == q)
                    .map(move |(_, _, site)| (*q, site.as_str()))
            })
            .collect();
        if sites.is_empty() {
            o.push_str(r#"<p class="muted">No legal dose result for this worker.</p></article>"#);
            continue;
        }
        let key = |q: &str, site: &str| (w.clone(), q.to_string(), site.to_string());
        let rows: Vec<Vec<String>> = sites
            .iter()
            .map(|(q, site)| {
                let t = &ctx.totals[&key(q, site)];
                let limit = ctx.thresholds.get(p, q, "limit");
                let of = limit.filter(|l| *l > 0.0).map(|l| t.rolling_12 / l);
                let field = |name: &str, v: f64| {
                    format!(
                        r#"<span data-worker="{}" data-quantity="{}" data-site="{}" data-field="{name}">{}</span>"#,
                        esc(w),
                        esc(q),
                        esc(site),
                        msv(v)
                    )
                };
                let of_cell = match of {
                    Some(r) if r > 1.0 => pill("act", &pct(r)),
                    Some(r) => pct(r),
                    None => "—".into(),
                };
                vec![
                    esc(&quantity_site(q, site)),
                    field("year_to_date_msv", t.year_to_date),
                    field("rolling_12_months_msv", t.rolling_12),
                    field("career_msv", t.career),
                    limit.map(msv).unwrap_or_else(|| "—".into()),
                    of_cell,
                    if t.missing_12 > 0 { pill("soon", &t.missing_12.to_string()) } else { "0".into() },
                ]
            })
            .collect();
        let year = ctx.inputs.as_of.format("%Y").to_string();
        table(
            o,
            "totals",
            &[
                col("Quantity"),
                num(&format!("Year to date {year} (mSv)")),
                num("Rolling 12 months (mSv)"),
                num("Career total (mSv)"),
                num("Limit (mSv)"),
                num("12 months / limit"),
                num("Badges without result (12 months)"),
            ],
            &rows,
        );
        // Dose by month: one row per quantity and site, the last 12 months as columns.
        let _ = write!(o, r#"<table class="cells"><thead><tr><th>Dose by month (mSv)</th>"#);
        for m in &months {
            let _ = write!(o, r#"<th class="m">{}</th>"#, esc(&m.format("%b %y").to_string()));
        }
        o.push_str("</tr></thead><tbody>");
        for (q, site) in &sites {
            let series = ctx.monthly.get(&key(q, site));
            let label = if *q == "Hp10" || *site == "whole_body" {
                quantity_short(q)
            } else {
                format!("{} {}", quantity_short(q), model::site_label(site))
            };
            let _ = write!(o, "<tr><td>{}</td>", esc(&label));
            for m in &months {
                let (text, class) = month_cell(series.and_then(|s| s.get(m)));
                let _ = write!(o, r#"<td class="{class}">{}</td>"#, esc(&text));
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></article>");
    }
    o.push_str("</section>");
}

fn badges(o: &mut String, ctx: &Ctx) {
    o.push_str(r#"<section id="badges"><h2>Badges not returned or lost</h2>"#);
    if unavailable(o, ctx, "badges_not_returned") {
        o.push_str("</section>");
        return;
    }
    let Some(t) = ctx.table("badges_not_returned").filter(|t| !t.is_empty()) else {
        o.push_str(r#"<p class="empty">Every badge of the last 12 months was returned and read.</p></section>"#);
        return;
    };
    let _ = write!(
        o,
        r#"<p class="muted small">Last 12 months, most recent first: {} badge periods with no result. Such a period counts 0 in the sums above until the lab or the occupational physician gives a dose.</p>"#,
        t.len()
    );
    let rows: Vec<Vec<String>> = t
        .iter()
        .take(MAX_ROWS)
        .map(|r| {
            let period = match (r.time("period_start"), r.time("period_end")) {
                (Some(s), Some(e)) => format!("{} → {}", iso_date(s), iso_date(e)),
                _ => String::new(),
            };
            vec![
                worker_link(ctx, &r.str("worker_id")),
                esc(&r.str("department")),
                format!(r#"<span class="nowrap">{}</span>"#, esc(&period)),
                pill("soon", &r.str("status").replace('_', " ")),
                esc(&r.str("monitoring")),
                esc(&quantity_short(&r.str("quantity"))),
                esc(&r.str("dosimeter_id")),
                esc(&r.str("source")),
            ]
        })
        .collect();
    table(
        o,
        "badges",
        &[
            col("Worker"),
            col("Department"),
            col("Period"),
            col("Status"),
            col("Monitoring"),
            col("Quantity"),
            col("Dosimeter"),
            col("Lab"),
        ],
        &rows,
    );
    capped_note(o, rows.len(), t.len(), "badges_not_returned.csv");
    o.push_str("</section>");
}

fn quality(o: &mut String, ctx: &Ctx) {
    let c = &ctx.counts;
    o.push_str(r#"<section id="quality"><h2>Data quality</h2>"#);
    let loaded_after = ctx
        .table("lake_overview")
        .and_then(|t| t.iter().next())
        .map(|r| (r.int("loaded_after_as_of"), r.time("last_ingested_at")));
    let _ = write!(
        o,
        r#"<p>Rejected input records: <strong>{}</strong> · results missing 20 days after their wearing period: <strong>{}</strong> · results received more than 20 days late (12 months): <strong>{}</strong></p>"#,
        c.rejected_records, c.missing_results, c.late_results
    );
    if let Some((Some(n), last)) = loaded_after
        && n > 0
    {
        let _ = write!(
            o,
            r#"<p class="note">{n} results of periods ended by {} were loaded after that date (latest load {}). They are included: the report describes the doses of periods up to the as-of date with everything the lake knows.</p>"#,
            ctx.inputs.as_of.format("%Y-%m-%d"),
            esc(&last.map(when).unwrap_or_default())
        );
    }

    o.push_str("<h3>Results missing 20 days after the end of their period</h3>");
    if !unavailable(o, ctx, "missing_results") {
        match ctx.table("missing_results").filter(|t| !t.is_empty()) {
            None => o.push_str(r#"<p class="empty">Every expected result is in.</p>"#),
            Some(t) => {
                o.push_str(r#"<p class="muted small">The lab must declare a result or its absence 20 days after the wearing period ends (arrêté of 23 June 2023, art. 13). A gap between two results, or a series whose next period has ended more than 20 days ago with nothing received, is listed.</p>"#);
                let rows: Vec<Vec<String>> = t
                    .iter()
                    .take(MAX_ROWS)
                    .map(|r| {
                        let period = match (r.time("missing_from"), r.time("missing_to")) {
                            (Some(s), Some(e)) => format!("{} → {}", iso_date(s), iso_date(e)),
                            _ => String::new(),
                        };
                        vec![
                            worker_link(ctx, &r.str("worker_id")),
                            esc(&r.str("department")),
                            esc(&format!("{} {}", r.str("monitoring"), quantity_short(&r.str("quantity")))),
                            format!(r#"<span class="nowrap">{}</span>"#, esc(&period)),
                            esc(&r.str("kind")),
                            r.int("days_since_period_end").map(|d| d.to_string()).unwrap_or_default(),
                            esc(&r.str("source")),
                        ]
                    })
                    .collect();
                table(
                    o,
                    "missing-results",
                    &[
                        col("Worker"),
                        col("Department"),
                        col("Dosimeter"),
                        col("Missing period"),
                        col("What"),
                        num("Days since period end"),
                        col("Lab"),
                    ],
                    &rows,
                );
                capped_note(o, rows.len(), t.len(), "missing_results.csv");
            }
        }
    }

    o.push_str("<h3>Ingest lag by lab</h3>");
    if !unavailable(o, ctx, "ingest_lag") {
        match ctx.table("ingest_lag").filter(|t| !t.is_empty()) {
            None => {
                let _ = write!(
                    o,
                    r#"<p class="muted">No legal result of the last 12 months was loaded by {}.</p>"#,
                    ctx.inputs.as_of.format("%Y-%m-%d")
                );
            }
            Some(t) => {
                let rows: Vec<Vec<String>> = t
                    .iter()
                    .map(|r| {
                        let late = r.int("later_than_20_days").unwrap_or(0);
                        vec![
                            esc(&r.str("source")),
                            r.int("results").unwrap_or(0).to_string(),
                            r.float("median_days").map(|d| format!("{d:.1}")).unwrap_or_default(),
                            r.float("max_days").map(|d| format!("{d:.1}")).unwrap_or_default(),
                            if late > 0 { format!(r#"<span class="pill soon">{late}</span>"#) } else { "0".into() },
                            esc(&r.time("last_ingested_at").map(when).unwrap_or_default()),
                        ]
                    })
                    .collect();
                o.push_str(r#"<p class="muted small">Days from the end of a wearing period to its arrival in the lake, legal results of the last 12 months loaded by the as-of date.</p>"#);
                table(
                    o,
                    "ingest-lag",
                    &[
                        col("Lab"),
                        num("Results"),
                        num("Median days"),
                        num("Longest"),
                        num("Later than 20 days"),
                        col("Last loaded"),
                    ],
                    &rows,
                );
                if let Some(late) = ctx.table("late_results").filter(|t| !t.is_empty()) {
                    let _ = write!(
                        o,
                        r#"<p class="muted small">The {} results received more than 20 days after their period are listed in <a href="late_results.csv">late_results.csv</a>.</p>"#,
                        late.len()
                    );
                }
            }
        }
    }

    o.push_str("<h3>Rejected input</h3>");
    if !unavailable(o, ctx, "rejects_by_reason") {
        match ctx.table("rejects_by_reason").filter(|t| !t.is_empty()) {
            None => o.push_str(r#"<p class="empty">No input record was rejected.</p>"#),
            Some(t) => {
                o.push_str(r#"<p class="muted small">Records refused at ingest, kept with their raw text in the <code>rejects</code> table (<code>alara sql -c "SELECT * FROM rejects"</code>).</p>"#);
                let rows: Vec<Vec<String>> = t
                    .iter()
                    .take(MAX_ROWS)
                    .map(|r| {
                        vec![
                            esc(&r.str("kind")),
                            format!(r#"<div class="ev">{}</div>"#, esc(&r.str("reason"))),
                            r.int("records").unwrap_or(0).to_string(),
                            format!(r#"<span class="small">{}</span>"#, esc(&r.str("first_origin"))),
                            esc(&r.time("last_rejected_at").map(when).unwrap_or_default()),
                        ]
                    })
                    .collect();
                table(
                    o,
                    "rejects",
                    &[col("Kind"), col("Reason"), num("Records"), col("First seen at"), col("Last rejected")],
                    &rows,
                );
                capped_note(o, rows.len(), t.len(), "rejects_by_reason.csv");
            }
        }
    }
    o.push_str("</section>");
}

fn alert_rows(ctx: &Ctx, t: &Table, idx: &[usize], acknowledged: bool) -> Vec<Vec<String>> {
    idx.iter()
        .take(MAX_ROWS)
        .filter_map(|i| t.iter().nth(*i))
        .map(|r| {
            let window = match (r.time("window_start"), r.time("window_end")) {
                (Some(s), Some(e)) => format!("{} → {}", iso_date(s), iso_date(e)),
                _ => String::new(),
            };
            let mut row = vec![
                format!(r#"<span class="nowrap">{}</span>"#, esc(&r.time("raised_at").map(when).unwrap_or_default())),
                worker_link(ctx, &r.str("worker_id")),
                format!("{} {}", pill("level", &r.str("level")), esc(&r.str("rule"))),
                esc(&quantity_short(&r.str("quantity"))),
                opt_msv(r.float("dose_msv")),
                opt_msv(r.float("threshold_msv")),
                format!(r#"<span class="nowrap">{}</span>"#, esc(&window)),
                format!(r#"<div class="ev">{}</div>"#, esc(&r.str("summary"))),
            ];
            if acknowledged {
                let by = r.text("acknowledged_by").or(r.text("author")).or(r.text("by")).unwrap_or_default();
                let note = r.text("acknowledged_note").or(r.text("acknowledgement_note")).or(r.text("note"));
                row.push(format!(
                    "<strong>{}</strong><br><span class=\"small muted\">{}</span>",
                    esc(&by),
                    esc(&r.time("acknowledged_at").map(when).unwrap_or_default())
                ));
                row.push(format!(r#"<div class="ev">{}</div>"#, esc(&note.unwrap_or_default())));
            } else {
                let state = r.str("state");
                let hooks = r.str("hooks");
                let cell = match (state.as_str(), hooks.is_empty()) {
                    ("failed", _) => format!("{} {}", pill("act", "delivery failing"), esc(&hooks)),
                    (_, true) => "no hook configured".to_string(),
                    ("", false) => esc(&hooks),
                    (other, false) => format!("{} · {}", esc(other), esc(&hooks)),
                };
                row.push(format!(r#"<span class="small">{cell}</span>"#));
            }
            row
        })
        .collect()
}

fn alerts(o: &mut String, ctx: &Ctx) {
    o.push_str(r#"<section id="alerts"><h2>Alerts</h2>"#);
    let Some(t) = ctx.table("alerts") else {
        o.push_str(r#"<p class="muted">No alert outbox in this lake: alerts are raised by <code>alara ingest</code> when hooks are configured.</p></section>"#);
        return;
    };
    let head = |ack: bool| {
        let mut h = vec![
            col("Raised"),
            col("Worker"),
            col("Level · rule"),
            col("Quantity"),
            num("Dose (mSv)"),
            num("Threshold (mSv)"),
            col("Window"),
            col("Summary"),
        ];
        if ack {
            h.push(col("Acknowledged by"));
            h.push(col("Note"));
        } else {
            h.push(col("Delivery"));
        }
        h
    };
    let _ = write!(o, "<h3>Open alerts ({})</h3>", ctx.open_alerts.len());
    if ctx.open_alerts.is_empty() {
        o.push_str(r#"<p class="empty">No alert is waiting for acknowledgement.</p>"#);
    } else {
        o.push_str(r#"<p class="muted small">Raised and not yet acknowledged (<code>alara alerts --ack ID --by NAME</code>).</p>"#);
        table(o, "alerts-open", &head(false), &alert_rows(ctx, t, &ctx.open_alerts, false));
    }
    if ctx.counts.withdrawn_alerts > 0 {
        let _ = write!(
            o,
            r#"<p class="muted small">{} alerts were withdrawn because corrected results no longer support them (state <code>withdrawn</code> in alerts.csv).</p>"#,
            ctx.counts.withdrawn_alerts
        );
    }
    let heading = match &ctx.inputs.baseline {
        Some(b) => format!("Acknowledged since the report as of {} ({})", b.as_of, ctx.acknowledged.len()),
        None => format!("Acknowledged (first report: every acknowledgement) ({})", ctx.acknowledged.len()),
    };
    let _ = write!(o, "<h3>{}</h3>", esc(&heading));
    if ctx.acknowledged.is_empty() {
        o.push_str(r#"<p class="muted">None.</p>"#);
    } else {
        table(o, "alerts-acknowledged", &head(true), &alert_rows(ctx, t, &ctx.acknowledged, true));
    }
    if !t.is_empty() {
        o.push_str(r#"<p class="muted small">Every alert, with its delivery per hook and payload: <a href="alerts.csv">alerts.csv</a>.</p>"#);
    }
    o.push_str("</section>");
}

fn about(o: &mut String, ctx: &Ctx) {
    o.push_str(r#"<section id="about"><h2>About this report</h2><dl class="defs">"#);
    let b = &ctx.bounds;
    let defs = [
        (
            "As of",
            format!(
                "{}: results of wearing periods ending after that day, procedures after it and worker records valid from after it are ignored; the detections run on that view of the lake.",
                b.as_of
            ),
        ),
        ("Rolling 12 months", format!("Periods ending from {} to {} (inclusive).", b.from_12, b.as_of)),
        ("Year to date", format!("Periods ending from {} to {}.", b.year_start, b.as_of)),
        (
            "Dose record",
            "The results that count toward the limits, as the detections define them (legal_results): whole body from the passive badge worn under the apron, eye lens and extremities from their own dosimeters, per body site (each eye, each hand). Operational dosimeters are compared, never added. Below-threshold results count 0; a lost or unreturned badge has no dose and is flagged, never silently 0."
                .into(),
        ),
        (
            "Over a limit",
            "A 12-month sum above the annual limit of the worker's population (R4451-6/-8), or a dose since a declared pregnancy above 1 mSv (R4451-7).".into(),
        ),
        (
            "ESR candidate",
            "A limit exceeded (ASN guide 11, criterion 1a) or one result at or above a quarter of the annual limit (criterion 1b).".into(),
        ),
        ("New", "A finding that the baseline report did not have: same view, level or signal, worker, quantity and (for single results and periods) start date.".into()),
    ];
    for (k, v) in defs {
        let _ = write!(o, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    }
    o.push_str("</dl><h3>Thresholds in force</h3>");
    let mut rows = Vec::new();
    for ((pop, q, level), v) in &ctx.thresholds.0 {
        rows.push(vec![esc(pop), esc(&quantity_short(q)), esc(level), msv(*v)]);
    }
    table(o, "thresholds", &[col("Population"), col("Quantity"), col("Level"), num("mSv")], &rows);
    if !ctx.inputs.unavailable.is_empty() {
        o.push_str(r#"<h3>Sections not available</h3><ul>"#);
        for (k, v) in &ctx.inputs.unavailable {
            let _ = write!(o, "<li><code>{}</code>: {}</li>", esc(k), esc(v));
        }
        o.push_str("</ul>");
    }
    o.push_str(r#"<h3>Files</h3><ul class="small">"#);
    for name in crate::gather::EXPORTED {
        if let Some(t) = ctx.table(name) {
            let _ = write!(o, r#"<li><a href="{n}.csv">{n}.csv</a> — {} rows</li>"#, t.len(), n = esc(name));
        }
    }
    o.push_str(r#"<li><a href="summary.json">summary.json</a> — headline numbers and every finding, read back by the next report</li></ul></section>"#);
}
