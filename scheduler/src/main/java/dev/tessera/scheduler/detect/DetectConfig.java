package dev.tessera.scheduler.detect;

/**
 * Limits of a detection model's lane.
 *
 * @param maxFramesPerStep most frames batched into one step, across streams (1 runs one frame per step)
 * @param maxQueuedFrames  frames a stream may have waiting for a step; a newer frame replaces the oldest waiting
 *                         one, which is skipped (1: only the newest frame ever waits)
 * @param maxPendingEvents answers buffered for a subscriber without demand before its stream pauses
 */
public record DetectConfig(int maxFramesPerStep, int maxQueuedFrames, int maxPendingEvents) {
    public DetectConfig {
        if (maxFramesPerStep < 1) {
            throw new IllegalArgumentException("maxFramesPerStep must be >= 1, got " + maxFramesPerStep);
        }
        if (maxQueuedFrames < 1) {
            throw new IllegalArgumentException("maxQueuedFrames must be >= 1, got " + maxQueuedFrames);
        }
        if (maxPendingEvents < 1) {
            throw new IllegalArgumentException("maxPendingEvents must be >= 1, got " + maxPendingEvents);
        }
    }

    /** 16 frames per step, the newest frame only waiting per stream, 8 answers buffered. */
    public static DetectConfig defaults() {
        return new DetectConfig(16, 1, 8);
    }

    public DetectConfig withMaxFramesPerStep(int n) {
        return new DetectConfig(n, maxQueuedFrames, maxPendingEvents);
    }

    public DetectConfig withMaxQueuedFrames(int n) {
        return new DetectConfig(maxFramesPerStep, n, maxPendingEvents);
    }
}
