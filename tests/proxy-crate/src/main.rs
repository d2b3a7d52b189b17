//! Drives `PROXY experimental-image-proxy` with the published
//! `containers-image-proxy` crate (the client bootc, rpm-ostree and
//! ostree-rs-ext use), as they use it: open each image, fetch its manifest
//! and config, list its layers, and read every layer both ways (GetBlob
//! with FinishPipe, and the crate's verified GetRawBlob stream).
//!
//! usage: skiff-proxy-crate-test PROXY IMAGE... — prints one JSON line per
//! image (digest, layer count, bytes read, protocol version); exits 1 on
//! the first failure, saying what failed.

use containers_image_proxy::{ImageProxy, ImageProxyConfig};
use sha2::Digest as _;
use tokio::io::AsyncReadExt;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

async fn read_all(mut r: impl tokio::io::AsyncRead + Unpin) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).await?;
    Ok(out)
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex(&sha2::Sha256::digest(data)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn check(proxy_cmd: &str, image: &str) -> Result<String> {
    let mut config = ImageProxyConfig::default();
    config.skopeo_cmd = Some(std::process::Command::new(proxy_cmd));
    config.insecure_skip_tls_verification = Some(true);
    config.insecure_policy = Some(true);
    let proxy = ImageProxy::new_with_config(config).await?;
    let version = proxy.protocol_version().to_string();
    let img = proxy.open_image(image).await?;
    let (digest, manifest) = proxy.fetch_manifest(&img).await?;
    let config = proxy.fetch_config(&img).await?;
    let infos = proxy.get_layer_info(&img).await?.ok_or("no layer info from a 0.2.5+ proxy")?;
    if infos.len() != manifest.layers().len() || config.rootfs().diff_ids().len() != infos.len() {
        return Err(format!(
            "{image}: {} layers, {} layer infos, {} diff IDs",
            manifest.layers().len(),
            infos.len(),
            config.rootfs().diff_ids().len()
        )
        .into());
    }
    let mut bytes = 0u64;
    for layer in manifest.layers() {
        let (reader, driver) = proxy.get_descriptor(&img, layer).await?;
        let (data, finished) = tokio::join!(read_all(reader), driver);
        let (data, ()) = (data?, finished?);
        if sha256(&data) != layer.digest().to_string() || data.len() as u64 != layer.size() {
            return Err(format!(
                "{image}: layer {} arrived as {} ({} bytes)",
                layer.digest(),
                sha256(&data),
                data.len()
            )
            .into());
        }
        let stream = proxy.get_blob_stream(&img, layer.digest(), layer.size()).await?;
        let (reader, driver) = stream.into_parts();
        let (again, verified) = tokio::join!(read_all(reader), driver);
        let (again, ()) = (again?, verified?);
        if again != data {
            return Err(format!("{image}: GetRawBlob of {} differs from GetBlob", layer.digest()).into());
        }
        bytes += data.len() as u64;
    }
    let absent = format!("{}:absent-tag", image.rsplit_once(':').map_or(image, |(name, _)| name));
    if proxy.open_image_optional(&absent).await?.is_some() {
        return Err(format!("{image}: an absent tag opened").into());
    }
    proxy.close_image(&img).await?;
    proxy.finalize().await?;
    Ok(format!(
        r#"{{"image":"{image}","digest":"{digest}","layers":{},"bytes":{bytes},"protocol":"{version}"}}"#,
        infos.len()
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((proxy, images)) = args.split_first() else {
        eprintln!("usage: skiff-proxy-crate-test PROXY IMAGE...");
        std::process::exit(2);
    };
    for image in images {
        match check(proxy, image).await {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("{image}: {e}");
                std::process::exit(1);
            }
        }
    }
}
