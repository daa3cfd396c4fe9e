//! Groups (docs/PROTOCOL.md 27): thin calls into the engine, which signs, checks,
//! distributes chains and seals. A call resolves once the engine applied the change
//! here (the operation then goes to every member device like any message) or rejects
//! with a stable code; group messages and changes arrive on the message and notice
//! streams (`group` set, `groupChanged`, `groupRefused`), delivery states on
//! `onDelivery` ("delivered to 7 of 9": members with a device that opened it).

use std::rc::Rc;

use sealpost_core::v2::GroupId;
use sealpost_core::v2::group::GroupError;
use sealpost_core::{UserId, Username};
use sealpost_engine::{GroupRequest, Input};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::driver::Batch;
use super::keyed::{content_digest, idempotency_key};
use super::options::GroupSendOptionsJs;
use super::{Client, Inner};
use crate::crypto::{hex, to_js};
use crate::error::{Code, OrJs, err, invalid};

/// A refused group request as a package error.
fn group_error(e: GroupError) -> JsValue {
    let code = match e {
        GroupError::NotMember => Code::NotGroupMember,
        GroupError::NotAdmin => Code::NotGroupAdmin,
        GroupError::InvalidOperation => Code::InvalidGroupOperation,
        GroupError::TooLarge => Code::TooLarge,
        _ => Code::Crypto,
    };
    err(
        code,
        &format!("the group request was refused ({})", e.code()),
    )
}

fn group_id(hex_id: &str) -> Result<GroupId, JsValue> {
    GroupId::from_hex(hex_id).map_err(|_| invalid("a group id is 32 hex digits"))
}

fn user_ids(usernames: Vec<String>) -> Result<Vec<UserId>, JsValue> {
    usernames
        .iter()
        .map(|u| Username::parse(u).or_js().map(|n| n.user_id()))
        .collect()
}

/// The group this account changed in `batch`, or why the engine refused.
fn outcome(batch: &Batch) -> Result<GroupId, JsValue> {
    if let Some(e) = batch.groups_refused.first() {
        return Err(group_error(*e));
    }
    batch
        .groups_changed
        .first()
        .copied()
        .ok_or_else(|| err(Code::Crypto, "the group did not change"))
}

