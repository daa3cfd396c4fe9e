//! The one-range `Range: bytes=...` header of chunk downloads (RFC 9110 14.2), parsed
//! strictly: what a chunk download needs (resuming, or fetching a piece), nothing more.

/// What a `Range` header asks of a resource of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranged {
    /// No `Range` header: the whole resource.
    Whole,
    /// Bytes `first..=last`.
    Part {
        /// First byte.
        first: u64,
        /// Last byte (inclusive).
        last: u64,
    },
    /// Another unit, several ranges, bad syntax or outside the resource: `416`.
    Unsatisfiable,
}

/// Parses `value` (the header's value, `None` without one) against a resource of `len`
/// bytes: `bytes=a-b`, `bytes=a-` or `bytes=-n`.
pub fn parse(value: Option<&[u8]>, len: u64) -> Ranged {
    let Some(value) = value else {
        return Ranged::Whole;
    };
    parse_one(value, len).unwrap_or(Ranged::Unsatisfiable)
}

fn parse_one(value: &[u8], len: u64) -> Option<Ranged> {
    let spec = std::str::from_utf8(value)
        .ok()?
        .strip_prefix("bytes=")?
        .trim();
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (first, last) = match (first.is_empty(), last.is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => {
            let n = number(last)?.min(len);
            (len.checked_sub(n)?, len.checked_sub(1)?)
        }
        (false, true) => (number(first)?, len.checked_sub(1)?),
        (false, false) => (number(first)?, number(last)?.min(len.checked_sub(1)?)),
        (true, true) => return None,
    };
    (first <= last).then_some(Ranged::Part { first, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &str, len: u64) -> Ranged {
        parse(Some(v.as_bytes()), len)
    }

    fn part(first: u64, last: u64) -> Ranged {
        Ranged::Part { first, last }
    }

    #[test]
    fn one_range_in_three_spellings() {
        assert_eq!(parse(None, 10), Ranged::Whole);
        assert_eq!(p("bytes=0-9", 10), part(0, 9));
        assert_eq!(p("bytes=2-4", 10), part(2, 4));
        assert_eq!(p("bytes=2-99", 10), part(2, 9));
        assert_eq!(p("bytes=7-", 10), part(7, 9));
        assert_eq!(p("bytes=-3", 10), part(7, 9));
        assert_eq!(p("bytes=-30", 10), part(0, 9));
    }

    #[test]
    fn everything_else_is_unsatisfiable() {
        for bad in [
            "bytes=10-",
            "bytes=10-12",
            "bytes=5-4",
            "bytes=-0",
            "bytes=-",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=a-b",
            "",
        ] {
            assert_eq!(p(bad, 10), Ranged::Unsatisfiable, "{bad}");
        }
        assert_eq!(p("bytes=0-", 0), Ranged::Unsatisfiable);
    }
}
