//! Builds skiff-core as a WASI component (`wasm32-wasip2`, feature
//! `component`), compiles it to native code with `host-cli/precompile`, and
//! hands that code to the binary to embed. Nested cargos with their own target
//! directory avoid waiting on the lock the outer build holds.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    for p in ["core/src", "core/Cargo.toml", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=SKIFF_CORE_WASM");
    // The binary is position-independent (ASLR), so ~34,000 pointers are
    // relocated at every start (by the dynamic loader, or by a static-pie
    // musl binary itself). Packed relative relocations (DT_RELR; glibc 2.36,
    // musl 1.2.4, binutils 2.38) shrink their table from 800 KB to a few KB
    // that is read and walked much faster.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=skiff=-Wl,-z,pack-relative-relocs");
    }

    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    // A prebuilt component may be supplied (CI builds it once and shares it).
    let wasm = match env::var("SKIFF_CORE_WASM") {
        Ok(path) => PathBuf::from(path),
        Err(_) => build_component(&root),
    };
    println!("cargo:rustc-env=SKIFF_WASMTIME_VERSION={}", locked_version(&root, "wasmtime"));
    let bytes = std::fs::read(&wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()));
    let cwasm = out_dir.join("skiff_core.cwasm");
    precompile(&root, &wasm, &cwasm);
    // The hash of the component and of its compiled code names the cache:
    // the code changes with the engine's configuration too, which wasmtime
    // does not always check when it maps a file. Computed here, not at
    // every start (hashing megabytes took about 1 ms of each run).
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hasher::write(&mut h, &bytes);
    std::hash::Hasher::write(&mut h, &std::fs::read(&cwasm).expect("reading the compiled component"));
    println!("cargo:rustc-env=SKIFF_CORE_HASH={:016x}", std::hash::Hasher::finish(&h));
}

/// A nested cargo with the given arguments, in the nested target directory,
/// with none of the outer build's flags.
fn nested_cargo(root: &std::path::Path, args: &[&str]) -> (Command, PathBuf) {
    let target_dir =
        env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target")).join("core-component");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    // `--target-dir` right after the subcommand: what follows a `--` is rustc's.
    cmd.current_dir(root).arg(args[0]).arg("--target-dir").arg(&target_dir).args(&args[1..]);
    // Flags meant for the host build must not leak into the nested build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    (cmd, target_dir)
}

/// Compiles the component to native code with the same wasmtime and engine
/// configuration as the binary (`host-cli/precompile`), for the baseline of
/// the binary's target, so that skiff only maps it at start: the binary has
/// no compiler (Cranelift was three fifths of its code, and relocating its
/// tables cost every start).
fn precompile(root: &std::path::Path, wasm: &std::path::Path, out: &std::path::Path) {
    println!("cargo:rerun-if-changed={}", root.join("host-cli/precompile").display());
    println!("cargo:rerun-if-changed={}", root.join("host-cli/src/runtime/engine_config.rs").display());
    let (mut cmd, target_dir) = nested_cargo(root, &["build", "--release", "--locked", "-p", "skiff-precompile"]);
    let status = cmd.status().expect("running cargo to build skiff-precompile");
    assert!(status.success(), "building skiff-precompile failed (see the errors above)");
    let tool = target_dir.join("release/skiff-precompile");
    let target = env::var("TARGET").expect("cargo sets TARGET for build scripts");
    let status = Command::new(&tool).arg(wasm).arg(out).arg(target).status().expect("running skiff-precompile");
    assert!(status.success(), "precompiling the core component failed (see the errors above)");
}

fn build_component(root: &std::path::Path) -> PathBuf {
    let (mut cmd, target_dir) = nested_cargo(
        root,
        &[
            "rustc",
            "--profile",
            "component",
            "--locked",
            "-p",
            "skiff-core",
            "--lib",
            "--crate-type",
            "cdylib",
            "--features",
            "component",
            "--target",
            "wasm32-wasip2",
            // No name section (see the `component` profile): the profile's
            // `strip` leaves it in a wasip2 component, so the linker is told.
            "--",
            "-C",
            "link-arg=--strip-all",
        ],
    );
    let status = cmd.status().expect("running cargo to build the core component");
    assert!(
        status.success(),
        "building the skiff-core component failed (see the errors above; the target is added with `rustup target add wasm32-wasip2`)"
    );
    target_dir.join("wasm32-wasip2/component/skiff_core.wasm")
}

/// The version of `package` in Cargo.lock (it keys the compiled-component cache).
fn locked_version(root: &std::path::Path, package: &str) -> String {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"")
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return v.trim_end_matches('"').to_owned();
        }
    }
    "unknown".to_owned()
}
