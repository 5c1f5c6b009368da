//! Baton's workflow engine.
//!
//! Owns the domain model, its validation, the store (one trait, one adapter per database) and,
//! behind the `store` feature, everything that needs a database or a runtime. It knows nothing of
//! HTTP or HTML: the server and the UI call into it, never the other way round. Without the `store`
//! feature it compiles to wasm, so the browser can run the same model code as the server.

pub mod definition;
pub mod entity;
pub mod id;
pub mod instance;
#[cfg(feature = "store")]
pub mod people;
#[cfg(feature = "store")]
pub mod runtime;
pub mod status;
pub mod task;

#[cfg(feature = "store")]
pub mod service;
#[cfg(feature = "store")]
pub mod store;

#[cfg(feature = "testing")]
pub mod testing;
