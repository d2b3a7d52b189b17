//! `skiff`: a skopeo-compatible command line. Parsing happens in [`cli`], each
//! subcommand lives in [`commands`], and every decision about images and
//! registries is made by the core component that [`runtime`] runs.

mod cli;
mod commands;
mod io;
mod runtime;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Every command runs in the core: load it while the flags are parsed
    // (not for help or the version, which need no core).
    let asks_help = std::env::args().skip(1).all(|a| matches!(a.as_str(), "-h" | "--help" | "-v" | "--version"));
    if !asks_help {
        runtime::Core::preload();
    }
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(commands::exit_code(&e))
        }
    }
}
