//! What the text matcher asks of the names registry: the narrow view through which
//! [`crate::transform::matching`] looks names up, so that it need not know the
//! [`crate::transform::Registry`] that holds its matcher (an import circle).

use std::borrow::Cow;

use super::pseudonym::Pseudonymizer;

/// Looking up published names: implemented by [`crate::transform::Registry`].
pub trait Names {
    /// The names to find in prose, as the matcher built them.
    type Matcher;

    /// The names to find in prose (`None` when nothing is pseudonymised).
    fn matcher(&self) -> Option<&Self::Matcher>;

    /// The pseudonymizer in use.
    fn pseudonymizer(&self) -> &Pseudonymizer;

    /// Whether a screen name is known (any case).
    fn handle_known(&self, name: &str) -> bool;

    /// The pseudonym of a name written with look-alike characters, when its
    /// normalised form is a known pseudonymised account's.
    fn folded_handle(&self, name: &str) -> Option<&str>;

    /// The pseudonym of a known pseudonymised account's user ID.
    fn private_id_pseudonym(&self, id: &str) -> Option<&str>;

    /// What a user ID becomes: itself for a public account, else a pseudonym.
    fn publish_id(&self, userid: &str, out: &mut String);

    /// What a screen name mentioned by handle becomes (case-insensitive); `None` when
    /// it is published as written.
    fn publish_handle(&self, name: &str) -> Option<Cow<'_, str>>;
}
