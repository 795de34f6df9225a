//! What the report says about each scenario besides its measurements:
//! the mechanism behind the results (committed text, shown as an
//! explanation, never as a figure), the goals the issues set, and the peers
//! whose crossover with ringloop is listed case by case.
//!
//! The texts hold no measured figure: every number in the report comes
//! from the run that wrote it. What they may name are the scenario's own
//! settings (64 tasks, queue depth 32) and the goals, labelled as goals.

/// The committed part of one scenario's report.
pub struct Explanation {
    pub scenario: &'static str,
    /// Why ringloop wins or loses here: the mechanism.
    pub text: &'static str,
    pub goals: &'static [Goal],
    /// For a sweep: peers against which the cases where ringloop is ahead
    /// and behind are listed.
    pub crossover: &'static [&'static str],
}

/// "ringloop at least `at_least` times `peer`'s figure in `case`".
pub struct Goal {
    pub case: &'static str,
    /// A peer name, or [`BEST`]: the best other peer.
    pub peer: &'static str,
    pub at_least: f64,
    /// Where the goal was set, e.g. "issue 2".
    pub source: &'static str,
}

/// [`Goal::peer`] for "the best other peer".
pub const BEST: &str = "*";

pub fn of(scenario: &str) -> Option<&'static Explanation> {
    ALL.iter().find(|e| e.scenario == scenario)
}

const fn goal(case: &'static str, peer: &'static str, at_least: f64, source: &'static str) -> Goal {
    Goal {
        case,
        peer,
        at_least,
        source,
    }
}

/// The network scenarios share their mechanism.
const NET: &str = "Most of a request's server CPU is kernel work that every runtime pays \
    alike: the loopback TCP send and receive and waking the client. What a runtime changes is \
    how many syscalls and sleeps a request costs: on io_uring one `io_uring_enter` submits the \
    replies and reaps the next requests of many connections at once, while a readiness runtime \
    makes a `recv` and a `send` per request plus its share of `epoll_wait`. When the server core \
    was under 95% busy the load generator (one core) set the pace, the throughput cannot tell \
    the servers apart and the CPU per request is the figure to compare. The open-loop cases \
    send at a fixed rate below saturation, so their figure, requests per second of server CPU, \
    is that CPU per request turned round, beside the latency at that rate. The syscalls case \
    counts every syscall of the server under strace in a separate, untimed pass. \
    `io-uring-raw` and `epoll-raw` are one hand-written event loop each, with no tasks, wakers \
    or futures: their ratio is what the completion model itself gains over readiness on this \
    machine, and a runtime's distance from its own model's raw loop is what the runtime costs.";

/// Issue 3's open-loop goal: at least 10% less server CPU per request than
/// tokio at half its peak rate. The open-loop figure is requests per
/// server CPU-second, so 10% less CPU is 1/0.9 times the figure.
const OPEN_LOOP_GOAL: Goal = goal(
    "open50",
    "tokio",
    1.0 / 0.9,
    "issue 3: at least 10% less server CPU per request than tokio, open loop at 50% of its peak",
);

