//! Emptied field maps kept for reuse on this thread. An upstream response's fields are
//! read into one (`upstream::response_head::parse`), and it comes back here as soon as
//! the response head has been written for the client (`downstream::response_writer`):
//! a `HeaderMap` costs two allocations (its index and its entries), which a proxied
//! request would otherwise make and free every time.
//!
//! The maps stay with the thread that freed them: a proxy worker runs its connections
//! on one thread, so what one response gave back the next one on that worker takes.

use std::cell::RefCell;

use http::HeaderMap;

/// How many emptied maps a thread keeps: as many as responses it may have between their
/// heads being read and written at once, within reason; more are freed.
const KEPT_PER_THREAD: usize = 64;

thread_local! {
    static KEPT: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
}

/// An empty map with room for at least `fields` fields: one this thread kept, when it
/// has one.
pub fn take(fields: usize) -> HeaderMap {
    let kept = KEPT.try_with(|kept| kept.borrow_mut().pop()).ok().flatten();
    match kept {
        Some(mut map) => {
            map.reserve(fields);
            map
        }
        None => HeaderMap::with_capacity(fields),
    }
}

/// Empties `map` (its values, which may hold a read buffer, are dropped now) and keeps
/// it for [`take`] — unless it never allocated or the thread keeps enough already.
pub fn give_back(mut map: HeaderMap) {
    if map.capacity() == 0 {
        return;
    }
    map.clear();
    let _ = KEPT.try_with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.len() < KEPT_PER_THREAD {
            kept.push(map);
        }
    });
}

/// How many emptied maps this thread keeps (for tests).
#[cfg(test)]
fn kept_here() -> usize {
    KEPT.with(|kept| kept.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONTENT_TYPE, SERVER};
    use http::HeaderValue;

    #[test]
    fn a_map_given_back_comes_back_empty_with_its_room() {
        let mut map = take(4);
        map.insert(SERVER, HeaderValue::from_static("upstream"));
        map.append(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let room = map.capacity();
        let before = kept_here();
        give_back(map);
        assert_eq!(kept_here(), before + 1);
        let again = take(2);
        assert!(again.is_empty());
        assert_eq!(again.capacity(), room);
        assert_eq!(kept_here(), before);
    }

    #[test]
    fn a_kept_map_grows_to_the_room_asked_for() {
        give_back(HeaderMap::with_capacity(2));
        let map = take(100);
        assert!(map.capacity() >= 100);
    }

    #[test]
    fn maps_without_room_and_maps_beyond_the_limit_are_not_kept() {
        let before = kept_here();
        give_back(HeaderMap::new());
        assert_eq!(kept_here(), before);
        for _ in 0..KEPT_PER_THREAD + 5 {
            give_back(HeaderMap::with_capacity(1));
        }
        assert_eq!(kept_here(), KEPT_PER_THREAD);
    }
}
