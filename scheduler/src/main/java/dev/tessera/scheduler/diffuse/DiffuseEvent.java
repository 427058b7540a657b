package dev.tessera.scheduler.diffuse;

import dev.tessera.scheduler.core.JobEvent;

/**
 * What the diffusion lane emits on the loop thread: raw pixels, encoded into {@link JobEvent}s on the output threads
 * ({@link #encode()}), so the loop only computes.
 */
sealed interface DiffuseEvent {
    JobEvent encode();

    /** A preview's RGB8 pixels (interleaved). */
    record Preview(int index, int step, int totalSteps, byte[] rgb, int width, int height) implements DiffuseEvent {
        @Override
        public JobEvent encode() {
            return new JobEvent.Preview(index, step, totalSteps, ImageEncoding.jpeg(rgb, width, height));
        }
    }

    /** A decoded image, planar {@code [3, height, width]} in [0, 1]. */
    record Image(int index, float[] pixels, int width, int height, long seed) implements DiffuseEvent {
        @Override
        public JobEvent encode() {
            return new JobEvent.Image(index, ImageEncoding.png(ImageEncoding.toRgb8(pixels, 0, width, height),
                    width, height), seed);
        }
    }

    /** An event that needs no encoding. */
    record Plain(JobEvent event) implements DiffuseEvent {
        @Override
        public JobEvent encode() {
            return event;
        }
    }
}
