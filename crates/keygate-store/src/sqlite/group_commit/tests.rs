//! One batch of several writes, made deterministic by holding the connection: each write
//! keeps its own outcome — success, error or panic — and only the successes are stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// An in-memory connection with a table of integers.
fn connection() -> Arc<Mutex<Connection>> {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")
        .unwrap();
    Arc::new(Mutex::new(conn))
}

/// Waits, at most 10 s, until `done` holds.
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Inserts `v`, then ends as `then` says.
fn insert(v: i64, then: &'static str) -> impl FnOnce(&Transaction<'_>) -> Result<i64> + Send {
    move |tx| {
        tx.execute("INSERT INTO t (v) VALUES (?1)", [v])
            .or_store()?;
        match then {
            "fail" => Err(StoreError::Conflict(format!("{v} refused"))),
            "panic" => panic!("write {v} panicked"),
            _ => Ok(v),
        }
    }
}

#[test]
fn each_write_of_a_batch_keeps_its_own_outcome() {
    let group = Arc::new(GroupCommit::default());
    let conn = connection();
    let held = conn.lock().unwrap();

    // The first writer leads a batch of one and waits for the connection.
    let spawn = |v: i64, then: &'static str| {
        let (group, conn) = (group.clone(), conn.clone());
        thread::spawn(move || group.write(&conn, insert(v, then)))
    };
    let first = spawn(1, "succeed");
    until("the first writer leads", || {
        let queue = group.queue();
        queue.leading && queue.jobs.is_empty()
    });
    // The next ones queue, in this order, for the second batch.
    let mut writers = Vec::new();
    for (n, (v, then)) in [
        (2, "succeed"),
        (3, "fail"),
        (4, "panic"),
        (1, "succeed"),
        (5, "succeed"),
    ]
    .into_iter()
    .enumerate()
    {
        writers.push(spawn(v, then));
        until("the writer queues", || group.queue().jobs.len() == n + 1);
    }
    drop(held);

    assert_eq!(first.join().unwrap().unwrap(), 1);
    let mut outcomes = writers.into_iter().map(|w| w.join());
    assert_eq!(outcomes.next().unwrap().unwrap().unwrap(), 2);
    match outcomes.next().unwrap().unwrap() {
        Err(StoreError::Conflict(message)) => assert_eq!(message, "3 refused"),
        other => panic!("{other:?}"),
    }
    assert!(
        outcomes.next().unwrap().is_err(),
        "the panic reaches its writer"
    );
    match outcomes.next().unwrap().unwrap() {
        Err(StoreError::Conflict(message)) => assert!(message.contains("UNIQUE"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(outcomes.next().unwrap().unwrap().unwrap(), 5);

    let conn = conn.lock().unwrap();
    let mut statement = conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
    let stored: Vec<i64> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(stored, [1, 2, 5]);
    assert!(
        !group.queue().leading,
        "no one leads once the queue is empty"
    );
}
