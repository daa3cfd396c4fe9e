//! Sessions per device pair (PROTOCOL.md 12-18): seal to a peer device's bundle, open
//! what arrives in this device's mailbox. A message that starts a session is returned
//! as a [`PendingInit`] and creates nothing until the app has checked the sender's
//! identity and calls [`SessionStore::accept`].

use sealpost_core::IdentityPublicKey;
use sealpost_core::v2::{self, Opening, SessionInfo};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::device::same_account;
use super::{
    Bytes, DeviceBundle, DeviceKeys, Identity, OpenedMessageJs, OpeningJs, SealedEnvelopeJs, hex,
    parse_session_id, parse_user_id, to_js,
};
use crate::error::{OrJs, invalid};
use crate::{now_or, rng};

/// Every session of one device. Persist it with `Vault.sealSessions` after every change
/// (a seal or an open moves the chains: an old copy would reuse keys or refuse messages).
#[wasm_bindgen]
#[derive(Default, Debug)]
pub struct SessionStore {
    pub(crate) inner: v2::SessionStore,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SealedOut {
    recipient: String,
    recipient_device: String,
    envelope: Bytes,
    session_id: String,
    counter: u64,
    new_session: bool,
    with_init: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenedOut {
    kind: &'static str,
    sender: String,
    sender_device: String,
    sender_identity: Bytes,
    sender_fingerprint: String,
    session_id: String,
    counter: u64,
    sent_at: u64,
    payload: Bytes,
    skipped: Vec<u64>,
    new_session: bool,
    trusted: bool,
}

fn opened_js(o: v2::OpenedMessage) -> Result<OpenedMessageJs, JsValue> {
    let out = OpenedOut {
        kind: "message",
        sender: o.sender.to_hex(),
        sender_device: o.sender_device.to_hex(),
        sender_identity: Bytes(o.sender_identity.to_spki_der().to_vec()),
        sender_fingerprint: hex(&o.sender_identity.fingerprint()),
        session_id: o.session_id.to_hex(),
        counter: o.counter,
        sent_at: o.sent_at,
        payload: Bytes(o.payload.to_vec()),
        skipped: o.skipped,
        new_session: o.new_session,
        trusted: o.trusted,
    };
    Ok(to_js(&out)?.unchecked_into())
}

/// Reads `string | Uint8Array` (a string is sealed as its UTF-8 bytes).
fn read_payload(payload: &JsValue) -> Result<Vec<u8>, JsValue> {
    if let Some(s) = payload.as_string() {
        return Ok(s.into_bytes());
    }
    payload
        .dyn_ref::<js_sys::Uint8Array>()
        .map(js_sys::Uint8Array::to_vec)
        .ok_or_else(|| invalid("payload must be a string or a Uint8Array"))
}

#[wasm_bindgen]
impl SessionStore {
    /// An empty store.
    #[wasm_bindgen(constructor)]
    pub fn new() -> SessionStore {
        SessionStore::default()
    }

    /// Loads session state in the core's secret encoding (format `S` 2; the interop
    /// vectors use it). There is no inverse: persist with `Vault.sealSessions`, which
    /// never exposes the plaintext.
    #[wasm_bindgen(js_name = fromSecretBytes)]
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<SessionStore, JsValue> {
        Ok(SessionStore {
            inner: v2::SessionStore::from_secret_bytes(bytes).or_js()?,
        })
    }

    /// Number of sessions held.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.len()
    }

    /// Seals `payload` from this device (`me`, of `identity`'s account) to the peer
    /// device of `peer`, a bundle you checked against the peer's device list
    /// (`DeviceList.checkBundle`) and pinned identity. Reuses a usable session or starts
    /// one (RSA: a wrap and a signature). Throws `EXPIRED` (no valid key in the bundle),
    /// `MALFORMED` (sealing to this device itself), `TOO_LARGE`.
    pub fn seal(
        &mut self,
        identity: &Identity,
        me: &DeviceKeys,
        peer: &DeviceBundle,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] payload: JsValue,
        now: Option<f64>,
    ) -> Result<SealedEnvelopeJs, JsValue> {
        self.seal_with(v2::SessionStore::seal, identity, me, peer, &payload, now)
    }

