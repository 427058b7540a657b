package dev.tessera.scheduler.text;

import dev.tessera.scheduler.core.ModelStats;

/**
 * A snapshot of a text model's lane.
 *
 * @param running           sequences in the running batch
 * @param waiting           sequences queued or preempted, waiting for admission
 * @param kvUsage           fraction of KV blocks in use, 0..1
 * @param kvTotalBlocks     blocks in the pool
 * @param kvFreeBlocks      blocks free (including cached-free, evictable)
 * @param preemptions       total preemptions so far
 * @param prefixHitTokens   prompt tokens served from the prefix cache so far
 * @param prefixQueryTokens prompt tokens looked up in the prefix cache so far
 * @param steps             steps executed so far
 * @param kvBlockSize       tokens per KV block (routers' prefix scorers hash prompts in blocks of this size)
 * @param waitingPeak       most places ever held in the waiting queue at once (requests submitted and not yet
 *                          running, preempted sequences): the high-water mark of what
 *                          {@link TextConfig#maxWaiting()} bounds, kept exactly by the lane; {@code waiting} never
 *                          exceeds it
 */
public record TextStats(int running, int waiting, double kvUsage, int kvTotalBlocks, int kvFreeBlocks,
                        long preemptions, long prefixHitTokens, long prefixQueryTokens, long steps, int kvBlockSize,
                        int waitingPeak)
        implements ModelStats {
}
