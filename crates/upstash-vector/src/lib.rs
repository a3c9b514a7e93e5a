//! # upstash-vector
//!
//! A client for [Upstash Vector](https://upstash.com/docs/vector): every REST endpoint,
//! namespaces, typed metadata, dense, sparse and hybrid vectors, and the metadata
//! [`filter`] language (parser, evaluator and an escaping builder), which `upstash-local`
//! reuses to run the same filters server-side.
#![forbid(unsafe_code)]

pub mod filter;
