//! Hand-written inline SVG charts: no script, no web font, no network. Coordinates are printed
//! with one decimal so output is stable; colours come from CSS classes of the page so charts
//! print well and follow the page's palette.

/// The charts' style (classes `c-*`), for any page that shows them.
pub const CSS: &str = include_str!("chart.css");

use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::fmt::esc;
use crate::i18n::Lang;
use crate::model::Point;

/// A coordinate with one decimal.
fn c(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r == r.trunc() { format!("{}", r as i64) } else { format!("{r:.1}") }
}

/// The smallest "nice" number (1, 2, 2.5, 5 × 10^k) at or above `x`.
pub fn nice_ceiling(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= x * (1.0 - 1e-9) {
            return m * p;
        }
    }
    10.0 * p
}

/// Evenly spaced ticks from 0 to `max` (4 or 5 of them).
fn ticks(max: f64) -> Vec<f64> {
    let step = nice_ceiling(max / 5.0);
    let n = (max / step).round() as i64;
    (0..=n).map(|i| i as f64 * step).collect()
}

fn tick_label(lang: Lang, v: f64) -> String {
    if v == v.trunc() { format!("{}", v as i64) } else { lang.plain(v) }
}

/// A horizontal reference line on a chart.
#[derive(Debug, Clone)]
pub struct RefLine {
    /// Value (mSv).
    pub value: f64,
    /// Label drawn above the line.
    pub label: String,
    /// CSS class (`limit`, `inv`, `preg`).
    pub class: &'static str,
}

