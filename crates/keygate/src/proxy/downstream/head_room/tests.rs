//! Tests of a head's room: the first buffer, growth in steps, the budget shared by all
//! connections, and the buffer made small again.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;

use super::{HeadRoom, NoRoom, FIRST_BUFFER, GROWTH_STEP};

const MAX_HEAD: usize = 48 * 1024;

/// A budget pool of its own, so that tests running at once do not share one.
fn pool() -> &'static AtomicUsize {
    Box::leak(Box::new(AtomicUsize::new(0)))
}

/// A connection's buffer holding `length` bytes of an unfinished head.
fn partial_head(buffer: &mut BytesMut, length: usize) {
    buffer.resize(length, b'x');
}

#[test]
fn a_head_that_fits_the_first_buffer_takes_nothing_from_the_budget() {
    let taken = pool();
    let mut room = HeadRoom::new(taken);
    let mut buffer = BytesMut::with_capacity(FIRST_BUFFER);
    assert_eq!(room.make_room(&mut buffer, MAX_HEAD, 0), Ok(FIRST_BUFFER));
    partial_head(&mut buffer, 1000);
    assert_eq!(
        room.make_room(&mut buffer, MAX_HEAD, 0),
        Ok(FIRST_BUFFER - 1000)
    );
    assert_eq!(buffer.capacity(), FIRST_BUFFER);
    assert_eq!(taken.load(Ordering::Relaxed), 0);
}

#[test]
fn the_room_grows_a_step_at_a_time_as_the_head_fills_it() {
    const KIB: usize = 1024;
    let taken = pool();
    let mut room = HeadRoom::new(taken);
    let mut buffer = BytesMut::with_capacity(FIRST_BUFFER);
    partial_head(&mut buffer, FIRST_BUFFER);
    assert_eq!(
        room.make_room(&mut buffer, MAX_HEAD, usize::MAX),
        Ok(GROWTH_STEP)
    );
    // Exactly one step larger, 12 KiB: `reserve` would have doubled it.
    assert_eq!(buffer.capacity(), 12 * KIB);
    assert_eq!(taken.load(Ordering::Relaxed), 8 * KIB);
    partial_head(&mut buffer, 12 * KIB - 100);
    assert_eq!(room.make_room(&mut buffer, MAX_HEAD, usize::MAX), Ok(100));
    assert_eq!(
        buffer.capacity(),
        12 * KIB,
        "no step before the room is full"
    );
    partial_head(&mut buffer, 12 * KIB);
    assert_eq!(
        room.make_room(&mut buffer, MAX_HEAD, usize::MAX),
        Ok(12 * KIB)
    );
    assert_eq!(buffer.capacity(), 24 * KIB);
    assert_eq!(taken.load(Ordering::Relaxed), 20 * KIB);
    partial_head(&mut buffer, 24 * KIB);
    assert_eq!(
        room.make_room(&mut buffer, MAX_HEAD, usize::MAX),
        Ok(24 * KIB)
    );
    assert_eq!(buffer.capacity(), 48 * KIB);
    assert_eq!(taken.load(Ordering::Relaxed), 44 * KIB);
    assert!(
        buffer.iter().all(|byte| *byte == b'x'),
        "the head's bytes are kept"
    );
    room.release();
    assert_eq!(taken.load(Ordering::Relaxed), 0);
}

#[test]
fn the_room_stops_at_the_head_limit() {
    let mut room = HeadRoom::new(pool());
    let mut buffer = BytesMut::with_capacity(FIRST_BUFFER);
    partial_head(&mut buffer, FIRST_BUFFER);
    assert_eq!(
        room.make_room(&mut buffer, 10_000, usize::MAX),
        Ok(10_000 - FIRST_BUFFER)
    );
    partial_head(&mut buffer, 10_000);
    assert_eq!(
        room.make_room(&mut buffer, 10_000, usize::MAX),
        Err(NoRoom::TooLarge)
    );
}

