//! Departments (compliance bands, dose distribution) and one card per worker.

use super::*;

pub(super) fn rate_cell(rate: Option<f64>) -> String {
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

pub(super) fn departments(o: &mut String, ctx: &Ctx) {
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

pub(super) fn distribution(o: &mut String, ctx: &Ctx) {
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

pub(super) fn month_cell(m: Option<&model::Month>) -> (String, &'static str) {
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

pub(super) fn workers(o: &mut String, ctx: &Ctx) {
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
