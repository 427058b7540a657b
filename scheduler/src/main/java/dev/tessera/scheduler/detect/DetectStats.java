package dev.tessera.scheduler.detect;

import dev.tessera.scheduler.core.ModelStats;

/**
 * A snapshot of a detection model's lane.
 *
 * @param streams  live detection streams
 * @param queued   frames waiting for a step
 * @param answered frames answered so far
 * @param skipped  frames skipped so far (a newer frame of the same stream replaced them)
 * @param steps    steps run so far
 */
public record DetectStats(int streams, int queued, long answered, long skipped, long steps) implements ModelStats {
}
