//! Client configuration: the builder, environment variables and per-call options.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::{Error, Result, RetryPolicy};

pub mod file;

/// Header carrying the API key.
pub(crate) const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// The API's default base URL.
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.fastvm.org";
/// Environment variable holding the API key.
pub(crate) const ENV_API_KEY: &str = "FASTVM_API_KEY";
/// Environment variable overriding the base URL.
pub(crate) const ENV_BASE_URL: &str = "FASTVM_BASE_URL";
/// Environment variable with extra headers, one `Name: value` per line (as the official SDKs).
pub(crate) const ENV_CUSTOM_HEADERS: &str = "FASTVM_CUSTOM_HEADERS";
/// Default per-request timeout of ordinary API calls.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default connect timeout.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The API key. Its `Debug` output is redacted so it cannot leak through logs.
#[derive(Clone)]
pub(crate) struct ApiKey(pub(crate) HeaderValue);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl ApiKey {
    pub(crate) fn new(key: &str) -> Result<Self> {
        let key = key.trim();
        if key.is_empty() {
            return Err(Error::config("the API key is empty"));
        }
        let mut value = HeaderValue::from_str(key)
            .map_err(|_| Error::config("the API key contains characters not allowed in an HTTP header"))?;
        // Sensitive values are never printed by `http`'s Debug and get HPACK's never-index flag.
        value.set_sensitive(true);
        Ok(ApiKey(value))
    }
}

/// Builds a [`FastvmClient`](crate::FastvmClient).
///
/// Every option left unset is taken from the environment, as the official SDKs' constructors
/// do: the API key from `FASTVM_API_KEY`, the base URL from `FASTVM_BASE_URL` (an empty
/// variable counts as unset), and extra headers from `FASTVM_CUSTOM_HEADERS` (one `Name: value`
/// per line, under the headers set with [`default_header`](Self::default_header)). What is set
/// here wins.
///
/// ```
/// use std::time::Duration;
/// let client = fastvm::FastvmClient::builder()
///     .api_key("hlm_example")
///     .base_url("http://127.0.0.1:8080")
///     .timeout(Duration::from_secs(30))
///     .max_retries(3)
///     .build()?;
/// # Ok::<(), fastvm::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct ClientBuilder {
    api_key: Option<String>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    retry: RetryPolicy,
    user_agent: Option<String>,
    default_headers: Vec<(String, String)>,
    http_client: Option<HttpClient>,
    storage_client: Option<HttpClient>,
    /// Read the CLI's configuration file: `Some(None)` at its default path.
    config_file: Option<Option<std::path::PathBuf>>,
}

/// Wrapper so that the builder stays `Debug` without printing the injected client's internals.
#[derive(Clone)]
struct HttpClient(reqwest::Client);

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reqwest::Client")
    }
}

