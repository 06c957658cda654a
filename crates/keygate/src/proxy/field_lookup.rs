//! Reading a field out of a request's field map by comparing names while the map is
//! small, instead of hashing the name as `HeaderMap::get_all` does. `http` hashes a name
//! on every lookup, a byte at a time: for a name it has no constant of its own (`apikey`,
//! `x-original-method`, `x-forwarded-for`, …) that is 120 to 200 instructions, whether
//! the field is there or not. A request of a few fields (an authorization check from a
//! front proxy carries four or five) is searched faster by going through its fields,
//! most of which a name's length alone tells apart. Past [`SCANNED`] values the map is
//! asked as usual, so that a long head costs no more than before. `http`'s own names
//! (`Cookie`, `Host`) hash in a few instructions: look those up in the map.
//!
//! The answers are `HeaderMap::get_all`'s: a map yields each name's values together and
//! in the order they were added, so the values found are `get_all`'s, in its order.

use http::header::{self, ValueIter};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Maps of up to this many values are searched by comparing names. Comparing one name
/// with each of eight fields costs about what hashing it costs.
pub const SCANNED: usize = 8;

/// Every value of `name` in `headers`, in order: `headers.get_all(name)`.
pub fn all<'m, 'n>(headers: &'m HeaderMap, name: &'n HeaderName) -> All<'m, 'n> {
    if headers.len() > SCANNED {
        return All::Hashed(headers.get_all(name).iter());
    }
    All::Scanned {
        fields: headers.iter(),
        name,
    }
}

/// The values [`all`] finds.
pub enum All<'m, 'n> {
    /// Going through a small map's fields.
    Scanned {
        /// The fields not yet looked at.
        fields: header::Iter<'m, HeaderValue>,
        /// The name looked for.
        name: &'n HeaderName,
    },
    /// The values the map found for the name.
    Hashed(ValueIter<'m, HeaderValue>),
}

impl<'m> Iterator for All<'m, '_> {
    type Item = &'m HeaderValue;

    fn next(&mut self) -> Option<&'m HeaderValue> {
        match self {
            All::Scanned { fields, name } => fields
                .find(|(field, _)| *field == *name)
                .map(|(_, value)| value),
            All::Hashed(values) => values.next(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::header::{COOKIE, HOST};

    /// A map of `fields`, appended in order.
    fn map(fields: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        headers
    }

    /// Whether [`all`] answers as `get_all` for `name`.
    fn answers_as_http(headers: &HeaderMap, name: &HeaderName) {
        let found: Vec<&HeaderValue> = all(headers, name).collect();
        let expected: Vec<&HeaderValue> = headers.get_all(name).iter().collect();
        assert_eq!(found, expected, "{name}");
    }

    #[test]
    fn small_and_large_maps_answer_as_the_map_itself() {
        let names = [
            HOST,
            COOKIE,
            HeaderName::from_static("apikey"),
            HeaderName::from_static("x-a"),
            HeaderName::from_static("x-b"),
            HeaderName::from_static("x-absent"),
        ];
        // Repeats of a name, apart and together, below and above the scanned size.
        let fields = [
            ("host", "a.example"),
            ("x-a", "1"),
            ("apikey", "k1"),
            ("x-b", "2"),
            ("x-a", "3"),
            ("cookie", "c=1"),
            ("apikey", "k2"),
            ("x-b", "4"),
            ("x-a", "5"),
            ("cookie", "d=2"),
            ("x-c", "6"),
            ("apikey", "k3"),
        ];
        for length in 0..=fields.len() {
            let headers = map(&fields[..length]);
            for name in &names {
                answers_as_http(&headers, name);
            }
        }
    }

    #[test]
    fn small_maps_are_scanned_and_large_ones_hashed() {
        let small = map(&[("x-a", "1"), ("x-a", "2")]);
        let name = HeaderName::from_static("x-a");
        assert!(matches!(all(&small, &name), All::Scanned { .. }));
        let large = map(&[("x-a", "1"); SCANNED + 1]);
        assert!(matches!(all(&large, &name), All::Hashed(_)));
        assert_eq!(all(&large, &name).count(), SCANNED + 1);
    }
}
