//! Readable constructors of what a VM mounts: a bucket mount's credentials and read-only
//! volume and bucket mounts (hand-written; the types are generated, and these build through
//! their `new`, so they keep compiling when the spec gains an optional field). Credentials are
//! only ever sent, and their secret parts (a service account's private key, an AWS
//! credentials file) show as `<redacted>` in `Debug`.
//!
//! ```
//! use fastvm_api::types::BucketCredentials;
//!
//! let aws = BucketCredentials::aws_credentials_file(
//!     "[default]\naws_access_key_id = AKIA...\naws_secret_access_key = ...\n",
//! );
//! assert!(!format!("{aws:?}").contains("aws_secret_access_key"));
//! ```

use crate::types::{
    AwsCredentialsFile, BucketCredentials, CreateBucketMountRequest, GcpServiceAccountKey, GcpServiceAccountKeyType,
    VolumeMount,
};

impl VolumeMount {
    /// This mount, read-only when `read_only` (a read-only volume is mounted read-only
    /// whatever this says).
    ///
    /// ```
    /// use fastvm_api::types::VolumeMount;
    ///
    /// let mount = VolumeMount::new("8d0c7e5e-volume", "/mnt/shared").with_read_only(true);
    /// assert_eq!(mount.read_only, Some(true));
    /// ```
    pub fn with_read_only(mut self, read_only: bool) -> Self {
        self.read_only = Some(read_only);
        self
    }
}

impl CreateBucketMountRequest {
    /// This mount, read-only when `read_only`.
    ///
    /// ```
    /// use fastvm_api::types::{BucketCredentials, CreateBucketMountRequest};
    ///
    /// let creds = BucketCredentials::aws_credentials_file("[default]\n...");
    /// let mount = CreateBucketMountRequest::new("s3://logs", "/mnt/logs", creds).with_read_only(true);
    /// assert_eq!(mount.read_only, Some(true));
    /// ```
    pub fn with_read_only(mut self, read_only: bool) -> Self {
        self.read_only = Some(read_only);
        self
    }
}

impl BucketCredentials {
    /// A GCP service account's credentials, from its email and PEM private key (the
    /// `client_email` and `private_key` of its JSON key file).
    ///
    /// ```
    /// use fastvm_api::types::BucketCredentials;
    ///
    /// let key = BucketCredentials::gcp_service_account("reader@proj.iam.gserviceaccount.com", "-----BEGIN PRIVATE KEY-----\n...");
    /// assert!(!format!("{key:?}").contains("BEGIN PRIVATE KEY"));
    /// ```
    pub fn gcp_service_account(client_email: impl Into<String>, private_key: impl Into<String>) -> Self {
        BucketCredentials::GcpServiceAccountJson(GcpServiceAccountKey::new(
            client_email,
            private_key,
            GcpServiceAccountKeyType::ServiceAccount,
        ))
    }

    /// A GCP service account's credentials, read from the text of its JSON key file (only
    /// `client_email` and `private_key` are kept). The error says what is missing and never
    /// repeats the file's content.
    ///
    /// ```
    /// use fastvm_api::types::BucketCredentials;
    ///
    /// let json = r#"{"type": "service_account", "client_email": "r@p.iam.gserviceaccount.com", "private_key": "-----BEGIN PRIVATE KEY-----\n..."}"#;
    /// assert!(BucketCredentials::gcp_service_account_json(json).is_ok());
    /// assert!(BucketCredentials::gcp_service_account_json("{}").is_err());
    /// ```
    pub fn gcp_service_account_json(key_file: &str) -> Result<Self, InvalidKeyFile> {
        let value: serde_json::Value = serde_json::from_str(key_file).map_err(|_| InvalidKeyFile(Why::NotJson))?;
        let field = |name: &'static str| {
            value
                .get(name)
                .and_then(serde_json::Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .ok_or(InvalidKeyFile(Why::Missing(name)))
        };
        let kind = value.get("type").and_then(serde_json::Value::as_str);
        if kind.is_some_and(|k| k != "service_account") {
            return Err(InvalidKeyFile(Why::NotServiceAccount));
        }
        Ok(Self::gcp_service_account(field("client_email")?, field("private_key")?))
    }

