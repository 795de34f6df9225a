//! The sentences on why ringloop wins or loses, worked out from the
//! measured rows only (plus the goals and explanations committed in
//! `explain.rs`, which are labelled as such where they are shown).

use crate::explain::{Explanation, BEST};
use crate::metric::Metric;

use super::{mega, ratio, CaseReport, EPOLL_RAW, RINGLOOP, URING_RAW};

/// The computed facts of one case, one sentence each.
pub fn facts(case: &CaseReport, explanation: Option<&Explanation>) -> Vec<String> {
    let mut out = Vec::new();
    match (case.verdict(), case.median_of(RINGLOOP)) {
        (Some((peer, r)), Some(own)) => {
            let best = case.median_of(peer).unwrap_or(f64::NAN);
            let (word, rate) = (if r >= 1.0 { "ahead of" } else { "behind" }, case.rate());
            out.push(format!(
                "ringloop is {word} the best other peer, {peer}: **{}** ({} vs {} {rate}).",
                ratio(r),
                mega(own),
                mega(best)
            ));
        }
        (None, Some(_)) => out.push("No other runtime has a result: no ratio.".into()),
        (_, None) => out.push("ringloop has no result in this case: no ratio.".into()),
    }
    if let Some(s) = case.verdict().and_then(|(peer, _)| paired(case, peer)) {
        out.push(s);
    }
    if let Some((peer, r)) = case.ceiling_verdict() {
        out.push(format!(
            "Against the ceiling, {peer} (no runtime): **{}**.",
            ratio(r)
        ));
    }
    if let Some(r) = case.models_ratio() {
        let rate = case.rate();
        let meaning = if rate.contains("per syscall") {
            format!(
                " the {rate}: how many fewer syscalls completions need than readiness, before \
                 any runtime adds its own"
            )
        } else {
            ". That is what completions gain over readiness on this machine before any runtime \
             adds its own costs"
                .to_string()
        };
        out.push(format!(
            "The two models with no runtime at all, {URING_RAW} over {EPOLL_RAW}: **{}**{meaning}.",
            ratio(r)
        ));
    }
    for m in case.metrics().into_iter().filter(|m| m.ranked()) {
        if let Some((peer, best, r)) = case.metric_verdict(m) {
            let own = case.row(RINGLOOP).and_then(|row| row.metric(m));
            let own = own.map_or("-".into(), |s| m.format(s.median));
            out.push(format!(
                "{}: ringloop {own}, best other peer {peer} {}: **{}** (lower is better; above \
                 1.00x ringloop is better).",
                m.heading(),
                m.format(best),
                ratio(r)
            ));
        }
    }
    if let Some(s) = client_bound(case) {
        out.push(s);
    }
    if let Some(s) = client_bound_cpu(case) {
        out.push(s);
    }
    for m in [
        Metric::CpuPerOp,
        Metric::UserCpuPerOp,
        Metric::CpuPerMiB,
        Metric::SyscallsPerOp,
    ] {
        if let Some(s) = compare_metric(case, m) {
            out.push(s);
        }
    }
    if let Some(e) = explanation {
        for g in e.goals.iter().filter(|g| g.case == case.case) {
            // The peer the goal is judged against, and ringloop's ratio to it.
            let (judged, got) = if g.peer == BEST {
                case.verdict()
                    .map_or((None, None), |(p, r)| (Some(p), Some(r)))
            } else {
                (Some(g.peer), case.ratio(g.peer))
            };
            let peer = match (g.peer == BEST, judged) {
                (true, Some(p)) => format!("the best other peer ({p})"),
                (true, None) => "the best other peer".to_string(),
                (false, _) => g.peer.to_string(),
            };
            let mut outcome = match got {
                Some(r) if r >= g.at_least => format!("met ({})", ratio(r)),
                Some(r) => format!("**missed** ({})", ratio(r)),
                None => "not measured in this run".into(),
            };
            if let Some(p) = judged.and_then(|p| case.paired(p)) {
                let verdict = if p.ratios.median >= g.at_least {
                    "at or above"
                } else {
                    "below"
                };
                outcome += &format!(
                    "; paired by round, the median ratio is {}, {verdict} the goal",
                    ratio(p.ratios.median)
                );
            }
            out.push(format!(
                "Goal ({}): ringloop at least {} {peer}: {outcome}.",
                g.source,
                ratio(g.at_least)
            ));
        }
    }
    out
}

