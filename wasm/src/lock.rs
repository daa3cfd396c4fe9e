//! One `Client` per account per browser: a Web Lock (`navigator.locks`) named after the
//! account, taken before the stored state is read and held until logout.
//!
//! Two clients of one account (two tabs, or a tab and a worker) would each read the
//! session state, advance it and write it back over the other's: the ratchet would step
//! back, chain keys would be reused and messages would become unreadable. With the lock,
//! a second `login` throws `LOCKED`, or with `takeOver` steals the lock. Stealing alone
//! reaches the first client a task later, when it may still start a write; so the
//! taker also asks it over a `BroadcastChannel` of the same name and waits (up to 2 s,
//! for a tab that is frozen or gone) until it has shut down (`onError` gets `LOCKED`)
//! before reading anything. Where there are no Web Locks (Node.js) nothing is locked.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, MessageEvent};

use crate::error::{Code, err};

type OnStolen = Rc<RefCell<Option<Box<dyn FnOnce()>>>>;
type Listener = Closure<dyn FnMut(MessageEvent)>;

/// A held account lock; released when dropped.
pub(crate) struct AccountLock {
    /// Resolves the promise the lock callback returned, which releases the lock.
    release: Function,
    /// The `request()` promise: settles once the lock is released (or stolen).
    done: Promise,
    on_stolen: OnStolen,
    /// Set when another context stole the lock (even before `on_stolen` was given).
    stolen: Rc<Cell<bool>>,
    /// Where a taker asks this holder to stop (see the module docs), and its listener.
    channel: Option<(BroadcastChannel, Listener)>,
}

impl AccountLock {
    /// Whether another context took the account over.
    pub(crate) fn stolen(&self) -> Rc<Cell<bool>> {
        Rc::clone(&self.stolen)
    }

    /// Releases the lock and waits until the browser has (so a `login` right after a
    /// `logout` finds it free).
    pub(crate) async fn release(self) {
        if let Ok(mut f) = self.on_stolen.try_borrow_mut() {
            f.take();
        }
        let _ = self.release.call0(&JsValue::NULL);
        let _ = JsFuture::from(self.done.clone()).await;
    }

    /// What to do when another context takes the account over (at once if it already
    /// has).
    pub(crate) fn on_stolen(&self, f: impl FnOnce() + 'static) {
        if self.stolen.get() {
            f();
        } else {
            *self.on_stolen.borrow_mut() = Some(Box::new(f));
        }
    }
}

impl Drop for AccountLock {
    fn drop(&mut self) {
        if let Ok(mut f) = self.on_stolen.try_borrow_mut() {
            f.take();
        }
        if let Some((channel, _)) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
        let _ = self.release.call0(&JsValue::NULL);
    }
}

const TAKEOVER: &str = "takeover";
const RELEASED: &str = "released";
/// How long a taker waits for the holder's answer.
const HANDOVER_MS: i32 = 2000;

/// Whether the lock `name` is held somewhere (`navigator.locks.query()`).
async fn is_held(locks: &JsValue, name: &str) -> bool {
    let Ok(query) = get(locks, "query").dyn_into::<Function>() else {
        return false;
    };
    let Ok(pending) = query.call0(locks) else {
        return false;
    };
    let Ok(state) = JsFuture::from(Promise::resolve(&pending)).await else {
        return false;
    };
    let held = get(&state, "held");
    if !js_sys::Array::is_array(&held) {
        return false;
    }
    held.unchecked_into::<js_sys::Array>()
        .iter()
        .any(|l| get(&l, "name").as_string().as_deref() == Some(name))
}

/// Asks the holder of `name` to shut down and waits for its answer (or the timeout).
async fn hand_over(name: &str) {
    let Ok(channel) = BroadcastChannel::new(name) else {
        return;
    };
    let mut slot = None;
    let done = Promise::new(&mut |resolve, _| slot = Some(resolve));
    let Some(resolve) = slot else {
        return;
    };
    let answered = resolve.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        if ev.data().as_string().as_deref() == Some(RELEASED) {
            let _ = answered.call0(&JsValue::NULL);
        }
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let global = js_sys::global();
    if let Ok(set_timeout) = get(&global, "setTimeout").dyn_into::<Function>() {
        let _ = set_timeout.call2(&global, &resolve, &JsValue::from(HANDOVER_MS));
    }
    let _ = channel.post_message(&JsValue::from_str(TAKEOVER));
    let _ = JsFuture::from(done).await;
    channel.set_onmessage(None);
    channel.close();
    drop(on_message);
}

