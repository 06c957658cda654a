//! The rate-limit table's tests: exact counts, give-back, the sweep, racing threads,
//! the sync task's debts and merges, and leaving exact mode.

use super::*;

const SECOND: u64 = 1_000_000_000;

#[test]
fn subjects_are_counted_apart_and_exactly() {
    let limiter = Limiter::default();
    let rate = Rate::new(3, SECOND);
    let a = limiter.subject(1, SubjectKind::Key, b"k1");
    let b = limiter.subject(1, SubjectKind::Key, b"k2");
    assert_ne!(a, limiter.subject(1, SubjectKind::Consumer, b"k1"));
    assert_ne!(a, limiter.subject(2, SubjectKind::Key, b"k1"));
    let now = 10;
    let admitted = (0..10)
        .filter(|_| limiter.take(a, rate, 1, now).admitted)
        .count();
    assert_eq!(admitted, 3);
    assert!(limiter.take(b, rate, 1, now).admitted);
    assert_eq!(limiter.peek(b, rate, now).remaining, 2);
    let admitted = (0..10)
        .filter(|_| limiter.take(a, rate, 1, now + SECOND).admitted)
        .count();
    assert_eq!(admitted, 3);
}

#[test]
fn a_refused_request_changes_nothing_and_a_give_back_restores() {
    let limiter = Limiter::default();
    let rate = Rate::new(1, SECOND);
    let a = limiter.subject(1, SubjectKind::ClientAddress, &[127, 0, 0, 1]);
    assert!(limiter.take(a, rate, 1, 5).admitted);
    assert!(!limiter.take(a, rate, 1, 5).admitted);
    limiter.give_back(a, rate, 1);
    assert!(limiter.take(a, rate, 1, 5).admitted);
}

#[test]
fn idle_subjects_are_swept_and_come_back_whole() {
    let limiter = Limiter::default();
    let rate = Rate::new(2, SECOND);
    for i in 0..1000u32 {
        let subject = limiter.subject(7, SubjectKind::Header, &i.to_be_bytes());
        assert!(limiter.take(subject, rate, 1, 1).admitted);
    }
    assert_eq!(limiter.len(), 1000);
    limiter.sweep(SECOND / 2);
    assert_eq!(limiter.len(), 1000, "each still owes half a second");
    limiter.sweep(SECOND / 2 + 1);
    assert!(limiter.is_empty());
    let subject = limiter.subject(7, SubjectKind::Header, &0u32.to_be_bytes());
    assert_eq!(limiter.peek(subject, rate, SECOND).remaining, 2);
}

