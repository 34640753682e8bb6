//! The native error type: what every kernel and file operation returns on failure, a stable code and a
//! message that names the file or value and the fix. It knows nothing of N-API; `napi/glue.rs` turns it
//! into a thrown JS `Error` (or a rejected promise) whose `code` is [`NativeError::code`], and the TS
//! side maps the codes to its typed errors (`IoError`, `NativeError`, `CancelledError`).

/// A failure with a stable code (`E_IO_NOT_FOUND`, `E_NATIVE_ARGUMENT`, ...) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeError {
    pub code: &'static str,
    pub message: String,
}

impl NativeError {
    /// An error with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> NativeError {
        NativeError { code, message: message.into() }
    }

    /// A bad argument (`E_NATIVE_ARGUMENT`).
    pub fn argument(message: impl Into<String>) -> NativeError {
        NativeError::new("E_NATIVE_ARGUMENT", message)
    }
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for NativeError {}

/// The result of a native operation.
pub type NativeResult<T> = Result<T, NativeError>;

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Turns a caught panic's payload into an `E_NATIVE_PANIC` error, so a bug in a kernel reaches JS as a
/// coded error instead of aborting the process.
pub fn panic_to_error(payload: Box<dyn std::any::Any + Send>) -> NativeError {
    NativeError::new("E_NATIVE_PANIC", format!("native code panicked: {}", panic_message(&*payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_payload_becomes_a_coded_error_with_its_message() {
        let caught = std::panic::catch_unwind(|| panic!("index {} out of range", 7)).unwrap_err();
        let error = panic_to_error(caught);
        assert_eq!(error.code, "E_NATIVE_PANIC");
        assert_eq!(error.message, "native code panicked: index 7 out of range");
        let caught = std::panic::catch_unwind(|| panic!("static text")).unwrap_err();
        assert_eq!(panic_to_error(caught).message, "native code panicked: static text");
        assert_eq!(NativeError::argument("n must be positive").to_string(), "E_NATIVE_ARGUMENT: n must be positive");
    }
}
