//! Small texts of the directory, kept as compactly as a million of them need: a header
//! value ready to send, and short texts kept inline.

use bytes::Bytes;
use http::HeaderValue;

/// A text that is also sent as a header (a consumer name, a key id, a client type), kept
/// once: the header value holds the bytes and the text is read back from them. Texts are
/// checked to be header-safe when written; one that is not (from an old or hand-edited
/// store) keeps its text and is sent empty rather than failing the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderText(HeaderRepr);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HeaderRepr {
    Sendable(HeaderValue),
    Unsendable(Box<str>),
}

impl HeaderText {
    /// Keeps `text` once.
    pub fn new(text: &str) -> HeaderText {
        match HeaderValue::from_maybe_shared(Bytes::copy_from_slice(text.as_bytes())) {
            Ok(value) => HeaderText(HeaderRepr::Sendable(value)),
            Err(_) => HeaderText(HeaderRepr::Unsendable(text.into())),
        }
    }

    /// The header value to send: the text, or empty when the text is not header-safe.
    pub fn header(&self) -> HeaderValue {
        match &self.0 {
            HeaderRepr::Sendable(value) => value.clone(),
            HeaderRepr::Unsendable(_) => HeaderValue::from_static(""),
        }
    }

    /// The bytes to send, as [`HeaderText::header`] but borrowed.
    pub fn header_bytes(&self) -> &[u8] {
        match &self.0 {
            HeaderRepr::Sendable(value) => value.as_bytes(),
            HeaderRepr::Unsendable(_) => b"",
        }
    }
}

impl std::ops::Deref for HeaderText {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            // Built from a `&str`, so always UTF-8.
            HeaderRepr::Sendable(value) => std::str::from_utf8(value.as_bytes()).unwrap_or(""),
            HeaderRepr::Unsendable(text) => text,
        }
    }
}

impl std::fmt::Display for HeaderText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

/// A short text (a consumer name, a key id, a display prefix) kept inline when it has at
/// most `N` bytes, without an allocation of its own; a longer one goes to the heap behind
/// a thin pointer, so that the whole value takes `N + 2` bytes rounded up to eight:
/// 24 bytes for the default 22, 16 bytes for 14.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ShortText<const N: usize = 22>(ShortRepr<N>);

#[derive(Clone, PartialEq, Eq, Hash)]
enum ShortRepr<const N: usize> {
    Inline { len: u8, bytes: [u8; N] },
    Heap(Box<Box<str>>),
}

impl<const N: usize> ShortText<N> {
    /// Keeps `text`, inline when it is short.
    pub fn new(text: &str) -> ShortText<N> {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= N => {
                let mut bytes = [0u8; N];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                ShortText(ShortRepr::Inline { len, bytes })
            }
            _ => ShortText(ShortRepr::Heap(Box::new(text.into()))),
        }
    }

    /// The text's bytes, without checking again that they are UTF-8: for comparisons.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            ShortRepr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            ShortRepr::Heap(text) => text.as_bytes(),
        }
    }
}

impl<const N: usize> std::ops::Deref for ShortText<N> {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            // Copied whole from a `&str`, so always UTF-8.
            ShortRepr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or("")
            }
            ShortRepr::Heap(text) => text,
        }
    }
}

impl<const N: usize> std::fmt::Debug for ShortText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl<const N: usize> std::fmt::Display for ShortText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    use super::*;

    #[test]
    fn short_texts_read_back_as_written_and_stay_small() {
        for text in [
            "",
            "pk_live",
            "a-prefix-of-exactly-22",
            "a prefix longer than twenty-two",
        ] {
            assert_eq!(&*ShortText::<22>::new(text), text);
            assert_eq!(&*ShortText::<14>::new(text), text);
        }
        assert_eq!(size_of::<ShortText>(), 24);
        assert_eq!(size_of::<ShortText<14>>(), 16);
        assert_eq!(size_of::<Option<ShortText<14>>>(), 16);
    }

    #[test]
    fn header_texts_read_back_and_unsendable_ones_go_empty() {
        let name = HeaderText::new("alex");
        assert_eq!(&*name, "alex");
        assert_eq!(name.header(), HeaderValue::from_static("alex"));
        assert_eq!(name.to_string(), "alex");
        let unsendable = HeaderText::new("line\nbreak");
        assert_eq!(&*unsendable, "line\nbreak");
        assert_eq!(unsendable.header(), HeaderValue::from_static(""));
        assert_eq!(unsendable.header_bytes(), b"");
        assert_eq!(name.header_bytes(), b"alex");
    }
}
