//! Overexposures, missing badges and heterogeneities, with their charts and the explained ones.

use super::*;

pub(super) fn limit_lines(ctx: &Ctx, worker: &str, quantity: &str, pregnancy: bool) -> Vec<RefLine> {
    let lang = ctx.lang;
    let p = ctx.people.get(worker);
    let mut lines = Vec::new();
    if let Some(l) = ctx.thresholds.get(p, quantity, "limit") {
        let label = format!("{} {} mSv", lang.pick("limite", "limit"), lang.plain(l));
        lines.push(RefLine { value: l, label, class: "limit" });
    }
    if let Some(i) = ctx.thresholds.get(p, quantity, "investigation")
        && lines.first().is_none_or(|l| i < l.value)
    {
        let label = format!("{} {} mSv", lang.t("level_short.investigation"), lang.plain(i));
        lines.push(RefLine { value: i, label, class: "inv" });
    }
    if pregnancy && let Some(v) = ctx.thresholds.get(None, quantity, "pregnancy").or(Some(1.0)) {
        let label = format!("{} {} mSv", lang.pick("grossesse", "pregnancy"), lang.plain(v));
        lines.push(RefLine { value: v, label, class: "preg" });
    }
    lines
}

pub(super) fn overexposure(o: &mut String, ctx: &Ctx) {
    let lang = ctx.lang;
    let _ = write!(
        o,
        r#"<section id="overexposure"><h2>{}</h2>"#,
        lang.pick("Dépassements et projections", "Overexposures and projections")
    );
    if unavailable(o, ctx, "overexposure") {
        o.push_str("</section>");
        return;
    }
    let mut fs: Vec<&Finding> = ctx.findings.iter().filter(|f| f.kind == Kind::Overexposure).collect();
    fs.sort_by(|a, b| model::finding_order(a, b));
    if fs.is_empty() {
        let _ = write!(
            o,
            r#"<p class="empty">{}</p></section>"#,
            lang.pick(
                "Aucun travailleur au-delà d'une limite, d'un niveau d'investigation ou d'un critère de déclaration, et aucun en voie de dépasser une limite.",
                "No worker is over a limit, an investigation level or a declaration criterion, and none is projected to exceed a limit."
            )
        );
        return;
    }
    let rows: Vec<Vec<String>> = fs
        .iter()
        .map(|f| {
            let q = f.quantity.clone().unwrap_or_default();
            vec![
                format!("{} {}", pill(f.severity().class(), lang.level_short(&f.level)), new_pill(lang, f.new)),
                worker_link(ctx, &f.worker_id),
                esc(&lang.quantity_site(&q, f.body_site.as_deref().unwrap_or(""))),
                format!(r#"<span class="nowrap">{}</span>"#, esc(&f.period(lang))),
                format!(
                    r#"<span data-worker="{}" data-quantity="{}" data-site="{}" data-level="{}" data-field="dose_msv">{}</span>"#,
                    esc(&f.worker_id),
                    esc(&q),
                    esc(f.body_site.as_deref().unwrap_or("")),
                    esc(&f.level),
                    opt_msv(lang, f.value_msv)
                ),
                opt_msv(lang, f.threshold_msv),
                if f.ratio() > 0.0 { lang.pct(f.ratio()) } else { "—".into() },
                evidence(f.evidence.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    table(
        o,
        "overexposure",
        &[
            col(lang.pick("Niveau", "Level")),
            col(lang.pick("Travailleur", "Worker")),
            col(lang.pick("Grandeur", "Quantity")),
            col(lang.pick("Fenêtre", "Window")),
            num(lang.pick("Dose (mSv)", "Dose (mSv)")),
            num(lang.pick("Seuil (mSv)", "Threshold (mSv)")),
            num(lang.pick("Part du seuil", "Of threshold")),
            col(lang.pick("Éléments", "Evidence")),
        ],
        &rows,
    );
    let _ = write!(
        o,
        r#"<p class="muted small">{} <a href="overexposure.csv">overexposure.csv</a>.</p>"#,
        lang.pick(
            "Une ligne par travailleur, grandeur, localisation et niveau : la fenêtre où le niveau a été franchi la première fois (les éléments donnent le maximum et la durée) ; les résultats isolés au-delà du critère de déclaration un par un. Toutes les lignes de la détection sont dans",
            "One row per worker, quantity, body site and level: the window in which the level was first crossed (the evidence gives the peak and how long it lasted); single results above the declaration criterion one by one. Every row of the detection is in"
        )
    );

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
    o.push_str(lang.pick(
        r#"<h3>Dose sur 12 mois glissants face à la limite</h3><p class="legend"><i class="l-roll"></i>dose des 12 mois finissant chaque mois<i class="l-bar"></i>dose du mois<i class="l-limit"></i>limite annuelle<i class="l-inv"></i>niveau d'investigation<i class="l-nr"></i>dosimètre sans résultat (compté 0) · grisé : la fenêtre signalée</p><div class="charts">"#,
        r#"<h3>12-month rolling dose against the limit</h3><p class="legend"><i class="l-roll"></i>dose over the 12 months ending each month<i class="l-bar"></i>dose of the month<i class="l-limit"></i>annual limit<i class="l-inv"></i>investigation level<i class="l-nr"></i>badge without result (counted 0) · shaded: the flagged window</p><div class="charts">"#,
    ));
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

/// The body site with the highest 12-month dose of a worker for a quantity.
pub(super) fn most_exposed_site(ctx: &Ctx, w: &str, q: &str) -> String {
    ctx.totals
        .iter()
        .filter(|((tw, tq, _), _)| tw == w && tq == q)
        .max_by(|a, b| a.1.rolling_12.total_cmp(&b.1.rolling_12).then(b.0.2.cmp(&a.0.2)))
        .map(|((_, _, site), _)| site.clone())
        .unwrap_or_else(|| if q == "Hp10" { "whole_body".into() } else { String::new() })
}

pub(super) fn chart_figure(ctx: &Ctx, w: &str, q: &str, site: &str, worst: Option<&Finding>) -> String {
    let lang = ctx.lang;
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
        let label = format!("{} {} mSv", lang.pick("enfant à naître", "unborn child"), lang.plain(v));
        vec![RefLine { value: v, label, class: "preg" }]
    } else {
        limit_lines(ctx, w, q, false)
    };
    let window = worst.and_then(|f| Some((date_of(f.start?)?, date_of(f.end?)?)));
    let marker =
        if pregnancy { declared.map(|d| (d, lang.pick("grossesse déclarée", "pregnancy declared"))) } else { None };
    let last = points.last().map(|p| p.rolling).unwrap_or(0.0);
    let since_declaration = pregnancy && declared.is_some();
    let (span, field) = if since_declaration {
        (lang.pick("depuis la déclaration", "since the declaration"), "since_declaration_msv")
    } else {
        (lang.pick("sur 12 mois", "over the 12 months"), "rolling_12_months_msv")
    };
    let as_of = lang.date(ctx.inputs.as_of);
    let until = lang.pick("au", "to");
    let what_site = lang.quantity_site(q, site);
    let colon = lang.pick(" :", ":");
    let desc = format!("{w}{colon} {what_site} {span} {until} {as_of}{colon} {} mSv", lang.msv(last));
    let chart = svg::rolling_chart(lang, &points, &lines, window, marker, &desc);
    let what = worst.map(|f| format!(" · {}", lang.level_short(&f.level))).unwrap_or_default();
    let span_cap = if since_declaration {
        lang.pick("Depuis la déclaration", "Since the declaration")
    } else {
        lang.pick("12 mois", "12 months")
    };
    format!(
        r#"<figure data-worker="{wa}" data-quantity="{qa}" data-site="{sa}"><figcaption>{} · <strong>{}</strong><span class="what">{}</span><br><span class="small muted">{span_cap} {until} {as_of}{colon} <strong data-field="{field}">{}</strong> mSv · {}</span></figcaption>{chart}</figure>"#,
        worker_link(ctx, w),
        esc(&what_site),
        esc(&what),
        lang.msv(last),
        person_line(ctx, w),
        wa = esc(w),
        qa = esc(q),
        sa = esc(site),
    )
}

pub(super) fn wearing(o: &mut String, ctx: &Ctx) {
    let lang = ctx.lang;
    let _ = write!(
        o,
        r#"<section id="wearing"><h2>{}</h2><h3>{}</h3>"#,
        lang.pick(
            "Dosimètres manquants et hétérogénéités inexpliquées",
            "Missing badges and unexplained heterogeneity"
        ),
        lang.pick("Dosimètres non portés ou non retournés", "Badges not worn or not returned")
    );
    if !unavailable(o, ctx, "missing_badge") {
        let mut fs: Vec<&Finding> = ctx.findings.iter().filter(|f| f.kind == Kind::MissingBadge).collect();
        fs.sort_by(|a, b| table_order(a, b));
        if fs.is_empty() {
            let _ = write!(
                o,
                r#"<p class="empty">{}</p>"#,
                lang.pick(
                    "Aucun signe de dosimètre non porté ou non retourné.",
                    "No sign of a badge not worn or not returned."
                )
            );
        } else {
            let rows: Vec<Vec<String>> = fs
                .iter()
                .take(MAX_ROWS)
                .map(|f| {
                    vec![
                        format!("{} {}", pill("check", lang.signal(&f.level)), new_pill(lang, f.new)),
                        worker_link(ctx, &f.worker_id),
                        esc(&ctx.department_of(&f.worker_id)),
                        format!(r#"<span class="nowrap">{}</span>"#, esc(&f.period(lang))),
                        evidence(f.evidence.as_deref().unwrap_or("")),
                    ]
                })
                .collect();
            table(
                o,
                "missing-badge",
                &[
                    col(lang.pick("Signal", "Signal")),
                    col(lang.pick("Travailleur", "Worker")),
                    col(lang.pick("Service", "Department")),
                    col(lang.pick("Période", "Period")),
                    col(lang.pick("Éléments", "Evidence")),
                ],
                &rows,
            );
            capped_note(o, lang, rows.len(), fs.len(), "missing_badge.csv");
        }
    }
    let _ = write!(o, "<h3>{}</h3>", lang.pick("Hétérogénéités inexpliquées", "Unexplained heterogeneity"));
    if !unavailable(o, ctx, "unexplained_heterogeneity") {
        let mut fs: Vec<&Finding> = ctx.findings.iter().filter(|f| f.kind == Kind::Heterogeneity).collect();
        fs.sort_by(|a, b| table_order(a, b));
        if fs.is_empty() {
            let _ = write!(
                o,
                r#"<p class="empty">{}</p>"#,
                lang.pick(
                    "Aucun écart inexpliqué entre pairs ni entre dosimétries passive et opérationnelle.",
                    "No unexplained difference between peers or between passive and operational dosimetry."
                )
            );
        } else {
            let rows: Vec<Vec<String>> = fs
                .iter()
                .take(MAX_ROWS)
                .map(|f| {
                    vec![
                        format!("{} {}", pill("check", lang.signal(&f.level)), new_pill(lang, f.new)),
                        worker_link(ctx, &f.worker_id),
                        esc(&f.quantity.as_deref().map(|q| lang.quantity_short(q)).unwrap_or_default()),
                        format!(r#"<span class="nowrap">{}</span>"#, esc(&f.period(lang))),
                        opt_msv(lang, f.value_msv),
                        opt_msv(lang, f.threshold_msv),
                        f.score.map(|s| lang.num(s, 1)).unwrap_or_else(|| "—".into()),
                        evidence(f.evidence.as_deref().unwrap_or("")),
                    ]
                })
                .collect();
            table(
                o,
                "heterogeneity",
                &[
                    col(lang.pick("Signal", "Signal")),
                    col(lang.pick("Travailleur", "Worker")),
                    col(lang.pick("Grandeur", "Quantity")),
                    col(lang.pick("Période", "Period")),
                    num(lang.pick("Dose (mSv)", "Dose (mSv)")),
                    num(lang.pick("Référence (mSv)", "Reference (mSv)")),
                    num(lang.pick("Score", "Score")),
                    col(lang.pick("Éléments", "Evidence")),
                ],
                &rows,
            );
            capped_note(o, lang, rows.len(), fs.len(), "unexplained_heterogeneity.csv");
        }
    }
    let _ = write!(o, "<h3>{}</h3>", lang.pick("Constats expliqués", "Explained findings"));
    let explained_lead = lang.pick(
        r#"<p class="muted small">Constats qu'une personne a expliqués avec <code>alara explain</code> ; ils n'apparaissent plus ci-dessus.</p>"#,
        r#"<p class="muted small">Findings that a person has explained with <code>alara explain</code>; they no longer appear above.</p>"#,
    );
    match ctx.table("explained_findings") {
        Some(t) if !t.is_empty() && t.has("reason") => {
            o.push_str(explained_lead);
            explained_table(o, ctx, t);
        }
        Some(t) if !t.is_empty() => {
            o.push_str(explained_lead);
            generic_table(o, lang, t, "explained_findings");
        }
        Some(_) => {
            let _ = write!(
                o,
                r#"<p class="muted">{}</p>"#,
                lang.pick("Aucun constat n'a été expliqué.", "No finding has been explained.")
            );
        }
        None => {
            if let Some(t) = ctx.table("explanations").filter(|t| !t.is_empty()) {
                o.push_str(lang.pick(
                    r#"<p class="muted small">Explications consignées avec <code>alara explain</code>.</p>"#,
                    r#"<p class="muted small">Explanations recorded with <code>alara explain</code>.</p>"#,
                ));
                generic_table(o, lang, t, "explanations");
            } else {
                let _ = write!(
                    o,
                    r#"<p class="muted">{}</p>"#,
                    lang.pick("Aucune explication consignée.", "No explanation recorded.")
                );
            }
        }
    }
    o.push_str("</section>");
}

/// Signal tables: by signal, most recent period first.
pub(super) fn table_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    model::level_rank(a).cmp(&model::level_rank(b)).then(b.end.cmp(&a.end)).then(a.key.cmp(&b.key))
}

pub(super) fn cell(lang: Lang, v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Float(f) => lang.msv(*f),
        Value::Time(t) => esc(&lang.when(*t)),
        Value::Date(d) => esc(&lang.day(i64::from(*d) * 86_400_000_000)),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Text(s) => esc(s),
    }
}

/// Any table, columns as the query returned them (for views whose extra columns we do not know).
pub(super) fn generic_table(o: &mut String, lang: Lang, t: &Table, csv_stem: &str) {
    let numeric: Vec<bool> =
        (0..t.columns.len()).map(|i| t.rows.iter().any(|r| matches!(r[i], Value::Float(_) | Value::Int(_)))).collect();
    let cols: Vec<Col> =
        t.columns.iter().zip(&numeric).map(|(c, n)| Col { head: c.replace('_', " "), num: *n }).collect();
    let rows: Vec<Vec<String>> =
        t.rows.iter().take(MAX_ROWS).map(|r| r.iter().map(|v| cell(lang, v)).collect()).collect();
    table(o, csv_stem, &cols, &rows);
    capped_note(o, lang, rows.len(), t.len(), &format!("{csv_stem}.csv"));
}

/// Explained findings: what was found, and who explained it, when and why.
pub(super) fn explained_table(o: &mut String, ctx: &Ctx, t: &Table) {
    let lang = ctx.lang;
    let period = |r: &crate::table::Row<'_>| match (r.time("period_start"), r.time("period_end")) {
        (Some(s), Some(e)) => lang.period(Some(s), Some(e)),
        _ => String::new(),
    };
    let rows: Vec<Vec<String>> = t
        .iter()
        .take(MAX_ROWS)
        .map(|r| {
            let what = r.text("level_or_signal").or(r.text("signal")).or(r.text("level")).unwrap_or_default();
            let by = r.text("explained_by").or(r.text("author")).unwrap_or_default();
            let at = r.time("explained_at").or(r.time("recorded_at")).map(|t| lang.when(t)).unwrap_or_default();
            let what = match lang.signal(&what) {
                same if same == what => lang.level_short(&what).to_string(),
                words => words.to_string(),
            };
            vec![
                pill("ok", &what),
                worker_link(ctx, &r.str("worker_id")),
                esc(&r.text("quantity").map(|q| lang.quantity_short(&q)).unwrap_or_default()),
                format!(r#"<span class="nowrap">{}</span>"#, esc(&period(&r))),
                opt_msv(lang, r.float("value_msv").or(r.float("dose_msv"))),
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
            col(lang.pick("Constat", "Finding")),
            col(lang.pick("Travailleur", "Worker")),
            col(lang.pick("Grandeur", "Quantity")),
            col(lang.pick("Période", "Period")),
            num(lang.pick("Dose (mSv)", "Dose (mSv)")),
            col(lang.pick("Explication", "Explanation")),
            col(lang.pick("Éléments", "Evidence")),
        ],
        &rows,
    );
    capped_note(o, lang, rows.len(), t.len(), "explained_findings.csv");
}