/// ringloop over `peer` round by round, where there are enough rounds.
fn paired(case: &CaseReport, peer: &str) -> Option<String> {
    let p = case.paired(peer)?;
    let rounds = p.ratios.runs;
    Some(format!(
        "Paired by round (each round runs the peers back to back), ringloop / {peer}: median \
         **{}**, min–max {}–{}; ringloop ahead in {} of {rounds} rounds.",
        ratio(p.ratios.median),
        ratio(p.ratios.min),
        ratio(p.ratios.max),
        p.ahead
    ))
}

/// Which rows were client-bound, ringloop's first.
fn client_bound(case: &CaseReport) -> Option<String> {
    let rows: Vec<String> = case
        .rows
        .iter()
        .filter_map(|r| Some(format!("{} {:.0}%", r.peer, r.client_bound()?)))
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(format!(
        "Client-bound (server core under 95% busy, so the load generator set the pace): {}.",
        rows.join(", ")
    ))
}

/// Where ringloop's row was client-bound, its throughput says little about
/// the server: its CPU per op beside the best other peer's says more.
fn client_bound_cpu(case: &CaseReport) -> Option<String> {
    let own = case.row(RINGLOOP)?;
    own.client_bound()?;
    let own = own.metric(Metric::CpuPerOp)?.median;
    let (peer, _) = case.best_other()?;
    let other = case.row(peer)?.metric(Metric::CpuPerOp)?.median;
    Some(format!(
        "ringloop was client-bound, so its CPU per op says more than its throughput: {} µs \
         against {peer}'s {} µs, **{}** (above 1.00x ringloop spends less).",
        Metric::CpuPerOp.format(own),
        Metric::CpuPerOp.format(other),
        ratio(other / own)
    ))
}

/// ringloop's median of `m` beside every other peer's that has one.
fn compare_metric(case: &CaseReport, m: Metric) -> Option<String> {
    let own = case.row(RINGLOOP)?.metric(m)?.median;
    let others: Vec<String> = case
        .rows
        .iter()
        .filter(|r| r.peer != RINGLOOP)
        .filter_map(|r| Some(format!("{} {}", r.peer, m.format(r.metric(m)?.median))))
        .collect();
    if others.is_empty() {
        return None;
    }
    Some(format!(
        "{}: ringloop {}; {}.",
        m.heading(),
        m.format(own),
        others.join(", ")
    ))
}

