//! Writing CSV rows (RFC 4180) into a byte buffer.
//!
//! A field is quoted when it holds a comma, a double quote, CR or LF, with quotes
//! doubled; rows end with `\n`. Rows are built in a reused buffer so that the build
//! can measure a row before deciding which part of the posts file it goes to.

/// Appends one field, quoted when needed.
pub fn push_field(out: &mut Vec<u8>, field: &str) {
    let b = field.as_bytes();
    let needs_quotes =
        memchr::memchr3(b',', b'"', b'\n', b).is_some() || memchr::memchr(b'\r', b).is_some();
    if !needs_quotes {
        out.extend_from_slice(b);
        return;
    }
    out.push(b'"');
    let mut rest = b;
    while let Some(i) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=i]);
        out.push(b'"');
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// Appends a whole row, fields separated by commas and ended by `\n`.
pub fn push_row<S: AsRef<str>>(out: &mut Vec<u8>, fields: &[S]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_field(out, f.as_ref());
    }
    // A row of one empty field would read back as a blank line.
    if fields.len() == 1 && fields[0].as_ref().is_empty() {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_csv_crate() {
        let rows: Vec<Vec<&str>> = vec![
            vec!["a", "b,c", "say \"hi\"", "line\nbreak", "", "cr\r"],
            vec!["", "", "", "", "", ""],
        ];
        let mut out = Vec::new();
        for r in &rows {
            push_row(&mut out, r);
        }
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&out[..]);
        let back: Vec<Vec<String>> = rdr
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(back.len(), 2);
        for (a, b) in rows.iter().zip(&back) {
            assert_eq!(a, b);
        }
    }
}