impl ClientBuilder {
    /// A builder with nothing set: `build` takes what is unset from the environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// The API key sent as `X-API-Key` on every API request (never on presigned storage URLs).
    /// Default: `FASTVM_API_KEY`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The API base URL. Default: `FASTVM_BASE_URL`, else `https://api.fastvm.org`. A trailing
    /// `/` is trimmed; a URL with a query string, fragment or credentials is refused by `build`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Per-request timeout of ordinary API calls (default 60 s). A launch and a snapshot
    /// creation get at least 300 s: the server may take minutes to answer them, and giving up
    /// early would abandon the VM or snapshot being made (they are not retried). It does not
    /// apply to exec streams, buffered exec without a timeout, or transfers, which run as long
    /// as needed.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Connect timeout (default 10 s). Ignored when a client is injected with [`Self::http_client`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How failed calls are retried (default [`RetryPolicy::new`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Retries after the first attempt (default 2; 0 disables retries): a shortcut for the
    /// [`RetryPolicy`]'s own setting.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retry = self.retry.max_retries(retries);
        self
    }

    /// A suffix appended to the `User-Agent` (`fastvm-rs/<version> <suffix>`).
    pub fn user_agent(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent = Some(suffix.into());
        self
    }

    /// A header sent on every API request (not on presigned storage URLs), unless the request
    /// sets that header itself (an exec stream's `Accept`). Given several times for one name,
    /// every value is sent. Values are never printed by `Debug`.
    pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.default_headers.push((name.into(), value.into()));
        self
    }

    /// Uses `client` for API requests instead of building one (it is shared, not copied), and
    /// for presigned storage URLs too unless [`storage_http_client`](Self::storage_http_client)
    /// gives another: its proxy, roots and other settings apply to transfers as well. The API
    /// key and default headers are added per API request, never to storage requests (headers
    /// configured on `client` itself go wherever it sends). Give it no total timeout
    /// (`reqwest::ClientBuilder::timeout`): it would cut exec streams and transfers. Its redirect
    /// policy is yours: the SDK's own client follows a redirect only to the same origin, so that
    /// the API key goes nowhere else (`reqwest::redirect::Policy::none()` is the safe choice).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(HttpClient(client));
        self
    }

    /// Uses `client` for presigned storage URLs (uploads and downloads) only.
    pub fn storage_http_client(mut self, client: reqwest::Client) -> Self {
        self.storage_client = Some(HttpClient(client));
        self
    }

    /// Also reads `api_key` and `base_url` from the CLI's configuration file
    /// (`$XDG_CONFIG_HOME/fastvm/config.toml`, default `~/.config/fastvm/config.toml`; see
    /// [`config_file`](crate::config::file)), below the setters and the environment: a value set
    /// here or in `FASTVM_API_KEY` / `FASTVM_BASE_URL` wins. Other keys are ignored; a missing
    /// file is no error, a malformed one is (when a value is needed from it). The SDK never reads
    /// the file unless asked with this method or [`config_file_at`](Self::config_file_at).
    pub fn config_file(mut self) -> Self {
        self.config_file = Some(None);
        self
    }

    /// [`config_file`](Self::config_file) at `path` instead of the default location.
    pub fn config_file_at(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.config_file = Some(Some(path.into()));
        self
    }

    /// The settings of the client [`build`](Self::build) makes, with the environment read
    /// through `env`.
    pub(crate) fn settings_with_env(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings> {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut key = self.api_key.or_else(|| set(ENV_API_KEY));
        let mut base_url = self.base_url.or_else(|| set(ENV_BASE_URL));
        // The configuration file, when asked for, fills in what is still unset.
        let file_path = match &self.config_file {
            Some(Some(path)) => Some(path.clone()),
            Some(None) => crate::config::file::default_path_with(&|n| env(n).map(Into::into)),
            None => None,
        };
        if let Some(path) = file_path.as_deref().filter(|_| key.is_none() || base_url.is_none()) {
            let file = crate::config::file::ConfigFile::load(path)?;
            let value = |k: &str| file.get(k).filter(|v| !v.trim().is_empty()).map(str::to_string);
            key = key.or_else(|| value("api_key"));
            base_url = base_url.or_else(|| value("base_url"));
        }
        let in_file = file_path
            .map(|p| format!(", or api_key in {}", p.display()))
            .unwrap_or_default();
        let key = key.ok_or_else(|| {
            Error::config(format!(
                "no API key: set {ENV_API_KEY} or call ClientBuilder::api_key{in_file}"
            ))
        })?;
        let api_key = ApiKey::new(&key)?;
        let base_url = normalize_base_url(base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &self.default_headers {
            append_header(&mut headers, name, value, "default header")?;
        }
        // The environment's headers come under the explicit ones: a name set in code wins.
        let explicit: Vec<HeaderName> = headers.keys().cloned().collect();
        for (line, entry) in set(ENV_CUSTOM_HEADERS).iter().flat_map(|v| v.lines()).enumerate() {
            if entry.trim().is_empty() {
                continue;
            }
            // The environment is read as the official SDKs read it, which build their client
            // whatever it holds: a line that is not a valid header is skipped with a warning
            // (naming the line, never its value), not an error.
            let what = format!("{ENV_CUSTOM_HEADERS} line {}", line + 1);
            let Some((name, value)) = entry.split_once(':') else {
                tracing::warn!("fastvm: {what} is not `Name: value`; skipped");
                continue;
            };
            let mut single = HeaderMap::new();
            if let Err(e) = append_header(&mut single, name.trim(), value.trim(), &what) {
                tracing::warn!("fastvm: {e}; skipped");
                continue;
            }
            for (name, value) in single {
                if let Some(name) = name.filter(|n| !explicit.contains(n)) {
                    headers.append(name, value);
                }
            }
        }
        let user_agent = match &self.user_agent {
            Some(s) => format!("fastvm-rs/{} {s}", env!("CARGO_PKG_VERSION")),
            None => format!("fastvm-rs/{}", env!("CARGO_PKG_VERSION")),
        };
        let user_agent = HeaderValue::from_str(&user_agent)
            .map_err(|_| Error::config("the user agent suffix is not a valid header value"))?;
        let connect_timeout = self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let injected_api_client = self.http_client.is_some();
        let http = match self.http_client {
            Some(HttpClient(c)) => c,
            None => api_client(connect_timeout)?,
        };
        let storage = match self.storage_client {
            Some(HttpClient(c)) => Storage::Given(c),
            // An injected API client serves storage too (its proxy and roots apply).
            None if injected_api_client => Storage::Given(http.clone()),
            // Presigned requests carry no API key or custom header: a storage redirect to
            // another host (a region, a CDN) is followed, as the official SDKs follow it. Built
            // on the first transfer: building a client (its TLS roots) takes milliseconds, and
            // many programs never transfer a file.
            None => Storage::Lazy {
                connect_timeout,
                client: std::sync::OnceLock::new(),
            },
        };
        Ok(Settings {
            api_key,
            base_url,
            timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
            retry: self.retry,
            user_agent,
            default_headers: headers,
            http,
            own_http: (!injected_api_client).then_some(connect_timeout),
            storage,
        })
    }
}

/// Appends the header `name: value` (from `what`, for messages) to `headers`, refusing invalid
/// names and values and the API key's header. Values are marked sensitive: never printed.
fn append_header(headers: &mut HeaderMap, name: &str, value: &str, what: &str) -> Result<()> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::config(format!("{what}: {name:?} is not a valid header name")))?;
    if name == API_KEY_HEADER {
        return Err(Error::config(format!(
            "{what}: the API key is set with ClientBuilder::api_key or {ENV_API_KEY}, not as a header"
        )));
    }
    let mut value = HeaderValue::from_str(value)
        .map_err(|_| Error::config(format!("{what}: the value of {name} is not allowed in an HTTP header")))?;
    value.set_sensitive(true);
    headers.append(name, value);
    Ok(())
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("user_agent", &self.user_agent)
            .field(
                "default_headers",
                &self.default_headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("http_client", &self.http_client)
            .field("storage_client", &self.storage_client)
            .field("config_file", &self.config_file)
            .finish()
    }
}

