//! Shared fixtures for rvirt's integration tests (see `all/main.rs`).
