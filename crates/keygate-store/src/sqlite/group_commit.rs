//! Group commit: concurrent writes share one transaction and one fsync.
//!
//! A writer queues its operation. When no writer is leading, it leads: it takes every
//! queued operation, opens one transaction, runs each operation inside its own savepoint
//! (so one that fails rolls back only itself and gets its own error), commits once and
//! hands every writer its own result. Writers that queue while a batch is being
//! committed wait; when the batch is done, the leader promotes the first of them, which
//! leads the next batch with everything queued by then. Under load each fsync thus
//! serves every writer that arrived during the previous one.
//!
//! A lone writer leads a batch of one, run as a plain transaction without a savepoint:
//! it costs what a write cost before, plus a queue lock and two small allocations.
//!
//! Every operation bumps the revision and appends its change-log rows itself, so the
//! operations of a batch get consecutive revisions, in queue order, one per effective
//! write; a failed operation's savepoint rollback takes its revision back. The
//! connection stays locked from the batch's `BEGIN` to its `COMMIT`, so no reader sees
//! a write before it is durable.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::errors::OrStore;
use crate::{Result, StoreError};

/// What a panicking operation left behind; resumed in the thread of its writer.
type Panic = Box<dyn Any + Send>;

/// How an operation ended: its result, or its panic.
type Outcome<T> = std::result::Result<Result<T>, Panic>;

/// The queue of writes waiting for a transaction. One per store.
#[derive(Default)]
pub(super) struct GroupCommit {
    /// Queued operations and whether a writer is leading.
    queue: Mutex<Queue>,
}

/// The operations waiting for the next batch.
#[derive(Default)]
struct Queue {
    /// Queued, not yet taken by a leader.
    jobs: Vec<Box<dyn Job>>,
    /// Whether a writer is leading (or has been promoted to lead): it, and no one else,
    /// will take the queued operations.
    leading: bool,
}

impl GroupCommit {
    /// Runs `op` in a write transaction shared with the writes queued meanwhile, and
    /// returns its result once the transaction is committed. `op` runs on whichever
    /// thread leads the batch, hence `Send + 'static`. Its error, or its panic, reaches
    /// this caller only; when the batch fails to commit, this caller gets that error.
    pub(super) fn write<T, F>(&self, conn: &Mutex<Connection>, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let slot = Arc::new(Slot::default());
        let job = Box::new(Pending {
            op: Some(op),
            outcome: None,
            slot: slot.clone(),
        });
        let lead = {
            let mut queue = self.queue();
            queue.jobs.push(job);
            !std::mem::replace(&mut queue.leading, true)
        };
        if lead {
            self.lead(conn);
        }
        loop {
            match slot.wait() {
                Woken::Done(Ok(result)) => return result,
                Woken::Done(Err(payload)) => panic::resume_unwind(payload),
                Woken::Lead => self.lead(conn),
            }
        }
    }

    /// The queue. A panic never leaves it half-changed, so a poisoned lock is usable.
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leads one batch: takes every queued operation, runs and commits them, hands
    /// leadership on, then hands each writer its result.
    fn lead(&self, conn: &Mutex<Connection>) {
        let mut jobs = std::mem::take(&mut self.queue().jobs);
        let hand_off = HandOff(self);
        let committed = {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            run_batch(&mut conn, &mut jobs)
        };
        // The next batch can start while the results of this one are delivered.
        drop(hand_off);
        for job in jobs {
            job.finish(committed.as_ref().map(|_| ()));
        }
    }
}

/// Hands leadership on when dropped — after a batch, or when a leader panics — so that
/// queued writers never wait for a leader that will not come.
struct HandOff<'a>(&'a GroupCommit);

impl Drop for HandOff<'_> {
    fn drop(&mut self) {
        let mut queue = self.0.queue();
        match queue.jobs.first() {
            Some(next) => next.promote(),
            None => queue.leading = false,
        }
    }
}

/// Runs a batch in one transaction and commits it. A batch of one runs without a
/// savepoint: when it fails, the whole transaction is rolled back, as before. `Err`
/// when the batch as a whole failed (nothing of it was committed).
fn run_batch(conn: &mut Connection, jobs: &mut [Box<dyn Job>]) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .or_store()?;
    if let [job] = jobs {
        if job.run(&tx) {
            tx.commit().or_store()?;
        }
        return Ok(());
    }
    for job in jobs.iter_mut() {
        statement(&tx, "SAVEPOINT group_write")?;
        if job.run(&tx) {
            statement(&tx, "RELEASE group_write")?;
        } else {
            // Some failures (I/O, disk full) make SQLite roll the whole transaction back.
            if tx.is_autocommit() {
                return Err(StoreError::Unavailable(
                    "a write of the batch failed and SQLite rolled the batch back".to_owned(),
                ));
            }
            statement(&tx, "ROLLBACK TO group_write")?;
            statement(&tx, "RELEASE group_write")?;
        }
    }
    tx.commit().or_store()
}

