//! End-to-end tests of the `mpg` binary.
