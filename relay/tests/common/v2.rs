//! Protocol v2 fixtures: an account with an identity key, a signed device list and
//! per-device keys; v2 envelopes; requests on device mailboxes.

use std::collections::HashMap;

use base64::Engine;
use reqwest::{Method, StatusCode};
use sealpost_core::rand_core::Rng;
use sealpost_core::v2::{DeviceEntry, DeviceId, DeviceKeys, DeviceList};
use sealpost_core::{UserId, auth, os_rng};
use serde_json::{Value, json};

use super::{B64, Client, PATIENCE, Reply, User, Ws, encryption_key, now};

/// An account: a [`User`] (id and identity key) with devices.
pub struct Account {
    pub user: User,
    /// The devices of the next list to sign, in any order.
    pub entries: Vec<DeviceEntry>,
    pub version: u64,
    keys: HashMap<DeviceId, DeviceKeys>,
}

impl Account {
    /// A fresh id with key set `key` and no devices yet.
    pub fn new(key: usize) -> Self {
        Self::from_user(User::new(key))
    }

    pub fn from_user(user: User) -> Self {
        Self {
            user,
            entries: vec![],
            version: 0,
            keys: HashMap::new(),
        }
    }

    pub fn id(&self) -> &UserId {
        &self.user.id
    }

    pub fn hex(&self) -> &str {
        &self.user.hex
    }

    /// Creates a device (keys, id) and adds it to the next list.
    pub fn add_device(&mut self) -> DeviceId {
        self.add_device_with_id(DeviceId::generate(&mut os_rng()))
    }

    /// Creates keys for device `id` (someone else's id, for a forger) and lists it.
    pub fn add_device_with_id(&mut self, id: DeviceId) -> DeviceId {
        let identity = &self.user.key;
        let keys = DeviceKeys::from_key(
            &mut os_rng(),
            identity,
            self.user.id,
            id,
            encryption_key(0),
            now(),
        )
        .unwrap();
        let id = *keys.device_id();
        self.entries.push(DeviceEntry {
            id,
            added_at: now(),
            name: format!("device {}", self.entries.len()),
        });
        self.keys.insert(id, keys);
        id
    }

    /// Takes `device` out of the next list (its keys stay, to attempt things with).
    pub fn remove_device(&mut self, device: &DeviceId) {
        self.entries.retain(|e| e.id != *device);
    }

    /// Puts a removed device back into the next list.
    pub fn readd_device(&mut self, device: &DeviceId) {
        self.entries.push(DeviceEntry {
            id: *device,
            added_at: now(),
            name: "back".into(),
        });
    }

    /// Signs the next list (a strictly larger version).
    pub fn next_list(&mut self) -> Vec<u8> {
        self.version = now().max(self.version + 1);
        self.list_at(self.version)
    }

    /// A list of the current entries at `version`, signed by this account's key.
    pub fn list_at(&self, version: u64) -> Vec<u8> {
        DeviceList::sign(
            &mut os_rng(),
            self.user.id,
            &self.user.key,
            version,
            self.entries.clone(),
        )
        .unwrap()
        .to_bytes()
        .to_vec()
    }

    /// A fresh bundle of `device`, signed by this account's key.
    pub fn bundle(&mut self, device: &DeviceId) -> Vec<u8> {
        let identity = &self.user.key;
        self.keys
            .get_mut(device)
            .unwrap()
            .bundle(&mut os_rng(), identity, now())
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    /// A signed `Authorization` value.
    pub fn sign(&self, method: &str, path: &str, body: &[u8]) -> String {
        self.user.sign(method, path, body)
    }

    /// The WebSocket answer for `device`'s mailbox: the challenge signed with the
    /// device id in front.
    pub fn sign_device_challenge(&self, device: &DeviceId, challenge: &[u8]) -> String {
        let msg = auth::challenge_signing_input(
            &self.user.id,
            &[device.as_bytes().as_slice(), challenge].concat(),
        );
        B64.encode(self.user.key.sign(&mut os_rng(), &msg).unwrap())
    }

    pub fn mailbox(&self, device: &DeviceId) -> String {
        format!("/v2/mailboxes/{}/{}", self.user.hex, device.to_hex())
    }

    pub fn list_path(&self) -> String {
        format!("/v2/users/{}/devices", self.user.hex)
    }

    pub fn bundle_path(&self, device: &DeviceId) -> String {
        format!(
            "/v2/users/{}/devices/{}/bundle",
            self.user.hex,
            device.to_hex()
        )
    }
}

/// A bucket-sized v2 envelope for `(to, device)`: `0x02 || user || device || random`.
pub fn envelope2(to: &UserId, device: &DeviceId, len: usize) -> Vec<u8> {
    let mut e = vec![0u8; len];
    os_rng().fill_bytes(&mut e);
    e[0] = 2;
    e[1..33].copy_from_slice(to.as_bytes());
    e[33..49].copy_from_slice(device.as_bytes());
    e
}

impl Client {
    /// A fresh account (key set `key`) with one device, its list published.
    pub async fn account(&self, key: usize) -> (Account, DeviceId) {
        let mut account = Account::new(key);
        let device = account.add_device();
        self.publish_list(&mut account).await;
        (account, device)
    }

