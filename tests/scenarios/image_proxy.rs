//! `experimental-image-proxy` driven by the suite's protocol client
//! (`tests/proxy/client.py`: a SOCK_SEQPACKET socketpair as the proxy's
//! stdin, pipes read while FinishPipe is pending), against Debian's skopeo
//! 1.9.3 (protocol 0.2.3) on the same calls: replies, pipe contents and
//! FinishPipe results are compared, apart from the version, pipe ids and
//! 0.2.8's `error_code`. Methods newer than 0.2.3 are checked against
//! their documented behaviour on skiff alone.

use std::path::Path;

use serde_json::{Value, json};

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::tools::{isolate, run, skiff_path, skopeo};

/// The lines the client printed for `calls` against `tool` (`skiff` or
/// `skopeo`) with `flags` after the subcommand; the last is the exit.
fn drive(tool: &str, flags: &[&str], calls: &Value) -> Vec<Value> {
    drive_on(tool, flags, calls, None)
}

/// The same, the socket passed as descriptor `sockfd` with `--sockfd`.
fn drive_on(tool: &str, flags: &[&str], calls: &Value, sockfd: Option<u32>) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calls.json");
    std::fs::write(&file, calls.to_string()).unwrap();
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("proxy/client.py");
    let program = if tool == "skiff" { skiff_path().display().to_string() } else { "skopeo".to_owned() };
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(client).arg(&file).arg("--").arg(program).arg("experimental-image-proxy").args(flags);
    isolate(&mut cmd);
    if let Some(n) = sockfd {
        cmd.env("PROXY_SOCKFD", n.to_string());
    }
    let r = run(cmd).ok();
    r.stdout_str().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// What must be the same in both tools' lines.
fn comparable(line: &Value) -> Value {
    let mut l = line.clone();
    for part in ["reply", "finish"] {
        if let Some(o) = l.get_mut(part).and_then(Value::as_object_mut) {
            o.remove("pipeid");
            o.remove("error_code");
        }
    }
    if l["method"] == "Initialize" && l["reply"]["success"] == true {
        l["reply"]["value"] = json!("version");
    }
    l
}

fn plain(image: &str) -> String {
    format!("docker://{}/test/{image}", world().plain.host())
}

const FLAGS: &[&str] = &["--insecure-policy", "--tls-verify=false"];

/// Over 0.2.3's methods the two tools answer alike: OCI and Docker
/// images (converted to OCI on the wire), a multi-platform list (its
/// amd64 instance), a layout, every layer through a pipe, and the
/// protocol's errors.
#[test]
fn replies_match_skopeo_over_protocol_0_2_3() {
    let w = world();
    for image in [
        format!("oci:{}:v1", w.single.display()),
        plain("oci:v1"),
        plain("docker:v1"),
        plain("multi:v1"),
        format!("oci:{}:v1", w.multi.display()),
    ] {
        let calls = json!([
            {"method": "GetManifest", "args": [1]},
            {"method": "Initialize", "args": []},
            {"method": "Initialize", "args": []},
            {"method": "OpenImage", "args": [image]},
            {"method": "GetManifest", "args": ["$3"]},
            {"method": "GetFullConfig", "args": ["$3"]},
            {"method": "GetConfig", "args": ["$3"]},
            {"each_layer": 4, "image": 3},
            {"method": "GetManifest", "args": [7]},
            {"method": "CloseImage", "args": [9]},
            {"method": "CloseImage", "args": ["$3"]},
            {"method": "GetConfig", "args": ["$3"]},
            {"method": "FinishPipe", "args": [4242]},
            {"method": "OpenImage", "args": []},
            {"method": "OpenImage", "args": [5]},
            {"method": "Frobnicate", "args": []},
            {"method": "Shutdown", "args": []},
        ]);
        let ours = drive("skiff", FLAGS, &calls);
        let theirs = drive("skopeo", FLAGS, &calls);
        assert_eq!(ours.len(), theirs.len(), "{image}: {ours:#?}\n{theirs:#?}");
        for (o, t) in ours.iter().zip(&theirs) {
            assert_eq!(comparable(o), comparable(t), "{image}");
        }
        let blobs: Vec<&Value> = ours.iter().filter(|l| l["method"] == "GetBlob").collect();
        assert!(!blobs.is_empty(), "{image}: layers were fetched");
        for b in blobs {
            assert_eq!(b["data_sha256"], b["args"][1], "{image}: the layer's bytes arrived whole");
        }
        assert_eq!(ours.last().unwrap()["exit"], 0, "Shutdown ends the process cleanly");
    }
}

