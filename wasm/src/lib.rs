//! Placeholder: the bindings are being written.