/// The lock's name for the account with this user id (hex): apps may use it with
/// `navigator.locks.query()` to see whether the account is open elsewhere.
pub(crate) fn name(user_id_hex: &str) -> String {
    format!("sealpost:{user_id_hex}")
}

fn get(o: &JsValue, k: &str) -> JsValue {
    if o.is_object() {
        Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Takes the lock `name`: `Ok(None)` without Web Locks, `LOCKED` when another context
/// holds it (unless `take_over`, which steals it).
pub(crate) async fn acquire(name: &str, take_over: bool) -> Result<Option<AccountLock>, JsValue> {
    let locks = get(&get(&js_sys::global(), "navigator"), "locks");
    let Ok(request) = get(&locks, "request").dyn_into::<Function>() else {
        return Ok(None);
    };
    let taking_over = take_over && is_held(&locks, name).await;
    let mut release = None;
    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
    let mut granted = None;
    let granted_promise = Promise::new(&mut |resolve, _| granted = Some(resolve));
    let (Some(release), Some(granted)) = (release, granted) else {
        return Err(err(Code::Crypto, "promise executor did not run"));
    };
    let not_granted = granted.clone();
    // Called with the lock, or with null when `ifAvailable` found it taken. Holding
    // means returning a promise that stays pending until `release` resolves it.
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let _ = granted.call1(&JsValue::NULL, &lock);
        if lock.is_null() {
            JsValue::UNDEFINED
        } else {
            held.into()
        }
    });
    let options = Object::new();
    let set = |k: &str, v: &JsValue| Reflect::set(&options, &JsValue::from_str(k), v);
    set("mode", &"exclusive".into())?;
    set(
        if take_over { "steal" } else { "ifAvailable" },
        &true.into(),
    )?;
    let request_promise: Promise = request
        .call3(&locks, &name.into(), &options, &callback)?
        .dyn_into()?;
    // The request's promise rejects (AbortError) when another context steals the lock.
    // Before the lock was granted, the request itself failed (an opaque origin, a
    // detached document): go on without a lock rather than wait for ever.
    let on_stolen: OnStolen = Rc::default();
    let stolen = Rc::new(Cell::new(false));
    let (slot, flag) = (Rc::clone(&on_stolen), Rc::clone(&stolen));
    // Runs the "taken over" handler once, from the AbortError or the taker's message.
    let stop: Rc<dyn Fn()> = Rc::new(move || {
        flag.set(true);
        let f = slot.try_borrow_mut().ok().and_then(|mut f| f.take());
        if let Some(f) = f {
            f();
        }
    });
    let stop_on_reject = Rc::clone(&stop);
    let on_reject = Closure::once_into_js(move |_e: JsValue| {
        let _ = not_granted.call1(&JsValue::NULL, &JsValue::from_str("unavailable"));
        stop_on_reject();
    });
    if let Ok(catch) = get(&request_promise, "catch").dyn_into::<Function>() {
        catch.call1(&request_promise, &on_reject)?;
    }
    let lock = JsFuture::from(granted_promise).await?;
    if lock.is_string() {
        return Ok(None);
    }
    if lock.is_null() {
        return Err(err(
            Code::Locked,
            "this account is open in another tab or window of this browser",
        ));
    }
    if taking_over {
        hand_over(name).await;
    }
    // Listen for a later taker: shut down at once, then say so.
    let channel = BroadcastChannel::new(name).ok().map(|channel| {
        let reply = channel.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            if ev.data().as_string().as_deref() == Some(TAKEOVER) {
                stop();
                let _ = reply.post_message(&JsValue::from_str(RELEASED));
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        (channel, on_message)
    });
    Ok(Some(AccountLock {
        release,
        done: request_promise,
        on_stolen,
        stolen,
        channel,
    }))
}
