//! Loading the core component. The binary embeds the machine code
//! Cranelift made of the component at build time (`build.rs`), for the
//! baseline of its target, and has no compiler of its own. A start maps
//! that code from a file (about 1 ms): the first start of a build writes
//! the embedded code to the cache, keyed by the skiff version, wasmtime's
//! version and a hash of the component and its compiled code, and later
//! starts map it.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::Core as Bindings;

static CORE_CWASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/skiff_core.cwasm"));

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// An instantiated core component.
pub struct Core {
    pub(super) store: Store<HostState>,
    pub(super) bindings: Bindings,
}

fn wt(e: wasmtime::Error) -> anyhow::Error {
    anyhow!("{e:?}")
}

fn engine() -> Result<Engine> {
    Engine::new(&super::engine_config::config()).map_err(wt)
}

/// Where the compiled component is cached.
fn cache_path() -> PathBuf {
    let dir = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("skiff");
    dir.join(format!(
        "core-{}-wasmtime{}-{}.cwasm",
        env!("CARGO_PKG_VERSION"),
        env!("SKIFF_WASMTIME_VERSION"),
        env!("SKIFF_CORE_HASH")
    ))
}

/// Maps the cached compiled component; on the first start of this build,
/// caches the code compiled at build time first.
fn load_component(engine: &Engine) -> Result<Component> {
    let path = cache_path();
    if let Ok(c) = map_compiled(engine, &path) {
        return Ok(c);
    }
    if cache(&path, CORE_CWASM)
        && let Ok(c) = map_compiled(engine, &path)
    {
        return Ok(c);
    }
    // No cache to write (a read-only home): the embedded code, copied into memory.
    // SAFETY: the bytes were made by `skiff-precompile` at build time with this
    // wasmtime and configuration; wasmtime checks both and the CPU's features.
    #[allow(unsafe_code)]
    let loaded = unsafe { Component::deserialize(engine, CORE_CWASM) };
    loaded.map_err(|e| anyhow!("the core component compiled into this skiff binary does not load here: {e:#}"))
}

/// The compiled component in the file at `path`, mapped.
fn map_compiled(engine: &Engine, path: &std::path::Path) -> Result<Component> {
    // SAFETY: the file is one we wrote (`cache`) from code wasmtime compiled
    // from the component embedded in this binary (its name carries the hash
    // of both, so code made under other engine settings is never picked up:
    // wasmtime does not check all of them), and wasmtime checks its version
    // and the CPU's features before using it.
    #[allow(unsafe_code)]
    let loaded = unsafe { Component::deserialize_file(engine, path) };
    loaded.map_err(wt)
}

/// Writes compiled code to the cache (through a temporary file and a
/// rename, so a concurrent start never maps half a file). Caching is an
/// optimisation: a failure is reported as `false`, not as an error.
fn cache(path: &std::path::Path, compiled: &[u8]) -> bool {
    let Some(dir) = path.parent() else { return false };
    let _ = std::fs::create_dir_all(dir);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, compiled).is_ok() && std::fs::rename(&tmp, path).is_ok() {
        remove_other_builds(dir, path);
        return true;
    }
    let _ = std::fs::remove_file(&tmp);
    false
}

/// Removes compiled components of other skiff builds (each is ~13 MB and
/// would otherwise pile up with every upgrade), and temporary files of
/// compilations that were cut short (a run that exited early). A
/// compilation running at this moment only loses its chance to cache.
fn remove_other_builds(dir: &std::path::Path, keep: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p != keep && name.starts_with("core-") {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Links the WASI interfaces the core imports (`wit/imports.allowlist`) and
/// no others. The core uses no WASI capability (no files, sockets, clocks it
/// may read); Rust's std imports these anyway, so they are provided empty.
/// All of WASI 0.2 would be about 200 more functions to link at every start.
fn link_wasi(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    use wasmtime::component::HasData;
    use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
    use wasmtime_wasi::p2::bindings::{cli, random, sync};
    use wasmtime_wasi::random::WasiRandom;

    /// `wasi:io` works on the resource table alone.
    struct Io;
    impl HasData for Io {
        type Data<'a> = &'a mut ResourceTable;
    }
    let l = linker;
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<_, Io>(l, |t| &mut t.table)?;
    sync::io::poll::add_to_linker::<_, Io>(l, |t| &mut t.table)?;
    sync::io::streams::add_to_linker::<_, Io>(l, |t| &mut t.table)?;
    cli::environment::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::exit::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::stdin::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::stdout::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::stderr::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::terminal_input::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::terminal_output::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdin::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdout::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    cli::terminal_stderr::add_to_linker::<_, WasiCli>(l, HostState::cli)?;
    random::insecure_seed::add_to_linker::<_, WasiRandom>(l, |t| t.wasi.random())?;
    Ok(())
}

impl Core {
    /// Maps and instantiates the component, on the calling thread: loading
    /// it on a second thread while the flags were parsed was slower here
    /// (starting a thread costs a few tenths of a millisecond; see
    /// BENCHMARKS.md).
    pub fn load() -> Result<Self> {
        let engine = engine()?;
        let component = load_component(&engine)?;
        let mut linker = Linker::<HostState>::new(&engine);
        link_wasi(&mut linker).map_err(wt)?;
        let wasi = WasiCtx::builder().inherit_stderr().build();
        let mut store = Store::new(&engine, HostState { wasi, table: ResourceTable::new() });
        let bindings = Bindings::instantiate(&mut store, &component, &linker).map_err(wt)?;
        Ok(Core { store, bindings })
    }

    /// The component's imports, for the allowlist check.
    #[cfg(test)]
    pub fn imports() -> Result<Vec<String>> {
        let engine = engine()?;
        let component = load_component(&engine)?;
        let ty = component.component_type();
        Ok(ty.imports(&engine).map(|(name, _)| name.to_owned()).collect())
    }
}

#[cfg(test)]
mod tests {
    /// The core may import only what `wit/imports.allowlist` names: a stray
    /// `std::fs` or clock call in the core shows up here as a new import.
    #[test]
    fn component_imports_are_allowlisted() {
        let allow = include_str!("../../../wit/imports.allowlist");
        let allowed: std::collections::BTreeSet<&str> =
            allow.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
        let imports = super::Core::imports().unwrap();
        let extra: Vec<&String> = imports.iter().filter(|i| !allowed.contains(i.as_str())).collect();
        assert!(extra.is_empty(), "the core component imports more than wit/imports.allowlist allows: {extra:?}");
    }
}
