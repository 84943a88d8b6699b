//! Cursors and double-ended range iteration.
//!
//! A cursor keeps the path of branches from the root to its leaf, so it moves to the next or
//! previous leaf without sibling pointers. On a damaged file whose pages form a cycle or
//! repeat, iteration stops with `Error::Corrupt` instead of running forever: a cursor visits
//! at most as many leaves as the snapshot has pages, and the range iterator checks that each
//! leaf's first key (last, from the back) follows the key before it.

use std::ops::Bound;

use super::node::{LeafValue, Node};
use super::search::too_deep;
use super::{MAX_DEPTH, PageSource, overflow};
use crate::error::{Error, Result};
use crate::value::Value;

/// A position in a tree.
pub struct Cursor<'a, S: PageSource + ?Sized> {
    src: &'a S,
    root: u32,
    stack: Vec<(Node<'a>, usize)>,
    leaf: Option<(Node<'a>, usize)>,
    /// Leaves moved to since the last seek.
    moves: u32,
}

impl<'a, S: PageSource + ?Sized> Cursor<'a, S> {
    /// An unpositioned cursor over the tree at `root`.
    pub fn new(src: &'a S, root: u32) -> Self {
        Cursor { src, root, stack: Vec::new(), leaf: None, moves: 0 }
    }

    fn node(&self, pgno: u32) -> Result<Node<'a>> {
        Node::new(self.src.page(pgno)?, pgno)
    }

    /// Descends from `pgno` to a leaf, always taking the first (`leftmost`) or last child.
    fn descend_edge(&mut self, mut pgno: u32, leftmost: bool) -> Result<()> {
        loop {
            if self.stack.len() >= MAX_DEPTH {
                return Err(too_deep(self.root));
            }
            let node = self.node(pgno)?;
            if node.is_leaf() {
                let i = if leftmost { 0 } else { node.len().wrapping_sub(1) };
                self.leaf = Some((node, i));
                return Ok(());
            }
            let i = if leftmost { 0 } else { node.len() };
            self.stack.push((node, i));
            pgno = node.child(i)?;
        }
    }

    /// Positions at the first entry `>= key` (`Included`), `> key` (`Excluded`), or the first.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn seek(&mut self, bound: Bound<&[u8]>) -> Result<()> {
        self.moves = 0;
        self.stack.clear();
        self.leaf = None;
        if self.root == 0 {
            return Ok(());
        }
        let key = match bound {
            Bound::Unbounded => return self.descend_edge(self.root, true),
            Bound::Included(k) | Bound::Excluded(k) => k,
        };
        self.descend_to(key)?;
        if let Some((leaf, i)) = &mut self.leaf {
            let (idx, eq) = leaf.search(key)?;
            *i = if eq && matches!(bound, Bound::Excluded(_)) { idx + 1 } else { idx };
            if *i >= leaf.len() {
                self.next_leaf()?;
            }
        }
        Ok(())
    }

    /// Positions at the last entry `<= key` (`Included`), `< key` (`Excluded`), or the last.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn seek_back(&mut self, bound: Bound<&[u8]>) -> Result<()> {
        self.moves = 0;
        self.stack.clear();
        self.leaf = None;
        if self.root == 0 {
            return Ok(());
        }
        let key = match bound {
            Bound::Unbounded => {
                self.descend_edge(self.root, false)?;
                return self.settle_back();
            }
            Bound::Included(k) | Bound::Excluded(k) => k,
        };
        self.descend_to(key)?;
        if let Some((leaf, i)) = &mut self.leaf {
            let (idx, eq) = leaf.search(key)?;
            let past = if eq && matches!(bound, Bound::Included(_)) { idx + 1 } else { idx };
            if past == 0 {
                return self.prev_leaf();
            }
            *i = past - 1;
        }
        Ok(())
    }

    fn descend_to(&mut self, key: &[u8]) -> Result<()> {
        let mut pgno = self.root;
        for _ in 0..MAX_DEPTH {
            let node = self.node(pgno)?;
            if node.is_leaf() {
                self.leaf = Some((node, 0));
                return Ok(());
            }
            let i = node.child_index(key)?;
            self.stack.push((node, i));
            pgno = node.child(i)?;
        }
        Err(too_deep(self.root))
    }

    /// An empty rightmost leaf: step back to a leaf with entries.
    fn settle_back(&mut self) -> Result<()> {
        match self.leaf {
            Some((leaf, _)) if leaf.is_empty() => self.prev_leaf(),
            _ => Ok(()),
        }
    }

    /// Counts a move to another leaf; more moves than the snapshot has pages is a damaged tree.
    fn count_move(&mut self) -> Result<()> {
        self.moves += 1;
        if self.moves > self.src.page_count() {
            return Err(Error::corrupt(format!(
                "scan of the tree under page {} visits more leaves than there are pages",
                self.root
            )));
        }
        Ok(())
    }

    fn next_leaf(&mut self) -> Result<()> {
        self.leaf = None;
        while let Some((node, i)) = self.stack.last_mut() {
            if *i < node.len() {
                *i += 1;
                let child = node.child(*i)?;
                self.count_move()?;
                self.descend_edge(child, true)?;
                match self.leaf {
                    Some((leaf, _)) if leaf.is_empty() => continue,
                    _ => return Ok(()),
                }
            }
            self.stack.pop();
        }
        Ok(())
    }

    fn prev_leaf(&mut self) -> Result<()> {
        self.leaf = None;
        while let Some((node, i)) = self.stack.last_mut() {
            if *i > 0 {
                *i -= 1;
                let child = node.child(*i)?;
                self.count_move()?;
                self.descend_edge(child, false)?;
                match self.leaf {
                    Some((leaf, _)) if leaf.is_empty() => continue,
                    _ => return Ok(()),
                }
            }
            self.stack.pop();
        }
        Ok(())
    }

    /// The entry under the cursor, if positioned.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn current(&self) -> Result<Option<(&'a [u8], LeafValue<'a>)>> {
        match self.leaf {
            Some((leaf, i)) if i < leaf.len() => Ok(Some((leaf.key(i)?, leaf.value(i)?))),
            _ => Ok(None),
        }
    }

    /// Whether the cursor is on the first (`front`) or last entry of its leaf.
    pub fn at_leaf_edge(&self, front: bool) -> bool {
        match self.leaf {
            Some((leaf, i)) => i == if front { 0 } else { leaf.len().wrapping_sub(1) },
            None => false,
        }
    }

    /// Moves to the next entry.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn advance(&mut self) -> Result<()> {
        if let Some((leaf, i)) = &mut self.leaf {
            *i += 1;
            if *i >= leaf.len() {
                self.next_leaf()?;
            }
        }
        Ok(())
    }

    /// Moves to the previous entry.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn retreat(&mut self) -> Result<()> {
        if let Some((_, i)) = &mut self.leaf {
            if *i == 0 {
                return self.prev_leaf();
            }
            *i -= 1;
        }
        Ok(())
    }
}

