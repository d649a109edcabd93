//! Who may ask: the `Authorization: Bearer <key>` check of API and admin requests.

use super::http::HttpRequest;
use super::reply::Refusal;

/// The key a request presents, if any.
fn presented(req: &HttpRequest) -> Option<&str> {
    req.header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// An API request needs a key; with `--require-key`, that key.
pub fn check_api(req: &HttpRequest, required: Option<&str>) -> Result<(), Refusal> {
    match (presented(req), required) {
        (None, _) => Err(Refusal::new(
            401,
            "UNAUTHORIZED",
            "Authentication required: send the API key as 'Authorization: Bearer <key>'",
        )),
        (Some(given), Some(wanted)) if given != wanted => {
            Err(Refusal::new(401, "UNAUTHORIZED", "Invalid API key"))
        }
        _ => Ok(()),
    }
}

/// The `/_sim/` admin routes change balances and clocks: with `--require-key` they take the same
/// key as the API; without it, the simulator trusts whoever reaches its port.
pub fn check_admin(req: &HttpRequest, required: Option<&str>) -> Result<(), Refusal> {
    match required {
        Some(_) => check_api(req, required),
        None => Ok(()),
    }
}
