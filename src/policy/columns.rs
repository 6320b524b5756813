//! Column rules: what each column of the export becomes in the bundle.
//!
//! The types a checked [`super::Policy`] holds for its `[columns.*]` tables: a
//! [`ColumnRule`] per column, whose [`Action`] (with its [`Precision`] or [`CoordMode`])
//! says what is done to every value, and which input [`Table`] it reads. The build
//! (`transform`, `pipeline`), `plan`, staff verify and the data dictionary all read
//! them; `to_toml` and `describe` write them back for `plan` and the dictionary.
//! `IDENTITY_COLUMNS` lists the columns that name accounts, which `check.rs` refuses
//! to publish raw. Parsing a rule from the TOML is in `check.rs`.

use std::fmt;

use serde::Deserialize;

use crate::values::FieldType;

/// Columns that name an account: they may only be published through an identifier
/// action (or not at all), never kept raw.
pub(super) const IDENTITY_COLUMNS: [(&str, Kind); 7] = [
    ("userid", Kind::Id),
    ("user_screen_name", Kind::Name),
    ("user_display_name", Kind::Name),
    ("in_reply_to_userid", Kind::Id),
    ("retweet_userid", Kind::Id),
    ("user_mentions", Kind::IdList),
    ("user_profile_url", Kind::Text),
];

/// What an identity column holds, and so which action may publish it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Id,
    Name,
    IdList,
    Text,
}

/// Which post IDs are replaced by pseudonyms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PostIds {
    /// Post IDs are published as they are (the public archive's choice).
    Raw,
    /// Every post ID written by or pointing at a pseudonymised account is hashed,
    /// wherever it is written: posts by pseudonymised accounts, replies to and
    /// retweets of them, quotes of their posts (and quotes of posts whose author
    /// `tweets.csv` does not know).
    PseudonymisedAccounts,
    /// Every post ID is hashed.
    All,
}

impl PostIds {
    /// The policy's (and the record's) name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            PostIds::Raw => "raw",
            PostIds::PseudonymisedAccounts => "pseudonymised-accounts",
            PostIds::All => "all",
        }
    }
}

/// How much of a date or time is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    /// `YYYY`.
    Year,
    /// `YYYY-MM`.
    Month,
    /// `YYYY-MM-DD`.
    Day,
    /// `YYYY-MM-DD HH`.
    Hour,
    /// `YYYY-MM-DD HH:MM`.
    Minute,
}

impl Precision {
    /// Reads a policy's `precision`; hours and minutes only for a time.
    pub(super) fn parse(text: &str, allow_time: bool) -> std::result::Result<Self, String> {
        let p = match text {
            "year" => Precision::Year,
            "month" => Precision::Month,
            "day" => Precision::Day,
            "hour" if allow_time => Precision::Hour,
            "minute" if allow_time => Precision::Minute,
            other => {
                return Err(format!(
                    "unknown precision `{other}` (expected {})",
                    if allow_time {
                        "year, month, day, hour or minute"
                    } else {
                        "year, month or day"
                    }
                ))
            }
        };
        Ok(p)
    }

    /// Number of leading characters of `YYYY-MM-DD HH:MM` kept at this precision.
    pub fn chars(self) -> usize {
        match self {
            Precision::Year => 4,
            Precision::Month => 7,
            Precision::Day => 10,
            Precision::Hour => 13,
            Precision::Minute => 16,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Precision::Year => "year",
            Precision::Month => "month",
            Precision::Day => "day",
            Precision::Hour => "hour",
            Precision::Minute => "minute",
        }
    }
}

/// What is done to coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordMode {
    /// Published as they are (validated as numbers).
    Keep,
    /// Rounded to this many decimals.
    Round(u8),
    /// `present` when the field has a value, `absent` when empty.
    Presence,
}

/// What one column action does to a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Published as it is, validated as the type.
    Keep(FieldType),
    /// Never published.
    Drop,
    /// A user ID: the pseudonym when that account is pseudonymised.
    AccountId,
    /// The screen or display name of the row's own account: the pseudonym when the
    /// account is pseudonymised.
    AccountName,
    /// A list of user IDs (`[1, 2]`), each replaced as for `AccountId`.
    AccountIds,
    /// A post ID, hashed per `pseudonymisation.post_ids`.
    PostId,
    /// Free text: `@mentions`, platform links and names of pseudonymised accounts rewritten.
    Text,
    /// Published empty.
    Blank,
    /// Published as this fixed value.
    Constant(String),
    /// A `YYYY-MM-DD` date cut to a precision.
    Date(Precision),
    /// A `YYYY-MM-DD HH:MM` time cut to a precision.
    DateTime(Precision),
    /// Latitude or longitude.
    Coordinates(CoordMode),
}