    /// AWS credentials: the text of a shared-credentials file (INI) with a `[default]`
    /// section holding `aws_access_key_id` and `aws_secret_access_key`.
    ///
    /// ```
    /// use fastvm_api::types::BucketCredentials;
    ///
    /// let text = "[default]\naws_access_key_id = AKIA...\naws_secret_access_key = ...\n";
    /// let creds = BucketCredentials::aws_credentials_file(text);
    /// # let _ = creds;
    /// ```
    pub fn aws_credentials_file(text: impl Into<String>) -> Self {
        BucketCredentials::AwsCredentials(AwsCredentialsFile::new(text))
    }
}

/// A GCP key file that [`BucketCredentials::gcp_service_account_json`] cannot use: not JSON,
/// or a member missing, empty or of another type (named). Its message never shows the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidKeyFile(Why);

/// What is wrong with the key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    NotJson,
    NotServiceAccount,
    /// This member is missing, empty or not a string.
    Missing(&'static str),
}

impl std::fmt::Display for InvalidKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Why::NotJson => f.write_str("the service account key file is not JSON"),
            Why::NotServiceAccount => f.write_str("the key file's `type` is not `service_account`"),
            Why::Missing(member) => write!(f, "the service account key file has no `{member}` string"),
        }
    }
}

impl std::error::Error for InvalidKeyFile {}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEsecret\n-----END PRIVATE KEY-----\n";

    #[test]
    fn a_key_file_keeps_email_and_key_and_never_shows_them() {
        let json = serde_json::json!({
            "type": "service_account", "project_id": "p", "private_key_id": "k1",
            "client_email": "r@p.iam.gserviceaccount.com", "private_key": KEY,
        })
        .to_string();
        let creds = BucketCredentials::gcp_service_account_json(&json).unwrap();
        let BucketCredentials::GcpServiceAccountJson(key) = &creds else {
            panic!("not a GCP key: {creds:?}")
        };
        assert_eq!(key.client_email, "r@p.iam.gserviceaccount.com");
        assert_eq!(key.private_key, KEY);
        assert!(!format!("{creds:?}").contains("MIIEsecret"));
        // The wire shape: {"type": "gcp-service-account-json", "value": {...}}.
        let wire = serde_json::to_value(&creds).unwrap();
        assert_eq!(wire["type"], "gcp-service-account-json");
        assert_eq!(wire["value"]["type"], "service_account");
        assert_eq!(wire["value"]["private_key"], KEY);
        assert!(wire["value"].get("project_id").is_none());
    }

    #[test]
    fn a_bad_key_file_is_named_without_its_content() {
        for (text, expected) in [
            ("not json {", Why::NotJson),
            (r#"{"client_email": "a@b"}"#, Why::Missing("private_key")),
            (
                r#"{"private_key": "MIIEsecret", "client_email": 3}"#,
                Why::Missing("client_email"),
            ),
            (
                r#"{"type": "authorized_user", "client_email": "a@b", "private_key": "MIIEsecret"}"#,
                Why::NotServiceAccount,
            ),
        ] {
            let err = BucketCredentials::gcp_service_account_json(text).unwrap_err();
            assert_eq!(err, InvalidKeyFile(expected));
            assert!(!err.to_string().contains("MIIEsecret"), "{err}");
        }
    }

    #[test]
    fn aws_credentials_are_redacted() {
        let creds = BucketCredentials::aws_credentials_file("[default]\naws_secret_access_key = wJalrXUtnFEMI\n");
        assert!(!format!("{creds:?}").contains("wJalrXUtnFEMI"));
        assert_eq!(serde_json::to_value(&creds).unwrap()["type"], "aws-credentials");
    }
}
