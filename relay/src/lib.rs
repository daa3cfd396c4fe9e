//! Placeholder: the relay is being written.
