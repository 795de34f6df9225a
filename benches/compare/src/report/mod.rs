//! The results of a run and what is worked out from them: ratios to
//! ringloop, the best other peer, client-bound rows. The renderings are in
//! the submodules: `text` (stdout), `markdown` (the `--out` section and
//! BENCHMARKS.md), `why` (the sentences on why ringloop wins or loses).

mod markdown;
mod text;
mod why;

pub use markdown::{append_section, document};
pub use text::text;

use crate::metric::{Metric, CLIENT_BOUND_BELOW};
use crate::stats::Summary;

/// The peer everything is compared against.
pub const RINGLOOP: &str = "ringloop";

/// The results of one case of one scenario.
pub struct CaseReport {
    pub scenario: &'static str,
    /// The case's id (`tasks64`, `direct` ...).
    pub case: &'static str,
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
    /// The figures recorded beside the throughput, over the rounds, in the
    /// order of [`Metric::ALL`].
    pub metrics: Vec<(Metric, Summary)>,
    /// The throughput of each run, in round order (for ratios paired by
    /// round; empty where not kept).
    pub runs: Vec<f64>,
}

/// ringloop over one peer, worked out round by round: each round runs the
/// peers back to back, so a ratio within a round is taken under one state
/// of a shared machine; the median of those ratios leaves out a drift
/// between rounds that the ratio of the two medians keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Paired {
    /// Median, min and max of ringloop's run over the peer's, per round.
    pub ratios: Summary,
    /// Rounds in which ringloop's figure was the higher.
    pub ahead: usize,
}

/// Fewer rounds than this give no paired figure: with two or three ratios
/// a median says little.
pub const PAIRED_MIN_ROUNDS: usize = 5;

/// Everything the report says besides the tables.
pub struct Header {
    pub date: String,
    pub command: String,
    pub machine: String,
    pub method: String,
    pub versions: String,
    /// More `- ` lines: load averages, external tools, wall time ...
    pub extra: Vec<String>,
    /// A warning at the top of BENCHMARKS.md (a quick or partial run).
    pub partial: Option<String>,
}

/// Whether `peer` is ringloop or one of its variants (`ringloop-epoll` ...),
/// which are shown with ratios but are not "other" peers.
pub fn is_ringloop(peer: &str) -> bool {
    peer == RINGLOOP || peer.starts_with("ringloop-")
}

/// Whether `peer` is a ceiling rather than a runtime: the raw `io-uring`
/// loop, the raw epoll loop and fio. Its ratio is shown apart from the best
/// other peer's.
pub fn is_ceiling(peer: &str) -> bool {
    peer == URING_RAW || peer == EPOLL_RAW || peer.starts_with("fio-")
}

/// The completion-model ceiling (no runtime): the raw `io-uring` loop.
pub const URING_RAW: &str = "io-uring-raw";

/// The network scenarios' readiness-model ceiling (no runtime).
pub const EPOLL_RAW: &str = "epoll-raw";

impl Row {
    pub fn metric(&self, m: Metric) -> Option<Summary> {
        self.metrics.iter().find(|(k, _)| *k == m).map(|(_, s)| *s)
    }

    /// The server core's median busy share, if it is under
    /// [`CLIENT_BOUND_BELOW`]: the throughput was set by the client.
    pub fn client_bound(&self) -> Option<f64> {
        let busy = self.metric(Metric::ServerBusy)?.median;
        (busy < CLIENT_BOUND_BELOW).then_some(busy)
    }
}