#[test]
fn threads_racing_on_one_subject_get_exactly_the_count() {
    let limiter = std::sync::Arc::new(Limiter::default());
    let rate = Rate::new(1000, SECOND);
    let subject = limiter.subject(3, SubjectKind::Key, b"shared");
    let admitted: usize = (0..8)
        .map(|_| {
            let limiter = limiter.clone();
            std::thread::spawn(move || {
                (0..500)
                    .filter(|_| limiter.take(subject, rate, 1, 1).admitted)
                    .count()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|thread| thread.join().unwrap_or(0))
        .sum();
    assert_eq!(admitted, 1000);
}

#[test]
fn takes_are_noted_as_debts_and_merged_with_the_cluster() {
    let limiter = Limiter::default();
    let rate = Rate::new(10, SECOND);
    let a = limiter.subject(1, SubjectKind::Key, b"a");
    assert!(limiter.take(a, rate, 1, 5).admitted);
    let mut debts = Vec::new();
    limiter.drain_pending(10, &mut debts);
    assert!(debts.is_empty(), "nothing is noted until asked");

    limiter.note_takes();
    assert!(limiter.take(a, rate, 2, 5).admitted);
    assert!(limiter.take(a, rate, 1, 5).admitted);
    limiter.give_back(a, rate, 1);
    limiter.drain_pending(10, &mut debts);
    assert_eq!(debts, vec![(a, 2 * SECOND / 10)]);
    debts.clear();
    limiter.drain_pending(10, &mut debts);
    assert!(debts.is_empty(), "drained once");

    // Other nodes took 6 more: the cluster's TAT is 9 calls ahead; one call taken
    // meanwhile here is added on top.
    assert!(limiter.take(a, rate, 1, 5).admitted);
    limiter.merge(a, 9 * SECOND / 10, 5);
    assert_eq!(limiter.peek(a, rate, 5).remaining, 0);
    assert!(!limiter.take(a, rate, 1, 5).admitted);
    // A subject the cluster has nothing for, and nothing taken meanwhile, is dropped.
    limiter.forget_pending();
    limiter.merge(a, 0, 5);
    assert!(limiter.is_empty());
}

#[test]
fn pending_debts_come_in_batches() {
    let limiter = Limiter::default();
    limiter.note_takes();
    let rate = Rate::new(5, SECOND);
    for i in 0..100u32 {
        let subject = limiter.subject(2, SubjectKind::Header, &i.to_be_bytes());
        assert!(limiter.take(subject, rate, 1, 1).admitted);
    }
    let mut debts = Vec::new();
    let mut batches = 0;
    loop {
        debts.clear();
        limiter.drain_pending(30, &mut debts);
        if debts.is_empty() {
            break;
        }
        assert!(debts.len() <= 30);
        batches += debts.len();
    }
    assert_eq!(batches, 100);
}

#[test]
fn with_redis_down_a_node_counts_its_share_or_refuses() {
    let limiter = Limiter::default();
    let rate = Rate::new(9, SECOND);
    let a = limiter.subject(1, SubjectKind::Key, b"a");
    limiter.set_mode(SyncMode::Share, 3);
    let admitted = (0..20)
        .filter(|_| limiter.take(a, rate, 1, 1).admitted)
        .count();
    assert_eq!(admitted, 3);
    limiter.set_mode(SyncMode::Refuse, 3);
    let b = limiter.subject(1, SubjectKind::Key, b"b");
    let refused = limiter.take(b, rate, 1, 1);
    assert!(!refused.admitted);
    assert_eq!(refused.retry_after_ns, SECOND);
    limiter.set_mode(SyncMode::Whole, 3);
    let admitted = (0..20)
        .filter(|_| limiter.take(b, rate, 1, 1).admitted)
        .count();
    assert_eq!(admitted, 9);
    limiter.clear();
    assert!(limiter.is_empty());
    assert_eq!(limiter.peek(b, rate, 1).remaining, 9);
}

#[test]
fn a_shared_seed_names_subjects_alike_on_every_node() {
    let (one, two) = (Limiter::default(), Limiter::default());
    assert_ne!(
        one.subject(1, SubjectKind::Key, b"k"),
        two.subject(1, SubjectKind::Key, b"k")
    );
    one.share_seed(42);
    two.share_seed(42);
    assert_eq!(
        one.subject(1, SubjectKind::Key, b"k"),
        two.subject(1, SubjectKind::Key, b"k")
    );
}

#[test]
fn the_clock_never_reads_zero() {
    assert!(Limiter::default().now() >= 1);
}

#[test]
fn only_the_first_to_leave_exact_mode_starts_the_counts_afresh() {
    let limiter = Limiter::default();
    let rate = Rate::new(2, SECOND);
    let a = limiter.subject(1, SubjectKind::Key, b"a");
    limiter.set_mode(SyncMode::Exact, 2);
    assert!(limiter.fall_back(SyncMode::Share));
    assert_eq!(limiter.mode(), SyncMode::Share);
    // Counting the share (2 ÷ 2 nodes = 1) from now on…
    assert!(limiter.take(a, rate, 1, 1).admitted);
    assert!(!limiter.take(a, rate, 1, 1).admitted);
    // … which a second caller leaving exact mode does not reset.
    assert!(!limiter.fall_back(SyncMode::Share));
    assert!(!limiter.take(a, rate, 1, 1).admitted);
}
