//! Any text as a script: `barrack check`'s diagnostics, then a run against the in-process
//! simulator with a short deadline. Every outcome must be `Ok` or `Err`, never a panic.
#![no_main]

use barrack::api::{Client, ClientSettings, RetryPolicy};
use barrack::script::{Host, Runtime, Source};
use barrack::secret::ApiKey;
use barrack::sim::{SimOptions, Simulator};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn sim() -> &'static Simulator {
    static SIM: OnceLock<Simulator> = OnceLock::new();
    SIM.get_or_init(|| Simulator::start(SimOptions::fast()).expect("the simulator starts"))
}

fuzz_target!(|code: &str| {
    let mut settings = ClientSettings::new(sim().base_url(), ApiKey::new("fuzz-key"));
    settings.retry = RetryPolicy {
        attempts: 1,
        ..RetryPolicy::default()
    };
    let Ok(client) = Client::new(settings) else {
        return;
    };
    let mut runtime = Runtime::new(client);
    runtime.quiet = true;
    runtime.deadline = Some(Instant::now() + Duration::from_millis(500));
    let mut host = Host::new(runtime);
    host.limits.max_operations = 100_000;
    host.limits.max_array_size = 10_000;
    host.limits.max_string_size = 1 << 20;
    let source = Source::snippet("<fuzz>", code);
    let engine = host.engine(None);
    let _ = barrack::script::check(&engine, &source);
    let _ = host.run(&source);
});
