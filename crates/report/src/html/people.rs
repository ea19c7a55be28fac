//! Departments (compliance bands, dose distribution) and one card per worker.

use super::*;

pub(super) fn rate_cell(lang: Lang, rate: Option<f64>) -> String {
    match rate {
        None => format!(r#"<span class="muted">{}</span>"#, lang.pick("pas de données", "no data")),
        Some(r) => {
            let b = Band::of(r);
            format!(
                r#"<span class="bar {cls}"><span style="width:{w}%"></span></span><strong>{p}</strong> {pill}"#,
                cls = b.class(),
                w = (r * 100.0).round().clamp(0.0, 100.0) as i64,
                p = lang.pct(r),
                pill = pill(b.class(), b.label(lang))
            )
        }
    }
}

pub(super) fn departments(o: &mut String, ctx: &Ctx) {
    let lang = ctx.lang;
    o.push_str(lang.pick(
        r#"<section id="departments"><h2>Services : conformité et doses par profession</h2><p class="muted small">12 derniers mois. <strong>Retour des dosimètres</strong> : dosimètres réglementaires (passif, bague, cristallin) lus par le laboratoire sur ceux émis. <strong>Port du dosimètre opérationnel</strong> : présences en procédure de radioscopie avec une mesure opérationnelle le même jour. Appréciation selon les seuils des inspections : au-delà de 85 % satisfaisant, de 65 à 85 % à améliorer, sous 65 % prioritaire.</p>"#,
        r#"<section id="departments"><h2>Departments: compliance and doses by role</h2><p class="muted small">Last 12 months. <strong>Badge return</strong>: legal badges (passive, ring, eye) read by the lab out of those issued. <strong>Operational dosimeter worn</strong>: attendances at fluoroscopy procedures with an operational reading the same day. Rated with the inspection bands: above 85 % satisfactory, 65–85 % room for progress, below 65 % priority.</p>"#,
    ));
    if !unavailable(o, ctx, "department_compliance") {
        if ctx.departments.is_empty() {
            let _ = write!(
                o,
                r#"<p class="muted">{}</p>"#,
                lang.pick(
                    "Aucun résultat de dosimètre ni aucune procédure sur les 12 derniers mois.",
                    "No badge result or procedure in the last 12 months."
                )
            );
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
                    let band = d.band().map(|b| pill(b.class(), b.label(lang))).unwrap_or_default();
                    let top = max_hp10
                        .get(&d.name)
                        .filter(|(v, _)| *v > f64::MIN)
                        .map(|(v, w)| format!(r#"{} <span class="muted small">{}</span>"#, lang.msv(*v), esc(w)))
                        .unwrap_or_else(|| "—".into());
                    vec![
                        format!("<strong>{}</strong>", esc(&d.name)),
                        d.workers.to_string(),
                        format!("{} / {}", d.badges_read, d.badges_issued),
                        rate_cell(lang, d.return_rate()),
                        format!("{} / {}", d.attendances_with_dosimeter, d.attendances),
                        rate_cell(lang, d.wearing_rate()),
                        band,
                        top,
                    ]
                })
                .collect();
            table(
                o,
                "departments",
                &[
                    col(lang.pick("Service", "Department")),
                    num(lang.pick("Travailleurs", "Workers")),
                    num(lang.pick("Dosimètres lus / émis", "Badges read / issued")),
                    col(lang.pick("Retour des dosimètres", "Badge return")),
                    num(lang.pick("Présences avec dosimètre", "Attendances with dosimeter")),
                    col(lang.pick("Port du dosimètre opérationnel", "Operational dosimeter worn")),
                    col(lang.pick("Appréciation", "Overall")),
                    num(lang.pick("Hp(10) sur 12 mois le plus élevé", "Highest 12-month Hp(10)")),
                ],
                &rows,
            );
            capped_note(o, lang, rows.len(), rows.len(), "department_compliance.csv");
        }
    }
    let _ = write!(o, "<h3>{}</h3>", lang.pick("Distribution des doses par profession", "Dose distribution by role"));
    distribution(o, ctx);
    o.push_str("</section>");
}

pub(super) fn distribution(o: &mut String, ctx: &Ctx) {
    let lang = ctx.lang;
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
            let role = ctx
                .people
                .get(w)
                .and_then(|p| p.role.clone())
                .unwrap_or_else(|| lang.pick("profession inconnue", "role unknown").into());
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
            lines.push(RefLine {
                value: l,
                label: format!("{} {}", lang.pick("limite", "limit"), lang.plain(l)),
                class: "limit",
            });
        }
        if let Some(i) = inv {
            let label = format!("{} {}", lang.t("level_short.investigation"), lang.plain(i));
            lines.push(RefLine { value: i, label, class: "inv" });
        }
        let n: usize = rows.iter().map(|(_, v)| v.len()).sum();
        let desc = match lang {
            Lang::Fr => format!("{} sur les 12 derniers mois par profession, {n} travailleurs", lang.quantity(q)),
            Lang::En => format!("{} over the last 12 months by role, {n} workers", lang.quantity(q)),
        };
        let _ = write!(
            o,
            r#"<figure class="dist" data-quantity="{}"><figcaption><strong>{}</strong> <span class="what">— {}</span></figcaption>{}</figure>"#,
            esc(q),
            esc(lang.quantity(q)),
            lang.pick(
                "chaque point est un travailleur ; boîte : moitié centrale, trait : médiane",
                "each dot a worker; box: middle half, line: median"
            ),
            svg::distribution_chart(lang, &rows, &lines, &desc)
        );
    }
    o.push_str("</div>");
    if !any {
        let _ = write!(
            o,
            r#"<p class="muted">{}</p>"#,
            lang.pick("Aucun résultat de dose sur les 12 derniers mois.", "No dose result in the last 12 months.")
        );
    } else {
        o.push_str(lang.pick(
            r#"<p class="muted small">Par travailleur et grandeur : <a href="worker_doses.csv">worker_doses.csv</a> (année en cours, 12 mois, carrière) et <a href="dose_by_period.csv">dose_by_period.csv</a> (chaque période de port des 36 derniers mois).</p>"#,
            r#"<p class="muted small">Per worker and quantity: <a href="worker_doses.csv">worker_doses.csv</a> (year to date, 12 months, career) and <a href="dose_by_period.csv">dose_by_period.csv</a> (every wearing period of the last 36 months).</p>"#,
        ));
    }
}

