//! `skiff`: a skopeo-compatible command line. Parsing happens in [`cli`], each
//! subcommand lives in [`commands`], and every decision about images and
//! registries is made by the core component that [`runtime`] runs.

mod cli;
mod commands;
mod io;
mod runtime;

use std::process::ExitCode;

/// musl's own allocator maps and unmaps memory at a high rate (170 `mmap`s
/// and 111 `munmap`s for one `inspect`, against 21 and 3 with glibc's):
/// jemalloc, as ripgrep's musl builds use (mimalloc, also tried, touched
/// more fresh pages setting up its free lists: 0.3 ms more CPU an inspect).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let code = match commands::run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e:#}");
            commands::exit_code(&e)
        }
    };
    exit_now(code)
}

/// Ends the process once the command is done and its output flushed,
/// without the exit-time cleanup of libc and the allocator: memory handed
/// back just before the kernel takes all of it (with mimalloc, whose exit
/// purge this skipped, a quarter of a millisecond of each run). Everything
/// of the command's own (scratch space, child processes, files) was
/// finished in [`commands::run`].
fn exit_now(code: u8) -> ! {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` has no preconditions; it ends the process.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(i32::from(code))
    }
}
