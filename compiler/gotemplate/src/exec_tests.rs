//! Data-driven tests of the engine: template, data, expected output or error.