/// Materialises a leaf value: borrowed if inline, read from its chain otherwise.
///
/// # Errors
///
/// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
pub fn load_value<'a, S: PageSource + ?Sized>(src: &'a S, v: LeafValue<'a>) -> Result<Value<'a>> {
    match v {
        LeafValue::Inline(b) => Ok(Value::Borrowed(b)),
        LeafValue::Overflow { first, len } => Ok(Value::Owned(overflow::read(src, first, len)?)),
    }
}

/// A double-ended iterator over the entries of a key range.
pub struct Range<'a, S: PageSource + ?Sized> {
    src: &'a S,
    root: u32,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    front: Option<Cursor<'a, S>>,
    back: Option<Cursor<'a, S>>,
    front_last: Option<&'a [u8]>,
    back_last: Option<&'a [u8]>,
    done: bool,
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn below_end(key: &[u8], end: &Bound<Vec<u8>>) -> bool {
    match end {
        Bound::Included(e) => key <= &e[..],
        Bound::Excluded(e) => key < &e[..],
        Bound::Unbounded => true,
    }
}

fn above_start(key: &[u8], start: &Bound<Vec<u8>>) -> bool {
    match start {
        Bound::Included(s) => key >= &s[..],
        Bound::Excluded(s) => key > &s[..],
        Bound::Unbounded => true,
    }
}

impl<'a, S: PageSource + ?Sized> Range<'a, S> {
    /// Entries of the tree at `root` between `start` and `end`.
    pub fn new(src: &'a S, root: u32, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Self {
        let empty = match (&start, &end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
            _ => false,
        };
        Range {
            src,
            root,
            start,
            end,
            front: None,
            back: None,
            front_last: None,
            back_last: None,
            done: empty || root == 0,
        }
    }

    fn fail(&mut self, e: Error) -> Option<Result<(&'a [u8], Value<'a>)>> {
        self.done = true;
        Some(Err(e))
    }

    fn step_front(&mut self) -> Result<Option<(&'a [u8], Value<'a>)>> {
        let cursor = match &mut self.front {
            Some(c) => {
                c.advance()?;
                c
            }
            None => {
                let mut c = Cursor::new(self.src, self.root);
                c.seek(as_ref(&self.start))?;
                self.front.insert(c)
            }
        };
        let Some((k, v)) = cursor.current()? else {
            return Ok(None);
        };
        if !below_end(k, &self.end) || self.back_last.is_some_and(|b| k >= b) {
            return Ok(None);
        }
        if cursor.at_leaf_edge(true) && self.front_last.is_some_and(|f| k <= f) {
            return Err(Error::corrupt("keys out of order during a scan (damaged tree)"));
        }
        self.front_last = Some(k);
        Ok(Some((k, load_value(self.src, v)?)))
    }

    fn step_back(&mut self) -> Result<Option<(&'a [u8], Value<'a>)>> {
        let cursor = match &mut self.back {
            Some(c) => {
                c.retreat()?;
                c
            }
            None => {
                let mut c = Cursor::new(self.src, self.root);
                c.seek_back(as_ref(&self.end))?;
                self.back.insert(c)
            }
        };
        let Some((k, v)) = cursor.current()? else {
            return Ok(None);
        };
        if !above_start(k, &self.start) || self.front_last.is_some_and(|f| k <= f) {
            return Ok(None);
        }
        if cursor.at_leaf_edge(false) && self.back_last.is_some_and(|b| k >= b) {
            return Err(Error::corrupt("keys out of order during a reverse scan (damaged tree)"));
        }
        self.back_last = Some(k);
        Ok(Some((k, load_value(self.src, v)?)))
    }
}

impl<'a, S: PageSource + ?Sized> Iterator for Range<'a, S> {
    type Item = Result<(&'a [u8], Value<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step_front() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => self.fail(e),
        }
    }
}

impl<S: PageSource + ?Sized> DoubleEndedIterator for Range<'_, S> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step_back() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => self.fail(e),
        }
    }
}