/// Runs a savepoint statement, prepared once per connection.
fn statement(tx: &Transaction<'_>, sql: &str) -> Result<()> {
    tx.prepare_cached(sql).or_store()?.execute([]).or_store()?;
    Ok(())
}

/// A copy of a batch's error for each of its writers.
fn copy(error: &StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(message) => StoreError::Unavailable(message.clone()),
        StoreError::Corrupt(message) => StoreError::Corrupt(message.clone()),
        StoreError::Conflict(message) => StoreError::Conflict(message.clone()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// A queued operation, its result type hidden so that one batch holds any mix.
trait Job: Send {
    /// Runs the operation in the batch's transaction and keeps its outcome. Returns
    /// whether it succeeded, that is whether its changes are to be kept.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Hands the writer its outcome: its own when it failed or the batch committed,
    /// else the batch's error.
    fn finish(self: Box<Self>, batch: std::result::Result<(), &StoreError>);
    /// Wakes the writer to lead the next batch.
    fn promote(&self);
}

/// An operation of one writer, and where its outcome goes.
struct Pending<T, F> {
    /// The operation, until it runs.
    op: Option<F>,
    /// Its outcome, once it ran.
    outcome: Option<Outcome<T>>,
    /// Where its writer waits.
    slot: Arc<Slot<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
{
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        let Some(op) = self.op.take() else {
            return false;
        };
        // A panic stays with its own write: the batch goes on, the writer gets it back.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| op(tx)));
        let succeeded = matches!(outcome, Ok(Ok(_)));
        self.outcome = Some(outcome);
        succeeded
    }

    fn finish(mut self: Box<Self>, batch: std::result::Result<(), &StoreError>) {
        let outcome = match (self.outcome.take(), batch) {
            (Some(Ok(Ok(value))), Ok(())) => Ok(Ok(value)),
            (Some(Ok(Ok(_))) | None, Err(error)) => Ok(Err(copy(error))),
            (Some(failed), _) => failed,
            (None, Ok(())) => Ok(Err(abandoned())),
        };
        self.slot.set(State::Done(outcome));
    }

    fn promote(&self) {
        self.slot.set(State::Lead);
    }
}

impl<T, F> Drop for Pending<T, F> {
    /// A write dropped without an outcome (its leader panicked) fails instead of
    /// leaving its writer waiting.
    fn drop(&mut self) {
        self.slot.abandon();
    }
}

/// The error of a write whose batch was abandoned.
fn abandoned() -> StoreError {
    StoreError::Unavailable("the write was abandoned: its batch did not run".to_owned())
}

/// Where a writer waits: for its outcome, or for its turn to lead.
struct Slot<T> {
    /// What the writer is told.
    state: Mutex<State<T>>,
    /// Signalled when `state` changes.
    changed: Condvar,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            state: Mutex::new(State::Queued),
            changed: Condvar::new(),
        }
    }
}

/// A writer's state.
enum State<T> {
    /// Waiting in the queue.
    Queued,
    /// Promoted: it leads the next batch.
    Lead,
    /// Its batch is over.
    Done(Outcome<T>),
    /// Its outcome was taken.
    Taken,
}

/// Why a writer stopped waiting.
enum Woken<T> {
    /// Its batch is over.
    Done(Outcome<T>),
    /// It leads the next batch.
    Lead,
}

impl<T> Slot<T> {
    /// The state; it is only ever replaced whole, so a poisoned lock is usable.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the writer.
    fn set(&self, state: State<T>) {
        *self.lock() = state;
        self.changed.notify_one();
    }

    /// Fails a write that has no outcome yet.
    fn abandon(&self) {
        let mut state = self.lock();
        if matches!(*state, State::Queued | State::Lead) {
            *state = State::Done(Ok(Err(abandoned())));
            self.changed.notify_one();
        }
    }

    /// Waits until the writer's batch is over or it is promoted.
    fn wait(&self) -> Woken<T> {
        let mut state = self.lock();
        loop {
            match std::mem::replace(&mut *state, State::Queued) {
                State::Queued => {}
                State::Lead => return Woken::Lead,
                State::Done(outcome) => {
                    *state = State::Taken;
                    return Woken::Done(outcome);
                }
                State::Taken => {
                    *state = State::Taken;
                    return Woken::Done(Ok(Err(abandoned())));
                }
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

#[cfg(test)]
mod tests;