    /// As `seal`, for a re-send that must open even if the peer device lost every
    /// session with us: in a session that still carries its init, else a new one.
    #[wasm_bindgen(js_name = sealFresh)]
    pub fn seal_fresh(
        &mut self,
        identity: &Identity,
        me: &DeviceKeys,
        peer: &DeviceBundle,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] payload: JsValue,
        now: Option<f64>,
    ) -> Result<SealedEnvelopeJs, JsValue> {
        self.seal_with(
            v2::SessionStore::seal_fresh,
            identity,
            me,
            peer,
            &payload,
            now,
        )
    }

    /// Opens an envelope from this device's mailbox. A message in a known session is an
    /// `OpenedMessage` (state committed); the first message of a new session is a
    /// `PendingInit` (nothing stored yet): check its `senderFingerprint` against your
    /// pin (and the sender's device list), then `accept` it, or drop it. Throws
    /// `MALFORMED`, `EXPIRED` (outside the time window), `REPLAY` or `DECRYPT_FAILED`;
    /// state changes only on success.
    pub fn open(
        &mut self,
        me: &DeviceKeys,
        envelope: &[u8],
        now: Option<f64>,
    ) -> Result<OpeningJs, JsValue> {
        match self
            .inner
            .open(&mut rng(), &me.inner, envelope, now_or(now))
            .or_js()?
        {
            Opening::Message(m) => Ok(opened_js(m)?.unchecked_into()),
            Opening::Pending(p) => Ok(JsValue::from(PendingInit { inner: *p }).unchecked_into()),
        }
    }

    /// Creates the session of a `PendingInit` and releases its message. `trusted`:
    /// whether the sender's identity is the one you pinned for them (a stranger's first
    /// message is untrusted; untrusted sessions never displace trusted ones). The
    /// pending handle is consumed. Throws `EXPIRED`, `REPLAY`, `TOO_LARGE`.
    pub fn accept(
        &mut self,
        pending: PendingInit,
        trusted: bool,
        now: Option<f64>,
    ) -> Result<OpenedMessageJs, JsValue> {
        opened_js(
            self.inner
                .accept(pending.inner, trusted, now_or(now))
                .or_js()?,
        )
    }

    /// Marks every session with `userId` bound to `identityKey` (SPKI DER) trusted or
    /// not (you pinned or unpinned that identity). Returns how many matched.
    #[wasm_bindgen(js_name = setTrusted)]
    pub fn set_trusted(
        &mut self,
        #[wasm_bindgen(js_name = userId)] user_id: &str,
        #[wasm_bindgen(js_name = identityKey)] identity_key: &[u8],
        trusted: bool,
    ) -> Result<usize, JsValue> {
        let identity = IdentityPublicKey::from_spki_der(identity_key).or_js()?;
        Ok(self
            .inner
            .set_trusted(&parse_user_id(user_id)?, &identity, trusted))
    }

    /// The sessions held (no secrets).
    #[wasm_bindgen(unchecked_return_type = "SessionInfo[]")]
    pub fn sessions(&self) -> Result<JsValue, JsValue> {
        let infos: Vec<InfoOut> = self.inner.sessions().iter().map(InfoOut::of).collect();
        to_js(&infos)
    }

    /// Forgets one session (32 hex digits).
    #[wasm_bindgen(js_name = forgetSession)]
    pub fn forget_session(
        &mut self,
        #[wasm_bindgen(js_name = sessionId)] id: &str,
    ) -> Result<(), JsValue> {
        self.inner.forget_session(&parse_session_id(id)?);
        Ok(())
    }

    /// Forgets every session with one device of `userId` (it was revoked).
    #[wasm_bindgen(js_name = forgetDevice)]
    pub fn forget_device(
        &mut self,
        #[wasm_bindgen(js_name = userId)] user_id: &str,
        #[wasm_bindgen(js_name = deviceId)] device_id: &str,
    ) -> Result<(), JsValue> {
        self.inner.forget_device(
            &parse_user_id(user_id)?,
            &super::parse_device_id(device_id)?,
        );
        Ok(())
    }

    /// Forgets every session with `userId` (their identity key changed).
    #[wasm_bindgen(js_name = forgetPeer)]
    pub fn forget_peer(
        &mut self,
        #[wasm_bindgen(js_name = userId)] user_id: &str,
    ) -> Result<(), JsValue> {
        self.inner.forget_peer(&parse_user_id(user_id)?);
        Ok(())
    }

    /// Forgets idle sessions and expired replay memory.
    pub fn prune(&mut self, now: Option<f64>) {
        self.inner.prune(now_or(now));
    }
}

