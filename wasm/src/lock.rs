//! One `Client` per account per browser: a Web Lock (`navigator.locks`) named after the
//! account, taken before the stored state is read and held until logout.
//!
//! Two clients of one account (two tabs, or a tab and a worker) would each read the
//! session state, advance it and write it back over the other's: the ratchet would step
//! back, chain keys would be reused and messages would become unreadable. With the lock,
//! a second `login` throws `LOCKED`, or with `takeOver` steals the lock, and the first
//! client shuts down (`onError` gets `LOCKED`) before the second one reads anything.
//! Where there are no Web Locks (Node.js) nothing is locked.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::error;

type OnStolen = Rc<RefCell<Option<Box<dyn FnOnce()>>>>;

/// A held account lock; released when dropped.
pub(crate) struct AccountLock {
    /// Resolves the promise the lock callback returned, which releases the lock.
    release: Function,
    /// The `request()` promise: settles once the lock is released (or stolen).
    done: Promise,
    on_stolen: OnStolen,
    /// Set when another context stole the lock (even before `on_stolen` was given).
    stolen: Rc<Cell<bool>>,
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
        let _ = self.release.call0(&JsValue::NULL);
    }
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
    let mut release = None;
    let held = Promise::new(&mut |resolve, _| release = Some(resolve));
    let mut granted = None;
    let granted_promise = Promise::new(&mut |resolve, _| granted = Some(resolve));
    let (Some(release), Some(granted)) = (release, granted) else {
        return Err(error("CRYPTO", "promise executor did not run"));
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
    let on_reject = Closure::once_into_js(move |_e: JsValue| {
        let _ = not_granted.call1(&JsValue::NULL, &JsValue::from_str("unavailable"));
        flag.set(true);
        let f = slot.try_borrow_mut().ok().and_then(|mut f| f.take());
        if let Some(f) = f {
            f();
        }
    });
    if let Ok(catch) = get(&request_promise, "catch").dyn_into::<Function>() {
        catch.call1(&request_promise, &on_reject)?;
    }
    let lock = JsFuture::from(granted_promise).await?;
    if lock.is_string() {
        return Ok(None);
    }
    if lock.is_null() {
        return Err(error(
            "LOCKED",
            "this account is open in another tab or window of this browser",
        ));
    }
    Ok(Some(AccountLock {
        release,
        done: request_promise,
        on_stolen,
        stolen,
    }))
}
