package dev.tessera.engine.attention;

/**
 * Where one work item's keys are, tile by tile: the only part of the tile loop that differs between kernels. The
 * paged kernel maps key positions through the block table and applies the causal limit; the packed kernel reads
 * contiguous rows, all visible. One instance per worker thread, set up for each item before its tiles run.
 */
interface TileKeys {
    /**
     * Describes the item's keys {@code t0 .. t0+n-1}: their offsets in the K/V arrays into
     * {@code sc.keyOffsets[0..n)}, and for each query row {@code r < tokens * group} how many of them it may see into
     * {@code sc.visible[r]}: a prefix of the tile, non-decreasing with the row's token, equal within a token's group.
     */
    void tile(AttentionScratch sc, int t0, int n, int tokens, int group);
}
