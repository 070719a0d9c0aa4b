include!("build-rpath.rs");
