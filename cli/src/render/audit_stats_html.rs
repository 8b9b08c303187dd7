//! `audit stats --format html`: one self-contained page with small charts drawn as inline SVG.
//!
//! No script and nothing fetched when the page is viewed (a Content-Security-Policy says so to
//! the browser). Every text from the log — approver names, policy ids — is escaped: an audit
//! log is written by the services and people it records. The page is also well-formed XML, so
//! tests parse it strictly.

use std::fmt::Write as _;

use tollgate_engine::audit::stats::{AuditStats, PolicyVerdict};

use super::audit_stats::{Table, approvers, dual_pairs, gates, tiers};

/// `&`, `<`, `>`, `"` and `'` escaped, for text and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Not allowed in XML 1.0 documents; shown as the replacement character.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const PALETTE: [&str; 8] = [
    "#2563eb", "#c2410c", "#15803d", "#7c3aed", "#b45309", "#0e7490", "#be185d", "#4d7c0f",
];

fn color(i: usize) -> &'static str {
    PALETTE.get(i % PALETTE.len()).copied().unwrap_or("#555")
}

/// Approve records per day, stacked by approver.
fn per_day_chart(stats: &AuditStats) -> String {
    let approvers: Vec<&str> = stats
        .approvers
        .iter()
        .map(|a| a.approver.as_str())
        .collect();
    let days = &stats.per_day;
    let max = days
        .iter()
        .map(|d| d.approvals.values().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, left, bottom) = (640.0, 220.0, 40.0, 40.0);
    let bar = ((w - left) / days.len().max(1) as f64).min(48.0);
    let scale = (h - bottom - 10.0) / max as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="approvals per day per approver" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{y}" x2="{w}" y2="{y}" stroke="#999"/><text x="4" y="14" font-size="11">{max}</text><text x="4" y="{y}" font-size="11">0</text>"##,
        y = h - bottom
    );
    for (i, day) in days.iter().enumerate() {
        let x = left + i as f64 * bar + 2.0;
        let mut y = h - bottom;
        for (j, name) in approvers.iter().enumerate() {
            let n = day.approvals.get(*name).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let height = n as f64 * scale;
            y -= height;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{height:.1}" fill="{c}"><title>{t}</title></rect>"#,
                bw = bar - 4.0,
                c = color(j),
                t = esc(&format!("{}: {} approved {n}", day.day, name)),
            );
        }
        if days.len() <= 14 || i % (days.len() / 14 + 1) == 0 {
            let _ = write!(
                svg,
                r#"<text x="{x:.1}" y="{ty}" font-size="10" transform="rotate(30 {x:.1} {ty})">{d}</text>"#,
                ty = h - bottom + 14.0,
                d = esc(day.day.get(5..).unwrap_or(&day.day)),
            );
        }
    }
    svg.push_str("</svg>");
    let legend: String = approvers
        .iter()
        .enumerate()
        .map(|(j, a)| {
            format!(
                r#"<span class="key"><span class="swatch" style="background:{}"></span>{}</span>"#,
                color(j),
                esc(a)
            )
        })
        .collect();
    format!(r#"{svg}<p class="legend">{legend}</p>"#)
}

/// Times to approve in buckets people think in.
fn time_chart(stats: &AuditStats) -> String {
    const BUCKETS: [(f64, &str); 8] = [
        (10.0, "< 10 s"),
        (30.0, "10–30 s"),
        (60.0, "30 s–1 min"),
        (300.0, "1–5 min"),
        (900.0, "5–15 min"),
        (3600.0, "15–60 min"),
        (14_400.0, "1–4 h"),
        (f64::INFINITY, "> 4 h"),
    ];
    let mut counts = [0usize; 8];
    for t in &stats.times_to_approve {
        let i = BUCKETS.iter().position(|(upto, _)| t < upto).unwrap_or(7);
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let (w, h) = (640.0, 200.0);
    let bar = (w - 20.0) / 8.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="time to approve" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
    );
    for (i, ((_, label), n)) in BUCKETS.iter().zip(counts).enumerate() {
        let label = esc(label);
        let height = n as f64 * (h - 50.0) / max as f64;
        let x = 10.0 + i as f64 * bar;
        let y = h - 30.0 - height;
        let fill = if i < 2 { "#b91c1c" } else { "#2563eb" };
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{height:.1}" fill="{fill}"><title>{label}: {n}</title></rect><text x="{tx:.1}" y="{ly}" font-size="10" text-anchor="middle">{label}</text><text x="{tx:.1}" y="{ny:.1}" font-size="10" text-anchor="middle">{n}</text>"#,
            bw = bar - 6.0,
            tx = x + (bar - 6.0) / 2.0,
            ly = h - 14.0,
            ny = y - 3.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Approvals requested per gate, coloured by verdict.
fn policy_chart(stats: &AuditStats) -> String {
    let rows: Vec<_> = stats.policies.iter().take(20).collect();
    let max = rows
        .iter()
        .map(|p| p.approvals_requested)
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, row_h, label_w) = (640.0, 22.0, 240.0);
    let h = row_h * rows.len().max(1) as f64 + 10.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="approvals caused per policy" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
    );
    for (i, p) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let len = p.approvals_requested as f64 * (w - label_w - 40.0) / max as f64;
        let fill = match p.verdict {
            PolicyVerdict::Candidate => "#b45309",
            PolicyVerdict::DoingItsJob => "#15803d",
            PolicyVerdict::Undecided => "#64748b",
        };
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty:.1}" font-size="11" text-anchor="end">{id}</text><rect x="{label_w}" y="{y:.1}" width="{len:.1}" height="{bh}" fill="{fill}"><title>{id}: {n} approvals asked, {r} rejected</title></rect><text x="{nx:.1}" y="{ty:.1}" font-size="11">{n}</text>"#,
            lx = label_w - 6.0,
            ty = y + 13.0,
            id = esc(&p.policy),
            bh = row_h - 6.0,
            n = p.approvals_requested,
            r = p.rejected,
            nx = label_w + len + 4.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

fn table(t: &Table) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in t.head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// The page.
pub fn render(stats: &AuditStats) -> String {
    let w = &stats.window;
    let span = match (&w.first_day, &w.last_day) {
        (Some(a), Some(b)) => format!("{a} to {b} ({} days)", w.days),
        _ => "no events".into(),
    };
    format!(
        r#"<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/>
<title>tollgate: is the gate still a gate?</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; color: #1d2330; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; margin: .5rem 0 1.5rem; }}
th, td {{ text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #e5e7eb; }}
.legend .key {{ margin-right: 1rem; white-space: nowrap; }}
.swatch {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
.muted {{ color: #667; }}
</style>
</head>
<body>
<h1>Is the gate still a gate?</h1>
<p class="muted">{span}: {records} records, {decisions} decisions, {approvals} approval records.</p>
<h2>Reviewer workload by tier</h2>
{tiers}
<h2>Approvers</h2>
{approvers}
<h3>Approvals per day</h3>
{per_day}
<h3>Time from request to approval</h3>
{times}
<h2>Gates</h2>
{policies}
<h3>Approvals asked per gate</h3>
{policy_chart}
<h2>Dual control</h2>
{pairs}
</body>
</html>
"#,
        records = w.records,
        decisions = w.decisions,
        approvals = w.approval_records,
        span = esc(&span),
        tiers = table(&tiers(stats)),
        approvers = table(&approvers(stats)),
        per_day = per_day_chart(stats),
        times = time_chart(stats),
        policies = table(&gates(stats)),
        policy_chart = policy_chart(stats),
        pairs = table(&dual_pairs(stats)),
    )
}
