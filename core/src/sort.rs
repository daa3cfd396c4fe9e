//! A stable sort for the short lists the protocol sorts (a group's members, an account's
//! devices, a room's members): binary insertion.
//!
//! Why not `slice::sort_by_key`: the standard library's driftsort (and `sort_unstable`'s
//! ipnsort) is instantiated anew for every element type and key closure, about 3-4 KiB of
//! WebAssembly each; the five sorts of the core and engine were 17 KiB of the browser
//! package before wasm-opt (issue 14). This one is a binary search and swaps down to the
//! place found per item: O(n log n) comparisons and O(n²) moves, which for the longest
//! list sorted here (a group's 1,000 members of 64 bytes) in the worst order (reversed)
//! is about a quarter of a million swaps, a few milliseconds; a list that comes sorted
//! (as stored lists do) makes no swap.

/// Sorts `items` by `key`, keeping the order of items with equal keys (like
/// `slice::sort_by_key`).
pub fn sort_by_key<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..items.len() {
        let (sorted, rest) = items.split_at_mut(i);
        let Some(item) = rest.first() else { break };
        let k = key(item);
        // After every item with a key <= k: equal keys keep their order.
        let at = sorted.partition_point(|x| key(x) <= k);
        // Down to `at` by swaps: `rotate_right` would bring its three rotation
        // algorithms per element type (about 500 bytes of WebAssembly each).
        for j in (at..i).rev() {
            if let Some([a, b]) = items.get_mut(j..j + 2) {
                core::mem::swap(a, b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The same order as the standard library's stable sort, ties included (the
        /// second field tells equal keys apart).
        #[test]
        fn sorts_like_the_standard_stable_sort(items in proptest::collection::vec((0u8..16, any::<u16>()), 0..300)) {
            let mut ours = items.clone();
            let mut std = items;
            sort_by_key(&mut ours, |(k, _)| *k);
            std.sort_by_key(|(k, _)| *k);
            prop_assert_eq!(ours, std);
        }
    }

    #[test]
    fn sorts_the_longest_list_the_protocol_sorts() {
        let mut items: Vec<[u8; 32]> = (0..1000u32)
            .map(|i| {
                let mut a = [0u8; 32];
                a[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
                a
            })
            .collect();
        let mut expected = items.clone();
        expected.sort();
        sort_by_key(&mut items, |a| *a);
        assert_eq!(items, expected);
    }
}
