//! A map from strings to small values that keeps every key in one buffer.
//!
//! The registry holds three maps over every known account (a large export lists a
//! million): a `HashMap<String, _>` spends a heap block and a 24-byte header on each
//! key, and a `String` value another pair. Here a key costs its bytes plus one slot
//! of the table, and values are small `Copy` types (see [`Texts`] for strings).

use hashbrown::HashTable;

/// Strings kept end to end in one buffer, each named by a [`TextId`].
#[derive(Debug, Default)]
pub struct Texts {
    buf: String,
}

/// A string of a [`Texts`]: where it starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextId {
    at: u32,
    len: u32,
}

impl TextId {
    /// Where the string starts in its buffer (distinct for distinct non-empty
    /// strings of one buffer).
    pub fn at(self) -> usize {
        self.at as usize
    }
}

impl Texts {
    /// Adds `s` and returns its ID.
    pub fn add(&mut self, s: &str) -> TextId {
        let at = u32::try_from(self.buf.len()).expect("names total under 4 GiB");
        let len = u32::try_from(s.len()).expect("a name under 4 GiB");
        self.buf.push_str(s);
        TextId { at, len }
    }

    /// The string of `id`.
    pub fn get(&self, id: TextId) -> &str {
        &self.buf[id.at as usize..id.at as usize + id.len as usize]
    }

    /// Frees the spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }
}

/// A hash map from strings to `V`, the keys stored in one [`Texts`].
#[derive(Debug)]
pub struct StrMap<V> {
    keys: Texts,
    table: HashTable<(TextId, V)>,
    hasher: ahash::RandomState,
}

impl<V> Default for StrMap<V> {
    fn default() -> Self {
        StrMap {
            keys: Texts::default(),
            table: HashTable::new(),
            hasher: ahash::RandomState::new(),
        }
    }
}

impl<V> StrMap<V> {
    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.find(key).map(|(_, v)| v)
    }

    /// The key's ID in the map's buffer (distinct for every key, below
    /// [`StrMap::key_bytes`]) and its value.
    pub fn find(&self, key: &str) -> Option<(TextId, &V)> {
        let keys = &self.keys;
        self.table
            .find(self.hash(key), |(k, _)| keys.get(*k) == key)
            .map(|(k, v)| (*k, v))
    }

    /// The bytes of every key, end to end: a bound on the keys' [`TextId::at`].
    pub fn key_bytes(&self) -> usize {
        self.keys.buf.len()
    }

    /// Every key with its ID, in no particular order.
    pub fn keys_with_ids(&self) -> impl Iterator<Item = (TextId, &str)> {
        self.table.iter().map(|(k, _)| (*k, self.keys.get(*k)))
    }

    /// Whether `key` is in the map.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets the value of `key`, adding the key if it is new.
    pub fn insert(&mut self, key: &str, value: V) {
        self.add(key, value, true);
    }

    /// The ID of `key`, adding it with `value` if it is new (an existing key keeps
    /// its value).
    pub fn intern(&mut self, key: &str, value: V) -> TextId {
        self.add(key, value, false)
    }

    /// Adds `key` with `value` if it is new; an existing key's value is replaced
    /// when `replace`. Returns the key's ID.
    fn add(&mut self, key: &str, value: V, replace: bool) -> TextId {
        let hash = self.hash(key);
        let Self {
            keys,
            table,
            hasher,
        } = self;
        match table.find_mut(hash, |(k, _)| keys.get(*k) == key) {
            Some((k, v)) => {
                if replace {
                    *v = value;
                }
                *k
            }
            None => {
                let id = keys.add(key);
                table.insert_unique(hash, (id, value), |(k, _)| hasher.hash_one(keys.get(*k)));
                id
            }
        }
    }

    /// The keys' buffer alone (the table is freed): the IDs given so far still name
    /// their keys in it.
    pub fn into_keys(self) -> Texts {
        self.keys
    }

    /// Every key and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.table.iter().map(|(k, v)| (self.keys.get(*k), v))
    }

    /// The key of an ID [`StrMap::find`] or [`StrMap::iter_with_ids`] gave.
    pub fn key(&self, id: TextId) -> &str {
        self.keys.get(id)
    }

    /// Every key with its ID and value, in no particular order.
    pub fn iter_with_ids(&self) -> impl Iterator<Item = (TextId, &str, &V)> {
        self.table.iter().map(|(k, v)| (*k, self.keys.get(*k), v))
    }

    /// Every key and a mutable value, in no particular order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut V)> {
        let keys = &self.keys;
        self.table.iter_mut().map(move |(k, v)| (keys.get(*k), v))
    }

    /// Every value, mutable.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.table.iter_mut().map(|(_, v)| v)
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Frees the spare capacity of the keys' buffer and of the table.
    pub fn shrink_to_fit(&mut self) {
        self.keys.shrink_to_fit();
        let Self {
            keys,
            table,
            hasher,
        } = self;
        table.shrink_to_fit(|(k, _)| hasher.hash_one(keys.get(*k)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_by_content_and_values_replaced() {
        let mut m = StrMap::default();
        for i in 0..1000u32 {
            m.insert(&format!("name{i}"), i);
        }
        m.insert("name7", 70_000);
        m.insert("", 5);
        m.shrink_to_fit();
        assert_eq!(m.len(), 1001);
        assert_eq!(m.get("name7"), Some(&70_000));
        assert_eq!(m.get("name999"), Some(&999));
        assert_eq!(m.get(""), Some(&5));
        assert_eq!(m.get("name1000"), None);
        assert!(!m.contains_key("Name1"));
        for v in m.values_mut() {
            *v += 1;
        }
        let mut seen: Vec<(String, u32)> = m.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        seen.sort();
        assert_eq!(seen[0], (String::new(), 6));
        assert_eq!(seen.len(), 1001);
        let id = m.intern("name7", 1);
        assert_eq!(
            m.get("name7"),
            Some(&70_001),
            "an existing key keeps its value"
        );
        let new = m.intern("new", 9);
        assert_eq!(m.get("new"), Some(&9));
        assert_ne!(id, new);
        assert_eq!(m.intern("new", 10), new);
        let texts = m.into_keys();
        assert_eq!((texts.get(id), texts.get(new)), ("name7", "new"));
    }

    #[test]
    fn texts_give_back_what_was_added() {
        let mut t = Texts::default();
        let a = t.add("première");
        let b = t.add("");
        let c = t.add("x");
        assert_eq!((t.get(a), t.get(b), t.get(c)), ("première", "", "x"));
    }
}
