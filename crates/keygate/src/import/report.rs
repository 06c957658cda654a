//! The import report: every item of the peer's file, and whether it was mapped as it
//! was, changed on the way, or left out — each with the reason. Printed by `keygate
//! import` so that nothing is dropped silently.

use std::fmt;

/// What became of one item of the peer's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Carried over with the same meaning.
    Mapped,
    /// Carried over, but keygate does it differently (the note says how).
    Changed,
    /// Not carried over (the note says why).
    LeftOut,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Mapped => "mapped",
            Outcome::Changed => "changed",
            Outcome::LeftOut => "left out",
        })
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What became of the item.
    pub outcome: Outcome,
    /// The item, as the peer names it (`service orders`, `consumer alice`).
    pub item: String,
    /// What it became, or why not.
    pub note: String,
}

/// Everything an import did. Large files have many alike lines (one per key): those
/// are counted rather than listed, see [`Report::count`].
#[derive(Debug, Default)]
pub struct Report {
    /// The lines, in the order the items were read.
    pub entries: Vec<Entry>,
    /// Keys imported, by how: as hashes, and as plaintext (`--keep-plaintext`).
    pub keys_hashed: usize,
    /// Keys written as plaintext.
    pub keys_plaintext: usize,
}

impl Report {
    /// Notes an item carried over as it was.
    pub fn mapped(&mut self, item: impl Into<String>, note: impl Into<String>) {
        self.push(Outcome::Mapped, item.into(), note.into());
    }

    /// Notes an item carried over with a difference.
    pub fn changed(&mut self, item: impl Into<String>, note: impl Into<String>) {
        self.push(Outcome::Changed, item.into(), note.into());
    }

    /// Notes an item not carried over.
    pub fn left_out(&mut self, item: impl Into<String>, note: impl Into<String>) {
        self.push(Outcome::LeftOut, item.into(), note.into());
    }

    fn push(&mut self, outcome: Outcome, item: String, note: String) {
        self.entries.push(Entry {
            outcome,
            item,
            note,
        });
    }

    /// How many lines have this outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.entries.iter().filter(|e| e.outcome == outcome).count()
    }

    /// The report for people: one line per item, then the totals.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for entry in &self.entries {
            text.push_str(&format!(
                "{:<9} {}: {}\n",
                entry.outcome.to_string(),
                entry.item,
                entry.note
            ));
        }
        text.push_str(&format!(
            "{} mapped, {} changed, {} left out; {} keys imported as SHA-256 hashes, {} as plaintext\n",
            self.count(Outcome::Mapped),
            self.count(Outcome::Changed),
            self.count(Outcome::LeftOut),
            self.keys_hashed,
            self.keys_plaintext
        ));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_line_and_the_totals() {
        let mut report = Report::default();
        report.mapped("service a", "service a");
        report.left_out("plugin cors", "no CORS in keygate");
        report.keys_hashed = 2;
        let text = report.render();
        assert!(text.contains("mapped    service a: service a\n"), "{text}");
        assert!(text.contains("left out  plugin cors: no CORS"), "{text}");
        assert!(text.ends_with("1 mapped, 0 changed, 1 left out; 2 keys imported as SHA-256 hashes, 0 as plaintext\n"), "{text}");
    }
}
