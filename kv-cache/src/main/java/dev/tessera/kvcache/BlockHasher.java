package dev.tessera.kvcache;

/**
 * Hashes one full block of token ids onto the hash of the blocks before it (the prefix chain).
 *
 * <p>Package-private so tests can force collisions; {@link #CHAINED_MIX} is the production hash.
 */
@FunctionalInterface
interface BlockHasher {
    /** Hash of {@code tokens[from..from+count)} chained onto {@code parentHash}. */
    long hash(long parentHash, int[] tokens, int from, int count);

    /**
     * A 64-bit chain hash: every token is folded in with a full avalanche mix (murmur3 finalizer constants), then the
     * block length. Strong enough that collisions are rare; {@link PagedKvCache} still compares token ids on lookup,
     * so a collision can cost a cache miss, never wrong KV.
     */
    BlockHasher CHAINED_MIX = (parentHash, tokens, from, count) -> {
        long h = parentHash ^ 0x9E3779B97F4A7C15L;
        for (int i = from, end = from + count; i < end; i++) {
            h = mix(h + (tokens[i] & 0xFFFFFFFFL) * 0xC2B2AE3D27D4EB4FL);
        }
        return mix(h ^ count);
    };

    private static long mix(long h) {
        h ^= h >>> 33;
        h *= 0xFF51AFD7ED558CCDL;
        h ^= h >>> 33;
        h *= 0xC4CEB9FE1A85EC53L;
        h ^= h >>> 33;
        return h;
    }
}
