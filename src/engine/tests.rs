//! Engine tests against the real Docker engine.
