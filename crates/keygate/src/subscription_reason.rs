//! The one rule of a subscription's reason — why a publisher rejected it, shown to the
//! application's owner (Gravitee's reject reason). The admin API, the CLI's `--reason`
//! and a configuration file's `reason` are all checked here (docs/plans.md).

/// The most characters a reason may have.
pub const MOST_CHARACTERS: usize = 500;

/// A reason has 1 to [`MOST_CHARACTERS`] characters, not all of them white space, and no
/// control character other than tab and line breaks: it is shown as text in the console,
/// the developer portal and a terminal, where a control character could disguise it.
pub fn check(reason: &str) -> Result<(), String> {
    let length = reason.chars().count();
    if !(1..=MOST_CHARACTERS).contains(&length) {
        return Err(format!(
            "a reason has 1 to {MOST_CHARACTERS} characters, this one has {length}"
        ));
    }
    if reason.trim().is_empty() {
        return Err("a reason says something: this one is only white space".to_owned());
    }
    if let Some(bad) = reason
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(format!(
            "a reason may not contain the control character {bad:?} (tab and line breaks \
             are allowed)"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_short_visible_text() {
        assert!(check("Plan gold is for partners under contract.").is_ok());
        assert!(check("Zoë's «team»\nsecond line\twith a tab").is_ok());
        assert!(
            check(&"é".repeat(MOST_CHARACTERS)).is_ok(),
            "characters, not bytes"
        );
        let long = check(&"x".repeat(MOST_CHARACTERS + 1)).unwrap_err();
        assert!(
            long.contains("1 to 500 characters, this one has 501"),
            "{long}"
        );
        assert!(check("").unwrap_err().contains("this one has 0"));
        assert!(check(" \n\t ").unwrap_err().contains("white space"));
        let escape = check("fine\u{1b}[31m red").unwrap_err();
        assert!(escape.contains("'\\u{1b}'"), "{escape}");
        assert!(check("nul\0").is_err());
        assert!(check("bidi\u{0085}").is_err(), "C1 controls too");
    }
}
