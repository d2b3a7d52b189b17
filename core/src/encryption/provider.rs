//! ocicrypt's key-provider protocol, command form: `--encryption-key
//! provider:NAME[:PARAMETER]` and `--decryption-key provider:NAME[:…]`
//! hand a layer's private options to an external program (a KMS client)
//! named in the JSON file `$OCICRYPT_KEYPROVIDER_CONFIG`
//! (`{"key-providers":{"NAME":{"cmd":{"path":…,"args":[…]}}}}`). It reads
//! one JSON request on stdin and answers on stdout; what it returns is
//! stored, base64, in the annotation
//! `org.opencontainers.image.enc.keys.provider.NAME`. The JSON is what Go
//! marshals of ocicrypt's structs. gRPC providers are not supported.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::config::Environment;
use crate::engine::{Io, IoErrorKind};
use crate::error::{Error, Result};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const MAX_CONFIG: u64 = 1 << 20;
/// The most a provider may write (its annotation, or the options back).
const MAX_OUTPUT: u64 = 4 << 20;
pub const ANNOTATION_PREFIX: &str = "org.opencontainers.image.enc.keys.provider.";

#[derive(Debug, Clone, Deserialize)]
pub struct Command {
    #[serde(default)]
    path: String,
    #[serde(default)]
    args: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
struct Attrs {
    #[serde(default)]
    cmd: Option<Command>,
    #[serde(default)]
    grpc: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ConfigFile {
    #[serde(rename = "key-providers", default)]
    key_providers: Option<BTreeMap<String, Attrs>>,
}

/// The providers `$OCICRYPT_KEYPROVIDER_CONFIG` configures (none without it).
#[derive(Debug, Default)]
pub struct Providers(BTreeMap<String, Attrs>);

impl Providers {
    pub async fn configured(io: &Io, env: &Environment) -> Result<Self> {
        let Some(path) = env.var("OCICRYPT_KEYPROVIDER_CONFIG").filter(|p| !p.is_empty()) else {
            return Ok(Providers::default());
        };
        let bytes = match io.read_file(path.to_owned(), MAX_CONFIG).await {
            Ok(b) => b,
            Err(e) if e.kind == IoErrorKind::NotFound => return Ok(Providers::default()),
            Err(e) => return Err(Error::invalid(format!("reading the keyprovider config file {path}: {}", e.message))),
        };
        let c: ConfigFile = serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(format!("Error while parsing keyprovider config file {path}: {e}")))?;
        Ok(Providers(c.key_providers.unwrap_or_default()))
    }

    /// The command of provider `name`, which the user named.
    pub fn command(&self, name: &str) -> Result<Command> {
        match self.0.get(name) {
            Some(Attrs { cmd: Some(c), .. }) if !c.path.is_empty() => Ok(c.clone()),
            Some(Attrs { grpc: Some(_), .. }) => Err(Error::unsupported(format!(
                "key provider {name:?} is a gRPC service, which skiff does not support (only cmd providers)"
            ))),
            Some(_) => Err(Error::invalid(format!(
                "key provider {name:?}: Unsupported keyprovider invocation. Supported invocation methods are grpc and cmd"
            ))),
            None => Err(Error::invalid(format!(
                "key provider {name:?} is not configured (see $OCICRYPT_KEYPROVIDER_CONFIG)"
            ))),
        }
    }
}

/// One provider named by the user, with its parameters (what followed
/// `NAME:` in each flag naming it, or `Enabled`).
#[derive(Debug, Clone)]
pub struct Named {
    pub name: String,
    pub command: Command,
    pub parameters: Vec<Vec<u8>>,
}

/// The providers of `provider:NAME[:PARAMETER]` values (prefix removed),
/// grouped by name in the order first named.
pub fn named(values: &[&str], providers: &Providers) -> Result<Vec<Named>> {
    let mut out: Vec<Named> = Vec::new();
    for v in values {
        let (name, parameter) = match v.split_once(':') {
            Some((n, p)) if !n.is_empty() => (n, p.as_bytes().to_vec()),
            _ => (*v, b"Enabled".to_vec()),
        };
        match out.iter_mut().find(|n| n.name == name) {
            Some(n) => n.parameters.push(parameter),
            None => out.push(Named {
                name: name.to_owned(),
                command: providers.command(name)?,
                parameters: vec![parameter],
            }),
        }
    }
    Ok(out)
}

struct Bytes<'a>(Option<&'a [u8]>);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Some(b) => s.serialize_str(&B64.encode(b)),
            None => s.serialize_none(),
        }
    }
}