#[test]
fn a_step_past_the_budget_is_refused_until_room_is_given_back() {
    let taken = pool();
    let budget = GROWTH_STEP;
    let (mut first, mut second) = (HeadRoom::new(taken), HeadRoom::new(taken));
    let mut first_buffer = BytesMut::with_capacity(FIRST_BUFFER);
    let mut second_buffer = BytesMut::with_capacity(FIRST_BUFFER);
    partial_head(&mut first_buffer, FIRST_BUFFER);
    partial_head(&mut second_buffer, FIRST_BUFFER);
    assert_eq!(
        first.make_room(&mut first_buffer, MAX_HEAD, budget),
        Ok(GROWTH_STEP)
    );
    assert_eq!(
        second.make_room(&mut second_buffer, MAX_HEAD, budget),
        Err(NoRoom::OverBudget)
    );
    assert_eq!(
        second_buffer.capacity(),
        FIRST_BUFFER,
        "not grown when refused"
    );
    // A head within its first buffer is still served.
    let mut third = HeadRoom::new(taken);
    let mut third_buffer = BytesMut::with_capacity(FIRST_BUFFER);
    partial_head(&mut third_buffer, 200);
    assert!(third.make_room(&mut third_buffer, MAX_HEAD, budget).is_ok());
    drop(first);
    assert_eq!(taken.load(Ordering::Relaxed), 0);
    assert_eq!(
        second.make_room(&mut second_buffer, MAX_HEAD, budget),
        Ok(GROWTH_STEP)
    );
}

#[test]
fn bytes_read_past_the_room_are_paid_for_in_whole_steps() {
    // A body's reads can leave more of the next head in the buffer than its first room.
    let taken = pool();
    let mut room = HeadRoom::new(taken);
    let mut buffer = BytesMut::with_capacity(32 * 1024);
    partial_head(&mut buffer, 20_000);
    assert_eq!(
        room.make_room(&mut buffer, MAX_HEAD, usize::MAX),
        Ok(24 * 1024 - 20_000)
    );
    assert_eq!(taken.load(Ordering::Relaxed), 20 * 1024);
    assert_eq!(
        HeadRoom::new(taken).make_room(&mut buffer, MAX_HEAD, GROWTH_STEP),
        Err(NoRoom::OverBudget)
    );
}

#[test]
fn a_buffer_grown_for_a_head_is_made_small_when_the_head_is_done() {
    let taken = pool();
    let mut room = HeadRoom::new(taken);
    let mut buffer = BytesMut::with_capacity(FIRST_BUFFER);
    partial_head(&mut buffer, FIRST_BUFFER);
    assert_eq!(
        room.make_room(&mut buffer, MAX_HEAD, usize::MAX),
        Ok(GROWTH_STEP)
    );
    partial_head(&mut buffer, FIRST_BUFFER + 300);
    // The head is complete, taken out, and followed by the start of the next one.
    drop(buffer.split_to(FIRST_BUFFER + 250));
    room.release();
    assert_eq!(
        room.make_room(&mut buffer, MAX_HEAD, 0),
        Ok(FIRST_BUFFER - 50)
    );
    assert_eq!(buffer.capacity(), FIRST_BUFFER);
    assert_eq!(&buffer[..], &[b'x'; 50][..]);
}

#[test]
fn between_heads_the_buffer_is_reused_from_its_start_without_allocating() {
    let mut room = HeadRoom::new(pool());
    let mut buffer = BytesMut::with_capacity(FIRST_BUFFER);
    let start = buffer.as_ptr();
    for _ in 0..3 {
        assert_eq!(room.make_room(&mut buffer, MAX_HEAD, 0), Ok(FIRST_BUFFER));
        assert_eq!(buffer.as_ptr(), start);
        partial_head(&mut buffer, 300);
        let head = buffer.split_to(300).freeze();
        drop(head);
    }
}
