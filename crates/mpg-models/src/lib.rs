//! Differentiable prior models (issue 8).