/// A blob asked for with the wrong size or a digest the bytes do not have
/// is reported by FinishPipe in skopeo's words; a blob the image lacks
/// fails GetBlob itself.
#[test]
fn blob_mismatches_are_reported_by_finish_pipe_as_skopeo_does() {
    let w = world();
    let layout = format!("oci:{}:v1", w.single.display());
    let manifest = skiff_tests::harness::tools::skiff(&["inspect", "--raw", &layout]).ok().json();
    let layer = &manifest["layers"][0];
    let (digest, size) = (layer["digest"].as_str().unwrap(), layer["size"].as_u64().unwrap());
    for image in [layout.clone(), plain("oci:v1")] {
        let calls = json!([
            {"method": "Initialize", "args": []},
            {"method": "OpenImage", "args": [image]},
            {"method": "GetBlob", "args": ["$1", digest, size + 1]},
            {"method": "GetBlob", "args": ["$1", digest, size - 1]},
            {"method": "GetBlob", "args": ["$1", digest]},
            {"method": "Shutdown", "args": []},
        ]);
        let ours = drive("skiff", FLAGS, &calls);
        let theirs = drive("skopeo", FLAGS, &calls);
        for (o, t) in ours.iter().zip(&theirs).filter(|(o, _)| o["method"] == "GetBlob") {
            assert_eq!(comparable(o)["finish"], comparable(t)["finish"], "{image}: {o:#}");
            assert_eq!(comparable(o)["reply"], comparable(t)["reply"], "{image}: {o:#}");
        }
        assert_eq!(ours[2]["finish"]["error"], format!("expected {} bytes in blob, got {size}", size + 1));
        assert_eq!(ours[4]["reply"]["error"], "found 2 args, expecting (imgid, digest, size)");
    }
}

