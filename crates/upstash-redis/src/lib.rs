//! Upstash Redis REST client (work in progress).
