//! An object kept with the JSON text it was last shown as, so that a list answered again and
//! again (a script polling its fleet) writes each unchanged object once, not once per answer.
//!
//! The text can never go stale: the object is reached mutably only through [`DerefMut`], and
//! that forgets the text first. Reading (`Deref`) keeps it. Whatever part of an answer depends
//! on more than the object (the clock, other objects) is not cached here; the writer of the
//! view decides what the text holds (see `sim::handlers::views`).

use serde::{Deserialize, Serialize};
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

/// `T` and, once asked for, text written from it alone. Saved and loaded as `T` (the text is
/// never part of the state file), cloned without the text, shown by `Debug` as `T`.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rendered<T> {
    object: T,
    #[serde(skip)]
    text: OnceLock<Box<[u8]>>,
}

impl<T> Rendered<T> {
    /// The object, its text not yet written.
    pub fn new(object: T) -> Rendered<T> {
        Rendered {
            object,
            text: OnceLock::new(),
        }
    }

    /// The object, out of its wrapper.
    pub fn into_inner(self) -> T {
        self.object
    }

    /// The text written from the object, written by `write` the first time it is asked for
    /// since the object last changed. Readers beside each other may race to write it; one
    /// text is kept, and any of them is the same text.
    pub fn text(&self, write: impl FnOnce(&T) -> Vec<u8>) -> &[u8] {
        self.text
            .get_or_init(|| write(&self.object).into_boxed_slice())
    }
}

impl<T> From<T> for Rendered<T> {
    fn from(object: T) -> Rendered<T> {
        Rendered::new(object)
    }
}

impl<T> Deref for Rendered<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.object
    }
}

impl<T> DerefMut for Rendered<T> {
    /// The object, to change: its text is forgotten before it can change.
    fn deref_mut(&mut self) -> &mut T {
        self.text.take();
        &mut self.object
    }
}

impl<T: Clone> Clone for Rendered<T> {
    fn clone(&self) -> Rendered<T> {
        Rendered::new(self.object.clone())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Rendered<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.object.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_written_once_and_forgotten_when_the_object_changes() {
        let mut kept = Rendered::new(vec![1]);
        let mut writes = 0;
        let mut show = |v: &Vec<i32>| {
            writes += 1;
            format!("{v:?}").into_bytes()
        };
        assert_eq!(kept.text(&mut show), b"[1]");
        assert_eq!(kept.text(&mut show), b"[1]");
        kept.push(2);
        assert_eq!(kept.text(&mut show), b"[1, 2]");
        assert_eq!(writes, 2);
    }

    #[test]
    fn saved_loaded_and_cloned_as_the_object_alone() {
        let kept = Rendered::new(vec![1, 2]);
        let _ = kept.text(|v| format!("{v:?}").into_bytes());
        assert_eq!(serde_json::to_string(&kept).unwrap(), "[1,2]");
        let loaded: Rendered<Vec<i32>> = serde_json::from_str("[3]").unwrap();
        assert_eq!(*loaded, vec![3]);
        let copy = kept.clone();
        assert_eq!(copy.text.get(), None);
        assert_eq!(format!("{copy:?}"), "[1, 2]");
    }
}
