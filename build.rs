// The `mpg` binary links libtorch: bake its rpath in (build-rpath.rs), and record the git
// commit and the libtorch version for the run folders' provenance.
include!("build-rpath.rs");

fn provenance() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=MPG_GIT_COMMIT={commit}");
    let libtorch = std::env::var("LIBTORCH")
        .ok()
        .and_then(|d| std::fs::read_to_string(std::path::Path::new(&d).join("version.py")).ok())
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("__version__ = ")
                    .map(|v| v.trim_matches(['\'', '"']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=MPG_LIBTORCH_VERSION={libtorch}");
}

fn main() {
    rpath();
    provenance();
}
