// N-API symbols are provided by the host `node` process at load time. Linux allows undefined symbols in a
// shared library by default; macOS needs to be told to look them up dynamically.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        println!("cargo:rustc-cdylib-link-arg=-undefined");
        println!("cargo:rustc-cdylib-link-arg=dynamic_lookup");
    }
}
