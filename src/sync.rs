//! Synchronisation primitives, swapped for loom's model-checked versions under `--cfg loom`.
//!
//! Normally these are std's atomics and parking_lot's `Mutex` and `Condvar`. Under loom the
//! same names are thin wrappers over loom's types exposing only the part of parking_lot's API
//! that the modelled code uses (`lock()` returning the guard, `try_lock()`, `Condvar::wait`
//! on `&mut guard`, `notify_one`, `notify_all`), so `tests/loom.rs` checks the real code.

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};
#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};

#[cfg(not(loom))]
pub use parking_lot::{Condvar, Mutex};

#[cfg(loom)]
pub use self::model::{Condvar, Mutex};

#[cfg(loom)]
mod model {
    use std::fmt;
    use std::ops::{Deref, DerefMut};

    /// A mutual exclusion lock with parking_lot's API over loom's mutex.
    #[derive(Default)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);

    /// The guard of a [`Mutex`]; `None` only while a [`Condvar`] wait has it.
    pub struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        /// A new mutex holding `value`.
        pub fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        /// Locks the mutex (loom's mutex cannot be poisoned in a passing model).
        pub fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().expect("poisoned mutex")))
        }

        /// Locks the mutex if it is free.
        pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok().map(|g| MutexGuard(Some(g)))
        }
    }

    impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Mutex { .. }")
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("guard held")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().expect("guard held")
        }
    }

    /// A condition variable with parking_lot's API over loom's.
    #[derive(Default, Debug)]
    pub struct Condvar(loom::sync::Condvar);

    impl Condvar {
        /// A new condition variable.
        pub fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }

        /// Releases the guard's lock, waits for a notification, and locks again.
        pub fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let g = guard.0.take().expect("guard held");
            guard.0 = Some(self.0.wait(g).expect("poisoned mutex"));
        }

        /// Wakes one waiter.
        pub fn notify_one(&self) {
            self.0.notify_one();
        }

        /// Wakes every waiter.
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}
