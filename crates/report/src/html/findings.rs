//! Overexposures, missing badges and heterogeneities, with their charts and the explained ones.

use super::*;

pub(super) fn limit_lines(ctx: &Ctx, worker: &str, quantity: &str, pregnancy: bool) -> Vec<RefLine> {
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

pub(super) fn trim(v: f64) -> String {
    crate::fmt::csv_float(v)
}

pub(super) fn overexposure(o: &mut String, ctx: &Ctx) {
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

pub(super) fn level_label(level: &str) -> &str {
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
pub(super) fn most_exposed_site(ctx: &Ctx, w: &str, q: &str) -> String {
    ctx.totals
        .iter()
        .filter(|((tw, tq, _), _)| tw == w && tq == q)
        .max_by(|a, b| a.1.rolling_12.total_cmp(&b.1.rolling_12).then(b.0.2.cmp(&a.0.2)))
        .map(|((_, _, site), _)| site.clone())
        .unwrap_or_else(|| if q == "Hp10" { "whole_body".into() } else { String::new() })
}

pub(super) fn quantity_site(q: &str, site: &str) -> String {
    if q == "Hp10" || site == "whole_body" || site.is_empty() {
        quantity_name(q).to_string()
    } else {
        format!("{}, {}", quantity_name(q), model::site_label(site))
    }
}

pub(super) fn chart_figure(ctx: &Ctx, w: &str, q: &str, site: &str, worst: Option<&Finding>) -> String {
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

pub(super) fn wearing(o: &mut String, ctx: &Ctx) {
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
pub(super) fn table_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    model::level_rank(a).cmp(&model::level_rank(b)).then(b.end.cmp(&a.end)).then(a.key.cmp(&b.key))
}

pub(super) fn signal_label(s: &str) -> String {
    match s {
        "not_returned" => "not returned".into(),
        "zero_while_peers_exposed" => "zero while peers exposed".into(),
        "procedure_without_dosimeter" => "procedure without dosimeter".into(),
        "peer_outlier" => "peer outlier".into(),
        "passive_operational_mismatch" => "passive ≠ operational".into(),
        other => other.replace('_', " "),
    }
}

pub(super) fn cell(v: &Value) -> String {
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
pub(super) fn generic_table(o: &mut String, t: &Table, csv_stem: &str) {
    let numeric: Vec<bool> =
        (0..t.columns.len()).map(|i| t.rows.iter().any(|r| matches!(r[i], Value::Float(_) | Value::Int(_)))).collect();
    let cols: Vec<Col> =
        t.columns.iter().zip(&numeric).map(|(c, n)| Col { head: c.replace('_', " "), num: *n }).collect();
    let rows: Vec<Vec<String>> = t.rows.iter().take(MAX_ROWS).map(|r| r.iter().map(cell).collect()).collect();
    table(o, csv_stem, &cols, &rows);
    capped_note(o, rows.len(), t.len(), &format!("{csv_stem}.csv"));
}

/// Explained findings: what was found, and who explained it, when and why.
pub(super) fn explained_table(o: &mut String, ctx: &Ctx, t: &Table) {
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
