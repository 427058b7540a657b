package dev.tessera.engine.attention;

import java.util.Objects;

/**
 * One {@link AttentionScratch} per attention worker, created once up front and handed out by worker index.
 * Worker {@code i} always gets the same scratch, so no synchronisation is needed as long as each index is used by
 * one thread at a time.
 */
public final class ScratchPool {
    private final AttentionScratch[] scratches;

    /**
     * @param workers     worker threads (including a calling thread that takes part), &gt; 0
     * @param group       query heads per KV head
     * @param headDim     floats per head
     * @param queryTokens query tokens per work item
     * @param tileTokens  key tokens per tile
     */
    public ScratchPool(int workers, int group, int headDim, int queryTokens, int tileTokens) {
        if (workers <= 0) throw new IllegalArgumentException("workers must be > 0, got " + workers);
        scratches = new AttentionScratch[workers];
        for (int i = 0; i < workers; i++) {
            scratches[i] = new AttentionScratch(group, headDim, queryTokens, tileTokens);
        }
    }

    public int size() { return scratches.length; }

    /** The scratch of worker {@code workerIndex}. */
    public AttentionScratch get(int workerIndex) {
        return scratches[Objects.checkIndex(workerIndex, scratches.length)];
    }

    /** Bytes held by all scratches (for memory accounting). */
    public long bytes() {
        AttentionScratch s = scratches[0];
        long floats = s.q.length + s.m.length + s.l.length + s.acc.length + s.scores.length + s.visibleF.length
                + s.qT.length + s.scoresT.length + s.corr.length + s.vTile.length + s.kTile.length
                + s.tileMax.length + s.rowSum.length;
        long ints = s.keyOffsets.length + s.visible.length;
        return scratches.length * (floats + ints) * 4L;
    }
}
