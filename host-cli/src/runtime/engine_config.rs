//! The wasmtime configuration the core component runs under. Shared by the
//! `skiff` binary and the build-time precompiler (`host-cli/precompile`):
//! compiled code is only usable by an engine configured the same way.

/// The engine's configuration.
pub fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    // Calls into the core are synchronous; without async support each call is cheaper.
    config.concurrency_support(false);
    config
}
