//! The proxy's messages, as containers/common's json-proxy reads and
//! writes them: a request `{"method", "args"}` per packet, and a reply
//! with Go's field order and escaping.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, ErrorKind};

/// JavaScript's largest safe integer: numeric arguments above it are refused.
const MAX_JSON_FLOAT: f64 = 9_007_199_254_740_991.0;

#[derive(Debug, Deserialize)]
pub struct Call {
    pub method: String,
    #[serde(default)]
    pub args: Vec<Value>,
}

/// Parses one packet (Go's message for a malformed one).
pub fn parse(packet: &[u8]) -> Result<Call, String> {
    serde_json::from_slice(packet).map_err(|e| format!("invalid request: {e}"))
}

/// What a method answers: a value, the pipes whose read ends go with it
/// (data, then errors), and the pipe id for `FinishPipe`.
#[derive(Debug, Default)]
pub struct Answer {
    pub value: Value,
    pub pipes: Vec<u32>,
    pub pipe_id: u32,
}

impl Answer {
    pub fn value(value: impl Into<Value>) -> Self {
        Answer { value: value.into(), ..Answer::default() }
    }
}

/// The reply packet: `{"success","value","pipeid","error_code","error"}`.
pub fn reply(result: &Result<Answer, Error>) -> Vec<u8> {
    let (success, value, pipe_id, code, error) = match result {
        Ok(a) => (true, a.value.clone(), a.pipe_id, "", String::new()),
        Err(e) => (false, Value::Null, 0, error_code(e), e.message.clone()),
    };
    let mut m = serde_json::Map::new();
    m.insert("success".into(), success.into());
    m.insert("value".into(), value);
    m.insert("pipeid".into(), pipe_id.into());
    m.insert("error_code".into(), code.into());
    m.insert("error".into(), error.into());
    crate::go::json::marshal(&Value::Object(m)).unwrap_or_default()
}

/// `error_code` (protocol 0.2.8): what a client may do about a failure.
pub fn error_code(e: &Error) -> &'static str {
    match e.kind {
        ErrorKind::Io => "retryable",
        _ => "other",
    }
}

/// A numeric argument, as Go's `parseUint64` reads it.
pub fn uint64(v: &Value) -> Result<u64, Error> {
    let f = v.as_f64().ok_or_else(|| Error::invalid(format!("expecting numeric, not {}", go_type(v))))?;
    if f > MAX_JSON_FLOAT {
        return Err(Error::invalid(format!("out of range integer for numeric {f:.6}")));
    }
    // Go converts a float64 to uint64 by truncation.
    Ok(if f < 0.0 { 0 } else { f as u64 })
}

/// A string argument.
pub fn string<'a>(v: &'a Value, what: &str) -> Result<&'a str, Error> {
    v.as_str().ok_or_else(|| Error::invalid(what.to_owned()))
}

/// The Go type name `encoding/json` gives a value decoded into `any`.
pub fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_in_go_field_order() {
        let ok = reply(&Ok(Answer { value: "0.2.8".into(), pipes: vec![], pipe_id: 0 }));
        assert_eq!(ok, br#"{"success":true,"value":"0.2.8","pipeid":0,"error_code":"","error":""}"#);
        let bad = reply(&Err(Error::invalid("no image 7")));
        assert_eq!(bad, br#"{"success":false,"value":null,"pipeid":0,"error_code":"other","error":"no image 7"}"#);
    }

    #[test]
    fn numbers_as_go_reads_them() {
        assert_eq!(uint64(&serde_json::json!(3.0)).unwrap(), 3);
        assert_eq!(uint64(&serde_json::json!(9_007_199_254_740_991u64)).unwrap(), 9_007_199_254_740_991);
        assert!(uint64(&serde_json::json!(9_007_199_254_740_993u64)).is_err());
        assert_eq!(uint64(&serde_json::json!("1")).unwrap_err().message, "expecting numeric, not string");
    }
}
