//! Signed bundles: `keygen --signing`, `build --sign`, checked by the real `minisign`.

use std::fs;
use std::process::Command;

use crate::workdir::*;

fn minisign_available() -> bool {
    let ok = Command::new("minisign").arg("-v").output().is_ok();
    if !ok {
        // CI installs minisign (.ci/run); elsewhere the check is skipped, loudly.
        assert!(
            std::env::var_os("CI").is_none(),
            "minisign is not installed"
        );
        eprintln!("minisign is not installed: skipping the minisign -V checks");
    }
    ok
}

#[test]
fn signing_keys_are_private_and_never_overwritten() {
    let wd = Workdir::new();
    assert_ok(&wd.run(&["keygen", "--signing", "--out", "release-signing.key"]));
    let secret = fs::read_to_string(wd.path("release-signing.key")).unwrap();
    let public = fs::read_to_string(wd.path("release-signing.key.pub")).unwrap();
    assert!(public.starts_with("untrusted comment: minisign public key"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(wd.path("release-signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let err = assert_exit(
        &wd.run(&["keygen", "--signing", "--out", "release-signing.key"]),
        2,
    );
    assert!(err.contains("never overwrites"), "{err}");
    assert_eq!(
        fs::read_to_string(wd.path("release-signing.key")).unwrap(),
        secret
    );
}

#[test]
fn minisign_accepts_the_signature_and_rejects_a_changed_bundle() {
    let wd = Workdir::new();
    wd.export(&[account("1", "a", "10", "core")], &[tweet("2", "1", "hi")]);
    assert_ok(&wd.run(&["keygen", "--signing", "--out", "sk"]));
    assert_ok(&wd.build(&["--sign", "sk"]));
    let sig = wd.path("out/test_release.zip.minisig");
    assert!(sig.exists());
    // disclose verify --pubkey checks it too, and fails on any change.
    assert_ok(&wd.run(&["verify", "out/test_release.zip", "--pubkey", "sk.pub"]));
    fs::copy(wd.path("out/test_release.zip"), wd.path("keep.zip")).unwrap();
    let mut b = fs::read(wd.path("out/test_release.zip")).unwrap();
    let n = b.len() - 30;
    b[n] ^= 0x40;
    fs::write(wd.path("out/test_release.zip"), &b).unwrap();
    let out = wd.run(&["verify", "out/test_release.zip", "--pubkey", "sk.pub"]);
    assert_exit(&out, 1);
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("signature"), "{err}");
    fs::copy(wd.path("keep.zip"), wd.path("out/test_release.zip")).unwrap();
    // Another key's signature is refused.
    assert_ok(&wd.run(&["keygen", "--signing", "--out", "other"]));
    let out = wd.run(&["verify", "out/test_release.zip", "--pubkey", "other.pub"]);
    assert_exit(&out, 1);
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("test_release.zip.minisig"), "{err}");
    if !minisign_available() {
        return;
    }
    let check = |zip: &str| {
        Command::new("minisign")
            .args([
                "-V",
                "-p",
                "sk.pub",
                "-m",
                zip,
                "-x",
                "out/test_release.zip.minisig",
            ])
            .current_dir(wd.path(""))
            .output()
            .unwrap()
    };
    let good = check("out/test_release.zip");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("file:test_release.zip"));
    let mut bytes = fs::read(wd.path("out/test_release.zip")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(wd.path("out/changed.zip"), &bytes).unwrap();
    assert!(!check("out/changed.zip").status.success());
}

#[test]
fn a_bad_signing_key_fails_before_any_work() {
    let wd = Workdir::new();
    wd.export(&[account("1", "a", "10", "core")], &[tweet("2", "1", "hi")]);
    wd.write("bad.key", "not a key\n");
    let err = assert_exit(&wd.build(&["--sign", "bad.key"]), 2);
    assert!(err.contains("bad.key"), "{err}");
    assert!(!wd.path("out/test_release.zip").exists());
}