pub const ALL: &[Explanation] = &[
    Explanation {
        scenario: "spawn",
        text: "No I/O: the cost is allocating a task, scheduling it, waking the joiner and \
            freeing the task, and most of it is the allocator's (malloc and free of one small \
            cell per task, the same for ringloop and monoio). Beyond that ringloop links every \
            live task into an intrusive list so that dropping the runtime drops every future, \
            counts references atomically because its wakers are `Send + Sync` (a task can be \
            woken from any thread), and catches a panic at each poll so that one task cannot \
            take the loop down. It keeps a trivial task's cell in one small allocation and the \
            join path free of virtual calls, so that its work per task is close to monoio's; \
            with the two that close, their order can change from round to round on a shared \
            machine. tokio's current-thread scheduler does the same \
            kinds of bookkeeping behind its own handles.",
        goals: &[goal("spawn", BEST, 1.0, "issue 2")],
        crossover: &[],
    },
    Explanation {
        scenario: "nop",
        text: "Every peer pays the same kernel work per NOP; the difference is the runtime's \
            share: building the SQE, the op table, the wake and the poll of the task. With 64 \
            tasks ringloop submits the NOPs of all its woken tasks in one `io_uring_enter` per \
            park, as the raw loop submits 64 per `submit_and_wait` (see syscalls/op). \
            Sequentially every NOP is its own enter for both; ringloop registers its ring fd \
            (`IORING_REGISTER_RING_FDS`), which the raw loop on the plain io-uring API does not. \
            tokio-uring drives its ring from tokio's scheduler, with tokio's task and waker \
            machinery around each op. monoio and compio have no public NOP op.",
        goals: &[
            goal("tasks64", "io-uring-raw", 0.5, "issue 2"),
            goal("seq", "io-uring-raw", 0.9, "issue 2"),
        ],
        crossover: &[],
    },
    Explanation {
        scenario: "timers",
        text: "ringloop keeps timers in user space, in a binary heap, and sleeps in the kernel \
            once per park with the next deadline as the wait's timeout, so a sleep costs no SQE \
            (its note counts the SQEs) and wakes at the first park after its deadline. tokio \
            (and tokio-uring, which runs on tokio's timers) and monoio keep a hierarchical \
            timing wheel with millisecond resolution: a sleep fires at the first millisecond \
            tick at or after its deadline, which bounds their lateness from below. compio keeps \
            its timers in an ordered map in user space. Memory per task is the task, its \
            sleep, its join handle and the runtime's timer entry.",
        goals: &[],
        crossover: &[],
    },
    Explanation {
        scenario: "fileread",
        text: "`O_DIRECT`: the disk sets the pace and every peer waits on the same device; \
            what differs is how reads reach it. fio's io_uring engine submits each read with \
            its own `io_uring_enter`; ringloop submits `O_DIRECT` ops at once too, and its \
            `each-op` variant enters once per op in every case. Page cache: a read is a copy \
            that completes inside `io_uring_enter`; ringloop submits the reads its tasks \
            resubmitted in one enter per park (see syscalls/op), fio's psync engine makes one \
            `pread` per read, and tokio-fs pays a round trip to tokio's blocking pool per read. \
            The kernel's work (the copy out of the page cache, the file lookup, the atime \
            check) is the same for every peer; the user-space column is what each runtime \
            adds to it, and so bounds how far apart the runtimes can be. Every peer reads \
            into page-aligned memory: on some CPUs the copy is much slower into a buffer that \
            starts elsewhere (`cargo bench --bench read_alignment`). The registered-file and \
            registered-buffer variants take the file lookup, and the user-memory checks of the \
            copy, out of the kernel's share.",
        goals: &[
            goal("direct", "fio-io_uring", 0.95, "issue 4"),
            goal("buffered", "tokio-uring", 1.1, "issue 4"),
            goal("buffered", "fio-psync", 1.0, "issue 4"),
        ],
        crossover: &[],
    },
    Explanation {
        scenario: "fileread-sweep",
        text: "At queue depth 1 every read of a completion runtime costs an `io_uring_enter` \
            plus a task wake, against one `pread` for the blocking loop; deeper queues share \
            an enter among the reads in flight, and larger blocks make the copy, which costs \
            both alike, the larger part of a read. Every peer reads into page-aligned memory \
            (see fileread).",
        goals: &[],
        crossover: &["fio-psync", "tokio-uring"],
    },
    Explanation {
        scenario: "cp",
        text: "The example keeps 32 reads and writes of 128 KiB in flight through user-space \
            buffers and ends with an fsync; coreutils `cp` copies with `copy_file_range` where \
            the file system allows (an in-kernel copy) or a read/write loop, followed here by \
            `sync FILE`. With `--direct` the example bypasses the page cache and the disk sets \
            the pace.",
        goals: &[],
        crossover: &[],
    },
    Explanation {
        scenario: "http",
        text: NET,
        goals: &[
            goal("p1", "tokio", 1.0, "issue 3"),
            goal("p16", "tokio", 1.1, "issue 3"),
            OPEN_LOOP_GOAL,
        ],
        crossover: &[],
    },
    Explanation {
        scenario: "echo",
        text: NET,
        goals: &[OPEN_LOOP_GOAL],
        crossover: &[],
    },
    Explanation {
        scenario: "hyper",
        text: "hyper runs on ringloop through `ringloop::io::Compat`, which copies between \
            hyper's buffers and the owned buffers the ring needs; on tokio it reads and writes \
            the socket directly. The rest of each request is hyper's own work and the kernel's \
            loopback TCP, the same on both.",
        goals: &[],
        crossover: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts state mechanisms, not figures: no digits but the
    /// scenario settings they name.
    #[test]
    fn texts_hold_no_figures() {
        const SETTINGS: &[&str] = &["64", "32", "128", "95", "1"];
        for e in ALL {
            let mut rest = e.text.to_string();
            for s in SETTINGS {
                rest = rest.replace(s, "");
            }
            assert!(
                !rest.chars().any(|c| c.is_ascii_digit()),
                "{}: a figure in the explanation: {rest}",
                e.scenario
            );
        }
    }

    #[test]
    fn goals_name_existing_cases() {
        for e in ALL {
            let s = crate::scenarios::find(e.scenario).expect("a scenario");
            for g in e.goals {
                assert!(
                    s.cases.iter().any(|c| c.id == g.case),
                    "{}: a goal for a case it does not have: {}",
                    e.scenario,
                    g.case
                );
            }
        }
    }

    #[test]
    fn every_scenario_has_one() {
        for s in crate::scenarios::ALL {
            assert!(of(s.name).is_some(), "no explanation for {}", s.name);
        }
    }
}