/// `map[string][][]byte` as Go marshals it.
fn parameters(p: &Named) -> serde_json::Value {
    let list: Vec<String> = p.parameters.iter().map(|b| B64.encode(b)).collect();
    serde_json::json!({ p.name.clone(): list })
}

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    keywrapresults: Option<WrapResults>,
    #[serde(default)]
    keyunwrapresults: Option<UnwrapResults>,
}

#[derive(Deserialize)]
struct WrapResults {
    #[serde(default)]
    annotation: Option<String>,
}

#[derive(Deserialize)]
struct UnwrapResults {
    #[serde(default)]
    optsdata: Option<String>,
}

async fn call(io: &Io, p: &Named, input: serde_json::Value) -> std::result::Result<Output, String> {
    let program = p.command.path.clone();
    let args = p.command.args.clone().unwrap_or_default();
    let stdin = serde_json::to_vec(&input).map_err(|e| e.to_string())?;
    let out = io.run(program.clone(), args, stdin, MAX_OUTPUT).await.map_err(|e| e.message)?;
    if out.status != 0 {
        let stderr = crate::error::sanitize(String::from_utf8_lossy(&out.stderr).trim());
        return Err(format!("Error while running command: {program}. stderr: {stderr}: exit status {}", out.status));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("Error while unmarshalling binary executable command output: {e}"))
}

fn b64(v: Option<String>, what: &str) -> std::result::Result<Vec<u8>, String> {
    B64.decode(v.unwrap_or_default()).map_err(|_| format!("the key provider's {what} is not base64"))
}

/// The annotation provider `p` makes of a layer's private options.
pub async fn wrap(io: &Io, p: &Named, optsdata: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let input = serde_json::json!({
        "op": "keywrap",
        "keywrapparams": {
            "ec": {"Parameters": parameters(p), "DecryptConfig": {"Parameters": null}},
            "optsdata": Bytes(Some(optsdata)),
        },
        "keyunwrapparams": {"dc": null, "annotation": null},
    });
    let out = call(io, p, input).await?;
    let annotation = b64(out.keywrapresults.and_then(|r| r.annotation), "annotation")?;
    if annotation.is_empty() {
        return Err(format!("key provider {:?} returned no wrapped key", p.name));
    }
    Ok(annotation)
}

/// The private options provider `p` unwraps from its annotation.
pub async fn unwrap(io: &Io, p: &Named, annotation: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let input = serde_json::json!({
        "op": "keyunwrap",
        "keywrapparams": {"ec": null, "optsdata": null},
        "keyunwrapparams": {
            "dc": {"Parameters": parameters(p)},
            "annotation": Bytes(Some(annotation)),
        },
    });
    let out = call(io, p, input).await?;
    let opts = b64(out.keyunwrapresults.and_then(|r| r.optsdata), "options")?;
    if opts.is_empty() {
        return Err(format!("key provider {:?} returned no key", p.name));
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_group_by_provider() {
        let attrs = |path: &str| Attrs { cmd: Some(Command { path: path.into(), args: None }), grpc: None };
        let providers = Providers(BTreeMap::from([
            ("kms".to_owned(), attrs("/bin/kms")),
            ("grpc".to_owned(), Attrs { cmd: None, grpc: Some("127.0.0.1:1".into()) }),
        ]));
        let n = named(&["kms", "kms:key-1"], &providers).unwrap();
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].parameters, vec![b"Enabled".to_vec(), b"key-1".to_vec()]);
        assert_eq!(parameters(&n[0]).to_string(), r#"{"kms":["RW5hYmxlZA==","a2V5LTE="]}"#);
        assert!(named(&["grpc"], &providers).unwrap_err().message.contains("gRPC"));
        assert!(named(&["nope"], &providers).unwrap_err().message.contains("not configured"));
    }
}
