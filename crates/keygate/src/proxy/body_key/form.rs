//! `application/x-www-form-urlencoded` bodies: `name=value` pairs joined by `&`, read as
//! the query string is (`super::super::key_source`): names and values percent-decoded,
//! `+` a space, a pair without `=` a name with an empty value. Any bytes read as a form.

use super::Field;
use crate::proxy::key_source::percent_decode;

/// Every non-empty pair of `body`, its span the pair without the `&` around it.
pub(super) fn fields(body: &[u8]) -> Vec<Field<'_>> {
    let mut fields = Vec::new();
    let mut start = 0;
    for piece in body.split(|&byte| byte == b'&') {
        let span = start..start + piece.len();
        start = span.end + 1;
        if piece.is_empty() {
            continue;
        }
        let (name, value) = match piece.iter().position(|&byte| byte == b'=') {
            Some(at) => (&piece[..at], &piece[at + 1..]),
            None => (piece, &b""[..]),
        };
        fields.push(Field {
            span,
            name: percent_decode(name),
            raw_name: name,
            value: Some(percent_decode(value)),
        });
    }
    fields
}
