//! Values shared by build and verify: decimal IDs, dates and times, and the value
//! types a policy declares for kept columns. Checks return a reason without quoting
//! the value (it may be an account's identity).

/// Checks a decimal ID: digits only, no leading zeros.
///
/// Messages never quote the value: it may be an account's identity.
pub fn check_id(value: &str) -> std::result::Result<(), String> {
    if value.is_empty() {
        return Err("an ID is empty".into());
    }
    if let Some(at) = value.chars().position(|c| !c.is_ascii_digit()) {
        return Err(format!(
            "not an ID (decimal digits only): character {} of {} is not a digit",
            at + 1,
            value.chars().count()
        ));
    }
    if value.len() > 1 && value.starts_with('0') {
        return Err("not an ID (leading zero)".into());
    }
    Ok(())
}

/// A value type for a kept column, used to validate input and to type the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Any text.
    String,
    /// Decimal integer (an empty field means missing).
    Integer,
    /// Decimal number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:MM`.
    DateTime,
}

impl FieldType {
    pub(crate) fn parse(text: &str) -> std::result::Result<Self, String> {
        Ok(match text {
            "string" => FieldType::String,
            "integer" => FieldType::Integer,
            "number" => FieldType::Number,
            "boolean" => FieldType::Boolean,
            "date" => FieldType::Date,
            "datetime" => FieldType::DateTime,
            other => {
                return Err(format!(
                "unknown type `{other}` (expected string, integer, number, boolean, date or datetime)"
            ))
            }
        })
    }
}

/// Checks a `YYYY-MM-DD` date (calendar-valid).
pub fn check_date(text: &str) -> std::result::Result<(), String> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(|c| c.is_ascii_digit());
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return Err("not a date (YYYY-MM-DD)".to_string());
    }
    let year: u32 = text[0..4].parse().unwrap_or(0);
    let month: u32 = text[5..7].parse().unwrap_or(0);
    let day: u32 = text[8..10].parse().unwrap_or(0);
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(format!("not a date: month {month}")),
    };
    if day == 0 || day > days {
        return Err(format!("not a date: day {day}"));
    }
    Ok(())
}

/// Checks a `YYYY-MM-DD HH:MM` time.
pub fn check_datetime(text: &str) -> std::result::Result<(), String> {
    let b = text.as_bytes();
    let bad = || "not a time (YYYY-MM-DD HH:MM, UTC)".to_string();
    if b.len() != 16 || b[10] != b' ' || b[13] != b':' {
        return Err(bad());
    }
    check_date(&text[..10]).map_err(|_| bad())?;
    let hh: u32 = text[11..13].parse().map_err(|_| bad())?;
    let mm: u32 = text[14..16].parse().map_err(|_| bad())?;
    if !b[11..13].iter().chain(&b[14..16]).all(u8::is_ascii_digit) || hh > 23 || mm > 59 {
        return Err(bad());
    }
    Ok(())
}

pub(crate) fn parse_number(value: &str) -> std::result::Result<f64, String> {
    let ok_chars = value
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    match value.parse::<f64>() {
        Ok(v) if ok_chars && v.is_finite() => Ok(v),
        _ => Err("not a number".to_string()),
    }
}

/// Validates a kept value against its declared type (empty is always allowed).
pub fn check_type(ty: FieldType, value: &str) -> std::result::Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    match ty {
        FieldType::String => Ok(()),
        FieldType::Integer => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err("not an integer".to_string())
            }
        }
        FieldType::Number => parse_number(value).map(|_| ()),
        FieldType::Boolean => match value {
            "true" | "false" => Ok(()),
            _ => Err("not `true` or `false`".to_string()),
        },
        FieldType::Date => check_date(value),
        FieldType::DateTime => check_datetime(value),
    }
}

/// Parses a list column: `[a, b]`, `[]` or empty. Items may be quoted with `'` or `"`.
pub fn parse_list(value: &str) -> std::result::Result<Vec<&str>, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(Vec::new());
    }
    let inner = v
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| "not a list (expected `[a, b]` or `[]`)".to_string())?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|item| {
            let t = item.trim();
            let t = t
                .strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .or_else(|| t.strip_prefix('"').and_then(|r| r.strip_suffix('"')))
                .unwrap_or(t);
            if t.is_empty() {
                Err("the list has an empty item".to_string())
            } else {
                Ok(t)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(check_date("2019-02-28").is_ok());
        assert!(check_date("2019-02-29").is_err());
        assert!(check_date("2020-02-29").is_ok());
        assert!(check_date("2019-13-01").is_err());
        assert!(check_date("2019-1-01").is_err());
        assert!(check_datetime("2019-01-01 23:59").is_ok());
        assert!(check_datetime("2019-01-01 24:00").is_err());
        assert!(check_datetime("2019-01-01T10:00").is_err());
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("[1, 2]").unwrap(), vec!["1", "2"]);
        assert_eq!(parse_list("['1', '2']").unwrap(), vec!["1", "2"]);
        assert!(parse_list("[]").unwrap().is_empty());
        assert!(parse_list("").unwrap().is_empty());
        assert!(parse_list("1, 2").is_err());
        assert!(parse_list("[1,,2]").is_err());
    }

    #[test]
    fn types() {
        assert!(check_type(FieldType::Integer, "12").is_ok());
        assert!(check_type(FieldType::Integer, "1.5").is_err());
        assert!(check_type(FieldType::Number, "24.7136").is_ok());
        assert!(check_type(FieldType::Number, "inf").is_err());
        assert!(check_type(FieldType::Boolean, "True").is_err());
    }
}
