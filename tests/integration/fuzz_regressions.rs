//! Every input under tests/data/fuzz/<target>/ (the fuzzers' seeds, and each input
//! that ever made a target fail) replayed through the target's own check.

use std::path::PathBuf;

use crate::fuzz_checks::{
    check_parse_list, check_policy, check_rewrite, check_value, check_verify_reader, replay,
};

fn replay_target(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(target);
    let n = replay(&dir, check);
    assert!(n > 0, "no inputs in {}", dir.display());
}

#[test]
fn parse_list_inputs() {
    replay_target("parse_list", check_parse_list);
}

#[test]
fn rewrite_text_inputs() {
    replay_target("rewrite_text", check_rewrite);
}

#[test]
fn policy_inputs() {
    replay_target("policy", check_policy);
}

#[test]
fn column_value_inputs() {
    replay_target("column_value", check_value);
}

#[test]
fn verify_reader_inputs() {
    replay_target("verify_reader", check_verify_reader);
}

/// The seeds are not trivially accepted or refused: each check has work to do.
#[test]
fn seeds_exercise_the_checks() {
    let seed = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/rewrite_text/seed-mixed"),
    )
    .unwrap();
    let (accts, text) = crate::fuzz_checks::decode_rewrite_input(&seed);
    assert_eq!(accts.len(), 3);
    assert!(accts[0].private && !accts[1].private && accts[2].private);
    assert!(text.starts_with("RT @secretsam"));
    let policy = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/policy/seed-minimal.toml"),
    )
    .unwrap();
    disclose::policy::Policy::parse(&policy, std::path::Path::new("seed.toml")).unwrap();
}

/// The rewrite check does catch a leak (it is not vacuous).
#[test]
fn rewrite_check_catches_a_leak() {
    let accts = [crate::fuzz_checks::Acct {
        id: "42".into(),
        handle: "Hidden".into(),
        private: true,
        in_directory: false,
    }];
    assert!(crate::fuzz_checks::rewrite_violation(&accts, "hi @hidden", "hi @HIDDEN").is_some());
    assert!(crate::fuzz_checks::rewrite_violation(&accts, "id 42", "id 42.").is_some());
    assert!(crate::fuzz_checks::rewrite_violation(&accts, "x/status/42", "x/status/42").is_none());
    // Obfuscated forms too: the oracle is the independent normalised scan.
    for leak in [
        "hi @H\u{200b}IDDEN",
        "&#72;idden",
        "%2548idden",
        "\\u0048idden",
        "#Free_Ｈｉｄｄｅｎ",
        "Hіdden_x",
        "id ４２",
    ] {
        assert!(
            crate::fuzz_checks::rewrite_violation(&accts, leak, leak).is_some(),
            "{leak}"
        );
    }
}

/// A registry made without matching rules (the build's before its selection, staff
/// verify's and `pseudonym`'s lookups) refuses to rewrite text or to vouch for a kept
/// value until they are set: a missing matcher never reads as "nothing to find".
#[test]
fn a_registry_without_matching_rules_refuses_to_rewrite() {
    use disclose::identity::{Key, Pseudonymizer};
    use disclose::transform::Registry;
    let accts = [crate::fuzz_checks::Acct {
        id: "42".into(),
        handle: "Hidden".into(),
        private: true,
        in_directory: false,
    }];
    let export = crate::fuzz_checks::export(&accts);
    let pz = || Pseudonymizer::new(&Key::from_bytes([7; 32]), 64);
    let mut reg = Registry::without_matching(&export, crate::fuzz_checks::THRESHOLD, pz());
    // Lookups work.
    assert!(reg.id_is_private("42"));
    let rewrite = |reg: &Registry| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut out = String::new();
            disclose::transform::rewrite::rewrite_text(
                "hi @Hidden",
                reg,
                disclose::policy::PostIds::All,
                &mut out,
            );
            out
        }))
    };
    assert!(
        rewrite(&reg).is_err(),
        "rewrote text without matching rules"
    );
    let kept = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        disclose::transform::rewrite::private_word("Hidden", &reg).is_none()
    }));
    assert!(
        kept.is_err(),
        "vouched for a kept value without matching rules"
    );
    // Once set, it rewrites like a registry made with them.
    reg.set_matching(
        Default::default(),
        std::iter::empty(),
        disclose::transform::idset::IdSet::default(),
    );
    let out = rewrite(&reg).expect("rewrites once the rules are set");
    assert!(!out.to_lowercase().contains("hidden"), "{out}");
    let with = Registry::new(&export, crate::fuzz_checks::THRESHOLD, pz());
    assert_eq!(rewrite(&with).expect("rewrites"), out);
}
