//! The header with the headline numbers, and "Needs attention today": who, why, what to do.

use super::*;

pub(super) fn long_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

pub(super) fn header(o: &mut String, ctx: &Ctx) {
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

pub(super) fn finding_line(f: &Finding) -> String {
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

pub(super) fn line_html(l: &model::Line) -> String {
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

pub(super) fn actions(lines: &[model::Line], n: usize) -> String {
    let mut actions: Vec<&str> = Vec::new();
    for l in lines {
        if !actions.contains(&l.lead.action()) {
            actions.push(l.lead.action());
        }
    }
    let todo: Vec<String> = actions.iter().take(n).map(|a| esc(a)).collect();
    format!(r#"<span class="small">{}</span>"#, todo.join("<br>"))
}

pub(super) fn who(ctx: &Ctx, w: &str) -> String {
    format!(r#"{}<br><span class="muted small">{}</span>"#, worker_link(ctx, w), person_line(ctx, w))
}

pub(super) fn attention(o: &mut String, ctx: &Ctx) {
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
