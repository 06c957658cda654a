//! Emptied field maps kept for reuse on this thread. A request head's fields are read
//! into one (`downstream::request_head::parse`), which comes back here as the request
//! ends (`downstream::connection`); an upstream response's fields are read into another
//! (`upstream::response_head::parse`), which comes back as soon as the response head has
//! been written for the client (`downstream::response_writer`). A `HeaderMap` costs two
//! allocations (its index and its entries), which every request would otherwise make and
//! free; and an idle connection holds none.
//!
//! The maps stay with the thread that freed them: a proxy worker runs its connections
//! on one thread, so what one request gave back the next one on that worker takes.

use std::cell::RefCell;

use http::HeaderMap;

/// How many emptied maps a thread keeps: one for each request it may be forwarding at
/// once (a request's map is in use until its response has been written), within reason;
/// more are freed. About 1.5 KB each for a request of ten fields.
const KEPT_PER_THREAD: usize = 1024;

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