pub(super) fn month_cell(lang: Lang, m: Option<&model::Month>) -> (String, &'static str) {
    match m {
        None => ("—".into(), "m"),
        Some(m) if m.missing > 0 && m.read == 0 => ("NR".into(), "m nr"),
        Some(m) if m.dose == 0.0 && m.below_threshold > 0 => ("M".into(), "m bt"),
        Some(m) => {
            let mut s = lang.msv(m.dose);
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
    let lang = ctx.lang;
    o.push_str(lang.pick(
        r#"<section id="workers"><h2>Travailleurs à voir : doses</h2><p class="muted small">Comme un relevé de dosimétrie les présente : doses du dossier réglementaire (dosimètre passif, bague, dosimètre cristallin ; le dosimètre sous tablier pour Hp(10)), résultats sous le seuil d'enregistrement comptés 0. <strong>M</strong> : sous le seuil d'enregistrement · <strong>NR</strong> : pas de résultat (non retourné, perdu, endommagé) · <strong>*</strong> : un des dosimètres du mois n'a pas de résultat · <strong>(e)</strong> : dose attribuée par le médecin du travail · — : pas de dosimètre. Tous les travailleurs sont dans <a href="worker_doses.csv">worker_doses.csv</a>.</p>"#,
        r#"<section id="workers"><h2>Workers needing attention: doses</h2><p class="muted small">As a dosimetry service's statement shows them: doses of the legal record (passive badge, ring, eye dosimeter; the under-apron badge for Hp(10)), below-threshold results counted 0. <strong>M</strong>: below the recording threshold · <strong>NR</strong>: no result (not returned, lost, damaged) · <strong>*</strong>: one of the month's badges has no result · <strong>(e)</strong>: dose assigned by the occupational physician · —: no badge. Every worker is in <a href="worker_doses.csv">worker_doses.csv</a>.</p>"#,
    ));
    if ctx.attention.is_empty() {
        let _ = write!(
            o,
            r#"<p class="empty">{}</p></section>"#,
            lang.pick("Aucun travailleur à voir.", "No worker needs attention.")
        );
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
            pill(a.severity.class(), a.severity.label(lang))
        );
        o.push_str(&new_pill(lang, a.has_new()));
        o.push_str("</h3>");
        let mut meta = Vec::new();
        if let Some(p) = p {
            let colon = lang.pick(" : ", ": ");
            meta.push(format!("{}{colon}{}", lang.pick("Service", "Department"), p.department));
            if let Some(r) = &p.role {
                meta.push(format!("{}{colon}{r}", lang.pick("profession", "role")));
            }
            if let Some(c) = &p.category {
                meta.push(format!("{}{colon}{c}", lang.pick("catégorie", "category")));
            }
            if p.apprentice {
                meta.push(
                    lang.pick("apprenti (16–18 ans) : limites réduites", "apprentice (16–18): lower limits").into(),
                );
            }
            if let Some(d) = p.pregnancy_declared_on {
                meta.push(format!("{} {}", lang.pick("grossesse déclarée le", "pregnancy declared on"), lang.day(d)));
            }
        }
        let _ = write!(o, r#"<p class="muted">{}</p><ul>"#, esc(&meta.join(" · ")));
        for f in &a.findings {
            let _ =
                write!(o, "<li>{} <span class=\"small\">{}</span></li>", finding_line(lang, f), esc(f.action(lang)));
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
            let _ = write!(
                o,
                r#"<p class="muted">{}</p></article>"#,
                lang.pick(
                    "Aucun résultat de dose réglementaire pour ce travailleur.",
                    "No legal dose result for this worker."
                )
            );
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
                        lang.msv(v)
                    )
                };
                let of_cell = match of {
                    Some(r) if r > 1.0 => pill("act", &lang.pct(r)),
                    Some(r) => lang.pct(r),
                    None => "—".into(),
                };
                vec![
                    esc(&lang.quantity_site(q, site)),
                    field("year_to_date_msv", t.year_to_date),
                    field("rolling_12_months_msv", t.rolling_12),
                    field("career_msv", t.career),
                    limit.map(|l| lang.msv(l)).unwrap_or_else(|| "—".into()),
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
                col(lang.pick("Grandeur", "Quantity")),
                num(&format!("{} {year} (mSv)", lang.pick("Année", "Year to date"))),
                num(lang.pick("12 mois glissants (mSv)", "Rolling 12 months (mSv)")),
                num(lang.pick("Cumul carrière (mSv)", "Career total (mSv)")),
                num(lang.pick("Limite (mSv)", "Limit (mSv)")),
                num(lang.pick("12 mois / limite", "12 months / limit")),
                num(lang.pick("Dosimètres sans résultat (12 mois)", "Badges without result (12 months)")),
            ],
            &rows,
        );
        // Dose by month: one row per quantity and site, the last 12 months as columns.
        let _ = write!(
            o,
            r#"<table class="cells"><thead><tr><th>{}</th>"#,
            lang.pick("Dose par mois (mSv)", "Dose by month (mSv)")
        );
        for m in &months {
            let _ = write!(o, r#"<th class="m">{}</th>"#, esc(&lang.month_short(*m)));
        }
        o.push_str("</tr></thead><tbody>");
        for (q, site) in &sites {
            let series = ctx.monthly.get(&key(q, site));
            let label = if *q == "Hp10" || *site == "whole_body" {
                lang.quantity_short(q)
            } else {
                format!("{} {}", lang.quantity_short(q), lang.site(site))
            };
            let _ = write!(o, "<tr><td>{}</td>", esc(&label));
            for m in &months {
                let (text, class) = month_cell(lang, series.and_then(|s| s.get(m)));
                let _ = write!(o, r#"<td class="{class}">{}</td>"#, esc(&text));
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></article>");
    }
    o.push_str("</section>");
}
