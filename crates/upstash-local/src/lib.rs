//! Local Upstash services (work in progress).
