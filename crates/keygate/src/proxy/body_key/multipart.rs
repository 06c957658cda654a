//! `multipart/form-data` bodies (RFC 7578 on RFC 2046): parts between `--BOUNDARY` lines,
//! each with header fields and a content; a part's name is the `name` parameter of its
//! `Content-Disposition` field (`form-data`, or any type: Werkzeug reads them all), its
//! value its content as sent. Read strictly:
//! a body without its first boundary or its closing `--BOUNDARY--`, a boundary line
//! followed by anything but blanks and a line end, part header fields that do not parse
//! (httparse reads them, at most 16 per part), two `Content-Disposition` fields or two
//! `name` parameters in one part, a `name*` parameter, or a `--BOUNDARY` anywhere but at
//! the boundaries the parts were read at (after a bare `\n`, in the epilogue: where a
//! lenient upstream would find a part) are [`Malformed`]. What comes before the first boundary
//! and after the last is kept as it is and holds no field.

use std::borrow::Cow;

use memchr::memmem::Finder;

use super::media::Parameters;
use super::{Field, Malformed};

/// Header fields a part may have.
const MAX_PART_FIELDS: usize = 16;

/// The parts of `body`, each span from its `--BOUNDARY` line to the next one (the line
/// end before the next boundary included), so that removing a part leaves the others
/// byte for byte.
pub(super) fn fields<'b>(
    body: &'b [u8],
    boundary: &Option<Box<[u8]>>,
) -> Result<Vec<Field<'b>>, Malformed> {
    let boundary = boundary.as_deref().ok_or(Malformed)?;
    let mut delimiter = Vec::with_capacity(boundary.len() + 4);
    delimiter.extend_from_slice(b"\r\n--");
    delimiter.extend_from_slice(boundary);
    let finder = Finder::new(&delimiter);
    let dash_boundary = &delimiter[2..];
    let mut at = if body.starts_with(dash_boundary) {
        0
    } else {
        finder.find(body).ok_or(Malformed)? + 2
    };
    let mut fields = Vec::new();
    loop {
        let after = at + dash_boundary.len();
        let rest = body.get(after..).ok_or(Malformed)?;
        if rest.starts_with(b"--") {
            // Every `--BOUNDARY` in the body is one the parts were read at: another (after
            // a bare `\n` or `\r`, in the preamble or the epilogue) is one where a lenient
            // upstream (Werkzeug) would find a part the gateway did not see.
            let seen = Finder::new(dash_boundary).find_iter(body).count();
            return match seen == fields.len() + 1 {
                true => Ok(fields),
                false => Err(Malformed),
            };
        }
        let padding = rest
            .iter()
            .take_while(|&&byte| byte == b' ' || byte == b'\t')
            .count();
        if !rest[padding..].starts_with(b"\r\n") {
            return Err(Malformed);
        }
        let head_start = after + padding + 2;
        let mut headers = [httparse::EMPTY_HEADER; MAX_PART_FIELDS];
        let (head_length, headers) =
            match httparse::parse_headers(&body[head_start..], &mut headers) {
                Ok(httparse::Status::Complete(parsed)) => parsed,
                _ => return Err(Malformed),
            };
        let content_start = head_start + head_length;
        let content_end = content_start + finder.find(&body[content_start..]).ok_or(Malformed)?;
        let next = content_end + 2;
        let (raw_name, name) = part_name(headers)?;
        fields.push(Field {
            span: at..next,
            name,
            raw_name,
            value: Some(Cow::Borrowed(&body[content_start..content_end])),
        });
        at = next;
    }
}

/// The `name` of a part with `headers`, as written and unescaped, whatever its
/// disposition type; empty for a part without a disposition or without a name. A
/// `name*` parameter (RFC 2231) is [`Malformed`].
fn part_name<'b>(headers: &[httparse::Header<'b>]) -> Result<(&'b [u8], Cow<'b, [u8]>), Malformed> {
    let mut dispositions = headers
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case("content-disposition"));
    let Some(disposition) = dispositions.next() else {
        return Ok((&[], Cow::Borrowed(&[])));
    };
    if dispositions.next().is_some() {
        return Err(Malformed);
    }
    let value: &'b [u8] = disposition.value;
    let (_type, parameters) = match value.iter().position(|&byte| byte == b';') {
        Some(at) => (&value[..at], &value[at + 1..]),
        None => (value, &b""[..]),
    };
    // The disposition type (`form-data`) is not looked at: Werkzeug reads the `name` of
    // any, and a part it finds must be one the gateway reads and removes.
    // RFC 2231's `name*=UTF-8''apikey` (and `name*0`, `name*1`…) is a name to Werkzeug and
    // busboy: refused rather than read one way here and another there.
    if Parameters(parameters).any(|p| {
        p.name
            .get(..5)
            .is_some_and(|head| head.eq_ignore_ascii_case(b"name*"))
    }) {
        return Err(Malformed);
    }
    let mut names = Parameters(parameters).filter(|p| p.name.eq_ignore_ascii_case(b"name"));
    let Some(name) = names.next() else {
        return Ok((&[], Cow::Borrowed(&[])));
    };
    if names.next().is_some() {
        return Err(Malformed);
    }
    Ok((name.raw, name.value()))
}
