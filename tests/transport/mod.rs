//! The wire between barrack and the API, as a user's run takes it.
//!
//! - `connections`: keep-alive, closed connections, proxies, a server that hangs or lies,
//!   the run timeout, the key never echoed.
//! - `tls`: trusted and untrusted certificates, `--ca-cert`, a profile's CA, `SSL_CERT_FILE`,
//!   a TLS-intercepting proxy.
//! - `retries`: the retry budget, backoff on the sleep hook, unknown outcomes found out.

mod connections;
mod retries;
mod tls;
