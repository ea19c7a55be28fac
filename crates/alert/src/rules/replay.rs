//! Rebuilding the rules' state from the lake at start-up: every reading and worker version ever
//! written goes through the same upserts as the stream, so identity (highest revision, first
//! copy) and "latest version" are decided exactly as they were live.

use alara_lake::{Lake, Table};
use alara_model::{Monitoring, Position, Quantity, Status};

use super::{LegalResult, Rules, WorkerVersion, body_site, counted_dose, is_legal};
use crate::Result;
use crate::config::RuleConfig;
use crate::read::for_each_batch;

/// The rules over the lake's current content, readings older than `state_months` before the
/// newest one forgotten.
pub fn rebuild(lake: &Lake, config: RuleConfig, state_months: u32) -> Result<Rules> {
    let mut rules = Rules::new(config);
    let columns = ["worker_id", "department", "apprentice", "pregnancy_declared_on", "valid_from", "ingested_at"];
    for_each_batch(lake, Table::Workers, &columns, |c| {
        let (id, dept) = (c.text("worker_id")?, c.text("department")?);
        let (apprentice, pregnancy) = (c.bool("apprentice")?, c.date("pregnancy_declared_on")?);
        let (valid_from, ingested_at) = (c.ts("valid_from")?, c.ts("ingested_at")?);
        for i in 0..c.len() {
            let (Some(id), Some(valid_from), Some(ingested_at)) = (id.get(i), valid_from(i), ingested_at(i)) else {
                continue;
            };
            let version = WorkerVersion {
                ingested_at,
                department: dept.get(i).unwrap_or_default().to_string(),
                apprentice: apprentice(i).unwrap_or(false),
                pregnancy_declared_on: pregnancy(i),
            };
            rules.upsert_worker(id.to_string(), valid_from, version);
        }
        Ok(())
    })?;

    let columns = [
        "reading_id",
        "revision",
        "source",
        "worker_id",
        "department",
        "dosimeter_id",
        "monitoring",
        "position",
        "laterality",
        "quantity",
        "status",
        "dose_msv",
        "period_start",
        "period_end",
        "ingested_at",
        "origin",
    ];
    for_each_batch(lake, Table::Readings, &columns, |c| {
        let (reading_id, source, worker, dept) =
            (c.text("reading_id")?, c.text("source")?, c.text("worker_id")?, c.text("department")?);
        let (monitoring, quantity, status, origin) =
            (c.text("monitoring")?, c.text("quantity")?, c.text("status")?, c.text("origin")?);
        let (dosimeter, position, laterality) = (c.text("dosimeter_id")?, c.text("position")?, c.text("laterality")?);
        let (revision, dose) = (c.i64("revision")?, c.f64("dose_msv")?);
        let (start, end, ingested_at) = (c.ts("period_start")?, c.ts("period_end")?, c.ts("ingested_at")?);
        for i in 0..c.len() {
            let Some(m) = monitoring.get(i).and_then(|m| m.parse::<Monitoring>().ok()) else { continue };
            let (Some(rid), Some(src), Some(w), Some(q), Some(st)) = (
                reading_id.get(i),
                source.get(i),
                worker.get(i),
                quantity.get(i).and_then(|q| q.parse::<Quantity>().ok()),
                status.get(i).and_then(|s| s.parse::<Status>().ok()),
            ) else {
                continue;
            };
            let pos = position.get(i);
            if !is_legal(m, q, pos.and_then(|p| p.parse::<Position>().ok())) {
                // Operational readings hold no state; their alarms are evaluated as they arrive.
                continue;
            }
            let (Some(period_start), Some(period_end), Some(ingested_at)) = (start(i), end(i), ingested_at(i)) else {
                continue;
            };
            let result = LegalResult {
                worker_id: w.to_string(),
                department: dept.get(i).unwrap_or_default().to_string(),
                quantity: q,
                monitoring: m,
                body_site: body_site(
                    q,
                    pos.and_then(|p| p.parse().ok()),
                    laterality.get(i).and_then(|l| l.parse().ok()),
                ),
                dosimeter_id: dosimeter.get(i).unwrap_or_default().to_string(),
                status: st,
                revision: revision(i).unwrap_or(0),
                counted: counted_dose(st, dose(i)),
                period_start,
                period_end,
                ingested_at,
                origin: origin.get(i).unwrap_or_default().to_string(),
            };
            rules.upsert((src.to_string(), rid.to_string()), result);
        }
        Ok(())
    })?;
    rules.prune(state_months);
    Ok(rules)
}