impl Action {
    /// The action's name in the policy (`keep`, `date`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Keep(_) => "keep",
            Action::Drop => "drop",
            Action::AccountId => "account_id",
            Action::AccountName => "account_name",
            Action::AccountIds => "account_ids",
            Action::PostId => "post_id",
            Action::Text => "text",
            Action::Blank => "blank",
            Action::Constant(_) => "constant",
            Action::Date(_) => "date",
            Action::DateTime(_) => "datetime",
            Action::Coordinates(_) => "coordinates",
        }
    }

    /// The action as the policy writes it: a quoted name, or an inline table with
    /// its options.
    pub fn to_toml(&self) -> String {
        let quote = |v: &str| toml::Value::String(v.to_string()).to_string();
        match self {
            Action::Keep(FieldType::String) => quote("keep"),
            Action::Keep(t) => format!(
                "{{ action = \"keep\", type = \"{}\" }}",
                schema_type_name(*t)
            ),
            Action::Constant(v) => format!("{{ action = \"constant\", value = {} }}", quote(v)),
            Action::Date(p) | Action::DateTime(p) => format!(
                "{{ action = \"{}\", precision = \"{}\" }}",
                self.name(),
                p.name()
            ),
            Action::Coordinates(CoordMode::Keep) => quote("coordinates"),
            Action::Coordinates(CoordMode::Round(d)) => {
                format!("{{ action = \"coordinates\", mode = \"round\", decimals = {d} }}")
            }
            Action::Coordinates(CoordMode::Presence) => {
                "{ action = \"coordinates\", mode = \"present\" }".to_string()
            }
            other => quote(other.name()),
        }
    }
    /// The short name used in the policy and the data dictionary.
    pub fn describe(&self) -> String {
        match self {
            Action::Keep(t) => match t {
                FieldType::String => "kept as is".into(),
                t => format!("kept as is ({})", schema_type_name(*t)),
            },
            Action::Drop => "dropped".into(),
            Action::AccountId => {
                "user ID; replaced by the account's pseudonym when the account is pseudonymised"
                    .into()
            }
            Action::AccountName => {
                "account name; replaced by the account's pseudonym when the account is pseudonymised (a public account's name is rewritten like text, so it never carries a pseudonymised account's name)"
                    .into()
            }
            Action::AccountIds => {
                "list of user IDs; each pseudonymised account's ID replaced by its pseudonym".into()
            }
            Action::PostId => "post ID".into(),
            Action::Text => "free text; @mentions, profile and post links and names of pseudonymised accounts replaced by their pseudonyms".into(),
            Action::Blank => "always empty".into(),
            Action::Constant(v) => format!("always `{v}`"),
            Action::Date(p) | Action::DateTime(p) => format!("cut to the {}", p.name()),
            Action::Coordinates(CoordMode::Keep) => "kept as is (number)".into(),
            Action::Coordinates(CoordMode::Round(n)) => format!("rounded to {n} decimals"),
            Action::Coordinates(CoordMode::Presence) => {
                "`present` when the post had coordinates, `absent` when not".into()
            }
        }
    }

    /// The Frictionless field type and format of the values this action produces.
    pub fn schema_type(&self) -> (&'static str, Option<&'static str>) {
        match self {
            Action::Keep(FieldType::DateTime) => ("datetime", Some("%Y-%m-%d %H:%M")),
            Action::Keep(t) => (schema_type_name(*t), None),
            Action::Date(p) | Action::DateTime(p) => match p {
                Precision::Year => ("year", None),
                Precision::Month => ("yearmonth", None),
                Precision::Day => ("date", None),
                Precision::Hour => ("string", None),
                Precision::Minute => ("datetime", Some("%Y-%m-%d %H:%M")),
            },
            Action::Coordinates(CoordMode::Keep | CoordMode::Round(_)) => ("number", None),
            _ => ("string", None),
        }
    }
}

fn schema_type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::String => "string",
        FieldType::Integer => "integer",
        FieldType::Number => "number",
        FieldType::Boolean => "boolean",
        FieldType::Date => "date",
        FieldType::DateTime => "datetime",
    }
}

/// A column's classification: its action, and optionally another for the rows of
/// pseudonymised accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRule {
    /// For every row.
    pub action: Action,
    /// For rows of pseudonymised accounts, when different.
    pub pseudonymised: Option<Action>,
}

impl ColumnRule {
    /// The rule as a line of the policy's `[columns.*]` table: `column = ...`.
    pub fn to_toml(&self, column: &str) -> String {
        match &self.pseudonymised {
            None => format!("{column} = {}", self.action.to_toml()),
            Some(p) => {
                let main = self.action.to_toml();
                let inner = main
                    .strip_prefix("{ ")
                    .and_then(|m| m.strip_suffix(" }"))
                    .map_or_else(|| format!("action = {main}"), str::to_string);
                format!("{column} = {{ {inner}, pseudonymised = {} }}", p.to_toml())
            }
        }
    }

    /// The action for a row whose account is (or is not) pseudonymised.
    pub fn action_for(&self, pseudonymised: bool) -> &Action {
        match (&self.pseudonymised, pseudonymised) {
            (Some(a), true) => a,
            _ => &self.action,
        }
    }

    /// Whether the column is never published.
    pub fn is_dropped(&self) -> bool {
        self.action == Action::Drop
    }
}

/// Which input file a column belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `accounts.csv`.
    Accounts,
    /// `tweets.csv`.
    Tweets,
}

impl Table {
    /// The input file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Table::Accounts => "accounts.csv",
            Table::Tweets => "tweets.csv",
        }
    }

    /// Its name under `[columns]`.
    pub(super) fn key(self) -> &'static str {
        match self {
            Table::Accounts => "accounts",
            Table::Tweets => "tweets",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}
