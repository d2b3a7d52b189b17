//! The wasmtime configuration the core component runs under. Shared by the
//! `skiff` binary and the build-time precompiler (`host-cli/precompile`):
//! compiled code is only usable by an engine configured the same way.

/// The engine's configuration.
pub fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    // Calls into the core are synchronous; without async support each call is cheaper.
    config.concurrency_support(false);
    // No system unwinder walks the core's frames (wasmtime's own traps and
    // backtraces use frame pointers), and a trap's wasm offsets only name
    // the core's bug in a message: without the unwind tables and the
    // address map, the compiled code is smaller and maps faster at start.
    config.native_unwind_info(false);
    config.generate_address_map(false);
    config
}
