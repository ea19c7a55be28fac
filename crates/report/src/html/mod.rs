//! The page. Its frame is the askama template `templates/page.html` and its style sheet
//! `report.css`, both compiled into the binary so the page stays one self-contained file. The
//! sections (one file each below) are written as balanced, escaped HTML: every element is
//! closed, every text and attribute goes through [`esc`], and the only inline styles are bar
//! widths; "About this report" is a template too (`templates/about.html`).
//!
//! Layout: `attention` (header and who needs attention), `findings` (overexposures, missing
//! badges, heterogeneity), `people` (departments and worker cards), `operations` (badges, data
//! quality, alerts, about).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::Ctx;
use crate::fmt::{anchor, date_of, esc};
use crate::i18n::Lang;
use crate::model::{self, Band, Finding, Kind, QUANTITIES, Severity, SeverityText};
use crate::svg::{self, RefLine};
use crate::table::{Table, Value};

mod attention;
mod findings;
mod operations;
mod people;

use attention::*;
use findings::*;
use operations::*;
use people::*;

/// The page's style sheet, kept in its own file and included at build time, so the page stays one
/// self-contained file.
const CSS: &str = concat!(include_str!("../report.css"), include_str!("../chart.css"));

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

fn new_pill(lang: Lang, new: bool) -> String {
    if new { pill("new", lang.pick("NOUVEAU", "NEW")) } else { String::new() }
}

fn worker_link(ctx: &Ctx, w: &str) -> String {
    if ctx.attention.iter().any(|a| a.worker_id == w) {
        format!(r##"<a class="worker-id" href="#{}">{}</a>"##, anchor("w-", w), esc(w))
    } else {
        format!(r#"<span class="worker-id">{}</span>"#, esc(w))
    }
}

fn opt_msv(lang: Lang, v: Option<f64>) -> String {
    v.map(|v| lang.msv(v)).unwrap_or_else(|| "—".into())
}

fn capped_note(out: &mut String, lang: Lang, shown: usize, total: usize, csv: &str) {
    let csv = esc(csv);
    if total > shown {
        let _ = match lang {
            Lang::Fr => write!(
                out,
                r#"<p class="note">Les {shown} premières lignes sur {total} ; toutes sont dans <a href="{csv}">{csv}</a>.</p>"#
            ),
            Lang::En => write!(
                out,
                r#"<p class="note">Showing the first {shown} of {total} rows; all of them are in <a href="{csv}">{csv}</a>.</p>"#
            ),
        };
    } else if total > 0 {
        let also = lang.pick("Également dans", "Also in");
        let _ = write!(out, r#"<p class="muted small">{also} <a href="{csv}">{csv}</a>.</p>"#);
    }
}

fn unavailable(out: &mut String, ctx: &Ctx, name: &str) -> bool {
    if let Some(why) = ctx.inputs.unavailable.get(name) {
        let _ =
            write!(out, r#"<p class="warn">{} {}</p>"#, ctx.lang.pick("Indisponible :", "Not available:"), esc(why));
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

/// The page around the sections (`templates/page.html`). Every field is HTML already: text
/// goes through [`esc`] before it gets here, so the template escapes nothing itself.
#[derive(askama::Template)]
#[template(path = "page.html", escape = "none")]
struct Page<'a> {
    /// French (else English): the template holds both texts.
    fr: bool,
    generator: String,
    as_of: String,
    css: &'a str,
    header: String,
    sections: String,
}

/// Renders the page.
pub(crate) fn render(ctx: &Ctx) -> String {
    let mut header_html = String::new();
    header(&mut header_html, ctx);
    let mut o = String::with_capacity(256 * 1024);
    attention(&mut o, ctx);
    overexposure(&mut o, ctx);
    wearing(&mut o, ctx);
    departments(&mut o, ctx);
    workers(&mut o, ctx);
    badges(&mut o, ctx);
    quality(&mut o, ctx);
    alerts(&mut o, ctx);
    about(&mut o, ctx);
    let page = Page {
        fr: ctx.lang == Lang::Fr,
        generator: esc(&ctx.inputs.generator),
        as_of: ctx.lang.date(ctx.inputs.as_of),
        css: CSS,
        header: header_html,
        sections: o,
    };
    // Rendering writes strings into a String: it has no way to fail.
    let mut html = askama::Template::render(&page).expect("the page template renders");
    html.push('\n');
    html
}
