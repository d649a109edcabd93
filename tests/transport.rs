//! Both transports carry the same workflow. Plain `http://` goes over barrack's own HTTP/1.1
//! path; reqwest carries TLS, proxies and redirects — the path the real service uses. A proxy in
//! the environment hands every request to reqwest (here bypassed for loopback by NO_PROXY), so
//! the whole quickstart runs through reqwest against the simulator too.

use crate::test::Test;

fn quickstart() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/quickstart.rhai")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_quickstart_runs_through_reqwest_too() {
    let out = Test::new()
        .args(["run", "--sim", "-v", &quickstart()])
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdout_has("Cleaned up.")
        .success();
    assert!(
        out.stderr.contains("POST http://127.0.0.1:"),
        "the -v log shows the requests: {}",
        out.stderr
    );
}

#[test]
fn reqwest_errors_read_like_plain_ones() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    for proxy in [None, Some("http://127.0.0.1:9")] {
        let mut test = Test::new()
            .args([
                "call",
                "balance",
                "--retries",
                "1",
                "--api-url",
                &format!("http://127.0.0.1:{port}"),
            ])
            .env("BARRACK_API_KEY", "sk-test-SECRET")
            .env("NO_PROXY", "127.0.0.1")
            .stderr_has("could not be reached")
            .stderr_lacks("SECRET");
        if let Some(p) = proxy {
            test = test.env("HTTP_PROXY", p);
        }
        test.status(69);
    }
}
