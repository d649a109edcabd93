//! `ApiKey`: the API key, which never prints.

use std::fmt;

/// The account's API key. `Debug` and `Display` print `(redacted)`, so a whole `Config` or
/// `Client` can be logged safely; only [`ApiKey::expose`] gives the text, for the auth header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key, or `None` for an empty one.
    pub fn new(key: impl Into<String>) -> Option<ApiKey> {
        let key = key.into().trim().to_string();
        (!key.is_empty()).then_some(ApiKey(key))
    }

    /// The key itself, for the `Authorization` header; never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replace every occurrence of the key in `text` (a log line, an error, a history entry).
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "(redacted)")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey((redacted))")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_formats() {
        let key = ApiKey::new("sk-test-SECRET").unwrap();
        assert!(!format!("{key:?} {key} {key:#?}").contains("SECRET"));
        assert_eq!(key.redact("Bearer sk-test-SECRET"), "Bearer (redacted)");
        assert!(ApiKey::new("  ").is_none());
    }
}
