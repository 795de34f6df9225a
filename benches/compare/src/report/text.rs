//! The plain-text table of one case, printed as soon as the case is done.

use std::fmt::Write;

use super::{mega, ratio, CaseReport};

pub fn text(case: &CaseReport) -> String {
    let metrics = case.metrics();
    let mut s = String::new();
    let _ = writeln!(s, "{}", case.heading());
    let mut head = format!(
        "  {:<18} {:>9} {:>9} {:>9}  {:>15}",
        "peer", "median", "min", "max", "ringloop / peer"
    );
    for m in &metrics {
        let _ = write!(head, "  {:>16}", m.heading());
    }
    let _ = writeln!(s, "{head}");
    for row in &case.rows {
        match &row.result {
            Ok(st) => {
                let r = case.ratio(row.peer).map_or("n/a".into(), ratio);
                let _ = write!(
                    s,
                    "  {:<18} {:>9} {:>9} {:>9}  {:>15}",
                    row.peer,
                    mega(st.median),
                    mega(st.min),
                    mega(st.max),
                    r
                );
                for m in &metrics {
                    let v = row.metric(*m).map_or("-".into(), |v| m.format(v.median));
                    let _ = write!(s, "  {v:>16}");
                }
                if let Some(busy) = row.client_bound() {
                    let _ = write!(s, "  client-bound ({busy:.0}% busy)");
                }
                let _ = writeln!(s);
            }
            Err(why) => {
                let _ = writeln!(s, "  {:<18} skipped: {why}", row.peer);
            }
        }
    }
    let verdict = match case.verdict() {
        Some((peer, r)) => format!("ringloop / best other peer ({peer}): {}", ratio(r)),
        None => "no ratio: ringloop or every other peer has no result".into(),
    };
    let _ = writeln!(s, "  {verdict}");
    if let Some((peer, p)) = case
        .verdict()
        .and_then(|(peer, _)| Some((peer, case.paired(peer)?)))
    {
        let _ = writeln!(
            s,
            "  paired by round ({peer}): median {}, min-max {}-{}, ringloop ahead in {} of {}",
            ratio(p.ratios.median),
            ratio(p.ratios.min),
            ratio(p.ratios.max),
            p.ahead,
            p.ratios.runs
        );
    }
    if let Some((peer, r)) = case.ceiling_verdict() {
        let _ = writeln!(s, "  ringloop / ceiling ({peer}): {}", ratio(r));
    }
    if let Some(r) = case.models_ratio() {
        let _ = writeln!(s, "  io-uring-raw / epoll-raw (no runtime): {}", ratio(r));
    }
    for m in metrics.iter().filter(|m| m.ranked()) {
        if let Some((peer, _, r)) = case.metric_verdict(*m) {
            let _ = writeln!(
                s,
                "  {}: ringloop / best other peer ({peer}): {} (above 1 = ringloop better)",
                m.heading(),
                ratio(r)
            );
        }
    }
    for row in &case.rows {
        if let Some(note) = &row.note {
            let _ = writeln!(s, "  note, {}: {note}", row.peer);
        }
    }
    s
}
