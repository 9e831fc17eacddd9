//! The errors the Toxiproxy 2.x API answers with (api.go's and the collection's), as their
//! message and HTTP status.
use serde_json::{Value, json};

/// An error answer: `{"error": "...", "status": N}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub message: String,
    pub status: u16,
}

impl ApiError {
    fn new(message: impl Into<String>, status: u16) -> ApiError {
        ApiError { message: message.into(), status }
    }
    pub fn bad_body(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(format!("bad request body: {detail}"), 400)
    }
    pub fn missing_field(field: &str) -> ApiError {
        ApiError::new(format!("missing required field: {field}"), 400)
    }
    pub fn proxy_not_found() -> ApiError {
        ApiError::new("proxy not found", 404)
    }
    pub fn proxy_exists() -> ApiError {
        ApiError::new("proxy already exists", 409)
    }
    pub fn invalid_stream() -> ApiError {
        ApiError::new("stream was invalid, can be either upstream or downstream", 400)
    }
    pub fn invalid_toxic_type() -> ApiError {
        ApiError::new("invalid toxic type", 400)
    }
    pub fn toxic_exists() -> ApiError {
        ApiError::new("toxic already exists", 409)
    }
    pub fn toxic_not_found() -> ApiError {
        ApiError::new("toxic not found", 404)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(message, 500)
    }
    pub(super) fn to_json(&self) -> Value {
        json!({"error": self.message, "status": self.status})
    }
}