/// `SessionStore::seal` or `seal_fresh` of the core.
type SealFn = fn(
    &mut v2::SessionStore,
    &mut crate::Rng,
    &sealpost_core::IdentityKey,
    &v2::DeviceKeys,
    &v2::DeviceBundle,
    &[u8],
    u64,
) -> sealpost_core::Result<v2::SealedEnvelope>;

impl SessionStore {
    fn seal_with(
        &mut self,
        seal: SealFn,
        identity: &Identity,
        me: &DeviceKeys,
        peer: &DeviceBundle,
        payload: &JsValue,
        now: Option<f64>,
    ) -> Result<SealedEnvelopeJs, JsValue> {
        same_account(identity, &me.inner)?;
        let bytes = read_payload(payload)?;
        let s = seal(
            &mut self.inner,
            &mut rng(),
            &identity.key,
            &me.inner,
            &peer.inner,
            &bytes,
            now_or(now),
        )
        .or_js()?;
        sealed_js(s)
    }
}

fn sealed_js(s: v2::SealedEnvelope) -> Result<SealedEnvelopeJs, JsValue> {
    let out = SealedOut {
        recipient: s.recipient.to_hex(),
        recipient_device: s.recipient_device.to_hex(),
        envelope: Bytes(s.envelope),
        session_id: s.session_id.to_hex(),
        counter: s.counter,
        new_session: s.new_session,
        with_init: s.with_init,
    };
    Ok(to_js(&out)?.unchecked_into())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InfoOut {
    id: String,
    peer: String,
    peer_device: String,
    peer_fingerprint: String,
    initiator: bool,
    confirmed: bool,
    trusted: bool,
    created_at: u64,
    last_used: u64,
    sent: u64,
    missing: Vec<u64>,
}

impl InfoOut {
    fn of(s: &SessionInfo) -> Self {
        InfoOut {
            id: s.id.to_hex(),
            peer: s.peer.to_hex(),
            peer_device: s.peer_device.to_hex(),
            peer_fingerprint: hex(&s.peer_identity.fingerprint()),
            initiator: s.initiator,
            confirmed: s.confirmed,
            trusted: s.trusted,
            created_at: s.created_at,
            last_used: s.last_used,
            sent: s.sent,
            missing: s.missing.clone(),
        }
    }
}

/// The first message of a new session, verified (signed by `senderIdentity`) but not
/// yet accepted: no session exists until `SessionStore.accept`. Its message stays in
/// wasm memory until then.
#[wasm_bindgen]
#[derive(Debug)]
pub struct PendingInit {
    inner: v2::PendingInit,
}

#[wasm_bindgen]
impl PendingInit {
    /// Always `"pending"` (an `OpenedMessage` has `kind: "message"`), so TypeScript
    /// narrows what `open` returns by `kind`.
    #[wasm_bindgen(getter, unchecked_return_type = "\"pending\"")]
    pub fn kind(&self) -> String {
        "pending".into()
    }

    /// Sender user id (64 hex digits).
    #[wasm_bindgen(getter)]
    pub fn sender(&self) -> String {
        self.inner.sender().to_hex()
    }

    /// Sender device id (32 hex digits).
    #[wasm_bindgen(getter, js_name = senderDevice)]
    pub fn sender_device(&self) -> String {
        self.inner.sender_device().to_hex()
    }

    /// The identity key that signed the init (SPKI DER).
    #[wasm_bindgen(getter, js_name = senderIdentity)]
    pub fn sender_identity(&self) -> Vec<u8> {
        self.inner.sender_identity().to_spki_der().to_vec()
    }

    /// SHA-256 of `senderIdentity` (64 hex digits): compare it with your pin.
    #[wasm_bindgen(getter, js_name = senderFingerprint)]
    pub fn sender_fingerprint(&self) -> String {
        hex(&self.inner.sender_identity().fingerprint())
    }

    /// The new session's id (32 hex digits).
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.inner.session_id().to_hex()
    }

    /// When the sender started the session (Unix seconds).
    #[wasm_bindgen(getter, js_name = initAt)]
    pub fn init_at(&self) -> f64 {
        self.inner.init_at() as f64
    }

    /// The message's position in the sender's chain.
    #[wasm_bindgen(getter)]
    pub fn counter(&self) -> f64 {
        self.inner.counter() as f64
    }

    /// Sender's clock at sealing (Unix seconds).
    #[wasm_bindgen(getter, js_name = sentAt)]
    pub fn sent_at(&self) -> f64 {
        self.inner.sent_at() as f64
    }
}