/// 0.2.4–0.2.8, which Debian's skopeo does not have: OpenImageOptional,
/// GetLayerInfo and GetLayerInfoPiped, GetRawBlob with its error pipe,
/// and `error_code`.
#[test]
fn newer_methods_behave_as_documented() {
    let w = world();
    for image in [format!("oci:{}:v1", w.single.display()), plain("docker:v1")] {
        let missing = image.replace(":v1", ":nope");
        let calls = json!([
            {"method": "Initialize", "args": []},
            {"method": "OpenImage", "args": [image]},
            {"method": "OpenImageOptional", "args": [missing]},
            {"method": "OpenImage", "args": [missing]},
            {"method": "GetLayerInfo", "args": ["$1"]},
            {"method": "GetLayerInfoPiped", "args": ["$1"]},
            {"method": "GetManifest", "args": ["$1"]},
            {"method": "GetRawBlob", "args": ["$1", format!("sha256:{}", "0".repeat(64))]},
            {"method": "Shutdown", "args": []},
        ]);
        let lines = drive("skiff", FLAGS, &calls);
        assert_eq!(lines[0]["reply"]["value"], "0.2.8");
        assert_eq!(lines[2]["reply"], json!({"success": true, "value": 0, "pipeid": 0, "error_code": "", "error": ""}));
        assert_eq!(lines[3]["reply"]["success"], false);
        assert_eq!(lines[3]["reply"]["error_code"], "other");
        let infos = &lines[4]["reply"]["value"];
        let piped: Value = serde_json::from_str(lines[5]["data"].as_str().unwrap()).unwrap();
        assert_eq!(infos, &piped, "the two forms agree");
        let manifest: Value = serde_json::from_str(lines[6]["data"].as_str().unwrap()).unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(infos.as_array().unwrap().len(), layers.len());
        for (info, l) in infos.as_array().unwrap().iter().zip(layers) {
            assert_eq!(info["digest"], l["digest"]);
            assert_eq!(info["size"], l["size"]);
            assert!(info["media_type"].as_str().unwrap().contains("tar"), "{info}");
        }
        // A blob the image does not hold fails the call itself, before any
        // pipe exists (as containers/image's GetBlob fails first).
        let raw = &lines[7];
        assert_eq!(raw["reply"]["success"], false, "{raw}");
        assert!(raw["reply"]["error"].as_str().unwrap().contains("not found"), "{raw}");
        assert!(raw.get("data_len").is_none(), "no pipe: {raw}");
        // And one it holds: the raw bytes, unchecked, and an empty error pipe.
        let layer = &layers[0];
        let calls = json!([
            {"method": "Initialize", "args": []},
            {"method": "OpenImage", "args": [image]},
            {"method": "GetRawBlob", "args": ["$1", layer["digest"]]},
            {"method": "Shutdown", "args": []},
        ]);
        let lines = drive("skiff", FLAGS, &calls);
        assert_eq!(lines[2]["reply"]["success"], true, "{}", lines[2]);
        assert_eq!(lines[2]["data_sha256"], layer["digest"]);
        assert_eq!(lines[2]["errors"], "");
    }
}

/// The policy is checked when an image is opened (protocol 0.2.6): a
/// policy that rejects the image fails OpenImage. Debian's skopeo speaks
/// 0.2.3, from before that check, and opens it; both open what the
/// policy accepts.
#[test]
fn open_image_applies_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let reject = tmp.path().join("reject.json");
    std::fs::write(&reject, r#"{"default":[{"type":"reject"}]}"#).unwrap();
    let accept = tmp.path().join("accept.json");
    std::fs::write(&accept, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    let image = plain("oci:v1");
    let calls = json!([
        {"method": "Initialize", "args": []},
        {"method": "OpenImage", "args": [image]},
        {"method": "Shutdown", "args": []},
    ]);
    for (policy, opens) in [(&reject, false), (&accept, true)] {
        let flags = ["--policy", policy.to_str().unwrap(), "--tls-verify=false"];
        let ours = drive("skiff", &flags, &calls);
        let theirs = drive("skopeo", &flags, &calls);
        assert_eq!(ours[1]["reply"]["success"], opens, "{}", ours[1]);
        assert_eq!(theirs[1]["reply"]["success"], true, "1.9.3 has no check: {}", theirs[1]);
        if !opens {
            assert_eq!(
                ours[1]["reply"]["error"],
                format!("Source image rejected: Running image {image} is rejected by policy.")
            );
        }
    }
}

/// A containers-storage image (written by skopeo): GetLayerInfo lists the
/// layers as the store holds them (uncompressed, by diff ID), and GetBlob
/// of each gives exactly those bytes; the manifest is skopeo's.
#[test]
fn containers_storage_layers_come_by_diff_id() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("[vfs@{}+{}]", tmp.path().join("root").display(), tmp.path().join("run").display());
    let image = format!("containers-storage:{spec}localhost/app:v1");
    skopeo(&["--insecure-policy", "copy", &format!("oci:{}:v1", world().single.display()), &image]).ok();
    let calls = json!([
        {"method": "Initialize", "args": []},
        {"method": "OpenImage", "args": [image]},
        {"method": "GetManifest", "args": ["$1"]},
        {"method": "GetFullConfig", "args": ["$1"]},
        {"method": "Shutdown", "args": []},
    ]);
    let ours = drive("skiff", FLAGS, &calls);
    let theirs = drive("skopeo", FLAGS, &calls);
    for i in [1, 2, 3] {
        assert_eq!(comparable(&ours[i]), comparable(&theirs[i]));
    }
    let calls = json!([
        {"method": "Initialize", "args": []},
        {"method": "OpenImage", "args": [image]},
        {"method": "GetLayerInfo", "args": ["$1"]},
        {"method": "GetFullConfig", "args": ["$1"]},
        {"method": "Shutdown", "args": []},
    ]);
    let lines = drive("skiff", FLAGS, &calls);
    let config: Value = serde_json::from_str(lines[3]["data"].as_str().unwrap()).unwrap();
    let infos = lines[2]["reply"]["value"].as_array().unwrap().clone();
    assert_eq!(
        infos.iter().map(|i| i["digest"].clone()).collect::<Vec<_>>(),
        config["rootfs"]["diff_ids"].as_array().unwrap().clone(),
        "the layers as stored: uncompressed, named by diff ID"
    );
    let mut calls = vec![json!({"method": "Initialize", "args": []}), json!({"method": "OpenImage", "args": [image]})];
    for i in &infos {
        calls.push(json!({"method": "GetBlob", "args": ["$1", i["digest"], i["size"]]}));
    }
    calls.push(json!({"method": "Shutdown", "args": []}));
    let lines = drive("skiff", FLAGS, &Value::Array(calls));
    for (line, info) in lines[2..].iter().zip(&infos) {
        assert_eq!(line["finish"]["success"], true, "{line}");
        assert_eq!(line["data_sha256"], info["digest"], "{line}");
    }
}