impl Inner {
    async fn change_group(
        self: &Rc<Self>,
        group: &str,
        change: GroupRequest,
    ) -> Result<(), JsValue> {
        let group = group_id(group)?;
        outcome(&self.feed(Input::ChangeGroup { group, change }).await?).map(|_| ())
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MemberOut {
    user_id: String,
    username: Option<String>,
    fingerprint: String,
    admin: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupOut {
    id: String,
    name: String,
    epoch: u64,
    members: Vec<MemberOut>,
}

#[wasm_bindgen]
impl Client {
    /// Creates a group with these contacts (looked up before: their pinned keys are
    /// their member keys); resolves to its id. This account is its admin.
    #[wasm_bindgen(js_name = createGroup)]
    pub async fn create_group(
        &self,
        name: String,
        members: Vec<String>,
    ) -> Result<String, JsValue> {
        let members = user_ids(members)?;
        let batch = self
            .inner
            .feed(Input::CreateGroup { name, members })
            .await?;
        outcome(&batch).map(|g| g.to_hex())
    }

    /// Adds contacts to a group (admins).
    #[wasm_bindgen(js_name = addMembers)]
    pub async fn add_members(&self, group: String, usernames: Vec<String>) -> Result<(), JsValue> {
        let users = user_ids(usernames)?;
        self.inner
            .change_group(&group, GroupRequest::Add(users))
            .await
    }

    /// Removes members (admins): every member device gets new chains, so they read
    /// nothing sent after.
    #[wasm_bindgen(js_name = removeMembers)]
    pub async fn remove_members(
        &self,
        group: String,
        usernames: Vec<String>,
    ) -> Result<(), JsValue> {
        let users = user_ids(usernames)?;
        self.inner
            .change_group(&group, GroupRequest::Remove(users))
            .await
    }

    /// Leaves a group.
    #[wasm_bindgen(js_name = leaveGroup)]
    pub async fn leave_group(&self, group: String) -> Result<(), JsValue> {
        self.inner.change_group(&group, GroupRequest::Leave).await
    }

    /// Renames a group (admins).
    #[wasm_bindgen(js_name = renameGroup)]
    pub async fn rename_group(&self, group: String, name: String) -> Result<(), JsValue> {
        self.inner
            .change_group(&group, GroupRequest::Rename(name))
            .await
    }

    /// Makes a member an admin (admins).
    #[wasm_bindgen(js_name = promoteAdmin)]
    pub async fn promote_admin(&self, group: String, username: String) -> Result<(), JsValue> {
        let user = Username::parse(&username).or_js()?.user_id();
        self.inner
            .change_group(&group, GroupRequest::Promote(user))
            .await
    }

    /// Makes an admin a plain member again (admins; another admin must remain, and an
    /// admin steps down with its own username).
    #[wasm_bindgen(js_name = demoteAdmin)]
    pub async fn demote_admin(&self, group: String, username: String) -> Result<(), JsValue> {
        let user = Username::parse(&username).or_js()?.user_id();
        self.inner
            .change_group(&group, GroupRequest::Demote(user))
            .await
    }

    /// Sends to a group: sealed once, one upload for every member device. Resolves to
    /// the message id once the engine took it; `onDelivery` counts members. With
    /// `options.idempotencyKey` a retry (after a crash at any point) sends the message
    /// once: it resolves to the first attempt's id (see `keyed.rs`).
    #[wasm_bindgen(js_name = sendToGroup)]
    pub async fn send_to_group(
        &self,
        group: String,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] content: JsValue,
        #[wasm_bindgen(js_name = contentType)] content_type: Option<u8>,
        options: Option<GroupSendOptionsJs>,
    ) -> Result<String, JsValue> {
        let group = group_id(&group)?;
        let (content_type, content) = crate::crypto::read_content(&content, content_type)?;
        let key = idempotency_key(options.as_deref())?;
        let digest = content_digest(content_type, &content);
        let claim = self.inner.claim(key.as_deref(), group.to_hex(), digest)?;
        let msg_id = claim.msg_id;
        if claim.sealed() {
            // Sealed by an earlier attempt: not asked for again; what the relay has not
            // taken is deposited again now.
            let _ = self.inner.feed(Input::Tick).await;
        } else {
            // A repeated id the engine sealed is answered, never sealed twice.
            let batch = self
                .inner
                .feed(Input::SendToGroup {
                    group,
                    msg_id,
                    content_type,
                    content,
                })
                .await?;
            if let Some(e) = batch.groups_refused.first() {
                return Err(group_error(*e));
            }
        }
        Ok(hex(&msg_id.0))
    }

    /// The groups this device is in, with their members.
    #[wasm_bindgen(unchecked_return_type = "GroupInfo[]")]
    pub fn groups(&self) -> Result<JsValue, JsValue> {
        let mut groups: Vec<(GroupOut, Vec<UserId>)> = self.inner.with_engine(|e| {
            Ok(e.groups()
                .map(|g| {
                    let out = GroupOut {
                        id: g.id().to_hex(),
                        name: g.name().to_owned(),
                        epoch: g.epoch(),
                        members: g
                            .members()
                            .iter()
                            .map(|(u, m)| MemberOut {
                                user_id: u.to_hex(),
                                // Checked against the user id by every member (27.2).
                                username: m.username.as_ref().map(|n| n.as_str().to_owned()),
                                fingerprint: hex(&m.fingerprint),
                                admin: m.is_admin(),
                            })
                            .collect(),
                    };
                    (out, g.members().keys().copied().collect())
                })
                .collect())
        })?;
        // A member the state names without a username (added before states carried
        // them): the contact's name, after the engine is released (`name_of` reads it).
        for (g, users) in &mut groups {
            for (m, u) in g.members.iter_mut().zip(users.iter()) {
                if m.username.is_none() {
                    m.username = self.inner.name_of(u);
                }
            }
        }
        let groups: Vec<GroupOut> = groups.into_iter().map(|(g, _)| g).collect();
        to_js(&groups)
    }
}
