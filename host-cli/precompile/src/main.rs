//! `skiff-precompile CORE.wasm OUT.cwasm TARGET`: compiles the core
//! component with Cranelift ahead of time, for host-cli's build script to
//! embed. The `skiff` binary has no compiler: it only maps this code.
//!
//! The code is made for TARGET's baseline (on x86-64, SSE2 and nothing
//! newer), not for the CPU of the machine that builds skiff: the binary
//! must load it wherever it runs, and the core's work (manifests, JSON,
//! policy) gains nothing measurable from newer instructions.

#[path = "../../src/runtime/engine_config.rs"]
mod engine_config;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output, target] = args.as_slice() else {
        eprintln!("usage: skiff-precompile CORE.wasm OUT.cwasm TARGET");
        return ExitCode::FAILURE;
    };
    let run = || -> Result<(), String> {
        let wasm = std::fs::read(input).map_err(|e| format!("reading {input}: {e}"))?;
        let mut config = engine_config::config();
        // A target given explicitly: none of the build machine's CPU features are assumed.
        config.target(target).map_err(|e| format!("target {target}: {e:#}"))?;
        let engine = wasmtime::Engine::new(&config).map_err(|e| format!("{e:#}"))?;
        let compiled = engine.precompile_component(&wasm).map_err(|e| format!("compiling {input}: {e:#}"))?;
        std::fs::write(output, compiled).map_err(|e| format!("writing {output}: {e}"))
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skiff-precompile: {e}");
            ExitCode::FAILURE
        }
    }
}