/// For a sweep: the cases where ringloop is behind and ahead of `peer`.
pub fn crossover(cases: &[&CaseReport], peer: &str) -> Option<String> {
    let (mut behind, mut ahead) = (Vec::new(), Vec::new());
    for c in cases {
        if let Some(r) = c.ratio(peer) {
            let item = format!("`{}` {}", c.case, ratio(r));
            if r < 1.0 {
                behind.push(item);
            } else {
                ahead.push(item);
            }
        }
    }
    if behind.is_empty() && ahead.is_empty() {
        return None;
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    Some(format!(
        "Against {peer}: ringloop behind in {}; at or ahead in {}.",
        list(&behind),
        list(&ahead)
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{case, row, summary};
    use super::*;
    use crate::explain;

    #[test]
    fn verdict_goal_and_client_bound() {
        let mut rows = vec![
            row("ringloop", 2e6),
            row("tokio-uring", 1e6),
            row("io-uring-raw", 4e6),
        ];
        rows[0].metrics = vec![(Metric::ServerBusy, summary(80.0))];
        let mut c = case(rows);
        c.scenario = "nop";
        c.case = "tasks64";
        let f = facts(&c, explain::of("nop"));
        let all = f.join("\n");
        assert!(
            all.contains("ahead of the best other peer, tokio-uring: **2.00x**"),
            "{all}"
        );
        assert!(
            all.contains("the ceiling, io-uring-raw (no runtime): **0.50x**"),
            "{all}"
        );
        assert!(
            all.contains("at least 0.50x io-uring-raw: met (0.50x)"),
            "{all}"
        );
        assert!(
            all.contains("Client-bound") && all.contains("ringloop 80%"),
            "{all}"
        );
    }

    #[test]
    fn a_client_bound_ringloop_is_also_compared_by_cpu_per_op() {
        // ringloop at `busy` % of its core, 0.4 µs per op; tokio 0.5 µs.
        let facts_at = |busy: f64| {
            let mut rows = vec![row("ringloop", 1.0), row("tokio", 1.0)];
            rows[0].metrics = vec![
                (Metric::ServerBusy, summary(busy)),
                (Metric::CpuPerOp, summary(0.4)),
            ];
            rows[1].metrics = vec![(Metric::CpuPerOp, summary(0.5))];
            facts(&case(rows), None).join("\n")
        };
        let all = facts_at(67.0);
        assert!(all.contains("against tokio's 0.500 µs, **1.25x**"), "{all}");
        let all = facts_at(99.0);
        assert!(!all.contains("CPU per op says more"), "{all}");
    }

    #[test]
    fn the_raw_loops_of_both_models_are_ceilings_compared_with_each_other() {
        let c = case(vec![
            row("ringloop", 1.0),
            row("tokio", 0.9),
            row("io-uring-raw", 1.2),
            row("epoll-raw", 1.1),
        ]);
        let all = facts(&c, None).join("\n");
        assert!(
            all.contains("ahead of the best other peer, tokio: **1.11x**"),
            "{all}"
        );
        assert!(
            all.contains("the ceiling, io-uring-raw (no runtime): **0.83x**"),
            "{all}"
        );
        assert!(
            all.contains("io-uring-raw over epoll-raw: **1.09x**"),
            "{all}"
        );
    }

    #[test]
    fn ratios_paired_by_round_are_shown_beside_the_ratio_of_medians() {
        // Medians: ringloop 1.0, tokio 1.05 (0.95x). Round by round the
        // ratios are 1.11, 1.05, 1.00, 1.25, 0.95: median 1.05x, ringloop
        // ahead in 3 of 5.
        let mut rows = vec![row("ringloop", 1.0), row("tokio", 1.05)];
        rows[0].runs = vec![1.0, 2.0, 1.0, 2.0, 1.0];
        rows[1].runs = vec![0.9, 1.9, 1.0, 1.6, 1.05];
        let c = case(rows);
        let p = c.paired("tokio").unwrap();
        assert_eq!((p.ratios.runs, p.ahead), (5, 3));
        let all = facts(&c, None).join("\n");
        assert!(all.contains("best other peer, tokio: **0.95x**"), "{all}");
        assert!(
            all.contains(
                "ringloop / tokio: median **1.05x**, min–max 0.95x–1.25x; \
                 ringloop ahead in 3 of 5 rounds."
            ),
            "{all}"
        );
    }

    #[test]
    fn a_goal_also_states_the_paired_median_and_too_few_rounds_give_none() {
        // nop/tasks64's goal: at least 0.50x io-uring-raw.
        let mut rows = vec![row("ringloop", 1.0), row("io-uring-raw", 2.5)];
        rows[0].runs = vec![1.0; 5];
        rows[1].runs = vec![2.5, 2.5, 1.8, 1.8, 1.8];
        let mut c = case(rows);
        c.scenario = "nop";
        c.case = "tasks64";
        let all = facts(&c, explain::of("nop")).join("\n");
        assert!(
            all.contains(
                "at least 0.50x io-uring-raw: **missed** (0.40x); paired by round, the \
                 median ratio is 0.56x, at or above the goal."
            ),
            "{all}"
        );
        c.rows[0].runs.pop();
        c.rows[1].runs.pop();
        assert_eq!(c.paired("io-uring-raw"), None);
        let all = facts(&c, explain::of("nop")).join("\n");
        assert!(all.contains("**missed** (0.40x)."), "{all}");
    }

    #[test]
    fn the_raw_loops_ratio_in_a_syscall_case_is_said_to_count_syscalls() {
        let mut c = case(vec![
            row("ringloop", 30.0),
            row("io-uring-raw", 37.0),
            row("epoll-raw", 0.5),
        ]);
        c.title = "syscalls: under strace; figure (M) = requests per syscall".into();
        let all = facts(&c, None).join("\n");
        assert!(
            all.contains(
                "io-uring-raw over epoll-raw: **74.00x** the requests per syscall: how many \
                 fewer syscalls completions need than readiness, before any runtime adds its own."
            ),
            "{all}"
        );
        assert!(!all.contains("what completions gain"), "{all}");
    }

    #[test]
    fn crossover_lists_both_sides() {
        let mut a = case(vec![row("ringloop", 1.0), row("p", 2.0)]);
        a.case = "qd1";
        let mut b = case(vec![row("ringloop", 3.0), row("p", 2.0)]);
        b.case = "qd4";
        let s = crossover(&[&a, &b], "p").unwrap();
        assert_eq!(
            s,
            "Against p: ringloop behind in `qd1` 0.50x; at or ahead in `qd4` 1.50x."
        );
    }
}
