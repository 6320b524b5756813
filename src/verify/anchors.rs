//! Values found through an anchor, for the leak scan and the staff preparation.
//!
//! A value is indexed by its longest run of token characters (its anchor), with
//! the shape around it: where the run starts in the value and the value's length.
//! Where the value stands token-bounded in a text, its anchor is a whole token run
//! of the text (bounded inside the value by a character that is no token
//! character, or at the value's edge by the text's). So each token run of a text is
//! looked up, and the text at each shape of that anchor compared with the values:
//! tables of the values, not an automaton over them (a large export withholds
//! millions of values), and one candidate per shape, not per value (all the dates
//! of one year share an anchor and a shape).

use crate::transform::strmap::StrMap;

/// Anchors and the shapes of the values they anchor.
#[derive(Debug, Default)]
pub struct Anchors {
    /// Anchor → its first shape in `shapes`.
    first: StrMap<u32>,
    /// (offset of the anchor in the value, the value's length, the next shape of
    /// the same anchor or [`NONE`]).
    shapes: Vec<(u32, u32, u32)>,
}

const NONE: u32 = u32::MAX;

impl Anchors {
    /// Adds a value whose anchor `anchor` starts `offset` bytes into it, `len`
    /// bytes long (a shape already listed for the anchor is not listed again).
    pub fn add(&mut self, anchor: &str, offset: usize, len: usize) {
        let shape = (
            u32::try_from(offset).expect("a value under 4 GiB"),
            u32::try_from(len).expect("a value under 4 GiB"),
        );
        let at = u32::try_from(self.shapes.len()).expect("under 4 billion shapes");
        let Some(&first) = self.first.get(anchor) else {
            self.first.insert(anchor, at);
            self.shapes.push((shape.0, shape.1, NONE));
            return;
        };
        let mut g = first as usize;
        loop {
            let (offset, len, next) = self.shapes[g];
            if (offset, len) == shape {
                return;
            }
            if next == NONE {
                self.shapes[g].2 = at;
                self.shapes.push((shape.0, shape.1, NONE));
                return;
            }
            g = next as usize;
        }
    }

    /// The spans `[start, end)` where a value anchored by the token run starting at
    /// `at` and reading `token` would stand.
    pub fn spans(&self, token: &str, at: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut next = self.first.get(token).copied().unwrap_or(NONE);
        std::iter::from_fn(move || loop {
            if next == NONE {
                return None;
            }
            let (offset, len, after) = self.shapes[next as usize];
            next = after;
            if let Some(s) = at.checked_sub(offset as usize) {
                return Some((s, s + len as usize));
            }
        })
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }

    /// Frees the spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.first.shrink_to_fit();
        self.shapes.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shape_of_an_anchor_once() {
        let mut a = Anchors::default();
        assert!(a.is_empty());
        // "2019-05-06", "2019-05-07": one shape; "x 2019": another.
        a.add("2019", 0, 10);
        a.add("2019", 0, 10);
        a.add("2019", 2, 6);
        a.add("lab", 4, 9);
        a.shrink_to_fit();
        let spans: Vec<_> = a.spans("2019", 10).collect();
        assert_eq!(spans, vec![(10, 20), (8, 14)]);
        // A shape that would start before the text is skipped.
        assert_eq!(a.spans("2019", 1).collect::<Vec<_>>(), vec![(1, 11)]);
        assert_eq!(a.spans("lab", 2).count(), 0);
        assert_eq!(a.spans("2020", 10).count(), 0);
    }
}