    pub async fn put_list(&self, account: &Account, list: Vec<u8>) -> Reply {
        self.send(Method::PUT, &account.list_path(), None, list)
            .await
    }

    /// Signs and uploads the account's next list; expects 201 or 200.
    pub async fn publish_list(&self, account: &mut Account) -> Reply {
        let list = account.next_list();
        let r = self.put_list(account, list).await;
        assert!(
            r.status == StatusCode::CREATED || r.status == StatusCode::OK,
            "{}: {}",
            r.status,
            String::from_utf8_lossy(&r.bytes)
        );
        r
    }

    pub async fn put_device_bundle(&self, account: &mut Account, device: &DeviceId) -> Reply {
        let bundle = account.bundle(device);
        let path = account.bundle_path(device);
        let auth = account.sign("PUT", &path, &bundle);
        self.send(Method::PUT, &path, Some(&auth), bundle).await
    }

    pub async fn deposit2(&self, account: &Account, device: &DeviceId, data: Vec<u8>) -> Reply {
        self.send(Method::POST, &account.mailbox(device), None, data)
            .await
    }

    /// `DELETE path` signed by `account`: the owner acknowledging (deleting) a blob.
    pub async fn delete_signed(&self, account: &Account, path: &str) -> Reply {
        let auth = account.sign("DELETE", path, b"");
        self.send(Method::DELETE, path, Some(&auth), vec![]).await
    }

    /// Deposits a fresh 512-byte v2 envelope for `device`; the reply, whatever it is.
    pub async fn deposit2_fresh(&self, account: &Account, device: &DeviceId) -> Reply {
        self.deposit2(account, device, envelope2(account.id(), device, 512))
            .await
    }

    /// Deposits a 512-byte v2 envelope; returns (blob id, envelope).
    pub async fn deposit2_ok(&self, account: &Account, device: &DeviceId) -> (String, Vec<u8>) {
        let env = envelope2(account.id(), device, 512);
        let r = self.deposit2(account, device, env.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&r.bytes)
        );
        (r.json()["id"].as_str().unwrap().to_string(), env)
    }

    /// `GET .../blobs` of a device mailbox with `auth` (signature or bearer).
    pub async fn list2_with(&self, account: &Account, device: &DeviceId, auth: &str) -> Reply {
        let path = format!("{}/blobs", account.mailbox(device));
        self.send(Method::GET, &path, Some(auth), vec![]).await
    }

    /// Waiting blobs of a device mailbox as (id, data), listed with a signature.
    pub async fn list2(&self, account: &Account, device: &DeviceId) -> Vec<(String, Vec<u8>)> {
        let path = format!("{}/blobs", account.mailbox(device));
        let r = self
            .list2_with(account, device, &account.sign("GET", &path, b""))
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.bytes)
        );
        r.json()["blobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["id"].as_str().unwrap().to_string(),
                    B64.decode(b["data"].as_str().unwrap()).unwrap(),
                )
            })
            .collect()
    }

    /// A bearer token for a device mailbox.
    pub async fn token2(&self, account: &Account, device: &DeviceId) -> String {
        let path = format!("{}/token", account.mailbox(device));
        let r = self
            .send(
                Method::POST,
                &path,
                Some(&account.sign("POST", &path, b"")),
                vec![],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.bytes)
        );
        r.json()["token"].as_str().unwrap().to_string()
    }
}

/// How a v2 WebSocket client answers the challenge.
pub enum Ws2Auth<'a> {
    /// Signed for `device` by `account` (the right answer when `device` is the path's).
    Signed(&'a Account, DeviceId),
    Token(&'a str),
}

impl Ws {
    /// Connects to a device mailbox and answers the challenge; returns the first reply.
    pub async fn open2(client: &Client, path: &str, auth: Ws2Auth<'_>) -> (Self, Value) {
        let url = format!("{}{path}/ws", client.base.replacen("http://", "ws://", 1));
        let mut ws = Self::connect(&url).await;
        let challenge = ws.next().await.unwrap();
        assert_eq!(challenge["type"], "challenge");
        let c = B64
            .decode(challenge["challenge"].as_str().unwrap())
            .unwrap();
        let msg = match auth {
            Ws2Auth::Signed(account, device) => {
                json!({"type": "auth", "signature": account.sign_device_challenge(&device, &c)})
            }
            Ws2Auth::Token(t) => json!({"type": "auth", "token": t}),
        };
        ws.send(msg).await;
        let reply = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .unwrap()
            .unwrap_or(Value::Null);
        (ws, reply)
    }

    /// Connects to `device`'s mailbox as the owner and expects `ready`.
    pub async fn device(client: &Client, account: &Account, device: &DeviceId) -> Self {
        let (ws, reply) = Self::open2(
            client,
            &account.mailbox(device),
            Ws2Auth::Signed(account, *device),
        )
        .await;
        assert_eq!(reply["type"], "ready", "{reply}");
        ws
    }
}
