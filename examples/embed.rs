//! Embedding barrack: a Rust program starts the simulator, gives its own Rhai engine the whole
//! Barrack API, and runs a workflow. `cargo run --example embed`
//!
//! Against the real service, point `ClientSettings::new` at `https://barrack.ai/api` with a key.

use barrack::api::{Client, ClientSettings};
use barrack::script::{BarrackPackage, Runtime};
use barrack::secret::ApiKey;
use barrack::sim::{SimOptions, Simulator};
use rhai::packages::Package;

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start(SimOptions::fast())?;
    let client = Client::new(ClientSettings::new(
        sim.base_url(),
        ApiKey::new("sk-embedded"),
    ))?;

    // Any engine: here a standard one, with the Barrack package registered into it.
    let mut engine = rhai::Engine::new();
    BarrackPackage::new(Runtime::new(client).into()).register_into_engine(&mut engine);

    let summary: String = engine.eval(
        r#"
        let vm = deploy(#{gpu: "L40", count: 1, region: "CANADA-1", name: "embedded-1"});
        wait_active(vm);
        let snap = snapshot(vm, "embedded-snap");
        wait_status(snap, "AVAILABLE");
        vm.hibernate();
        wait_status(vm, "HIBERNATED");
        `${vm.name} is ${vm.status}; ${snapshots().len()} snapshot`
        "#,
    )?;
    println!("{summary}");

    // The simulator's world is plain data for the host program too.
    let world = sim.world();
    assert_eq!(world.instances.len(), 1);
    Ok(())
}
