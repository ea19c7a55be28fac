//! Badges not returned, data quality, alerts, and "About this report" (`templates/about.html`).

use super::*;

pub(super) fn badges(o: &mut String, ctx: &Ctx) {
    let lang = ctx.lang;
    let _ = write!(
        o,
        r#"<section id="badges"><h2>{}</h2>"#,
        lang.pick("Dosimètres non retournés ou perdus", "Badges not returned or lost")
    );
    if unavailable(o, ctx, "badges_not_returned") {
        o.push_str("</section>");
        return;
    }
    let Some(t) = ctx.table("badges_not_returned").filter(|t| !t.is_empty()) else {
        let _ = write!(
            o,
            r#"<p class="empty">{}</p></section>"#,
            lang.pick(
                "Tous les dosimètres des 12 derniers mois ont été retournés et lus.",
                "Every badge of the last 12 months was returned and read."
            )
        );
        return;
    };
    let _ = match lang {
        Lang::Fr => write!(
            o,
            r#"<p class="muted small">12 derniers mois, les plus récents d'abord : {} périodes de port sans résultat. Une telle période compte 0 dans les sommes ci-dessus jusqu'à ce que le laboratoire ou le médecin du travail donne une dose.</p>"#,
            t.len()
        ),
        Lang::En => write!(
            o,
            r#"<p class="muted small">Last 12 months, most recent first: {} badge periods with no result. Such a period counts 0 in the sums above until the lab or the occupational physician gives a dose.</p>"#,
            t.len()
        ),
    };
    let rows: Vec<Vec<String>> = t
        .iter()
        .take(MAX_ROWS)
        .map(|r| {
            let period = match (r.time("period_start"), r.time("period_end")) {
                (Some(s), Some(e)) => lang.period(Some(s), Some(e)),
                _ => String::new(),
            };
            let status = r.str("status");
            vec![
                worker_link(ctx, &r.str("worker_id")),
                esc(&r.str("department")),
                format!(r#"<span class="nowrap">{}</span>"#, esc(&period)),
                pill("soon", &lang.status(&status)),
                esc(lang.monitoring(&r.str("monitoring"))),
                esc(&lang.quantity_short(&r.str("quantity"))),
                esc(&r.str("dosimeter_id")),
                esc(&r.str("source")),
            ]
        })
        .collect();
    table(
        o,
        "badges",
        &[
            col(lang.pick("Travailleur", "Worker")),
            col(lang.pick("Service", "Department")),
            col(lang.pick("Période", "Period")),
            col(lang.pick("Statut", "Status")),
            col(lang.pick("Surveillance", "Monitoring")),
            col(lang.pick("Grandeur", "Quantity")),
            col(lang.pick("Dosimètre", "Dosimeter")),
            col(lang.pick("Laboratoire", "Lab")),
        ],
        &rows,
    );
    capped_note(o, lang, rows.len(), t.len(), "badges_not_returned.csv");
    o.push_str("</section>");
}

pub(super) fn quality(o: &mut String, ctx: &Ctx) {
    let lang = ctx.lang;
    let c = &ctx.counts;
    let _ = write!(o, r#"<section id="quality"><h2>{}</h2>"#, lang.pick("Qualité des données", "Data quality"));
    let loaded_after = ctx
        .table("lake_overview")
        .and_then(|t| t.iter().next())
        .map(|r| (r.int("loaded_after_as_of"), r.time("last_ingested_at")));
    let (rejected, missing, late) = (c.rejected_records, c.missing_results, c.late_results);
    let _ = match lang {
        Lang::Fr => write!(
            o,
            r#"<p>Enregistrements refusés à l'entrée : <strong>{rejected}</strong> · résultats manquants 20 jours après leur période de port : <strong>{missing}</strong> · résultats reçus avec plus de 20 jours de retard (12 mois) : <strong>{late}</strong></p>"#
        ),
        Lang::En => write!(
            o,
            r#"<p>Rejected input records: <strong>{rejected}</strong> · results missing 20 days after their wearing period: <strong>{missing}</strong> · results received more than 20 days late (12 months): <strong>{late}</strong></p>"#
        ),
    };
    let q = ctx.inputs.quarantined_files;
    if q > 0 {
        let _ = match lang {
            Lang::Fr => write!(
                o,
                r#"<p class="note">Fichiers du lac illisibles (tronqués ou corrompus) mis de côté : <strong>{q}</strong>. Les chiffres de ce rapport sont calculés sans leurs lignes ; détail : <code>SELECT * FROM lake_faults</code>.</p>"#
            ),
            Lang::En => write!(
                o,
                r#"<p class="note">Unreadable lake files (truncated or corrupt) set aside: <strong>{q}</strong>. This report's figures are computed without their rows; details: <code>SELECT * FROM lake_faults</code>.</p>"#
            ),
        };
    }
    if let Some((Some(n), last)) = loaded_after
        && n > 0
    {
        let (day, last) = (lang.date(ctx.inputs.as_of), esc(&last.map(|t| lang.when(t)).unwrap_or_default()));
        let _ = match lang {
            Lang::Fr => write!(
                o,
                r#"<p class="note">{n} résultats de périodes terminées au {day} ont été chargés après cette date (dernier chargement {last}). Ils sont inclus : le rapport décrit les doses des périodes jusqu'à la date du rapport avec tout ce que le lac connaît.</p>"#
            ),
            Lang::En => write!(
                o,
                r#"<p class="note">{n} results of periods ended by {day} were loaded after that date (latest load {last}). They are included: the report describes the doses of periods up to the as-of date with everything the lake knows.</p>"#
            ),
        };
    }

    let _ = write!(
        o,
        "<h3>{}</h3>",
        lang.pick(
            "Résultats manquants 20 jours après la fin de leur période",
            "Results missing 20 days after the end of their period"
        )
    );
    if !unavailable(o, ctx, "missing_results") {
        match ctx.table("missing_results").filter(|t| !t.is_empty()) {
            None => {
                let _ = write!(
                    o,
                    r#"<p class="empty">{}</p>"#,
                    lang.pick("Tous les résultats attendus sont arrivés.", "Every expected result is in.")
                );
            }
            Some(t) => {
                o.push_str(lang.pick(
                    r#"<p class="muted small">Le laboratoire doit transmettre un résultat ou son absence 20 jours après la fin de la période de port (arrêté du 23 juin 2023, art. 13). Un trou entre deux résultats, ou une série dont la période suivante est finie depuis plus de 20 jours sans rien reçu, est listé.</p>"#,
                    r#"<p class="muted small">The lab must declare a result or its absence 20 days after the wearing period ends (arrêté of 23 June 2023, art. 13). A gap between two results, or a series whose next period has ended more than 20 days ago with nothing received, is listed.</p>"#,
                ));
                let rows: Vec<Vec<String>> = t
                    .iter()
                    .take(MAX_ROWS)
                    .map(|r| {
                        let period = match (r.time("missing_from"), r.time("missing_to")) {
                            (Some(s), Some(e)) => lang.period(Some(s), Some(e)),
                            _ => String::new(),
                        };
                        let dosimeter = format!(
                            "{} {}",
                            lang.monitoring(&r.str("monitoring")),
                            lang.quantity_short(&r.str("quantity"))
                        );
                        vec![
                            worker_link(ctx, &r.str("worker_id")),
                            esc(&r.str("department")),
                            esc(&dosimeter),
                            format!(r#"<span class="nowrap">{}</span>"#, esc(&period)),
                            esc(lang.gap(&r.str("kind"))),
                            r.int("days_since_period_end").map(|d| d.to_string()).unwrap_or_default(),
                            esc(&r.str("source")),
                        ]
                    })
                    .collect();
                table(
                    o,
                    "missing-results",
                    &[
                        col(lang.pick("Travailleur", "Worker")),
                        col(lang.pick("Service", "Department")),
                        col(lang.pick("Dosimètre", "Dosimeter")),
                        col(lang.pick("Période manquante", "Missing period")),
                        col(lang.pick("Nature", "What")),
                        num(lang.pick("Jours depuis la fin de période", "Days since period end")),
                        col(lang.pick("Laboratoire", "Lab")),
                    ],
                    &rows,
                );
                capped_note(o, lang, rows.len(), t.len(), "missing_results.csv");
            }
        }
    }

    let _ = write!(o, "<h3>{}</h3>", lang.pick("Délai d'arrivée par laboratoire", "Ingest lag by lab"));
    if !unavailable(o, ctx, "ingest_lag") {
        match ctx.table("ingest_lag").filter(|t| !t.is_empty()) {
            None => {
                let day = lang.date(ctx.inputs.as_of);
                let _ = match lang {
                    Lang::Fr => write!(
                        o,
                        r#"<p class="muted">Aucun résultat réglementaire des 12 derniers mois n'était chargé au {day}.</p>"#
                    ),
                    Lang::En => write!(
                        o,
                        r#"<p class="muted">No legal result of the last 12 months was loaded by {}.</p>"#,
                        ctx.inputs.as_of.format("%Y-%m-%d")
                    ),
                };
            }
            Some(t) => {
                let rows: Vec<Vec<String>> = t
                    .iter()
                    .map(|r| {
                        let late = r.int("later_than_20_days").unwrap_or(0);
                        vec![
                            esc(&r.str("source")),
                            r.int("results").unwrap_or(0).to_string(),
                            r.float("median_days").map(|d| lang.num(d, 1)).unwrap_or_default(),
                            r.float("max_days").map(|d| lang.num(d, 1)).unwrap_or_default(),
                            if late > 0 { format!(r#"<span class="pill soon">{late}</span>"#) } else { "0".into() },
                            esc(&r.time("last_ingested_at").map(|t| lang.when(t)).unwrap_or_default()),
                        ]
                    })
                    .collect();
                o.push_str(lang.pick(
                    r#"<p class="muted small">Jours entre la fin d'une période de port et l'arrivée du résultat dans le lac, résultats réglementaires des 12 derniers mois chargés à la date du rapport.</p>"#,
                    r#"<p class="muted small">Days from the end of a wearing period to its arrival in the lake, legal results of the last 12 months loaded by the as-of date.</p>"#,
                ));
                table(
                    o,
                    "ingest-lag",
                    &[
                        col(lang.pick("Laboratoire", "Lab")),
                        num(lang.pick("Résultats", "Results")),
                        num(lang.pick("Médiane (jours)", "Median days")),
                        num(lang.pick("Maximum", "Longest")),
                        num(lang.pick("Plus de 20 jours", "Later than 20 days")),
                        col(lang.pick("Dernier chargement", "Last loaded")),
                    ],
                    &rows,
                );
                if let Some(late) = ctx.table("late_results").filter(|t| !t.is_empty()) {
                    let n = late.len();
                    let _ = match lang {
                        Lang::Fr => write!(
                            o,
                            r#"<p class="muted small">Les {n} résultats reçus plus de 20 jours après leur période sont listés dans <a href="late_results.csv">late_results.csv</a>.</p>"#
                        ),
                        Lang::En => write!(
                            o,
                            r#"<p class="muted small">The {n} results received more than 20 days after their period are listed in <a href="late_results.csv">late_results.csv</a>.</p>"#
                        ),
                    };
                }
            }
        }
    }

    let _ = write!(o, "<h3>{}</h3>", lang.pick("Enregistrements refusés", "Rejected input"));
    if !unavailable(o, ctx, "rejects_by_reason") {
        match ctx.table("rejects_by_reason").filter(|t| !t.is_empty()) {
            None => {
                let _ = write!(
                    o,
                    r#"<p class="empty">{}</p>"#,
                    lang.pick("Aucun enregistrement n'a été refusé.", "No input record was rejected.")
                );
            }
            Some(t) => {
                o.push_str(lang.pick(
                    r#"<p class="muted small">Enregistrements refusés à l'entrée, conservés avec leur texte brut dans la table <code>rejects</code> (<code>alara sql -c "SELECT * FROM rejects"</code>). Les motifs sont ceux du validateur, en anglais.</p>"#,
                    r#"<p class="muted small">Records refused at ingest, kept with their raw text in the <code>rejects</code> table (<code>alara sql -c "SELECT * FROM rejects"</code>).</p>"#,
                ));
                let rows: Vec<Vec<String>> = t
                    .iter()
                    .take(MAX_ROWS)
                    .map(|r| {
                        vec![
                            esc(&r.str("kind")),
                            format!(r#"<div class="ev">{}</div>"#, esc(&r.str("reason"))),
                            r.int("records").unwrap_or(0).to_string(),
                            format!(r#"<span class="small">{}</span>"#, esc(&r.str("first_origin"))),
                            esc(&r.time("last_rejected_at").map(|t| lang.when(t)).unwrap_or_default()),
                        ]
                    })
                    .collect();
                table(
                    o,
                    "rejects",
                    &[
                        col(lang.pick("Type", "Kind")),
                        col(lang.pick("Motif", "Reason")),
                        num(lang.pick("Enregistrements", "Records")),
                        col(lang.pick("Première origine", "First seen at")),
                        col(lang.pick("Dernier refus", "Last rejected")),
                    ],
                    &rows,
                );
                capped_note(o, lang, rows.len(), t.len(), "rejects_by_reason.csv");
            }
        }
    }
    o.push_str("</section>");
}

pub(super) fn alert_rows(ctx: &Ctx, t: &Table, idx: &[usize], acknowledged: bool) -> Vec<Vec<String>> {
    let lang = ctx.lang;
    idx.iter()
        .take(MAX_ROWS)
        .filter_map(|i| t.iter().nth(*i))
        .map(|r| {
            let window = lang.period(r.time("window_start"), r.time("window_end"));
            let raised = r.time("raised_at").map(|t| lang.when(t)).unwrap_or_default();
            let mut row = vec![
                format!(r#"<span class="nowrap">{}</span>"#, esc(&raised)),
                worker_link(ctx, &r.str("worker_id")),
                format!("{} {}", pill("level", lang.level_short(&r.str("level"))), esc(&lang.rule(&r.str("rule")))),
                esc(&lang.quantity_short(&r.str("quantity"))),
                opt_msv(lang, r.float("dose_msv")),
                opt_msv(lang, r.float("threshold_msv")),
                format!(r#"<span class="nowrap">{}</span>"#, esc(&window)),
                format!(
                    r#"<div class="ev">{}</div>"#,
                    esc(&lang.alert_summary(
                        &r.str("level"),
                        &r.str("quantity"),
                        r.float("dose_msv"),
                        r.float("threshold_msv"),
                        &r.str("summary")
                    ))
                ),
            ];
            if acknowledged {
                let by = r.text("acknowledged_by").or(r.text("author")).or(r.text("by")).unwrap_or_default();
                let note = r.text("acknowledged_note").or(r.text("acknowledgement_note")).or(r.text("note"));
                row.push(format!(
                    "<strong>{}</strong><br><span class=\"small muted\">{}</span>",
                    esc(&by),
                    esc(&r.time("acknowledged_at").map(|t| lang.when(t)).unwrap_or_default())
                ));
                row.push(format!(r#"<div class="ev">{}</div>"#, esc(&note.unwrap_or_default())));
            } else {
                let state = r.str("state");
                let hooks = r.str("hooks");
                let cell = match (state.as_str(), hooks.is_empty()) {
                    ("failed", _) => {
                        format!("{} {}", pill("act", lang.pick("envoi en échec", "delivery failing")), esc(&hooks))
                    }
                    (_, true) => lang.pick("aucun destinataire configuré", "no hook configured").to_string(),
                    ("", false) => esc(&hooks),
                    (other, false) => format!("{} · {}", esc(other), esc(&hooks)),
                };
                row.push(format!(r#"<span class="small">{cell}</span>"#));
            }
            row
        })
        .collect()
}

pub(super) fn alerts(o: &mut String, ctx: &Ctx) {
    let lang = ctx.lang;
    let _ = write!(o, r#"<section id="alerts"><h2>{}</h2>"#, lang.pick("Alertes", "Alerts"));
    let Some(t) = ctx.table("alerts") else {
        o.push_str(lang.pick(
            r#"<p class="muted">Pas de boîte d'envoi d'alertes dans ce lac : les alertes sont levées par <code>alara ingest</code> quand des destinataires sont configurés.</p></section>"#,
            r#"<p class="muted">No alert outbox in this lake: alerts are raised by <code>alara ingest</code> when hooks are configured.</p></section>"#,
        ));
        return;
    };
    let head = |ack: bool| {
        let mut h = vec![
            col(lang.pick("Levée le", "Raised")),
            col(lang.pick("Travailleur", "Worker")),
            col(lang.pick("Niveau · règle", "Level · rule")),
            col(lang.pick("Grandeur", "Quantity")),
            num(lang.pick("Dose (mSv)", "Dose (mSv)")),
            num(lang.pick("Seuil (mSv)", "Threshold (mSv)")),
            col(lang.pick("Fenêtre", "Window")),
            col(lang.pick("Résumé", "Summary")),
        ];
        if ack {
            h.push(col(lang.pick("Acquittée par", "Acknowledged by")));
            h.push(col(lang.pick("Note", "Note")));
        } else {
            h.push(col(lang.pick("Envoi", "Delivery")));
        }
        h
    };
    let _ = write!(o, "<h3>{} ({})</h3>", lang.pick("Alertes ouvertes", "Open alerts"), ctx.open_alerts.len());
    if ctx.open_alerts.is_empty() {
        let _ = write!(
            o,
            r#"<p class="empty">{}</p>"#,
            lang.pick("Aucune alerte n'attend d'acquittement.", "No alert is waiting for acknowledgement.")
        );
    } else {
        o.push_str(lang.pick(
            r#"<p class="muted small">Levées et pas encore acquittées (<code>alara alerts --ack ID --by NOM</code>).</p>"#,
            r#"<p class="muted small">Raised and not yet acknowledged (<code>alara alerts --ack ID --by NAME</code>).</p>"#,
        ));
        table(o, "alerts-open", &head(false), &alert_rows(ctx, t, &ctx.open_alerts, false));
    }
    if ctx.counts.withdrawn_alerts > 0 {
        let n = ctx.counts.withdrawn_alerts;
        let _ = match lang {
            Lang::Fr => write!(
                o,
                r#"<p class="muted small">{n} alertes ont été retirées parce que des résultats corrigés ne les justifient plus (état <code>withdrawn</code> dans alerts.csv).</p>"#
            ),
            Lang::En => write!(
                o,
                r#"<p class="muted small">{n} alerts were withdrawn because corrected results no longer support them (state <code>withdrawn</code> in alerts.csv).</p>"#
            ),
        };
    }
    let n = ctx.acknowledged.len();
    let heading = match (&ctx.inputs.baseline, lang) {
        (Some(b), Lang::Fr) => format!("Acquittées depuis le rapport au {} ({n})", lang.date(b.as_of)),
        (Some(b), Lang::En) => format!("Acknowledged since the report as of {} ({n})", b.as_of),
        (None, Lang::Fr) => format!("Acquittées (premier rapport : tous les acquittements) ({n})"),
        (None, Lang::En) => format!("Acknowledged (first report: every acknowledgement) ({n})"),
    };
    let _ = write!(o, "<h3>{}</h3>", esc(&heading));
    if ctx.acknowledged.is_empty() {
        let _ = write!(o, r#"<p class="muted">{}</p>"#, lang.pick("Aucune.", "None."));
    } else {
        table(o, "alerts-acknowledged", &head(true), &alert_rows(ctx, t, &ctx.acknowledged, true));
    }
    if !t.is_empty() {
        o.push_str(lang.pick(
            r#"<p class="muted small">Chaque alerte, avec son envoi par destinataire et son contenu : <a href="alerts.csv">alerts.csv</a>.</p>"#,
            r#"<p class="muted small">Every alert, with its delivery per hook and payload: <a href="alerts.csv">alerts.csv</a>.</p>"#,
        ));
    }
    o.push_str("</section>");
}

/// The "About this report" section (`templates/about.html`, both languages); fields are HTML
/// already.
#[derive(askama::Template)]
#[template(path = "about.html", escape = "none")]
pub(super) struct About {
    fr: bool,
    as_of: String,
    from_12: String,
    year_start: String,
    thresholds: String,
    /// Sections not available: (query name, why), escaped.
    unavailable: Vec<(String, String)>,
    /// CSV files beside the page: (name, rows), escaped.
    files: Vec<(String, usize)>,
}

pub(super) fn about(o: &mut String, ctx: &Ctx) {
    let lang = ctx.lang;
    let mut thresholds = String::new();
    let mut rows = Vec::new();
    for ((pop, q, level), v) in &ctx.thresholds.0 {
        rows.push(vec![
            esc(lang.population(pop)),
            esc(&lang.quantity_short(q)),
            esc(lang.level_short(level)),
            lang.msv(*v),
        ]);
    }
    let cols = [
        col(lang.pick("Population", "Population")),
        col(lang.pick("Grandeur", "Quantity")),
        col(lang.pick("Niveau", "Level")),
        num("mSv"),
    ];
    table(&mut thresholds, "thresholds", &cols, &rows);
    let section = About {
        fr: lang == Lang::Fr,
        as_of: lang.date(ctx.bounds.as_of),
        from_12: lang.date(ctx.bounds.from_12),
        year_start: lang.date(ctx.bounds.year_start),
        thresholds,
        unavailable: ctx.inputs.unavailable.iter().map(|(k, v)| (esc(k), esc(v))).collect(),
        files: crate::EXPORTED.iter().filter_map(|name| ctx.table(name).map(|t| (esc(name), t.len()))).collect(),
    };
    // Rendering writes strings into a String: it has no way to fail.
    o.push_str(&askama::Template::render(&section).expect("the about template renders"));
}
