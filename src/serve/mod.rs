//! The parts of `modelbump serve` that know nothing of sockets or of the pipeline: checking that a
//! webhook delivery comes from MLflow ([`signature`]), reading which registry event it reports and which
//! targets that event can affect ([`event`]), the coalescing queue of work for the one worker of the
//! repository ([`queue`]), and the counters behind `/metrics` ([`metrics`]).
//!
//! The long-running service that wires them to an HTTP listener, a poller and the pipeline is
//! `ops::serve`: it sits in the use-case layer because it calls `ops::run`; these pieces stay below it so
//! that they are tested without a network.

pub(crate) mod event;
pub(crate) mod metrics;
pub(crate) mod queue;
pub(crate) mod signature;