/// The published `containers-image-proxy` crate (0.11, bootc's client),
/// pointed at skiff with `ImageProxyConfig::skopeo_cmd`: every image's
/// manifest, config, layer list and every layer, both through GetBlob and
/// through the crate's verified GetRawBlob stream (`tests/proxy-crate`, a
/// workspace of its own built by `scripts/test.sh`).
#[test]
fn the_containers_image_proxy_crate_reads_every_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let client = root.join("target/proxy-crate/release/skiff-proxy-crate-test");
    assert!(
        client.exists(),
        "{} is missing: build it with cargo build --release --locked --manifest-path tests/proxy-crate/Cargo.toml --target-dir target/proxy-crate",
        client.display()
    );
    let w = world();
    let images = [
        format!("oci:{}:v1", w.single.display()),
        plain("oci:v1"),
        plain("docker:v1"),
        plain("multi:v1"),
        format!("oci:{}:v1", w.multi.display()),
    ];
    let mut cmd = std::process::Command::new(&client);
    cmd.arg(skiff_path()).args(&images);
    isolate(&mut cmd);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<Value> = r.stdout_str().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), images.len(), "{}", r.stdout_str());
    for (line, image) in lines.iter().zip(&images) {
        assert_eq!(line["image"], image.as_str());
        assert_eq!(line["protocol"], "0.2.8");
        assert!(line["layers"].as_u64().unwrap() >= 1 && line["bytes"].as_u64().unwrap() > 0, "{line}");
    }
}

/// `--sockfd N` serves on descriptor N instead of stdin; a client that
/// closes the socket without `Shutdown` ends the proxy cleanly too.
#[test]
fn the_socket_may_be_another_descriptor() {
    let calls = json!([
        {"method": "Initialize", "args": []},
        {"method": "OpenImage", "args": [format!("oci:{}:v1", world().single.display())]},
    ]);
    for tool in ["skiff", "skopeo"] {
        let lines = drive_on(tool, &["--insecure-policy"], &calls, Some(7));
        assert_eq!(lines[1]["reply"]["success"], true, "{tool}: {lines:?}");
        assert_eq!(lines.last().unwrap()["exit"], 0, "{tool}: {lines:?}");
    }
}
