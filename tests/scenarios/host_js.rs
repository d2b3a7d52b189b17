//! The same core from JavaScript and Python: skiff-js in Node and in headless
//! Chromium, and the WASI component through jco and wasmtime-py.

use skiff_tests::harness::fixtures::{push, world};
use skiff_tests::harness::node::{node, repo_root, require_js_package};
use skiff_tests::harness::registry::{Options, PASSWORD, Registry, USER};
use skiff_tests::harness::tools::{run, skopeo};

use super::bearer::token_world;

/// The CAs Node must trust: the TLS registry's and the token issuer's.
fn ca_bundle() -> String {
    let w = world();
    let path = w.root.join("node-ca-bundle.pem");
    let mut pem = std::fs::read(w.secure.ca.as_ref().unwrap()).unwrap();
    pem.extend(std::fs::read(&token_world().issuer.tls_cert).unwrap());
    std::fs::write(&path, pem).unwrap();
    path.display().to_string()
}

/// The core component as host-cli's build script leaves it (`[profile.component]`).
fn core_component() -> std::path::PathBuf {
    repo_root().join("target/core-component/wasm32-wasip2/component/skiff_core.wasm")
}

#[test]
fn node_tests_against_real_registries() {
    let js = require_js_package();
    let w = world();
    let env = [
        ("SKIFF_PLAIN", w.plain.host()),
        ("SKIFF_SECURE", w.secure.host()),
        ("SKIFF_SECURE_CERTS", w.secure.cert_dir.as_ref().unwrap().display().to_string()),
        ("NODE_EXTRA_CA_CERTS", ca_bundle()),
        ("SKIFF_BEARER", token_world().registry.host()),
        ("SKIFF_USER", USER.to_owned()),
        ("SKIFF_PASSWORD", PASSWORD.to_owned()),
        ("SKIFF_LAYOUT", w.single.display().to_string()),
    ];
    let r = node(&js, &["--test", "test/node.test.mjs"], &env);
    println!("{}", r.stdout_str());
    assert_eq!(r.code, 0, "node --test failed:\n{}\n{}", r.stdout_str(), r.stderr);
    assert!(r.stdout_str().contains("# fail 0"), "{}", r.stdout_str());
}

#[test]
fn browser_inspects_an_image_in_headless_chromium() {
    let js = require_js_package();
    let w = world();
    let r = Registry::start(&w.root.join("cors"), Options { cors: true, ..Options::default() });
    let img = format!("docker://{}/test/oci:v1", r.host());
    push(&w.single, "v1", &img, &[]);
    let expected = skopeo(&["inspect", "--tls-verify=false", &img]).ok().json()["Digest"].as_str().unwrap().to_owned();
    let out = node(&js, &["test/browser.mjs"], &[("SKIFF_IMAGE", img), ("SKIFF_EXPECTED_DIGEST", expected.clone())]);
    println!("{}\n{}", out.stdout_str(), out.stderr);
    assert_eq!(out.code, 0, "browser test failed:\n{}\n{}", out.stdout_str(), out.stderr);
    assert!(out.stdout_str().contains(&format!("page shows {expected}")), "{}", out.stdout_str());
}

#[test]
fn jco_example_drives_the_component() {
    let js = require_js_package();
    let w = world();
    let component = core_component();
    assert!(component.exists(), "{} missing: build skiff first", component.display());
    // Inside host-js/ so the transpiled module finds @bytecodealliance/preview2-shim.
    let out_dir = js.join("jco-out");
    let jco = js.join("node_modules/.bin/jco");
    let mut cmd = std::process::Command::new(&jco);
    cmd.args([
        "transpile",
        component.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--name",
        "skiff_core",
        "--quiet",
    ]);
    run(cmd).ok();
    let img = format!("docker://{}/test/oci:v1", w.plain.host());
    let example = repo_root().join("examples/jco/inspect.mjs");
    let r = node(&js, &[example.to_str().unwrap(), &img], &[("SKIFF_JCO_DIR", out_dir.display().to_string())]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    check_example_output(&r.stdout_str(), &img);
}

#[test]
fn wasmtime_py_example_drives_the_component() {
    let w = world();
    let component = core_component();
    let img = format!("docker://{}/test/oci:v1", w.plain.host());
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(repo_root().join("examples/python/skiff_inspect.py")).arg(&component).arg(&img);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout_str(), r.stderr);
    check_example_output(&r.stdout_str(), &img);
}

/// Both examples print: the parsed reference (JSON), a manifest digest line,
/// then the inspect JSON.
fn check_example_output(out: &str, img: &str) {
    let mut lines = out.splitn(3, '\n');
    let parsed: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(parsed["transport"], "docker");
    assert_eq!(parsed["repository"], "test/oci");
    let digest_line = lines.next().unwrap();
    let inspect: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let theirs = skopeo(&["inspect", "--tls-verify=false", img]).ok().json();
    super::assert_inspect_matches(
        &inspect,
        &theirs,
        &skopeo(&["inspect", "--raw", "--tls-verify=false", img]).ok().stdout,
    );
    assert_eq!(digest_line, format!("manifest-digest {}", theirs["Digest"].as_str().unwrap()));
}

#[test]
fn npm_pack_gives_an_installable_package() {
    let js = require_js_package();
    let tmp = tempfile::tempdir().unwrap();
    let mut pack = std::process::Command::new("npm");
    pack.current_dir(&js).args(["pack", "--silent", "--pack-destination"]).arg(tmp.path());
    let packed = run(pack).ok();
    let tarball = tmp.path().join(packed.stdout_str().trim());
    assert!(tarball.exists(), "npm pack made no tarball: {}", packed.stdout_str());
    let app = tmp.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("package.json"), r#"{"name":"app","version":"1.0.0","type":"module"}"#).unwrap();
    let mut install = std::process::Command::new("npm");
    install.current_dir(&app).args(["install", "--offline", "--no-audit", "--no-fund"]).arg(&tarball);
    run(install).ok();
    let script = "import { parseReference, manifestDigest } from 'skiff-js';\
        console.log(JSON.stringify(await parseReference('docker://quay.io/a/b:c')));\
        console.log(await manifestDigest('{}'));";
    std::fs::write(app.join("main.mjs"), script).unwrap();
    let r = node(&app, &["main.mjs"], &[]).ok();
    assert_eq!(
        r.stdout_str(),
        "{\"transport\":\"docker\",\"registry\":\"quay.io\",\"repository\":\"a/b\",\"tag\":\"c\"}\n\
         sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n"
    );
    let listed =
        String::from_utf8_lossy(&std::process::Command::new("tar").arg("tzf").arg(&tarball).output().unwrap().stdout)
            .into_owned();
    for f in ["package/js/skiff.js", "package/js/skiff.d.ts", "package/pkg/skiff_js_bg.wasm", "package/pkg/skiff_js.js"]
    {
        assert!(listed.contains(f), "{f} missing from the package:\n{listed}");
    }
    // What a page downloads: the module and its glue, gzip -9, at most 1 MB
    // (issue 4's goal; signing crates once doubled it).
    let gzipped: usize = ["pkg/skiff_js_bg.wasm", "pkg/skiff_js.js", "js/skiff.js"]
        .iter()
        .map(|f| {
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::Write::write_all(&mut z, &std::fs::read(js.join(f)).unwrap()).unwrap();
            z.finish().unwrap().len()
        })
        .sum();
    assert!(gzipped <= 1_000_000, "the skiff-js bundle is {gzipped} bytes gzipped");
}
