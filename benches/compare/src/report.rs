//! The results as a plain-text table (stdout) and as a Markdown section.

use std::fmt::Write;

use crate::stats::Summary;

/// The peer everything is compared against.
pub const RINGLOOP: &str = "ringloop";

/// The results of one case of one scenario.
pub struct CaseReport {
    pub scenario: &'static str,
    /// E.g. "spawn + join of 1,000,000 trivial tasks".
    pub title: String,
    /// E.g. "tasks" (reported as M tasks/s).
    pub unit: &'static str,
    pub rounds: u32,
    pub rows: Vec<Row>,
}

pub struct Row {
    pub peer: &'static str,
    /// Throughputs in ops/s, or why the peer was skipped.
    pub result: Result<Summary, String>,
    /// The note of the peer's last run, if any.
    pub note: Option<String>,
}

/// Everything the Markdown section says besides the tables.
pub struct Header {
    pub date: String,
    pub command: String,
    pub machine: String,
    pub method: String,
    pub versions: String,
}

impl CaseReport {
    fn median_of(&self, peer: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.peer == peer)?
            .result
            .as_ref()
            .ok()
            .map(|s| s.median)
    }

    /// ringloop's median divided by `peer`'s: above 1 means ringloop is faster.
    fn ratio(&self, peer: &str) -> Option<f64> {
        Some(self.median_of(RINGLOOP)? / self.median_of(peer)?)
    }

    /// The non-ringloop peer with the highest median (ringloop's own
    /// variants, `ringloop-*` rows, are not "other" peers).
    fn best_other(&self) -> Option<(&'static str, f64)> {
        self.rows
            .iter()
            .filter(|r| r.peer != RINGLOOP && !r.peer.starts_with("ringloop-"))
            .filter_map(|r| Some((r.peer, r.result.as_ref().ok()?.median)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    fn verdict(&self) -> String {
        match (self.best_other(), self.median_of(RINGLOOP)) {
            (Some((peer, best)), Some(own)) => {
                format!("ringloop / best other peer ({peer}): {}", ratio(own / best))
            }
            (Some((peer, _)), None) => format!("best other peer: {peer}; ringloop has no result"),
            (None, _) => "no other peer has a result".into(),
        }
    }

    fn heading(&self) -> String {
        let plural = if self.rounds == 1 { "" } else { "s" };
        format!(
            "{}: {} (M {}/s, higher is better; {} round{plural})",
            self.scenario, self.title, self.unit, self.rounds
        )
    }
}

fn mega(x: f64) -> String {
    format!("{:.3}", x / 1e6)
}

fn ratio(x: f64) -> String {
    format!("{x:.2}x")
}

/// The plain-text table of one case.
pub fn text(case: &CaseReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", case.heading());
    let _ = writeln!(
        s,
        "  {:<16} {:>9} {:>9} {:>9}  {:>15}",
        "peer", "median", "min", "max", "ringloop / peer"
    );
    for row in &case.rows {
        match &row.result {
            Ok(st) => {
                let r = case.ratio(row.peer).map_or("n/a".into(), ratio);
                let _ = writeln!(
                    s,
                    "  {:<16} {:>9} {:>9} {:>9}  {:>15}",
                    row.peer,
                    mega(st.median),
                    mega(st.min),
                    mega(st.max),
                    r
                );
            }
            Err(why) => {
                let _ = writeln!(s, "  {:<16} skipped: {why}", row.peer);
            }
        }
    }
    let _ = writeln!(s, "  {}", case.verdict());
    for row in &case.rows {
        if let Some(note) = &row.note {
            let _ = writeln!(s, "  note, {}: {note}", row.peer);
        }
    }
    s
}

/// The Markdown section for a whole invocation.
pub fn markdown(h: &Header, cases: &[CaseReport]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## ringloop-compare, {}\n", h.date);
    let _ = writeln!(s, "- machine: {}", h.machine);
    let _ = writeln!(s, "- command: `{}`", h.command);
    let _ = writeln!(s, "- method: {}", h.method);
    let _ = writeln!(s, "- versions: {}\n", h.versions);
    for case in cases {
        let _ = writeln!(s, "### {}\n", case.heading());
        let _ = writeln!(s, "| peer | median | min | max | ringloop / peer |");
        let _ = writeln!(s, "|---|--:|--:|--:|--:|");
        for row in &case.rows {
            match &row.result {
                Ok(st) => {
                    let r = case.ratio(row.peer).map_or("n/a".into(), ratio);
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} | {} |",
                        row.peer,
                        mega(st.median),
                        mega(st.min),
                        mega(st.max),
                        r
                    );
                }
                Err(why) => {
                    let _ = writeln!(
                        s,
                        "| {} | skipped: {} | | | |",
                        row.peer,
                        why.replace('|', "\\|")
                    );
                }
            }
        }
        let _ = writeln!(s, "\n{}\n", case.verdict());
        for row in &case.rows {
            if let Some(note) = &row.note {
                let _ = writeln!(s, "- note, {}: `{note}`", row.peer);
            }
        }
        if case.rows.iter().any(|r| r.note.is_some()) {
            let _ = writeln!(s);
        }
    }
    s
}

/// `1000000` as `1,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(peer: &'static str, median: f64) -> Row {
        let result = Ok(Summary {
            median,
            min: median,
            max: median,
            runs: 1,
        });
        Row {
            peer,
            result,
            note: None,
        }
    }

    #[test]
    fn ratios_and_best() {
        let case = CaseReport {
            scenario: "x",
            title: "t".into(),
            unit: "ops",
            rounds: 1,
            rows: vec![
                row("ringloop", 2e6),
                row("a", 4e6),
                row("b", 1e6),
                Row {
                    peer: "c",
                    result: Err("no".into()),
                    note: None,
                },
            ],
        };
        assert_eq!(case.ratio("a"), Some(0.5));
        assert_eq!(case.ratio("c"), None);
        assert_eq!(case.best_other(), Some(("a", 4e6)));
        let t = text(&case);
        assert!(t.contains("0.50x") && t.contains("skipped: no"), "{t}");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(2_000_000), "2,000,000");
    }
}