impl CaseReport {
    pub fn row(&self, peer: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.peer == peer)
    }

    pub fn median_of(&self, peer: &str) -> Option<f64> {
        self.row(peer)?.result.as_ref().ok().map(|s| s.median)
    }

    /// ringloop's median divided by `peer`'s: above 1 means ringloop is faster.
    pub fn ratio(&self, peer: &str) -> Option<f64> {
        Some(self.median_of(RINGLOOP)? / self.median_of(peer)?)
    }

    /// ringloop over `peer` paired by round (see [`Paired`]); `None` unless
    /// both ran in every one of at least [`PAIRED_MIN_ROUNDS`] rounds.
    pub fn paired(&self, peer: &str) -> Option<Paired> {
        let own = &self.row(RINGLOOP)?.runs;
        let other = &self.row(peer)?.runs;
        if own.len() != other.len() || own.len() < PAIRED_MIN_ROUNDS {
            return None;
        }
        let ratios: Vec<f64> = own.iter().zip(other).map(|(a, b)| a / b).collect();
        Some(Paired {
            ratios: crate::stats::summarize(&ratios)?,
            ahead: ratios.iter().filter(|r| **r > 1.0).count(),
        })
    }

    /// The runtime (not ringloop, not a ceiling) with the highest median.
    pub fn best_other(&self) -> Option<(&'static str, f64)> {
        self.best_where(|p| !is_ringloop(p) && !is_ceiling(p))
    }

    /// ringloop's ratio to the best other peer, and that peer.
    pub fn verdict(&self) -> Option<(&'static str, f64)> {
        let (peer, best) = self.best_other()?;
        Some((peer, self.median_of(RINGLOOP)? / best))
    }

    /// ringloop's ratio to the best ceiling, and that ceiling.
    pub fn ceiling_verdict(&self) -> Option<(&'static str, f64)> {
        let (peer, best) = self.best_where(is_ceiling)?;
        Some((peer, self.median_of(RINGLOOP)? / best))
    }

    /// The completion model over the readiness model with no runtime on
    /// either side: `io-uring-raw`'s median over `epoll-raw`'s.
    pub fn models_ratio(&self) -> Option<f64> {
        Some(self.median_of(URING_RAW)? / self.median_of(EPOLL_RAW)?)
    }

    fn best_where(&self, keep: impl Fn(&str) -> bool) -> Option<(&'static str, f64)> {
        self.rows
            .iter()
            .filter(|r| keep(r.peer))
            .filter_map(|r| Some((r.peer, r.result.as_ref().ok()?.median)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The metrics any row has, in the order of [`Metric::ALL`].
    pub fn metrics(&self) -> Vec<Metric> {
        Metric::ALL
            .into_iter()
            .filter(|m| self.rows.iter().any(|r| r.metric(*m).is_some()))
            .collect()
    }

    /// The non-ringloop peer with the best median of `m`, and ringloop's
    /// ratio to it oriented like the throughput's: above 1 means ringloop
    /// is better (for a lower-is-better figure: best / ringloop's).
    pub fn metric_verdict(&self, m: Metric) -> Option<(&'static str, f64, f64)> {
        let own = self.row(RINGLOOP)?.metric(m)?.median;
        let (peer, best) = self
            .rows
            .iter()
            .filter(|r| !is_ringloop(r.peer) && !is_ceiling(r.peer))
            .filter_map(|r| Some((r.peer, r.metric(m)?.median)))
            .min_by(|a, b| {
                if m.lower_is_better() {
                    a.1.total_cmp(&b.1)
                } else {
                    b.1.total_cmp(&a.1)
                }
            })?;
        let ratio = if m.lower_is_better() {
            best / own
        } else {
            own / best
        };
        Some((peer, best, ratio))
    }

    pub fn heading(&self) -> String {
        let plural = if self.rounds == 1 { "" } else { "s" };
        format!(
            "{}: {} ({}, higher is better; {} round{plural})",
            self.scenario,
            self.title,
            self.rate(),
            self.rounds
        )
    }

    /// What the throughput column holds: "M {unit}/s", unless the title
    /// names another figure — "figure = X" (shown in millions: "M X") or
    /// "figure (M) = X" (already scaled: "X"), as the open-loop and
    /// syscall cases do.
    pub fn rate(&self) -> String {
        if let Some((_, x)) = self.title.split_once("figure (M) = ") {
            x.to_string()
        } else if let Some((_, x)) = self.title.split_once("figure = ") {
            format!("M {x}")
        } else {
            format!("M {}/s", self.unit)
        }
    }
}

/// Millions, 3 decimals (3 significant digits under 0.1 M).
pub fn mega(x: f64) -> String {
    let m = x / 1e6;
    if m.abs() >= 0.1 {
        format!("{m:.3}")
    } else {
        crate::metric::significant(m)
    }
}

pub fn ratio(x: f64) -> String {
    format!("{x:.2}x")
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
pub(crate) mod tests {
    use super::*;

    pub fn summary(median: f64) -> Summary {
        Summary {
            median,
            min: median,
            max: median,
            runs: 1,
        }
    }

    pub fn row(peer: &'static str, median: f64) -> Row {
        Row {
            peer,
            result: Ok(summary(median)),
            note: None,
            metrics: Vec::new(),
            runs: Vec::new(),
        }
    }

    pub fn case(rows: Vec<Row>) -> CaseReport {
        CaseReport {
            scenario: "x",
            case: "c",
            title: "t".into(),
            unit: "ops",
            rounds: 1,
            rows,
        }
    }

    #[test]
    fn ratios_and_best() {
        let c = case(vec![
            row("ringloop", 2e6),
            row("ringloop-epoll", 9e6),
            row("a", 4e6),
            row("b", 1e6),
            row("io-uring-raw", 8e6),
            Row {
                peer: "c",
                result: Err("no".into()),
                note: None,
                metrics: Vec::new(),
                runs: Vec::new(),
            },
        ]);
        assert_eq!(c.ratio("a"), Some(0.5));
        assert_eq!(c.ratio("c"), None);
        assert_eq!(c.best_other(), Some(("a", 4e6)));
        assert_eq!(c.verdict(), Some(("a", 0.5)));
        assert_eq!(c.ceiling_verdict(), Some(("io-uring-raw", 0.25)));
        let t = text(&c);
        assert!(t.contains("0.50x") && t.contains("skipped: no"), "{t}");
    }

    #[test]
    fn metric_verdicts_are_oriented() {
        let mut rows = vec![row("ringloop", 1.0), row("a", 1.0), row("b", 1.0)];
        let lat = [100.0, 50.0, 400.0];
        let busy = [80.0, 99.0, 90.0];
        for (r, (l, b)) in rows.iter_mut().zip(lat.into_iter().zip(busy)) {
            r.metrics = vec![
                (Metric::ServerBusy, summary(b)),
                (Metric::LatencyP99, summary(l)),
            ];
        }
        let c = case(rows);
        assert_eq!(c.metrics(), vec![Metric::ServerBusy, Metric::LatencyP99]);
        // Lower is better: the best is a's 50; ringloop's 100 is 0.5x.
        assert_eq!(c.metric_verdict(Metric::LatencyP99), Some(("a", 50.0, 0.5)));
        assert_eq!(c.rows[0].client_bound(), Some(80.0));
        assert_eq!(c.rows[1].client_bound(), None);
    }

    #[test]
    fn millions() {
        assert_eq!(mega(1_234_567.0), "1.235");
        assert_eq!(mega(8_123.0), "0.00812");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(2_000_000), "2,000,000");
    }
}
