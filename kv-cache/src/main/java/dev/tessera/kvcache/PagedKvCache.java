package dev.tessera.kvcache;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Block bookkeeping for sequences over one {@link KvStore}: block tables, ref counts, copy-on-write, and automatic
 * prefix caching.
 *
 * <p><b>Blocks.</b> Every block is in exactly one of three states: <i>used</i> (ref count &gt; 0, in at least one
 * sequence's table), <i>cached-free</i> (ref 0 but holding a hashed full block of a prefix; kept in an LRU list and
 * reusable by a later sequence with the same prefix, evicted oldest first when room is needed), or <i>free</i>.
 *
 * <p><b>Prefix cache.</b> Once a block is full, its hash is chained from the hash of the block before it and its own
 * token ids, and it is registered in a prefix index. {@link #attachCachedPrefix} walks a new prompt's full blocks
 * through the index. A lookup compares the stored token ids and the identity of the parent block as well as the hash,
 * so a hash collision can only cost a miss, never return wrong KV.
 *
 * <p><b>Sharing.</b> {@link #fork} lets n samples of one prompt share its blocks; the first write into a shared block
 * copies it first ({@link #allocateSlots}).
 *
 * <p>Not thread-safe: owned by the scheduler loop. The arrays returned by {@link #blockTable} are internal and change
 * with later calls.
 */
public final class PagedKvCache {
    private static final Logger logger = LoggerFactory.getLogger(PagedKvCache.class);
    private static final long ROOT_HASH = 0L;
    private static final long NO_PARENT = -1L;
    private static final int NONE = -1;

    private final KvStore store;
    private final KvCacheSpec spec;
    private final boolean prefixCaching;
    private final BlockHasher hasher;
    private final int blockSize;
    private final int totalBlocks;

    private final int[] ref;
    private final int[] fill;
    private final boolean[] hashed;
    private final long[] blockHash;
    private final long[] regId;
    private final long[] parentRegId;
    private final int[] blockTokens;

    private final int[] freeStack;
    private int freeTop;

    private final int[] lruPrev;
    private final int[] lruNext;
    private int lruHead = NONE;
    private int lruTail = NONE;
    private int lruSize;

    private final PrefixIndex index;
    private final Map<Long, SeqTable> seqs = new HashMap<>();
    private long nextRegId;

    private int usedBlocks;
    private long usedFill;
    private long prefixHits;
    private long prefixMisses;
    private long prefixHitTokens;
    private long evictions;

    /** One sequence's block table and its position in the prefix chain. */
    private static final class SeqTable {
        int[] blocks;
        int numBlocks;
        int tokens;
        int hashedBlocks;
        long chainHash = ROOT_HASH;
        long chainRegId = NO_PARENT;
        boolean chainBroken;

        SeqTable(int capacity) {
            blocks = new int[Math.max(4, capacity)];
        }

        void add(int block) {
            if (numBlocks == blocks.length) blocks = Arrays.copyOf(blocks, blocks.length * 2);
            blocks[numBlocks++] = block;
        }
    }

    /**
     * @param store               the KV floats this cache hands out blocks of
     * @param enablePrefixCaching whether full blocks are hashed and reused across sequences
     */
    public PagedKvCache(KvStore store, boolean enablePrefixCaching) {
        this(store, enablePrefixCaching, BlockHasher.CHAINED_MIX);
    }

    PagedKvCache(KvStore store, boolean enablePrefixCaching, BlockHasher hasher) {
        this.store = Objects.requireNonNull(store, "store");
        this.hasher = Objects.requireNonNull(hasher, "hasher");
        this.spec = store.spec();
        this.prefixCaching = enablePrefixCaching;
        this.blockSize = spec.blockSize();
        this.totalBlocks = store.numBlocks();
        this.ref = new int[totalBlocks];
        this.fill = new int[totalBlocks];
        this.hashed = new boolean[totalBlocks];
        this.blockHash = new long[totalBlocks];
        this.regId = new long[totalBlocks];
        this.parentRegId = new long[totalBlocks];
        this.blockTokens = enablePrefixCaching ? new int[totalBlocks * blockSize] : new int[0];
        this.freeStack = new int[totalBlocks];
        for (int i = 0; i < totalBlocks; i++) freeStack[i] = totalBlocks - 1 - i; // pops 0, 1, 2, ...
        this.freeTop = totalBlocks;
        this.lruPrev = new int[totalBlocks];
        this.lruNext = new int[totalBlocks];
        this.index = new PrefixIndex(enablePrefixCaching ? totalBlocks : 1);
        logger.debug("paged KV cache: {} blocks of {} tokens, prefix caching {}", totalBlocks, blockSize,
                enablePrefixCaching);
    }

    public KvCacheSpec spec() { return spec; }

    public int blockSize() { return blockSize; }

    public int totalBlocks() { return totalBlocks; }

    /**
     * Attaches cached blocks for the longest prefix of full blocks of {@code tokens[0..numTokens)}, capped so that at
     * least one token remains to compute, and counts hits and misses. The sequence must be new; its table is created.
     *
     * @return the number of tokens whose KV is already there (a multiple of the block size)
     */
    public int attachCachedPrefix(long seqId, int[] tokens, int numTokens) {
        Objects.requireNonNull(tokens, "tokens");
        if (numTokens < 0 || numTokens > tokens.length) {
            throw new IllegalArgumentException("numTokens " + numTokens + " outside 0.." + tokens.length);
        }
        if (seqs.containsKey(seqId)) throw new IllegalStateException("sequence " + seqId + " already has a table");
        SeqTable t = new SeqTable(ceilDiv(numTokens + 1, blockSize));
        seqs.put(seqId, t);
        if (!prefixCaching || numTokens <= 1) return 0;
        int maxBlocks = (numTokens - 1) / blockSize;
        long chain = ROOT_HASH;
        long parent = NO_PARENT;
        int hits = 0;
        for (int i = 0; i < maxBlocks; i++) {
            long h = hasher.hash(chain, tokens, i * blockSize, blockSize);
            int b = index.get(h);
            if (b < 0 || parentRegId[b] != parent || !sameTokens(b, tokens, i * blockSize)) break;
            if (ref[b] == 0) {
                lruRemove(b);
                usedBlocks++;
                usedFill += fill[b];
            }
            ref[b]++;
            t.add(b);
            chain = h;
            parent = regId[b];
            hits++;
        }
        prefixHits += hits;
        prefixMisses += maxBlocks - hits;
        prefixHitTokens += (long) hits * blockSize;
        t.hashedBlocks = hits;
        t.chainHash = chain;
        t.chainRegId = parent;
        t.tokens = hits * blockSize;
        return hits * blockSize;
    }

    /**
     * Ensures the table of {@code seqId} covers {@code computedTokens + newTokens} tokens, allocating blocks (evicting
     * least recently used cached-free blocks when the free list is empty). Every shared block (ref &gt; 1) that would
     * receive one of the new tokens, starting with the block of position {@code computedTokens}, is first copied to a
     * fresh block (copy-on-write). Creates the table if absent.
     *
     * @return false, changing nothing, if there are not enough blocks
     */
    public boolean allocateSlots(long seqId, int computedTokens, int newTokens) {
        checkCounts(computedTokens, newTokens);
        SeqTable t = seqs.get(seqId);
        int need = blocksNeeded(t, computedTokens, newTokens);
        if (need > freeTop + lruSize) return false;
        if (t == null) {
            t = new SeqTable(ceilDiv(computedTokens + newTokens, blockSize));
            seqs.put(seqId, t);
        }
        int needTotal = ceilDiv(computedTokens + newTokens, blockSize);
        if (newTokens > 0) {
            for (int i = computedTokens / blockSize, end = Math.min(t.numBlocks, needTotal); i < end; i++) {
                int old = t.blocks[i];
                if (ref[old] > 1) {
                    int copy = takeBlock();
                    store.copyBlock(old, copy);
                    fill[copy] = fill[old];
                    usedFill += fill[copy];
                    ref[old]--;
                    t.blocks[i] = copy;
                }
            }
        }
        while (t.numBlocks < needTotal) t.add(takeBlock());
        return true;
    }

    /**
     * Records that {@code tokens[0..numComputed)} of {@code seqId} now have KV. Newly full blocks are hashed as a
     * chain (parent hash + the block's token ids) and registered in the prefix index.
     */
    public void commit(long seqId, int[] tokens, int numComputed) {
        SeqTable t = table(seqId);
        Objects.requireNonNull(tokens, "tokens");
        if (numComputed < 0 || numComputed > tokens.length || numComputed > t.numBlocks * blockSize) {
            throw new IllegalArgumentException("numComputed " + numComputed + " outside 0.." + Math.min(tokens.length,
                    t.numBlocks * blockSize) + " for sequence " + seqId);
        }
        for (int i = t.tokens / blockSize, end = ceilDiv(numComputed, blockSize); i < end; i++) {
            int b = t.blocks[i];
            int f = Math.min(blockSize, numComputed - i * blockSize);
            if (f > fill[b]) {
                usedFill += f - fill[b];
                fill[b] = f;
            }
        }
        t.tokens = Math.max(t.tokens, numComputed);
        if (!prefixCaching) return;
        int full = numComputed / blockSize;
        while (t.hashedBlocks < full && !t.chainBroken) {
            int i = t.hashedBlocks;
            int b = t.blocks[i];
            if (hashed[b]) {
                // registered already: a block shared through fork or attached from the cache
                t.chainHash = blockHash[b];
                t.chainRegId = regId[b];
            } else {
                long h = hasher.hash(t.chainHash, tokens, i * blockSize, blockSize);
                int e = index.get(h);
                if (e < 0) {
                    hashed[b] = true;
                    blockHash[b] = h;
                    regId[b] = nextRegId++;
                    parentRegId[b] = t.chainRegId;
                    System.arraycopy(tokens, i * blockSize, blockTokens, b * blockSize, blockSize);
                    index.put(h, b);
                    t.chainHash = h;
                    t.chainRegId = regId[b];
                } else if (parentRegId[e] == t.chainRegId && sameTokens(e, tokens, i * blockSize)) {
                    // same content computed twice: keep the registered block, continue the chain from it
                    t.chainHash = h;
                    t.chainRegId = regId[e];
                } else {
                    // a true hash collision: the rest of this sequence is not cached
                    logger.debug("prefix hash collision on block {} of sequence {}", i, seqId);
                    t.chainBroken = true;
                    break;
                }
            }
            t.hashedBlocks++;
        }
    }

    /** The child shares all of the parent's blocks (ref counts +1), for n &gt; 1 samples of one prompt. */
    public void fork(long parentSeqId, long childSeqId) {
        SeqTable p = table(parentSeqId);
        if (seqs.containsKey(childSeqId)) {
            throw new IllegalStateException("sequence " + childSeqId + " already has a table");
        }
        SeqTable c = new SeqTable(p.blocks.length);
        System.arraycopy(p.blocks, 0, c.blocks, 0, p.numBlocks);
        c.numBlocks = p.numBlocks;
        c.tokens = p.tokens;
        c.hashedBlocks = p.hashedBlocks;
        c.chainHash = p.chainHash;
        c.chainRegId = p.chainRegId;
        c.chainBroken = p.chainBroken;
        for (int i = 0; i < c.numBlocks; i++) ref[c.blocks[i]]++;
        seqs.put(childSeqId, c);
    }

    /**
     * Drops the sequence: every block's ref count goes down; a block at 0 joins the cached-free LRU if it is hashed,
     * else the free list. Blocks are released last-first, so a prefix's tail is evicted before its head.
     * Unknown ids are ignored.
     */
    public void free(long seqId) {
        SeqTable t = seqs.remove(seqId);
        if (t == null) return;
        for (int i = t.numBlocks - 1; i >= 0; i--) {
            int b = t.blocks[i];
            if (--ref[b] == 0) {
                usedBlocks--;
                usedFill -= fill[b];
                if (hashed[b]) {
                    lruAppend(b);
                } else {
                    fill[b] = 0;
                    freeStack[freeTop++] = b;
                }
            }
        }
    }

    public boolean contains(long seqId) { return seqs.containsKey(seqId); }

    /** The internal block table of {@code seqId}; valid entries are {@code 0 .. numBlocks(seqId)-1}. */
    public int[] blockTable(long seqId) { return table(seqId).blocks; }

    public int numBlocks(long seqId) { return table(seqId).numBlocks; }

    /** Blocks available to allocate: free plus cached-free (evictable). */
    public int numFreeBlocks() { return freeTop + lruSize; }

    /** How many new blocks {@link #allocateSlots} would take, copy-on-write copies included. */
    public int blocksNeeded(long seqId, int computedTokens, int newTokens) {
        checkCounts(computedTokens, newTokens);
        return blocksNeeded(seqs.get(seqId), computedTokens, newTokens);
    }

    public KvStats stats() {
        return new KvStats(totalBlocks, usedBlocks, lruSize, freeTop, (long) usedBlocks * blockSize, usedFill,
                prefixHits, prefixMisses, prefixHitTokens, evictions);
    }

    private int blocksNeeded(SeqTable t, int computedTokens, int newTokens) {
        int needTotal = ceilDiv(computedTokens + newTokens, blockSize);
        if (t == null) return needTotal;
        int need = Math.max(0, needTotal - t.numBlocks);
        if (newTokens > 0) {
            for (int i = computedTokens / blockSize, end = Math.min(t.numBlocks, needTotal); i < end; i++) {
                if (ref[t.blocks[i]] > 1) need++;
            }
        }
        return need;
    }

    /** Takes a block from the free list, or evicts the least recently used cached-free block. */
    private int takeBlock() {
        int b;
        if (freeTop > 0) {
            b = freeStack[--freeTop];
        } else {
            b = lruHead;
            if (b == NONE) throw new IllegalStateException("no block left (checked before)");
            lruRemove(b);
            index.remove(blockHash[b], b);
            hashed[b] = false;
            evictions++;
        }
        ref[b] = 1;
        fill[b] = 0;
        usedBlocks++;
        return b;
    }

    private boolean sameTokens(int block, int[] tokens, int from) {
        return Arrays.equals(blockTokens, block * blockSize, (block + 1) * blockSize,
                tokens, from, from + blockSize);
    }

    private void lruAppend(int b) {
        lruPrev[b] = lruTail;
        lruNext[b] = NONE;
        if (lruTail == NONE) lruHead = b; else lruNext[lruTail] = b;
        lruTail = b;
        lruSize++;
    }

    private void lruRemove(int b) {
        int p = lruPrev[b];
        int n = lruNext[b];
        if (p == NONE) lruHead = n; else lruNext[p] = n;
        if (n == NONE) lruTail = p; else lruPrev[n] = p;
        lruSize--;
    }

    private SeqTable table(long seqId) {
        SeqTable t = seqs.get(seqId);
        if (t == null) throw new IllegalArgumentException("unknown sequence " + seqId);
        return t;
    }

    private static void checkCounts(int computedTokens, int newTokens) {
        if (computedTokens < 0) throw new IllegalArgumentException("computedTokens must be >= 0, got " + computedTokens);
        if (newTokens < 0) throw new IllegalArgumentException("newTokens must be >= 0, got " + newTokens);
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
