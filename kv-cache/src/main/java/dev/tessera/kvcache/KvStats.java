package dev.tessera.kvcache;

/**
 * A snapshot of the block pool.
 *
 * @param totalBlocks      blocks in the pool
 * @param usedBlocks       blocks referenced by at least one sequence
 * @param cachedFreeBlocks unreferenced blocks still holding a hashed prefix (evictable, LRU)
 * @param freeBlocks       unreferenced blocks holding nothing reusable
 * @param slotsAllocated   token slots of the used blocks ({@code usedBlocks * blockSize})
 * @param tokensHeld       slots of the used blocks that hold a computed token (each shared block counted once)
 * @param prefixHits       full blocks found in the prefix cache
 * @param prefixMisses     full blocks looked up and not found
 * @param prefixHitTokens  tokens whose KV came from the prefix cache
 * @param evictions        cached blocks evicted to make room
 */
public record KvStats(int totalBlocks, int usedBlocks, int cachedFreeBlocks, int freeBlocks,
                      long slotsAllocated, long tokensHeld, long prefixHits, long prefixMisses, long prefixHitTokens,
                      long evictions) {

    /** Fraction of the pool referenced by sequences (cached-free blocks count as free: they are evictable). */
    public double usage() {
        return totalBlocks == 0 ? 0.0 : (double) usedBlocks / totalBlocks;
    }

    /** Allocated slots not holding a token, over allocated slots of the unique used blocks; 0 when none is used. */
    public double wasteFraction() {
        return slotsAllocated == 0 ? 0.0 : (double) (slotsAllocated - tokensHeld) / slotsAllocated;
    }
}
