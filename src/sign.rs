//! Signed bundles: Ed25519 key pairs and signatures in minisign's format, so anyone
//! can check who published a bundle with the standard `minisign -V` tool.
//!
//! Secret keys are written unencrypted with mode 0600 (release workflows run without
//! prompts); a secret key encrypted by `minisign -G` is accepted when its password is
//! in the environment variable `DISCLOSE_SIGNING_PASSWORD`. Nothing ever prompts.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use minisign::{KeyPair, PublicKeyBox, SecretKeyBox, SignatureBox};

use crate::error::{Error, Result};

/// The environment variable holding an encrypted secret key's password.
pub const PASSWORD_ENV: &str = "DISCLOSE_SIGNING_PASSWORD";

fn key_err(file: &Path, message: impl Into<String>) -> Error {
    Error::Key {
        file: file.to_path_buf(),
        message: message.into(),
    }
}

/// Where the public key of a secret key file goes: `FILE.pub`.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut s = secret.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Makes a signing key pair: the secret key at `secret` (mode 0600), the public key
/// at `secret.pub`. Never overwrites. Returns the public key's path and its key ID.
pub fn generate(secret: &Path) -> Result<(PathBuf, String)> {
    let public = public_path(secret);
    for p in [secret, public.as_path()] {
        if p.exists() {
            return Err(key_err(p, "already exists; keygen never overwrites a key"));
        }
    }
    let KeyPair { pk, sk } = KeyPair::generate_unencrypted_keypair()
        .map_err(|e| key_err(secret, format!("cannot make a key pair: {e}")))?;
    let sk_box = sk
        .to_box(Some(
            "disclose signing secret key (unencrypted; keep it private)",
        ))
        .map_err(|e| key_err(secret, e.to_string()))?;
    let pk_box = pk.to_box().map_err(|e| key_err(&public, e.to_string()))?;
    let exists = |p: &Path| key_err(p, "already exists; keygen never overwrites a key");
    crate::secret::write_secret_file(secret, sk_box.into_string().as_bytes(), || exists(secret))?;
    crate::secret::write_new_file(&public, 0o644, pk_box.into_string().as_bytes(), || {
        exists(&public)
    })?;
    let id = format!(
        "{:016X}",
        u64::from_le_bytes(pk.keynum().try_into().unwrap_or([0; 8]))
    );
    Ok((public, id))
}

/// A loaded secret signing key (load it before a long build, so a bad key fails
/// before any work).
pub struct SigningKey {
    sk: minisign::SecretKey,
    path: PathBuf,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.path.display())
    }
}

/// Reads a small text file whole: a regular file of at most `cap` bytes, UTF-8.
fn read_text(path: &Path, cap: u64, what: &str) -> std::result::Result<String, String> {
    let bytes = crate::files::read_capped(path, cap, what).map_err(|e| e.why)?;
    String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_string())
}

/// Loads a minisign secret key file.
pub fn load(secret: &Path) -> Result<SigningKey> {
    let text = read_text(secret, crate::limits::MAX_KEY_FILE_BYTES, "key file")
        .map_err(|why| key_err(secret, why))?;
    let sk_box = SecretKeyBox::from_string(&text).map_err(|e| key_err(secret, e.to_string()))?;
    let password = std::env::var(PASSWORD_ENV).ok();
    let sk = match password {
        Some(p) => sk_box.into_secret_key(Some(p)),
        None => sk_box.into_unencrypted_secret_key(),
    }
    .map_err(|e| {
        key_err(
            secret,
            format!("not a usable minisign secret key ({e}); an encrypted key needs its password in {PASSWORD_ENV}"),
        )
    })?;
    Ok(SigningKey {
        sk,
        path: secret.to_path_buf(),
    })
}

/// The minisign signature (text) of `file`, whose trusted comment names the bundle
/// `name` (`file` may be a temporary file that becomes `name`).
pub fn signature(key: &SigningKey, file: &Path, name: &str) -> Result<String> {
    let data = crate::files::open_regular(file)?;
    let sig = minisign::sign(
        None,
        &key.sk,
        std::io::BufReader::new(data),
        Some(&format!("file:{name}")),
        Some("signature from disclose"),
    )
    .map_err(|e| key_err(&key.path, format!("cannot sign: {e}")))?;
    Ok(sig.into_string())
}

/// Signs `file`, writing `file.minisig` beside it (atomically). The trusted comment
/// names the file, so a signature cannot be moved to another bundle unnoticed.
pub fn sign(key: &SigningKey, file: &Path) -> Result<PathBuf> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let data = fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let sig = minisign::sign(
        None,
        &key.sk,
        std::io::BufReader::new(data),
        Some(&format!("file:{name}")),
        Some("signature from disclose"),
    )
    .map_err(|e| key_err(&key.path, format!("cannot sign: {e}")))?;
    let mut sig_path = file.as_os_str().to_owned();
    sig_path.push(".minisig");
    let sig_path = PathBuf::from(sig_path);
    let dir = sig_path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(sig.into_string().as_bytes())
        .map_err(|e| Error::io(&sig_path, e))?;
    tmp.persist(&sig_path)
        .map_err(|e| Error::io(&sig_path, e.error))?;
    Ok(sig_path)
}

/// Checks `sig` (minisign format) over `file` with the public key in `public`.
/// `Ok(Err(reason))` when the signature does not hold.
pub fn verify(
    public: &Path,
    file: &Path,
    sig: &Path,
) -> Result<std::result::Result<String, String>> {
    let text = read_text(public, crate::limits::MAX_KEY_FILE_BYTES, "key file")
        .map_err(|why| key_err(public, why))?;
    let pk = PublicKeyBox::from_string(&text)
        .and_then(|b| b.into_public_key())
        .map_err(|e| key_err(public, format!("not a minisign public key: {e}")))?;
    let sig_text = match read_text(sig, crate::limits::MAX_SIGNATURE_BYTES, "signature file") {
        Ok(t) => t,
        Err(why) => {
            return Ok(Err(format!(
                "{}: cannot read the signature: {why}",
                sig.display()
            )))
        }
    };
    let sig_box = match SignatureBox::from_string(&sig_text) {
        Ok(b) => b,
        Err(e) => {
            return Ok(Err(format!(
                "{}: not a minisign signature: {e}",
                sig.display()
            )))
        }
    };
    let data = crate::files::open_regular(file)?;
    match minisign::verify(
        &pk,
        &sig_box,
        std::io::BufReader::new(data),
        true,
        false,
        false,
    ) {
        Ok(()) => Ok(Ok(sig_box.trusted_comment().unwrap_or_default())),
        Err(e) => Ok(Err(format!(
            "{}: signature does not match: {e}",
            sig.display()
        ))),
    }
}
