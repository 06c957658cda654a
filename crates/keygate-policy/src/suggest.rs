//! "Did you mean" suggestions: the closest known name by edit distance.

/// The candidate closest to `word`, if it is close enough to be a likely typo: at most one
/// edit per three characters (and at least one). Case differences count as no edit, so
/// `clienttype` suggests `clientType`.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word: Vec<char> = word.chars().flat_map(char::to_lowercase).collect();
    let limit = (word.len() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for &candidate in candidates {
        let lowered: Vec<char> = candidate.chars().flat_map(char::to_lowercase).collect();
        let d = distance(&word, &lowered);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
/// two neighbouring characters each cost one.
fn distance(a: &[char], b: &[char]) -> usize {
    // Three rolling rows: two rows back (for swaps), previous and current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        distance(&a, &b)
    }

    #[test]
    fn distances() {
        assert_eq!(d("", ""), 0);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("", "ab"), 2);
        assert_eq!(d("clienType", "clientType"), 1);
        assert_eq!(d("cleintType", "clientType"), 1);
        assert_eq!(d("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_close_names() {
        let names = ["clientType", "consumer", "groups", "key"];
        assert_eq!(did_you_mean("clienType", &names), Some("clientType"));
        assert_eq!(did_you_mean("clienttype", &names), Some("clientType"));
        assert_eq!(did_you_mean("group", &names), Some("groups"));
        assert_eq!(did_you_mean("kye", &names), Some("key"));
        assert_eq!(did_you_mean("zzzzzz", &names), None);
        assert_eq!(did_you_mean("x", &names), None);
    }
}
