//! Runs the core as a WASI component in wasmtime: loading it precompiled
//! ([`component`]) and driving its operations ([`driver`]).

mod component;
mod driver;
mod engine_config;

pub use component::Core;
pub use driver::CoreFailure;

/// Host bindings generated from the same `wit/` the core exports.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "core",
    });
}

pub use bindings::skiff::core::jobs;
pub use bindings::skiff::core::types as wit;
