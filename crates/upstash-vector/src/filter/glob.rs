//! A case-sensitive glob matcher (SQLite `GLOB` style): `*`, `?`, `[abc]`, `[a-z]`, `[^abc]`.

/// Whether the whole of `text` matches `pattern`.
///
/// `*` matches any run of characters (also empty), `?` exactly one, `[...]` one character of
/// a set with ranges (`[a-z]`), negated with a leading `^` (`[^0-9]`); a `]` right after `[` or
/// `[^` is a member. A `[` without a closing `]` matches a literal `[`. Works on characters,
/// not bytes, and runs in O(len(pattern) * len(text)) at worst.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after the star, text index).
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match class(&p, pi) {
                Some((matches, next)) => matches(t[ti]).then_some(next),
                None => (t[ti] == '[').then_some(pi + 1),
            },
            Some(&c) => (c == t[ti]).then_some(pi + 1),
            None => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ti += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    pi = sp;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Parses the class starting at `p[start] == '['`. Returns a membership test and the index
/// after the closing `]`, or `None` when the class is not closed.
fn class(p: &[char], start: usize) -> Option<(impl Fn(char) -> bool + '_, usize)> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let body_start = i;
    // A `]` first in the set is a member.
    if p.get(i) == Some(&']') {
        i += 1;
    }
    while i < p.len() && p[i] != ']' {
        i += 1;
    }
    if i >= p.len() {
        return None;
    }
    let body = &p[body_start..i];
    let test = move |c: char| {
        let mut k = 0;
        let mut hit = false;
        while k < body.len() {
            if k + 2 < body.len() && body[k + 1] == '-' {
                if body[k] <= c && c <= body[k + 2] {
                    hit = true;
                }
                k += 3;
            } else {
                if body[k] == c {
                    hit = true;
                }
                k += 1;
            }
        }
        hit != negated
    };
    Some((test, i + 1))
}

#[cfg(test)]
mod tests {
    use super::glob_match as g;

    #[test]
    fn basics() {
        assert!(g("*", ""));
        assert!(g("a*c", "abbbc"));
        assert!(g("a*c", "ac"));
        assert!(!g("a*c", "acb"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("[abc]x", "bx"));
        assert!(!g("[abc]x", "dx"));
        assert!(g("[a-c]*", "cat"));
        assert!(g("[^a-c]*", "dog"));
        assert!(!g("[^a-c]*", "cat"));
        assert!(g("[]]", "]"));
        assert!(g("[^]]", "a"));
        assert!(g("a[b", "a[b"));
        assert!(!g("Abc", "abc"));
        assert!(g("*\"quotes\"*", "has \"quotes\" here"));
        assert!(g("*é?", "caféx"));
        assert!(g("**a*b*", "xxaxxbxx"));
        assert!(!g("*a*b", "xxaxxbxx"));
        assert!(g("[a-]", "-"));
    }
}
