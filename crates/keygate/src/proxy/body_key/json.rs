//! `application/json` bodies: the members of the top-level object. The document is
//! checked whole by serde_json (which skips what it does not keep without recursion, so
//! nesting costs no stack); then the top-level
//! members are found with their byte ranges, so that one can be cut out while every other
//! byte of the document stays as sent. A document that is not an object (an array, a
//! string) holds no field. Member names and string values are read unescaped
//! (`"api\u006bey"` is `apikey`); a value that is not a string is never a key.

use std::borrow::Cow;

use super::{Field, Malformed};

/// The top-level members of `body`, each span from its name's opening quote to the end
/// of its value.
pub(super) fn fields(body: &[u8]) -> Result<Vec<Field<'_>>, Malformed> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|_| Malformed)?;
    let mut scan = Scan { body, at: 0 };
    scan.skip_space();
    if scan.peek() != Some(b'{') {
        return Ok(Vec::new());
    }
    scan.at += 1;
    let mut fields = Vec::new();
    loop {
        scan.skip_space();
        match scan.peek() {
            Some(b'}') if fields.is_empty() => break,
            Some(b'"') => {}
            _ => return Err(Malformed),
        }
        let start = scan.at;
        let name_end = scan.string_end()?;
        scan.at = name_end;
        scan.skip_space();
        scan.expect(b':')?;
        scan.skip_space();
        let value_start = scan.at;
        let value_end = scan.value_end()?;
        scan.at = value_end;
        let value = &body[value_start..value_end];
        fields.push(Field {
            span: start..value_end,
            name: unescaped(&body[start..name_end])?,
            raw_name: &body[start + 1..name_end - 1],
            value: match value.first() {
                Some(b'"') => Some(unescaped(value)?),
                _ => None,
            },
        });
        scan.skip_space();
        match scan.peek() {
            Some(b',') => scan.at += 1,
            Some(b'}') => break,
            _ => return Err(Malformed),
        }
    }
    Ok(fields)
}

/// The text of the JSON string `quoted` (its quotes included), borrowed when it holds no
/// escape.
fn unescaped(quoted: &[u8]) -> Result<Cow<'_, [u8]>, Malformed> {
    let inner = quoted
        .get(1..quoted.len().saturating_sub(1))
        .ok_or(Malformed)?;
    if !inner.contains(&b'\\') {
        return Ok(Cow::Borrowed(inner));
    }
    let text: String = serde_json::from_slice(quoted).map_err(|_| Malformed)?;
    Ok(Cow::Owned(text.into_bytes()))
}

/// A position in a document serde_json has found valid: every step is checked all the
/// same, and a surprise is [`Malformed`], never a panic.
struct Scan<'b> {
    body: &'b [u8],
    at: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.body.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), Malformed> {
        if self.peek() != Some(byte) {
            return Err(Malformed);
        }
        self.at += 1;
        Ok(())
    }

    /// Where the string that opens at `at` ends (after its closing quote).
    fn string_end(&self) -> Result<usize, Malformed> {
        string_end(self.body, self.at)
    }

    /// Where the value that starts at `at` ends.
    fn value_end(&self) -> Result<usize, Malformed> {
        let body = self.body;
        match self.peek() {
            Some(b'"') => string_end(body, self.at),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                let mut index = self.at;
                loop {
                    match *body.get(index).ok_or(Malformed)? {
                        b'"' => {
                            index = string_end(body, index)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.checked_sub(1).ok_or(Malformed)?;
                            if depth == 0 {
                                return Ok(index + 1);
                            }
                        }
                        _ => {}
                    }
                    index += 1;
                }
            }
            Some(_) => {
                let rest = &body[self.at..];
                let length = rest
                    .iter()
                    .position(|byte| b",}] \t\r\n".contains(byte))
                    .unwrap_or(rest.len());
                Ok(self.at + length)
            }
            None => Err(Malformed),
        }
    }
}

/// Where the string whose opening quote is at `start` ends (after its closing quote).
fn string_end(body: &[u8], start: usize) -> Result<usize, Malformed> {
    let mut index = start + 1;
    loop {
        match *body.get(index).ok_or(Malformed)? {
            b'"' => return Ok(index + 1),
            b'\\' => index += 2,
            _ => index += 1,
        }
    }
}
