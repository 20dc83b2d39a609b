//! OpenSSH public keys: parsing `<type> <base64> [comment]` and the `SHA256:` fingerprint
//! that `ssh-keygen -lf` prints (unpadded base64 of the SHA-256 of the decoded key blob).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

/// Key types the API documents.
const KNOWN_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// A parsed public key: the normalized `<type> <base64>` text (comment stripped) and its
/// fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    pub public_key: String,
    pub fingerprint: String,
}

/// Parses an OpenSSH public key line, rejecting newlines, unknown types and blobs whose
/// embedded type name disagrees with the declared one.
pub fn parse(line: &str) -> Result<ParsedKey, String> {
    if line.contains('\n') || line.contains('\r') {
        return Err("publicKey must be a single line".into());
    }
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(b64)) = (parts.next(), parts.next()) else {
        return Err("publicKey must look like '<type> <base64> [comment]'".into());
    };
    if !KNOWN_TYPES.contains(&kind) {
        return Err(format!("unsupported key type {kind:?}"));
    }
    let blob = STANDARD
        .decode(b64)
        .map_err(|_| "publicKey blob is not valid base64".to_string())?;
    // The blob starts with the key type as an SSH string (u32 big-endian length + bytes).
    let embedded = blob
        .get(..4)
        .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize)
        .and_then(|n| blob.get(4..4 + n));
    if embedded != Some(kind.as_bytes()) {
        return Err("publicKey blob does not match its declared type".into());
    }
    Ok(ParsedKey {
        public_key: format!("{kind} {b64}"),
        fingerprint: fingerprint_of_blob(&blob),
    })
}

/// The OpenSSH SHA256 fingerprint of a decoded key blob.
pub fn fingerprint_of_blob(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Generated with `ssh-keygen -t ed25519`; `ssh-keygen -lf` printed the fingerprints below.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGfWKDypYxh9k4VQH+JgkxbE1p4BzWv0Gh65glAi+CQ me@host";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDBcK++VI0ph9l35mhFKPZS75LeGpgv2WSRyOYCSmb5K6qH9y/iYfrcFf5qIXeHip14enSbaRaZ9TKtFVKBJlFAXwIoObvaGn802oWoE/VWGarr1rL3onvRaVxRT0yk1HEJEhKLJK1WSJB0qwlyevwPr+z67X6l6ZjwMn3/t566LQ== root@vm";

    #[test]
    fn fingerprints_match_ssh_keygen() {
        let k = parse(ED25519).unwrap();
        assert_eq!(k.fingerprint, "SHA256:zh+clZr1I3/nhfKn28aLGRIwOA4ff2ORSTI8Cs4Ovq4");
        assert_eq!(
            k.public_key,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGfWKDypYxh9k4VQH+JgkxbE1p4BzWv0Gh65glAi+CQ"
        );
        let r = parse(RSA).unwrap();
        assert_eq!(r.fingerprint, "SHA256:oiPAZuK79Q3oTWF7RoIlpwx+LKviiz3UDC74KuHmxLE");
        assert!(!r.public_key.contains("root@vm"));
    }

    #[test]
    fn rejects_bad_keys() {
        assert!(parse(&format!("{ED25519}\nssh-rsa AAAA")).is_err());
        assert!(parse("ssh-ed25519").is_err());
        assert!(parse("ssh-dss AAAAB3NzaC1kc3M=").is_err());
        assert!(parse("ssh-ed25519 !!!notbase64").is_err());
        // An RSA blob declared as ed25519.
        let rsa_blob = RSA.split(' ').nth(1).unwrap();
        assert!(parse(&format!("ssh-ed25519 {rsa_blob}")).is_err());
    }
}
