//! Turning `std::io::Error`s from file operations into coded errors that name the file and the fix.
//!
//! The codes are the ones `@studykit/native` documents (`E_IO_NOT_FOUND`, `E_IO_PERMISSION`,
//! `E_IO_IS_DIRECTORY`, `E_IO`); callers in JS branch on them.

use crate::error::NativeError;
use std::io;
use std::path::Path;

/// `EISDIR` (21 on Linux, macOS and the BSDs); matched by number so the check does not depend on which
/// `io::ErrorKind` a given Rust release maps it to.
const EISDIR: i32 = 21;

/// A coded error for a failed `operation` ("open", "read", "map") on `path`.
pub fn io_error(path: &Path, operation: &str, error: &io::Error) -> NativeError {
    let shown = path.display();
    match error.kind() {
        io::ErrorKind::NotFound => NativeError::new(
            "E_IO_NOT_FOUND",
            format!("cannot {operation} {shown}: no such file or directory; check the path"),
        ),
        io::ErrorKind::PermissionDenied => NativeError::new(
            "E_IO_PERMISSION",
            format!("cannot {operation} {shown}: permission denied; check the file's read permission"),
        ),
        _ if error.raw_os_error() == Some(EISDIR) => is_directory(path),
        _ => NativeError::new("E_IO", format!("cannot {operation} {shown}: {error}")),
    }
}

/// The error for a path that names a directory where a file was expected.
pub fn is_directory(path: &Path) -> NativeError {
    NativeError::new(
        "E_IO_IS_DIRECTORY",
        format!("cannot read {}: it is a directory; pass a regular file", path.display()),
    )
}

/// The error for an operation stopped by its caller (JS `AbortSignal`).
pub fn cancelled(path: &Path) -> NativeError {
    NativeError::new("E_CANCELLED", format!("hashing {} was cancelled", path.display()))
}

/// Opens `path` for reading, refusing directories up front (reading one fails late and obscurely).
pub fn open_regular(path: &Path) -> Result<(std::fs::File, u64), NativeError> {
    let file = std::fs::File::open(path).map_err(|error| io_error(path, "open", &error))?;
    let metadata = file.metadata().map_err(|error| io_error(path, "stat", &error))?;
    if metadata.is_dir() {
        return Err(is_directory(path));
    }
    Ok((file, metadata.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_error_kind() {
        let missing = open_regular(Path::new("/nonexistent/studykit/file.bin")).unwrap_err();
        assert_eq!(missing.code, "E_IO_NOT_FOUND");
        assert!(missing.message.contains("/nonexistent/studykit/file.bin"));
        let directory = open_regular(&std::env::temp_dir()).unwrap_err();
        assert_eq!(directory.code, "E_IO_IS_DIRECTORY");
        let denied = io_error(Path::new("/x"), "open", &io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(denied.code, "E_IO_PERMISSION");
    }
}
