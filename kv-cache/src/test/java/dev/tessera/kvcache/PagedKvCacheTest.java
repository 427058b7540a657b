package dev.tessera.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class PagedKvCacheTest {
    private static final KvCacheSpec SPEC = new KvCacheSpec(2, 2, 4, 4);

    private static int[] tokens(int n, int base) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = base + i;
        return t;
    }

    /** Runs a whole prefill of {@code tokens} for {@code seq}: attach, allocate, commit. */
    private static int prefill(PagedKvCache cache, long seq, int[] tokens) {
        int cached = cache.attachCachedPrefix(seq, tokens, tokens.length);
        assertTrue(cache.allocateSlots(seq, cached, tokens.length - cached));
        cache.commit(seq, tokens, tokens.length);
        return cached;
    }

    @Test
    void allocationAndFreeAccounting() {
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 10), false);
        assertTrue(cache.allocateSlots(1, 0, 10));   // 3 blocks
        assertEquals(3, cache.numBlocks(1));
        assertTrue(cache.allocateSlots(2, 0, 4));    // 1 block
        assertEquals(6, cache.numFreeBlocks());
        cache.commit(1, tokens(10, 0), 10);
        assertTrue(cache.allocateSlots(1, 10, 1));   // fits in the third block
        assertEquals(3, cache.numBlocks(1));
        assertTrue(cache.allocateSlots(1, 12, 1));   // needs a fourth
        assertEquals(4, cache.numBlocks(1));
        KvStats s = cache.stats();
        assertEquals(5, s.usedBlocks());
        assertEquals(0.5, s.usage(), 1e-9);
        cache.free(1);
        cache.free(2);
        cache.free(2); // unknown now: ignored
        assertFalse(cache.contains(1));
        assertEquals(10, cache.numFreeBlocks());
        s = cache.stats();
        assertEquals(0, s.usedBlocks());
        assertEquals(10, s.freeBlocks());
        assertEquals(0, s.tokensHeld());
        assertThrows(IllegalArgumentException.class, () -> cache.blockTable(1));
    }

    @Test
    void prefixHitsAcrossTwoSequences() {
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 16), true);
        int[] prompt = tokens(14, 100); // 3 full blocks + 2
        assertEquals(0, prefill(cache, 1, prompt));
        int[] other = Arrays.copyOf(prompt, 16);
        other[14] = 7;
        other[15] = 8;
        int cached = cache.attachCachedPrefix(2, other, other.length);
        assertEquals(12, cached);
        assertArrayEquals(Arrays.copyOf(cache.blockTable(1), 3), Arrays.copyOf(cache.blockTable(2), 3));
        KvStats s = cache.stats();
        assertEquals(3, s.prefixHits());
        assertEquals(12, s.prefixHitTokens());
        // the cap: a prompt that is exactly the cached blocks still computes its last token
        assertEquals(8, cache.attachCachedPrefix(3, prompt, 12));
        // a prompt that differs in the first block misses everything
        int[] diff = prompt.clone();
        diff[0] = -5;
        assertEquals(0, cache.attachCachedPrefix(4, diff, diff.length));
        assertEquals(3 + 2, cache.stats().prefixHits());
        assertEquals(3 + 3, cache.stats().prefixMisses()); // the first prefill and the differing prompt
    }

    @Test
    void cachedBlocksSurviveFreeAndAreReused() {
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 8), true);
        int[] prompt = tokens(9, 0);
        prefill(cache, 1, prompt);
        int[] table = Arrays.copyOf(cache.blockTable(1), 2);
        cache.free(1);
        KvStats s = cache.stats();
        assertEquals(2, s.cachedFreeBlocks());
        assertEquals(8, cache.numFreeBlocks());
        assertEquals(8, prefill(cache, 2, prompt));
        assertArrayEquals(table, Arrays.copyOf(cache.blockTable(2), 2));
        assertEquals(0, cache.stats().cachedFreeBlocks());
        cache.free(2);
        assertEquals(8, cache.numFreeBlocks());
    }

    @Test
    void lruEvictionOrder() {
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 4), true);
        int[] a = tokens(5, 0);    // 1 full block (+1 token)
        int[] b = tokens(5, 100);
        prefill(cache, 1, a);
        prefill(cache, 2, b);
        cache.free(1);             // a's block freed first: least recently used
        cache.free(2);
        assertEquals(2, cache.stats().cachedFreeBlocks());
        // take both plain free blocks, then one more: must evict a's block, not b's
        assertTrue(cache.allocateSlots(3, 0, 12));
        assertEquals(1, cache.stats().evictions());
        cache.free(3);
        assertEquals(0, cache.attachCachedPrefix(4, a, a.length));
        assertEquals(4, cache.attachCachedPrefix(5, b, b.length));
        // touching b made it recent again; an evicted block left the index
        cache.free(4);
        cache.free(5);
        assertEquals(4, cache.numFreeBlocks());
    }

    @ParameterizedTest
    @EnumSource(KvDType.class)
    void copyOnWriteOnFork(KvDType dtype) {
        KvStore store = new KvStore(SPEC.withDtype(dtype), 8);
        PagedKvCache cache = new PagedKvCache(store, true);
        int[] prompt = tokens(6, 0); // block 0 full, block 1 half
        assertTrue(cache.allocateSlots(1, 0, 6));
        float[] kv = new float[SPEC.numKvHeads() * SPEC.headDim()];
        for (int pos = 0; pos < 6; pos++) {
            Arrays.fill(kv, pos + 1);
            int slot = cache.blockTable(1)[pos / 4] * 4 + pos % 4;
            for (int layer = 0; layer < SPEC.numLayers(); layer++) store.write(layer, slot, kv, 0, kv, 0);
        }
        cache.commit(1, prompt, 6);
        cache.fork(1, 2);
        int shared = cache.blockTable(1)[1];
        assertEquals(shared, cache.blockTable(2)[1]);
        assertEquals(1, cache.blocksNeeded(2, 6, 1)); // the COW copy
        assertTrue(cache.allocateSlots(2, 6, 1));
        int copy = cache.blockTable(2)[1];
        assertNotEquals(shared, copy);
        assertEquals(cache.blockTable(1)[0], cache.blockTable(2)[0]); // full block still shared
        // the copy holds the parent's tokens; writing it leaves the parent's block unchanged
        assertEquals(5f, store.key(1, store.offset(copy, 1, 0)));
        Arrays.fill(kv, 99);
        store.write(0, copy * 4 + 2, kv, 0, kv, 0);
        assertEquals(99f, store.value(0, store.offset(copy, 0, 2)));
        assertEquals(0f, store.value(0, store.offset(shared, 0, 2)));
        assertEquals(6f, store.value(0, store.offset(shared, 1, 1)));
        // the parent now owns its block alone: no copy for it
        assertEquals(0, cache.blocksNeeded(1, 6, 1));
        cache.free(1);
        cache.free(2);
        assertEquals(8, cache.numFreeBlocks());
        assertEquals(0, cache.stats().usedBlocks());
    }

    @Test
    void wasteAccounting() {
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 8), false);
        assertTrue(cache.allocateSlots(1, 0, 5)); // 2 blocks, 8 slots
        KvStats s = cache.stats();
        assertEquals(8, s.slotsAllocated());
        assertEquals(0, s.tokensHeld());
        assertEquals(1.0, s.wasteFraction(), 1e-9);
        cache.commit(1, tokens(5, 0), 5);
        s = cache.stats();
        assertEquals(5, s.tokensHeld());
        assertEquals(3.0 / 8, s.wasteFraction(), 1e-9);
        cache.fork(1, 2); // shared blocks counted once
        s = cache.stats();
        assertEquals(8, s.slotsAllocated());
        assertEquals(5, s.tokensHeld());
        assertTrue(cache.allocateSlots(2, 5, 1)); // COW copy of the partial block
        cache.commit(2, tokens(6, 0), 6);
        s = cache.stats();
        assertEquals(12, s.slotsAllocated());
        assertEquals(4 + 1 + 2, s.tokensHeld());
        cache.free(1);
        cache.free(2);
        assertEquals(0.0, cache.stats().wasteFraction());
    }

    @Test
    void hashCollisionNeverReturnsWrongKv() {
        BlockHasher constant = (parent, t, from, count) -> 42L;
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 16), true, constant);
        int[] a = tokens(9, 0);
        int[] b = tokens(9, 500);
        prefill(cache, 1, a);
        assertEquals(0, prefill(cache, 2, b)); // same hash, different tokens: a miss
        assertEquals(4, cache.attachCachedPrefix(3, a, a.length)); // the real owner still hits
        // chain collision: same second block after a different first block must not hit either
        int[] c = a.clone();
        c[0] = 77;
        assertEquals(0, cache.attachCachedPrefix(4, c, c.length));
        for (long s = 1; s <= 4; s++) cache.free(s);
        assertEquals(16, cache.numFreeBlocks());
    }

    @Test
    void samePrefixComputedTwiceKeepsOneCachedCopy() {
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 8), true);
        int[] prompt = tokens(9, 0);
        // both admitted before either committed: no sharing, each computes the two full blocks
        assertEquals(0, cache.attachCachedPrefix(1, prompt, prompt.length));
        assertEquals(0, cache.attachCachedPrefix(2, prompt, prompt.length));
        assertTrue(cache.allocateSlots(1, 0, 9));
        assertTrue(cache.allocateSlots(2, 0, 9));
        cache.commit(1, prompt, 9);
        cache.commit(2, prompt, 9); // duplicates: not registered a second time
        int[] first = Arrays.copyOf(cache.blockTable(1), 2);
        cache.free(1);
        cache.free(2);
        KvStats s = cache.stats();
        assertEquals(2, s.cachedFreeBlocks()); // only the registered copies stay cached
        assertEquals(6, s.freeBlocks());
        assertEquals(8, cache.attachCachedPrefix(3, prompt, prompt.length));
        assertArrayEquals(first, Arrays.copyOf(cache.blockTable(3), 2));
    }

    @Test
    void evictingTheTailFirstKeepsTheHeadOfAPrefix() {
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 4), true);
        int[] prompt = tokens(13, 0); // 3 full blocks + 1
        prefill(cache, 1, prompt);
        cache.free(1); // blocks released last-first: LRU order is block 2, block 1, block 0 (plain free: the partial)
        assertTrue(cache.allocateSlots(2, 0, 8)); // the free block, then evicts the third full block
        assertEquals(1, cache.stats().evictions());
        assertEquals(8, cache.attachCachedPrefix(3, prompt, prompt.length)); // first two blocks still hit
        cache.free(2);
        cache.free(3);
        assertEquals(4, cache.numFreeBlocks());
    }

    @Test
    void chainedHashDependsOnParent() {
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 16), true);
        int[] a = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        int[] b = {9, 9, 9, 9, 5, 6, 7, 8, 9}; // same second block, other first block
        prefill(cache, 1, a);
        assertEquals(0, cache.attachCachedPrefix(2, b, b.length));
    }

    @Test
    void outOfBlocksReturnsFalseWithoutSideEffects() {
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 3), true);
        prefill(cache, 1, tokens(6, 0)); // 2 blocks
        cache.fork(1, 2);
        KvStats before = cache.stats();
        int[] tableBefore = Arrays.copyOf(cache.blockTable(2), cache.numBlocks(2));
        assertFalse(cache.allocateSlots(2, 6, 7)); // COW + 2 new blocks > 1 free
        assertFalse(cache.allocateSlots(3, 0, 13));
        assertFalse(cache.contains(3));
        assertEquals(before, cache.stats());
        assertArrayEquals(tableBefore, Arrays.copyOf(cache.blockTable(2), cache.numBlocks(2)));
        assertTrue(cache.allocateSlots(2, 6, 1)); // just the COW copy fits
        assertEquals(0, cache.numFreeBlocks());
        cache.free(1);
        cache.free(2);
        assertEquals(3, cache.numFreeBlocks());
    }

    @Test
    void preconditions() {
        PagedKvCache cache = new PagedKvCache(new KvStore(SPEC, 3), true);
        cache.attachCachedPrefix(1, tokens(3, 0), 3);
        assertThrows(IllegalStateException.class, () -> cache.attachCachedPrefix(1, tokens(3, 0), 3));
        assertThrows(IllegalArgumentException.class, () -> cache.allocateSlots(1, -1, 1));
        assertThrows(IllegalArgumentException.class, () -> cache.commit(1, tokens(3, 0), 3)); // no slots yet
        assertThrows(IllegalArgumentException.class, () -> cache.fork(9, 10));
        assertThrows(IllegalArgumentException.class, () -> new KvStore(SPEC, 0));
    }
}
