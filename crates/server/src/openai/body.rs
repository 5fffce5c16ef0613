//! [`ApiJson`]: the JSON request body extractor, whose every rejection is an [`ApiError`]
//! in OpenAI's shape and names the offending field in `param` (`messages[0].content`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::ApiError;

/// A JSON body. A `Content-Type` other than JSON is refused (415); a missing one is
/// accepted, as the body says what it is.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        check_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("(not ASCII)");
    let essence = text.split(';').next().unwrap_or("").trim();
    let essence = essence.to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return Ok(());
    }
    Err(ApiError::unsupported_media_type(format!(
        "the request body must be JSON with `Content-Type: application/json`, not {text:?}"
    )))
}

/// Parses a whole body, which must be one JSON object (serde would also read a struct
/// from an array of its fields in order; no client means that).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(&b) = bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        if b != b'{' {
            return Err(ApiError::invalid(
                "the request body must be a JSON object ({...})",
            ));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(reject)?;
    de.end()
        .map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

fn reject(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = e.inner();
    if inner.classify() != Category::Data {
        return ApiError::invalid(format!("the body is not valid JSON: {inner}"));
    }
    let msg = inner.to_string();
    let mut path = e.path().to_string();
    if path == "." {
        path.clear();
    }
    // "missing field `role`" at `messages[0]` is about `messages[0].role`.
    if let Some(field) = msg
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    {
        path = if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        };
        return ApiError::invalid_param(&path, format!("missing field `{path}`"));
    }
    // An unknown field: name it alone (serde's list of expected fields is long).
    if let Some(field) = msg
        .strip_prefix("unknown field `")
        .and_then(|m| m.split('`').next())
    {
        if !path.is_empty() && !path.ends_with(field) {
            path = format!("{path}.{field}");
        } else if path.is_empty() {
            path = field.to_string();
        }
        return ApiError::invalid_param(
            &path,
            format!(
                "unknown field `{path}`: wren does not implement it (the README lists every \
                 request field wren accepts)"
            ),
        );
    }
    if path.is_empty() {
        ApiError::invalid(format!("invalid request body: {msg}"))
    } else {
        ApiError::invalid_param(&path, format!("invalid `{path}`: {msg}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(expecting = "a JSON object")]
    #[allow(dead_code)]
    struct Body {
        items: Vec<Item>,
        n: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        role: String,
    }

    fn err(json: &str) -> (Option<String>, String) {
        let e = parse::<Body>(json.as_bytes()).unwrap_err();
        (e.param, e.message)
    }

    #[test]
    fn data_errors_name_the_field() {
        let (param, msg) = err(r#"{"items": [], "n": "x"}"#);
        assert_eq!(param.as_deref(), Some("n"));
        assert!(
            msg.starts_with("invalid `n`: invalid type: string"),
            "{msg}"
        );
        let (param, msg) = err(r#"{"items": [{"role": "a"}, {}]}"#);
        assert_eq!(param.as_deref(), Some("items[1].role"));
        assert_eq!(msg, "missing field `items[1].role`");
        let (param, _) = err(r#"{"n": 1}"#);
        assert_eq!(param.as_deref(), Some("items"));
        // A struct is not read from an array of its fields.
        for not_an_object in ["[[]]", " 42", "\"x\""] {
            let (param, msg) = err(not_an_object);
            assert_eq!(param, None);
            assert!(msg.contains("must be a JSON object"), "{msg}");
        }
    }

    #[test]
    fn syntax_errors_and_trailing_data() {
        let (param, msg) = err(r#"{"items": ["#);
        assert_eq!(param, None);
        assert!(msg.starts_with("the body is not valid JSON: EOF"), "{msg}");
        let (_, msg) = err(r#"{"items": []} x"#);
        assert!(msg.contains("trailing characters"), "{msg}");
        assert!(parse::<Body>(br#" {"items": []} "#).is_ok());
    }

    #[test]
    fn content_types() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, ct.parse().unwrap());
            check_content_type(&h).map_err(|e| e.status.as_u16())
        };
        assert!(check_content_type(&HeaderMap::new()).is_ok());
        assert_eq!(with("application/json"), Ok(()));
        assert_eq!(with("Application/JSON; charset=utf-8"), Ok(()));
        assert_eq!(with("application/vnd.api+json"), Ok(()));
        assert_eq!(with("text/plain"), Err(415));
        assert_eq!(with("application/x-www-form-urlencoded"), Err(415));
    }
}
