//! The Barrack package: every catalog operation, the handle types, waiters, fleet and helpers,
//! registered into one Rhai module for any engine.

use super::runtime::Runtime;
use super::{actions, bounds, handle_functions, handles, helpers, ops, wait};
use crate::api::Kind;
use rhai::packages::Package;
use rhai::{Module, Shared};
use std::sync::Arc;

/// The Barrack API as a Rhai package: register it into any engine.
#[derive(Clone)]
pub struct BarrackPackage(Shared<Module>);

impl BarrackPackage {
    /// The package for one run's `runtime`: every catalog operation, handle types, waiters, fleet and helpers.
    pub fn new(runtime: Arc<Runtime>) -> BarrackPackage {
        let mut module = Module::new();
        handles::for_each_type(&mut TypedFunctions {
            module: &mut module,
            runtime: &runtime,
        });
        ops::register(&mut module, &runtime);
        actions::register_for_arrays(&mut module, &runtime);
        wait::register(&mut module, &runtime);
        helpers::register(&mut module, &runtime);
        bounds::register(&mut module, &runtime);
        // No `build_index()`: an engine looks functions of a global module up in the module
        // itself (the index serves namespaced access, and `register_static_module` builds it
        // when needed), and indexing some 700 functions is a measurable part of a one-shot run.
        BarrackPackage(module.into())
    }
}

/// The functions of one handle type: its getters and printing, its waiters, its actions.
struct TypedFunctions<'a> {
    module: &'a mut Module,
    runtime: &'a Arc<Runtime>,
}

impl handles::PerType for TypedFunctions<'_> {
    fn visit<T: Clone + Send + Sync + 'static>(
        &mut self,
        kind: Kind,
        getters: &'static [&'static str],
        get: fn(&mut T) -> &mut handles::Handle,
    ) {
        handle_functions::register::<T>(self.module, self.runtime, kind, getters, get);
        wait::register_for::<T>(self.module, self.runtime, kind.type_name(), get);
        actions::register_for::<T>(self.module, self.runtime, kind, get);
    }
}

impl Package for BarrackPackage {
    fn init(_module: &mut Module) {}

    fn as_shared_module(&self) -> Shared<Module> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Client, ClientSettings};
    use crate::sim::{SimOptions, Simulator};
    use rhai::{Engine, Map};

    #[test]
    fn the_package_works_as_a_global_and_as_a_static_module() {
        let sim = Simulator::start(SimOptions::fast()).unwrap();
        let client = Client::new(ClientSettings::new(
            sim.base_url(),
            crate::secret::ApiKey::new("k"),
        ))
        .unwrap();
        let package = BarrackPackage::new(Arc::new(Runtime::new(client)));
        let mut engine = Engine::new();
        package.register_into_engine(&mut engine);
        engine.register_static_module("barrack", package.as_shared_module());
        let global: Map = engine.eval("balance()").unwrap();
        let namespaced: Map = engine.eval("barrack::balance()").unwrap();
        assert_eq!(
            global.get("currency").map(|c| c.to_string()),
            Some("USD".into())
        );
        assert_eq!(
            global.get("balance").map(|b| b.to_string()),
            namespaced.get("balance").map(|b| b.to_string())
        );
        let names = engine.gen_fn_signatures(false).join("\n");
        assert!(names.contains("wait_active"), "metadata lists the package");
    }
}