/// Everything the client needs, resolved; shared (in an `Arc`) by every view of a client.
pub(crate) struct Settings {
    pub(crate) api_key: ApiKey,
    pub(crate) base_url: String,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) user_agent: HeaderValue,
    pub(crate) default_headers: HeaderMap,
    /// The client of API requests.
    pub(crate) http: reqwest::Client,
    /// The connect timeout `http` was built with, when the SDK built it (`None`: injected).
    pub(crate) own_http: Option<Duration>,
    /// The client of presigned storage URLs.
    pub(crate) storage: Storage,
}

impl Settings {
    /// The same settings with an API client whose connection pool is shared with nobody, for
    /// work that runs on a runtime of its own (see `cleanup.rs`): a pooled connection belongs
    /// to the runtime that opened it, which may be blocked or shutting down. An injected client
    /// cannot be rebuilt, so it is kept (its proxy and roots are the caller's).
    pub(crate) fn with_own_pool(&self) -> Result<Settings> {
        let http = match self.own_http {
            Some(connect_timeout) => api_client(connect_timeout)?,
            None => self.http.clone(),
        };
        Ok(Settings {
            api_key: self.api_key.clone(),
            base_url: self.base_url.clone(),
            timeout: self.timeout,
            retry: self.retry.clone(),
            user_agent: self.user_agent.clone(),
            default_headers: self.default_headers.clone(),
            storage: Storage::Given(http.clone()),
            http,
            own_http: self.own_http,
        })
    }
}

