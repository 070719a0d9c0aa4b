include!("../../build-rpath.rs");

fn main() {
    rpath();
}
