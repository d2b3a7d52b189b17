//! `skiff`: a skopeo-compatible command line. Parsing happens in [`cli`], each
//! subcommand lives in [`commands`], and every decision about images and
//! registries is made by the core component that [`runtime`] runs.

mod cli;
mod commands;
mod io;
mod runtime;

use std::process::ExitCode;

fn main() -> ExitCode {
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
