include!("../../build-rpath.rs");
