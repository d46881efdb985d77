// Why this file: the wasm module's shadow stack. rustc's wasm32 default is 1 MiB, placed at the
// bottom of linear memory, so every instance of the module starts with more than 1 MiB of memory
// although the bindings never use more than a few KiB of stack (no recursion; the largest frames
// hold 64 attribute pairs). A smaller stack is the largest part of the wasm memory a `Metrics`
// costs. Only the wasm32 link of this crate is affected (native builds and the core are not).
// EDGEMETRICS_WASM_STACK overrides the size in bytes (for measuring).
fn main() {
    println!("cargo:rerun-if-env-changed=EDGEMETRICS_WASM_STACK");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        let size = std::env::var("EDGEMETRICS_WASM_STACK").unwrap_or_else(|_| "131072".into());
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={size}");
    }
}
