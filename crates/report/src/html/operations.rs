//! Badges not returned, data quality, alerts, and "About this report" (`templates/about.html`).

use super::*;

pub(super) fn badges(o: &mut String, ctx: &Ctx) {
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

pub(super) fn quality(o: &mut String, ctx: &Ctx) {
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

pub(super) fn alert_rows(ctx: &Ctx, t: &Table, idx: &[usize], acknowledged: bool) -> Vec<Vec<String>> {
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

pub(super) fn alerts(o: &mut String, ctx: &Ctx) {
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

/// The "About this report" section (`templates/about.html`); fields are HTML already.
#[derive(askama::Template)]
#[template(path = "about.html", escape = "none")]
pub(super) struct About<'a> {
    period: &'a alara_model::ReportPeriod,
    thresholds: String,
    /// Sections not available: (query name, why), escaped.
    unavailable: Vec<(String, String)>,
    /// CSV files beside the page: (name, rows), escaped.
    files: Vec<(String, usize)>,
}

pub(super) fn about(o: &mut String, ctx: &Ctx) {
    let mut thresholds = String::new();
    let mut rows = Vec::new();
    for ((pop, q, level), v) in &ctx.thresholds.0 {
        rows.push(vec![esc(pop), esc(&quantity_short(q)), esc(level), msv(*v)]);
    }
    table(&mut thresholds, "thresholds", &[col("Population"), col("Quantity"), col("Level"), num("mSv")], &rows);
    let section = About {
        period: &ctx.bounds,
        thresholds,
        unavailable: ctx.inputs.unavailable.iter().map(|(k, v)| (esc(k), esc(v))).collect(),
        files: crate::EXPORTED.iter().filter_map(|name| ctx.table(name).map(|t| (esc(name), t.len()))).collect(),
    };
    // Rendering writes strings into a String: it has no way to fail.
    o.push_str(&askama::Template::render(&section).expect("the about template renders"));
}