/// The client of presigned storage URLs: the one given (or the injected API client), else one
/// of the SDK's own, made when first needed.
pub(crate) enum Storage {
    Given(reqwest::Client),
    Lazy {
        connect_timeout: Duration,
        client: std::sync::OnceLock<std::result::Result<reqwest::Client, String>>,
    },
}

impl Storage {
    /// The client, built on first use; an error says why it could not be built.
    pub(crate) fn client(&self) -> std::result::Result<&reqwest::Client, String> {
        match self {
            Storage::Given(c) => Ok(c),
            Storage::Lazy {
                connect_timeout,
                client,
            } => client
                .get_or_init(|| {
                    sdk_client(*connect_timeout)
                        .build()
                        .map_err(|e| format!("cannot build the storage HTTP client: {e}"))
                })
                .as_ref()
                .map_err(Clone::clone),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("default_headers", &self.default_headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Normalizes a base URL: trims whitespace and trailing `/`, requires http(s), refuses a query,
/// fragment or credentials (they would be sent on every request or leak into messages).
pub(crate) fn normalize_base_url(raw: &str) -> Result<String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = url::Url::parse(trimmed)
        .map_err(|e| Error::config(format!("base URL {:?} is not a URL: {e}", crate::redact::url(trimmed))))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(format!(
            "base URL must be http or https, not {}",
            url.scheme()
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "base URL {} must not have a query string or fragment",
            crate::redact::url(trimmed)
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config("base URL must not contain credentials; use the API key"));
    }
    if url.host_str().is_none() {
        return Err(Error::config("base URL has no host"));
    }
    Ok(trimmed.to_string())
}

/// Per-call overrides, applied with [`FastvmClient::with_options`](crate::FastvmClient::with_options).
///
/// ```
/// # fn demo(client: &fastvm::FastvmClient) {
/// use std::time::Duration;
/// let patient = client.with_options(
///     fastvm::RequestOptions::new().timeout(Duration::from_secs(300)).max_retries(5),
/// );
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct RequestOptions {
    pub(crate) timeout: Option<Option<Duration>>,
    pub(crate) max_retries: Option<u32>,
    pub(crate) retry_non_idempotent: Option<bool>,
}

impl RequestOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Per-request timeout for the calls made through this view.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(Some(timeout));
        self
    }

    /// No per-request timeout at all (the request lives as long as the server takes).
    pub fn no_timeout(mut self) -> Self {
        self.timeout = Some(None);
        self
    }

    /// Retries after the first attempt.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// Also retry operations that are not idempotent (launch, exec, snapshot create, …) on
    /// retryable failures. Only do this when a duplicate is harmless to you.
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        self.retry_non_idempotent = Some(yes);
        self
    }

    /// These options over `base`: what is set here wins, the rest comes from `base`.
    pub(crate) fn over(&self, base: &RequestOptions) -> RequestOptions {
        RequestOptions {
            timeout: self.timeout.or(base.timeout),
            max_retries: self.max_retries.or(base.max_retries),
            retry_non_idempotent: self.retry_non_idempotent.or(base.retry_non_idempotent),
        }
    }
}

