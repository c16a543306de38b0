//! The work waiting for the repository's one worker, coalesced.
//!
//! One run at a time per repository: two runs on one clone would race on its files and its branch. While
//! a run is in progress, what arrives is merged into the single pending batch (each distinct event once,
//! or "everything" from the poller), and the worker takes the whole batch when it is free. Ten alias
//! changes in a second thus become at most two runs: the one in progress and one after it, which reads
//! the registry as it is by then. Nothing is lost: an event that arrives during a run is in the next
//! batch, and an event never needs more than one run after it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::serve::event::Event;

/// One batch of work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Batch {
    /// Reconcile every target (the poller, the start).
    pub all: bool,
    /// The events whose targets to run.
    pub events: BTreeSet<Event>,
}

impl Batch {
    /// How many items it holds (the queue depth of the metrics).
    pub(crate) fn len(&self) -> usize {
        usize::from(self.all) + self.events.len()
    }
}

/// The pending batch and a wake-up for the worker.
#[derive(Default)]
pub(crate) struct WorkQueue {
    pending: Mutex<Batch>,
    wake: tokio::sync::Notify,
}

impl WorkQueue {
    /// Adds an event.
    pub(crate) fn push_event(&self, event: Event) {
        self.lock().events.insert(event);
        self.wake.notify_one();
    }

    /// Asks for a reconciliation of every target.
    pub(crate) fn push_all(&self) {
        self.lock().all = true;
        self.wake.notify_one();
    }

    /// Takes the whole pending batch, `None` when there is nothing to do.
    pub(crate) fn take(&self) -> Option<Batch> {
        let batch = std::mem::take(&mut *self.lock());
        (batch.len() > 0).then_some(batch)
    }

    /// How many items wait.
    pub(crate) fn depth(&self) -> usize {
        self.lock().len()
    }

    /// Waits until something was pushed since the last wait (a push before the wait counts).
    pub(crate) async fn wait(&self) {
        self.wake.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias() -> Event {
        Event {
            kind: "model_version_alias.created".into(),
            model: "fraud".into(),
            alias: Some("champion".into()),
        }
    }

    #[test]
    fn a_burst_coalesces_into_one_batch_and_nothing_is_lost() {
        let q = WorkQueue::default();
        for _ in 0..10 {
            q.push_event(alias());
        }
        assert_eq!(q.depth(), 1, "the same trigger ten times is one item");
        q.push_all();
        let batch = q.take().unwrap();
        assert!(batch.all);
        assert_eq!(batch.events.len(), 1);
        assert_eq!(q.take(), None);
        q.push_event(alias());
        assert_eq!(q.take().unwrap().events.len(), 1, "what came after is kept");
    }

    #[test]
    fn a_push_before_the_wait_wakes_it() {
        let q = WorkQueue::default();
        q.push_all();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(q.wait());
        assert!(q.take().is_some());
    }
}