/// The 12-month rolling dose of one worker and quantity against the limit, over 24 months:
/// monthly doses as bars, the rolling sum as a line, reference lines dashed, the flagged window
/// shaded, months whose badge has no result marked under the axis.
pub fn rolling_chart(
    lang: Lang,
    points: &[Point],
    lines: &[RefLine],
    window: Option<(NaiveDate, NaiveDate)>,
    marker: Option<(NaiveDate, &str)>,
    description: &str,
) -> String {
    let (w, h) = (640.0, 250.0);
    let (left, right, top, bottom) = (46.0, 14.0, 14.0, 44.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let max_data = points.iter().map(|p| p.rolling.max(p.month_dose)).fold(0.0, f64::max);
    let max_line = lines.iter().map(|l| l.value).fold(0.0, f64::max);
    let ymax = nice_ceiling((max_data * 1.08).max(max_line * 1.12).max(0.1));
    let n = points.len().max(1) as f64;
    let band = pw / n;
    let x = |i: usize| left + band * (i as f64 + 0.5);
    let y = |v: f64| top + ph - (v / ymax).clamp(0.0, 1.05) * ph;
    let idx = |d: NaiveDate| points.iter().position(|p| p.month == crate::model::month_of(d));

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="c-chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{d}" xmlns="http://www.w3.org/2000/svg"><title>{d}</title>"#,
        d = esc(description)
    );
    // Flagged window.
    if let Some((ws, we)) = window {
        let first = idx(ws).unwrap_or(0);
        let last = idx(we).unwrap_or(points.len().saturating_sub(1));
        if first <= last && !points.is_empty() {
            let _ = write!(
                s,
                r#"<rect class="c-window" x="{}" y="{}" width="{}" height="{}"/>"#,
                c(left + band * first as f64),
                c(top),
                c(band * (last - first + 1) as f64),
                c(ph)
            );
        }
    }
    // Grid and y axis.
    for t in ticks(ymax) {
        let _ = write!(
            s,
            r#"<line class="c-grid" x1="{}" x2="{}" y1="{y}" y2="{y}"/><text class="c-tick" x="{}" y="{}" text-anchor="end">{}</text>"#,
            c(left),
            c(w - right),
            c(left - 6.0),
            c(y(t) + 4.0),
            tick_label(lang, t),
            y = c(y(t))
        );
    }
    let _ = write!(
        s,
        r#"<text class="c-axis" x="12" y="{}" transform="rotate(-90 12 {})" text-anchor="middle">mSv</text>"#,
        c(top + ph / 2.0),
        c(top + ph / 2.0)
    );
    // Monthly bars.
    for (i, p) in points.iter().enumerate() {
        if p.month_dose > 0.0 {
            let _ = write!(
                s,
                r#"<rect class="c-bar" x="{}" y="{}" width="{}" height="{}"/>"#,
                c(x(i) - band * 0.3),
                c(y(p.month_dose)),
                c(band * 0.6),
                c(top + ph - y(p.month_dose))
            );
        }
        if p.missing {
            let (cx, cy) = (x(i), top + ph + 4.0);
            let _ = write!(
                s,
                r#"<path class="c-nr" d="M{} {} L{} {} L{} {} Z"/>"#,
                c(cx),
                c(cy),
                c(cx - 4.0),
                c(cy + 7.0),
                c(cx + 4.0),
                c(cy + 7.0)
            );
        }
    }
    // X labels: every third month, and January with its year.
    for (i, p) in points.iter().enumerate() {
        if (points.len() - 1 - i).is_multiple_of(3) {
            let _ = write!(
                s,
                r#"<text class="c-tick" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                c(x(i)),
                c(top + ph + 24.0),
                esc(&lang.month_short(p.month))
            );
        }
    }
    let _ = write!(
        s,
        r#"<line class="c-axisline" x1="{l}" x2="{r}" y1="{b}" y2="{b}"/>"#,
        l = c(left),
        r = c(w - right),
        b = c(top + ph)
    );
    // Reference lines.
    for l in lines {
        let yy = y(l.value);
        let _ = write!(
            s,
            r#"<line class="c-ref c-{cl}" x1="{}" x2="{}" y1="{yy}" y2="{yy}"/><text class="c-reflabel c-{cl}" x="{}" y="{}">{}</text>"#,
            c(left),
            c(w - right),
            c(left + 6.0),
            c(yy - 5.0),
            esc(&l.label),
            cl = l.class,
            yy = c(yy)
        );
    }
    // Declaration marker (pregnancy).
    if let Some((d, label)) = marker
        && let Some(i) = idx(d)
    {
        let _ = write!(
            s,
            r#"<line class="c-marker" x1="{x}" x2="{x}" y1="{}" y2="{}"/><text class="c-reflabel c-preg" x="{}" y="{}">{}</text>"#,
            c(top),
            c(top + ph),
            c(x(i) + 4.0),
            c(top + 12.0),
            esc(label),
            x = c(x(i))
        );
    }
    // Rolling line and points.
    let limit = lines.iter().find(|l| l.class == "limit").map(|l| l.value);
    let inv = lines.iter().find(|l| l.class == "inv").map(|l| l.value);
    let path: Vec<String> =
        points.iter().enumerate().map(|(i, p)| format!("{},{}", c(x(i)), c(y(p.rolling)))).collect();
    let _ = write!(s, r#"<polyline class="c-rolling" points="{}"/>"#, path.join(" "));
    for (i, p) in points.iter().enumerate() {
        let class = if limit.is_some_and(|l| p.rolling > l) {
            "c-pt c-over"
        } else if inv.is_some_and(|l| p.rolling > l) {
            "c-pt c-high"
        } else {
            "c-pt"
        };
        let _ = write!(
            s,
            r#"<circle class="{class}" cx="{}" cy="{}" r="3.2"><title>{}{} {} mSv {}</title></circle>"#,
            c(x(i)),
            c(y(p.rolling)),
            esc(&lang.month_year(p.month)),
            lang.pick(" :", ":"),
            lang.msv(p.rolling),
            lang.pick("sur 12 mois", "over 12 months")
        );
    }
    // Value of the highest point.
    if let Some((i, p)) =
        points.iter().enumerate().max_by(|a, b| a.1.rolling.total_cmp(&b.1.rolling).then(b.0.cmp(&a.0)))
        && p.rolling > 0.0
    {
        let anchor = if i + 3 >= points.len() { "end" } else { "middle" };
        let _ = write!(
            s,
            r#"<text class="c-peak" x="{}" y="{}" text-anchor="{anchor}">{}</text>"#,
            c(x(i)),
            c((y(p.rolling) - 8.0).max(top + 10.0)),
            lang.msv(p.rolling)
        );
    }
    s.push_str("</svg>");
    s
}

/// Quartiles by linear interpolation (values sorted ascending).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Horizontal box plots with every worker as a dot, one row per group (a role), sharing one
/// dose axis; reference lines dashed.
pub fn distribution_chart(lang: Lang, rows: &[(String, Vec<f64>)], lines: &[RefLine], description: &str) -> String {
    let row_h = 30.0;
    let (left, right, top, bottom) = (130.0, 46.0, 10.0, 34.0);
    let w = 640.0;
    let h = top + bottom + row_h * rows.len().max(1) as f64;
    let pw = w - left - right;
    let max_data = rows.iter().flat_map(|(_, v)| v.iter().copied()).fold(0.0, f64::max);
    let max_line = lines.iter().map(|l| l.value).filter(|v| *v <= max_data * 3.0).fold(0.0, f64::max);
    let xmax = nice_ceiling(max_data.max(max_line * 1.05).max(0.1));
    let x = |v: f64| left + (v / xmax).clamp(0.0, 1.0) * pw;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="c-chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{d}" xmlns="http://www.w3.org/2000/svg"><title>{d}</title>"#,
        d = esc(description),
        h = c(h)
    );
    let base = top + row_h * rows.len() as f64;
    for t in ticks(xmax) {
        let _ = write!(
            s,
            r#"<line class="c-grid" x1="{x}" x2="{x}" y1="{}" y2="{}"/><text class="c-tick" x="{x}" y="{}" text-anchor="middle">{}</text>"#,
            c(top),
            c(base),
            c(base + 16.0),
            tick_label(lang, t),
            x = c(x(t))
        );
    }
    let _ = write!(
        s,
        r#"<text class="c-axis" x="{}" y="{}" text-anchor="middle">{}</text>"#,
        c(left + pw / 2.0),
        c(base + 30.0),
        lang.pick("mSv sur les 12 derniers mois", "mSv over the last 12 months")
    );
    for l in lines.iter().filter(|l| l.value <= xmax) {
        let _ = write!(
            s,
            r#"<line class="c-ref c-{cl}" x1="{x}" x2="{x}" y1="{}" y2="{}"/><text class="c-reflabel c-{cl}" x="{}" y="{}" text-anchor="end">{}</text>"#,
            c(top),
            c(base),
            c(x(l.value) - 3.0),
            c(top + 9.0),
            esc(&l.label),
            cl = l.class,
            x = c(x(l.value))
        );
    }
    for (r, (label, values)) in rows.iter().enumerate() {
        let cy = top + row_h * (r as f64 + 0.5);
        let mut v = values.clone();
        v.sort_by(f64::total_cmp);
        let _ = write!(
            s,
            r#"<text class="c-rowlabel" x="{}" y="{}" text-anchor="end">{}</text>"#,
            c(left - 8.0),
            c(cy + 4.0),
            esc(label)
        );
        if v.is_empty() {
            continue;
        }
        let (q1, med, q3) = (quantile(&v, 0.25), quantile(&v, 0.5), quantile(&v, 0.75));
        let _ = write!(
            s,
            r#"<line class="c-whisker" x1="{}" x2="{}" y1="{cy}" y2="{cy}"/><rect class="c-box" x="{}" y="{}" width="{}" height="14"/><line class="c-median" x1="{m}" x2="{m}" y1="{}" y2="{}"/>"#,
            c(x(v[0])),
            c(x(v[v.len() - 1])),
            c(x(q1)),
            c(cy - 7.0),
            c((x(q3) - x(q1)).max(1.0)),
            c(cy - 9.0),
            c(cy + 9.0),
            cy = c(cy),
            m = c(x(med))
        );
        for (i, val) in v.iter().enumerate() {
            // A deterministic jitter so that equal doses do not hide each other.
            let jitter = ((i * 7) % 9) as f64 - 4.0;
            let over = lines.iter().any(|l| l.class == "limit" && *val > l.value);
            let high = lines.iter().any(|l| l.class == "inv" && *val > l.value);
            let class = if over {
                "c-dot c-over"
            } else if high {
                "c-dot c-high"
            } else {
                "c-dot"
            };
            let _ = write!(s, r#"<circle class="{class}" cx="{}" cy="{}" r="2.6"/>"#, c(x(*val)), c(cy + jitter));
        }
        let _ =
            write!(s, r#"<text class="c-tick" x="{}" y="{}">n={}</text>"#, c(w - right + 6.0), c(cy + 4.0), v.len());
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_ceiling(22.4), 25.0);
        assert_eq!(nice_ceiling(20.0), 20.0);
        assert_eq!(nice_ceiling(0.07), 0.1);
        assert_eq!(nice_ceiling(533.0), 1000.0);
        assert_eq!(ticks(25.0), vec![0.0, 5.0, 10.0, 15.0, 20.0, 25.0]);
    }

    #[test]
    fn quartiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
    }

    #[test]
    fn chart_is_balanced_svg() {
        let pts: Vec<Point> = (0..24)
            .map(|i| Point {
                month: NaiveDate::from_ymd_opt(2024 + i / 12, (i % 12) as u32 + 1, 1).unwrap(),
                month_dose: 1.5,
                rolling: 1.5 * (i.min(11) + 1) as f64,
                missing: i == 3,
            })
            .collect();
        let lines = [RefLine { value: 20.0, label: "limit 20 mSv".into(), class: "limit" }];
        let s = rolling_chart(Lang::En, &pts, &lines, None, None, "W1 <eye>");
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("W1 &lt;eye&gt;"));
        assert_eq!(s.matches("<circle").count(), s.matches("</circle>").count());
    }
}