/// The settings the SDK's own HTTP clients (API and storage) share. No total timeout:
/// per-request timeouts are set per operation by the transport, and transfers and exec streams
/// run as long as they need.
fn sdk_client(connect_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
}

/// The SDK's own client of API requests.
fn api_client(connect_timeout: Duration) -> Result<reqwest::Client> {
    sdk_client(connect_timeout)
        // reqwest strips only `Authorization` and cookies on a redirect to another host:
        // `X-API-Key` and the custom headers would follow it.
        .redirect(same_origin_redirects())
        .build()
        .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))
}

/// The API client's redirect policy: a redirect is followed only to the same origin (scheme,
/// host and port) as the request, so the API key is never sent anywhere else; any other
/// redirect is handed back as the answer (an [`Error::Api`] with its 3xx status).
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_none_or(|first| first.origin() == attempt.url().origin());
        if attempt.previous().len() > 10 {
            attempt.error("too many redirects")
        } else if same {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        assert_eq!(
            normalize_base_url("https://api.fastvm.org/").unwrap(),
            "https://api.fastvm.org"
        );
        assert_eq!(
            normalize_base_url(" http://127.0.0.1:9/prefix// ").unwrap(),
            "http://127.0.0.1:9/prefix"
        );
        assert!(normalize_base_url("https://x?y=1").is_err());
        assert!(normalize_base_url("https://x#frag").is_err());
        assert!(normalize_base_url("ftp://x").is_err());
        assert!(normalize_base_url("https://u:p@x").is_err());
        assert!(normalize_base_url("nope").is_err());
    }

    /// An environment of `pairs`, for `build_with_env`.
    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn unset_options_come_from_the_environment_and_setters_win() {
        let vars = env(&[
            ("FASTVM_API_KEY", "hlm_env"),
            ("FASTVM_BASE_URL", "http://127.0.0.1:7/"),
        ]);
        let client = ClientBuilder::new().max_retries(1).build_with_env(&vars).unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:7");
        assert_eq!(client.transport().settings.api_key.0, "hlm_env");
        assert_eq!(client.max_retries(), 1);
        let client = ClientBuilder::new()
            .api_key("hlm_code")
            .base_url("http://127.0.0.1:8")
            .build_with_env(&vars)
            .unwrap();
        assert_eq!(client.transport().settings.api_key.0, "hlm_code");
        assert_eq!(client.base_url(), "http://127.0.0.1:8");
        // An empty variable counts as unset.
        let empty = env(&[("FASTVM_API_KEY", " "), ("FASTVM_BASE_URL", "")]);
        match ClientBuilder::new().build_with_env(&empty) {
            Err(Error::Config { message, .. }) => assert!(message.contains("FASTVM_API_KEY"), "{message}"),
            other => panic!("{other:?}"),
        }
        let client = ClientBuilder::new().api_key("k").build_with_env(&empty).unwrap();
        assert_eq!(client.base_url(), DEFAULT_BASE_URL);
    }

    #[test]
    fn custom_headers_come_under_the_explicit_ones_and_stay_secret() {
        let vars = env(&[
            ("FASTVM_API_KEY", "k"),
            (
                "FASTVM_CUSTOM_HEADERS",
                "X-Team: infra\n\nX-Trace:  abc-secret-1 \nX-Both: from-env",
            ),
        ]);
        let client = ClientBuilder::new()
            .default_header("x-both", "from-code")
            .build_with_env(&vars)
            .unwrap();
        let headers = &client.transport().settings.default_headers;
        assert_eq!(headers["x-team"], "infra");
        assert_eq!(headers["x-trace"], "abc-secret-1");
        assert_eq!(headers.get_all("x-both").iter().collect::<Vec<_>>(), ["from-code"]);
        assert!(headers.values().all(HeaderValue::is_sensitive));
        let shown = format!("{client:?}");
        assert!(!shown.contains("abc-secret-1") && shown.contains("x-trace"), "{shown}");

        // Lines the official SDKs would pass along but that are no valid header here, or
        // that would replace the API key, are skipped (with a warning): the client still builds,
        // with the API key as configured and the valid lines.
        let odd = env(&[
            ("FASTVM_API_KEY", "k"),
            (
                "FASTVM_CUSTOM_HEADERS",
                "x-api-key: other\nX-Ok: 1\nno colon secret\nBad Name: v",
            ),
        ]);
        let client = ClientBuilder::new().build_with_env(&odd).unwrap();
        let settings = &client.transport().settings;
        assert_eq!(settings.api_key.0, "k");
        assert_eq!(settings.default_headers["x-ok"], "1");
        assert_eq!(
            settings.default_headers.len(),
            1,
            "{:?}",
            settings.default_headers.keys()
        );
        assert!(
            ClientBuilder::new()
                .api_key("k")
                .default_header("X-API-Key", "x")
                .build_with_env(&env(&[]))
                .is_err()
        );
    }

    #[test]
    fn a_derived_view_can_switch_retrying_non_idempotent_calls_off_again() {
        let on = RequestOptions::new().retry_non_idempotent(true);
        assert_eq!(
            RequestOptions::new()
                .retry_non_idempotent(false)
                .over(&on)
                .retry_non_idempotent,
            Some(false)
        );
        assert_eq!(RequestOptions::new().over(&on).retry_non_idempotent, Some(true));
        let client = ClientBuilder::new().api_key("k").build_with_env(&env(&[])).unwrap();
        let view = client
            .with_options(on)
            .with_options(RequestOptions::new().retry_non_idempotent(false));
        assert_eq!(view.transport().options.retry_non_idempotent, Some(false));
    }

    #[test]
    fn the_config_file_comes_under_setters_and_environment_and_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "api_key = \"hlm_file\"\nbase_url = \"http://127.0.0.1:5\"\nother = 1\n",
        )
        .unwrap();
        let none = env(&[]);
        let client = ClientBuilder::new()
            .config_file_at(&path)
            .build_with_env(&none)
            .unwrap();
        assert_eq!(client.transport().settings.api_key.0, "hlm_file");
        assert_eq!(client.base_url(), "http://127.0.0.1:5");
        let vars = env(&[("FASTVM_BASE_URL", "http://127.0.0.1:6")]);
        let client = ClientBuilder::new()
            .config_file_at(&path)
            .build_with_env(&vars)
            .unwrap();
        assert_eq!(client.transport().settings.api_key.0, "hlm_file");
        assert_eq!(client.base_url(), "http://127.0.0.1:6");
        let client = ClientBuilder::new()
            .api_key("hlm_code")
            .config_file_at(&path)
            .build_with_env(&vars)
            .unwrap();
        assert_eq!(client.transport().settings.api_key.0, "hlm_code");
        // The default location follows XDG_CONFIG_HOME ...
        std::fs::create_dir_all(dir.path().join("fastvm")).unwrap();
        std::fs::copy(&path, dir.path().join("fastvm/config.toml")).unwrap();
        let xdg: &'static str = Box::leak(dir.path().to_str().unwrap().to_string().into_boxed_str());
        let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([("XDG_CONFIG_HOME", xdg)]));
        let client = ClientBuilder::new().config_file().build_with_env(&env(pairs)).unwrap();
        assert_eq!(client.transport().settings.api_key.0, "hlm_file");
        // ... and, not asked, the file there is not read: no key.
        assert!(ClientBuilder::new().build_with_env(&env(pairs)).is_err());
        // A malformed file is an error that names it, not its contents.
        std::fs::write(&path, "api_key = \"hlm_secret").unwrap();
        match ClientBuilder::new().config_file_at(&path).build_with_env(&none) {
            Err(Error::Config { message, .. }) => {
                assert!(
                    message.contains("config.toml") && !message.contains("hlm_secret"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn builder_debug_redacts_key() {
        let b = ClientBuilder::new().api_key("super-secret-key");
        assert!(!format!("{b:?}").contains("super-secret"));
    }
}
