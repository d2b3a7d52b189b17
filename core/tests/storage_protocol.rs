//! Writing into containers-storage, driven through the simulation: the
//! requests a commit makes, and what the store's records say when any one
//! of them fails — never an image record before its layers and big data are
//! complete, never a layer neither complete nor marked incomplete, every
//! lock released — and that the next write then completes the image.

mod sim;

use serde_json::{Value, json};
use sim::*;
use skiff_core::engine::Request;

const REG: &str = "https://reg.test";
const STORE: &str = "/store/root";

fn job() -> Value {
    json!({
        "command": "copy", "source": "docker://reg.test/app:v1",
        "destination": format!("containers-storage:[vfs@{STORE}+/store/run]localhost/app:v1"),
        "policy": {"insecure": true},
    })
}

fn world() -> (Sim, Image) {
    let mut sim = Sim::default();
    let image = Image::new("store", &[300, 500, 200]);
    let mut reg = Registry::default();
    reg.push("app", "v1", &image);
    sim.host(REG, reg);
    (sim, image)
}

fn list(sim: &Sim, which: &str) -> Vec<Value> {
    sim.files.get(&format!("{STORE}/vfs-{which}/{which}.json")).map_or(vec![], |b| serde_json::from_slice(b).unwrap())
}

/// What must hold of the store whatever failed.
fn consistent(sim: &Sim, what: &str) {
    assert!(sim.locks.is_empty(), "{what}: locks still held: {:?}", sim.locks);
    let layers = list(sim, "layers");
    for l in &layers {
        let complete = l.get("diff-digest").is_some() && l.get("flags").is_none();
        let marked = l.pointer("/flags/incomplete") == Some(&Value::Bool(true));
        assert!(complete || marked, "{what}: a layer neither complete nor marked: {l}");
        if complete {
            let id = l["id"].as_str().unwrap();
            assert!(
                sim.files.contains_key(&format!("{STORE}/vfs-layers/{id}.tar-split.gz")),
                "{what}: {id}'s tar-split"
            );
        }
    }
    for image in list(sim, "images") {
        let mut layer = image["layer"].as_str().map(str::to_owned);
        while let Some(id) = layer {
            let l =
                layers.iter().find(|l| l["id"] == id.as_str()).unwrap_or_else(|| panic!("{what}: image names {id}"));
            assert!(l.get("diff-digest").is_some(), "{what}: the image's layer {id} is complete");
            layer = l["parent"].as_str().map(str::to_owned);
        }
        let id = image["id"].as_str().unwrap();
        for name in image["big-data-names"].as_array().unwrap() {
            let name = name.as_str().unwrap();
            let file = skiff_core::storage::records::big_data_file(name);
            assert!(sim.files.contains_key(&format!("{STORE}/vfs-images/{id}/{file}")), "{what}: big data {name}");
        }
    }
}

fn complete(sim: &Sim, image: &Image, what: &str) {
    consistent(sim, what);
    let layers = list(sim, "layers");
    assert_eq!(layers.len(), 3, "{what}: {layers:?}");
    let images = list(sim, "images");
    assert_eq!(images.len(), 1, "{what}");
    assert_eq!(images[0]["digest"], image.digest().as_str(), "{what}");
    assert_eq!(images[0]["names"], json!(["localhost/app:v1"]), "{what}");
}

#[test]
fn a_commit_takes_the_locks_in_order_and_marks_each_layer_incomplete_first() {
    let (mut sim, image) = world();
    sim.run(job()).unwrap();
    complete(&sim, &image, "a clean run");
    let locked: Vec<&str> = sim
        .requests
        .iter()
        .filter_map(|r| match r {
            Request::FileLock { path, exclusive: true, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    let dirs = [
        format!("{STORE}/storage.lock"),
        format!("{STORE}/vfs-layers/layers.lock"),
        format!("{STORE}/vfs-images/images.lock"),
    ];
    assert_eq!(locked, dirs, "containers/storage's lock order");
    // Before each layer is unpacked, layers.json already names it
    // incomplete; the image's record is written last.
    let mut saved_layers: Vec<Value> = Vec::new();
    let mut unpacked = 0;
    for r in &sim.requests {
        match r {
            Request::WritePrivateFile { path, data } if path.contains("/vfs-layers/layers.json.") => {
                saved_layers = serde_json::from_slice(data).unwrap();
            }
            Request::ApplyLayer(a) => {
                let id = a.root.rsplit('/').next().unwrap();
                let record = saved_layers.iter().find(|l| l["id"] == id).expect("recorded before it is unpacked");
                assert_eq!(record["flags"]["incomplete"], true, "{record}");
                unpacked += 1;
            }
            Request::WritePrivateFile { path, .. } if path.contains("/vfs-images/images.json.") => {
                assert_eq!(unpacked, 3, "the image is recorded after its layers");
                assert!(saved_layers.iter().all(|l| l.get("flags").is_none()), "and after they are complete");
            }
            _ => {}
        }
    }
    assert_eq!(unpacked, 3);
    let layers = list(&sim, "layers");
    assert_eq!(layers[0]["id"], sha256(&image.layers[0])[7..], "the base layer's ID is its diff ID");
    assert_eq!(layers[1]["parent"], layers[0]["id"]);
    assert_eq!(list(&sim, "images")[0]["id"], sha256(&image.config)[7..], "the image ID is the config's");
}

#[test]
fn a_write_failing_at_any_request_leaves_a_consistent_store_and_the_next_write_completes_it() {
    let (mut clean, image) = world();
    clean.run(job()).unwrap();
    let requests = clean.performed;
    assert!(requests > 30, "{requests}");
    for k in 0..requests {
        let (mut sim, _) = world();
        sim.fail_request = Some(k);
        let what = format!("request {k} failing");
        // Failed or not (some requests are best effort), the store holds
        // only what is whole.
        let _ = sim.run(job());
        consistent(&sim, &what);
        sim.fail_request = None;
        sim.run(job()).unwrap_or_else(|e| panic!("{what}, then again: {e}"));
        complete(&sim, &image, &format!("{what}, then again"));
    }
}
