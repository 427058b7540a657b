package dev.tessera.kvcache;

import java.util.Arrays;

/**
 * Open-addressing map from a block's chain hash to the block id that holds it. Sized once for the whole pool (at most
 * one entry per block), so it never grows and never allocates after construction. Linear probing, backward-shift
 * deletion.
 */
final class PrefixIndex {
    private static final int EMPTY = -1;
    private final long[] keys;
    private final int[] blocks;
    private final int mask;
    private int size;

    PrefixIndex(int maxEntries) {
        int cap = Integer.highestOneBit(Math.max(4, maxEntries) * 2 - 1) << 1;
        keys = new long[cap];
        blocks = new int[cap];
        Arrays.fill(blocks, EMPTY);
        mask = cap - 1;
    }

    private int home(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    /** The block registered under {@code hash}, or -1. */
    int get(long hash) {
        for (int i = home(hash); ; i = (i + 1) & mask) {
            int b = blocks[i];
            if (b == EMPTY) return EMPTY;
            if (keys[i] == hash) return b;
        }
    }

    /** Registers {@code block} under {@code hash}; the hash must be absent. */
    void put(long hash, int block) {
        int i = home(hash);
        while (blocks[i] != EMPTY) {
            if (keys[i] == hash) throw new IllegalStateException("hash already registered");
            i = (i + 1) & mask;
        }
        keys[i] = hash;
        blocks[i] = block;
        size++;
    }

    /** Removes {@code hash} if it maps to {@code block}. */
    void remove(long hash, int block) {
        int i = home(hash);
        while (true) {
            if (blocks[i] == EMPTY) return;
            if (keys[i] == hash) break;
            i = (i + 1) & mask;
        }
        if (blocks[i] != block) return;
        // backward-shift deletion keeps probe chains intact without tombstones
        int gap = i;
        for (int j = (gap + 1) & mask; blocks[j] != EMPTY; j = (j + 1) & mask) {
            int h = home(keys[j]);
            // move j into gap when its home is not in (gap, j] cyclically
            boolean between = gap <= j ? (gap < h && h <= j) : (gap < h || h <= j);
            if (!between) {
                keys[gap] = keys[j];
                blocks[gap] = blocks[j];
                gap = j;
            }
        }
        blocks[gap] = EMPTY;
        size--;
    }

    int size() { return size; }
}
