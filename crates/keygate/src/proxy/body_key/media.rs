//! Which of the three media types a body is, from its `Content-Type`: the type and
//! subtype compared without regard to case, parameters allowed; for `multipart/form-data`,
//! its `boundary` parameter. A body the gateway could not read as the upstream will
//! (two `Content-Type` fields; a `Content-Encoding`; one of the three types followed by
//! more than parameters, which PHP reads as that type) is [`Media::Unreadable`].

use std::borrow::Cow;

use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::HeaderMap;

/// The media types a key is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `application/json`.
    Json,
    /// `multipart/form-data`, with its boundary (`None` when the parameter is missing or
    /// not a valid boundary: such a body cannot be read).
    Multipart {
        /// The `boundary` parameter's value.
        boundary: Option<Box<[u8]>>,
    },
}

/// What a request's `Content-Type` says of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    /// One of the three media types.
    Kind(BodyKind),
    /// A body the gateway cannot read as the upstream will: several `Content-Type`
    /// fields (the upstream might read another type), or one of the three types with a
    /// `Content-Encoding` (`gzip`: the fields are inside the coding).
    Unreadable,
    /// None, or another media type: no key is read from the body.
    Other,
}

/// What the `Content-Type` of `headers` says.
pub fn media(headers: &HeaderMap) -> Media {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let Some(value) = values.next() else {
        return Media::Other;
    };
    if values.next().is_some() {
        return Media::Unreadable;
    }
    let value = value.as_bytes();
    let (essence, parameters) = match value.iter().position(|&byte| byte == b';') {
        Some(at) => (&value[..at], &value[at + 1..]),
        None => (value, &b""[..]),
    };
    let essence = essence.trim_ascii();
    let (kind, trailing) =
        if let Some(trailing) = named(essence, b"application/x-www-form-urlencoded") {
            (BodyKind::Form, trailing)
        } else if let Some(trailing) = named(essence, b"application/json") {
            (BodyKind::Json, trailing)
        } else if let Some(trailing) = named(essence, b"multipart/form-data") {
            let boundary = boundary(parameters);
            (BodyKind::Multipart { boundary }, trailing)
        } else {
            return Media::Other;
        };
    if trailing {
        // `application/json, text/plain`: PHP reads the type up to a `,` or a blank, and
        // would find the fields the gateway neither read nor removed.
        return Media::Unreadable;
    }
    let coded = headers.get_all(CONTENT_ENCODING).iter().any(|coding| {
        !coding
            .as_bytes()
            .trim_ascii()
            .eq_ignore_ascii_case(b"identity")
    });
    match coded {
        true => Media::Unreadable,
        false => Media::Kind(kind),
    }
}

/// Whether `essence` names the media type `name` (in any case): `Some(false)` when it is
/// just that, `Some(true)` when more follows after a byte no type name holds (a `,`, a
/// blank, as in `application/json, text/plain`), `None` when it is another type.
fn named(essence: &[u8], name: &[u8]) -> Option<bool> {
    let head = essence.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    match essence.get(name.len()) {
        None => Some(false),
        Some(&byte) if byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte) => None,
        Some(_) => Some(true),
    }
}

/// The `boundary` parameter among `parameters` (what follows the first `;`), unquoted;
/// `None` when it is missing, given twice, or not a boundary RFC 2046 allows (1 to 70
/// of its characters, not ending with a space).
fn boundary(parameters: &[u8]) -> Option<Box<[u8]>> {
    let mut found: Option<Cow<'_, [u8]>> = None;
    for parameter in Parameters(parameters) {
        if parameter.name.eq_ignore_ascii_case(b"boundary") {
            if found.is_some() {
                return None;
            }
            found = Some(parameter.value());
        }
    }
    let boundary = found?;
    let valid = (1..=70).contains(&boundary.len())
        && boundary.last() != Some(&b' ')
        && boundary
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&byte));
    valid.then(|| boundary.into_owned().into_boxed_slice())
}

/// One `name=value` parameter of a header value (`Content-Type`, `Content-Disposition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Parameter<'a> {
    /// Its name, as written.
    pub name: &'a [u8],
    /// Its value as written: a token, or what lies between a quoted string's quotes.
    pub raw: &'a [u8],
    /// Whether the value was a quoted string.
    pub quoted: bool,
}

impl<'a> Parameter<'a> {
    /// The value, a quoted string's `\` escapes taken out.
    pub fn value(&self) -> Cow<'a, [u8]> {
        if !self.quoted || !self.raw.contains(&b'\\') {
            return Cow::Borrowed(self.raw);
        }
        let mut value = Vec::with_capacity(self.raw.len());
        let mut bytes = self.raw.iter();
        while let Some(&byte) = bytes.next() {
            match byte {
                b'\\' => value.extend(bytes.next()),
                byte => value.push(byte),
            }
        }
        Cow::Owned(value)
    }
}

/// The `name=value` parameters of a header value, from what follows its first `;`. A
/// parameter that does not parse (no `=`, an unclosed quote) ends the list.
pub(super) struct Parameters<'a>(pub &'a [u8]);

impl<'a> Iterator for Parameters<'a> {
    type Item = Parameter<'a>;

    fn next(&mut self) -> Option<Parameter<'a>> {
        let rest = self.0.trim_ascii_start();
        let equals = rest.iter().position(|&byte| byte == b'=')?;
        let name = rest[..equals].trim_ascii();
        let rest = rest[equals + 1..].trim_ascii_start();
        let (raw, quoted, after) = if rest.first() == Some(&b'"') {
            let mut index = 1;
            loop {
                match *rest.get(index)? {
                    b'"' => break,
                    b'\\' => index += 2,
                    _ => index += 1,
                }
            }
            (rest.get(1..index)?, true, &rest[index + 1..])
        } else {
            let end = rest
                .iter()
                .position(|&byte| byte == b';')
                .unwrap_or(rest.len());
            (rest[..end].trim_ascii_end(), false, &rest[end..])
        };
        // On to the next `;`: anything else after a quoted value is ignored.
        self.0 = match after.iter().position(|&byte| byte == b';') {
            Some(at) => &after[at + 1..],
            None => &[],
        };
        Some(Parameter { name, raw, quoted })
    }
}
