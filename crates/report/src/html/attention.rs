//! The header with the headline numbers, and "Needs attention today": who, why, what to do.

use super::*;

pub(super) fn header(o: &mut String, ctx: &Ctx) {
    let lang = ctx.lang;
    let c = &ctx.counts;
    let as_of = ctx.inputs.as_of;
    let overview = ctx
        .table("lake_overview")
        .and_then(|t| t.iter().next().map(|r| (r.int("departments"), r.time("first_period_start"))));
    let _ = write!(
        o,
        r#"<header class="top"><div class="brand">{}</div><h1>{} {}</h1>"#,
        lang.pick("alara · dosimétrie des travailleurs exposés", "alara · occupational radiation dosimetry"),
        lang.pick("Rapport de dosimétrie au", "Dosimetry report as of"),
        esc(&lang.long_date(as_of))
    );
    let day = lang.date(as_of);
    let mut sub = vec![match lang {
        Lang::Fr => format!("Périodes de port terminées au {day}"),
        Lang::En => format!("Wearing periods ended by {day}"),
    }];
    sub.push(format!("{} {}", c.workers_monitored, lang.pick("travailleurs suivis", "workers monitored")));
    if let Some((Some(d), first)) = overview {
        let since = first
            .map(|f| format!(", {} {}", lang.pick("données depuis le", "records since"), lang.day(f)))
            .unwrap_or_default();
        sub.push(format!("{d} {}{since}", lang.pick("services", "departments")));
    }
    sub.push(match (&ctx.inputs.baseline, lang) {
        (Some(b), Lang::Fr) if b.source == "--since" => {
            format!("« nouveau » = absent d'un rapport au {} (--since)", lang.date(b.as_of))
        }
        (Some(b), Lang::En) if b.source == "--since" => format!("“new” = not in a report as of {} (--since)", b.as_of),
        (Some(b), Lang::Fr) => format!("« nouveau » = absent du rapport précédent (au {})", lang.date(b.as_of)),
        (Some(b), Lang::En) => format!("“new” = not in the previous report (as of {})", b.as_of),
        (None, _) => lang
            .pick("premier rapport : chaque constat compte comme nouveau", "first report: every finding counts as new")
            .to_string(),
    });
    let _ = write!(o, r#"<p class="sub">{}</p>"#, esc(&sub.join(" · ")));
    if c.workers_monitored == 0 {
        let _ = match lang {
            Lang::Fr => write!(
                o,
                r#"<p class="warn"><strong>Aucun résultat de dose dans le lac pour les périodes de port terminées au {day}.</strong> Ce rapport ne peut pas dire si quelqu'un est surexposé : vérifiez que les résultats sont bien intégrés (<code>alara ingest</code>) et la date du rapport.</p>"#
            ),
            Lang::En => write!(
                o,
                r#"<p class="warn"><strong>No dose result in the lake for wearing periods ended by {}.</strong> This report cannot say whether anyone is overexposed: check that results are being ingested (<code>alara ingest</code>) and the report date.</p>"#,
                as_of.format("%Y-%m-%d")
            ),
        };
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
    let l = |fr: &'static str, en: &'static str| lang.pick(fr, en);
    kpi(
        o,
        c.workers_over_limit,
        l("travailleurs au-delà d'une limite de dose", "workers over a dose limit"),
        "attention",
        "act",
    );
    kpi(o, c.esr_candidates, l("ESR à instruire (déclaration)", "ESR candidates to declare"), "overexposure", "act");
    let new_label = if ctx.inputs.baseline.is_some() {
        l("nouveaux constats depuis le dernier rapport", "new findings since the last report")
    } else {
        l("constats (premier rapport : tous nouveaux)", "findings (first report: all new)")
    };
    kpi(o, c.new_findings, new_label, "attention", "info");
    kpi(
        o,
        projected.len() as u64,
        l("travailleurs en voie de dépasser", "workers projected to exceed"),
        "overexposure",
        "soon",
    );
    kpi(o, c.workers_needing_attention, l("travailleurs à voir", "workers needing attention"), "attention", "info");
    kpi(
        o,
        c.badges_not_returned,
        l("dosimètres non retournés (12 mois)", "badges not returned (12 months)"),
        "badges",
        "soon",
    );
    kpi(
        o,
        c.missing_results,
        l("résultats manquants après 20 jours", "results missing after 20 days"),
        "quality",
        "soon",
    );
    kpi(o, c.open_alerts, l("alertes ouvertes", "open alerts"), "alerts", "soon");
    o.push_str("</div></header>");
}

pub(super) fn finding_line(lang: Lang, f: &Finding) -> String {
    let mut s = format!("<strong>{}</strong>", esc(&f.title(lang)));
    let numbers = f.numbers(lang);
    if !numbers.is_empty() {
        let _ = write!(s, " — {}", esc(&numbers));
    }
    let period = f.period(lang);
    if !period.is_empty() {
        let _ = write!(s, r#" <span class="muted nowrap">({})</span>"#, esc(&period));
    }
    if f.new {
        s.push(' ');
        s.push_str(&new_pill(lang, true));
    }
    s
}

pub(super) fn line_html(lang: Lang, l: &model::Line) -> String {
    let f = &l.lead;
    let mut s = finding_line(lang, f);
    if f.kind == Kind::Overexposure {
        let lead = lang.level_short(&f.level);
        let others: Vec<&str> =
            l.all.iter().skip(1).map(|o| lang.level_short(&o.level)).filter(|x| *x != lead).collect();
        if !others.is_empty() {
            let also = lang.pick("aussi", "also");
            let _ = write!(s, r#" <span class="muted small">· {also} {}</span>"#, esc(&others.join(", ")));
        }
    } else if l.all.len() > 1 {
        let new = l.all.iter().filter(|x| x.new).count();
        let periods = lang.pick("périodes", "periods");
        let _ = write!(
            s,
            r#" <span class="muted small">· {} {periods}{}</span>"#,
            l.all.len(),
            if new > 0 && new < l.all.len() {
                format!(", {new} {}", lang.pick("nouvelles", "new"))
            } else {
                String::new()
            }
        );
    }
    s
}

pub(super) fn actions(lang: Lang, lines: &[model::Line], n: usize) -> String {
    let mut actions: Vec<&str> = Vec::new();
    for l in lines {
        if !actions.contains(&l.lead.action(lang)) {
            actions.push(l.lead.action(lang));
        }
    }
    let todo: Vec<String> = actions.iter().take(n).map(|a| esc(a)).collect();
    format!(r#"<span class="small">{}</span>"#, todo.join("<br>"))
}

pub(super) fn who(ctx: &Ctx, w: &str) -> String {
    format!(r#"{}<br><span class="muted small">{}</span>"#, worker_link(ctx, w), person_line(ctx, w))
}

pub(super) fn attention(o: &mut String, ctx: &Ctx) {
    let lang = ctx.lang;
    let _ = write!(
        o,
        r#"<section id="attention" class="attention"><h2>{}</h2>"#,
        lang.pick("À traiter aujourd'hui", "Needs attention today")
    );
    let views = ["overexposure", "missing_badge", "unexplained_heterogeneity"];
    let missing: Vec<&str> = views.iter().copied().filter(|v| ctx.inputs.unavailable.contains_key(*v)).collect();
    if !missing.is_empty() {
        let _ = write!(
            o,
            r#"<p class="warn">{} {}. {}</p>"#,
            lang.pick("Détections indisponibles dans ce lac :", "Detections not available in this lake:"),
            esc(&missing.join(", ")),
            lang.pick(
                "Les travailleurs ci-dessous sont ceux que les détections disponibles ont trouvés.",
                "Workers below are those the available detections found."
            )
        );
    }
    let urgent: Vec<&model::Attention> = ctx.attention.iter().filter(|a| a.severity != Severity::Check).collect();
    let check: Vec<&model::Attention> = ctx.attention.iter().filter(|a| a.severity == Severity::Check).collect();
    if urgent.is_empty() && ctx.counts.workers_monitored == 0 {
        let _ = write!(
            o,
            r#"<p class="warn">{}</p>"#,
            lang.pick(
                "Aucun résultat de dose à vérifier : le lac n'en contient aucun pour cette période.",
                "No dose result to check: the lake holds none for this period."
            )
        );
    } else if urgent.is_empty() && missing.contains(&"overexposure") {
        let _ = write!(
            o,
            r#"<p class="warn">{}</p>"#,
            lang.pick(
                "Les dépassements n'ont pas pu être vérifiés : la détection overexposure est indisponible.",
                "Overexposures could not be checked: the overexposure detection is not available."
            )
        );
    } else if urgent.is_empty() {
        let _ = write!(
            o,
            r#"<p class="empty">{}</p>"#,
            lang.pick(
                "Aucun travailleur au-delà d'une limite, à déclarer, au-delà d'un niveau d'investigation ou en voie d'atteindre une limite.",
                "No worker is over a limit, due for a declaration, above an investigation level or heading for a limit."
            )
        );
    } else {
        let (act, soon) = (Severity::Act.label(lang), Severity::Soon.label(lang));
        let _ = match lang {
            Lang::Fr => write!(
                o,
                r#"<p class="muted small">{} travailleurs, les plus urgents d'abord. <span class="pill act">{act}</span> une limite est dépassée ou une déclaration est due · <span class="pill soon">{soon}</span> en voie d'atteindre une limite ou au-delà du niveau d'investigation.</p>"#,
                urgent.len()
            ),
            Lang::En => write!(
                o,
                r#"<p class="muted small">{} workers, most urgent first. <span class="pill act">{act}</span> a limit is exceeded or a declaration is due · <span class="pill soon">{soon}</span> heading for a limit or above the investigation level.</p>"#,
                urgent.len()
            ),
        };
        let rows: Vec<Vec<String>> = urgent
            .iter()
            .map(|a| {
                let lines = model::lines(&a.findings);
                let mut why = String::from("<ul>");
                for l in lines.iter().take(5) {
                    let _ = write!(why, "<li>{}</li>", line_html(lang, l));
                }
                if lines.len() > 5 {
                    let _ = write!(
                        why,
                        r##"<li class="muted">{} {} — <a href="#{}">{}</a></li>"##,
                        lines.len() - 5,
                        lang.pick("de plus", "more"),
                        anchor("w-", &a.worker_id),
                        lang.pick("voir le travailleur", "see the worker")
                    );
                }
                why.push_str("</ul>");
                vec![
                    pill(a.severity.class(), a.severity.label(lang)),
                    who(ctx, &a.worker_id),
                    why,
                    actions(lang, &lines, 2),
                ]
            })
            .collect();
        let cols = [
            col(lang.pick("Priorité", "Priority")),
            col(lang.pick("Travailleur", "Worker")),
            col(lang.pick("Pourquoi", "Why")),
            col(lang.pick("Que faire", "What to do")),
        ];
        table(o, "attention-list", &cols, &rows);
    }
    if !check.is_empty() {
        let _ = write!(
            o,
            r#"<h3>{} ({} {})</h3>"#,
            lang.pick(
                "À vérifier : port des dosimètres et écarts inexpliqués",
                "To check: badge wearing and unexplained differences"
            ),
            check.len(),
            lang.pick("travailleurs", "workers")
        );
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
                            esc(&l.lead.title(lang)),
                            if l.all.len() > 1 { format!(" ×{}", l.all.len()) } else { String::new() },
                            latest
                                .map(|e| format!(
                                    r#" <span class="muted small">({} {})</span>"#,
                                    lang.pick("dernière jusqu'au", "latest to"),
                                    lang.day(e)
                                ))
                                .unwrap_or_default(),
                            if new { format!(" {}", new_pill(lang, true)) } else { String::new() }
                        )
                    })
                    .collect();
                vec![who(ctx, &a.worker_id), signals.join("<br>"), actions(lang, &lines, 2)]
            })
            .collect();
        let cols = [
            col(lang.pick("Travailleur", "Worker")),
            col(lang.pick("Signaux", "Signals")),
            col(lang.pick("Que faire", "What to do")),
        ];
        table(o, "check-list", &cols, &rows);
        if check.len() > rows.len() {
            let _ = match lang {
                Lang::Fr => write!(
                    o,
                    r#"<p class="note">{} travailleurs affichés sur {} ; les autres sont dans summary.json.</p>"#,
                    rows.len(),
                    check.len()
                ),
                Lang::En => write!(
                    o,
                    r#"<p class="note">Showing {} of {} workers; the rest are in summary.json.</p>"#,
                    rows.len(),
                    check.len()
                ),
            };
        }
    }
    o.push_str("</section>");
}
