// Shared by every package whose binaries, tests or benches link libtorch (included by their
// build.rs): torch-sys gives final binaries no rpath, and cargo overrides LD_LIBRARY_PATH for
// `cargo test`, so bake libtorch's lib folder into the binaries (docs/setup.md).
fn rpath() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        let lib = std::path::Path::new(&dir).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
