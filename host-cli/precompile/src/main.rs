//! `skiff-precompile CORE.wasm OUT.cwasm`: compiles the core component with
//! Cranelift ahead of time, for host-cli's build script to embed. Compiling
//! at run time took seconds on the first start of every skiff build.

#[path = "../../src/runtime/engine_config.rs"]
mod engine_config;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        eprintln!("usage: skiff-precompile CORE.wasm OUT.cwasm");
        return ExitCode::FAILURE;
    };
    let run = || -> Result<(), String> {
        let wasm = std::fs::read(input).map_err(|e| format!("reading {input}: {e}"))?;
        let engine = wasmtime::Engine::new(&engine_config::config()).map_err(|e| format!("{e:#}"))?;
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
