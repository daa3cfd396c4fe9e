//! Collects the outputs of one `handle` call and puts them in the order a driver must
//! carry them out: persist first, then tell the app and the directory, then deposit,
//! and acknowledge last, so that a crash at any point loses nothing and delivers
//! nothing twice (an unacknowledged blob comes back; a persisted seen-set refuses it).

use alloc::vec::Vec;
use sealpost_core::sorted::SortedSet;

use crate::action::{Notice, Output, Part};

#[derive(Debug, Default)]
pub(crate) struct Out {
    persist: SortedSet<Part>,
    actions: Vec<Output>,
    deposits: Vec<Output>,
    acks: Vec<Output>,
}

impl Out {
    pub(crate) fn persist(&mut self, part: Part) {
        self.persist.insert(part);
    }

    pub(crate) fn push(&mut self, output: Output) {
        match output {
            Output::Persist(part) => self.persist(part),
            Output::Deposit { .. } | Output::DirectFrame { .. } => self.deposits.push(output),
            // A blob that came over a direct channel is acknowledged on it.
            Output::Ack { ref blob_id } => match crate::direct::parse_blob_id(blob_id) {
                Some((to, device, seq)) => self.acks.push(Output::DirectFrame {
                    to,
                    device,
                    frame: crate::direct::Frame::Ack { seq }.to_bytes(),
                }),
                None => self.acks.push(output),
            },
            other => self.actions.push(other),
        }
    }

    pub(crate) fn notice(&mut self, notice: Notice) {
        self.actions.push(Output::Notice(notice));
    }

    pub(crate) fn finish(self) -> Vec<Output> {
        let Self {
            persist,
            actions,
            deposits,
            acks,
        } = self;
        persist
            .into_iter()
            .map(Output::Persist)
            .chain(actions)
            .chain(deposits)
            .chain(acks)
            .collect()
    }
}
